"""Mixed-effects meta-regression with metafor's numbers (``rma(yi, vi, mods = ...)``),
vectorised over many fits.

:func:`rma_mods_batch` fits one meta-regression per row of padded arrays ``Y``, ``V``
(``(n, k)``) and model matrices ``X`` (``(n, k, p)``; one ``(k, p)`` matrix is used for
every row), with batched ``p x p`` algebra (``einsum`` over the rows, no loop over fits).
:func:`rma_reg` fits one and returns a :class:`RegressionResult` that prints like
metafor; :func:`design_matrix` builds ``X`` from numeric and categorical moderators
(treatment coding, the alphabetically first level the reference, an intercept first,
columns named as R's ``model.matrix``: ``intrcpt``, ``ablat``, ``allocrandom``).
:func:`rma_mods` (one fit, a dict) is what Egger's test in :mod:`srma.bias` uses.

With ``k`` studies, ``p`` coefficients, ``W = diag(1/(v + tau^2))`` and
``P = W - W X (X'WX)^-1 X'W`` (metafor 3.8 ``rma.uni``; Viechtbauer 2005, J Educ Behav
Stat 30:261; Raudenbush 2009, Handbook of Research Synthesis ch. 16), tau^2 by:

- ``EE``/``FE``: 0.
- ``DL``: ``(y'P0 y - (k-p)) / tr(P0)`` with ``W0 = diag(1/v)``; ``HS``:
  ``(y'P0 y - k) / sum 1/v``; ``HSk``: ``(k/(k-p) y'P0 y - k) / sum 1/v``; ``HE``:
  ``(y'(I-H) y - tr((I-H) V)) / (k-p)``, ``H = X (X'X)^-1 X'``; all truncated at 0.
- ``SJ``: ``t0 y'P(t0) y / (k-p)`` with ``t0 = sum (y - ybar)^2 / k``.
- ``REML`` solves ``y'PPy = tr(P)`` and ``ML`` ``y'PPy = tr(W)`` (the maximum of the
  (restricted) likelihood, bracketed on a grid as in :mod:`srma.tau2`); ``PM``/``EB``
  ``y'Py = k - p``; ``PMM`` ``y'Py = chi2_{0.5, k-p}``.

As metafor, the effects are centred (``y - ybar``) for estimating tau^2 and for ``QE``
(the same as uncentred ones when ``X`` holds an intercept). Coefficients
``b = (X'WX)^-1 X'Wy``, ``vb = (X'WX)^-1``; ``test="knha"`` multiplies ``vb`` by
``s2w = sum w (y - Xb)^2 / (k-p)`` (``"adhoc"``: by ``max(1, s2w)``), and t tests
(``"t"``, ``"knha"``, ``"adhoc"``) use t on ``k - p`` df. The omnibus test of the
moderators (every coefficient but the intercept) is ``QM = b' vb^-1 b``, chi-square on
``m`` df under ``"z"``, ``QM/m`` on F(m, k-p) otherwise (``QMdf``). ``QE = y'P0 y`` on
``k - p`` df tests residual heterogeneity. ``I2 = 100 tau^2 / (vt + tau^2)``,
``H2 = tau^2/vt + 1`` with ``vt = (k-p) / tr(P0)`` (EE models: from QE). ``R2 =
max(0, 100 (tau2_0 - tau^2) / tau2_0)`` with ``tau2_0`` of the intercept-only model
(same method; 0 when ``tau2_0 = 0``); for EE models the adjusted R^2 of the weighted
least squares fit, as metafor. ``se_tau2`` and the log-likelihoods ``ll_ML``,
``ll_REML`` as metafor's ``se.tau2`` and ``fit.stats``.

Scale: tau^2 is solved on standardised data (effects centred and divided by
``sqrt(s)``, variances by ``s = min v``) and the columns of ``X`` are divided by their
largest absolute value, so effects ``c y`` with variances ``c^2 v`` give ``c^2 tau^2``
and ``c b`` for any ``c``, and the units of a moderator do not matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from scipy.special import chdtrc, chdtri, fdtrc, ndtr, ndtri

from srma.pooling import LOG_2PI, check_settings, rma_batch
from srma.tau2 import (
    FINE_GRID,
    GRID,
    LIMIT_U,
    LIMIT_Z,
    SPREAD_FOR_FINE,
    TOL,
    maximise_likelihood,
    solve_root,
)

TESTS = ("z", "t", "knha", "adhoc")
INTERCEPT = "intrcpt"
#: per-fit statistics of :func:`rma_mods_batch` (1-D arrays); ``b, se, zval, pval,
#: ci_lb, ci_ub`` are 2-D (one column per coefficient)
BATCH_KEYS = (
    "k",
    "QM",
    "QMp",
    "QMdf1",
    "QMdf2",
    "QE",
    "QEp",
    "tau2",
    "se_tau2",
    "I2",
    "H2",
    "R2",
    "ll_ML",
    "ll_REML",
    "s2w",
    "converged",
    "iterations",
)
COEF_KEYS = ("b", "se", "zval", "pval", "ci_lb", "ci_ub")


# --------------------------------------------------------------------- batched algebra
class _Design:
    """Model matrices of a batch, ``(n, k, p)``, laid out for fast reductions: the columns
    ``(p, n, k)`` and the products of pairs of columns ``(p(p+1)/2, n, k)``, so that
    ``X' diag(c) X`` is one ``einsum`` over the studies (several times faster than a
    three-operand ``einsum`` or stacked matrix products for small ``p``)."""

    def __init__(self, Xt, XX=None):
        self.Xt = Xt
        self.p = Xt.shape[0]
        self.pairs = [(i, j) for i in range(self.p) for j in range(i, self.p)]
        if XX is None:
            XX = np.stack([Xt[i] * Xt[j] for i, j in self.pairs])
        self.XX = XX

    @classmethod
    def of(cls, X):
        return cls(np.ascontiguousarray(np.moveaxis(X, 2, 0)))

    def rows(self, rows):
        return _Design(self.Xt[:, rows], self.XX[:, rows])

    def xdx(self, c):
        """``X' diag(c) X`` per row: ``(n, k) -> (n, p, p)``."""
        vals = np.einsum("mnk,nk->mn", self.XX, c)
        A = np.empty((c.shape[0], self.p, self.p))
        for m, (i, j) in enumerate(self.pairs):
            A[:, i, j] = vals[m]
            A[:, j, i] = vals[m]
        return A

    def xv(self, c):
        """``X' c`` per row: ``(n, k) -> (n, p)``."""
        return np.einsum("ink,nk->ni", self.Xt, c)

    def fitted(self, b):
        """``X b`` per row: ``(n, p) -> (n, k)``."""
        return np.einsum("ink,ni->nk", self.Xt, b)


