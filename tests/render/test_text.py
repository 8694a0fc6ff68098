"""Text for terminals: symbols, values, diffs, colour only when asked, no terminal escapes."""

from __future__ import annotations

from rtssync.model import SubsidiaryFields
from rtssync.plan import build_plan
from rtssync.render.text import TextRenderer
from tests.plan_records import ALLOWED, ROOT, by_key, desired
from tests.render.plans import every_kind_plan

ESC = "\x1b"


def test_text_shows_symbols_values_diffs_and_a_summary() -> None:
    text = TextRenderer().render(every_kind_plan())
    assert "  + create subsidiary 'Subsidiary 1 LLC' (MC 100001, DOT 2000001)" in text
    assert "      name: 'Old' -> 'Subsidiary 2 LLC'" in text
    assert "  ~ rotate RTS FTP credentials (changed in git)" in text
    assert "      password: (changed)" in text
    assert "  ! drift: RTS FTP credentials changed in the TMS outside rtssync" in text
    assert "  - remove RTS FTP from 'Subsidiary 7 LLC'" in text
    assert "  ? unmanaged: 'Subsidiary 8 LLC'" in text
    assert "      -old text" in text
    assert text.rstrip().splitlines()[-1].startswith("Plan: ")
    assert ESC not in text  # no colour unless asked


def test_text_colour_only_when_asked() -> None:
    assert ESC in TextRenderer().render(every_kind_plan(), color=True)


def test_text_neutralises_terminal_escapes_in_values() -> None:
    wanted = desired(1, fields=SubsidiaryFields("Evil\x1b[2J\rName", "100001", "2000001"))
    plan = build_plan(by_key(wanted), [], root=ROOT, allowed_hosts=ALLOWED)
    text = TextRenderer().render(plan)
    assert ESC not in text
    assert "\r" not in text
    assert "\\x1b[2J" in text
