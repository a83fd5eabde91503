"""End to end: the workflow on a small fixture review, in a temporary directory.

The fixture (tests/fixtures/review) holds ten real search records (five MEDLINE, five
CENTRAL RIS, three of them duplicates across the files), seven screening decisions, and
five extraction files made from the first five centres of metafor's dat.normand1999
(length of stay, days). ``expected.json`` holds metafor's results for them, computed by
``expected.R``; the pooled numbers must match to 1e-6.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from workflow_runs import FIXTURE_REVIEW as FIXTURE
from workflow_runs import copy_finished_review, copy_review

from srma import __version__, io

EXPECTED = json.loads((FIXTURE / "expected.json").read_text())

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run lists, or a run ran."""
    jobs = []
    rule = None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if m:
            rule = m.group(1)
            jobs.append((rule, ""))
            continue
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and rule is not None:
            jobs[-1] = (rule, m.group(1))
    return sorted(jobs)


@pytest.fixture(scope="module")
def review(root_dir, tmp_path_factory):
    work = copy_review(root_dir, tmp_path_factory.mktemp("review"))
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


def test_every_output_written(review):
    for rel in [
        "results/records/pubmed.parquet",
        "results/records/central.parquet",
        "results/records/counts.csv",
        "results/dedup/clusters.parquet",
        "results/dedup/unique.parquet",
        "results/dedup/unique.ris",
        "results/dedup/uncertain.csv",
        "results/prisma/counts.json",
        "results/extraction/Edinburgh1990.parquet",
        "results/extraction/excluded.csv",
        "results/pooled/los/12w.parquet",
        "results/pooled/los/24w.parquet",
        "results/tables/pooled.csv",
        "results/tables/sensitivity.csv",
        "results/sensitivity/leave1out/los/12w.parquet",
        "results/sensitivity/regtest/los/12w.parquet",
        "results/sensitivity/trimfill/los/24w.parquet",
        "results/tables/correlations.csv",
        "results/figures/forest/los_12w.svg",
        "results/figures/forest/los_24w.svg",
        "results/figures/leave1out/los_12w.svg",
        "results/figures/prisma.svg",
        "results/figures/heatmap.svg",
        "results/provenance.json",
    ]:
        assert (review / rel).is_file(), rel
        assert (review / rel).stat().st_size > 0, rel


def test_records_and_dedup(review):
    counts = pd.read_csv(review / "results/records/counts.csv")
    assert dict(zip(counts["export"], counts["records"], strict=True)) == {
        "pubmed": 5,
        "central": 5,
    }
    clusters = io.read_parquet(review / "results/dedup/clusters.parquet")
    assert len(clusters) == 10 and clusters["record_id"].is_unique
    # the three CENTRAL records whose PMID is in the MEDLINE file are its duplicates
    by_cluster = clusters.groupby("cluster_id")["record_id"].apply(sorted).tolist()
    assert len(by_cluster) == 7
    pubmed = io.read_parquet(review / "results/records/pubmed.parquet")
    central = io.read_parquet(review / "results/records/central.parquet")
    pmid_of = dict(zip(pubmed["record_id"], pubmed["pmid"], strict=True))
    title_of = dict(zip(central["record_id"], central["title"], strict=True))
    pairs = [g for g in by_cluster if len(g) == 2]
    assert len(pairs) == 3
    assert sorted(pmid_of[g[1]] for g in pairs) == ["23644549", "26139307", "26269397"]
    assert all(title_of[g[0]] for g in pairs)
    assert (
        io.parquet_metadata(review / "results/dedup/clusters.parquet")["srma_version"]
        == __version__
    )


def test_prisma_counts_reconcile(review):
    counts = json.loads((review / "results/prisma/counts.json").read_text())
    assert counts["identified"]["total"] == 10
    assert counts["duplicates_removed"] == 3
    assert counts["screened"] == 7
    assert counts["excluded_title_abstract"] == 2
    assert counts["assessed"] == 5
    assert counts["included_studies"] == 5


