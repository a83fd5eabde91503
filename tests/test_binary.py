"""Binary outcomes from 2x2 counts against R's metafor (issue 17).

Reference values: ``tests/fixtures/metafor/make_fixtures_models.R`` ->
``reference_models.json`` (dat.bcg; dat.nielweise2007 with six zero-cell trials and a
double-zero trial; dat.hahn2001 with three double-zero trials). Tolerances as
``test_pooling.py``: relative 1e-6 (absolute 1e-10 where metafor's value is 0),
p-values absolute 1e-8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srma.binary import rma_mh, rma_mh_batch, rma_peto, rma_peto_batch
from srma.effects import escalc
from srma.pooling import fitstats, rma
from srma.sensitivity import leave1out

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference_models.json").read_text())
COUNTS = REF["counts"]
CELLS = ("ai", "bi", "ci", "di")
UNI = ["estimate", "se", "zval", "ci_lb", "ci_ub", "tau2", "I2", "H2", "QE", "pi_lb", "pi_ub"]
MH_STATS = ["estimate", "se", "zval", "ci_lb", "ci_ub", "QE", "I2", "H2", "CO", "MH", "BD", "TA"]
MH_P = ["pval", "QEp", "COp", "MHp", "BDp", "TAp"]


def _na(x):
    return x is None or x == {} or x == []


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


def close(actual, expected, *, what=""):
    """Relative error <= 1e-6 (absolute 1e-10 where metafor's value is 0); NA in
    metafor must be NaN here."""
    if _na(expected):
        assert np.all(np.isnan(np.asarray(actual, dtype=float))), what
        return
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), _arr(expected), rtol=1e-6, atol=1e-10, err_msg=what
    )


def pclose(actual, expected, *, what=""):
    if _na(expected):
        assert np.all(np.isnan(np.asarray(actual, dtype=float))), what
        return
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), _arr(expected), rtol=0, atol=1e-8, err_msg=what
    )


def cells(name):
    return {c: COUNTS[name][c] for c in CELLS}


# ------------------------------------------------------------------------ escalc
@pytest.mark.parametrize("ref", REF["escalc"], ids=lambda r: f"{r['dataset']}-{r['measure']}")
def test_escalc_2x2_matches_metafor(ref):
    """add = 1/2 to every cell of a study with a zero cell; double-zero studies kept
    (metafor's escalc default) or dropped (drop00, rma.mh's and rma.peto's)."""
    yi, vi = escalc(ref["measure"], **cells(ref["dataset"]))
    close(yi, ref["yi"], what="yi")
    close(vi, ref["vi"], what="vi")
    yi, vi = escalc(ref["measure"], **cells(ref["dataset"]), drop00=True)
    close(yi, ref["yi_drop00"], what="yi drop00")
    close(vi, ref["vi_drop00"], what="vi drop00")
    # ai, n1i, ci, n2i give the same
    d = COUNTS[ref["dataset"]]
    n1 = np.add(d["ai"], d["bi"])
    n2 = np.add(d["ci"], d["di"])
    yi2, _ = escalc(ref["measure"], ai=d["ai"], n1i=n1, ci=d["ci"], n2i=n2)
    np.testing.assert_array_equal(yi2, escalc(ref["measure"], **cells(ref["dataset"]))[0])


def test_double_zero_trial_is_kept_by_escalc_and_dropped_by_mh():
    d = COUNTS["nielweise2007"]
    yi, vi = escalc("OR", **cells("nielweise2007"))
    double = (np.array(d["ai"]) == 0) & (np.array(d["ci"]) == 0)
    assert double.sum() == 1 and np.isfinite(yi[double]).all()
    res = rma_mh(**cells("nielweise2007"))
    assert (res.k, res.k_yi) == (18, 17) and np.isnan(res.yi[double]).all()


# ------------------------------------------------------------- inverse variance
def _iv_id(r):
    return f"{r['dataset']}-{r['measure']}-{r['method']}-{r['test']}"


@pytest.mark.parametrize("ref", REF["binary_iv"], ids=_iv_id)
def test_inverse_variance_models_of_counts_match_metafor(ref):
    """rma(measure = OR/RR/RD, ai, bi, ci, di, method, test) for every tau^2 estimator."""
    yi, vi = escalc(ref["measure"], **cells(ref["dataset"]))
    res = rma(yi, vi, method=ref["method"], test=ref["test"])
    what = _iv_id(ref)
    for key in UNI:
        expected = ref[key]
        if _na(expected):  # metafor gives no PI for EE models: it is the CI
            expected = ref[key.replace("pi", "ci")]
        close(getattr(res, key), expected, what=f"{what} {key}")
    for key in ("pval", "QEp"):
        pclose(getattr(res, key), ref[key], what=f"{what} {key}")
    close(res.weights, ref["weights"], what=f"{what} weights")
    close(res.se_tau2, ref["se_tau2"], what=f"{what} se_tau2")
    close(res.ll, ref["ll"], what=f"{what} ll")
    assert res.k == ref["k"]


# ------------------------------------------------------------- Mantel-Haenszel
def _mh_id(r):
    return f"{r['dataset']}-{r['measure']}-{r['level']:g}-{r['correct']}"


def _check_binary(res, ref, what):
    for key in MH_STATS:
        close(getattr(res, key), ref[key], what=f"{what} {key}")
    for key in MH_P:
        pclose(getattr(res, key), ref[key], what=f"{what} {key}")
    for key in ("weights", "yi", "vi"):
        close(getattr(res, key), ref[key], what=f"{what} {key}")
    assert (res.k, res.k_yi) == (ref["k"], ref["k_yi"])
    if not _na(ref["k_pos"]):
        assert res.k_pos == ref["k_pos"]
    stats = fitstats(res)
    for est in ("ML", "REML"):
        for key in ("ll", "dev", "AIC", "BIC", "AICc"):
            close(stats[est][key], ref["fit_stats"][est][key], what=f"{what} {est} {key}")


@pytest.mark.parametrize("ref", REF["mh"], ids=_mh_id)
def test_mantel_haenszel_matches_metafor(ref):
    res = rma_mh(
        **cells(ref["dataset"]), measure=ref["measure"], level=ref["level"], correct=ref["correct"]
    )
    _check_binary(res, ref, _mh_id(ref))


@pytest.mark.parametrize("ref", REF["peto"], ids=lambda r: f"{r['dataset']}-{r['level']:g}")
def test_peto_matches_metafor(ref):
    res = rma_peto(**cells(ref["dataset"]), level=ref["level"])
    _check_binary(res, ref, f"peto {ref['dataset']}")


def _padded(names):
    kmax = max(len(COUNTS[n]["ai"]) for n in names)
    arrs = {c: np.full((len(names), kmax), np.nan) for c in CELLS}
    mask = np.zeros((len(names), kmax), dtype=bool)
    for i, n in enumerate(names):
        k = len(COUNTS[n]["ai"])
        for c in CELLS:
            arrs[c][i, :k] = COUNTS[n][c]
        mask[i, :k] = True
    return arrs, mask


@pytest.mark.parametrize("measure", ["OR", "RR", "RD", "PETO"])
def test_every_data_set_in_one_batch_call(measure):
    """The vectorised engine: all data sets padded in one call give metafor's values."""
    names = list(COUNTS)
    arrs, mask = _padded(names)
    if measure == "PETO":
        out = rma_peto_batch(*(arrs[c] for c in CELLS), mask)
        refs = {r["dataset"]: r for r in REF["peto"] if r["level"] == 95}
    else:
        out = rma_mh_batch(*(arrs[c] for c in CELLS), mask, measure=measure)
        refs = {r["dataset"]: r for r in REF["mh"] if r["measure"] == measure and r["level"] == 95}
    for i, n in enumerate(names):
        k = len(COUNTS[n]["ai"])
        for key in MH_STATS:
            close(out[key][i], refs[n][key], what=f"{n} {key}")
        for key in MH_P:
            pclose(out[key][i], refs[n][key], what=f"{n} {key}")
        close(out["weights"][i, :k], refs[n]["weights"])
        assert np.all(out["weights"][i, k:] == 0)


@pytest.mark.parametrize("model", ["MH_OR", "MH_RD", "PETO"])
def test_leave_one_out_of_binary_models(model):
    ref = REF["binary_leave1out"][model]
    c = cells("nielweise2007")
    res = rma_peto(**c) if model == "PETO" else rma_mh(**c, measure=model[3:])
    out = leave1out(res)
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "Q", "I2", "H2"):
        close(out[key], ref[key], what=f"{model} {key}")
    for key in ("pval", "Qp"):
        pclose(out[key], ref[key], what=f"{model} {key}")
    assert (out["tau2"] == 0).all() and out["k"].tolist() == [17] * 18


def test_bad_counts_name_the_study():
    with pytest.raises(ValueError, match=r"study 2 \('B'\): bi = -1\.0"):
        rma_mh([1, 2], [5, -1], [1, 2], [5, 6], slab=["A", "B"])
    with pytest.raises(ValueError, match=r"study 1 \('A'\): n1i = 0"):
        rma_mh([0, 2], [0, 3], [1, 2], [5, 6], slab=["A", "B"])
    with pytest.raises(ValueError, match="never occurred"):
        rma_peto([0, 0], [5, 6], [0, 0], [5, 6])
    with pytest.raises(ValueError, match="measure"):
        rma_mh([1], [2], [3], [4], measure="PETO")


def test_estimate_not_computable_is_nan_as_metafor():
    """OR with no events in one arm of every study: metafor's NA."""
    res = rma_mh([0, 0], [10, 12], [2, 3], [8, 9])
    assert np.isnan(res.estimate) and np.isnan(res.QE)
    assert res.k == 2 and "Equal-Effects Model (k = 2)" in str(res)


def test_print_shows_both_scales_and_the_cmh_test():
    res = rma_mh(**cells("bcg"))
    text = str(res)
    assert "Model Results (log scale):" in text and "Model Results (OR scale):" in text
    assert "Cochran-Mantel-Haenszel Test:" in text and "Tarone's Test" in text
    assert res.exp["estimate"] == pytest.approx(np.exp(res.estimate))
    d = res.to_dict()
    assert d["method"] == "MH" and d["measure"] == "OR" and len(d["yi"]) == 13
    json.dumps(d)
