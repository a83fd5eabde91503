"""Small-study effects: Egger's regression test and trim-and-fill.

Both need a meta-regression on a study-level predictor (the standard error), so this
module also holds :func:`rma_mods`, a single-fit mixed-effects meta-regression with the
same tau^2 estimators as :mod:`srma.tau2` in matrix form (metafor ``rma(yi, vi,
mods=...)``): with ``W = diag(1/(v + tau^2))`` and
``P = W - W X (X'WX)^-1 X'W``, REML solves ``y'PPy = tr(P)``, ML ``y'PPy = tr(W)``,
PM/EB ``y'Py = k - p``; DL is ``(y'P0 y - (k-p)) / tr(P0)`` with ``W0 = diag(1/v)``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from srma.tau2 import METHODS, solve_root


def _p_matrix(X, w):
    W = np.diag(w)
    A = X.T @ W @ X
    Ainv = np.linalg.inv(A)
    P = W - W @ X @ Ainv @ X.T @ W
    return Ainv, P


def rma_mods(yi, vi, X, *, method="REML", test="z", level=95) -> dict:
    """Meta-regression of ``yi`` on the columns of ``X`` (intercept included by the caller).

    Returns ``b, se, zval, pval, ci_lb, ci_ub`` (arrays, one per coefficient), ``tau2``,
    ``dfs`` (``k - p`` under t tests).
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    X = np.asarray(X, dtype=float)
    k, p = X.shape
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    _, P0 = _p_matrix(X, 1 / v)
    if method in ("EE", "FE"):
        t2 = 0.0
    elif method == "DL":
        t2 = max(0.0, (y @ P0 @ y - (k - p)) / np.trace(P0))
    elif method == "HS":
        t2 = max(0.0, (y @ P0 @ y - k) / np.sum(1 / v))
    elif method == "HE":
        Pi = np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T
        t2 = max(0.0, (y @ Pi @ y - np.trace(Pi @ np.diag(v))) / (k - p))
    elif method == "SJ":
        t0 = np.var(y) * (k - 1) / k
        _, Pt = _p_matrix(X, 1 / (v + t0))
        t2 = float(t0 * (y @ Pt @ y) / (k - p))
    else:

        def f(t):
            _, P = _p_matrix(X, 1 / (v + t[0]))
            Py = P @ y
            if method == "REML":
                u = Py @ Py - np.trace(P)
                return np.array([u]), np.array([u / np.trace(P @ P)])
            if method == "ML":
                w = 1 / (v + t[0])
                u = Py @ Py - w.sum()
                return np.array([u]), np.array([u / (w * w).sum()])
            g = y @ Py - (k - p)
            return np.array([g]), np.array([g / (Py @ Py)])

        hi0 = np.array([np.var(y) * k / max(k - p, 1) + v.max()])
        t2 = float(solve_root(f, 1, hi0)[0][0])
    w = 1 / (v + t2)
    Ainv, P = _p_matrix(X, w)
    b = Ainv @ X.T @ (w * y)
    vb = Ainv.copy()
    alpha = 1 - level / 100
    if test in ("knha", "adhoc"):
        s2w = float(y @ P @ y) / (k - p)
        vb = vb * (max(1.0, s2w) if test == "adhoc" else s2w)
    se = np.sqrt(np.diag(vb))
    zval = b / se
    if test == "z":
        pval = 2 * stats.norm.sf(np.abs(zval))
        crit = stats.norm.isf(alpha / 2)
        dfs = None
    else:
        dfs = k - p
        pval = 2 * stats.t.sf(np.abs(zval), dfs)
        crit = stats.t.isf(alpha / 2, dfs)
    return {
        "b": b,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": b - crit * se,
        "ci_ub": b + crit * se,
        "tau2": t2,
        "dfs": dfs,
    }


def regtest(
    yi, vi, *, model="rma", predictor="sei", method="REML", test="z", level=95
) -> dict[str, float]:
    """Egger's regression test for funnel-plot asymmetry (metafor ``regtest``).

    ``model="rma"`` (metafor's default): the meta-regression ``yi ~ sei`` fitted with
    the same tau^2 ``method`` and ``test`` as the main model; ``model="lm"``: Egger et
    al.'s (1997, BMJ 315:629) weighted least squares ``lm(yi ~ sei, weights = 1/vi)``
    with a t test on ``k - 2`` df. ``predictor`` is ``"sei"`` (standard error),
    ``"vi"``, ``"ni"``-free variants are not offered.

    Returns ``zval`` (t under t tests), ``pval``, ``dfs``, and the limit estimate
    ``est`` (intercept: the effect at se = 0) with ``ci_lb, ci_ub``.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if predictor not in ("sei", "vi"):
        raise ValueError("predictor must be 'sei' or 'vi'")
    x = np.sqrt(vi) if predictor == "sei" else vi
    X = np.column_stack([np.ones_like(x), x])
    if model == "rma":
        fit = rma_mods(yi, vi, X, method=method, test=test, level=level)
    elif model == "lm":
        fit = rma_mods(yi, vi, X, method="EE", test="knha", level=level)
    else:
        raise ValueError("model must be 'rma' or 'lm'")
    return {
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
    yi, vi, *, side=None, estimator="L0", method="REML", test="z", level=95, maxiter=100
) -> dict:
    """Duval & Tweedie's (2000, Biometrics 56:455) trim-and-fill (metafor ``trimfill``).

    ``side`` (where the missing studies are) is, when not given, chosen by the sign of
    the slope in the regression ``yi ~ sei`` fitted with ``method``: a negative slope
    puts the missing studies on the right, otherwise on the left (metafor's rule).
    ``estimator`` is ``"L0"`` (default) or ``"R0"``. The trimming iterations fit the
    intercept-only model with ``method``; ``k0`` is rounded and truncated at 0.

    Returns ``k0``, ``side``, the filled data (``yi_fill``, ``vi_fill``) and ``fit``,
    the :class:`srma.pooling.RMAResult` of observed plus filled studies.
    """
    from srma.pooling import rma

    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.size
    if side is None:
        X = np.column_stack([np.ones(k), np.sqrt(vi)])
        slope = rma_mods(yi, vi, X, method=method)["b"][1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError("side must be 'left' or 'right'")
    if estimator not in ("L0", "R0"):
        raise ValueError("estimator must be 'L0' or 'R0'")
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
        test=test,
        level=level,
    )
    return {"k0": k0, "side": side, "yi_fill": y_fill, "vi_fill": v_fill, "fit": fit}
