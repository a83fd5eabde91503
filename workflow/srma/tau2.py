"""Estimators of the between-study variance tau^2, vectorised over many meta-analyses.

Every function works on padded 2-D arrays: row ``b`` of ``Y`` (effects ``yi``) and ``V``
(sampling variances ``vi``) is one meta-analysis, and ``M`` (0/1) marks which cells hold
a study. Rows are independent; nothing loops over rows in Python.

Estimators (intercept-only random-effects model, ``k`` studies, ``w_i = 1/(v_i + tau^2)``,
``mu(tau^2) = sum w y / sum w`` and the generalised ``Q(tau^2) = sum w (y - mu)^2``;
definitions as in metafor 3.8's ``rma.uni`` documentation and Viechtbauer 2005,
J Educ Behav Stat 30:261-293):

``EE``/``FE``  tau^2 = 0 (common effect).
``DL``  DerSimonian & Laird 1986: ``(Q(0) - (k-1)) / (sum w0 - sum w0^2 / sum w0)``, with
        ``w0 = 1/v``, truncated at 0.
``HE``  Hedges 1983 (method of moments, unweighted): ``(sum (y - ybar)^2 - (k-1)/k sum v)
        / (k-1)``, truncated at 0.
``HS``  Hunter & Schmidt 2004: ``(Q(0) - k) / sum w0``, truncated at 0.
``SJ``  Sidik & Jonkman 2005: ``t0 = sum (y - ybar)^2 / k`` then ``t0 Q(t0) / (k-1)``.
``ML``  maximum likelihood: root of ``sum w^2 (y-mu)^2 - sum w``.
``REML`` restricted ML: root of ``sum w^2 (y-mu)^2 - tr(P)``,
        ``tr(P) = sum w - sum w^2 / sum w``.
``PM``  Paule & Mandel 1982: root of ``Q(tau^2) = k - 1``.
``EB``  empirical Bayes (Morris 1983); for models without moderators its estimating
        equation is PM's, so metafor's EB and PM agree; srma computes both as PM.

ML, REML and PM are solved to an absolute tolerance of 1e-10 on tau^2 by a safeguarded
Newton (Fisher scoring) iteration inside a bracket ``[lo, hi]`` that always holds a
sign change of the estimating equation: a step that leaves the bracket is replaced by
bisection, so every row converges (no divergence or oscillation as with plain Fisher
scoring, which metafor uses and which fails on some small data sets). The boundary is
checked first: when the estimating equation is <= 0 at tau^2 = 0 the optimum is on the
boundary and tau^2 = 0 (as in metafor).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

METHODS = ("EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
ITERATIVE = ("ML", "REML", "EB", "PM")

#: absolute convergence tolerance on tau^2
TOL = 1e-10


def _sums(Y, V, M, t):
    """Weights and weighted sums at tau^2 = ``t`` (one value per row)."""
    w = M / (V + t[:, None])
    sw = w.sum(axis=1)
    mu = (w * Y).sum(axis=1) / sw
    r = Y - mu[:, None]
    return w, sw, mu, r


def generalised_q(Y, V, M, t) -> np.ndarray:
    """``Q(tau^2) = sum w_i (y_i - mu)^2`` with ``w_i = 1/(v_i + tau^2)``."""
    w, _, _, r = _sums(Y, V, M, t)
    return (w * r * r).sum(axis=1)


def _eq(method: str, Y, V, M, k) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Estimating equation ``f(t)`` (positive left of the root) and its Newton step.

    For ML and REML the step is Fisher scoring's ``U / I``; for PM it is Newton's
    ``-f / f'`` with ``dQ/dtau^2 = -sum w^2 (y - mu)^2``.
    """

    def f(t):
        w, sw, _, r = _sums(Y, V, M, t)
        w2 = w * w
        s2 = w2.sum(axis=1)
        wr2 = (w2 * r * r).sum(axis=1)
        if method == "REML":
            s3 = (w2 * w).sum(axis=1)
            u = wr2 - (sw - s2 / sw)
            info = s2 - 2 * s3 / sw + (s2 / sw) ** 2
            return u, u / info
        if method == "ML":
            u = wr2 - sw
            return u, u / s2
        # PM / EB
        q = (w * r * r).sum(axis=1)
        g = q - (k - 1)
        return g, g / wr2

    return f


