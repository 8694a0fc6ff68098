"""Matching: which live TMS subsidiary each subsidiary file describes.

A file binds to a live subsidiary by the strongest identifier it shares with exactly one of them:
``tms_id``, else MC number, else DOT number, else the exact name. The first tier that finds any
candidate decides, so a file never silently slides to a weaker tier when a stronger one is
ambiguous. Ambiguity, a ``tms_id`` that does not exist, and two files claiming the same live
subsidiary are all errors with the file and line: applying on a guess could overwrite the wrong
company's factoring setup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rtssync.errors import ConfigError, Problem
from rtssync.model import DesiredSubsidiary, LiveSubsidiary, SourceLocation


@dataclass(frozen=True, slots=True)
class MatchTier:
    """One way of recognising a subsidiary: a name for messages and how to read the value."""

    name: str
    field: str
    """Dotted field path in the subsidiary file, to point an error at its line."""
    desired_value: Callable[[DesiredSubsidiary], str | None]
    live_value: Callable[[LiveSubsidiary], str | None]


def _normalized(value: str | None) -> str | None:
    """Identifiers compare exactly but without surrounding blanks; empty means absent."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


TIERS: tuple[MatchTier, ...] = (
    MatchTier("tms_id", "tms_id", lambda d: _normalized(d.tms_id), lambda s: s.tms_id),
    MatchTier(
        "MC number", "mc_number",
        lambda d: _normalized(d.fields.mc_number), lambda s: _normalized(s.fields.mc_number),
    ),
    MatchTier(
        "DOT number", "dot_number",
        lambda d: _normalized(d.fields.dot_number), lambda s: _normalized(s.fields.dot_number),
    ),
    MatchTier("name", "name", lambda d: d.fields.name, lambda s: s.fields.name),
)


@dataclass(frozen=True, slots=True)
class Match:
    """A subsidiary file and the live subsidiary it describes (None: it must be created)."""

    desired: DesiredSubsidiary
    live: LiveSubsidiary | None
    tier: str | None
    """Which identifier bound them ("tms_id", "MC number", ...), for the plan's explanation."""


@dataclass(frozen=True, slots=True)
class Matching:
    """Every file's match, by key, and the live subsidiaries no file describes."""

    matches: Mapping[str, Match]
    unmatched_live: tuple[LiveSubsidiary, ...]


def location_of(desired: DesiredSubsidiary, field_path: str) -> SourceLocation:
    """Where ``field_path`` is written, or the top of the file when the loader did not say."""
    found = desired.locations.get(field_path)
    return found if found is not None else SourceLocation(desired.source, 1, 1)


def _describe(live: LiveSubsidiary) -> str:
    fields = live.fields
    return (
        f"{live.tms_id} ({fields.name!r}, MC {fields.mc_number or '-'}, "
        f"DOT {fields.dot_number or '-'})"
    )


_Index = dict[str, dict[str, list[LiveSubsidiary]]]


def _index(live: Sequence[LiveSubsidiary]) -> _Index:
    """Per tier, value -> the live subsidiaries carrying it, in listing order. Built once, so
    matching N files is linear instead of every file scanning every live subsidiary (10,000
    of each was 10^8 comparisons)."""
    index: _Index = {tier.name: {} for tier in TIERS}
    for item in live:
        for tier in TIERS:
            value = tier.live_value(item)
            if value is not None:
                index[tier.name].setdefault(value, []).append(item)
    return index


def _match_one(
    desired: DesiredSubsidiary, index: _Index
) -> tuple[Match | None, Problem | None]:
    """Walk the tiers for one file: a match, or the problem that prevents one."""
    for tier in TIERS:
        wanted = tier.desired_value(desired)
        if wanted is None:
            continue
        candidates = index[tier.name].get(wanted, [])
        if len(candidates) == 1:
            return Match(desired, candidates[0], tier.name), None
        if len(candidates) > 1:
            names = "; ".join(_describe(c) for c in candidates)
            message = (
                f"{tier.name} {wanted!r} matches {len(candidates)} TMS subsidiaries: {names}. "
                "Set tms_id to the one this file describes."
            )
            return None, Problem(location_of(desired, tier.field), message)
        if tier.name == "tms_id":
            message = (
                f"tms_id {wanted!r} does not exist in the TMS; "
                "correct it, or remove it to match by MC number, DOT number or name"
            )
            return None, Problem(location_of(desired, tier.field), message)
    return Match(desired, None, None), None


def _claimed_twice(matches: Iterable[Match]) -> list[Problem]:
    """A live subsidiary described by two files: both would fight over it on every apply."""
    by_live: dict[str, list[Match]] = {}
    for match in matches:
        if match.live is not None:
            by_live.setdefault(match.live.tms_id, []).append(match)
    problems = []
    for tms_id, claimants in by_live.items():
        if len(claimants) < 2:
            continue
        files = ", ".join(f"{m.desired.source} (by {m.tier})" for m in claimants)
        for claimant in claimants:
            message = (
                f"TMS subsidiary {tms_id} is matched by {len(claimants)} files: {files}. "
                "Each TMS subsidiary may be described by one file only; set tms_id or fix "
                "the MC/DOT number or name."
            )
            problems.append(Problem(location_of(claimant.desired, "name"), message))
    return problems


def match_subsidiaries(
    desired: Mapping[str, DesiredSubsidiary], live: Sequence[LiveSubsidiary]
) -> Matching:
    """Match every file to at most one live subsidiary; raise ConfigError on any doubt."""
    problems: list[Problem] = []
    matches: dict[str, Match] = {}
    index = _index(live)
    for key in sorted(desired):
        match, problem = _match_one(desired[key], index)
        if problem is not None:
            problems.append(problem)
        elif match is not None:
            matches[key] = match
    problems.extend(_claimed_twice(matches.values()))
    if problems:
        raise ConfigError(problems)
    claimed = {m.live.tms_id for m in matches.values() if m.live is not None}
    unmatched = tuple(item for item in live if item.tms_id not in claimed)
    return Matching(matches=matches, unmatched_live=unmatched)
