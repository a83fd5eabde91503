"""One job per risk-of-bias file (rule ``assess_study``), end to end on the fixture
review (tests/fixtures/review: five studies, each with a RoB 2 file; group los/12w
holds Edinburgh1990 and the three Orpington centres, group los/24w MontrealHome1992).

The job is the only reader of its file: a bad file fails that job alone, with one
message, before the risk-of-bias table, the forest plots, the high-risk sensitivity
analyses or the summary of findings run; an edited file reruns its job, the table and
the forest and high-risk jobs of its study's groups only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from workflow_runs import (
    copy_finished_review,
    copy_review,
    differing,
    jobs_run,
    result_digests,
    snakemake_command,
)

from srma import io, stages
from srma.errors import InputError
from srma.stages import read_rob_table

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "review"
ROB = "resources/risk_of_bias/OrpingtonMild1991.yaml"
TABLE = "results/appraisal/rob/OrpingtonMild1991.parquet"


def snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command("--cores", "2", *args),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def finished(root_dir, tmp_path_factory) -> Path:
    work = copy_review(root_dir, tmp_path_factory.mktemp("finished"))
    proc = snakemake(work)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return work


@pytest.mark.slow
def test_each_file_has_its_table_with_the_files_rows_and_hash(finished):
    """The per-study tables are the rows of risk_of_bias.csv, study by study, and name
    the file they were read from and its SHA-256."""
    table = read_rob_table(finished / "results/tables/risk_of_bias.csv")
    files = sorted((finished / "resources/risk_of_bias").glob("*.yaml"))
    assert [p.stem for p in files] == sorted(table["study_id"].unique())
    for path in files:
        parquet = finished / "results/appraisal/rob" / f"{path.stem}.parquet"
        rows = io.read_parquet(parquet)
        want = table[table["study_id"] == path.stem].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, want)
        # RoB 2 at study level: D1-D5 and the overall judgement.
        assert list(rows["domain"]) == ["D1", "D2", "D3", "D4", "D5", "overall"]
        meta = io.parquet_metadata(parquet)
        assert meta["srma_rob_file"] == f"resources/risk_of_bias/{path.name}"
        assert meta["srma_rob_sha256"] == io.sha256_file(path)


@pytest.mark.slow
def test_a_bad_rob_file_fails_only_its_own_job(finished, root_dir, tmp_path):
    work = copy_finished_review(finished, root_dir, tmp_path)
    before = result_digests(work)
    path = work / ROB
    text = path.read_text(encoding="utf-8")
    # D2 (line 14) is given a judgement RoB 2 does not have.
    lines = text.splitlines(keepends=True)
    assert lines[13] == "    judgement: no information\n"
    lines[13] = "    judgement: unclear\n"
    path.write_text("".join(lines), encoding="utf-8")
    proc = snakemake(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    message = (
        "OrpingtonMild1991.yaml, line 14, record OrpingtonMild1991, field "
        "'D2.judgement': 'unclear' is not allowed"
    )
    assert out.count(message) == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert jobs_run(out) == {"assess_study": 1}, out[-3000:]
    # Nothing under results/ is new or changed; the failed job's own output is gone.
    after = result_digests(work)
    assert [p for p in after if after[p] != before.get(p)] == []
    assert sorted(set(before) - set(after)) == [TABLE]


@pytest.mark.slow
def test_editing_one_rob_file_reruns_its_groups_jobs_only(finished, root_dir, tmp_path):
    work = copy_finished_review(finished, root_dir, tmp_path)
    path = work / ROB
    text = path.read_text(encoding="utf-8")
    new = text.replace("one n per group.", "one n per group (edited).")
    assert new != text
    path.write_text(new, encoding="utf-8")
    before = result_digests(work)
    proc = snakemake(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    ran = jobs_run(out)
    # Its own job, the review-wide table and what reads it (the RoB figures, the
    # summary of findings and the results page showing its text), and the forest and
    # high-risk jobs of los/12w, the study's only group, with the table of every
    # group's high-risk analysis; los/24w's jobs are not run.
    assert ran == {
        "all": 1,
        "assess_study": 1,
        "risk_of_bias_table": 1,
        "rob_figures": 1,
        "forest": 1,
        "high_risk_sensitivity": 1,
        "high_risk_table": 1,
        "summary_of_findings": 1,
        "results_page": 1,
    }, out[-3000:]
    assert "wildcards: instrument=los, timepoint=12w" in out
    assert "timepoint=24w" not in out
    changed = differing(before, result_digests(work))
    assert TABLE in changed and "results/tables/risk_of_bias.csv" in changed
    assert "results/figures/forest/los_24w.svg" not in changed
    assert "one n per group (edited)." in (work / "results/tables/risk_of_bias.csv").read_text()
    assert snakemake(work, "-n").stdout.count("assess_study") == 0


@pytest.mark.slow
def test_a_file_rewritten_with_the_same_bytes_stops_at_its_job(finished, root_dir, tmp_path):
    work = copy_finished_review(finished, root_dir, tmp_path)
    before = result_digests(work)
    path = work / ROB
    path.write_bytes(path.read_bytes())  # a newer modification time, the same bytes
    proc = snakemake(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert set(jobs_run(out)) <= {"assess_study", "all"}, out[-3000:]
    assert differing(before, result_digests(work)) == []


def _study_table(folder: Path, study: str, design: str) -> str:
    """A study table as extract_study writes it, reduced to what the risk-of-bias
    jobs read of it: the file name (the study id) and the ``design`` column."""
    path = folder / f"{study}.parquet"
    io.write_parquet(pd.DataFrame({"study_id": [study], "design": [design]}), path)
    return str(path)


SETTINGS = {"instruments": ["los"], "timepoints": ["12w", "24w"]}


def test_assess_study_checks_the_tool_against_the_studys_design(tmp_path):
    rob = FIXTURE / "resources/risk_of_bias/Edinburgh1990.yaml"
    study = _study_table(tmp_path, "Edinburgh1990", "controlled_cohort")
    with pytest.raises(InputError, match="design is 'controlled_cohort'.*takes tool 'robins_i'"):
        stages.assess_study(
            rob_file=str(rob), study_table=study, table=str(tmp_path / "rob.parquet"),
            settings=SETTINGS, config_hash="h",
        )  # fmt: skip
    assert not (tmp_path / "rob.parquet").exists()


def test_the_table_is_the_files_rows_and_refuses_a_file_of_no_study(tmp_path):
    rob = FIXTURE / "resources/risk_of_bias/Edinburgh1990.yaml"
    study = _study_table(tmp_path, "Edinburgh1990", "rct")
    other = _study_table(tmp_path, "Other2000", "rct")
    judgements = str(tmp_path / "Edinburgh1990_rob.parquet")
    stages.assess_study(
        rob_file=str(rob), study_table=study, table=judgements, settings=SETTINGS,
        config_hash="h",
    )  # fmt: skip
    args = {
        "judgements": [judgements],
        "studies": [study, other],
        "table": str(tmp_path / "risk_of_bias.csv"),
        "paragraph": str(tmp_path / "risk_of_bias.html"),
        "directory": "resources/risk_of_bias",
        "config_hash": "h",
    }
    stages.risk_of_bias_table(**args)
    table = read_rob_table(args["table"])
    # Edinburgh1990: RoB 2, five domains and the overall judgement; Other2000 has no
    # file: one 'not assessed' row.
    assert list(table["study_id"]) == ["Edinburgh1990"] * 6 + ["Other2000"]
    assert list(table["domain"]) == ["D1", "D2", "D3", "D4", "D5", "overall", "overall"]
    assert table["judgement"].iat[-1] == "not assessed"
    assert set(table["file"].dropna()) == {rob.as_posix()}
    stray = "resources/risk_of_bias/Nobody2000.yaml"
    with pytest.raises(InputError, match="Nobody2000, which no extraction file has"):
        stages.risk_of_bias_table(**args, unmatched=[stray])
