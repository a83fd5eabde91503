"""The project's own standards: ruff, snakefmt and snakemake --lint are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def test_ruff_clean(root_dir):
    proc = _run([str(BIN / "ruff"), "check", "."], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_clean(root_dir):
    proc = _run([str(BIN / "ruff"), "format", "--check", "."], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean(root_dir):
    proc = _run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_clean(root_dir):
    proc = _run([sys.executable, "-m", "snakemake", "--lint"], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