def _inv(A, logdet: bool = False):
    """Inverses of symmetric positive definite ``p x p`` matrices ``(n, p, p)`` by
    Gauss-Jordan elimination vectorised over the rows (the pivots of a positive
    definite matrix are positive: no pivoting), and optionally ``log det A``."""
    n, p, _ = A.shape
    if p <= 2:
        if p == 1:
            det = A[:, 0, 0]
            inv = 1 / A
        else:
            a, b, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 1]
            det = a * d - b * b
            inv = np.empty_like(A)
            inv[:, 0, 0], inv[:, 1, 1] = d / det, a / det
            inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        return (inv, np.log(det)) if logdet else inv
    if p > 8:
        inv = np.linalg.inv(A)
        return (inv, np.linalg.slogdet(A)[1]) if logdet else inv
    G = np.concatenate([A, np.broadcast_to(np.eye(p), A.shape)], axis=2)
    ld = np.zeros(n)
    for i in range(p):
        piv = G[:, i, i].copy()
        if logdet:
            ld += np.log(piv)
        G[:, i, :] /= piv[:, None]
        for r in range(p):
            if r != i:
                G[:, r, :] -= G[:, r, i : i + 1] * G[:, i, :]
    inv = G[:, :, p:]
    return (inv, ld) if logdet else inv


def _tr(A, B):
    """``tr(A B)`` per row for symmetric ``B``."""
    return np.einsum("nij,nij->n", A, B)


def _tr2(C):
    """``tr(C C)`` per row."""
    return np.einsum("nij,nji->n", C, C)


def _wls(X, w, y, logdet: bool = False):
    """Weighted least squares per row: ``(A^-1, b, residuals)`` with ``A = X'WX``
    (and ``log det A`` with ``logdet``)."""
    out = _inv(X.xdx(w), logdet)
    Ai = out[0] if logdet else out
    b = np.einsum("nij,nj->ni", Ai, X.xv(w * y))
    r = y - X.fitted(b)
    return (Ai, b, r, out[1]) if logdet else (Ai, b, r)


def _equation(method, Z, U, M, X, k, p, target=None):
    """Estimating equation of tau^2 for ML, REML or PM (``Q(t) = target``), batched:
    ``f(t) -> (value, Newton step)`` with ``f.score_loglik`` and ``f.loglik`` as
    :func:`srma.tau2.maximise_likelihood` needs (values positive left of the root)."""
    if target is None:
        target = k - p

    def core(t, logdet=False):
        w = M / (U + t[:, None])
        return (w, *_wls(X, w, Z, logdet))

    def f(t):
        w, Ai, _, r = core(t)
        wr = w * r  # P y
        wr2 = (wr * wr).sum(axis=1)  # y'PPy
        if method in ("REML", "ML"):
            w2 = w * w
            if method == "REML":
                AB2 = np.einsum("nij,njl->nil", Ai, X.xdx(w2))
                trp = w.sum(axis=1) - np.einsum("nii->n", AB2)
                fisher = w2.sum(axis=1) - 2 * _tr(Ai, X.xdx(w2 * w)) + _tr2(AB2)
                u = wr2 - trp
            else:
                fisher = w2.sum(axis=1)
                u = wr2 - w.sum(axis=1)
            g = X.xv(w * wr)
            ppp = (w * wr * wr).sum(axis=1) - np.einsum("ni,nij,nj->n", g, Ai, g)
            curv = 2 * ppp - fisher  # observed information (times 2)
            return u, u / np.where(curv > 0, curv, fisher)
        q = (wr * r).sum(axis=1) - target
        return q, q / wr2

    def score_loglik(t):
        w, Ai, _, r, logdet = core(t, logdet=True)
        wr = w * r
        q = (wr * r).sum(axis=1)
        ll = -0.5 * ((M * np.log(U + t[:, None])).sum(axis=1) + q)
        if method == "REML":
            ll -= 0.5 * logdet
            u = (wr * wr).sum(axis=1) - (w.sum(axis=1) - _tr(Ai, X.xdx(w * w)))
        elif method == "ML":
            u = (wr * wr).sum(axis=1) - w.sum(axis=1)
        else:
            u = q - target
        return u, ll

    f.score_loglik = score_loglik
    f.loglik = lambda t: score_loglik(t)[1]
    return f


