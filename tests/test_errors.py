"""Problems print as one ``path:line:col: message`` line each, whatever value they quote."""

from __future__ import annotations

from pathlib import Path

from rtssync.errors import ConfigError, Problem
from rtssync.model import SourceLocation

WHERE = SourceLocation(Path("rtssync.yaml"), 3, 5)


def test_a_problem_quoting_a_line_break_stays_on_one_line() -> None:
    problem = Problem(WHERE, "unknown field '\r' in policy: remove it")
    assert str(problem) == "rtssync.yaml:3:5: unknown field '\\r' in policy: remove it"


def test_printable_unicode_is_kept_as_written() -> None:
    assert str(Problem(WHERE, "name 'Ünïcode ﬁ' is taken")) == \
        "rtssync.yaml:3:5: name 'Ünïcode ﬁ' is taken"


def test_a_config_error_is_one_line_per_problem() -> None:
    error = ConfigError([Problem(WHERE, "a\nb"), Problem(WHERE, "c")])
    assert str(error).splitlines() == ["rtssync.yaml:3:5: a\\nb", "rtssync.yaml:3:5: c"]