def test_pooled_numbers_equal_metafor(review):
    exp = EXPECTED["los_12w"]
    table = io.read_parquet(review / "results/pooled/los/12w.parquet")
    studies = table[table["row_type"] == "study"].sort_values("study_id")
    # study order by id: Edinburgh, OrpingtonMild, OrpingtonModerate, OrpingtonSevere
    assert studies["yi"].tolist() == pytest.approx(exp["yi"], rel=1e-9)
    assert studies["vi"].tolist() == pytest.approx(exp["vi"], rel=1e-9)
    assert studies["weight"].tolist() == pytest.approx(exp["weights"], rel=1e-6)
    pooled = table[table["row_type"] == "pooled"].iloc[0]
    for key in ["estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "QE", "pi_lb", "pi_ub"]:
        assert pooled[key] == pytest.approx(exp[key], rel=1e-6), key
    assert pooled["pval"] == pytest.approx(exp["pval"], abs=1e-8)
    assert pooled["k"] == 4


def test_leave1out_table_equals_metafor(review):
    """results/sensitivity/leave1out/los/12w.parquet: metafor's leave1out(res) of the
    four 12-week centres (expected.R), one row per study left out; sensitivity.csv
    carries the range of those estimates; the 24-week group (one study) says why it
    has none."""
    exp = EXPECTED["los_12w"]["leave1out"]
    loo = io.read_parquet(review / "results/sensitivity/leave1out/los/12w.parquet")
    assert list(loo["study_id"]) == [
        "Edinburgh1990", "OrpingtonMild1991", "OrpingtonModerate1991", "OrpingtonSevere1991",
    ]  # fmt: skip
    for col in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "I2"):
        assert loo[col].tolist() == pytest.approx(exp[col], rel=1e-6), col
    table = pd.read_csv(review / "results/tables/sensitivity.csv").set_index("timepoint")
    assert table.loc["12w", "leave1out_refits"] == 4
    assert table.loc["12w", "leave1out_min"] == pytest.approx(min(exp["estimate"]), rel=1e-9)
    assert table.loc["12w", "leave1out_max"] == pytest.approx(max(exp["estimate"]), rel=1e-9)
    assert table.loc["12w", "egger_status"] == "not tested"
    assert table.loc["24w", "leave1out_status"] == "not estimated"
    assert "1 usable study" in table.loc["24w", "leave1out_reason"]


def test_single_study_group_reported_not_pooled(review):
    table = io.read_parquet(review / "results/pooled/los/24w.parquet")
    assert (table["row_type"] == "pooled").sum() == 0
    study = table[table["row_type"] == "study"].iloc[0]
    assert study["study_id"] == "MontrealHome1992"
    assert study["yi"] == pytest.approx(EXPECTED["los_24w"]["yi"])
    assert study["vi"] == pytest.approx(EXPECTED["los_24w"]["vi"], rel=1e-9)
    summary = pd.read_csv(review / "results/tables/pooled.csv")
    assert summary["timepoint"].tolist() == ["12w", "24w"]
    assert summary["k"].tolist() == [4, 1]
    assert summary["status"].tolist() == ["pooled", "single study"]
    assert summary["estimate"].iloc[0] == pytest.approx(EXPECTED["los_12w"]["estimate"], rel=1e-6)


def test_correlations_pooled_equal_metafor(review):
    exp = EXPECTED["crp_los"]
    table = pd.read_csv(review / "results/tables/correlations.csv")
    assert len(table) == 3
    pooled = pd.read_csv(review / "results/tables/correlations_pooled.csv")
    row = pooled[pooled["clinical_measure"] == "crp"].iloc[0]
    assert row["k"] == 3
    assert row["r"] == pytest.approx(exp["r"], rel=1e-6)
    assert row["ci_lb"] == pytest.approx(exp["ci_lb"], rel=1e-5)
    assert row["ci_ub"] == pytest.approx(exp["ci_ub"], rel=1e-5)


def test_forest_plot_shows_studies_and_pooled_value(review):
    svg = (review / "results/figures/forest/los_12w.svg").read_text()
    for label in ["Edinburgh 1990", "OrpingtonSevere 1991", "35.88", "REML"]:
        assert label in svg, label