def _ols(Z, U, M, X):
    """Unweighted fit: ``(C^-1, residual sum of squares)``."""
    Ci, _, r = _wls(X, M, Z)
    return Ci, (M * r * r).sum(axis=1)


def _tau2(method, Z, U, M, X, k, p, tol):
    """tau^2 per row on standardised data; returns ``(t, converged, iterations)``."""
    n = Z.shape[0]
    conv = np.ones(n, dtype=bool)
    its = np.zeros(n, dtype=np.int64)
    zero = np.zeros(n)
    if method in ("EE", "FE"):
        return zero, conv, its
    w0 = M / U
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if method in ("DL", "HS", "HSk"):
            Ai0, _, r0 = _wls(X, w0, Z)
            q0 = (w0 * r0 * r0).sum(axis=1)
            if method == "DL":
                trp0 = w0.sum(axis=1) - _tr(Ai0, X.xdx(w0 * w0))
                t = (q0 - (k - p)) / trp0
            elif method == "HS":
                t = (q0 - k) / w0.sum(axis=1)
            else:
                t = (k / (k - p) * q0 - k) / w0.sum(axis=1)
            return np.maximum(0.0, t), conv, its
        if method == "HE":
            Ci, rss = _ols(Z, U, M, X)
            trpv = (M * U).sum(axis=1) - _tr(Ci, X.xdx(M * U))
            return np.maximum(0.0, (rss - trpv) / (k - p)), conv, its
        if method == "SJ":
            t0 = (M * Z * Z).sum(axis=1) / k
            w = M / (U + t0[:, None])
            _, _, r = _wls(X, w, Z)
            return t0 * (w * r * r).sum(axis=1) / (k - p), conv, its
        _, rss = _ols(Z, U, M, X)
        vmax = (M * U).max(axis=1)
        if method in ("PM", "EB", "PMM"):
            target = chdtri(k - p, 0.5) if method == "PMM" else None
            f = _equation("PM", Z, U, M, X, k, p, target)
            hi0 = rss / (k - p) + vmax

            def factory(r):
                tg = None if target is None else target[r]
                return _equation("PM", Z[r], U[r], M[r], X.rows(r), k[r], p, tg)

            return solve_root(f, n, hi0, tol=tol, factory=factory)
        return _reml_ml(method, Z, U, M, X, k, p, tol, rss, vmax)


def _reml_ml(method, Z, U, M, X, k, p, tol, rss, vmax):
    """ML/REML tau^2 as :mod:`srma.tau2`: grid bracket, safeguarded Newton, a finer grid
    for rows whose sampling variances span more than two decades."""
    c = k - p if method == "REML" else k
    # the score is negative beyond T: y'PPy <= RSS_ols / t^2 and tr(P) >= (k-p)/(vmax+t)
    # (tr(W) >= k/(vmax+t) for ML)
    top = np.maximum((rss + np.sqrt(rss * rss + 4 * c * rss * vmax)) / (2 * c) * 1.01, 1e-8)

    def run(rows, grid):
        part = (Z[rows], U[rows], M[rows], X.rows(rows), k[rows])
        f = _equation(method, *part[:4], part[4], p)

        def factory(sub):
            z, u, m, x, kk = part
            return _equation(method, z[sub], u[sub], m[sub], x.rows(sub), kk[sub], p)

        t, conv, its = maximise_likelihood(f, top[rows], factory, len(part[4]), tol, grid)
        return t, conv, its, f

    allrows = np.arange(Z.shape[0])
    t, conv, its, f = run(allrows, GRID)
    vmin = np.where(M > 0, U, np.inf).min(axis=1)
    wide = vmax > SPREAD_FOR_FINE * vmin
    if wide.any():
        idx = np.flatnonzero(wide)
        t2, c2, i2, f2 = run(idx, FINE_GRID)
        l2, l1 = f2.loglik(t2), f2.loglik(t[idx])
        better = l2 > l1 + 1e-12 * (1 + np.abs(l2))
        t[idx] = np.where(better, t2, t[idx])
        conv[idx] &= c2
        its[idx] += i2
    return t, conv, its


