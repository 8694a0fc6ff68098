"""On a terminal: apply asks before a fresh plan and shows a progress bar for many changes."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.e2e.harness import RTSSYNC, World, canary_forms, make_world


def run_on_terminal(world: World, args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr, typing ``answer``."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [RTSSYNC, "-C", str(world.root), *args], stdin=slave, stdout=slave, stderr=slave,
        env=world.env(keys=True), close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
            if not answered and b"Apply these" in b"".join(chunks):
                os.write(master, answer.encode())
                answered = True
        elif process.poll() is not None:
            break
    os.close(master)
    code = process.wait(timeout=60)
    output = b"".join(chunks).decode("utf-8", errors="replace")
    world.outputs.append(output)
    return code, output


def test_a_fresh_apply_asks_and_draws_a_progress_bar(tmp_path: Path) -> None:
    with make_world(tmp_path, "local") as world:
        code, output = run_on_terminal(world, ["apply"], "y\n")
        assert code == 0, output
        assert "Apply these 12 change(s)?" in output
        assert "12/12" in output  # the progress bar's count
        assert "Applied 12, failed 0, skipped 0." in output
        assert "\x1b[3" not in output  # NO_COLOR: no colour codes
        for form in canary_forms():
            assert form not in world.produced_text()


def test_answering_no_applies_nothing(tmp_path: Path) -> None:
    with make_world(tmp_path, "local") as world:
        code, output = run_on_terminal(world, ["apply"], "n\n")
        assert code == 1
        assert "nothing applied" in output
        assert world.live() == []
