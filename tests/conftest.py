"""Shared test set-up: the venv's bin (sops, rtssync) on PATH, and a canary credential."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_VENV_BIN = str(Path(sys.executable).parent)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")

# A password no real output would ever contain; tests grep everything a command produced for it.
CANARY_PASSWORD = "c4nary-PW:'#\" ünï-7f3a9e"


@pytest.fixture
def canary_password() -> str:
    return CANARY_PASSWORD


# CI draws the same property-test examples every run, so a landing is never decided by luck;
# local runs keep exploring new examples.
if os.environ.get("CI"):
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    _hypothesis_settings.load_profile("ci")