def _se_tau2(method, Z, U, M, X, k, p, t):
    """metafor's ``se.tau2`` with moderators (:func:`srma.tau2.se_tau2_standardised`
    written with ``p x p`` algebra), standardised unit."""
    n = Z.shape[0]
    if method in ("EE", "FE"):
        return np.full(n, np.nan)
    df = k - p
    tp = np.maximum(t, 0.0)

    def moments(w):
        Ai = _inv(X.xdx(w))
        w2 = w * w
        B2 = X.xdx(w2)
        AB2 = np.einsum("nij,njl->nil", Ai, B2)
        trp = w.sum(axis=1) - np.einsum("nii->n", AB2)
        trpp = w2.sum(axis=1) - 2 * _tr(Ai, X.xdx(w2 * w)) + _tr2(AB2)
        return Ai, AB2, trp, trpp

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if method in ("HS", "HSk", "DL"):
            w0 = M / U
            _, _, trp, trpp = moments(w0)
            core = np.sqrt(2 * df + 4 * tp * trp + 2 * tp * tp * trpp)
            if method == "DL":
                return core / trp
            return core / w0.sum(axis=1) * (k / df if method == "HSk" else 1.0)
        if method == "HE":
            Ci = _inv(X.xdx(M))
            CV = np.einsum("nij,njl->nil", Ci, X.xdx(M * U))
            trpv = (M * U).sum(axis=1) - np.einsum("nii->n", CV)
            trpvpv = (M * U * U).sum(axis=1) - 2 * _tr(Ci, X.xdx(M * U * U)) + _tr2(CV)
            return np.sqrt(2 * trpvpv + 4 * tp * trpv + 2 * tp * tp * df) / df
        if method == "SJ":
            t0 = (M * Z * Z).sum(axis=1) / k
            w = M / (U + t0[:, None])
            Ai, AB2, _, trpp = moments(w)
            d = w * U
            AD = np.einsum("nij,njl->nil", Ai, X.xdx(d * w))
            trpvpv = (d * d).sum(axis=1) - 2 * _tr(Ai, X.xdx(d * d * w)) + _tr2(AD)
            trvpp = (
                (U * w * w).sum(axis=1)
                - 2 * _tr(Ai, X.xdx(U * w * w * w))
                + np.einsum("nij,nji->n", AB2, np.einsum("nij,njl->nil", Ai, X.xdx(U * w * w)))
            )
            return t0 / df * np.sqrt(2 * trpvpv + 4 * tp * trvpp + 2 * tp * tp * trpp)
        w = M / (U + tp[:, None])
        _, _, _, trpp = moments(w)
        if method == "ML":
            return np.sqrt(2 / (w * w).sum(axis=1))
        if method == "REML":
            return np.sqrt(2 / trpp)
        return np.sqrt(2 * k * k / df) / w.sum(axis=1)


# --------------------------------------------------------------------- the batch
def _cell(n: int, row: int, col: int) -> str:
    return f"study {col + 1}" if n == 1 else f"row {row + 1}, study {col + 1}"


def _prepare(Y, V, X, mask):
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    V = np.atleast_2d(np.asarray(V, dtype=float))
    if Y.shape != V.shape:
        raise ValueError(f"Y and V differ in shape: {Y.shape} vs {V.shape}")
    n, kmax = Y.shape
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = np.broadcast_to(X, (n, *X.shape))
    if X.ndim != 3 or X.shape[:2] != (n, kmax):
        raise ValueError(f"X must have shape (k, p) or (n, k, p) = ({n}, {kmax}, p), not {X.shape}")
    M = np.ones((n, kmax), dtype=bool) if mask is None else np.atleast_2d(np.asarray(mask, bool))
    if M.shape != Y.shape:
        raise ValueError(f"mask shape {M.shape} differs from Y {Y.shape}")
    for name, A in (("yi", Y), ("vi", V)):
        bad = M & ~np.isfinite(A)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"{_cell(n, i, j)}: {name} is {A[i, j]} (every study needs a finite {name}; "
                "empty cells of a batch are marked by its mask)"
            )
    bad = M[:, :, None] & ~np.isfinite(X)
    if bad.any():
        i, j, c = np.argwhere(bad)[0]
        raise ValueError(f"{_cell(n, i, j)}: moderator column {c + 1} is {X[i, j, c]}")
    bad = M & (V <= 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{_cell(n, i, j)}: vi = {float(V[i, j])!r}; sampling variances vi must be positive"
        )
    Mf = M.astype(float)
    return np.where(M, Y, 0.0), np.where(M, V, 1.0), np.where(M[:, :, None], X, 0.0), Mf


def _full_rank(X, M, n):
    """Columns scaled by their largest absolute value; ValueError for a row with no more
    studies than coefficients or a model matrix not of full rank."""
    k = M.sum(axis=1)
    p = X.shape[2]
    where = (lambda i: "") if n == 1 else (lambda i: f" (row {i + 1})")
    few = np.flatnonzero(k <= p)
    if few.size:
        i = int(few[0])
        raise ValueError(
            f"{int(k[i])} studies for {p} coefficients{where(i)}: the model cannot be fitted"
        )
    scale = np.abs(X).max(axis=1)  # (n, p)
    Xs = X / np.where(scale > 0, scale, 1.0)[:, None, :]
    ev = np.linalg.eigvalsh(np.einsum("nki,nk,nkj->nij", Xs, M, Xs))
    bad = np.flatnonzero(ev[:, 0] <= 1e-10 * ev[:, -1])
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"the model matrix is not of full rank{where(i)}: the model cannot be fitted "
            "(a moderator is constant or a combination of the others)"
        )
    return Xs, np.where(scale > 0, scale, 1.0)


