"""Markdown for pull-request comments: summary first, everything escaped, cut to fit."""

from __future__ import annotations

import re

from rtssync.plan import build_plan
from rtssync.render.markdown import MAX_COMMENT_CHARS, MarkdownRenderer, escape, fence_for
from rtssync.render.text import TextRenderer
from tests.plan_records import ALLOWED, ROOT, by_key, desired
from tests.render.plans import every_kind_plan, hostile_plan


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
