"""The config's sensitivity analyses (srma.sensitivity_analyses) against metafor.

Data: the test review's 12-week group (tests/fixtures/review, metafor's dat.normand1999)
changed as ``make_fixtures_sensitivity_analyses.R`` says: OrpingtonMild1991's specialist
arm gives baseline and follow-up means and SDs, so its SD of change is imputed with
the correlation; OrpingtonSevere1991 is a controlled cohort. Reference values:
``tests/fixtures/metafor/reference_sensitivity_analyses.json`` (rma(method = "REML")).
Tolerances as in test_pooling.py: relative 1e-6.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srma.config import load_config
from srma.errors import ConfigError
from srma.extraction import extract
from srma.extraction.harmonise import sd_change
from srma.group import pool_group
from srma.group_sensitivity import leave1out_table
from srma.sensitivity_analyses import (
    COLUMNS,
    correlations_of,
    exclude_rows,
    group_analyses,
)

FIXTURE = Path(__file__).parent / "fixtures" / "review"
REF = json.loads(
    (Path(__file__).parent / "fixtures/metafor/reference_sensitivity_analyses.json").read_text()
)
POOLING = {
    "measure": "MD",
    "method": "REML",
    "test": "z",
    "level": 95,
    "min_studies": 2,
    "reported_only": False,
}
ANALYSES = [
    {"name": "Randomised trials only", "exclude": {"design": ["controlled_cohort", "cohort"]}},
    {"name": "Reported values only", "reported_only": True},
    {"name": "Change-score SD correlation", "change_score_correlation": [0.2, 0.5, 0.8]},
    {"name": "Leave-one-out", "leave_one_out": True},
]
#: the YAML of OrpingtonMild1991's specialist arm: the change as reported, and instead
#: baseline and follow-up (a mean change of 27 again)
REPORTED = "    statistic: change_mean_sd\n    mean: 27\n    sd: 7\n"
BASELINE_FOLLOWUP = (
    "    statistic: baseline_followup\n    baseline_mean: 40\n    baseline_sd: 6\n"
    "    followup_mean: 67\n    followup_sd: 8\n"
)
#: sensitivity.analyses as the workflow test writes it into the review's config
CONFIG_SECTION = """
sensitivity:
  analyses:
    - name: "Randomised trials only"
      exclude:
        design: [controlled_cohort, cohort]
    - name: "Reported values only"
      reported_only: true
    - name: "Change-score SD correlation"
      change_score_correlation: [0.2, 0.5, 0.8]
    - name: "Leave-one-out"
      leave_one_out: true
"""


def write_changed_studies(folder: Path) -> None:
    """The test review's extraction files in ``folder``, changed as the module says
    (and the R script)."""
    for path in (FIXTURE / "resources/extraction").glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    mild = folder / "OrpingtonMild1991.yaml"
    text = mild.read_text()
    assert text.count(REPORTED) == 1
    mild.write_text(text.replace(REPORTED, BASELINE_FOLLOWUP))
    severe = folder / "OrpingtonSevere1991.yaml"
    text = severe.read_text()
    assert text.count("design: rct\n") == 1
    severe.write_text(text.replace("design: rct\n", "design: controlled_cohort\n"))


def close(actual, expected, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=1e-6, err_msg=what
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The changed studies extracted (rows, and rows per correlation), the main 12-week
    group pooled, and its analyses table."""
    folder = tmp_path_factory.mktemp("extraction")
    write_changed_studies(folder)
    config = load_config(FIXTURE / "config/config.yaml")
    settings = {k: config[k] for k in ("instruments", "timepoints", "extraction")}
    rows, per_r = [], []
    for path in sorted(folder.glob("*.yaml")):
        result = extract(path, settings, correlations_of(ANALYSES))
        rows.append(result.rows)
        per_r.append(result.per_correlation)
    extraction = pd.concat(rows, ignore_index=True)
    alternatives = pd.concat(per_r, ignore_index=True)
    main = pool_group(extraction, instrument="los", timepoint="12w", **POOLING)
    out = group_analyses(
        main,
        extraction,
        analyses=ANALYSES,
        instrument="los",
        timepoint="12w",
        pooling=POOLING,
        alternatives=alternatives,
        leave1out=leave1out_table(main, min_studies=3),
        correlation=0.5,
    )
    return {"extraction": extraction, "alternatives": alternatives, "main": main, "out": out}


def test_change_score_sd_by_hand():
    # SD_change = sqrt(SD_b^2 + SD_f^2 - 2 r SD_b SD_f), baseline SD 6, follow-up SD 8:
    # r = 0.2: sqrt(36 + 64 - 19.2) = sqrt(80.8); r = 0.5: sqrt(52); r = 0.8: sqrt(23.2)
    for r, var in ((0.2, 80.8), (0.5, 52.0), (0.8, 23.2)):
        assert sd_change(6, 8, r) == pytest.approx(math.sqrt(var), rel=1e-12)
        assert sd_change(6, 8, r) == pytest.approx(REF["sd_change"][f"r{r}"], rel=1e-12)


