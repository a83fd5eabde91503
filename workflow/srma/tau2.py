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
``HSk`` Hunter & Schmidt with the small-sample correction ``k/(k-1)`` on Q:
        ``(k/(k-1) Q(0) - k) / sum w0``, truncated at 0 (metafor ``"HSk"``).
``SJ``  Sidik & Jonkman 2005: ``t0 = sum (y - ybar)^2 / k`` then ``t0 Q(t0) / (k-1)``.
``ML``  maximum likelihood: root of ``sum w^2 (y-mu)^2 - sum w``.
``REML`` restricted ML: root of ``sum w^2 (y-mu)^2 - tr(P)``,
        ``tr(P) = sum w - sum w^2 / sum w``.
``PM``  Paule & Mandel 1982: root of ``Q(tau^2) = k - 1``.
``PMM`` median-unbiased Paule-Mandel (Viechtbauer 2021; metafor ``"PMM"``): root of
        ``Q(tau^2) = chi2_{0.5, k-1}``, the median of the chi-square distribution on
        ``k - 1`` df (0 when ``Q(0)`` is below it).
``EB``  empirical Bayes (Morris 1983); its estimating equation is PM's (with and
        without moderators), so metafor's EB and PM agree; srma computes both as PM.

Scale. Every estimator is equivariant: for effects ``c yi`` and variances ``c^2 vi`` it
gives ``c^2 tau^2``. srma makes this hold in floating point as well by fitting
standardised data (:func:`standardise`): ``z_i = (y_i - ybar) / sqrt(s)``,
``u_i = v_i / s`` with ``s = min_i v_i`` (the smallest sampling variance of the row) and
``ybar`` the unweighted mean; tau^2 is solved on this scale and multiplied by ``s``.
Every constant of the iteration below (tolerance, starting points, grid, likelihood
ties) is therefore relative to ``s``, and the data's units do not matter (an absolute
tolerance made tau^2 depend on them: 4 % off for REML, 62 % for PM with effects
around 1e-4; srma issue 14).

ML, REML and PM are solved by a safeguarded Newton iteration (observed information;
Fisher scoring where the likelihood is not concave) inside a bracket ``[lo, hi]`` that
always holds a sign change of the estimating equation: a step that leaves the bracket,
or does not halve the previous step, is replaced by bisection, so every row converges
(no divergence or oscillation as with plain Fisher scoring, which metafor uses and
which fails on some small data sets). A row stops when the step or the bracket is below
``TOL * max(s, tau^2)`` (``TOL = 1e-10``, relative): then every weight
``1/(v_i + tau^2)`` is determined to a relative 1e-10, since
``|dtau^2| / (v_i + tau^2) <= TOL max(s, tau^2) / (s + tau^2) <= TOL``.

With sampling variances spanning orders of magnitude the ML/REML likelihood can have two
modes. Every maximum lies in ``[0, T]`` (``T`` from :func:`score_bound`); score and
likelihood are evaluated on an 8-point grid over it, and the bracket is the grid interval
where the score turns from positive to negative with the highest likelihood at its
ends. Where the variances span more than two decades a 50-point grid is searched as well
and the higher maximum kept. Where the score has a negative local maximum at a grid
point, a mode may lie between its neighbours with the score positive only there (a
meta-regression of 10 studies in ``benchmarks/pooling.py`` has one): those two intervals
are searched on a log-spaced sub-grid and a higher maximum kept. The boundary tau^2 = 0
is taken when the score there is <= 0 and its likelihood is at least that of the
interior maximum found. The Newton iteration goes on with the rows still unsolved only,
once they are half or fewer.
PM's equation ``Q(tau^2) = k - 1`` is monotone: tau^2 = 0 when ``Q(0) <= k - 1``, else
its single root.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import chdtri

METHODS = ("EE", "FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")
ITERATIVE = ("ML", "REML", "EB", "PM", "PMM")
#: upper-case spelling -> the method's name (metafor writes ``"HSk"``)
CANONICAL = {m.upper(): m for m in METHODS}


