"""Shared test fixtures.

Tests that read the real data sets beside the checkout (``../shared``: search exports,
labelled dedup sets, the SLURM helper) use the ``shared_dir`` fixture and skip with a
clear reason where it is absent. ``SRMA_SHARED`` points elsewhere.
"""

from __future__ import annotations

import os
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