def _is_intercept(X, M):
    col = X[:, :, 0]
    return bool(np.all((col == 1) | (M == 0)))


def rma_mods_batch(
    Y,
    V,
    X,
    mask=None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2=None,
    intercept: bool | None = None,
    r2: bool = True,
) -> dict[str, np.ndarray]:
    """Meta-regressions, one per row of ``Y`` (yi), ``V`` (vi) and ``X`` (metafor
    ``rma(yi, vi, mods = X, intercept = FALSE, method, test, level, tau2)``).

    ``X`` is ``(k, p)`` (the same for every row) or ``(n, k, p)``; ``mask`` marks the
    cells holding a study (cells outside it are ignored). ``intercept`` says whether the
    first column of ``X`` is the intercept (default: it is when it is all ones): the
    omnibus test QM then leaves it out and R^2 is computed (``r2=False`` skips the
    intercept-only fits R^2 needs). ``tau2`` fixes tau^2 (per row or one value).

    Returns 2-D arrays ``b, se, zval, pval, ci_lb, ci_ub`` (``zval`` holds t under t
    tests) and 1-D arrays named as in :data:`BATCH_KEYS` (``QMdf1 = m``, ``QMdf2 =
    k - p`` under t tests, NaN under ``"z"``). A row with no more studies than
    coefficients, or whose model matrix is not of full rank, raises ValueError naming
    it.
    """
    method, test = check_settings(method, test, level)
    Y, V, X, M = _prepare(Y, V, X, mask)
    n, kmax, p = X.shape
    Xs, colscale = _full_rank(X, M, n)
    D = _Design.of(Xs)
    if intercept is None:
        intercept = _is_intercept(X, M)
    k = M.sum(axis=1)
    # standardised data: centred effects (for tau^2 and QE, as metafor), scaled ones
    s = np.where(M > 0, V, np.inf).min(axis=1)
    centre = (M * Y).sum(axis=1) / k
    root = np.sqrt(s)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        Z = M * (Y - centre[:, None]) / root[:, None]
        Ys = M * Y / root[:, None]
        U = np.where(M > 0, V / s[:, None], 1.0)
        fine = (np.abs(Z).max(axis=1) <= LIMIT_Z) & (U.max(axis=1) <= LIMIT_U)
        fine &= np.isfinite(centre) & (np.abs(Ys).max(axis=1) <= LIMIT_Z)
    if not fine.all():
        i = int(np.argmin(fine))
        where = "" if n == 1 else f" (row {i + 1})"
        raise ValueError(f"values too large to fit the meta-regression{where}")
    if tau2 is None:
        t, conv, its = _tau2(method, Z, U, M, D, k, p, TOL)
        t = np.where(np.isfinite(t), t, np.nan)
    else:
        t = np.broadcast_to(np.asarray(tau2, dtype=float), (n,)) / s
        conv, its = np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
    out = _statistics(method, test, level, Z, Ys, U, M, D, k, p, t, s, intercept)
    # back to the data's units: b_j = sqrt(s) b_j' / scale_j
    unit = root[:, None] / colscale
    for key in ("b", "se", "ci_lb", "ci_ub"):
        out[key] = out[key] * unit
    out["tau2"] = t * s
    out["se_tau2"] = _se_tau2(method, Z, U, M, D, k, p, t) * s
    out["converged"], out["iterations"] = conv, its
    out["k"] = k.astype(np.int64)
    out["R2"] = np.full(n, np.nan)
    if intercept and p > 1 and r2:
        out["R2"] = _r2(method, Y, V, M, X, out, test)
    return out


