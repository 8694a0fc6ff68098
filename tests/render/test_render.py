"""All three formats: what a reviewer sees, the schema, escaping of hostile values, the cut."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rtssync.errors import RtssyncError
from rtssync.model import SubsidiaryFields
from rtssync.plan import Plan, build_plan
from rtssync.render import get_renderer, register, renderer_names
from rtssync.render.markdown import MAX_COMMENT_CHARS, MarkdownRenderer, escape, fence_for
from rtssync.render.text import TextRenderer
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

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"
HOSTILE_NAME = "|<script>alert(1)</script> **bold** [x](https://evil.example) @org/team `x`"
ESC = "\x1b"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


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


def test_the_every_kind_plan_really_has_every_kind() -> None:
    kinds = set(every_kind_plan().counts())
    assert kinds == {"create_subsidiary", "update_fields", "set_noa", "set_invoicing",
                     "configure_ftp", "update_ftp", "rotate_credentials", "remove_ftp", "drift",
                     "unmanaged"}


@pytest.mark.parametrize("plan_factory", [every_kind_plan, hostile_plan])
def test_json_follows_the_schema(plan_factory: Any) -> None:
    document = json.loads(get_renderer("json").render(plan_factory()))
    jsonschema.Draft202012Validator(schema()).validate(document)


def test_an_empty_plan_follows_the_schema_too() -> None:
    plan = build_plan({}, [], root=ROOT, allowed_hosts=ALLOWED)
    jsonschema.Draft202012Validator(schema()).validate(json.loads(get_renderer("json").render(plan)))


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


def test_no_changes_reads_as_such() -> None:
    plan = build_plan({}, [], root=ROOT, allowed_hosts=ALLOWED)
    assert "No changes" in TextRenderer().render(plan)
    assert "no changes" in MarkdownRenderer().render(plan)


def test_markdown_starts_with_the_summary_table() -> None:
    markdown = MarkdownRenderer().render(every_kind_plan())
    lines = markdown.splitlines()
    assert lines[0].startswith("### rtssync plan: ")
    assert lines[2] == "| change | count |"
    assert markdown.index("| change | count |") < markdown.index("### Details")


def test_markdown_puts_the_noa_diff_in_a_collapsible_diff_fence() -> None:
    markdown = MarkdownRenderer().render(every_kind_plan())
    assert "<details><summary>Notice of Assignment (line diff)</summary>\n\n```diff\n" in markdown
    assert "\n-old text\n" in markdown


def test_markdown_escapes_every_hostile_value() -> None:
    markdown = MarkdownRenderer().render(hostile_plan())
    outside_fences = re.sub(r"(`{3,})diff\n.*?\n\1\n", "", markdown, flags=re.DOTALL)
    for raw in ("<script>", "**bold**", "[x](", "@org", "`x`", "</details><img"):
        assert raw not in outside_fences
    first_cell = f"| {escape('sub-1')} "
    rows = [line for line in outside_fences.splitlines() if line.startswith(first_cell)]
    assert rows
    assert all(row.count("|") == 4 for row in rows)  # the name cannot add a column


def test_a_backtick_run_in_the_noa_cannot_close_the_fence() -> None:
    markdown = MarkdownRenderer().render(hostile_plan())
    assert "`````diff\n" in markdown  # longer than the four-backtick run in the NOA
    assert fence_for(["a ```` b", "``"]) == "`````"
    assert fence_for(["plain"]) == "```"


def test_escape_turns_syntax_into_character_references() -> None:
    assert escape("a|b") == "a&#124;b"
    assert escape("<x>") == "&#60;x&#62;"
    assert escape("line\nbreak") == "line<br>break"
    assert escape("*_`[]") == "&#42;&#95;&#96;&#91;&#93;"


def test_markdown_is_cut_between_blocks_with_a_notice() -> None:
    files = [desired(n, notice_of_assignment=f"NOA {n}\n" + "long line of legal text\n" * 200)
             for n in range(1, 60)]
    plan = build_plan(by_key(*files), [], root=ROOT, allowed_hosts=ALLOWED)
    full = MarkdownRenderer(limit=10**9).render(plan)
    assert len(full) > MAX_COMMENT_CHARS
    cut = MarkdownRenderer().render(plan)
    assert len(cut) <= MAX_COMMENT_CHARS
    assert "This plan was cut to fit a pull-request comment" in cut
    assert cut.count("<details>") == cut.count("</details>")
    assert cut.startswith("### rtssync plan: ")


def test_one_huge_noa_diff_is_replaced_by_a_note_rather_than_cut_inside() -> None:
    wanted = desired(1, notice_of_assignment="x" * 9000 + "\n")
    plan = build_plan(by_key(wanted), [], root=ROOT, allowed_hosts=ALLOWED)
    cut = MarkdownRenderer(limit=5000).render(plan)
    assert len(cut) <= 5000
    assert "too long for a comment" in cut
    assert "```diff" not in cut


def test_no_format_shows_a_secret_value() -> None:
    plan = every_kind_plan()
    for name in renderer_names():
        rendered = get_renderer(name).render(plan)
        assert "ENC[" not in rendered
        assert "user-of-" not in rendered  # live usernames are not shown either


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(RtssyncError, match="json, markdown, text"):
        get_renderer("yaml")


def test_renderers_are_pluggable() -> None:
    class CountRenderer:
        name = "count"

        def render(self, plan: Plan, *, color: bool = False) -> str:
            return f"{len(plan.changes)}\n"

    register("count", CountRenderer)
    assert "count" in renderer_names()
    assert get_renderer("count").render(every_kind_plan()) == f"{len(every_kind_plan().changes)}\n"
