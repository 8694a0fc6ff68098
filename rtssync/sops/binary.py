"""Hand a file to the ``sops`` binary when it uses key types rtssync does not open itself.

The ciphertext goes in on stdin and the plaintext comes back on a pipe: nothing plain is written
to disk. sops's own stderr is not echoed, because rtssync cannot vet it for secrets; only its exit
status and a hint are reported.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from rtssync.errors import SopsError
from rtssync.sops import goyaml


def sops_binary() -> str | None:
    return shutil.which("sops")


def decrypt_with_sops(path: Path, data: bytes, reason: str) -> dict[str, Any]:
    """Decrypt via ``sops decrypt`` reading stdin; raise SopsError if sops is missing or fails.

    ``reason`` completes "rtssync hands this file to sops because it ...".
    """
    binary = sops_binary()
    if binary is None:
        raise SopsError(
            f"{path}: {reason}, which rtssync opens only through the sops binary; install sops "
            "(https://github.com/getsops/sops) or use age recipients"
        )
    try:
        result = subprocess.run(
            [binary, "decrypt", "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
            input=data,
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SopsError(f"{path}: could not run sops ({type(error).__name__})") from None
    if result.returncode != 0:
        raise SopsError(
            f"{path}: {reason}, and sops could not decrypt it (exit {result.returncode}); "
            f"run `sops decrypt {path}` yourself to see why"
        )
    plain = goyaml.load(result.stdout)
    if not isinstance(plain, dict):
        raise SopsError(f"{path}: sops returned no document")
    return plain
