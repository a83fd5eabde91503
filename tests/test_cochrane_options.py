"""Cochrane conventions as workflow options (issue 17, item 4): ``pooling.method`` HSk
and PMM, ``pooling.prediction_interval`` (``default`` or ``t-k2``), ``se_tau2`` and the
log-likelihoods in the pooled tables, Begg's rank correlation test beside Egger's.

Reference values: ``tests/fixtures/metafor/make_fixtures_cochrane_workflow.R``
(``cochrane_workflow.json``, metafor 3.8.1): dat.normand1999 (9 trials, MD from means
and SDs per arm) and dat.bcg (13 trials, RR from counts), each fitted with
``rma(method = REML | HSk | PMM, test = z | knha)``, ``predict(res)`` and
``predict(res, pi.type = "riley")`` (t on k - 2 df), ``res$se.tau2``, ``fit.stats``,
``ranktest(res)`` and ``regtest(res)``. The groups are pooled here by the workflow's own
code (:func:`srma.group.pool_group`, the stage :func:`srma.stages.pool_group`) from
arm-level rows, as the workflow pools a review. Tolerances as test_pooling.py: relative
1e-6, p-values absolute 1e-8.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_runs import copy_review, run_snakemake

from srma import io, stages
from srma.appraisal.sensitivity import without_high_risk
from srma.appraisal.tools import ROB2
from srma.config import safe_load_yaml, validate_config
from srma.errors import ConfigError
from srma.group import SUMMARY_COLUMNS, pool_group, summary_table
from srma.group_sensitivity import leave1out_table, regtest_table, trimfill_table
from srma.pooling import rma
from srma.sensitivity_table import COLUMNS as SENSITIVITY_COLUMNS
from srma.sensitivity_table import summary_table as sensitivity_summary

REF = json.loads((Path(__file__).parent / "fixtures/metafor/cochrane_workflow.json").read_text())
GROUP = {"instrument": "asspimri", "timepoint": "12w"}
#: the pooled row's statistics checked against metafor (its names in the JSON)
STATISTICS = ("estimate", "se", "ci_lb", "ci_ub", "tau2", "se_tau2", "I2", "ll_ML", "ll_REML")


def close(actual, expected, *, what=""):
    np.testing.assert_allclose(float(actual), float(expected), rtol=1e-6, atol=1e-10, err_msg=what)


def normand_rows() -> pd.DataFrame:
    """Extraction rows (data model section 4) of dat.normand1999, studies N1..N9."""
    a = REF["normand"]["arms"]
    rows = []
    for i in range(len(a["n1i"])):
        for arm, pre in (("intervention", "1"), ("control", "2")):
            rows.append(
                dict(
                    study_id=f"N{i + 1}", trial=f"N{i + 1}", **GROUP, arm=arm,
                    n=float(a[f"n{pre}i"][i]), mean_change=float(a[f"m{pre}i"][i]),
                    sd_change=float(a[f"sd{pre}i"][i]), mean_flag="reported",
                    sd_flag="reported", usable=True, reason=None,
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


def bcg_rows() -> pd.DataFrame:
    """Binary extraction rows of dat.bcg (events of n per arm), studies B01..B13."""
    c = REF["bcg"]["counts"]
    rows = []
    for i in range(len(c["ai"])):
        for arm, n, e in (("intervention", "n1i", "ai"), ("control", "n2i", "ci")):
            rows.append(
                dict(
                    study_id=f"B{i + 1:02d}", trial=f"B{i + 1:02d}", **GROUP, arm=arm,
                    n=float(c[n][i]), events=float(c[e][i]), usable=True, reason=None,
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


def fits(dataset):
    return [dict(f, dataset=dataset) for f in REF[dataset]["fits"]]


def pooled_row(table: pd.DataFrame) -> pd.Series:
    rows = table[table["row_type"] == "pooled"]
    assert len(rows) == 1
    return rows.iloc[0]


def check_pooled(row: pd.Series, ref: dict, pi_type: str) -> None:
    for key in STATISTICS:
        close(row[key], ref[key], what=key)
    np.testing.assert_allclose(row["pval"], ref["pval"], rtol=0, atol=1e-8)
    tail = "_tk2" if pi_type == "t-k2" else ""
    close(row["pi_lb"], ref[f"pi_lb{tail}"], what="pi_lb")
    close(row["pi_ub"], ref[f"pi_ub{tail}"], what="pi_ub")


# -------------------------------------------------------------- the pooled table
@pytest.mark.parametrize("pi_type", ["default", "t-k2"])
@pytest.mark.parametrize(
    "ref", fits("normand") + fits("bcg"), ids=lambda r: f"{r['dataset']}-{r['method']}-{r['test']}"
)
def test_pooled_table_equals_metafor(ref, pi_type):
    binary = ref["dataset"] == "bcg"
    rows = bcg_rows() if binary else normand_rows()
    table = pool_group(
        rows, **GROUP, method=ref["method"], test=ref["test"], pi_type=pi_type,
        **({"outcome": "binary", "measure": "RR"} if binary else {}),
    )  # fmt: skip
    row = pooled_row(table)
    check_pooled(row, ref, pi_type)
    # the option and the estimator, spelt as in the config, on every row
    assert set(table["pi_type"]) == {pi_type} and set(table["method"]) == {ref["method"]}
    assert table["pi_type"].dtype == "string"
    for key in ("se_tau2", "ll_ML", "ll_REML"):
        assert table[key].dtype == "float64"
        assert table.loc[table["row_type"] == "study", key].isna().all()
    if binary:  # the ratio's prediction interval
        tail = "_tk2" if pi_type == "t-k2" else ""
        close(row["pi_lb_exp"], np.exp(ref[f"pi_lb{tail}"]), what="pi_lb_exp")
        assert list(table.columns[-4:]) == ["se_tau2", "ll_ML", "ll_REML", "pi_type"]
        assert list(table.columns[-11:-4]) == [
            "ai", "ci", "estimate_exp", "ci_lb_exp", "ci_ub_exp", "pi_lb_exp", "pi_ub_exp"
        ]  # fmt: skip


def test_old_columns_keep_their_order_and_values():
    """The new columns come last; everything before them is what the default settings
    gave before the options existed (the table without the options' columns equals a
    default fit's)."""
    default = pool_group(normand_rows(), **GROUP)
    tk2 = pool_group(normand_rows(), **GROUP, pi_type="t-k2")
    new = ["se_tau2", "ll_ML", "ll_REML", "pi_type"]
    assert list(default.columns[-4:]) == new
    assert list(default.columns[:3]) == ["instrument", "timepoint", "row_type"]
    assert default.columns[-5] == "sign_convention"
    same = [c for c in default.columns if c not in ("pi_lb", "pi_ub", "pi_type")]
    pd.testing.assert_frame_equal(default[same], tk2[same])
    assert (pooled_row(tk2)["pi_lb"] < pooled_row(default)["pi_lb"]) and (
        pooled_row(tk2)["pi_ub"] > pooled_row(default)["pi_ub"]
    )


def test_method_spelling_and_unknown_prediction_interval():
    table = pool_group(normand_rows(), **GROUP, method="hsk")
    assert set(table["method"]) == {"HSk"}
    ref = next(f for f in fits("normand") if (f["method"], f["test"]) == ("HSk", "z"))
    check_pooled(pooled_row(table), ref, "default")
    with pytest.raises(ValueError, match="unknown prediction interval 't-k3'"):
        pool_group(normand_rows(), **GROUP, pi_type="t-k3")
    with pytest.raises(ValueError, match="unknown method 'BAYES'"):
        pool_group(normand_rows(), **GROUP, method="BAYES")


def test_mantel_haenszel_has_no_se_tau2():
    table = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR", method="MH",
                       pi_type="t-k2")  # fmt: skip
    row = pooled_row(table)
    assert row["method"] == "MH" and row["pi_type"] == "t-k2"
    assert np.isnan(row["se_tau2"]) and np.isnan(row["pi_lb"])
    assert np.isfinite(row["ll_ML"])


