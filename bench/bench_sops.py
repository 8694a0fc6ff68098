"""How fast rtssync decrypts subsidiary files, against sops-per-file and a bare YAML parse.

Generates N subsidiary-like files (name, MC, DOT, a multi-line NOA, FTP settings, username and
password encrypted with ``encrypted_regex: ^(username|password)$`` and
``mac_only_encrypted: true``) in a temp dir, then measures in one run:

  a. the ``sops`` binary, one ``sops decrypt`` process per file (a sample, scaled to N),
  b. rtssync reading and decrypting all N files in-process (MAC checked, one age unwrap per file),
  c. merely parsing the N files with PyYAML's C loader (the floor).

Usage: ``.venv/bin/python bench/bench_sops.py [--n 1000] [--sops-sample 100]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyrage
import yaml

from rtssync.sops import decrypt_document, encrypt_document, find_creation_rule, find_identities

NOA = (
    "NOTICE OF ASSIGNMENT: This account has been assigned and must be paid only to\n"
    "RTS Financial Service, Inc., P.O. Box 840267, Dallas, TX 75284-0267.\n"
    "RTS Financial must be promptly notified at (877) 460-9606 of any claims or offsets\n"
    "against this invoice.\n"
)
TARGET_VS_SOPS = 30.0
TARGET_VS_PARSE = 3.0


def subsidiary(n: int) -> dict[str, object]:
    return {
        "name": f"Subsidiary {n} Freight LLC",
        "tms_id": None,
        "mc_number": f"{100000 + n}",
        "dot_number": f"{2000000 + n}",
        "notice_of_assignment": NOA,
        "invoicing": {"method": "factoring", "auto_merge": True},
        "factoring": {
            "provider": "rts",
            "ftp": {
                "protocol": "ftp",
                "host": "devftp.rtsfinancial.com",
                "port": 21,
                "directory": "/incoming",
                "host_key": None,
                "username": f"rts-sub-{n}",
                "password": f"pw-{n}-{os.urandom(6).hex()}",
            },
        },
    }


def write_files(root: Path, count: int, recipient: str) -> list[Path]:
    (root / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: ^config/subsidiaries/.*\\.yaml$\n"
        f"    age: {recipient}\n"
        "    encrypted_regex: ^(username|password)$\n"
        "    mac_only_encrypted: true\n"
    )
    directory = root / "config/subsidiaries"
    directory.mkdir(parents=True)
    files = []
    for n in range(count):
        path = directory / f"sub-{n}.yaml"
        rule = find_creation_rule(root, path)
        path.write_text(encrypt_document(path, subsidiary(n), rule))
        files.append(path)
    return files


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def sops_per_file(files: list[Path], key_file: Path) -> None:
    env = dict(os.environ, SOPS_AGE_KEY_FILE=str(key_file))
    binary = shutil.which("sops") or str(Path(sys.executable).parent / "sops")
    for path in files:
        subprocess.run([binary, "decrypt", str(path)], env=env, check=True, capture_output=True)


def rtssync_all(files: list[Path]) -> None:
    identities = find_identities()
    for path in files:
        plain = decrypt_document(path, path.read_bytes(), identities=identities)
        assert plain["factoring"]["ftp"]["password"]


def parse_all(files: list[Path]) -> None:
    for path in files:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="number of files (default 1000)")
    parser.add_argument("--sops-sample", type=int, default=100, help="files run through sops")
    args = parser.parse_args()
    identity = pyrage.x25519.Identity.generate()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        key_file = root / "key.txt"
        key_file.write_text(f"{identity}\n")
        os.environ["SOPS_AGE_KEY_FILE"] = str(key_file)
        files = write_files(root, args.n, str(identity.to_public()))
        sample = files[: max(1, min(args.sops_sample, args.n))]
        report(args.n, len(sample), measure(files, sample, key_file))


def measure(files: list[Path], sample: list[Path], key_file: Path) -> dict[str, float]:
    parse_all(files)  # warm the page cache and imports alike for every contestant
    sops_sample = timed(lambda: sops_per_file(sample, key_file))
    return {
        "sops": sops_sample * len(files) / len(sample),
        "rtssync": min(timed(lambda: rtssync_all(files)) for _ in range(3)),
        "parse": min(timed(lambda: parse_all(files)) for _ in range(3)),
    }


def report(count: int, sampled: int, seconds: dict[str, float]) -> None:
    vs_sops = seconds["sops"] / seconds["rtssync"]
    vs_parse = seconds["rtssync"] / seconds["parse"]
    print(f"{count} subsidiary files (encrypted_regex username|password, mac_only_encrypted)")
    print(f"{'contestant':<54}{'seconds':>10}{'per file':>12}")
    rows = [
        (f"a. sops decrypt, 1 process/file ({sampled} run, scaled)", seconds["sops"]),
        ("b. rtssync load + decrypt in-process", seconds["rtssync"]),
        ("c. yaml.load(CSafeLoader) only", seconds["parse"]),
    ]
    for label, value in rows:
        print(f"{label:<54}{value:>10.3f}{value / count * 1e3:>10.3f}ms")
    print(f"rtssync is {vs_sops:.1f}x faster than sops per file (target >= {TARGET_VS_SOPS:.0f}x)")
    print(f"rtssync takes {vs_parse:.2f}x the bare parse (target <= {TARGET_VS_PARSE:.0f}x)")
    ok = vs_sops >= TARGET_VS_SOPS and vs_parse <= TARGET_VS_PARSE
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
