"""Meta-regression against R's metafor (``rma(yi, vi, mods = ~ ...)``; issue 17).

Reference values: ``tests/fixtures/metafor/make_fixtures_models.R`` ->
``reference_models.json``: dat.bcg (log risk ratios; ablat, year, the categorical
alloc), dat.molloy2014 (Fisher's z; meanage, quality, the categorical design),
dat.bangertdrowns2004 (48 studies; grade, imag, ni), with every tau^2 estimator and
every test. Tolerances: relative 1e-6 (absolute 1e-10 where metafor's value is 0),
p-values absolute 1e-8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srma.pooling import fitstats, rma
from srma.regression import design_matrix, rma_mods, rma_mods_batch, rma_reg

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference_models.json").read_text())
DATA = REF["regression_data"]
STATS = ["b", "se", "zval", "ci_lb", "ci_ub", "QM", "QE", "tau2", "se_tau2", "I2", "H2", "R2"]
PVALS = ["pval", "QMp", "QEp"]


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


def reg_id(r):
    return f"{r['dataset']}-{'+'.join(r['mods'])}-{r['method']}-{r['test']}"


def mods_of(ref):
    d = DATA[ref["dataset"]]
    return {m: d["mods"][m] for m in ref["mods"]}


@pytest.mark.parametrize("ref", REF["regressions"], ids=reg_id)
def test_meta_regression_matches_metafor(ref):
    d = DATA[ref["dataset"]]
    res = rma_reg(d["yi"], d["vi"], mods_of(ref), method=ref["method"], test=ref["test"])
    what = reg_id(ref)
    assert list(res.names) == ref["names"]
    assert res.converged and res.k == ref["k"] and res.p == ref["p"]
    for key in STATS:
        close(getattr(res, key), ref[key], what=f"{what} {key}")
    for key in PVALS:
        pclose(getattr(res, key), ref[key], what=f"{what} {key}")
    assert res.QMdf[0] == ref["QMdf"][0]
    assert res.QMdf[1] == ref["QMdf"][1]  # None under z (metafor's NA)
    close(res.ll, ref["ll"], what=f"{what} ll")
    stats = fitstats(res)
    for est in ("ML", "REML"):
        for key in ("ll", "dev", "AIC", "BIC", "AICc"):
            close(stats[est][key], ref["fit_stats"][est][key], what=f"{what} {est} {key}")


def _refs(method, test, p):
    return [
        r for r in REF["regressions"]
        if r["method"] == method and r["test"] == test and r["p"] == p
    ]  # fmt: skip


@pytest.mark.parametrize("method", ["EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB",
                                    "PM", "PMM"])  # fmt: skip
@pytest.mark.parametrize("test", ["z", "knha"])
def test_batch_of_different_data_sets_in_one_call(method, test):
    """The vectorised engine: meta-regressions of different data sets and moderators
    (same number of coefficients), padded into one call, give metafor's values."""
    for p in (2, 3, 4):
        refs = _refs(method, test, p)
        kmax = max(r["k"] for r in refs)
        n = len(refs)
        Y, V = np.full((n, kmax), np.nan), np.full((n, kmax), np.nan)
        X = np.zeros((n, kmax, p))
        mask = np.zeros((n, kmax), dtype=bool)
        for i, r in enumerate(refs):
            d = DATA[r["dataset"]]
            Xi, _ = design_matrix(mods_of(r))
            k = len(d["yi"])
            Y[i, :k], V[i, :k], X[i, :k], mask[i, :k] = d["yi"], d["vi"], Xi, True
        out = rma_mods_batch(Y, V, X, mask, method=method, test=test)
        for i, r in enumerate(refs):
            for key in STATS:
                close(out[key][i], r[key], what=f"{reg_id(r)} {key}")
            for key in PVALS:
                pclose(out[key][i], r[key], what=f"{reg_id(r)} {key}")