def test_rows_per_correlation_reimpute_only_the_imputed_sd(tables):
    alt = tables["alternatives"]
    assert sorted(alt["change_score_correlation"].unique()) == [0.2, 0.5, 0.8]
    for r, var in ((0.2, 80.8), (0.5, 52.0), (0.8, 23.2)):
        part = alt[alt["change_score_correlation"] == r]
        imputed = part[(part["study_id"] == "OrpingtonMild1991") & (part["arm"] == "intervention")]
        assert imputed["sd_change"].tolist() == pytest.approx([math.sqrt(var)], rel=1e-12)
        assert imputed["sd_flag"].tolist() == ["imputed"]
        assert f"correlation {r:g}" in imputed["method"].iat[0]
        # every other row as the main extraction
        other = part.drop(index=imputed.index).drop(columns="change_score_correlation")
        main = tables["extraction"]
        main = main.drop(
            index=main[
                (main["study_id"] == "OrpingtonMild1991") & (main["arm"] == "intervention")
            ].index
        )
        pd.testing.assert_frame_equal(other.reset_index(drop=True), main.reset_index(drop=True))


def test_main_group_equals_metafor(tables):
    pooled = tables["main"][tables["main"]["row_type"] == "pooled"].iloc[0]
    for c in ("estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2"):
        close(pooled[c], REF["main"][c], c)


def _row(out, analysis, variant=None):
    rows = out[out["analysis"] == analysis]
    if variant is not None:
        rows = rows[rows["variant"] == variant]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def _check(row, ref, main=REF["main"]):
    assert row["k"] == ref["k"]
    for c in ("estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2"):
        close(row[c], ref[c], c)
    close(row["estimate_main"], main["estimate"], "estimate_main")
    close(row["change"], ref["estimate"] - main["estimate"], "change")
    assert row["status"] == "estimated"
    assert pd.isna(row["reason"])


def test_exclude_design_equals_metafor(tables):
    row = _row(tables["out"], "Randomised trials only")
    assert row["variant"] == "without design = controlled_cohort, cohort"
    assert row["left_out"] == "OrpingtonSevere1991"
    _check(row, REF["randomised_only"])


def test_reported_only_equals_metafor(tables):
    row = _row(tables["out"], "Reported values only")
    assert row["left_out"] == "OrpingtonMild1991" and row["k_main"] == 4
    _check(row, REF["reported_only"])


def test_other_correlations_equal_metafor(tables):
    out = tables["out"]
    for r in ("0.2", "0.8"):
        row = _row(out, "Change-score SD correlation", f"r = {r}")
        assert row["changed"] == "OrpingtonMild1991" and pd.isna(row["left_out"])
        _check(row, REF[f"r{r}"])
    same = _row(out, "Change-score SD correlation", "r = 0.5")
    assert same["status"] == "same as main analysis"
    assert "main analysis's correlation" in same["reason"]
    close(same["estimate"], REF["main"]["estimate"])
    assert same["change"] == 0


def test_leave_one_out_rows_equal_metafor(tables):
    rows = tables["out"][tables["out"]["kind"] == "leave_one_out"]
    ref = REF["leave1out"]
    assert rows["left_out"].tolist() == ref["study"]
    assert rows["variant"].tolist() == [f"without {s}" for s in ref["study"]]
    for c in ("estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2"):
        close(rows[c], ref[c], c)
    close(rows["change"], np.asarray(ref["estimate"]) - REF["main"]["estimate"])
    assert (rows["k"] == 3).all() and (rows["status"] == "estimated").all()


def test_table_columns_and_order(tables):
    out = tables["out"]
    assert list(out.columns) == COLUMNS
    assert out["analysis"].tolist() == [
        "Randomised trials only",
        "Reported values only",
        *["Change-score SD correlation"] * 3,
        *["Leave-one-out"] * 4,
    ]
    assert str(out["k"].dtype) == "Int64" and str(out["status"].dtype) == "string"
    assert out["method"].unique().tolist() == ["REML"]


def test_too_few_studies_left_is_not_estimable(tables):
    # the 24-week group has one study (MontrealHome1992): nothing is pooled
    main = pool_group(tables["extraction"], instrument="los", timepoint="24w", **POOLING)
    out = group_analyses(
        main,
        tables["extraction"],
        analyses=ANALYSES[:3] + [{"name": "no such design", "exclude": {"design": "rct"}}],
        instrument="los",
        timepoint="24w",
        pooling=POOLING,
        alternatives=tables["alternatives"],
        correlation=0.5,
    )
    assert set(out["status"]) == {"not estimable"}
    assert out["estimate"].isna().all()
    assert (
        out["reason"].iat[0] == "1 usable study, fewer than 2: not pooled (as in the main analysis)"
    )
    assert out["reason"].iat[-1] == "no usable study left"
    assert out["left_out"].iat[-1] == "MontrealHome1992"


def test_an_analysis_that_changes_nothing_says_why(tables):
    out = group_analyses(
        tables["main"],
        tables["extraction"],
        analyses=[{"name": "no cohorts", "exclude": {"design": "cohort", "study_id": "X"}}],
        instrument="los",
        timepoint="12w",
        pooling=POOLING,
    )
    row = out.iloc[0]
    assert row["status"] == "same as main analysis"
    assert row["reason"] == "no usable study has design = cohort; study_id = X"
    close(row["estimate"], REF["main"]["estimate"])