def test_stage_pools_with_the_config_options(tmp_path):
    """The stage as the rule runs it: the config's pooling section (validated, so with
    its defaults) with method PMM and prediction_interval t-k2; the written table and
    the summary (pooled.csv) carry metafor's values."""
    cfg = safe_load_yaml(Path(__file__).parents[1] / "config" / "config.yaml")
    cfg["pooling"].update(method="PMM", test="knha", prediction_interval="t-k2")
    pooling = validate_config(cfg)["pooling"]
    rows = normand_rows()
    tables = []
    for sid, part in rows.groupby("study_id", sort=True):
        path = tmp_path / "extraction" / f"{sid}.parquet"
        io.write_parquet(part.reset_index(drop=True), path)
        tables.append(str(path))
    out = tmp_path / "pooled" / "asspimri" / "12w.parquet"
    stages.pool_group(tables=tables, pooled=str(out), **GROUP, pooling=pooling,
                      config_hash="0123456789abcdef")  # fmt: skip
    table = io.read_parquet(out)
    ref = next(f for f in fits("normand") if (f["method"], f["test"]) == ("PMM", "knha"))
    check_pooled(pooled_row(table), ref, "t-k2")
    assert set(table["pi_type"]) == {"t-k2"} and set(table["method"]) == {"PMM"}

    summary = summary_table([table])
    assert list(summary.columns) == [*SUMMARY_COLUMNS, "se_tau2", "pi_type"]
    s = summary.iloc[0]
    close(s["se_tau2"], ref["se_tau2"], what="se_tau2")
    close(s["pi_lb"], ref["pi_lb_tk2"], what="pi_lb")
    assert s["pi_type"] == "t-k2" and s["method"] == "PMM"