def _statistics(method, test, level, Z, Ys, U, M, X, k, p, t, s, intercept):
    """Coefficients, tests, QM, QE, I^2, H^2 and log-likelihoods at tau^2 = ``t``
    (standardised), coefficients of the standardised effects ``Ys`` and scaled ``X``."""
    n = Z.shape[0]
    df = k - p
    alpha = 1 - level / 100
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        w = M / (U + t[:, None])
        Ai, b, r = _wls(X, w, Ys)
        rss_f = (w * r * r).sum(axis=1)
        s2w = rss_f / df
        factor = np.ones(n)
        if test == "knha":
            factor = s2w
        elif test == "adhoc":
            factor = np.maximum(1.0, s2w)
        vb = Ai * factor[:, None, None]
        se = np.sqrt(np.einsum("nii->ni", vb))
        zval = b / se
        if test == "z":
            crit = np.full(n, ndtri(1 - alpha / 2))
            pval = 2 * ndtr(-np.abs(zval))
        else:
            crit = stats.t.isf(alpha / 2, df)
            pval = 2 * stats.t.sf(np.abs(zval), df[:, None])
        btt = np.arange(1 if intercept and p > 1 else 0, p)
        m = btt.size
        bb = b[:, btt]
        QM = np.einsum("ni,nij,nj->n", bb, _inv(vb[:, btt][:, :, btt]), bb)
        if test == "z":
            QMp = chdtrc(m, QM)
            QMdf2 = np.full(n, np.nan)
        else:
            QM = QM / m
            QMp = fdtrc(m, df, QM)
            QMdf2 = df.astype(float)
        # residual heterogeneity, centred effects as metafor's Ymc
        w0 = M / U
        Ai0, _, r0 = _wls(X, w0, Z)
        QE = np.maximum(0.0, (w0 * r0 * r0).sum(axis=1))
        QEp = chdtrc(df, QE)
        if method in ("EE", "FE"):
            I2 = np.maximum(0.0, 100 * (QE - df) / QE)
            H2 = QE / df
        else:
            trp0 = w0.sum(axis=1) - _tr(Ai0, X.xdx(w0 * w0))
            vt = df / trp0
            I2 = 100 * t / (vt + t)
            H2 = t / vt + 1
        # log-likelihoods (metafor fit.stats) in the data's units
        logdet_v = k * np.log(s) + (M * np.log(U + t[:, None])).sum(axis=1)
        ll_ml = -0.5 * k * LOG_2PI - 0.5 * logdet_v - 0.5 * rss_f
        logdet_xx = _inv(X.xdx(M), logdet=True)[1]
        logdet_xwx = _inv(X.xdx(w), logdet=True)[1] - p * np.log(s)
        ll_reml = (
            -0.5 * df * LOG_2PI + 0.5 * logdet_xx - 0.5 * logdet_v - 0.5 * logdet_xwx - 0.5 * rss_f
        )
    return {
        "b": b,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": b - crit[:, None] * se,
        "ci_ub": b + crit[:, None] * se,
        "QM": QM,
        "QMp": QMp,
        "QMdf1": np.full(n, float(m)),
        "QMdf2": QMdf2,
        "QE": QE,
        "QEp": QEp,
        "I2": I2,
        "H2": H2,
        "ll_ML": ll_ml,
        "ll_REML": ll_reml,
        "s2w": s2w,
    }


