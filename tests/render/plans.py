"""Plans the renderer tests share: one with every kind of change, one with hostile values."""

from __future__ import annotations

from dataclasses import replace

from rtssync.model import SubsidiaryFields
from rtssync.plan import Plan, build_plan
from tests.plan_records import (
    ALLOWED,
    ROOT,
    by_key,
    credentials,
    desired,
    ftp_settings,
    live_for,
    with_ftp,
)

HOSTILE_NAME = "|<script>alert(1)</script> **bold** [x](https://evil.example) @org/team `x`"


def every_kind_plan() -> Plan:
    """One plan with every kind of change in it."""
    created = desired(1)
    renamed = desired(2)
    rotated = with_ftp(desired(3), credentials=credentials(3, 2))
    noa = desired(4)
    drifted = desired(5)
    no_ftp = desired(6, factoring=None)
    live_drifted = live_for(drifted)
    assert live_drifted.rts_ftp is not None
    live = [
        live_for(renamed, fields=replace(renamed.fields, name="Old")),
        live_for(desired(3)),
        live_for(noa, notice_of_assignment="old text\n", invoicing=None),
        replace(live_drifted, rts_ftp=replace(live_drifted.rts_ftp, credentials_revision=None)),
        live_for(desired(6)),
        live_for(desired(7), "T-7"),
        live_for(desired(8), "T-8", applied_from=None),
        live_for(desired(9), "T-9", rts_ftp=None),
        live_for(desired(10)),
    ]
    moved = with_ftp(desired(10), ftp=ftp_settings(port=2121))
    files = by_key(created, renamed, rotated, noa, drifted, no_ftp, moved)
    return build_plan(files, live, root=ROOT, allowed_hosts=ALLOWED, prune=True)


def hostile_plan() -> Plan:
    wanted = desired(1, fields=SubsidiaryFields(HOSTILE_NAME, "100001", "2000001"),
                     notice_of_assignment="``` \n</details><img src=x onerror=alert(1)>\n````\n")
    return build_plan(by_key(wanted), [live_for(desired(1))], root=ROOT, allowed_hosts=ALLOWED)
