"""Small-study effects of a fitted model: Egger's regression test, Begg's rank
correlation test and trim-and-fill.

Each takes the :class:`srma.pooling.RMAResult` of the main model, as metafor's
``regtest(res)``, ``ranktest(res)`` and ``trimfill(res)`` do, and refits with its
studies and settings (``method``, ``test``, ``level``). The meta-regression they need
is :func:`srma.regression.rma_mods`. ``ranktest`` also takes a Mantel-Haenszel or Peto
fit (:class:`srma.binary.BinaryResult`: its per-study outcomes), as metafor's does.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

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


def _kendall_exact_cdf(n: int) -> np.ndarray:
    """``P(T <= q)``, ``q = 0 .. n(n-1)/2``, for the number ``T`` of concordant pairs of
    ``n`` untied observations under independence (the Mahonian distribution of
    inversions; R's ``pkendall``), by the recursion ``c_n(q) = sum_{j<n} c_{n-1}(q-j)``
    on probabilities."""
    p = np.ones(1)
    for m in range(2, n + 1):
        c = np.concatenate([[0.0], np.cumsum(p)])  # c[i] = sum p[:i]
        size = p.size + m - 1
        idx = np.arange(size)
        hi = np.minimum(idx + 1, p.size)
        lo = np.maximum(idx - m + 1, 0)
        p = (c[hi] - c[lo]) / m
    return np.cumsum(p)


def kendall(x, y) -> tuple[float, float]:
    """Kendall's tau-b of ``x`` and ``y`` and its two-sided p-value as R's
    ``cor.test(x, y, method = "kendall", exact = TRUE)``: the exact permutation p-value
    when neither has ties, else the normal approximation with the variance corrected for
    ties (no continuity correction)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = x.size
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(n, 1)
    s = float((sx * sy)[iu].sum())
    n0 = n * (n - 1) / 2

    def ties(a):
        _, counts = np.unique(a, return_counts=True)
        return counts[counts > 1].astype(float)

    tx, ty = ties(x), ties(y)
    t1, t2 = (tx * (tx - 1)).sum() / 2, (ty * (ty - 1)).sum() / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = s / np.sqrt((n0 - t1) * (n0 - t2))
    if not np.isfinite(r):
        return float("nan"), float("nan")
    if tx.size == 0 and ty.size == 0:
        q = int(np.round((r + 1) * n * (n - 1) / 4))
        cdf = _kendall_exact_cdf(n)
        upper = q > n * (n - 1) / 4
        p = 1 - (cdf[q - 1] if q >= 1 else 0.0) if upper else cdf[q]
        return float(r), float(min(2 * p, 1.0))
    S = r * np.sqrt((n0 - t1) * (n0 - t2))
    v0 = n * (n - 1) * (2 * n + 5)
    vt = (tx * (tx - 1) * (2 * tx + 5)).sum()
    vu = (ty * (ty - 1) * (2 * ty + 5)).sum()
    v1 = (tx * (tx - 1)).sum() * (ty * (ty - 1)).sum()
    v2 = (tx * (tx - 1) * (tx - 2)).sum() * (ty * (ty - 1) * (ty - 2)).sum()
    var_s = (v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1)) + v2 / (9 * n * (n - 1) * (n - 2))
    z = S / np.sqrt(var_s)
    return float(r), float(2 * min(ndtr(z), ndtr(-z)))


def ranktest(res) -> dict:
    """Begg & Mazumdar's (1994, Biometrics 50:1088) rank correlation test for
    funnel-plot asymmetry (metafor ``ranktest(res)``).

    The standardised deviates ``(yi - theta) / sqrt(vi - vb)`` from the common-effect
    estimate ``theta`` (inverse-variance weights, ``vb = 1/sum(1/vi)``) are correlated
    with ``vi`` by Kendall's tau (:func:`kendall`: exact p-value without ties, as
    metafor's default ``exact = TRUE``; with ties the normal approximation R falls back
    to). Uses the fit's studies only (``yi``, ``vi``); for Mantel-Haenszel and Peto fits
    their per-study outcomes (double-zero studies have none). Returns ``tau``, ``pval``
    and ``k``.
    """
    if not (hasattr(res, "yi") and hasattr(res, "vi") and hasattr(res, "method")):
        raise TypeError("ranktest takes a fitted model: ranktest(rma(yi, vi, ...))")
    yi, vi = np.asarray(res.yi, dtype=float), np.asarray(res.vi, dtype=float)
    ok = np.isfinite(yi) & np.isfinite(vi)
    yi, vi = yi[ok], vi[ok]
    if yi.size < 3:
        raise ValueError(f"the rank correlation test needs at least 3 studies (k = {yi.size})")
    w = 1 / vi
    theta = (w * yi).sum() / w.sum()
    vstar = vi - 1 / w.sum()
    tau, p = kendall((yi - theta) / np.sqrt(vstar), vi)
    return {"tau": tau, "pval": p, "k": int(yi.size)}


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
