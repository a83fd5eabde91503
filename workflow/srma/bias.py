"""Small-study effects of a fitted model: Egger's regression test and trim-and-fill.

Both take the :class:`srma.pooling.RMAResult` of the main model, as metafor's
``regtest(res)`` and ``trimfill(res)`` do, and refit with its studies and settings
(``method``, ``test``, ``level``). The meta-regression they need is
:func:`srma.regression.rma_mods`.
"""

from __future__ import annotations

import numpy as np

from srma.pooling import RMAResult, rma
from srma.regression import rma_mods

PREDICTORS = ("sei", "vi")
MODELS = ("rma", "lm")
ESTIMATORS = ("L0", "R0")


def _fit(res, name: str) -> RMAResult:
    if not isinstance(res, RMAResult):
        raise TypeError(f"{name} takes a fitted model: {name}(rma(yi, vi, ...))")
    return res


def regtest(res: RMAResult, model: str = "rma", predictor: str = "sei") -> dict:
    """Egger's regression test for funnel-plot asymmetry (metafor ``regtest(res,
    model, predictor)``; Egger et al. 1997, BMJ 315:629; Sterne & Egger 2005, in
    Publication Bias in Meta-Analysis, ch. 6).

    The effects are regressed on ``predictor`` (``"sei"``: ``sqrt(vi)``, the standard
    error, metafor's default; ``"vi"``: the sampling variance) with an intercept:

    - ``model="rma"`` (metafor's default): the mixed-effects meta-regression
      ``yi ~ sei`` with the fitted model's tau^2 ``method`` (its tau^2 when that was
      fixed), ``test`` and ``level``;
    - ``model="lm"``: Egger's weighted least squares ``lm(yi ~ sei, weights = 1/vi)``,
      a t test on ``k - 2`` df (:func:`srma.regression.rma_mods` with ``method="EE"``,
      ``test="knha"`` computes exactly this).

    Returns a dict: ``zval`` (t under t tests and for ``"lm"``) and ``pval`` of the
    slope, ``dfs`` (``k - 2``; None under ``test="z"``), the limit estimate ``est``
    (intercept: the effect at se = 0, metafor's ``est``) with ``ci_lb, ci_ub`` at the
    model's ``level``, the ``slope``, and ``model``, ``predictor``, ``k``.
    """
    res = _fit(res, "regtest")
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {PREDICTORS}, not {predictor!r}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    x = res.sei if predictor == "sei" else res.vi
    X = np.column_stack([np.ones_like(x), x])
    if model == "rma":
        fit = rma_mods(
            res.yi,
            res.vi,
            X,
            method=res.method,
            test=res.test,
            level=res.level,
            tau2=res.tau2 if res.tau2_fix else None,
        )
    else:
        fit = rma_mods(res.yi, res.vi, X, method="EE", test="knha", level=res.level)
    return {
        "model": model,
        "predictor": predictor,
        "k": res.k,
        "zval": float(fit["zval"][1]),
        "pval": float(fit["pval"][1]),
        "dfs": fit["dfs"],
        "est": float(fit["b"][0]),
        "ci_lb": float(fit["ci_lb"][0]),
        "ci_ub": float(fit["ci_ub"][0]),
        "slope": float(fit["b"][1]),
    }


