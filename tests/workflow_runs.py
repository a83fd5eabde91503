"""Helpers for tests that run the real workflow: copy it into a scratch folder, run
Snakemake there, and fingerprint what it wrote.

Used by the end-to-end tests (``test_determinism.py``, ``test_slurm.py``,
``test_workflow.py``, ``test_bad_inputs.py``) and by ``benchmarks/workflow.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A small review (tests/fixtures/review): its config and resources, run with the
#: workflow's code by :func:`copy_review`.
FIXTURE_REVIEW = Path(__file__).resolve().parent / "fixtures" / "review"

#: What a run needs: the Snakefile, the folders it reads, and profiles/default (read by
#: Snakemake itself).
WORKFLOW_PARTS = ("Snakefile", "workflow", "config", "resources", "profiles")

_IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")


def copy_workflow(dest: Path, root: Path = ROOT) -> Path:
    """Copy the workflow and the bundled review's inputs to ``dest`` (created)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = root / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=_IGNORE)
        else:
            shutil.copy2(src, dest / part)
    return dest


def copy_review(root: Path, dest: Path, fixture: Path = FIXTURE_REVIEW) -> Path:
    """A runnable copy of the fixture review: the workflow code of ``root`` plus the
    fixture's config and resources (modification times kept)."""
    shutil.copy(root / "Snakefile", dest / "Snakefile")
    shutil.copytree(root / "profiles" / "default", dest / "profiles" / "default")
    shutil.copytree(
        root / "workflow", dest / "workflow", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(fixture / "config", dest / "config")
    shutil.copytree(fixture / "resources", dest / "resources")
    return dest


def copy_finished_review(review: Path, root: Path, dest: Path) -> Path:
    """A copy of a finished run of the fixture review (``review``): workflow, results
    and Snakemake's records, so that nothing is left to do."""
    work = copy_review(root, dest)
    shutil.copytree(review / "results", work / "results")
    shutil.copytree(review / ".snakemake", work / ".snakemake", symlinks=True)
    return work


def snakemake_command(*args: str, python: str | os.PathLike | None = None) -> list[str]:
    """``python -m snakemake ARGS`` with the test interpreter unless ``python`` is given."""
    return [str(python or sys.executable), "-m", "snakemake", *args]


def run_snakemake(
    workdir: Path,
    *args: str,
    python: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir``; on failure raise with the end of its output."""
    proc = subprocess.run(
        snakemake_command(*args, python=python),
        cwd=workdir,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{tail}")
    return proc


def result_digests(workdir: Path, folder: str = "results") -> dict[str, str]:
    """SHA-256 of every file under ``workdir/folder``, keyed by its relative path."""
    base = workdir / folder
    return {
        path.relative_to(workdir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def differing(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    """Paths present in only one of two digest maps, or with different bytes."""
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the ``Job stats`` table that ``snakemake -n`` prints."""
    counts: dict[str, int] = {}
    lines = iter(dry_run_output.splitlines())
    for line in lines:
        if line.strip().startswith("job") and line.split()[-1] == "count":
            break
    else:
        return counts
    for line in lines:
        fields = line.split()
        if not fields or set(fields[0]) == {"-"}:
            continue
        if fields[0] == "total":
            break
        if len(fields) == 2 and fields[1].isdigit():
            counts[fields[0]] = int(fields[1])
    return counts


def jobs_run(output: str) -> dict[str, int]:
    """Rule -> number of jobs a run (or a dry run) names in its log: the jobs it ran,
    including those decided after a checkpoint, which a dry run cannot list."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def command_output(cmd: Sequence[str], **kwargs) -> str:
    """Run ``cmd`` and return its standard output (raises on a non-zero exit)."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs).stdout
