"""Subgroup analyses and the test for subgroup differences against R (issue 17).

Each subgroup is pooled separately (its own tau^2) and the subgroups are compared by
Cochran's Q across their estimates on G - 1 df, as RevMan and R's meta package report
it. R's meta package is not packaged for Debian, so the reference is metafor by hand:
``rma()`` per subgroup, then ``rma(estimates, sei = se, method = "EE")$QE``
(``tests/fixtures/metafor/make_fixtures_models.R``). Tolerances: relative 1e-6
(absolute 1e-10 at 0), p-values absolute 1e-8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srma.binary import rma_mh, rma_peto
from srma.pooling import rma, subgroup_test
from srma.sensitivity import subgroup

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference_models.json").read_text())
GROUPS = REF["subgroup_groups"]
DATA = REF["regression_data"]  # bcg (log RR) and molloy (Fisher's z)
STATS = ["estimate", "se", "zval", "ci_lb", "ci_ub", "tau2", "I2", "H2", "pi_lb", "pi_ub"]


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


def close(actual, expected, *, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), _arr(expected), rtol=1e-6, atol=1e-10, err_msg=what
    )


def pclose(actual, expected, *, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), _arr(expected), rtol=0, atol=1e-8, err_msg=what
    )


def sub_id(r):
    return f"{r['dataset']}-{r['by']}-{r['method']}-{r['test']}"


@pytest.mark.parametrize("ref", REF["subgroups"], ids=sub_id)
def test_subgroups_and_the_test_for_differences_match_metafor(ref):
    d = DATA[ref["dataset"]]
    res = rma(d["yi"], d["vi"], method=ref["method"], test=ref["test"])
    table, test = subgroup(res, GROUPS[ref["by"]])
    what = sub_id(ref)
    assert table["group"].tolist() == ref["levels"]
    for i, g in enumerate(ref["levels"]):
        s = ref["subgroups"][g]
        row = table.iloc[i]
        assert row["k"] == s["k"]
        for key in STATS:
            expected = s[key]
            if expected == []:  # metafor gives no PI for EE: it is the CI
                expected = s[key.replace("pi", "ci")]
            if s["k"] == 1 and key in ("I2", "H2"):
                # a single study: srma reports no heterogeneity (NaN), metafor 0 and 1
                assert np.isnan(row[key])
            elif key == "I2":
                # percent; where metafor's iteration stops at tau^2 ~ 1e-14 instead of
                # the boundary 0 its I^2 is ~1e-9 %
                np.testing.assert_allclose(row[key], expected, rtol=1e-6, atol=1e-8)
            else:
                close(row[key], expected, what=f"{what} {g} {key}")
        pclose(row["pval"], s["pval"], what=f"{what} {g} pval")
        if s["k"] > 1:
            close(row["Q"], s["QE"], what=f"{what} {g} QE")
            pclose(row["Qp"], s["QEp"], what=f"{what} {g} QEp")
    close(test["Qb"], ref["Qb"], what=f"{what} Qb")
    assert test["Qb_df"] == ref["Qb_df"]
    pclose(test["Qb_pval"], ref["Qb_pval"], what=f"{what} Qb_pval")
    # the former names stay
    assert (test["Q_between"], test["df"], test["pval"]) == (
        test["Qb"],
        test["Qb_df"],
        test["Qb_pval"],
    )


@pytest.mark.parametrize("model", list(REF["subgroups_mh"]))
def test_mantel_haenszel_and_peto_subgroups(model):
    """RevMan's subgroups of MH and Peto analyses: each subgroup's MH (Peto) estimate,
    Q across them."""
    ref = REF["subgroups_mh"][model]
    c = {key: REF["counts"]["bcg"][key] for key in ("ai", "bi", "ci", "di")}
    res = rma_peto(**c) if model == "PETO" else rma_mh(**c, measure=model[3:])
    table, test = subgroup(res, GROUPS["alloc"])
    assert table["group"].tolist() == ref["levels"]
    for i, g in enumerate(ref["levels"]):
        s = ref["subgroups"][g]
        for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "I2", "H2"):
            close(table.iloc[i][key], s[key], what=f"{model} {g} {key}")
        close(table.iloc[i]["Q"], s["QE"], what=f"{model} {g} QE")
        pclose(table.iloc[i]["pval"], s["pval"], what=f"{model} {g} pval")
    close(test["Qb"], ref["Qb"])
    assert test["Qb_df"] == ref["Qb_df"]
    pclose(test["Qb_pval"], ref["Qb_pval"])


def test_subgroup_settings_follow_the_model():
    """The t(k-2) prediction interval and a fixed tau^2 carry over to the subgroups."""
    d = DATA["bcg"]
    res = rma(d["yi"], d["vi"], pi_type="t-k2")
    table, _ = subgroup(res, GROUPS["alloc"])
    sel = np.array(GROUPS["alloc"]) == "random"
    alone = rma(np.array(d["yi"])[sel], np.array(d["vi"])[sel], pi_type="t-k2")
    row = table[table["group"] == "random"].iloc[0]
    assert row["pi_lb"] == pytest.approx(alone.pi_lb, rel=1e-12)
    fixed, _ = subgroup(rma(d["yi"], d["vi"], tau2=0.1), GROUPS["alloc"])
    assert (fixed["tau2"] == 0.1).all()


def test_subgroup_test_edge_cases():
    assert np.isnan(subgroup_test([0.1], [0.2])["Qb"])  # one subgroup: nothing to compare
    out = subgroup_test([0.1, np.nan, 0.3], [0.1, 0.2, 0.1])
    assert out["Qb_df"] == 1 and out["Qb"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="one label per study"):
        subgroup(rma(DATA["bcg"]["yi"], DATA["bcg"]["vi"]), ["a", "b"])