def canonical_method(method: str) -> str:
    """``method`` spelt as in :data:`METHODS` (case-insensitive); ValueError if unknown."""
    name = CANONICAL.get(str(method).upper())
    if name is None:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    return name


#: convergence tolerance on tau^2, relative to ``max(s, tau^2)`` with ``s`` the smallest
#: sampling variance (the iteration runs on standardised data, where ``s = 1``)
TOL = 1e-10


#: largest standardised deviation ``|y_i - ybar| / sqrt(min v)`` and largest variance
#: ratio ``max v / min v`` srma pools: beyond them the sums of the iteration (fourth
#: powers of the deviations, cubes of the weights) leave the range of doubles
LIMIT_Z = 1e50
LIMIT_U = 1e100


def too_large(Z, U, M, centre) -> np.ndarray:
    """Rows (with a study) whose standardised values exceed :data:`LIMIT_Z` or
    :data:`LIMIT_U`, or whose mean effect overflows (NaN counts as too large)."""
    with np.errstate(invalid="ignore"):
        fine = (np.abs(Z).max(axis=0) <= LIMIT_Z) & (U.max(axis=0) <= LIMIT_U) & np.isfinite(centre)
    return (M.sum(axis=0) > 0) & ~fine


def standardise(Y, V, M):
    """Standardised copies of transposed arrays ``(K, B)``: ``(Z, U, centre, s)``.

    ``centre`` is the unweighted mean of the row's effects and ``s`` its smallest
    sampling variance (1 for empty rows); ``Z = (Y - centre) / sqrt(s)`` and ``U = V / s``
    in the cells holding a study, ``Z = 0`` and ``U = 1`` elsewhere. Every estimator is
    location invariant and scale equivariant, so ``tau^2 = s * tau^2(Z, U)``; on the
    standardised data the smallest variance is exactly 1, and the tolerances and
    constants of the iteration are relative to the data's scale. Values too large for
    this come out as huge, inf or NaN; the callers check them with :func:`too_large`
    (:func:`srma.pooling.rma_batch` raises "values too large to pool").
    """
    real = M > 0
    k = M.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        s = np.where(real, V, np.inf).min(axis=0)
        s = np.where(k > 0, s, 1.0)
        centre = (M * Y).sum(axis=0) / np.maximum(k, 1.0)
        Z = np.where(real, (Y - centre[None, :]) / np.sqrt(s)[None, :], 0.0)
        U = np.where(real, V / s[None, :], 1.0)
    return Z, U, centre, s


def _sums(Y, V, M, t):
    """Weights and weighted sums at tau^2 = ``t`` (one value per row)."""
    w = M / (V + t[None, :])
    sw = w.sum(axis=0)
    mu = (w * Y).sum(axis=0) / sw
    r = Y - mu[None, :]
    return w, sw, mu, r


def generalised_q(Y, V, M, t) -> np.ndarray:
    """``Q(tau^2) = sum w_i (y_i - mu)^2`` with ``w_i = 1/(v_i + tau^2)``."""
    w, _, _, r = _sums(Y, V, M, t)
    return (w * r * r).sum(axis=0)


