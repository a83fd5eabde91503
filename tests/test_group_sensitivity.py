"""Sensitivity tables of one pooled group (srma.group_sensitivity) against metafor.

The groups are built from the reference data sets of
``tests/fixtures/metafor/make_fixtures.R`` (``reference.json``): by
:func:`srma.group.pool_group` from arm-level data (Normand 1999) or by hand from
``yi``/``vi`` (BCG, ...), as pool_group writes them (study rows, an unusable study, the
pooled row). Tolerances as in test_pooling.py: relative error <= 1e-6, p-values
absolute 1e-8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srma.group import pool_group
from srma.group_sensitivity import (
    LEAVE1OUT_COLUMNS,
    REGTEST_COLUMNS,
    TRIMFILL_COLUMNS,
    fit_group,
    leave1out_table,
    regtest_table,
    trimfill_table,
)
from srma.io import read_parquet, write_parquet
from srma.pooling import rma

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference.json").read_text())
DATA = REF["datasets"]

STRINGS = {
    "instrument",
    "timepoint",
    "study_id",
    "row_type",
    "side",
    "estimator",
    "model",
    "predictor",
    "method",
    "test",
    "status",
    "reason",
    "begg_status",
    "begg_reason",
}


def close(actual, expected, *, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=1e-6,
        atol=1e-10,
        err_msg=what,
    )


def pclose(actual, expected, *, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=0,
        atol=1e-8,
        err_msg=what,
    )


def group_table(yi, vi, *, method="REML", test="z", level=95.0, pooled=True):
    """A pooled group table as pool_group writes it, from effects: one study row per
    effect (``S01``, ...), an unusable study second, and the pooled row."""
    base = dict(instrument="asspimri", timepoint="12w", method=method, test=test, level=level)
    rows = [
        dict(base, row_type="study", study_id=f"S{i + 1:02d}", usable=True, yi=y, vi=v)
        for i, (y, v) in enumerate(zip(yi, vi, strict=True))
    ]
    rows.insert(
        1,
        dict(base, row_type="study", study_id="S01b", usable=False, yi=np.nan, vi=np.nan),
    )
    status = "pooled" if pooled else ("single study" if len(yi) == 1 else "too few studies")
    if pooled:
        res = rma(yi, vi, method=method, test=test, level=level)
        rows.append(
            dict(base, row_type="pooled", study_id=None, usable=True, yi=res.estimate)
            | {"vi": res.se**2, "estimate": res.estimate, "ci_lb": res.ci_lb}
        )
    table = pd.DataFrame(rows)
    table["status"] = status
    return table


def normand_arms(instrument="asspimri", timepoint="12w", n=None):
    """Extraction rows of the Normand 1999 arm-level data (study ids N1..N9)."""
    e = REF["escalc"]["normand_md"]
    rows = []
    for i in range(len(e["yi"]) if n is None else n):
        for arm, pre in (("intervention", "1"), ("control", "2")):
            rows.append(
                dict(
                    study_id=f"N{i + 1}", trial=f"N{i + 1}", instrument=instrument,
                    timepoint=timepoint, arm=arm, n=e[f"n{pre}i"][i],
                    mean_change=e[f"m{pre}i"][i], sd_change=e[f"sd{pre}i"][i],
                    mean_flag="reported", sd_flag="reported", usable=True, reason=None,
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


def check_schema(table, columns):
    assert list(table.columns) == columns
    for c in columns:
        if c in STRINGS:
            assert table[c].dtype == "string", c
        elif c in ("k", "k0", "begg_k"):
            assert table[c].dtype == "Int64", c
        else:
            assert table[c].dtype == "float64", c


# ------------------------------------------------------------------------ fit_group
def test_fit_group_refits_the_pooled_row(tmp_path):
    g = pool_group(normand_arms(), instrument="asspimri", timepoint="12w", test="knha")
    path = write_parquet(g, tmp_path / "g.parquet")
    for table in (g, read_parquet(path)):
        res = fit_group(table)
        pooled = table[table["row_type"] == "pooled"].iloc[0]
        assert res.estimate == pooled["estimate"]  # the same computation, bit for bit
        assert res.ci_lb == pooled["ci_lb"] and res.tau2 == pooled["tau2"]
        assert (res.method, res.test, res.level) == ("REML", "knha", 95.0)
        assert res.slab == tuple(f"N{i}" for i in range(1, 10))
    assert fit_group(g[g["row_type"] == "study"]) is None


def test_fit_group_rejects_a_pooled_row_of_other_studies():
    d = DATA["bcg"]
    g = group_table(d["yi"], d["vi"])
    g.loc[g["row_type"] == "pooled", "estimate"] = 0.5
    with pytest.raises(ValueError, match="does not belong"):
        fit_group(g)


# -------------------------------------------------------------------- leave-one-out
def test_leave1out_table_matches_metafor():
    d = DATA["bcg"]
    ref = REF["leave1out"]  # metafor leave1out(rma(yi, vi, method="REML", test="knha"))
    g = group_table(d["yi"], d["vi"], method="REML", test="knha")
    t = leave1out_table(g, min_studies=3)
    check_schema(t, LEAVE1OUT_COLUMNS)
    assert t["study_id"].tolist() == [f"S{i:02d}" for i in range(1, 14)]
    assert t["k"].tolist() == [12] * 13
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "Q", "tau2", "I2", "H2"):
        close(t[key], ref[key], what=key)
    for key in ("pval", "Qp"):
        pclose(t[key], ref[key], what=key)
    # prediction intervals: the model without study i (metafor predict(): t on 11 df)
    for i in range(13):
        keep = np.arange(13) != i
        one = rma(np.array(d["yi"])[keep], np.array(d["vi"])[keep], test="knha")
        close([t["pi_lb"][i], t["pi_ub"][i]], [one.pi_lb, one.pi_ub])
    assert set(t["method"]) == {"REML"} and set(t["test"]) == {"knha"}
    assert set(t["level"]) == {95.0} and set(t["status"]) == {"estimated"}
    assert t["reason"].isna().all() and set(t["instrument"]) == {"asspimri"}


def test_leave1out_table_from_pool_group():
    g = pool_group(normand_arms(), instrument="asspimri", timepoint="12w", method="DL")
    t = leave1out_table(g, min_studies=3)
    e = REF["escalc"]["normand_md"]
    for i in range(9):
        keep = np.arange(9) != i
        one = rma(np.array(e["yi"])[keep], np.array(e["vi"])[keep], method="DL")
        assert t["study_id"][i] == f"N{i + 1}"
        close(t.loc[i, ["estimate", "tau2", "ci_lb", "pi_ub"]], [one.estimate, one.tau2,
              one.ci_lb, one.pi_ub])  # fmt: skip


# -------------------------------------------------------------------- Egger's test
@pytest.mark.parametrize(
    "ref",
    [r for r in REF["regtest"] if r["model"] == "rma"],
    ids=lambda r: f"{r['dataset']}-{r['method']}-{r['test']}",
)
def test_regtest_table_matches_metafor(ref):
    d = DATA[ref["dataset"]]
    g = group_table(d["yi"], d["vi"], method=ref["method"], test=ref["test"])
    t = regtest_table(g, min_studies=3)
    check_schema(t, REGTEST_COLUMNS)
    assert len(t) == 1
    row = t.iloc[0]
    for key in ("zval", "est", "ci_lb", "ci_ub"):
        close(row[key], ref[key], what=key)
    pclose(row["pval"], ref["pval"])
    k = len(d["yi"])
    assert row["k"] == k and row["model"] == "rma" and row["predictor"] == "sei"
    assert row["method"] == ref["method"] and row["test"] == ref["test"]
    if ref["test"] == "z":
        assert np.isnan(row["dfs"])
    else:
        assert row["dfs"] == k - 2
    assert np.isfinite(row["slope"]) and row["status"] == "tested" and pd.isna(row["reason"])


def test_regtest_table_from_pool_group():
    ref = next(
        r for r in REF["regtest"]
        if (r["dataset"], r["method"], r["test"], r["model"]) == ("normand_md", "REML", "z", "rma")
    )  # fmt: skip
    g = pool_group(normand_arms(), instrument="asspimri", timepoint="12w")
    row = regtest_table(g, min_studies=9).iloc[0]
    for key in ("zval", "est", "ci_lb", "ci_ub"):
        close(row[key], ref[key], what=key)
    assert row["k"] == 9 and row["status"] == "tested"


# ------------------------------------------------------------------- trim-and-fill
@pytest.mark.parametrize(
    "ref",
    [r for r in REF["trimfill"] if r["estimator"] == "L0"],
    ids=lambda r: f"{r['dataset']}-{r['method']}",
)
def test_trimfill_table_matches_metafor(ref):
    d = DATA[ref["dataset"]]
    yi, vi = np.array(d["yi"]), np.array(d["vi"])
    g = group_table(yi, vi, method=ref["method"])
    t = trimfill_table(g, min_studies=3)
    check_schema(t, TRIMFILL_COLUMNS)
    k0 = ref["k0"]
    assert t["row_type"].tolist() == ["model"] + ["filled"] * k0
    model = t.iloc[0]
    assert model["k0"] == k0 and model["k"] == len(yi) + k0
    assert model["side"] == ref["side"] and model["estimator"] == "L0"
    for key in ("estimate", "se", "tau2", "ci_lb", "ci_ub"):
        close(model[key], ref[key], what=key)
    assert np.isnan(model["yi"]) and np.isnan(model["vi"])
    assert model["status"] == "estimated" and pd.isna(model["reason"])
    filled = t.iloc[1:]
    # the filled studies mirror the k0 most extreme studies on the other side
    order = np.argsort(yi if ref["side"] == "left" else -yi, kind="stable")
    assert sorted(filled["vi"]) == sorted(vi[order[len(yi) - k0 :]])
    if k0:
        refit = rma(np.r_[yi, filled["yi"]], np.r_[vi, filled["vi"]], method=ref["method"])
        assert refit.estimate == pytest.approx(model["estimate"], rel=1e-12)
    for key in ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2"):
        assert filled[key].isna().all()
    assert filled["k"].isna().all() and filled["k0"].isna().all()
    assert set(filled["side"]) <= {ref["side"]}


# ------------------------------------------------------------- not estimated rows
def test_too_few_studies_give_one_row_with_the_reason():
    d = DATA["bcg"]
    g = group_table(d["yi"][:4], d["vi"][:4])
    t = leave1out_table(g, min_studies=5)
    check_schema(t, LEAVE1OUT_COLUMNS)
    assert len(t) == 1
    row = t.iloc[0]
    assert row["status"] == "not estimated" and pd.isna(row["study_id"]) and row["k"] == 4
    assert row["reason"] == "4 usable studies, fewer than 5: no leave-one-out analysis"
    assert t[["estimate", "se", "zval", "pval", "tau2", "pi_lb", "pi_ub"]].isna().all().all()
    assert row["method"] == "REML" and row["level"] == 95.0

    t = regtest_table(g, min_studies=10)
    check_schema(t, REGTEST_COLUMNS)
    row = t.iloc[0]
    assert len(t) == 1 and row["status"] == "not tested" and row["k"] == 4
    assert row["reason"] == "4 usable studies, fewer than 10: no Egger's test"
    assert (row["model"], row["predictor"], row["method"], row["test"]) == (
        "rma", "sei", "REML", "z"
    )  # fmt: skip
    assert t[["zval", "pval", "dfs", "est", "ci_lb", "ci_ub", "slope"]].isna().all().all()

    t = trimfill_table(g, min_studies=10)
    check_schema(t, TRIMFILL_COLUMNS)
    row = t.iloc[0]
    assert len(t) == 1 and row["row_type"] == "model" and row["status"] == "not estimated"
    assert row["reason"] == "4 usable studies, fewer than 10: no trim-and-fill analysis"
    assert row["k"] == 4 and pd.isna(row["k0"]) and pd.isna(row["side"])
    assert t[["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2"]].isna().all().all()


def test_the_floors_hold_whatever_min_studies_says():
    d = DATA["bcg"]
    g = group_table(d["yi"][:2], d["vi"][:2])
    assert leave1out_table(g, min_studies=1)["status"].tolist() == ["estimated"] * 2
    assert regtest_table(g, min_studies=1)["reason"].iloc[0] == (
        "2 usable studies, fewer than 3: no Egger's test"
    )
    assert trimfill_table(g, min_studies=2)["reason"].iloc[0] == (
        "2 usable studies, fewer than 3: no trim-and-fill analysis"
    )


def test_groups_without_a_pooled_row():
    one = pool_group(normand_arms(n=1), instrument="asspimri", timepoint="12w")
    assert one["status"].iloc[0] == "single study"
    none = pool_group(
        normand_arms(n=2).assign(usable=False, reason="percent change"),
        instrument="asspimri",
        timepoint="12w",
    )
    assert none["status"].iloc[0] == "no usable data"
    for g, k, words in ((one, 1, "1 usable study"), (none, 0, "0 usable studies")):
        t = leave1out_table(g, min_studies=3)
        assert t["reason"].tolist() == [f"not pooled ({words}): no leave-one-out analysis"]
        assert t["k"].tolist() == [k] and t["study_id"].isna().all()
        assert regtest_table(g, min_studies=3)["reason"].tolist() == [
            f"not pooled ({words}): no Egger's test"
        ]
        tf = trimfill_table(g, min_studies=3)
        assert tf["reason"].tolist() == [f"not pooled ({words}): no trim-and-fill analysis"]
        assert tf["status"].tolist() == ["not estimated"]
    t = leave1out_table(g[g["row_type"] == "pooled"], min_studies=3)  # empty table
    assert t["reason"].tolist() == ["not pooled (0 usable studies): no leave-one-out analysis"]


def test_equal_standard_errors_are_not_tested():
    g = group_table([0.1, 0.4, -0.2, 0.3], [0.05] * 4)
    assert regtest_table(g, min_studies=3)["reason"].tolist() == [
        "the usable studies' standard errors are all equal: no Egger's test"
    ]
    row = regtest_table(g, min_studies=3).iloc[0]
    assert row["begg_status"] == "not tested" and np.isnan(row["begg_tau"])
    assert row["begg_reason"] == "the usable studies' standard errors are all equal: no Begg's test"
    assert trimfill_table(g, min_studies=3)["status"].tolist() == ["not estimated"]
    assert leave1out_table(g, min_studies=3)["status"].tolist() == ["estimated"] * 4


# ------------------------------------------------------------------ determinism
def test_tables_are_deterministic_and_keep_their_types_in_parquet(tmp_path):
    d = DATA["hackshaw"]
    g = group_table(d["yi"], d["vi"])
    for name, func, columns in (
        ("l", leave1out_table, LEAVE1OUT_COLUMNS),
        ("r", regtest_table, REGTEST_COLUMNS),
        ("t", trimfill_table, TRIMFILL_COLUMNS),
    ):
        a, b = func(g, min_studies=10), func(g.copy(), min_studies=10)
        pd.testing.assert_frame_equal(a, b)
        pa = write_parquet(a, tmp_path / f"{name}a.parquet")
        pb = write_parquet(b, tmp_path / f"{name}b.parquet")
        assert pa.read_bytes() == pb.read_bytes()
        back = read_parquet(pa)
        check_schema(back, columns)
        pd.testing.assert_frame_equal(back, a)
