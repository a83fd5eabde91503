"""Mixed-effects meta-regression on study-level predictors (metafor ``rma(yi, vi,
mods=X, intercept=FALSE)``), one fit at a time.

Used by :mod:`srma.bias` (Egger's regression test, the side of trim-and-fill). The
tau^2 estimators are those of :mod:`srma.tau2` written in matrix form (metafor 3.8
``rma.uni``; Viechtbauer 2005, J Educ Behav Stat 30:261-293; Raudenbush 2009, in The
Handbook of Research Synthesis, 2nd ed., ch. 16). With ``k`` studies, ``p`` columns of
``X``, ``W = diag(1/(v + tau^2))`` and ``P = W - W X (X'WX)^-1 X'W``:

- ``EE``/``FE``: tau^2 = 0.
- ``DL``: ``(y'P0 y - (k-p)) / tr(P0)`` with ``W0 = diag(1/v)``, truncated at 0.
- ``HS``: ``(y'P0 y - k) / sum 1/v``, truncated at 0.
- ``HE``: ``(y'(I - H) y - tr((I - H) V)) / (k-p)``, ``H = X (X'X)^-1 X'``, truncated
  at 0.
- ``SJ``: ``t0 y'P(t0) y / (k-p)`` with ``t0 = sum (y - ybar)^2 / k``.
- ``REML`` solves ``y'PPy = tr(P)``, ``ML`` ``y'PPy = tr(W)``, ``PM``/``EB``
  ``y'Py = k - p``, by :func:`srma.tau2.solve_root` (root bracketed).

tau^2 is computed on rescaled data ``y / sqrt(s)``, ``v / s`` with ``s = min v`` (no
centring: ``X`` need not hold an intercept) and multiplied by ``s``, so the root
search stops at ``1e-10 * max(s, tau^2)``, relative to the data's scale, and effects
``c y`` with variances ``c^2 v`` give ``c^2 tau^2`` for any ``c`` (as in
:mod:`srma.tau2`).

Coefficients ``b = (X'WX)^-1 X'Wy`` with ``var(b) = (X'WX)^-1``; under ``test="knha"``
multiplied by ``s2w = y'Py / (k-p)`` (``"adhoc"``: ``max(1, s2w)``) and tested with t on
``k - p`` df (``"t"``: the same without the factor); under ``"z"`` Wald z. With
``method="EE"`` and ``test="knha"`` this is weighted least squares with weights ``1/v``
(R's ``lm(y ~ X - 1, weights = 1/v)``): ``s2w`` is its residual variance.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from srma.tau2 import METHODS, solve_root

TESTS = ("z", "t", "knha", "adhoc")


def _p_matrix(X, w):
    W = np.diag(w)
    A = X.T @ W @ X
    Ainv = np.linalg.inv(A)
    P = W - W @ X @ Ainv @ X.T @ W
    return Ainv, P


def _tau2(y, v, X, method: str) -> float:
    """tau^2 of the meta-regression by ``method`` (see the module docstring)."""
    s = float(v.min())
    return s * _tau2_scaled(y / np.sqrt(s), v / s, X, method)


def _tau2_scaled(y, v, X, method: str) -> float:
    """:func:`_tau2` of data whose smallest sampling variance is 1."""
    k, p = X.shape
    _, P0 = _p_matrix(X, 1 / v)
    if method in ("EE", "FE"):
        return 0.0
    if method == "DL":
        return max(0.0, (y @ P0 @ y - (k - p)) / np.trace(P0))
    if method == "HS":
        return max(0.0, (y @ P0 @ y - k) / np.sum(1 / v))
    if method == "HE":
        Pi = np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T
        return max(0.0, (y @ Pi @ y - np.trace(Pi @ np.diag(v))) / (k - p))
    if method == "SJ":
        t0 = np.var(y) * (k - 1) / k
        _, Pt = _p_matrix(X, 1 / (v + t0))
        return float(t0 * (y @ Pt @ y) / (k - p))

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
    return float(solve_root(f, 1, hi0)[0][0])


def rma_mods(yi, vi, X, *, method="REML", test="z", level=95, tau2=None) -> dict:
    """Meta-regression of ``yi`` on the columns of ``X`` (intercept included by the
    caller), as metafor ``rma(yi, vi, mods = X, intercept = FALSE, method, test,
    level, tau2)``.

    ``tau2`` fixes tau^2 instead of estimating it. Returns ``b, se, zval, pval, ci_lb,
    ci_ub`` (arrays, one per coefficient; ``zval`` holds t under t tests), ``tau2`` and
    ``dfs`` (``k - p`` under t tests, else None).
    """
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != y.size or v.size != y.size:
        raise ValueError("yi, vi and the rows of X differ in length")
    for name, values in (("yi", y), ("vi", v), ("X", X)):
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            raise ValueError(f"study {bad[0][0] + 1}: {name} is not finite; no study is left out")
    if (v <= 0).any():
        j = int(np.flatnonzero(v <= 0)[0])
        raise ValueError(
            f"study {j + 1}: vi = {float(v[j])!r}; sampling variances vi must be positive"
        )
    k, p = X.shape
    if k <= p:
        raise ValueError(f"{k} studies for {p} coefficients: the model cannot be fitted")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the model matrix is not of full rank: the model cannot be fitted")
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    test = test.lower()
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {TESTS}")
    t2 = _tau2(y, v, X, method) if tau2 is None else float(tau2)
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