def _eq(
    method: str, Y, V, M, k, target=None
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Estimating equation ``f(t)`` (positive left of the root) and its Newton step.

    For ML and REML the step is Fisher scoring's ``U / I``; for PM it is Newton's
    ``-f / f'`` with ``dQ/dtau^2 = -sum w^2 (y - mu)^2``, solving ``Q(t) = target``
    (default ``k - 1``; PMM passes the chi-square median).
    """
    if target is None:
        target = k - 1

    def f(t):
        w, sw, _, r = _sums(Y, V, M, t)
        wr = w * r  # P y
        wr2v = wr * wr
        wr2 = wr2v.sum(axis=0)  # y'PPy
        if method in ("REML", "ML"):
            w2 = w * w
            s2 = w2.sum(axis=0)
            # y'PPPy = sum w^3 r^2 - (sum w^2 r)^2 / sum w
            ppp = (wr2v * w).sum(axis=0) - (wr * w).sum(axis=0) ** 2 / sw
            if method == "REML":
                s3 = (w2 * w).sum(axis=0)
                u = wr2 - (sw - s2 / sw)
                trpp = s2 - 2 * s3 / sw + (s2 / sw) ** 2
                curv = 2 * ppp - trpp  # -dU/dtau^2 (observed information, times 2)
                fisher = trpp
            else:
                u = wr2 - sw
                curv = 2 * ppp - s2
                fisher = s2
            # Newton on the observed information where the likelihood is concave,
            # Fisher scoring elsewhere
            return u, u / np.where(curv > 0, curv, fisher)
        # PM / EB / PMM
        g = (wr * r).sum(axis=0) - target
        return g, g / wr2

    npad = M.shape[0] - M.sum(axis=0)  # padded cells hold V = 1

    def loglik(t):
        """(Restricted) log-likelihood up to a constant (Y is centred first)."""
        return score_loglik(t)[1]

    def score_loglik(t):
        """Score (as ``f``) and (restricted) log-likelihood up to a constant."""
        d = V + t[None, :]
        w = M / d
        sw = w.sum(axis=0)
        r = Y - ((w * Y).sum(axis=0) / sw)[None, :]
        wr = w * r
        q = (wr * r).sum(axis=0)
        wr2 = (wr * wr).sum(axis=0)
        ll = -0.5 * (np.log(d).sum(axis=0) - npad * np.log1p(t) + q)
        if method == "REML":
            ll -= 0.5 * np.log(sw)
            u = wr2 - (sw - (w * w).sum(axis=0) / sw)
        elif method == "ML":
            u = wr2 - sw
        else:
            u = q - target
        return u, ll

    f.score_loglik = score_loglik
    f.loglik = loglik
    return f


def solve_root(
    f: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    n: int,
    hi0: np.ndarray,
    *,
    tol: float = TOL,
    maxiter: int = 200,
    bracket: tuple | None = None,
    start: np.ndarray | None = None,
    factory: Callable | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised safeguarded Newton root search of a decreasing-at-root ``f`` on
    ``[0, inf)``.

    Returns ``(t, converged, iterations)``. Without ``bracket``: rows with
    ``f(0) <= 0`` get ``t = 0`` (boundary optimum); otherwise the upper end is found by
    quadrupling ``hi0`` until ``f(hi) < 0``. ``bracket = (active, lo, hi)`` gives the
    rows to solve and their brackets directly (the other rows get 0). Each iteration
    takes the Newton step when it stays strictly inside the bracket and bisects
    otherwise, shrinking the bracket by the sign of ``f`` at the new point; a row stops
    when the step (or the bracket width) is below ``tol * max(1, t)``. The callers pass
    standardised data (:func:`standardise`, unit smallest variance), so that this is
    ``tol * max(s, tau^2)`` on the data's scale: relative, never absolute.

    ``factory(rows)``, the equation of a subset of rows, lets the iteration go on with
    the rows still active only, once they are at most half of those it works on (the
    same steps, fewer rows evaluated).
    """
    zero = np.zeros(n)
    its = np.zeros(n, dtype=np.int64)
    if bracket is None:
        f0, _ = f(zero)
        active = (f0 > 0) & np.isfinite(f0)
        converged = ~active
        if not active.any():
            return zero, converged, its
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
    else:
        active, lo, hi = (np.asarray(a) for a in bracket)
        active = active.copy()
        converged = ~active
    t = np.where(active, lo if start is None else start, 0.0)
    ft, step = f(t)
    dxold = hi - lo
    state = (t, lo, hi, ft, step, dxold, active, converged, its)
    return _newton(f, state, tol, 1, maxiter, factory)


def _newton(f, state, tol, first, maxiter, factory):
    """The iteration of :func:`solve_root` from ``state`` (``t, lo, hi, f(t), step,
    previous step, active, converged, iterations``), iterations numbered from
    ``first``; rows still active are moved to ``factory(rows)`` when at most half."""
    t, lo, hi, ft, step, dxold, active, converged, its = state
    n = t.size
    for it in range(first, maxiter + 1):
        new = t + step
        # Newton only when it stays inside the bracket and at least halves the step
        # before (else bisection): convergence is then at least linear with rate 1/2
        inside = np.isfinite(new) & (new > lo) & (new < hi) & (np.abs(step) <= 0.5 * dxold)
        new = np.where(inside, new, 0.5 * (lo + hi))
        new = np.where(active, new, t)
        delta = np.abs(new - t)
        dxold = np.where(active, np.where(inside, delta, hi - lo), dxold)
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
        if factory is not None and n >= 16 and 2 * int(active.sum()) <= n:
            idx = np.flatnonzero(active)
            part = [a[idx] for a in (t, lo, hi, ft, step, dxold)]
            part += [np.ones(idx.size, dtype=bool), np.zeros(idx.size, dtype=bool), its[idx]]
            t2, c2, i2 = _newton(
                factory(idx), part, tol, it + 1, maxiter, lambda r, idx=idx: factory(idx[r])
            )
            t, converged, its = t.copy(), converged.copy(), its.copy()
            t[idx], converged[idx], its[idx] = t2, c2, i2
            break
    return t, converged, its


#: grid of the likelihood search: 0 and top * 10^-s for s = 6, 5, ..., 0
GRID = np.concatenate([[0.0], 10.0 ** np.linspace(-6, 0, 7)])
#: finer grid for data sets whose sampling variances span more than two decades:
#: 4 points a decade over 12 decades
FINE_GRID = np.concatenate([[0.0], 10.0 ** np.linspace(-12, 0, 49)])
#: max(v) / min(v) above which the fine grid is searched as well
SPREAD_FOR_FINE = 100.0


def score_bound(method, Y, V, M, k) -> np.ndarray:
    """An upper end ``T`` beyond which the (RE)ML score is negative, so that every
    maximum of the likelihood lies in ``[0, T]``.

    With ``R`` the range of the effects, ``|y_i - mu| <= R``, so
    ``sum w^2 (y - mu)^2 <= k R^2 / t^2``, while ``tr(P) >= (k - 1) / (v_max + t)`` (REML)
    and ``sum w >= k / (v_max + t)`` (ML); the score is negative once
    ``c t^2 - k R^2 t - k R^2 v_max > 0`` with ``c = k - 1`` (REML) or ``k`` (ML).
    """
    big = np.where(M > 0, Y, -np.inf).max(axis=0)
    small = np.where(M > 0, Y, np.inf).min(axis=0)
    r2 = (big - small) ** 2
    vmax = (M * V).max(axis=0)
    c = k - 1 if method == "REML" else k
    kr2 = k * r2
    top = (kr2 + np.sqrt(kr2 * kr2 + 4 * c * kr2 * vmax)) / (2 * c)
    return np.maximum(top * 1.01, 1e-8)


def _likelihood_bracket(f, grid, factory, depth=0):
    """Bracket around the best maximum of the (restricted) likelihood on a grid.

    The likelihood can have two modes when the sampling variances span orders of
    magnitude; a root search from 0 may then stop at the lower one. Score and
    likelihood (``f.score_loglik``) are evaluated on ``grid`` (``(n, G)``, first column 0
    on the main grid); every grid interval where the score goes from positive to
    non-positive holds a local maximum, and the bracket is the one of these with the
    highest likelihood at its ends. When a grid point has a higher likelihood still (a
    narrow mode with no sign change on the grid), the two intervals around it are
    searched on a 17-point sub-grid (two levels deep), with ``factory(rows)`` giving the
    estimating equation of those rows. Returns ``(active, lo, hi, boundary, fixed,
    start, suspect)``: ``start`` is the regula falsi point of the bracket; inactive rows
    take ``fixed`` (NaN: tau^2 = 0); ``boundary`` marks rows whose score at tau^2 = 0 is
    <= 0, where tau^2 = 0 is a local maximum to compare with; ``suspect`` (main grid
    only; 0: none) is the interior grid point where the score has its highest negative
    local maximum: the score may turn positive and back between its neighbours, a mode
    the grid missed, which :func:`maximise_likelihood` searches for.
    """
    n, G = grid.shape
    ll = np.empty_like(grid)
    fg = np.empty_like(grid)
    for j in range(G):
        fg[:, j], ll[:, j] = f.score_loglik(grid[:, j])
    ll = np.where(np.isfinite(ll), ll, -np.inf)
    rows = np.arange(n)
    down = (fg[:, :-1] > 0) & (fg[:, 1:] <= 0)  # (n, G-1): a maximum inside
    value = np.where(down, np.maximum(ll[:, :-1], ll[:, 1:]), -np.inf)
    j = np.argmax(value, axis=1)
    active = down[rows, j].copy()
    lo, hi = grid[rows, j].copy(), grid[rows, j + 1].copy()
    # regula falsi start inside the bracket, from the scores at its ends
    f_lo, f_hi = fg[rows, j], fg[rows, j + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        start = lo + f_lo * (hi - lo) / (f_lo - f_hi)
    start = np.where(np.isfinite(start) & (start > lo) & (start < hi), start, lo)
    boundary = (grid[:, 0] == 0) & (fg[:, 0] <= 0)
    if depth == 0:
        # a negative local maximum of the score at an interior grid point: the score may
        # turn positive and back between the neighbouring points (a mode the grid
        # missed); maximise_likelihood searches there
        inner = (fg[:, 1:-1] > fg[:, :-2]) & (fg[:, 1:-1] >= fg[:, 2:]) & (fg[:, 1:-1] <= 0)
        peak = np.where(inner, fg[:, 1:-1], -np.inf)
        suspect = np.where(inner.any(axis=1), np.argmax(peak, axis=1) + 1, 0)
    else:
        suspect = np.zeros(n, dtype=np.int64)
    best = np.maximum(value[rows, j], np.where(boundary, ll[:, 0], -np.inf))
    jb = np.argmax(ll[:, 1:], axis=1) + 1
    lb = ll[rows, jb]
    use = lb > best + 1e-12 * (1 + np.abs(lb))
    fixed = np.full(n, np.nan)
    if use.any():
        idx = np.flatnonzero(use)
        if depth >= 2:
            active[idx] = False
            fixed[idx] = grid[idx, jb[idx]]
        else:
            a = grid[idx, jb[idx] - 1]
            b = grid[idx, np.minimum(jb[idx] + 1, G - 1)]
            sub = a[:, None] + (b - a)[:, None] * np.linspace(0.0, 1.0, 17)[None, :]
            fs = factory(idx)
            act2, lo2, hi2, _, fix2, st2, _ = _likelihood_bracket(
                fs, sub, lambda r, idx=idx: factory(idx[r]), depth + 1
            )
            active[idx], lo[idx], hi[idx], fixed[idx], start[idx] = act2, lo2, hi2, fix2, st2
    return active, lo, hi, boundary, fixed, start, suspect


def maximise_likelihood(f, top, factory, n, tol, grid_rel):
    """ML/REML tau^2 by the grid bracket and the safeguarded Newton iteration.

    ``f`` is the estimating equation (``f(t) -> (score, step)`` with ``f.score_loglik``
    and ``f.loglik``), ``top`` an upper end beyond which the score is negative (every
    maximum lies in ``[0, top]``), ``factory(rows)`` the equation of a subset of rows,
    ``grid_rel`` the grid on ``[0, 1]`` scaled by ``top``. Used for the intercept-only
    model here and for meta-regression (:mod:`srma.regression`).
    """
    grid = grid_rel[None, :] * top[:, None]
    active, lo, hi, boundary, fixed, start, suspect = _likelihood_bracket(f, grid, factory)
    t, conv, its = solve_root(
        f, n, top, tol=tol, bracket=(active, lo, hi), start=start, factory=factory
    )
    t = np.where(active, t, np.where(np.isnan(fixed), 0.0, fixed))
    # boundary optimum when tau^2 = 0 is a maximum at least as high
    l0, lt = f.loglik(np.zeros(n)), f.loglik(t)
    t = np.where(boundary & (l0 >= lt - 1e-12 * (1 + np.abs(lt))), 0.0, t)
    # a mode between two grid points where the score peaks below 0: search the two
    # intervals around the peak on a log-spaced grid (4 points a decade) and keep a
    # higher maximum
    idx = np.flatnonzero(suspect > 0)
    if idx.size:
        js = suspect[idx]
        b = grid[idx, js + 1]
        a = np.where(grid[idx, js - 1] > 0, grid[idx, js - 1], grid[idx, js] / 100)
        sub = a[:, None] * (b / a)[:, None] ** np.linspace(0.0, 1.0, 9)[None, :]
        fs = factory(idx)
        act2, lo2, hi2, _, fix2, st2, _ = _likelihood_bracket(
            fs, sub, lambda r: factory(idx[r]), depth=1
        )
        if act2.any() or np.isfinite(fix2).any():
            t2, c2, i2 = solve_root(
                fs, idx.size, b, tol=tol, bracket=(act2, lo2, hi2), start=st2,
                factory=lambda r: factory(idx[r]),
            )  # fmt: skip
            t2 = np.where(act2, t2, fix2)
            with np.errstate(invalid="ignore"):
                l2, l1 = fs.loglik(np.where(np.isfinite(t2), t2, 0.0)), fs.loglik(t[idx])
                better = np.isfinite(t2) & (l2 > l1 + 1e-12 * (1 + np.abs(l2)))
            t[idx] = np.where(better, t2, t[idx])
            conv[idx] = np.where(better, c2, conv[idx])
            its[idx] += i2
    return t, conv, its


def _reml_ml(eq, Y, V, M, k, n, tol, grid_rel):
    """ML/REML tau^2 of the intercept-only model (:func:`maximise_likelihood`)."""
    f = _eq(eq, Y, V, M, k)
    top = score_bound(eq, Y, V, M, k)

    def factory(rows):
        return _eq(eq, Y[:, rows], V[:, rows], M[:, rows], k[rows])

    t, conv, its = maximise_likelihood(f, top, factory, n, tol, grid_rel)
    return t, conv, its, f


def _estimate_tau2_t(
    method: str, Y: np.ndarray, V: np.ndarray, M: np.ndarray, *, tol: float = TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`estimate_tau2` on transposed arrays of shape ``(K, B)``."""
    Z, U, _, s = standardise(Y, V, M)
    t, conv, its = tau2_standardised(method, Z, U, M, tol=tol)
    return t * s, conv, its


def tau2_standardised(
    method: str, Y: np.ndarray, V: np.ndarray, M: np.ndarray, *, tol: float = TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tau^2 of standardised transposed arrays (:func:`standardise`: centred effects,
    smallest variance 1), in the standardised unit; ``tol`` is relative to
    ``max(1, tau^2)``."""
    method = canonical_method(method)
    n = Y.shape[1]
    k = M.sum(axis=0)
    ok = k >= 2
    kk = np.where(ok, k, 2.0)
    conv = np.ones(n, dtype=bool)
    its = np.zeros(n, dtype=np.int64)
    zero = np.zeros(n)
    if method in ("EE", "FE"):
        return zero, conv, its
    w0 = M / V
    sw0 = w0.sum(axis=0)
    rss = (Y * Y).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if method == "DL":
            q0 = generalised_q(Y, V, M, zero)
            c = sw0 - (w0 * w0).sum(axis=0) / sw0
            t = np.maximum(0.0, (q0 - (kk - 1)) / c)
        elif method == "HE":
            t = np.maximum(0.0, (rss - (kk - 1) / kk * (M * V).sum(axis=0)) / (kk - 1))
        elif method == "HS":
            q0 = generalised_q(Y, V, M, zero)
            t = np.maximum(0.0, (q0 - kk) / sw0)
        elif method == "HSk":
            q0 = generalised_q(Y, V, M, zero)
            t = np.maximum(0.0, (kk / (kk - 1) * q0 - kk) / sw0)
        elif method == "SJ":
            t0 = rss / kk
            t = t0 * generalised_q(Y, V, M, t0) / (kk - 1)
        else:
            eq = "PM" if method in ("PM", "EB", "PMM") else method
            target = chdtri(kk - 1, 0.5) if method == "PMM" else None
            f = _eq(eq, Y, V, M, kk, target)
            # upper start: the unweighted spread of the effects (tau^2 beyond it gives a
            # negative equation for all three estimators); doubled on demand.
            hi0 = rss / np.maximum(kk - 1, 1) + (M * V).max(axis=0)
            if eq == "PM":
                # Q(tau^2) is decreasing: one root at most

                def factory(rows):
                    tg = None if target is None else target[rows]
                    return _eq(eq, Y[:, rows], V[:, rows], M[:, rows], kk[rows], tg)

                t, conv, its = solve_root(f, n, hi0, tol=tol, factory=factory)
            else:
                t, conv, its, f = _reml_ml(eq, Y, V, M, kk, n, tol, GRID)
                # wide spreads of sampling variances: search a finer grid as well and
                # keep the higher maximum
                vmin = np.where(M > 0, V, np.inf).min(axis=0)
                wide = ok & ((M * V).max(axis=0) > SPREAD_FOR_FINE * vmin)
                if wide.any():
                    sub = (Y[:, wide], V[:, wide], M[:, wide])
                    t2, c2, i2, f2 = _reml_ml(eq, *sub, kk[wide], int(wide.sum()), tol, FINE_GRID)
                    better = f2.loglik(t2) > f2.loglik(t[wide]) + 1e-12 * (
                        1 + np.abs(f2.loglik(t2))
                    )
                    t[wide] = np.where(better, t2, t[wide])
                    conv[wide] &= c2
                    its[wide] += i2
    t = np.where(ok, t, 0.0)
    return t, conv, its


def se_tau2_standardised(method: str, Z, U, M, t) -> np.ndarray:
    """metafor's standard error of tau^2 (``res$se.tau2``) per row of standardised
    transposed arrays (:func:`standardise`), in the standardised unit (multiply by
    ``s``), at ``tau^2 = t`` (the estimate, or a fixed value).

    With ``P = W - W 1 (1'W1)^-1 1'W`` for weights ``w`` (metafor 3.8 ``rma.uni``;
    moments of the estimating equations, Viechtbauer 2005 for ML/REML/HE/DL):

    - ``HS``: ``sqrt(2 (k-1) + 4 t tr(P0) + 2 t^2 tr(P0 P0)) / sum w0`` with ``w0 = 1/v``;
      ``HSk``: the same times ``k/(k-1)``; ``DL``: the same root over ``tr(P0)``;
    - ``HE``: ``sqrt(2 tr(PV PV) + 4 t tr(PV) + 2 t^2 (k-1)) / (k-1)`` with the
      unweighted ``P = I - J/k`` and ``V = diag(v)``;
    - ``SJ``: ``t0 / (k-1) sqrt(2 tr(PV PV) + 4 t tr(P V P) + 2 t^2 tr(P P))`` with
      ``P`` at the start value ``t0 = sum (y - ybar)^2 / k``;
    - ``ML``: ``sqrt(2 / sum w^2)``; ``REML``: ``sqrt(2 / tr(P P))`` (inverse Fisher
      information), ``w = 1/(v + t)``;
    - ``PM``, ``EB``, ``PMM``: ``sqrt(2 k^2 / (k-1)) / sum w``;
    - ``EE``/``FE``: NaN (metafor's NA), as for rows with fewer than 2 studies.

    ``t`` enters as ``max(t, 0)``.
    """
    method = canonical_method(method)
    k = M.sum(axis=0)
    n = Z.shape[1]
    if method in ("EE", "FE"):
        return np.full(n, np.nan)
    df = k - 1
    tp = np.maximum(np.asarray(t, dtype=float), 0.0)

    def moments(w):
        s1 = w.sum(axis=0)
        s2 = (w * w).sum(axis=0)
        s3 = (w * w * w).sum(axis=0)
        trp = s1 - s2 / s1
        trpp = s2 - 2 * s3 / s1 + (s2 / s1) ** 2
        return s1, s2, trp, trpp

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if method in ("HS", "HSk", "DL"):
            s1, _, trp, trpp = moments(M / U)
            core = np.sqrt(2 * df + 4 * tp * trp + 2 * tp * tp * trpp)
            factor = k / df if method == "HSk" else 1.0
            se = core / trp if method == "DL" else core / s1 * factor
        elif method == "HE":
            sv = (M * U).sum(axis=0)
            sv2 = (M * U * U).sum(axis=0)
            trpv = df / k * sv
            trpvpv = sv2 * (1 - 2 / k) + sv * sv / (k * k)
            se = np.sqrt(2 * trpvpv + 4 * tp * trpv + 2 * tp * tp * df) / df
        elif method == "SJ":
            t0 = (M * Z * Z).sum(axis=0) / k
            w = M / (U + t0[None, :])
            s1, s2, _, trpp = moments(w)
            a = w * U
            trpvpv = (
                (a * a).sum(axis=0)
                - 2 * (a * a * w).sum(axis=0) / s1
                + ((a * w).sum(axis=0) / s1) ** 2
            )
            uw2 = (U * w * w).sum(axis=0)
            trvpp = uw2 - 2 * (U * w * w * w).sum(axis=0) / s1 + s2 * uw2 / (s1 * s1)
            se = t0 / df * np.sqrt(2 * trpvpv + 4 * tp * trvpp + 2 * tp * tp * trpp)
        else:
            w = M / (U + tp[None, :])
            s1, s2, _, trpp = moments(w)
            if method == "ML":
                se = np.sqrt(2 / s2)
            elif method == "REML":
                se = np.sqrt(2 / trpp)
            else:  # PM, EB, PMM
                se = np.sqrt(2 * k * k / df) / s1
    return np.where(k >= 2, se, np.nan)


#: cells per chunk: arrays of this size stay below the allocator's mmap threshold and in
#: cache, which makes the many small array operations several times faster
CHUNK_CELLS = 8192


def chunks(n: int, k: int):
    """Column slices of ``n`` meta-analyses with ``k`` cells each."""
    size = max(1, CHUNK_CELLS // max(k, 1))
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def estimate_tau2(
    method: str, Y: np.ndarray, V: np.ndarray, M: np.ndarray, *, tol: float = TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tau^2 per row by ``method``; returns ``(tau2, converged, iterations)``.

    ``Y``, ``V`` and ``M`` are float arrays of shape ``(B, K)``, one meta-analysis per
    row; masked cells (``M = 0``) must hold finite placeholders (``Y = 0``, ``V = 1``),
    cells of the mask finite values with ``V > 0`` (ValueError otherwise). Rows with
    fewer than 2 studies get ``tau2 = 0``. Computed on standardised data
    (:func:`standardise`): ``tol`` is relative to ``max(min v, tau^2)``.
    """
    Yt, Vt, Mt = (np.ascontiguousarray(np.asarray(a, dtype=float).T) for a in (Y, V, M))
    real = Mt > 0
    if not (np.isfinite(Yt[real]).all() and np.isfinite(Vt[real]).all()):
        raise ValueError("estimate_tau2: yi and vi must be finite in every cell of the mask")
    if (Vt[real] <= 0).any():
        raise ValueError("estimate_tau2: sampling variances vi must be positive")
    n = Yt.shape[1]
    t = np.zeros(n)
    conv = np.ones(n, dtype=bool)
    its = np.zeros(n, dtype=np.int64)
    for sl in chunks(n, Yt.shape[0]):
        Z, U, centre, s = standardise(Yt[:, sl], Vt[:, sl], Mt[:, sl])
        big = too_large(Z, U, Mt[:, sl], centre)
        if big.any():
            raise ValueError(
                f"estimate_tau2: values too large in row {sl.start + np.argmax(big) + 1}"
            )
        t[sl], conv[sl], its[sl] = tau2_standardised(method, Z, U, Mt[:, sl], tol=tol)
        t[sl] *= s
    return t, conv, its
