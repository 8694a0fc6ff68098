"""Target 1: load, validate and decrypt N files, against the sops binary and a bare YAML parse.

rtssync's side is what ``apply`` does before it writes: :func:`load_desired_state` (read, parse
with file:line, schema and cross-file rules) and then each file's credentials decrypted the way
apply decrypts them (:func:`rtssync.commands.apply.sops_credentials`, MAC checked). The sops
binary runs one process per file on a sample and is scaled to N, because 10,000 processes would
take longer than the whole benchmark.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.corpus import Corpus, key_environment, sops_binary
from bench.report import Row, ratio
from rtssync.config import load_settings
from rtssync.decrypt import decrypt_credentials as sops_credentials
from rtssync.desired import load_desired_state

TARGET_VS_SOPS = 30.0
TARGET_VS_PARSE = 3.0


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float
    cpu: float
    """This process's CPU time (all threads): what a busy machine's other work cannot inflate
    much, so in-process contestants are compared on it."""


@dataclass(frozen=True, slots=True)
class LoadFigures:
    rtssync: Timing
    sops_scaled: float
    sops_sampled: int
    parse: Timing


def best_of(repeats: int, action: Callable[[], object]) -> Timing:
    """The fastest of ``repeats`` runs: the least disturbed by whatever else the machine does."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(min(walls), min(cpus))


def load_and_decrypt(corpus: Corpus) -> int:
    """What apply does before its first write; returns how many logins were decrypted."""
    settings = load_settings(corpus.root, corpus.root / "rtssync.yaml")
    desired = load_desired_state(settings)
    decrypted = 0
    for wanted in desired:
        if wanted.factoring is not None:
            sops_credentials(wanted)
            decrypted += 1
    assert decrypted == corpus.size, "every generated file has credentials"
    return decrypted


def _fresh_load_and_decrypt(corpus: Corpus) -> int:
    """Key discovery included: a fresh ``rtssync apply`` process pays it too."""
    with key_environment(corpus, keys=True):
        return load_and_decrypt(corpus)


def parse_only(files: Sequence[Path]) -> None:
    """The floor: PyYAML's C loader and nothing else."""
    for path in files:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)


def sops_per_file(corpus: Corpus, files: Sequence[Path]) -> None:
    """``sops decrypt FILE``, one process per file, as a shell script over the repo would."""
    binary, env = sops_binary(), corpus.sops_env()
    for path in files:
        subprocess.run([binary, "decrypt", str(path)], env=env, check=True, capture_output=True)


def measure_load(corpus: Corpus, sops_sample: int, repeats: int) -> LoadFigures:
    """All three contestants on the same files, page cache warmed for each alike."""
    parse_only(corpus.files)
    sample = corpus.files[: max(1, min(sops_sample, corpus.size))]
    sops_seconds = best_of(1, lambda: sops_per_file(corpus, sample)).wall  # other processes
    return LoadFigures(
        rtssync=best_of(repeats, lambda: _fresh_load_and_decrypt(corpus)),
        sops_scaled=sops_seconds * corpus.size / len(sample),
        sops_sampled=len(sample),
        parse=best_of(repeats, lambda: parse_only(corpus.files)),
    )


def load_rows(size: int, figures: LoadFigures) -> list[Row]:
    """Two rows: the speed-up over sops, and the cost over a bare parse."""
    name = "load+validate+decrypt"
    vs_sops = ratio(figures.sops_scaled, figures.rtssync.wall)
    vs_parse = ratio(figures.rtssync.cpu, figures.parse.cpu)
    return [
        Row(f"{name} vs sops (speed-up)", size, figures.rtssync.wall, "s",
            f"sops decrypt, 1 process/file ({figures.sops_sampled} run, scaled to {size})",
            figures.sops_scaled, vs_sops, f">= {TARGET_VS_SOPS:.0f}x faster",
            vs_sops >= TARGET_VS_SOPS),
        Row(f"{name} vs bare parse (cost, CPU time)", size, figures.rtssync.cpu, "s",
            "yaml.load CSafeLoader only", figures.parse.cpu, vs_parse,
            f"<= {TARGET_VS_PARSE:.0f}x", vs_parse <= TARGET_VS_PARSE,
            f"wall: {figures.rtssync.wall:.3f} s vs {figures.parse.wall:.3f} s"),
    ]