def test_summary_ends_with_the_new_columns_after_the_ratios():
    binary = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR", method="HSk")
    single = pool_group(normand_rows().iloc[:2].assign(timepoint="24w"), instrument="asspimri",
                        timepoint="24w", pi_type="default")  # fmt: skip
    summary = summary_table([binary, single])
    ratios = [f"{c}_exp" for c in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub")]
    assert list(summary.columns) == [*SUMMARY_COLUMNS, *ratios, "se_tau2", "pi_type"]
    ref = next(f for f in fits("bcg") if (f["method"], f["test"]) == ("HSk", "z"))
    close(summary.iloc[0]["se_tau2"], ref["se_tau2"])
    # a single study: no model, no se_tau2; the option is still named
    assert np.isnan(summary.iloc[1]["se_tau2"]) and summary.iloc[1]["pi_type"] == "default"


# ---------------------------------------------------- sensitivity tables honour it
def test_leave_one_out_uses_the_groups_prediction_interval():
    ref = REF["bcg"]
    table = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR", pi_type="t-k2")
    loo = leave1out_table(table, min_studies=3)
    assert loo["study_id"].iloc[0] == "B01"
    fit = rma(ref["yi"][1:], ref["vi"][1:], pi_type="t-k2")  # engine = metafor: test_pooling
    close(loo["pi_lb"].iloc[0], fit.pi_lb)
    close(loo["pi_ub"].iloc[0], fit.pi_ub)
    default = leave1out_table(pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR"),
                              min_studies=3)  # fmt: skip
    assert loo["pi_lb"].iloc[0] < default["pi_lb"].iloc[0]
    # the refits of trim-and-fill and Egger's test do not depend on it
    for func in (regtest_table, trimfill_table):
        a, b = func(table, min_studies=10), func(pool_group(
            bcg_rows(), **GROUP, outcome="binary", measure="RR"), min_studies=10)  # fmt: skip
        pd.testing.assert_frame_equal(a, b)


def test_high_risk_sensitivity_uses_the_groups_prediction_interval():
    """The risk-of-bias sensitivity analysis refits without B01 (high risk) with the
    pooled table's pi_type."""
    ref = REF["bcg"]
    table = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR", pi_type="t-k2")
    rows = []
    for i in range(13):
        sid, overall = f"B{i + 1:02d}", "high" if i == 0 else "low"
        for d in (*ROB2.domains, "overall"):
            rows.append({"study_id": sid, "tool": "rob2", "domain": d, "judgement": overall})
    rob = pd.DataFrame(rows)
    rob["instrument"] = pd.array([None] * len(rob), dtype="string")
    rob["timepoint"] = pd.array([None] * len(rob), dtype="string")
    out = without_high_risk(table, rob).iloc[0]
    fit = rma(ref["yi"][1:], ref["vi"][1:], pi_type="t-k2")
    assert out["status"] == "estimated" and out["left_out"] == "B01"
    close(out["pi_lb"], fit.pi_lb)
    close(out["pi_ub"], fit.pi_ub)


# ------------------------------------------------------------------ Begg's test
@pytest.mark.parametrize("method", ["REML", "HSk", "PMM"])
def test_begg_beside_egger_equals_metafor(method):
    """dat.bcg (k = 13 >= 10): ranktest(res) and regtest(res) of the group's model."""
    ref = next(t for t in REF["bcg"]["tests"] if t["method"] == method)
    table = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR", method=method)
    row = regtest_table(table, min_studies=10).iloc[0]
    assert row["status"] == "tested" and row["begg_status"] == "tested"
    assert row["begg_k"] == 13 and pd.isna(row["begg_reason"])
    close(row["begg_tau"], ref["begg_tau"], what="begg_tau")
    np.testing.assert_allclose(row["begg_pval"], ref["begg_pval"], rtol=0, atol=1e-8)
    close(row["zval"], ref["egger_zval"], what="egger zval")
    np.testing.assert_allclose(row["pval"], ref["egger_pval"], rtol=0, atol=1e-8)


def test_begg_follows_the_funnel_threshold():
    """dat.normand1999 has 9 studies: not tested under funnel_min_studies 10, with the
    reason; tested (metafor's exact p-value) when the threshold is 9."""
    table = pool_group(normand_rows(), **GROUP)
    row = regtest_table(table, min_studies=10).iloc[0]
    assert row["begg_status"] == "not tested" and row["begg_k"] == 9
    assert row["begg_reason"] == "9 usable studies, fewer than 10: no Begg's test"
    assert np.isnan(row["begg_tau"]) and np.isnan(row["begg_pval"])
    ref = next(t for t in REF["normand"]["tests"] if t["method"] == "REML")
    row = regtest_table(table, min_studies=9).iloc[0]
    assert row["begg_status"] == "tested" and row["begg_k"] == 9
    close(row["begg_tau"], ref["begg_tau"])
    np.testing.assert_allclose(row["begg_pval"], ref["begg_pval"], rtol=0, atol=1e-8)
    mh = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR", method="MH")
    row = regtest_table(mh, min_studies=10).iloc[0]
    assert row["begg_status"] == "not tested"
    assert row["begg_reason"] == "pooled by the MH method, not by inverse variance: no Begg's test"


def test_sensitivity_csv_carries_begg():
    bcg = pool_group(bcg_rows(), **GROUP, outcome="binary", measure="RR")
    normand = pool_group(normand_rows().assign(timepoint="24w"), instrument="asspimri",
                         timepoint="24w")  # fmt: skip
    groups = [bcg, normand]
    out = sensitivity_summary(
        [leave1out_table(g, min_studies=3) for g in groups],
        [regtest_table(g, min_studies=10) for g in groups],
        [trimfill_table(g, min_studies=10) for g in groups],
    )
    assert list(out.columns[-5:]) == ["begg_status", "begg_k", "begg_tau", "begg_pval",
                                      "begg_reason"]  # fmt: skip
    ref = next(t for t in REF["bcg"]["tests"] if t["method"] == "REML")
    a, b = out.iloc[0], out.iloc[1]
    assert a["begg_status"] == "tested" and a["begg_k"] == 13
    close(a["begg_tau"], ref["begg_tau"])
    np.testing.assert_allclose(a["begg_pval"], ref["begg_pval"], rtol=0, atol=1e-8)
    assert b["begg_status"] == "not tested" and b["begg_k"] == 9
    assert b["begg_reason"] == "9 usable studies, fewer than 10: no Begg's test"


# ------------------------------------------------------------------------- config
def test_config_takes_the_options(root_dir):
    bundled = safe_load_yaml(root_dir / "config" / "config.yaml")
    cfg = validate_config(copy.deepcopy(bundled))
    assert cfg["pooling"]["prediction_interval"] == "default"
    del bundled["pooling"]["prediction_interval"]
    assert validate_config(copy.deepcopy(bundled))["pooling"]["prediction_interval"] == "default"
    for method in ("HSk", "PMM"):
        edit = copy.deepcopy(bundled)
        edit["pooling"].update(method=method, prediction_interval="t-k2")
        assert validate_config(edit)["pooling"]["method"] == method
    edit = copy.deepcopy(bundled)
    edit["pooling"]["prediction_interval"] = "riley"
    with pytest.raises(ConfigError, match=r"'pooling\.prediction_interval'"):
        validate_config(edit)
    edit = copy.deepcopy(bundled)
    edit["pooling"]["method"] = "hsk"  # metafor's spelling only, as the engine prints it
    with pytest.raises(ConfigError, match=r"'pooling\.method'"):
        validate_config(edit)


# ------------------------------------------------------------- captions, end to end
def _render(name: str, config: dict) -> str:
    import jinja2

    text = (Path(__file__).parents[1] / "workflow/report" / name).read_text(encoding="utf-8")
    wildcards = {"instrument": "sparcc_sij", "timepoint": "12w"}
    snakemake = SimpleNamespace(config=config, wildcards=wildcards)
    return " ".join(jinja2.Environment().from_string(text).render(snakemake=snakemake).split())


@pytest.mark.parametrize("pi_type", ["default", "t-k2"])
def test_report_text_names_the_prediction_interval_and_estimator(root_dir, pi_type):
    bundled = safe_load_yaml(root_dir / "config" / "config.yaml")
    bundled["pooling"].update(method="PMM", prediction_interval=pi_type)
    cfg = validate_config(bundled)
    methods = _render("workflow.rst", cfg)
    forest = _render("forest.rst", cfg)
    assert "the median-unbiased Paule-Mandel estimator (PMM)" in methods
    assert "the median-unbiased Paule-Mandel estimator (PMM)" in forest
    assert "Begg's rank correlation test" in methods
    assert "Begg's rank correlation test" in _render("sensitivity.rst", cfg)
    k2 = "prediction intervals from the t distribution on k - 2 degrees of freedom"
    normal = "prediction intervals from the normal distribution"
    assert (k2 in methods, normal in methods) == (pi_type == "t-k2", pi_type == "default")
    assert ("t distribution on k - 2 degrees of freedom" in forest) == (pi_type == "t-k2")
    assert ("t on k - 2 df" in _render("pooled.rst", cfg)) == (pi_type == "t-k2")
    assert ("t on k - 2 df" in _render("results.rst", cfg)) == (pi_type == "t-k2")


@pytest.mark.slow
def test_fixture_review_pooled_with_the_options(root_dir, tmp_path):
    """The fixture review (tests/fixtures/review) run by Snakemake with ``pooling:
    {method: PMM, test: knha, prediction_interval: t-k2}``: its 12-week group (the first
    four Normand centres) equals metafor, pooled.csv and sensitivity.csv keep their
    columns first and end with the new ones."""
    work = copy_review(root_dir, tmp_path)
    path = work / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["pooling"].update(method="PMM", test="knha", prediction_interval="t-k2")
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    targets = ("results/tables/pooled.csv", "results/tables/sensitivity.csv")
    run_snakemake(work, "--cores", "2", *targets)
    ref = next(
        f for f in REF["fixture_review"]["fits"] if (f["method"], f["test"]) == ("PMM", "knha")
    )
    table = io.read_parquet(work / "results/pooled/los/12w.parquet")
    check_pooled(pooled_row(table), ref, "t-k2")
    assert set(table["pi_type"]) == {"t-k2"} and set(table["method"]) == {"PMM"}
    pooled = pd.read_csv(work / "results/tables/pooled.csv")
    provenance = ["srma_version", "config_hash"]  # srma.io.write_csv: always last
    assert list(pooled.columns) == [*SUMMARY_COLUMNS, "se_tau2", "pi_type", *provenance]
    assert pooled["pi_type"].tolist() == ["t-k2", "t-k2"]
    close(pooled["se_tau2"].iloc[0], ref["se_tau2"], what="se_tau2")
    close(pooled["pi_ub"].iloc[0], ref["pi_ub_tk2"], what="pi_ub")
    assert np.isnan(pooled["se_tau2"].iloc[1])  # the single-study group
    sens = pd.read_csv(work / "results/tables/sensitivity.csv")
    assert list(sens.columns) == [*SENSITIVITY_COLUMNS, *provenance]
    assert sens["begg_status"].tolist() == ["not tested", "not tested"]
    assert sens["begg_reason"].iloc[0] == "4 usable studies, fewer than 10: no Begg's test"


def test_results_page_names_a_t_k2_prediction_interval(tmp_path):
    from srma.figures.results import results_page

    pages = {}
    for pi_type in ("default", "t-k2"):
        group = pool_group(normand_rows(), **GROUP, pi_type=pi_type)
        page, short = tmp_path / f"{pi_type}.html", tmp_path / f"{pi_type}_s.html"
        results_page(
            summary_table([group]), [group], page, short,
            instrument_labels={"asspimri": "ASspiMRI"}, timepoint_labels={"12w": "12 weeks"},
            intervention="TNFi", comparator="placebo", min_studies=2,
        )  # fmt: skip
        pages[pi_type] = page.read_text(encoding="utf-8")
    said = "PI: prediction interval from the t distribution on k - 2 degrees of freedom"
    assert said in pages["t-k2"] and said not in pages["default"]
    pi = pooled_row(pool_group(normand_rows(), **GROUP, pi_type="t-k2"))["pi_lb"]
    assert f"\u2212{abs(pi):.2f}" in pages["t-k2"]  # fmt_num: a true minus sign