def test_provenance_maps_pooled_numbers_to_files_and_records(review):
    prov = json.loads((review / "results/provenance.json").read_text())
    group = next(g for g in prov["pooled"] if g["timepoint"] == "12w")
    assert group["numbers"]["estimate"] == pytest.approx(EXPECTED["los_12w"]["estimate"])
    used = sorted(s["study_id"] for s in group["studies"])
    assert used == [
        "Edinburgh1990",
        "OrpingtonMild1991",
        "OrpingtonModerate1991",
        "OrpingtonSevere1991",
    ]
    # Edinburgh1990 is the study of the EMBARK record, found in both exports
    assert sorted(prov["studies"]["Edinburgh1990"]["records"]) == [
        "central:000005",
        "pubmed:000001",
    ]
    assert prov["studies"]["Edinburgh1990"]["extraction_file"]["path"].endswith(
        "Edinburgh1990.yaml"
    )


def test_appraisal_outputs_hold_the_files_judgements_and_grade(review):
    """Risk of bias, its figures, the high-risk sensitivity analysis and the summary of
    findings of the fixture review: five RoB 2 files, every domain 'no information'."""
    import docx
    import yaml

    rob = pd.read_csv(review / "results/tables/risk_of_bias.csv", keep_default_na=False)
    studies = sorted(p.stem for p in (FIXTURE / "resources/extraction").glob("*.yaml"))
    assert sorted(set(rob["study_id"])) == studies
    assert set(rob["tool"]) == {"rob2"}
    assert len(rob) == 5 * 6  # D1-D5 and overall, study level only
    for sid in studies:
        data = yaml.safe_load((FIXTURE / f"resources/risk_of_bias/{sid}.yaml").read_text())
        rows = rob[(rob["study_id"] == sid) & (rob["domain"] != "overall")]
        assert dict(zip(rows["domain"], rows["judgement"], strict=True)) == {
            d: j["judgement"] for d, j in data["judgements"].items()
        }
    overall = rob[rob["domain"] == "overall"]
    assert set(overall["judgement"]) == {"no information"}
    assert set(overall["origin"]) == {"algorithm"}

    for name in ("traffic_light", "summary", "traffic_light_robins_i", "summary_robins_i"):
        for ext in ("svg", "png"):
            assert (review / f"results/figures/rob/{name}.{ext}").stat().st_size > 0
    svg = (review / "results/figures/rob/traffic_light.svg").read_text()
    assert "OrpingtonSevere 1991" in svg
    forest = (review / "results/figures/forest/los_12w.svg").read_text()
    assert "Risk of bias" in forest and "no information" in forest

    high = pd.read_csv(review / "results/tables/sensitivity_high_risk.csv")
    row = high[high["timepoint"] == "12w"].iloc[0]
    assert row["status"] == "same as main analysis"  # no study at high risk
    assert row["k"] == 4
    assert row["estimate"] == pytest.approx(EXPECTED["los_12w"]["estimate"], rel=1e-6)

    sof = pd.read_csv(review / "results/tables/summary_of_findings.csv")
    assert list(sof["timepoint"]) == ["12w", "24w"]  # the config's order
    row = sof[sof["timepoint"] == "12w"].iloc[0]
    used = ["Edinburgh1990", "OrpingtonMild1991", "OrpingtonModerate1991", "OrpingtonSevere1991"]
    files = [FIXTURE / f"resources/extraction/{sid}.yaml" for sid in used]
    n = sum(arm["n"] for f in files for arm in yaml.safe_load(f.read_text())["arms"])
    assert row["studies"] == 4
    assert row["participants"] == n == 556
    assert row["estimate"] == pytest.approx(EXPECTED["los_12w"]["estimate"], rel=1e-6)
    # Every study 'no information' (no weight at low risk): risk of bias -1; I2 = 98%:
    # inconsistency -1; CI excludes 0 and 556 >= OIS 400: imprecision 0; indirectness
    # and publication bias (4 studies < 10) left to the reviewer: not judged.
    assert row["risk_of_bias"] == -1 and row["risk_of_bias_by"] == "srma"
    assert row["inconsistency"] == -1 and row["inconsistency_by"] == "srma"
    assert row["imprecision"] == 0 and row["imprecision_by"] == "srma"
    assert pd.isna(row["indirectness"]) and row["indirectness_by"] == "not judged"
    assert pd.isna(row["publication_bias"]) and row["publication_bias_by"] == "not judged"
    assert row["certainty"] == "low"
    assert "100% no information" in row["footnotes"]
    assert "98%" in row["footnotes"]

    document = docx.Document(str(review / "results/tables/summary_of_findings.docx"))
    cells = [c.text for r in document.tables[0].rows for c in r.cells]
    assert "Length of stay, 12 weeks" in cells
    assert any(c.endswith(" low") and c.startswith("\u2295") for c in cells)
    page = (review / "results/report/summary_of_findings.html").read_text()
    assert "Length of stay, 12 weeks" in page and "<table" in page


