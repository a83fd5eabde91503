"""Bad input through the whole workflow: every case of the corpus in
``tests/bad_inputs/cases.py`` (config, search exports, screening decisions, extraction
files, dedup decisions, risk-of-bias files x wrong type, non-finite, out of range,
inconsistent, missing or extra column or field, duplicated key or header, empty, not
UTF-8, hostile YAML, oversized) is applied
to a finished run of the fixture review, and Snakemake is run again with a 60 s limit.

Cases with ``stops=True`` must stop: non-zero exit, one message naming the file, the
line or record and the field, no Python traceback, no file under ``results/`` new or
changed (the failing job's own outputs, which Snakemake removes before it runs the
job, are the only files that may go). Cases with ``stops=False`` are accepted and their
effect is visible (``excluded.csv``, a warning in the output and the job's log, the
pooled table's reason).

Not refused: an SD of exactly 0 makes the arm unusable (it has no sampling variance);
``excluded.csv``, the pooled table and the forest plot give the reason (case
``accept_sd_zero``).

The last test kills a run with SIGKILL and recovers with the commands of the README's
"After a crash" section, exactly as written there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from bad_inputs.cases import CASES, CATEGORIES, unchanged
from workflow_runs import (
    copy_finished_review,
    copy_review,
    differing,
    result_digests,
    snakemake_command,
)

pytestmark = pytest.mark.slow

#: Every must-stop input ends within this many seconds (no input hangs).
TIMEOUT = 60


def snakemake(work: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command("--cores", "2", *args),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def finished(root_dir, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One clean run of the fixture review, and the digests of its results."""
    work = copy_review(root_dir, tmp_path_factory.mktemp("finished"))
    proc = snakemake(work, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return work, result_digests(work)


def test_corpus_covers_every_kind_of_mistake():
    kinds = {(category, kind) for category, kind, stops in CATEGORIES if stops}
    for category in ("config", "extraction", "screening", "search export"):
        assert {k for c, k in kinds if c == category} >= {"wrong type", "empty"}, category
    assert {k for c, k in kinds if c == "dedup decisions"} >= {
        "wrong type", "inconsistent with another file", "duplicated key", "duplicated header",
        "missing column", "extra column", "not UTF-8",
    }  # fmt: skip
    for category in ("config", "extraction", "screening"):
        assert any(c == category and k == "not UTF-8" for c, k in kinds)
        assert any(c == category and k == "duplicated key" for c, k in kinds)
    for kind in ("non-finite", "out of range", "hostile YAML", "oversized"):
        assert ("config", kind) in kinds and ("extraction", kind) in kinds, kind
    assert ("extraction", "inconsistent with another file") in kinds
    assert ("screening", "inconsistent with another file") in kinds
    assert ("screening", "missing column") in kinds and ("screening", "duplicated header") in kinds
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, finished, root_dir, tmp_path):
    review, before = finished
    work = copy_finished_review(review, root_dir, tmp_path)
    case.apply(work)
    start = time.monotonic()
    proc = snakemake(work)  # a hang fails here (TimeoutExpired)
    elapsed = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    after = result_digests(work)
    if not case.stops:
        assert proc.returncode == 0, out[-3000:]
        case.check(work, out)
        if case.check is unchanged:
            assert differing(before, after) == []
        return
    assert proc.returncode != 0, out[-3000:]
    assert elapsed < TIMEOUT
    for text in case.expect:
        assert text in out, f"{text!r} not in:\n{out[-3000:]}"
    assert out.count(case.expect[0]) == 1, out[-3000:]
    assert sorted(set(after) - set(before)) == [], "new files under results/"
    assert [p for p in after if after[p] != before[p]] == [], "changed files under results/"
    assert sorted(set(before) - set(after)) == sorted(case.removed)


def readme_recovery(root: Path) -> list[list[str]]:
    """The commands of the README's "After a crash" section, comments dropped."""
    text = (root / "README.md").read_text(encoding="utf-8")
    section = text.split("### After a crash", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [cmd for line in block.splitlines() if (cmd := line.split("#", 1)[0].split())]


def test_readme_recovery_after_sigkill(finished, root_dir, tmp_path):
    commands = readme_recovery(root_dir)
    assert commands == [
        [".venv/bin/snakemake", "--unlock"],
        [".venv/bin/snakemake", "--cores", "4", "--rerun-incomplete"],
    ]
    work = copy_review(root_dir, tmp_path)
    proc = subprocess.Popen(
        snakemake_command("--cores", "2"),
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not list((work / "results" / "records").glob("*.parquet")):
            assert proc.poll() is None, "the run ended before the kill"
            assert time.monotonic() < deadline, "no job finished in time"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (work / "results" / "provenance.json").exists(), "killed after the end"
    # Without the first step the next run stops on the stale lock.
    stale = snakemake(work, "--rerun-incomplete")
    assert stale.returncode != 0 and "cannot be locked" in stale.stdout + stale.stderr
    for command in commands:
        done = subprocess.run(
            snakemake_command(*command[1:]), cwd=work, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert differing(finished[1], result_digests(work)) == []