def test_exclude_by_a_characteristic_and_by_year():
    rows = pd.DataFrame(
        {
            "study_id": ["A", "B", "C"],
            "year": pd.array([1990, 1991, None], dtype="Int64"),
            "characteristics": ['{"region": "Europe"}', '{"region": "Asia"}', None],
        }
    )
    assert exclude_rows(rows, {"region": "Asia"})["study_id"].tolist() == ["A", "C"]
    assert exclude_rows(rows, {"year": [1990]})["study_id"].tolist() == ["B", "C"]


def test_config_rejects_two_analyses_of_one_name(tmp_path):
    config = (FIXTURE / "config/config.yaml").read_text()
    twice = CONFIG_SECTION + '    - name: "Leave-one-out"\n      reported_only: true\n'
    (tmp_path / "config.yaml").write_text(config + twice)
    with pytest.raises(ConfigError, match=r"sensitivity\.analyses\.4\.name.*Leave-one-out"):
        load_config(tmp_path / "config.yaml")


def test_config_rejects_an_entry_of_two_kinds(tmp_path):
    config = (FIXTURE / "config/config.yaml").read_text()
    bad = "sensitivity:\n  analyses:\n    - name: x\n      reported_only: true\n"
    bad += "      leave_one_out: true\n"
    (tmp_path / "config.yaml").write_text(config + bad)
    with pytest.raises(ConfigError, match=r"sensitivity\.analyses\.0"):
        load_config(tmp_path / "config.yaml")


def test_results_page_section(tables, tmp_path):
    from srma.figures.results import results_page
    from srma.group import summary_table

    summary = summary_table([tables["main"]])
    labels = {"instrument_labels": {"los": "Length of stay"}, "timepoint_labels": {}}
    page, short = tmp_path / "page.html", tmp_path / "summary.html"
    results_page(
        summary,
        [tables["main"]],
        page,
        short,
        intervention="a",
        comparator="b",
        sensitivity=tables["out"],
        **labels,
    )
    text = page.read_text().replace("\u2212", "-")  # fmt_num writes a minus sign
    assert "<h2>Sensitivity analyses</h2>" in text
    assert "Randomised trials only (without design = controlled_cohort, cohort)" in text
    # the estimate of the randomised trials, its CI and its change from the main estimate
    ref = REF["randomised_only"]
    assert f"{ref['estimate']:.2f} [{ref['ci_lb']:.2f}, {ref['ci_ub']:.2f}]" in text
    assert f"{ref['estimate'] - REF['main']['estimate']:.2f}" in text
    assert "same as main analysis: r = 0.5 is the main analysis" in text


@pytest.mark.slow
def test_workflow_writes_the_collected_table(root_dir, tmp_path):
    """The fixture review with the changed studies and the config's analyses, run by
    Snakemake: results/tables/sensitivity_analyses.csv holds metafor's numbers, the
    results page its section."""
    from workflow_runs import copy_review, run_snakemake

    work = copy_review(root_dir, tmp_path)
    write_changed_studies(work / "resources/extraction")
    # a controlled cohort is appraised with ROBINS-I: without a file it is not assessed
    (work / "resources/risk_of_bias/OrpingtonSevere1991.yaml").unlink()
    config = work / "config/config.yaml"
    config.write_text(config.read_text() + CONFIG_SECTION)
    proc = run_snakemake(work, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = pd.read_csv(work / "results/tables/sensitivity_analyses.csv")
    assert list(table.columns) == [*COLUMNS, "srma_version", "config_hash"]
    assert table[["instrument", "timepoint"]].drop_duplicates().values.tolist() == [
        ["los", "12w"],
        ["los", "24w"],
    ]
    week12 = table[table["timepoint"] == "12w"].set_index(["analysis", "variant"], drop=False)
    for (analysis, variant), ref in (
        (
            ("Randomised trials only", "without design = controlled_cohort, cohort"),
            "randomised_only",
        ),
        (("Reported values only", None), "reported_only"),
        (("Change-score SD correlation", "r = 0.2"), "r0.2"),
        (("Change-score SD correlation", "r = 0.8"), "r0.8"),
    ):
        rows = week12[(week12["analysis"] == analysis)]
        rows = rows[rows["variant"].isna()] if variant is None else rows[rows["variant"] == variant]
        assert len(rows) == 1, (analysis, variant)
        _check(rows.iloc[0], REF[ref])
    loo = table[(table["timepoint"] == "12w") & (table["kind"] == "leave_one_out")]
    close(loo["estimate"], REF["leave1out"]["estimate"])
    week24 = table[table["timepoint"] == "24w"]
    assert set(week24["status"]) == {"not estimable"}
    assert week24["reason"].str.contains("fewer than 2|not pooled").all()
    page = (work / "results/report/results.html").read_text()
    assert "<h2>Sensitivity analyses</h2>" in page