def test_rerun_has_nothing_to_do(review):
    proc = snakemake(review, "-n")
    assert proc.returncode == 0, proc.stderr
    assert planned_jobs(proc) == [], proc.stdout


def study_jobs(study: str, *jobs: tuple[str, str], assessed: bool = True) -> list[tuple[str, str]]:
    """The jobs a change to one study runs: its extraction job, its risk-of-bias job
    (``assessed``: the study has a risk-of-bias file; the job checks the file against
    the study table's design), the checkpoint that reads which groups every study
    reports, the review-wide tables read from the study tables, and ``jobs``."""
    review_wide = [
        "all",
        "correlations",
        "extraction_excluded",
        "heatmap",
        "provenance",
        "risk_of_bias_table",
        "rob_figures",
    ]
    return sorted(
        [
            ("extract_study", f"study={study}"),
            *([("assess_study", f"study={study}")] if assessed else []),
            ("study_groups", ""),
            *((rule, "") for rule in review_wide),
            *jobs,
        ]
    )


def test_editing_one_study_reruns_only_its_jobs(review, tmp_path, root_dir):
    work = copy_finished_review(review, root_dir, tmp_path)
    assert planned_jobs(snakemake(work, "-n")) == []
    path = work / "resources/extraction/OrpingtonMild1991.yaml"
    path.write_text(path.read_text().replace("mean: 27", "mean: 26"))
    # A dry run lists the jobs up to the checkpoint and those that do not depend on it;
    # the run decides the rest (provenance reads every group) once it has run.
    planned = planned_jobs(snakemake(work, "-n"))
    assert planned == [j for j in study_jobs("OrpingtonMild1991") if j[0] != "provenance"]
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    group = "instrument=los, timepoint=12w"
    assert planned_jobs(proc) == study_jobs(
        "OrpingtonMild1991",
        ("forest", group),
        ("high_risk_sensitivity", group),
        ("high_risk_table", ""),
        ("leave1out", group),
        ("pool_group", group),
        ("pooled_table", ""),
        ("results_page", ""),
        ("sensitivity_group", group),
        ("sensitivity_table", ""),
        ("summary_of_findings", ""),
    ), proc.stderr[-3000:]
    assert planned_jobs(snakemake(work, "-n")) == []