def solve_root(
    f: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    n: int,
    hi0: np.ndarray,
    *,
    tol: float = TOL,
    maxiter: int = 200,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised safeguarded Newton root search of a decreasing-at-root ``f`` on
    ``[0, inf)``.

    Returns ``(t, converged, iterations)``. Rows with ``f(0) <= 0`` get ``t = 0``
    (boundary optimum). Otherwise the upper end is found by doubling ``hi0`` until
    ``f(hi) < 0``; then each iteration takes the Newton step when it stays strictly
    inside the bracket and bisects otherwise, shrinking the bracket by the sign of
    ``f`` at the new point. Stops when the step (or the bracket width) is below
    ``tol * max(1, t)``.
    """
    zero = np.zeros(n)
    f0, _ = f(zero)
    active = f0 > 0
    t = zero.copy()
    its = np.zeros(n, dtype=np.int64)
    converged = ~active | ~np.isfinite(f0)
    active &= np.isfinite(f0)
    if not active.any():
        return t, converged, its
    lo = zero.copy()
    hi = np.where(active, np.maximum(hi0, 1e-8), 1.0)
    fh, _ = f(hi)
    for _ in range(200):
        grow = active & (fh >= 0)
        if not grow.any():
            break
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, hi * 4, hi)
        fh, _ = f(hi)
    # start from the midpoint-free Newton step at lo (= 0 or the last grown point)
    t = np.where(active, lo, 0.0)
    ft, step = f(t)
    for it in range(1, maxiter + 1):
        new = t + step
        inside = np.isfinite(new) & (new > lo) & (new < hi)
        new = np.where(inside, new, 0.5 * (lo + hi))
        new = np.where(active, new, t)
        delta = np.abs(new - t)
        t = new
        its = np.where(active, it, its)
        ft, step = f(t)
        pos = ft > 0
        lo = np.where(active & pos, t, lo)
        hi = np.where(active & ~pos, t, hi)
        scale = np.maximum(1.0, t)
        done = active & ((delta <= tol * scale) | (hi - lo <= tol * scale) | (ft == 0))
        converged |= done
        active &= ~done
        if not active.any():
            break
    return t, converged, its


def estimate_tau2(
    method: str, Y: np.ndarray, V: np.ndarray, M: np.ndarray, *, tol: float = TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tau^2 per row by ``method``; returns ``(tau2, converged, iterations)``.

    ``Y``, ``V`` and ``M`` are float arrays of shape ``(B, K)``; masked cells must hold
    finite placeholders (``Y = 0``, ``V = 1``). Rows with fewer than 2 studies get
    ``tau2 = 0``.
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unknown tau^2 estimator {method!r}; expected one of {METHODS}")
    n = Y.shape[0]
    k = M.sum(axis=1)
    ok = k >= 2
    kk = np.where(ok, k, 2.0)
    conv = np.ones(n, dtype=bool)
    its = np.zeros(n, dtype=np.int64)
    zero = np.zeros(n)
    if method in ("EE", "FE"):
        return zero, conv, its
    w0 = M / V
    sw0 = w0.sum(axis=1)
    ybar = (M * Y).sum(axis=1) / np.where(ok, k, 1.0)
    rss = (M * (Y - ybar[:, None]) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "DL":
            q0 = generalised_q(Y, V, M, zero)
            c = sw0 - (w0 * w0).sum(axis=1) / sw0
            t = np.maximum(0.0, (q0 - (kk - 1)) / c)
        elif method == "HE":
            t = np.maximum(0.0, (rss - (kk - 1) / kk * (M * V).sum(axis=1)) / (kk - 1))
        elif method == "HS":
            q0 = generalised_q(Y, V, M, zero)
            t = np.maximum(0.0, (q0 - kk) / sw0)
        elif method == "SJ":
            t0 = rss / kk
            t = t0 * generalised_q(Y, V, M, t0) / (kk - 1)
        else:
            eq = "PM" if method in ("PM", "EB") else method
            f = _eq(eq, Y, V, M, kk)
            # upper start: the unweighted spread of the effects (tau^2 beyond it gives a
            # negative equation for all three estimators); doubled on demand.
            hi0 = rss / np.maximum(kk - 1, 1) + (M * V).max(axis=1)
            t, conv, its = solve_root(f, n, hi0, tol=tol)
    t = np.where(ok, t, 0.0)
    return t, conv, its