@pytest.mark.parametrize("c", [1e-6, 1e-3, 1e3, 1e6])
@pytest.mark.parametrize("method", ["REML", "ML", "PM", "DL", "SJ"])
def test_meta_regression_scales_with_the_data(method, c):
    """Effects c yi with variances c^2 vi: c b, c^2 tau^2, the same tests; a moderator
    in other units (ablat * 1000) changes its coefficient only by the factor."""
    d = DATA["bcg"]
    y, v = np.asarray(d["yi"]), np.asarray(d["vi"])
    mods = {"ablat": d["mods"]["ablat"], "alloc": d["mods"]["alloc"]}
    res = rma_reg(y, v, mods, method=method)
    big = rma_reg(c * y, c * c * v, mods, method=method)
    np.testing.assert_allclose(big.b / c, res.b, rtol=1e-8)
    np.testing.assert_allclose(big.se / c, res.se, rtol=1e-8)
    assert big.tau2 / c**2 == pytest.approx(res.tau2, rel=1e-8, abs=1e-14)
    np.testing.assert_allclose(big.QM, res.QM, rtol=1e-8)
    np.testing.assert_allclose(big.R2, res.R2, rtol=1e-8, atol=1e-10)
    scaled = rma_reg(y, v, {"ablat": np.asarray(d["mods"]["ablat"]) * c,
                            "alloc": d["mods"]["alloc"]}, method=method)  # fmt: skip
    assert scaled.b[1] * c == pytest.approx(res.b[1], rel=1e-8)
    assert scaled.tau2 == pytest.approx(res.tau2, rel=1e-8, abs=1e-14)


def test_design_matrix_treatment_coding():
    X, names = design_matrix({"x": [1.5, 2.0, 3.0, 4.0], "g": ["b", "a", "c", "a"]})
    assert names == ["intrcpt", "x", "gb", "gc"]
    np.testing.assert_array_equal(X[:, 2], [1, 0, 0, 0])
    np.testing.assert_array_equal(X[:, 3], [0, 0, 1, 0])
    X, names = design_matrix({"g": ["b", "a", "c", "a"]}, levels={"g": ["c", "a", "b"]})
    assert names == ["intrcpt", "ga", "gb"]
    with pytest.raises(ValueError, match="single level"):
        design_matrix({"g": ["a", "a"]})
    with pytest.raises(ValueError, match="mixes numbers and text"):
        design_matrix({"g": ["a", 1.0]})
    with pytest.raises(ValueError, match="missing value"):
        design_matrix({"x": [1.0, float("nan")]})


def test_model_cannot_be_fitted_errors():
    y, v = [0.1, 0.3, 0.2, 0.5], [0.1, 0.2, 0.1, 0.3]
    with pytest.raises(ValueError, match="not of full rank"):
        rma_reg(y, v, {"x": [1.0, 2.0, 3.0, 4.0], "z": [2.0, 4.0, 6.0, 8.0]})
    with pytest.raises(ValueError, match="3 studies for 3 coefficients"):
        rma_reg(y[:3], v[:3], {"x": [1.0, 2.0, 3.0], "z": [1.0, 0.0, 5.0]})
    with pytest.raises(ValueError, match=r"study 2 \('B'\): vi = -0\.2"):
        rma_reg(y, [0.1, -0.2, 0.1, 0.3], {"x": [1.0, 2.0, 3.0, 4.0]}, slab=list("ABCD"))
    X = np.ones((2, 4, 2))
    X[0, :, 1] = [1.0, 2.0, 3.0, 4.0]  # row 2: a constant moderator
    with pytest.raises(ValueError, match=r"not of full rank \(row 2\)"):
        rma_mods_batch([y, y], [v, v], X, method="DL")


def test_intercept_only_equals_rma_and_rma_mods_keeps_its_keys():
    d = DATA["bcg"]
    X = np.ones((len(d["yi"]), 1))
    for method in ("REML", "DL", "PMM", "HSk"):
        res = rma(d["yi"], d["vi"], method=method, test="knha")
        out = rma_mods(d["yi"], d["vi"], X, method=method, test="knha")
        assert out["b"][0] == pytest.approx(res.estimate, rel=1e-9)
        assert out["se"][0] == pytest.approx(res.se, rel=1e-9)
        assert out["tau2"] == pytest.approx(res.tau2, rel=1e-9, abs=1e-14)
        assert out["QE"] == pytest.approx(res.QE, rel=1e-9)
        assert out["dfs"] == len(d["yi"]) - 1


def test_print_and_to_dict():
    d = DATA["bcg"]
    res = rma_reg(d["yi"], d["vi"], {"ablat": d["mods"]["ablat"], "alloc": d["mods"]["alloc"]},
                  test="knha")  # fmt: skip
    text = str(res)
    assert "Mixed-Effects Model (k = 13; tau^2 estimator: REML)" in text
    assert "Test of Moderators (coefficients 2:4):" in text and "F(df1 = 3, df2 = 9)" in text
    assert "allocrandom" in text and "R^2 (amount of heterogeneity accounted for)" in text
    out = res.to_dict()
    assert out["names"] == ["intrcpt", "ablat", "allocrandom", "allocsystematic"]
    assert out["tval"] == out["zval"] and out["QMdf"] == [3, 9] and len(out["b"]) == 4
    json.dumps(out)