def test_adding_a_study_reruns_only_its_jobs(review, tmp_path, root_dir):
    work = copy_finished_review(review, root_dir, tmp_path)
    src = (work / "resources/extraction/MontrealHome1992.yaml").read_text()
    new = src.replace("MontrealHome1992", "MontrealTransfer1992")
    (work / "resources/extraction/MontrealTransfer1992.yaml").write_text(new)
    # A study file needs an included report naming it: this one was found outside the
    # searches (PRISMA's other methods), so the screening job and the diagram rerun too.
    decisions = work / "resources/screening/decisions.csv"
    with decisions.open("a", encoding="utf-8") as fh:
        fh.write("other:Transfer letter,include,,include,,MontrealTransfer1992\n")
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads((work / "results/prisma/counts.json").read_text())
    assert counts["other_methods"]["included_reports"] == 1
    assert counts["included_studies"] == 6
    group = "instrument=los, timepoint=24w"
    assert planned_jobs(proc) == study_jobs(
        "MontrealTransfer1992",
        ("prisma_diagram", ""),
        ("screening", ""),
        ("forest", group),
        ("high_risk_sensitivity", group),
        ("high_risk_table", ""),
        ("pool_group", group),
        ("pooled_table", ""),
        ("results_page", ""),
        ("sensitivity_group", group),
        ("sensitivity_table", ""),
        ("summary_of_findings", ""),
        assessed=False,
    ), proc.stderr[-3000:]
    pooled = io.read_parquet(work / "results/pooled/los/24w.parquet")
    assert "MontrealTransfer1992" in set(pooled["study_id"])
    # The new study has no risk-of-bias file yet: a warning, not an error; it is 'not
    # assessed', and GRADE leaves the group's risk of bias to the reviewer.
    assert "1 of 6 studies have no risk-of-bias file" in proc.stderr
    rob = pd.read_csv(work / "results/tables/risk_of_bias.csv")
    new = rob[rob["study_id"] == "MontrealTransfer1992"]
    assert list(new["judgement"]) == ["not assessed"]
    # It repeats MontrealHome1992's trial, so it is not usable: the group's rating rests
    # on the assessed study; its forest plot row gets 'no information' marks.
    sof = pd.read_csv(work / "results/tables/summary_of_findings.csv")
    row = sof[sof["timepoint"] == "24w"].iloc[0]
    assert row["study_ids"] == "MontrealHome1992"
    assert row["risk_of_bias_by"] == "srma"
    assert "MontrealTransfer 1992" in (work / "results/figures/forest/los_24w.svg").read_text()


def test_a_deleted_study_table_is_written_again(review, tmp_path, root_dir):
    """Deleting a study's table reruns its extraction job and what reads the table;
    the table comes back with the same bytes."""
    work = copy_finished_review(review, root_dir, tmp_path)
    table = work / "results/extraction/OrpingtonMild1991.parquet"
    before = table.read_bytes()
    table.unlink()
    planned = planned_jobs(snakemake(work, "-n"))
    assert planned == [j for j in study_jobs("OrpingtonMild1991") if j[0] != "provenance"]
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The table comes back byte-identical: jobs decided after the checkpoint see the
    # checksum Snakemake recorded and need not run.
    ran = planned_jobs(proc)
    assert ("extract_study", "study=OrpingtonMild1991") in ran, proc.stderr[-3000:]
    # The summary of findings reads risk_of_bias.csv, and the group's forest plot and
    # high-risk analysis read the study's risk-of-bias table; both are written again (the
    # same bytes, as the study's assess_study job reruns on its new extraction table):
    # those jobs run or not depending on whether the writing job has finished when the
    # checkpoint hands on its groups, and with them the results page and the high-risk
    # table.
    group = "instrument=los, timepoint=12w"
    allowed = study_jobs(
        "OrpingtonMild1991",
        ("results_page", ""),
        ("summary_of_findings", ""),
        ("forest", group),
        ("high_risk_sensitivity", group),
        ("high_risk_table", ""),
    )
    assert set(ran) <= set(allowed), ran
    assert table.read_bytes() == before
    assert planned_jobs(snakemake(work, "-n")) == []


def test_one_study_extracted_by_name(review, tmp_path, root_dir):
    """`snakemake results/extraction/<study>.parquet` checks one new file alone: its
    extraction job, nothing else; an unknown study has no rule to make it."""
    work = copy_finished_review(review, root_dir, tmp_path)
    target = "results/extraction/OrpingtonMild1991.parquet"
    before = (work / target).read_bytes()
    assert planned_jobs(snakemake(work, "-n", target)) == []
    forced = planned_jobs(snakemake(work, "-n", "-f", target))
    assert forced == [("extract_study", "study=OrpingtonMild1991")], forced
    proc = snakemake(work, "-f", target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / target).read_bytes() == before
    proc = snakemake(work, "-n", "results/extraction/Nobody2000.parquet")
    assert proc.returncode != 0
    assert "Nobody2000" in proc.stderr + proc.stdout


