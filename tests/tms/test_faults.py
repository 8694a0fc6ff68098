"""Fault decisions: reproducible from a seed, in the proportions asked for."""

from __future__ import annotations

from collections import Counter

import pytest

from rtssync.tms.faults import DROP_FAULTS, ERROR_FAULTS, Fault, FaultConfig, FaultInjector


def decisions(config: FaultConfig, n: int = 5000) -> list[Fault]:
    injector = FaultInjector(config)
    return [injector.decide() for _ in range(n)]


def test_the_same_seed_gives_the_same_faults() -> None:
    config = FaultConfig(error_rate=0.1, drop_rate=0.1, seed=42)
    assert decisions(config) == decisions(config)
    assert decisions(config) != decisions(FaultConfig(error_rate=0.1, drop_rate=0.1, seed=43))


def test_faults_come_in_the_proportions_asked_for() -> None:
    counts = Counter(decisions(FaultConfig(error_rate=0.1, drop_rate=0.1, seed=1)))
    errors = sum(counts[f] for f in ERROR_FAULTS)
    drops = sum(counts[f] for f in DROP_FAULTS)
    assert 400 < errors < 600
    assert 400 < drops < 600
    assert all(counts[f] > 0 for f in (*ERROR_FAULTS, *DROP_FAULTS))


def test_no_faults_unless_asked() -> None:
    assert set(decisions(FaultConfig(seed=1))) == {Fault.NONE}


def test_scripted_faults_come_first() -> None:
    injector = FaultInjector(FaultConfig(seed=1))
    injector.inject_next(Fault.DROP_AFTER, Fault.ERROR_503)
    assert [injector.decide() for _ in range(3)] == [Fault.DROP_AFTER, Fault.ERROR_503, Fault.NONE]


@pytest.mark.parametrize(
    "options",
    [{"error_rate": 1.5}, {"drop_rate": -0.1}, {"error_rate": 0.6, "drop_rate": 0.6},
     {"latency_ms": -1}],
)  # fmt: skip
def test_impossible_fault_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="fault"):
        FaultConfig(**options)  # type: ignore[arg-type]