def _ranks_first(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties broken by position (R ``rank(ties.method="first")``)."""
    order = np.argsort(a, kind="stable")
    r = np.empty(a.size, dtype=float)
    r[order] = np.arange(1, a.size + 1)
    return r


def trimfill(
    res: RMAResult,
    side: str | None = None,
    estimator: str = "L0",
    *,
    test: str | None = None,
    level: float | None = None,
    maxiter: int = 100,
) -> dict:
    """Duval & Tweedie's (2000, Biometrics 56:455) trim-and-fill (metafor
    ``trimfill(res, side, estimator)``).

    ``side`` (where the missing studies are) is, when not given, chosen by the sign of
    the slope in the meta-regression ``yi ~ sei`` fitted with the model's ``method``: a
    negative slope puts the missing studies on the right, otherwise on the left
    (metafor's rule). The effects are flipped so that the missing studies are on the
    left and sorted; then, until ``k0`` no longer changes, the ``k0`` largest are
    trimmed, the intercept-only model is fitted to the others (``method``), and ``k0``
    is re-estimated from the signed ranks ``r_i`` of ``|y_i - beta|`` over all ``k``
    studies (ties by position):

    - ``L0 = (4 T_n - k (k + 1)) / (2 k - 1)``, ``T_n`` the sum of the positive ranks;
    - ``R0 = gamma - 1``, ``gamma`` the length of the rightmost run of positive ranks
      (``k`` minus the largest rank of a negative deviation);

    rounded and truncated to ``0 .. k - 1``. The ``k0`` trimmed studies are mirrored
    about the last centre, ``2 beta - y``, and the model (``method``) refitted to
    observed plus filled studies, with ``test`` and ``level`` (default: the model's).
    metafor refits the filled data with ``rma.uni``'s defaults (``test="z"``,
    ``level=95``) unless they are passed to ``trimfill`` (and returns the model itself
    when ``k0 = 0``): ``trimfill(res, test="z", level=95)`` gives its numbers for a model
    fitted with another test or level.

    The iteration ends on an integer (``k0`` unchanged), not on a tolerance; each
    refit is :func:`srma.pooling.rma` (and the side's slope
    :func:`srma.regression.rma_mods`), whose tau^2 is solved on standardised data to a
    tolerance relative to the data's scale, so ``k0``, the side and the filled studies
    do not depend on the units (effects ``c yi`` with variances ``c^2 vi`` give the same
    ``k0`` and ``c`` times the filled effects; tested for ``c = 1e-6 .. 1e6``).

    Returns a dict: ``k0``, ``side``, ``estimator``, the filled studies ``yi_fill``,
    ``vi_fill`` and ``fit``, the :class:`srma.pooling.RMAResult` of observed plus
    filled studies (filled ones labelled ``"Filled 1"``, ... as in metafor).
    """
    res = _fit(res, "trimfill")
    yi, vi, k = res.yi, res.vi, res.k
    method = res.method
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}")
    if side is None:
        X = np.column_stack([np.ones(k), res.sei])
        slope = rma_mods(yi, vi, X, method=method)["b"][1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    sgn = -1.0 if side == "right" else 1.0
    y = sgn * yi
    order = np.argsort(y, kind="stable")
    y, v = y[order], vi[order]
    k0, prev, it = 0, -1, 0
    while k0 != prev:
        prev = k0
        it += 1
        if it > maxiter:
            raise RuntimeError("trim-and-fill did not converge")
        beta = rma(y[: k - k0], v[: k - k0], method=method).estimate
        c = y - beta
        signed = np.sign(c) * _ranks_first(np.abs(c))
        if estimator == "L0":
            sr = signed[signed > 0].sum()
            est = (4 * sr - k * (k + 1)) / (2 * k - 1)
        else:
            neg = signed[signed < 0]
            est = k - (np.max(-neg) if neg.size else 0) - 1
        k0 = int(max(0, np.round(est)))
        k0 = min(k0, k - 1)
    if k0 > 0:
        y_fill = 2 * beta - y[k - k0 :]
        v_fill = v[k - k0 :]
    else:
        y_fill, v_fill = np.empty(0), np.empty(0)
    y_fill = sgn * y_fill
    fit = rma(
        np.concatenate([yi, y_fill]),
        np.concatenate([vi, v_fill]),
        method=method,
        test=res.test if test is None else test,
        level=res.level if level is None else level,
        slab=[*res.slab, *(f"Filled {j + 1}" for j in range(k0))],
    )
    return {
        "k0": k0,
        "side": side,
        "estimator": estimator,
        "yi_fill": y_fill,
        "vi_fill": v_fill,
        "fit": fit,
    }