def test_a_bad_study_file_stops_before_pooling(review, tmp_path, root_dir):
    """A study file that fails validation fails its own extraction job; no pooling job,
    table or figure downstream of it runs, and the pooled results stay as they were."""
    work = copy_finished_review(review, root_dir, tmp_path)
    pooled = work / "results/tables/pooled.csv"
    before = {p: p.read_bytes() for p in (work / "results").rglob("*") if p.is_file()}
    path = work / "resources/extraction/OrpingtonMild1991.yaml"
    path.write_text(path.read_text().replace("mean: 27", "mean: twenty-seven"))
    proc = snakemake(work)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "OrpingtonMild1991.yaml" in out and "mean" in out, out[-3000:]
    ran = {rule for rule, _ in planned_jobs(proc)}
    assert not ran & {"study_groups", "pool_group", "pooled_table", "forest", "provenance"}, ran
    assert pooled.read_bytes() == before[pooled]
    for p in (work / "results").rglob("*"):
        if p.is_file() and "extraction" not in p.parts:
            assert p.read_bytes() == before.get(p), p


@pytest.mark.browser
def test_report_of_the_review_in_chromium(review, tmp_path, chromium):
    """``snakemake --report`` on the real workflow: every figure and table is embedded,
    the report runs in headless Chromium, its first page leads with the results (groups
    by the config's labels), the methods text follows the config, and the forest plot
    opens with its caption."""
    from test_report_browser import (
        decode_data_uri,
        dump_dom,
        embedded_results,
        show_result,
        visible_text,
    )

    proc = snakemake(review, "--report", "results/report.html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = review / "results/report.html"
    results = embedded_results(report)
    names = {Path(p).name for p in results}
    for name in [
        "los_12w.svg",
        "los_24w.svg",
        "prisma.svg",
        "heatmap.svg",
        "pooled.csv",
        "correlations.csv",
        "excluded.csv",
        "counts.csv",
        "results.html",
    ]:
        assert name in names, name
    # Figures are listed by the config's labels, numbered as on the results page, with
    # the group's result; the results page is an HTML page the report shows.
    labels = {p: e["labels"] for p, e in results.items() if e.get("labels")}
    assert labels["results/figures/forest/los_12w.svg"] == {
        "outcome, time point": "1. Length of stay, 12 weeks: pooled, 4 studies"
    }
    assert labels["results/figures/forest/los_24w.svg"] == {
        "outcome, time point": "2. Length of stay, 24 weeks: single study: not pooled"
    }
    page = results["results/report/results.html"]
    assert page["mime_type"] == "text/html"
    html = decode_data_uri(page["data_uri"])
    assert "Length of stay, 12 weeks" in html and "los" not in re.findall(r"\w+", html)
    # The first page: the results first, then the question and the methods of the config.
    text = visible_text(dump_dom(chromium, report, tmp_path))
    first = text.index("Results. 2 outcome \u00d7 time point groups: 1 pooled")
    assert first < text.index("Question.") < text.index("Statistical model.")
    assert "Length of stay, 12 weeks 4 \u221235.88" in text
    assert (
        "Change in length of hospital stay (days) with specialist care compared with "
        "routine care in adults admitted with stroke." in text
    )
    assert "mean difference (MD) of the change from baseline in days" in text
    assert "negative values favour specialist care" in text
    assert "restricted maximum likelihood (REML)" in text and "Wald-type z tests" in text
    assert (
        "funnel plots, Egger's regression test, Begg's rank correlation test and "
        "trim-and-fill for groups of at least" in text
    )
    dom = show_result(chromium, report, tmp_path, "forest/los_12w.svg")
    assert "<title>srma-check:found</title>" in dom
    text = visible_text(dom)
    assert "REML" in text and "negative" in text
    assert "Forest plot of Length of stay at 12 weeks" in text
