"""Shared test fixtures.

Tests that read the real data sets beside the checkout (``../shared``: search exports,
labelled dedup sets, the SLURM helper) use the ``shared_dir`` fixture and skip with a
clear reason where it is absent. ``SRMA_SHARED`` points elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SRMA_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def root_dir() -> Path:
    """The checkout."""
    return ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skips the test when it is missing."""
    if not SHARED.is_dir():
        pytest.skip(
            f"{SHARED} not found: the shared data sets (../shared beside the checkout) are needed"
        )
    return SHARED


def _install_chromium() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=True)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium, installed with apt-get when missing (root only)."""
    exe = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if exe is None:
        if not shutil.which("apt-get") or os.geteuid() != 0:
            pytest.skip("chromium is missing and cannot be installed (needs root and apt-get)")
        _install_chromium()
        exe = shutil.which("chromium") or "/usr/bin/chromium"
    return exe
