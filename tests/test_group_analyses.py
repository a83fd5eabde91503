"""Subgroup analyses and meta-regression of one group (srma.group_analyses) against
metafor: dat.normand1999's 9 centres with a country per centre and a synthetic year
(tests/fixtures/metafor/make_fixtures_workflow_subgroups.R -> workflow_subgroups.json),
and what the tables say when an analysis cannot be done."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srma.group import pool_group
from srma.group_analyses import (
    LINE_POINTS,
    NOT_ESTIMABLE,
    meta_regression_table,
    study_values,
    subgroup_table,
)

REF = json.loads(
    (Path(__file__).parent / "fixtures" / "metafor" / "workflow_subgroups.json").read_text()
)
DATA = {
    "Edinburgh": (155, 55, 47, 156, 75, 64),
    "OrpingtonMild": (31, 27, 7, 32, 29, 4),
    "OrpingtonModerate": (75, 64, 17, 71, 119, 29),
    "OrpingtonSevere": (18, 66, 20, 18, 137, 48),
    "MontrealHome": (8, 14, 8, 13, 18, 11),
    "MontrealTransfer": (57, 19, 7, 52, 18, 4),
    "Newcastle": (34, 52, 45, 33, 41, 34),
    "Umea": (110, 21, 16, 183, 31, 27),
    "Uppsala": (60, 30, 27, 52, 23, 20),
}
COUNTRY = dict(zip(REF["study_id"], REF["country"], strict=True))
YEAR = dict(zip(REF["study_id"], REF["year"], strict=True))
RTOL = 1e-6


def extraction(studies=DATA, **fields) -> pd.DataFrame:
    """Extraction rows (data model 4) of the studies, both arms, one group."""
    rows = []
    for sid, (n1, m1, s1, n2, m2, s2) in studies.items():
        for arm, n, m, s in (("intervention", n1, m1, s1), ("control", n2, m2, s2)):
            row = {"study_id": sid, "trial": sid, "design": "rct", "instrument": "los",
                   "timepoint": "12w", "arm": arm, "n": n, "mean_change": m, "sd_change": s,
                   "mean_flag": "reported", "sd_flag": "reported", "usable": True,
                   "reason": None, "population": "stroke", "year": YEAR[sid],
                   "drug": "care" if arm == "intervention" else None,
                   "characteristics": json.dumps({"country": COUNTRY[sid]})}  # fmt: skip
            row.update({k: v.get(sid) if isinstance(v, dict) else v for k, v in fields.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def pooled_table(test="z", studies=DATA) -> pd.DataFrame:
    return pool_group(extraction(studies), instrument="los", timepoint="12w", test=test)


@pytest.mark.parametrize("test", ["z", "knha"])
def test_subgroups_equal_metafor(test):
    ref = REF[test]["subgroups"]
    table = subgroup_table(
        pooled_table(test), COUNTRY, analysis="country", by="country", label="Country"
    )
    sub = table[table["row_type"] == "subgroup"].set_index("subgroup")
    assert list(sub.index) == ["Canada", "Sweden", "UK"]
    for g, r in ref["subgroups"].items():
        row = sub.loc[g]
        assert row["status"] == "pooled" and row["k"] == r["k"]
        for col, key in (("estimate", "b"), ("se", "se"), ("zval", "zval"), ("pval", "pval"),
                         ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub"), ("tau2", "tau2"),
                         ("I2", "I2"), ("QE", "QE"), ("QEp", "QEp")):  # fmt: skip
            assert row[col] == pytest.approx(r[key], rel=RTOL, abs=1e-9), (g, col)
        studies = table[(table["row_type"] == "study") & (table["subgroup"] == g)]
        weights = dict(zip(studies["study_id"], studies["weight"], strict=True))
        assert sorted(weights) == sorted(r["slab"])
        for sid, w in zip(r["slab"], r["weights"], strict=True):
            assert weights[sid] == pytest.approx(w, rel=RTOL), (g, sid)
    t = table[table["row_type"] == "test"].iloc[0]
    assert t["status"] == "tested" and t["Qb_df"] == ref["Qb_df"] == 2
    assert t["Qb"] == pytest.approx(ref["Qb"], rel=RTOL)
    assert t["Qb_pval"] == pytest.approx(ref["Qb_pval"], rel=RTOL)
    assert (table["label"] == "Country").all() and (table["by"] == "country").all()


def test_subgroup_too_thin_is_not_estimable():
    """Canada and Sweden have 2 studies each: with min_studies 3 only the UK is pooled,
    and the test needs 2 pooled subgroups."""
    table = subgroup_table(pooled_table(), COUNTRY, analysis="a", by="country", min_studies=3)
    sub = table[table["row_type"] == "subgroup"].set_index("subgroup")
    assert sub.loc["UK", "status"] == "pooled"
    assert sub.loc["Canada", "status"] == NOT_ESTIMABLE
    assert sub.loc["Canada", "reason"] == "2 usable studies, fewer than 3: not pooled"
    assert np.isnan(sub.loc["Canada", "estimate"])
    t = table[table["row_type"] == "test"].iloc[0]
    assert t["status"] == NOT_ESTIMABLE and np.isnan(t["Qb"])
    assert t["reason"] == (
        "1 subgroup with at least 3 usable studies (usable studies by country: Canada: 2; "
        "Sweden: 2; UK: 5); the test for subgroup differences needs 2"
    )
    excluded = table[(table["row_type"] == "study") & (table["status"] == "excluded")]
    assert set(excluded["study_id"]) == {"MontrealHome", "MontrealTransfer", "Umea", "Uppsala"}
    assert set(excluded["reason"]) == {"subgroup Canada not pooled", "subgroup Sweden not pooled"}


def test_study_without_value_and_unusable_study_are_listed():
    values = {**COUNTRY, "Uppsala": None}
    data = {**DATA, "Umea": (110, 21, 0, 183, 31, 27)}  # SD 0: not usable
    table = subgroup_table(pooled_table(studies=data), values, analysis="a", by="country")
    studies = table[table["row_type"] == "study"].set_index("study_id")
    assert len(studies) == 9
    assert studies.loc["Uppsala", "reason"] == "no country in its extraction file"
    assert studies.loc["Umea", "reason"].startswith("not usable: intervention arm needs")
    sub = table[table["row_type"] == "subgroup"].set_index("subgroup")
    assert list(sub.index) == ["Canada", "UK"]  # Sweden has no usable study left
    assert table[table["row_type"] == "test"]["Qb_df"].iat[0] == 1


@pytest.mark.parametrize("test", ["z", "knha"])
def test_meta_regression_equals_metafor(test):
    ref = REF[test]["regression"]
    pooled = pooled_table(test)
    values = {"year": YEAR, "country": COUNTRY}
    for name, mods in (("year", ["year"]), ("year_country", ["year", "country"])):
        r = ref[name]
        table = meta_regression_table(pooled, values, analysis=name, moderators=mods)
        coef = table[table["row_type"] == "coefficient"]
        assert list(coef["term"]) == r["terms"]
        for col, key in (("b", "b"), ("se", "se"), ("zval", "zval"), ("pval", "pval"),
                         ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub")):  # fmt: skip
            np.testing.assert_allclose(coef[col], r[key], rtol=1e-5, err_msg=f"{name} {col}")
        m = table[table["row_type"] == "model"].iloc[0]
        for col in ("QM", "QMp", "QE", "QEp", "tau2", "I2", "H2", "R2"):
            assert m[col] == pytest.approx(r[col], rel=1e-5, abs=1e-8), (name, col)
        assert m["QMdf1"] == r["QMdf"][0] and m["k"] == 9 and m["p"] == len(r["terms"])
        assert m["QEdf"] == 9 - len(r["terms"])
        if test == "z":
            assert pd.isna(m["QMdf2"]) and pd.isna(m["dfs"])
        else:
            assert m["QMdf2"] == r["QMdf"][1] == m["dfs"]
        studies = table[table["row_type"] == "study"].set_index("study_id")
        ref_w = pd.Series(r["weights"], index=REF["study_id"])
        np.testing.assert_allclose(studies["weight"], ref_w[studies.index], rtol=1e-5)
    line = table_line = meta_regression_table(pooled, values, analysis="year", moderators=["year"])
    fitted = table_line[table_line["row_type"] == "fitted"]
    assert len(fitted) == LINE_POINTS
    ref_line = ref["year"]["line"]
    np.testing.assert_allclose(fitted["x"], ref_line["x"], rtol=1e-12)
    for col, key in (("b", "pred"), ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub")):
        np.testing.assert_allclose(fitted[col], ref_line[key], rtol=1e-5)
    xs = line[line["row_type"] == "study"].set_index("study_id")["x"]
    assert xs.to_dict() == {sid: float(y) for sid, y in YEAR.items()}


def test_meta_regression_not_estimable():
    pooled = pooled_table()
    design = {sid: "rct" for sid in DATA}
    table = meta_regression_table(pooled, {"design": design}, analysis="d", moderators=["design"])
    m = table[table["row_type"] == "model"]
    assert len(m) == 1 and m["status"].iat[0] == NOT_ESTIMABLE
    assert m["reason"].iat[0] == "moderator design is constant (rct) in the 9 usable studies"
    assert not (table["row_type"] == "coefficient").any()
    assert (table[table["row_type"] == "study"]["reason"] == "meta-regression not estimable").all()
    # k <= p: 3 studies, 1 + 2 coefficients of country
    three = {s: DATA[s] for s in ("Edinburgh", "MontrealHome", "Umea")}
    table = meta_regression_table(
        pooled_table(studies=three), {"country": COUNTRY}, analysis="c", moderators=["country"]
    )
    m = table[table["row_type"] == "model"].iloc[0]
    assert m["status"] == NOT_ESTIMABLE and m["k"] == 3 and m["p"] == 3
    assert m["reason"] == (
        "3 usable studies for 3 coefficients: a meta-regression needs more studies than "
        "coefficients (k > p)"
    )
    mixed = {**YEAR, "Umea": "1994"}
    table = meta_regression_table(pooled, {"year": mixed}, analysis="y", moderators=["year"])
    assert table["reason"].iat[-1] == "moderator year mixes numbers and text across the studies"


def test_study_values_from_the_study_tables():
    rows = extraction()
    rows.loc[rows["study_id"] == "Umea", "characteristics"] = None
    get = study_values
    assert get(rows, "country", instrument="los", timepoint="12w")["Umea"] is None
    assert get(rows, "country", instrument="los", timepoint="12w")["Uppsala"] == "Sweden"
    assert get(rows, "year", instrument="los", timepoint="12w")["Edinburgh"] == 1990
    assert get(rows, "drug", instrument="los", timepoint="12w")["Edinburgh"] == "care"
    assert get(rows, "drug", instrument="los", timepoint="24w")["Edinburgh"] is None
    assert get(rows, "population", instrument="los", timepoint="12w")["Newcastle"] == "stroke"


def test_mantel_haenszel_groups_are_not_estimable():
    """A binary group pooled with Mantel-Haenszel is not refitted by inverse variance."""
    pooled = pooled_table()
    pooled["method"] = "MH"
    table = subgroup_table(pooled, COUNTRY, analysis="c", by="country")
    assert table["row_type"].tolist() == ["study"] * 9 + ["test"]
    why = (
        "the group is pooled with the Mantel-Haenszel method: a subgroup analysis needs an "
        "inverse-variance model (pooling.method or the instrument's method)"
    )
    assert table["reason"].iat[-1] == why and table["status"].iat[-1] == NOT_ESTIMABLE
    assert (table["reason"].iloc[:9] == why).all()
    reg = meta_regression_table(pooled, {"year": YEAR}, analysis="y", moderators=["year"])
    assert reg["row_type"].tolist() == ["study"] * 9 + ["model"]
    assert reg["reason"].iat[-1] == why.replace("a subgroup analysis", "a meta-regression")
