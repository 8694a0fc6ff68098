"""One plan against the local TMS, in a process of its own, reporting time and peak memory.

Run by :mod:`bench.measure_scale` as ``python -m bench.scale_child ROOT DB``; prints one JSON
line. Peak memory is this process's own high-water mark, ``getrusage(RUSAGE_SELF).ru_maxrss``
read at exit: the same figure the parent's ``RUSAGE_CHILDREN`` gives for one child, but not
mixed up with earlier children (the sops processes of the load benchmark).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from rtssync.config import load_settings
from rtssync.inputs import plan_from, read_inputs
from rtssync.tms.local import LocalBackend


def main(root: Path, db: Path) -> None:
    """Time ``rtssync plan``'s work (files, TMS, diff, usernames when keys are set)."""
    start, cpu = time.perf_counter(), time.process_time()
    settings = load_settings(root, root / "rtssync.yaml")
    with LocalBackend(db) as backend:
        plan = plan_from(read_inputs(settings, backend, usernames=True), ())
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_kib / 1024,
                      "actionable": len(plan.actionable)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
