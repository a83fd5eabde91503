"""End to end: a review with subgroup analyses and meta-regressions in its config.

A review folder made by ``srma init`` and filled as in ``test_own_review.py``
(metafor's dat.normand1999, 9 centres, one outcome x time point group), whose
extraction files also give each centre's country (``characteristics: {country: ...}``)
and a year (SYNTHETIC, made up for the test), is run with Snakemake. The written
tables must equal metafor (tests/fixtures/metafor/make_fixtures_workflow_subgroups.R:
``rma(yi, vi, subset = ...)`` per country and Q between them, ``rma(yi, vi, mods =
~ year)`` and ``~ year + country``); the analyses the data cannot support say "not
estimable" with the reason; the figures and the results page show them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_own_review import FIXTURE, fill, init, snakemake

from srma import io

pytestmark = pytest.mark.slow

REF = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "workflow_subgroups.json").read_text()
)
COUNTRY = dict(zip(REF["study_id"], REF["country"], strict=True))
YEAR = dict(zip(REF["study_id"], REF["year"], strict=True))
ANALYSES = {
    "subgroups": {
        "country": {"by": "country", "label": "Country"},
        "population": {"by": "population"},
    },
    "meta_regression": {
        "year": {"moderators": ["year"], "label": "Year"},
        "year_country": {"moderators": ["year", "country"]},
        "design": {"moderators": ["design"]},
    },
}


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    review = init(tmp_path_factory.mktemp("reviews") / "stroke-subgroups")
    shutil.copytree(FIXTURE / "resources", review / "resources", dirs_exist_ok=True)
    for path in sorted((review / "resources/extraction").glob("*.yaml")):
        study = yaml.safe_load(path.read_text(encoding="utf-8"))
        study["characteristics"] = {"country": COUNTRY[study["study_id"]]}
        study["reports"][0]["year"] = YEAR[study["study_id"]]
        path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    fill(review, screening={"decisions": "resources/screening/decisions.csv"}, analyses=ANALYSES)
    run = snakemake(review, "--cores", "2")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    report = snakemake(review, "--report", "results/report.html")
    assert report.returncode == 0, report.stdout[-3000:] + report.stderr[-3000:]
    return review


def test_subgroups_equal_metafor(review):
    ref = REF["z"]["subgroups"]
    table = io.read_parquet(review / "results/subgroups/country/los/discharge.parquet")
    sub = table[table["row_type"] == "subgroup"].set_index("subgroup")
    assert sorted(sub.index) == sorted(ref["subgroups"])
    for g, r in ref["subgroups"].items():
        assert sub.loc[g, "k"] == r["k"] and sub.loc[g, "status"] == "pooled"
        for col, key in (("estimate", "b"), ("se", "se"), ("ci_lb", "ci_lb"),
                         ("ci_ub", "ci_ub"), ("pval", "pval"), ("tau2", "tau2"),
                         ("I2", "I2")):  # fmt: skip
            assert sub.loc[g, col] == pytest.approx(r[key], rel=1e-6, abs=1e-9), (g, col)
    csv = pd.read_csv(review / "results/tables/subgroups.csv")
    test = csv[(csv["analysis"] == "country") & (csv["row_type"] == "test")].iloc[0]
    assert test["status"] == "tested" and test["Qb_df"] == ref["Qb_df"]
    assert test["Qb"] == pytest.approx(ref["Qb"], rel=1e-6)
    assert test["Qb_pval"] == pytest.approx(ref["Qb_pval"], rel=1e-6)
    # every centre has the same population: one subgroup, no test
    pop = csv[csv["analysis"] == "population"]
    assert list(pop["row_type"]) == ["subgroup", "test"]
    assert pop["k"].tolist() == [9, 9] and pop["status"].tolist() == ["pooled", "not estimable"]
    assert pop["reason"].iat[1].startswith("1 subgroup with at least 2 usable studies")


def test_meta_regression_equals_metafor(review):
    csv = pd.read_csv(review / "results/tables/meta_regression.csv")
    for name in ("year", "year_country"):
        ref = REF["z"]["regression"][name]
        rows = csv[csv["analysis"] == name]
        coef = rows[rows["row_type"] == "coefficient"]
        assert coef["term"].tolist() == ref["terms"]
        for col in ("b", "se", "zval", "pval", "ci_lb", "ci_ub"):
            np.testing.assert_allclose(coef[col], ref[col], rtol=1e-5, err_msg=f"{name} {col}")
        model = rows[rows["row_type"] == "model"].iloc[0]
        for col in ("QM", "QMp", "QE", "QEp", "tau2", "I2", "R2"):
            assert model[col] == pytest.approx(ref[col], rel=1e-5, abs=1e-8), (name, col)
        assert model["k"] == 9 and model["QMdf1"] == ref["QMdf"][0]
    design = csv[csv["analysis"] == "design"]
    assert design["row_type"].tolist() == ["model"]
    assert design["status"].iat[0] == "not estimable"
    assert design["reason"].iat[0] == "moderator design is constant (rct) in the 9 usable studies"


def _svg_text(path: Path) -> str:
    """The text of an SVG of srma's (text kept as text), entities decoded."""
    import html

    return html.unescape(" ".join(re.findall(r">([^<>]+)</text>", path.read_text())))


def test_figures_show_every_subgroup_and_the_test(review):
    text = _svg_text(review / "results/figures/subgroups/country/los_discharge.svg")
    for g in ("Canada", "Sweden", "UK"):
        assert f"Country: {g}" in text
    for k in (2, 2, 5):
        assert f"Subtotal (k = {k})" in text
    assert "Test for subgroup differences: Q = 3.16, df = 2, p = 0.206" in text
    note = _svg_text(review / "results/figures/subgroups/population/los_discharge.svg")
    assert "Test for subgroup differences not estimable" in note
    bubble = _svg_text(review / "results/figures/bubble/year/los_discharge.svg")
    assert "Meta-regression on Year" in bubble and "k = 9" in bubble
    design = _svg_text(review / "results/figures/bubble/design/los_discharge.svg")
    assert "Not estimable: moderator design is constant" in design
    for p in ("subgroups/country", "bubble/year", "bubble/year_country"):
        assert (review / f"results/figures/{p}/los_discharge.png").stat().st_size > 1000


def test_results_page_and_report_list_them(review):
    page = (review / "results/report/results.html").read_text(encoding="utf-8")
    assert "Subgroup analyses" in page and "Meta-regression" in page
    assert "Country" in page and "3.16" in page
    assert "not estimable" in page
    report = (review / "results/report.html").read_text(encoding="utf-8")
    assert "subgroups.csv" in report and "meta_regression.csv" in report
