"""Matching a subsidiary file to a TMS subsidiary: tms_id, else MC, else DOT, else exact name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rtssync.errors import ConfigError
from rtssync.match import match_subsidiaries
from rtssync.model import SubsidiaryFields
from tests.plan_records import by_key, desired, live_for


def _other(fields: SubsidiaryFields, **changes: str) -> SubsidiaryFields:
    return replace(fields, **changes)


def test_tms_id_wins_over_every_other_identifier() -> None:
    wanted = desired(1, tms_id="T-9")
    same_mc = live_for(wanted, "T-1")
    bound = live_for(wanted, "T-9", fields=SubsidiaryFields("Renamed", "999", "888"))
    match = match_subsidiaries(by_key(wanted), [same_mc, bound]).matches["sub-1"]
    assert match.live is bound
    assert match.tier == "tms_id"


def test_unknown_tms_id_is_an_error_at_its_line() -> None:
    wanted = desired(1, tms_id="T-404")
    with pytest.raises(ConfigError, match="T-404") as caught:
        match_subsidiaries(by_key(wanted), [live_for(wanted, "T-1")])
    assert f"{wanted.source}:3:1" in str(caught.value)


def test_mc_number_matches_when_there_is_no_tms_id() -> None:
    wanted = desired(1)
    live = live_for(wanted, fields=_other(wanted.fields, name="Other", dot_number="1"))
    match = match_subsidiaries(by_key(wanted), [live]).matches["sub-1"]
    assert (match.live, match.tier) == (live, "MC number")


def test_dot_number_matches_when_mc_finds_nothing() -> None:
    wanted = desired(1)
    live = live_for(wanted, fields=_other(wanted.fields, name="Other", mc_number="555"))
    match = match_subsidiaries(by_key(wanted), [live]).matches["sub-1"]
    assert (match.live, match.tier) == (live, "DOT number")


def test_exact_name_is_the_last_resort() -> None:
    wanted = desired(1)
    live = live_for(wanted, fields=_other(wanted.fields, mc_number="555", dot_number="666"))
    near = live_for(wanted, "T-2", fields=SubsidiaryFields("subsidiary 1 llc", "1", "2"))
    match = match_subsidiaries(by_key(wanted), [near, live]).matches["sub-1"]
    assert (match.live, match.tier) == (live, "name")


def test_no_match_means_create() -> None:
    wanted = desired(1)
    stranger = live_for(desired(2))
    matching = match_subsidiaries(by_key(wanted), [stranger])
    assert matching.matches["sub-1"].live is None
    assert matching.unmatched_live == (stranger,)


def test_ambiguous_mc_is_an_error_naming_the_candidates() -> None:
    wanted = desired(1)
    first = live_for(wanted, "T-1", fields=_other(wanted.fields, name="First Co"))
    second = live_for(wanted, "T-2", fields=_other(wanted.fields, name="Second Co"))
    with pytest.raises(ConfigError) as caught:
        match_subsidiaries(by_key(wanted), [first, second])
    message = str(caught.value)
    assert "T-1" in message
    assert "T-2" in message
    assert "First Co" in message
    assert f"{wanted.source}:4:1" in message  # the mc_number line
    assert "tms_id" in message  # what to do about it


def test_ambiguity_at_a_stronger_tier_is_not_resolved_by_a_weaker_one() -> None:
    wanted = desired(1)
    first = live_for(wanted, "T-1")
    second = live_for(wanted, "T-2", fields=_other(wanted.fields, dot_number="7", name="x"))
    with pytest.raises(ConfigError, match="MC number"):
        match_subsidiaries(by_key(wanted), [first, second])


def test_a_live_subsidiary_matched_by_two_files_is_an_error() -> None:
    one = desired(1)
    two = desired(2, fields=_other(desired(2).fields, dot_number=one.fields.dot_number))
    live = live_for(one, "T-1")
    with pytest.raises(ConfigError) as caught:
        match_subsidiaries(by_key(one, two), [live])
    message = str(caught.value)
    assert "T-1" in message
    assert str(one.source) in message
    assert str(two.source) in message