def _r2(method, Y, V, M, X, out, test):
    """metafor's R^2 (``r2def = "1"``): the proportional reduction of tau^2 against the
    intercept-only model, or for EE models the adjusted R^2 of the weighted least
    squares fit (``lm(yi ~ X, weights = 1/vi)``), in percent, at least 0."""
    k = M.sum(axis=1)
    p = X.shape[2]
    if method in ("EE", "FE"):
        w = M / V
        fitted = np.einsum("nki,ni->nk", X, out["b"])
        mu = (w * fitted).sum(axis=1) / w.sum(axis=1)
        mss = (w * (fitted - mu[:, None]) ** 2).sum(axis=1)
        rss = (w * (Y - fitted) ** 2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = mss / (mss + rss)
            adj = 1 - (1 - r2) * (k - 1) / (k - p)
        ybar = (M * Y).sum(axis=1) / k
        constant = (M * (Y - ybar[:, None]) ** 2).sum(axis=1) == 0
        return np.where(constant, 0.0, np.maximum(0.0, 100 * adj))
    null = rma_batch(Y, V, M > 0, method=method, test=test)["tau2"]
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.maximum(0.0, 100 * (null - out["tau2"]) / null)
    return np.where(null == 0, 0.0, r2)


# --------------------------------------------------------------------- one fit
def rma_mods(yi, vi, X, *, method="REML", test="z", level=95, tau2=None) -> dict:
    """Meta-regression of ``yi`` on the columns of ``X`` (intercept included by the
    caller), as metafor ``rma(yi, vi, mods = X, intercept = FALSE, method, test,
    level, tau2)``.

    ``tau2`` fixes tau^2 instead of estimating it. Returns ``b, se, zval, pval, ci_lb,
    ci_ub`` (arrays, one per coefficient; ``zval`` holds t under t tests), ``tau2`` and
    ``dfs`` (``k - p`` under t tests, else None), and the statistics of
    :func:`rma_mods_batch` (``QM``, ``QE``, ...) as floats.
    """
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != y.size or v.size != y.size:
        raise ValueError("yi, vi and the rows of X differ in length")
    out = rma_mods_batch(
        y[None], v[None], X[None], method=method, test=test, level=level,
        tau2=None if tau2 is None else [tau2], r2=False,
    )  # fmt: skip
    res = {key: out[key][0] for key in COEF_KEYS}
    for key in BATCH_KEYS:
        res[key] = out[key][0].item()
    res["dfs"] = None if test.lower() == "z" else y.size - X.shape[1]
    return res


def design_matrix(
    mods: Mapping[str, object], *, levels: Mapping[str, list] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Model matrix with an intercept from moderators ``{name: values}`` (in order).

    Numeric values (a numeric array, or numbers) give one column named ``name``; text
    values are categorical: treatment coding with the alphabetically first level
    (or the first of ``levels[name]``) as reference, one column per other level named
    ``name + level`` (R's ``model.matrix``: ``allocrandom``). Returns ``(X, names)``
    with ``names[0] == "intrcpt"``. ValueError for a missing value, a categorical
    moderator with a single level, or mixed numbers and text.
    """
    levels = dict(levels or {})
    cols, names = [], [INTERCEPT]
    k = None
    for name, values in mods.items():
        vals = list(np.asarray(values, dtype=object).ravel())
        if k is None:
            k = len(vals)
        elif len(vals) != k:
            raise ValueError(f"moderator {name!r} has {len(vals)} values, the first has {k}")
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in vals):
            raise ValueError(f"moderator {name!r} has a missing value")
        text = [isinstance(v, str) for v in vals]
        if all(text) or name in levels:
            vals = [str(v) for v in vals]
            order = list(levels.get(name) or sorted(set(vals)))
            if len(order) < 2:
                raise ValueError(
                    f"moderator {name!r} has a single level ({order[0]!r}): nothing to compare"
                )
            unknown = sorted(set(vals) - set(order))
            if unknown:
                raise ValueError(f"moderator {name!r}: level {unknown[0]!r} not in its levels")
            for lev in order[1:]:
                cols.append(np.array([v == lev for v in vals], dtype=float))
                names.append(f"{name}{lev}")
        elif not any(text):
            cols.append(np.asarray(vals, dtype=float))
            names.append(name)
        else:
            raise ValueError(f"moderator {name!r} mixes numbers and text")
    if k is None:
        raise ValueError("no moderators")
    X = np.column_stack([np.ones(k), *cols])
    return X, names


@dataclass(eq=False, repr=False)
class RegressionResult:
    """One meta-regression; names follow metafor's ``rma.uni`` object (``ci_lb`` for
    ``ci.lb``, ``se_tau2`` for ``se.tau2``). Coefficient arrays are in the order of
    ``names`` (intercept first). ``print(res)`` shows metafor's summary."""

    b: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    names: tuple[str, ...]
    QM: float
    QMp: float
    QMdf: tuple
    QE: float
    QEp: float
    tau2: float
    se_tau2: float
    I2: float
    H2: float
    R2: float
    k: int
    method: str
    test: str
    level: float
    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    slab: tuple[str, ...] = ()
    tau2_fix: bool = False
    ll_ML: float = float("nan")
    ll_REML: float = float("nan")
    converged: bool = True
    iterations: int = 0
    intercept: bool = field(default=True)

    @property
    def p(self) -> int:
        return len(self.names)

    @property
    def dfs(self) -> int | None:
        return None if self.test == "z" else self.k - self.p

    @property
    def is_common(self) -> bool:
        return self.method in ("EE", "FE")

    @property
    def parms(self) -> int:
        return self.p + (0 if self.is_common or self.tau2_fix else 1)

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def ll(self) -> float:
        return self.ll_REML if self.method == "REML" else self.ll_ML

    def to_dict(self) -> dict:
        """metafor's names; coefficient statistics as lists (intercept first).
        ``zval`` is metafor's field; under t tests the same values are also ``tval``."""
        d = {key: [float(x) for x in getattr(self, key)] for key in COEF_KEYS}
        if self.test != "z":
            d["tval"] = d["zval"]
        d["names"] = list(self.names)
        for key in ("QM", "QMp", "QE", "QEp", "tau2", "se_tau2", "I2", "H2", "R2", "ll_ML",
                    "ll_REML"):  # fmt: skip
            d[key] = float(getattr(self, key))
        d["QMdf"] = [self.QMdf[0], self.QMdf[1]]
        d["ll"] = float(self.ll)
        d["dfs"] = self.dfs
        d["k"], d["p"] = self.k, self.p
        d["method"], d["test"], d["level"] = self.method, self.test, self.level
        d["tau2_fix"], d["converged"] = self.tau2_fix, self.converged
        d["slab"] = list(self.slab)
        return _none(d)

    def __repr__(self) -> str:
        return (
            f"<RegressionResult k={self.k} p={self.p} method={self.method} test={self.test} "
            f"QM={self.QM:.4g} tau2={self.tau2:.4g}>"
        )

    def __str__(self) -> str:
        if self.is_common:
            head = f"Fixed-Effects with Moderators Model (k = {self.k})"
        else:
            how = (
                "user-specified tau^2 value" if self.tau2_fix else f"tau^2 estimator: {self.method}"
            )
            head = f"Mixed-Effects Model (k = {self.k}; {how})"
        lines = [head, ""]
        if not self.is_common:
            se = "" if self.tau2_fix or np.isnan(self.se_tau2) else f" (SE = {self.se_tau2:.4f})"
            lines += [
                f"tau^2 (estimated amount of residual heterogeneity):     {self.tau2:.4f}{se}",
                f"tau (square root of estimated tau^2 value):             {self.tau:.4f}",
                f"I^2 (residual heterogeneity / unaccounted variability): {self.I2:.2f}%",
                f"H^2 (unaccounted variability / sampling variability):   {self.H2:.2f}",
            ]
            if np.isfinite(self.R2):
                lines.append(
                    f"R^2 (amount of heterogeneity accounted for):            {self.R2:.2f}%"
                )
        else:
            lines += [
                f"I^2 (residual heterogeneity / unaccounted variability): {self.I2:.2f}%",
                f"H^2 (unaccounted variability / sampling variability):   {self.H2:.2f}",
            ]
            if np.isfinite(self.R2):
                lines.append(
                    f"R^2 (amount of heterogeneity accounted for):            {self.R2:.2f}%"
                )
        lines += [
            "",
            "Test for Residual Heterogeneity:",
            f"QE(df = {self.k - self.p}) = {self.QE:.4f}, p-val {_fmt_p(self.QEp)}",
            "",
        ]
        mods = f"{'2' if self.intercept else '1'}:{self.p}"
        if self.test == "z":
            lines.append(f"Test of Moderators (coefficients {mods}):")
            lines.append(f"QM(df = {self.QMdf[0]}) = {self.QM:.4f}, p-val {_fmt_p(self.QMp)}")
        else:
            lines.append(f"Test of Moderators (coefficients {mods}):")
            lines.append(
                f"F(df1 = {self.QMdf[0]}, df2 = {self.QMdf[1]}) = {self.QM:.4f}, "
                f"p-val {_fmt_p(self.QMp)}"
            )
        stat = "zval" if self.test == "z" else "tval"
        cols = ["", "estimate", "se", stat] + ([] if self.test == "z" else ["df"])
        cols += ["pval", "ci.lb", "ci.ub"]
        rows = []
        for j, name in enumerate(self.names):
            row = [name, f"{self.b[j]:.4f}", f"{self.se[j]:.4f}", f"{self.zval[j]:.4f}"]
            if self.test != "z":
                row.append(str(self.k - self.p))
            row += [_fmt_p(self.pval[j], bare=True), f"{self.ci_lb[j]:.4f}", f"{self.ci_ub[j]:.4f}"]
            rows.append(row)
        widths = [max(len(r[i]) for r in [cols, *rows]) for i in range(len(cols))]
        lines += ["", "Model Results:", ""]
        lines.append("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
        for r in rows:
            cells = zip(r, widths, strict=True)
            lines.append(
                "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells))
            )
        return "\n".join(lines)


def _none(d):
    if isinstance(d, dict):
        return {k: _none(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_none(v) for v in d]
    if isinstance(d, float) and np.isnan(d):
        return None
    return d


def _fmt_p(p: float, *, bare: bool = False) -> str:
    if np.isnan(p):
        return "NA"
    if p < 1e-4:
        return "<.0001"
    return f"{p:.4f}" if bare else f"= {p:.4f}"


def rma_reg(
    yi,
    vi,
    mods,
    *,
    names=None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2: float | None = None,
    slab=None,
    levels: Mapping[str, list] | None = None,
) -> RegressionResult:
    """One meta-regression (metafor ``rma(yi, vi, mods = ~ ..., method, test, level,
    tau2, slab)``).

    ``mods`` is a mapping ``{name: values}`` of moderators (numeric or categorical; see
    :func:`design_matrix`, an intercept is added) or a model matrix whose first column
    is the intercept, with ``names`` for its columns. Every study needs a finite ``yi``,
    ``vi > 0`` and moderators (ValueError naming the study otherwise; none is left out).
    """
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if isinstance(mods, Mapping):
        X, names = design_matrix(mods, levels=levels)
    else:
        X = np.asarray(mods, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        names = list(names) if names is not None else [f"X{j + 1}" for j in range(X.shape[1])]
        if len(names) != X.shape[1]:
            raise ValueError(f"{len(names)} names for {X.shape[1]} columns of the model matrix")
    if X.shape[0] != y.size or v.size != y.size:
        raise ValueError(
            f"yi ({y.size}), vi ({v.size}) and the moderators ({X.shape[0]}) differ in length"
        )
    slab = tuple(str(i + 1) for i in range(y.size)) if slab is None else tuple(str(s) for s in slab)
    if len(slab) != y.size:
        raise ValueError(f"slab differs in length from yi: {len(slab)} vs {y.size}")
    method, test = check_settings(method, test, level)
    try:
        out = rma_mods_batch(y[None], v[None], X[None], method=method, test=test, level=level,
                             tau2=None if tau2 is None else [tau2])  # fmt: skip
    except ValueError as err:
        msg = str(err)
        if msg.startswith("study "):
            j = int(msg.split(":")[0].split()[1]) - 1
            msg = f"study {j + 1} ({slab[j]!r}):" + msg.split(":", 1)[1]
        raise ValueError(msg) from None
    one = {key: out[key][0] for key in (*COEF_KEYS, *BATCH_KEYS)}
    qmdf2 = None if test == "z" else int(one["QMdf2"])
    return RegressionResult(
        **{key: np.asarray(one[key], dtype=float) for key in COEF_KEYS},
        names=tuple(names),
        QM=float(one["QM"]),
        QMp=float(one["QMp"]),
        QMdf=(int(one["QMdf1"]), qmdf2),
        **{
            key: float(one[key])
            for key in ("QE", "QEp", "tau2", "se_tau2", "I2", "H2", "R2", "ll_ML", "ll_REML")
        },  # fmt: skip
        k=int(one["k"]),
        method=method,
        test=test,
        level=float(level),
        yi=y,
        vi=v,
        X=X,
        slab=slab,
        tau2_fix=tau2 is not None,
        converged=bool(one["converged"]),
        iterations=int(one["iterations"]),
        intercept=_is_intercept(X[None], np.ones((1, y.size))),
    )


__all__ = [
    "BATCH_KEYS",
    "COEF_KEYS",
    "INTERCEPT",
    "RegressionResult",
    "design_matrix",
    "rma_mods",
    "rma_mods_batch",
    "rma_reg",
]
