"""Results do not depend on the data's units (srma issue 14).

For effects ``c yi`` with sampling variances ``c^2 vi`` every estimator gives ``c^2``
times tau^2 (it is scale equivariant), and so the estimate, its standard error, the
confidence and prediction intervals scale by ``c``, the Q-profile bounds of tau^2 by
``c^2``, and z, the p-values, Q, I^2, H^2 and the weights do not change. metafor does
the same: its references in ``fixtures/metafor/reference.json``, scaled, are the
expected values. Each data set of the fixtures is fitted at ``c = 1e-6, 1e-3, 1e3,
1e6`` with every estimator srma offers and every test, all in one
:func:`srma.pooling.rma_batch` call per estimator and test.

Tolerances: against srma's own unscaled fit, relative 1e-8 (absolute 1e-12 times the
quantity's unit, for values that are 0); against metafor, those of ``test_pooling.py``
(relative 1e-6, absolute 1e-10 times the unit; p-values absolute 1e-8).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from srma.bias import regtest, trimfill
from srma.pooling import TESTS, confint_tau2_batch, rma, rma_batch
from srma.tau2 import METHODS

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference.json").read_text())
DATA = REF["datasets"]
NAMES = list(DATA)
SCALES = (1e-6, 1e-3, 1e3, 1e6)
#: statistic -> power of c it scales with
POWER = {
    "estimate": 1,
    "se": 1,
    "ci_lb": 1,
    "ci_ub": 1,
    "pi_lb": 1,
    "pi_ub": 1,
    "tau2": 2,
    "zval": 0,
    "I2": 0,
    "H2": 0,
    "QE": 0,
}
PVALS = ("pval", "QEp")


def padded(scales=(1.0, *SCALES)):
    """Every data set at every scale, one row each: ``Y, V, mask, rows`` with ``rows``
    the (data set, c) of each row."""
    kmax = max(len(DATA[n]["yi"]) for n in NAMES)
    rows = [(n, c) for c in scales for n in NAMES]
    Y = np.full((len(rows), kmax), np.nan)
    V = np.full((len(rows), kmax), np.nan)
    M = np.zeros((len(rows), kmax), dtype=bool)
    for i, (n, c) in enumerate(rows):
        k = len(DATA[n]["yi"])
        Y[i, :k] = c * np.asarray(DATA[n]["yi"])
        V[i, :k] = c * c * np.asarray(DATA[n]["vi"])
        M[i, :k] = True
    return Y, V, M, rows


def metafor_fit(name, method, test):
    method = "EE" if method == "FE" else method  # metafor: FE and EE are one model
    return next(
        f for f in REF["fits"] if (f["dataset"], f["method"], f["test"]) == (name, method, test)
    )


def relative_errors(out, rows, keys):
    """Largest relative difference of each statistic between the scaled fits (divided
    by their power of c) and the unscaled fit of the same data set."""
    base = {n: i for i, (n, c) in enumerate(rows) if c == 1.0}
    worst = dict.fromkeys(keys, 0.0)
    for i, (n, c) in enumerate(rows):
        if c == 1.0:
            continue
        for key in keys:
            ours = out[key][i] / c ** POWER.get(key, 0)
            ref = out[key][base[n]]
            worst[key] = max(worst[key], abs(ours - ref) / max(abs(ref), 1e-300))
    return worst


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("method", METHODS)
def test_rma_scales_with_the_data(method, test):
    Y, V, M, rows = padded()
    out = rma_batch(Y, V, M, method=method, test=test)
    assert out["converged"].all()
    base = {n: i for i, (n, c) in enumerate(rows) if c == 1.0}
    unit = {n: np.sqrt(np.max(DATA[n]["vi"])) for n in NAMES}
    for i, (n, c) in enumerate(rows):
        ref = metafor_fit(n, method, test)
        j = base[n]
        for key, p in POWER.items():
            scale = c**p
            what = f"{n} c={c:g} {method} {test} {key}"
            u = unit[n] ** p  # the statistic's unit, for absolute tolerances at 0
            np.testing.assert_allclose(
                out[key][i] / scale, out[key][j], rtol=1e-8, atol=1e-12 * u, err_msg=what
            )
            expected = ref[key]
            if expected == []:  # metafor gives no PI for EE: tau^2 = 0, so it is the CI
                expected = ref[key.replace("pi", "ci")]
            np.testing.assert_allclose(
                out[key][i], expected * scale, rtol=1e-6, atol=1e-10 * u * scale, err_msg=what
            )
        for key in PVALS:
            what = f"{n} c={c:g} {method} {test} {key}"
            np.testing.assert_allclose(out[key][i], out[key][j], rtol=1e-8, atol=1e-14)
            np.testing.assert_allclose(out[key][i], ref[key], rtol=0, atol=1e-8, err_msg=what)
        k = len(DATA[n]["yi"])
        np.testing.assert_allclose(out["weights"][i, :k], out["weights"][j, :k], rtol=1e-8)
        np.testing.assert_allclose(out["weights"][i, :k], ref["weights"], rtol=1e-6)


def test_q_profile_interval_scales_with_the_data():
    Y, V, M, rows = padded()
    ci = confint_tau2_batch(Y, V, M)
    base = {n: i for i, (n, c) in enumerate(rows) if c == 1.0}
    for i, (n, c) in enumerate(rows):
        ref = REF["confint"][n]
        u = np.max(DATA[n]["vi"])
        for key, p in (("tau2_lb", 2), ("tau2_ub", 2), ("I2_lb", 0), ("I2_ub", 0),
                       ("H2_lb", 0), ("H2_ub", 0)):  # fmt: skip
            what = f"{n} c={c:g} {key}"
            scale = c**p
            np.testing.assert_allclose(
                ci[key][i] / scale, ci[key][base[n]], rtol=1e-8, atol=1e-12 * u**p, err_msg=what
            )
            np.testing.assert_allclose(
                ci[key][i], ref[key] * scale, rtol=1e-6, atol=1e-10 * u**p * scale, err_msg=what
            )


@pytest.mark.parametrize("method", ["REML", "PM", "ML", "DL", "EE"])
def test_egger_and_trim_and_fill_scale_with_the_data(method):
    """The meta-regression (Egger's test) and trim-and-fill's refits."""
    for n in ("bcg", "normand_md", "hackshaw", "unequal_variances"):
        y, v = np.asarray(DATA[n]["yi"]), np.asarray(DATA[n]["vi"])
        res = rma(y, v, method=method)
        rt, tf = regtest(res), trimfill(res)
        for c in SCALES:
            what = f"{n} c={c:g} {method}"
            res_c = rma(c * y, c * c * v, method=method)
            rt_c, tf_c = regtest(res_c), trimfill(res_c)
            assert rt_c["zval"] == pytest.approx(rt["zval"], rel=1e-8), what
            assert rt_c["pval"] == pytest.approx(rt["pval"], rel=1e-8, abs=1e-14), what
            for key in ("est", "ci_lb", "ci_ub"):
                assert rt_c[key] / c == pytest.approx(rt[key], rel=1e-8), what
            assert (tf_c["k0"], tf_c["side"]) == (tf["k0"], tf["side"]), what
            fit, fit_c = tf["fit"], tf_c["fit"]
            assert fit_c.estimate / c == pytest.approx(fit.estimate, rel=1e-8), what
            assert fit_c.tau2 / c**2 == pytest.approx(fit.tau2, rel=1e-8, abs=1e-14), what


def test_small_effects_match_metafor_scaled():
    """The issue's example: effects around 1e-4 and variances around 1e-10 (a data set
    scaled by 1e-4); tau^2 was 4 % (REML), 28 % (ML) and 62 % (PM, EB) off."""
    c = 1e-4
    for n in ("bcg", "hackshaw", "normand_smd"):
        d = DATA[n]
        for method in ("REML", "ML", "PM", "EB"):
            res = rma(c * np.asarray(d["yi"]), c * c * np.asarray(d["vi"]), method=method)
            ref = metafor_fit(n, method, "z")
            assert res.tau2 == pytest.approx(ref["tau2"] * c * c, rel=1e-6), (n, method)
            assert res.estimate == pytest.approx(ref["estimate"] * c, rel=1e-6), (n, method)
