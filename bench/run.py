"""rtssync's benchmark: one command, every figure against a baseline from the same run.

    .venv/bin/python -m bench                         # sizes 100, 1,000 and 10,000 (< 10 min)
    .venv/bin/python -m bench --quick                 # N=100 only, fewer apply changes (CI)
    .venv/bin/python -m bench --sizes 1000 --out DIR

Per size: generate N encrypted subsidiary files, measure load+validate+decrypt against the sops
binary and a bare parse, populate a TMS with them, plan against the reference server (20 ms per
request; sizes up to 1,000) with and without keys, and plan against the local TMS in a child
process (time and peak memory). Then apply 500 changes against the server at 10 requests/s, and
profile one plan. Results go to ``bench/results/latest.md`` and ``latest.json``; the profile to
``plan-profile.txt`` and ``.html`` beside them.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.corpus import Corpus, build_corpus
from bench.measure_apply import apply_rows, measure_apply, subsidiaries_for
from bench.measure_load import load_rows, measure_load
from bench.measure_plan import LATENCY_MS, measure_plan, plan_rows, profile_plan, warm_up
from bench.measure_scale import ScaleRun, measure_scale, scale_rows
from bench.report import Row, table, write_results
from bench.tms import populate, serve
from rtssync.config import load_settings
from rtssync.desired import load_desired_state
from rtssync.tms.local import LocalBackend

RESULTS = Path(__file__).resolve().parent / "results"
PLAN_OVER_HTTP_MAX = 1000
"""Larger sizes plan against the local TMS only (target 4); 10,000 over HTTP is 100 pages."""
PLAN_SERVER_RATE = 10.0
QUICK_APPLY_CHANGES = 40


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="comma-separated numbers of subsidiaries (default 100,1000,10000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"CI: N=100 and {QUICK_APPLY_CHANGES} apply changes")
    parser.add_argument("--apply-changes", type=int, default=500,
                        help="changes the apply benchmark makes (default 500)")
    parser.add_argument("--sops-sample", type=int, default=100,
                        help="files the sops binary decrypts, scaled to N (default 100)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results are written")
    args = parser.parse_args(argv)
    args.size_list = [100] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    if args.quick:
        args.apply_changes = QUICK_APPLY_CHANGES
        args.sops_sample = min(args.sops_sample, 20)
    return args


def progress(message: str) -> None:
    """Progress on stderr, so stdout is the table alone."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def populated_tms(corpus: Corpus) -> Path:
    """A TMS file holding every subsidiary of the corpus as an earlier apply left it."""
    db = corpus.root.parent / f"{corpus.root.name}-tms.sqlite"
    desired = load_desired_state(load_settings(corpus.root, corpus.root / "rtssync.yaml"))
    with LocalBackend(db) as store:
        populate(store, list(desired))
    return db


def measure_size(work: Path, size: int, args: argparse.Namespace, *, profile: bool
                 ) -> tuple[list[Row], ScaleRun]:
    """Every per-size measurement: load, plan over HTTP (up to 1,000) and the scale child."""
    progress(f"N={size}: generating the encrypted files")
    corpus = build_corpus(work / f"repo-{size}", size)
    progress(f"N={size}: load, validate and decrypt vs sops and a bare parse")
    rows = load_rows(size, measure_load(corpus, args.sops_sample, 1 if size > 1000 else 3))
    progress(f"N={size}: populating the TMS")
    db = populated_tms(corpus)
    if size <= PLAN_OVER_HTTP_MAX:
        progress(f"N={size}: plan against the reference server ({LATENCY_MS:g} ms/request)")
        with serve(db, rate_limit=PLAN_SERVER_RATE, latency_ms=LATENCY_MS) as served:
            warm_up(corpus, served)
            keyless = measure_plan(corpus, served, keys=False)
            keyed = measure_plan(corpus, served, keys=True)
            rows += plan_rows(size, keyless, keyed)
            if profile:
                written = profile_plan(corpus, served, args.out)
                progress(f"N={size}: profiled one plan with keys -> {written}")
    progress(f"N={size}: plan against the local TMS in a child process")
    return rows, measure_scale(corpus, db)


def notes(args: argparse.Namespace) -> list[str]:
    return [
        f"sops: `sops decrypt` run once per file on the first {args.sops_sample} files (or all, "
        "if fewer) and scaled linearly to N; rtssync and the bare parse run on all N files, "
        "best of 3 (1 at N > 1,000). Against sops the figures are wall time; against the "
        "bare parse (both in this process) CPU time, which other work on a shared machine "
        "inflates far less (wall time is in the note).",
        "Files are encrypted by rtssync's native writer; the first 10 of each set by the sops "
        "binary, so every load reads both kinds.",
        f"Plans over HTTP: `rtssync tms serve --rate-limit {PLAN_SERVER_RATE:g} "
        f"--fault-latency-ms {LATENCY_MS:g}` in its own process on loopback, default client "
        "options (page size 100, 9 requests/s); requests counted server-side (access log). "
        "The TMS already matches git, so the plan is empty. Best of 2 after one warm-up plan.",
        "Scale: `rtssync plan`'s work against the local TMS in a fresh child process; peak "
        "memory is the child's getrusage(RUSAGE_SELF).ru_maxrss, time is taken inside it; "
        "linearity is judged on its CPU time (wall time in the note).",
        f"Apply: {subsidiaries_for(args.apply_changes)} new subsidiaries x 4 changes against "
        f"an empty TMS, server limited to 10 requests/s with {LATENCY_MS:g} ms latency; the "
        "bound counts the requests the server answered other than 429 (one recorded commit "
        "per subsidiary included).",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[Row] = []
    scale: dict[int, ScaleRun] = {}
    profiled = max((s for s in args.size_list if s <= PLAN_OVER_HTTP_MAX), default=None)
    with tempfile.TemporaryDirectory(prefix="rtssync-bench-") as temp:
        work = Path(temp)
        for size in args.size_list:
            size_rows, scale[size] = measure_size(work, size, args, profile=size == profiled)
            rows += size_rows
        rows += scale_rows(scale)
        progress(f"apply of {args.apply_changes} changes at 10 requests/s")
        apply_corpus = build_corpus(work / "repo-apply", subsidiaries_for(args.apply_changes))
        rows += apply_rows(measure_apply(apply_corpus))
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_results(args.out, rows, notes(args), command.strip())
    print(table(rows), end="")
    return 0
