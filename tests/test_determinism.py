"""Same inputs, same bytes: the bundled review run end to end in scratch copies.

- two runs, one with ``--cores 1`` and one with ``--cores 4``, write byte-identical
  results (Parquet without varying timestamps, figures with fixed metadata, JSON with
  sorted keys);
- a run killed with SIGKILL half-way and then rerun with ``--rerun-incomplete`` ends
  with the same bytes as an uninterrupted run;
- Snakemake does not see edits to the imported srma package by itself: the rules carry
  a hash of the srma source each stage uses in ``params``, so editing one module reruns
  exactly the jobs that use it, and a new srma version reruns everything.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workflow_runs import (
    copy_workflow,
    differing,
    jobs_run,
    planned_jobs,
    result_digests,
    run_snakemake,
    snakemake_command,
)

from srma import io

pytestmark = pytest.mark.slow


_RUNS: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def one_core(tmp_path_factory) -> Path:
    """A complete run of the bundled review with one core (the reference)."""
    work = copy_workflow(tmp_path_factory.mktemp("cores1"))
    proc = run_snakemake(work, "--cores", "1")
    _RUNS["full"] = jobs_run(proc.stdout + proc.stderr)
    return work


@pytest.fixture(scope="module")
def full_plan(one_core) -> dict[str, int]:
    """Rule -> job count of the complete run."""
    return _RUNS["full"]


def test_cores_1_and_cores_4_give_identical_bytes(one_core, tmp_path):
    work = copy_workflow(tmp_path / "cores4")
    run_snakemake(work, "--cores", "4")
    reference, other = result_digests(one_core), result_digests(work)
    # Every kind of output is compared, not only tables.
    suffixes = {Path(p).suffix for p in reference}
    assert {".parquet", ".csv", ".json", ".svg", ".png"} <= suffixes, suffixes
    assert differing(reference, other) == []


def test_rerun_is_a_no_op(one_core):
    proc = run_snakemake(one_core, "--cores", "1", "--dry-run")
    assert planned_jobs(proc.stdout) == {}, proc.stdout[-3000:]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended ({proc.returncode}) before the kill point")
        if time.monotonic() > deadline:
            raise AssertionError("kill point not reached in time")
        time.sleep(0.02)


def test_sigkill_mid_run_then_rerun_incomplete_gives_identical_bytes(one_core, tmp_path):
    work = copy_workflow(tmp_path / "killed")
    studies = len(list((work / "resources" / "extraction").glob("*.yaml")))
    extracted = work / "results" / "extraction"
    final = work / "results" / "tables" / "pooled.csv"
    proc = subprocess.Popen(
        snakemake_command("--cores", "2"),
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Kill while the per-study extraction jobs are under way: some done, not all.
        _wait_for(lambda: len(list(extracted.glob("*.parquet"))) >= 3, proc)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(list(extracted.glob("*.parquet")))
    assert 3 <= done < studies, f"killed after {done} of {studies} studies"
    assert not final.exists(), "the run finished before it was killed"
    # No half-written file is left where an output belongs (written via temp + rename);
    # a temporary file of the write that was cut off may remain beside it.
    for table in extracted.glob("*.parquet"):
        io.read_parquet(table)

    # A killed Snakemake leaves its lock behind: --unlock (nothing else) removes it, as a
    # user would after a crash, then the rerun redoes the jobs marked incomplete.
    run_snakemake(work, "--unlock")
    run_snakemake(work, "--cores", "2", "--rerun-incomplete")
    assert differing(result_digests(one_core), result_digests(work)) == []
    # the rerun of a cut-off job removes the temporary file it left
    assert not [p for p in (work / "results").rglob(".*") if p.is_file()]


def _edit(path: Path) -> None:
    """A change to a module's source that does not change what it does."""
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")


def _planned_after(one_core: Path, tmp_path: Path, edit) -> dict[str, int]:
    work = tmp_path / "edited"
    # copy2 keeps modification times, so the copy is as up to date as the original.
    shutil.copytree(one_core, work, symlinks=True)
    edit(work / "workflow" / "srma")
    proc = run_snakemake(work, "--cores", "2")
    return jobs_run(proc.stdout + proc.stderr)


def test_editing_pooling_code_reruns_the_pooling_jobs_only(one_core, full_plan, tmp_path):
    reference = full_plan
    planned = _planned_after(one_core, tmp_path, lambda srma: _edit(srma / "pooling.py"))
    # The rules whose params carry the pooling code hash, and what reads their outputs.
    assert planned["pool_group"] == reference["pool_group"]
    assert planned.get("pooled_table") == 1
    assert planned.get("forest") == reference["forest"]
    assert planned.get("sensitivity_group") == reference["sensitivity_group"]
    for rule in ("extract_study", "study_groups"):
        assert rule not in planned, planned
    for rule in ("import_export", "deduplicate", "screening"):
        assert rule not in planned, planned


def test_editing_extraction_code_reruns_every_study(one_core, full_plan, tmp_path):
    planned = _planned_after(
        one_core, tmp_path, lambda srma: _edit(srma / "extraction" / "harmonise.py")
    )
    studies = [p.stem for p in (one_core / "resources" / "extraction").glob("*.yaml")]
    assert planned["extract_study"] == len(studies), planned
    # The edit changes no value: the rewritten study tables have the bytes Snakemake
    # recorded, so the pooling jobs reading them do not rerun.
    assert "pool_group" not in planned, planned
    for rule in ("import_export", "deduplicate", "screening"):
        assert rule not in planned, planned


def test_new_srma_version_reruns_every_job(one_core, full_plan, tmp_path):
    def bump(srma: Path) -> None:
        init = srma / "__init__.py"
        text = init.read_text(encoding="utf-8")
        new = re.sub(r'__version__ = "([^"]+)"', r'__version__ = "\1.post1"', text)
        assert new != text, "no __version__ line in srma/__init__.py"
        init.write_text(new, encoding="utf-8")

    assert _planned_after(one_core, tmp_path, bump) == full_plan


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
