"""Random- and common-effect meta-analysis with metafor's numbers (``rma.uni``).

``rma(yi, vi, method=..., test=..., level=..., slab=...)`` fits one meta-analysis and
returns an :class:`RMAResult` (``print(res)`` shows metafor's summary); ``confint(res)``
adds the Q-profile intervals of tau^2, tau, I^2 and H^2. ``rma_batch(Y, V, mask)`` fits
many at once over padded 2-D arrays (one meta-analysis per row), which is what the
workflow uses to run every group, subgroup and sensitivity analysis in one call. Names
of results follow metafor: ``estimate, se, zval, pval, ci_lb, ci_ub, tau2, I2, H2, QE,
QEp, pi_lb, pi_ub, weights`` (metafor's ``ci.lb`` is ``ci_lb`` here).

Functions that take a fitted model live beside it: :mod:`srma.sensitivity`
(``leave1out``, ``cumul``, ``subgroup``) and :mod:`srma.bias` (``regtest``,
``ranktest``, ``trimfill``); meta-regression is :mod:`srma.regression`, models of 2x2
counts (Mantel-Haenszel, Peto) :mod:`srma.binary`; this module imports only
:mod:`srma.tau2`.

Formulas (k studies, tau^2 from :mod:`srma.tau2`, ``w_i = 1/(v_i + tau^2)``):

- ``estimate = sum w y / sum w``, ``se = sqrt(1 / sum w)``.
- ``test="z"``: Wald z, normal quantiles. ``test="t"``: the same se with a t distribution
  on ``k - 1`` df. ``test="knha"``: Hartung-Knapp-Sidik-Jonkman, ``se`` multiplied by
  ``sqrt(s2w)``, ``s2w = sum w (y - estimate)^2 / (k - 1)``, t on ``k - 1`` df
  (Hartung & Knapp 2001; Sidik & Jonkman 2002); ``test="adhoc"``: ``s2w`` truncated
  below at 1 (Knapp & Hartung 2003). ``zval`` holds the t statistic for t tests, as in
  metafor.
- Prediction interval ``estimate -/+ crit * sqrt(se^2 + tau^2)`` with ``crit`` the
  normal quantile under ``test="z"`` and the t quantile on ``k - 1`` df otherwise
  (metafor ``predict.rma``, ``pi_type="default"``), or, with ``pi_type="t-k2"``, the t
  quantile on ``k - 2`` df (Higgins, Thompson & Spiegelhalter 2009, J R Stat Soc A
  172:137; Riley et al. 2011 BMJ 342:d549; RevMan 5; metafor ``predict(res,
  pi.type="riley")``: ``k - 1`` df when tau^2 is not estimated, at least 1 df).
- ``se_tau2``: metafor's standard error of tau^2 (:func:`srma.tau2.se_tau2_standardised`);
  ``ll_ML``, ``ll_REML``: the log-likelihoods of metafor's ``fit.stats`` at the
  estimates (``RMAResult.ll`` is ``logLik(res)``; :func:`fitstats` adds deviance, AIC,
  BIC and AICc).
- ``QE = sum (y - mu_EE)^2 / v`` (Cochran's Q) on ``k - 1`` df, ``QEp`` its chi-square
  upper tail.
- Random-effects models: ``I2 = 100 tau^2 / (tau^2 + s^2)``, ``H2 = (tau^2 + s^2) / s^2``
  with the typical within-study variance ``s^2 = (k-1) sum w0 / ((sum w0)^2 - sum w0^2)``,
  ``w0 = 1/v`` (Higgins & Thompson 2002, Stat Med 21:1539, eq. 9). Common-effect models
  (``EE``/``FE``): ``I2 = max(0, 100 (QE - (k-1)) / QE)``, ``H2 = QE / (k-1)``.
- ``weights``: percent weights ``100 w_i / sum w``.

Scale: every fit is computed on standardised data (:func:`srma.tau2.standardise`:
effects centred at their mean and divided by ``sqrt(s)``, variances divided by
``s = min vi``) and mapped back, so effects ``c yi`` with variances ``c^2 vi`` give
exactly ``c`` times the estimate, se, CI and PI, ``c^2`` times tau^2 (and the Q-profile
bounds) and the same z, p-values, Q, I^2 and H^2, for any ``c`` (tested for
``c = 1e-6 .. 1e6``).

Input: every study must have a finite ``yi`` and a finite ``vi > 0``. Nothing is left
out silently: :func:`rma` raises ValueError naming the study and the field, and
:func:`rma_batch` takes empty (padding) cells only through its ``mask``. Values so large
that the squared standardised effects overflow raise ValueError ("values too large")
instead of giving NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from scipy.special import chdtrc, ndtr, ndtri

from srma.tau2 import (
    LIMIT_U,
    LIMIT_Z,
    canonical_method,
    chunks,
    generalised_q,
    se_tau2_standardised,
    solve_root,
    standardise,
    tau2_standardised,
    too_large,
)

TESTS = ("z", "t", "knha", "adhoc")
#: the common-effect models of 2x2 tables (:mod:`srma.binary`: metafor's ``rma.mh`` and
#: ``rma.peto``), named beside the tau^2 estimators in the tables
TABLE_METHODS = ("MH", "PETO")


def method_name(method: str) -> str:
    """``MH``, ``PETO`` or a tau^2 estimator as metafor spells it (``HSk``, ``PMM``:
    :data:`srma.tau2.METHODS`), whatever the case given; ValueError if unknown."""
    upper = str(method).upper()
    return upper if upper in TABLE_METHODS else canonical_method(upper)


#: prediction intervals: ``"default"`` metafor's ``predict()`` (normal quantile under
#: ``test="z"``, t on ``k - 1`` df otherwise); ``"t-k2"`` t on ``k - 2`` df (Higgins,
#: Thompson & Spiegelhalter 2009, J R Stat Soc A 172:137; RevMan 5; metafor
#: ``predict(res, pi.type="riley")``)
PI_TYPES = ("default", "t-k2")
LOG_2PI = float(np.log(2 * np.pi))

#: a fitted model's statistics, under metafor's names (the pooled row of every table)
RESULT_KEYS = (
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "tau2",
    "I2",
    "H2",
    "QE",
    "QEp",
    "pi_lb",
    "pi_ub",
)
#: further statistics of a fit: metafor's ``se.tau2`` and the log-likelihoods of its
#: ``fit.stats`` (``ll_ML``, ``ll_REML``; ``logLik(res)`` is the REML one for REML fits,
#: the ML one otherwise)
EXTRA_KEYS = ("se_tau2", "ll_ML", "ll_REML")
#: statistics returned by :func:`rma_batch`, one array each
BATCH_KEYS = ("k", *RESULT_KEYS, *EXTRA_KEYS, "s2w", "converged", "iterations")


def check_settings(method: str, test: str, level: float) -> tuple[str, str]:
    """``method`` (as spelt in :data:`srma.tau2.METHODS`, case-insensitive) and ``test``
    (lower case), checked with ``level``."""
    method = canonical_method(method)
    test = test.lower()
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {TESTS}")
    if not 0 < level < 100:
        raise ValueError(f"level must be in (0, 100), got {level}")
    return method, test


def _cell(n: int, row: int, col: int) -> str:
    """``study j`` (one meta-analysis) or ``row i, study j`` (a batch), 1-based."""
    return f"study {col + 1}" if n == 1 else f"row {row + 1}, study {col + 1}"


def _prepare(Y, V, mask):
    """Padded float arrays ``(Y, V, M)`` with placeholders (0, 1) outside the mask.

    Every cell of the mask (every cell when ``mask`` is None) must hold a finite ``yi``
    and a finite ``vi > 0``; a ValueError names the first that does not (row and study
    1-based) and the field.
    """
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    V = np.atleast_2d(np.asarray(V, dtype=float))
    if Y.shape != V.shape:
        raise ValueError(f"Y and V differ in shape: {Y.shape} vs {V.shape}")
    if mask is None:
        M = np.ones(Y.shape, dtype=bool)
    else:
        M = np.atleast_2d(np.asarray(mask, dtype=bool))
        if M.shape != Y.shape:
            raise ValueError(f"mask shape {M.shape} differs from Y {Y.shape}")
    n = Y.shape[0]
    for name, A in (("yi", Y), ("vi", V)):
        bad = M & ~np.isfinite(A)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"{_cell(n, i, j)}: {name} is {A[i, j]} (every study needs a finite {name}; "
                "empty cells of a batch are marked by its mask)"
            )
    bad = M & (V <= 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{_cell(n, i, j)}: vi = {float(V[i, j])!r}; sampling variances vi must be positive"
        )
    return np.where(M, Y, 0.0), np.where(M, V, 1.0), M.astype(float)


def _too_large(Y, V, M, row: int, n: int) -> ValueError:
    """The error for a meta-analysis whose standardised values overflow."""
    real = M[row] > 0
    y, v = Y[row, real], V[row, real]
    where = "" if n == 1 else f" (row {row + 1})"
    return ValueError(
        f"values too large to pool{where}: yi from {y.min():.6g} to {y.max():.6g}, vi from "
        f"{v.min():.6g} to {v.max():.6g}; srma needs |yi - mean(yi)| / sqrt(min(vi)) <= "
        f"{LIMIT_Z:.0e} and max(vi) / min(vi) <= {LIMIT_U:.0e} so that its sums stay finite"
    )


def rma_batch(
    Y,
    V,
    mask=None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2=None,
    pi_type: str = "default",
) -> dict[str, np.ndarray]:
    """Fit one meta-analysis per row of the padded arrays ``Y`` (yi) and ``V`` (vi).

    ``mask`` (bool, same shape) marks the cells holding a study; without it every cell
    holds one. Cells of the mask must hold a finite ``yi`` and a finite ``vi > 0``
    (ValueError naming the row, study and field otherwise; NaN is never read as an
    empty cell); cells outside it are ignored and may hold anything, e.g. NaN padding.
    ``tau2`` optionally fixes tau^2 per row. ``pi_type`` chooses the prediction
    interval (:data:`PI_TYPES`).
    Returns a dict of 1-D arrays named as in :data:`BATCH_KEYS` plus ``weights``
    (2-D, percent, 0 in empty cells). Rows with ``k = 0`` are all-NaN; rows with
    ``k = 1`` give the study itself with NaN heterogeneity statistics.

    The rows are processed in chunks of a few thousand cells (see
    :data:`srma.tau2.CHUNK_CELLS`), each chunk with whole-array operations, on
    standardised data (module docstring). A row whose standardised values overflow
    raises ValueError ("values too large to pool").
    """
    method, test = check_settings(method, test, level)
    pi_type = check_pi_type(pi_type)
    Y, V, M = _prepare(Y, V, mask)
    n, kmax = Y.shape
    fixed = None
    if tau2 is not None:
        fixed = np.broadcast_to(np.asarray(tau2, dtype=float), (n,))
    Yt, Vt, Mt = (np.ascontiguousarray(a.T) for a in (Y, V, M))
    out = {key: np.empty(n, dtype=float) for key in BATCH_KEYS}
    out["k"] = np.empty(n, dtype=np.int64)
    out["converged"] = np.empty(n, dtype=bool)
    out["iterations"] = np.empty(n, dtype=np.int64)
    weights = np.empty((kmax, n))
    for sl in chunks(n, kmax):
        part = _fit_t(
            Yt[:, sl],
            Vt[:, sl],
            Mt[:, sl],
            method,
            test,
            level,
            None if fixed is None else fixed[sl],
            pi_type,
        )
        if part["too_large"].any():
            raise _too_large(Y, V, M, sl.start + int(np.argmax(part["too_large"])), n)
        for key in BATCH_KEYS:
            out[key][sl] = part[key]
        weights[:, sl] = part["weights"]
    out["weights"] = np.ascontiguousarray(weights.T)
    return out


def check_pi_type(pi_type: str) -> str:
    """``pi_type`` checked against :data:`PI_TYPES` (``"riley"``, metafor's name, is
    accepted for ``"t-k2"``)."""
    pi_type = {"riley": "t-k2"}.get(str(pi_type).lower(), str(pi_type).lower())
    if pi_type not in PI_TYPES:
        raise ValueError(f"unknown prediction interval {pi_type!r}; expected one of {PI_TYPES}")
    return pi_type


def pi_crit(test: str, pi_type: str, level: float, k, parms_var) -> np.ndarray:
    """Quantile of the prediction interval: metafor's ``predict.rma`` (normal under
    ``test="z"``, else t on ``k - p`` df) or, for ``"t-k2"``, t on ``k - p - parms_var``
    df (``parms_var`` = 1 when tau^2 is estimated, 0 for common-effect models and a
    fixed tau^2), at least 1 (metafor's ``pi.type="riley"``)."""
    alpha = 1 - level / 100
    k = np.asarray(k, dtype=float)
    if pi_type == "t-k2":
        return stats.t.isf(alpha / 2, np.maximum(k - parms_var, 1))
    if test == "z":
        return np.full(k.shape, ndtri(1 - alpha / 2))
    return stats.t.isf(alpha / 2, k)


def _fit_t(Y, V, M, method, test, level, fixed, pi_type="default") -> dict[str, np.ndarray]:
    """:func:`rma_batch` on one chunk of transposed arrays ``(K, C)``.

    The model is fitted to the standardised data ``Z = (Y - centre) / sqrt(s)``,
    ``U = V / s`` (:func:`srma.tau2.standardise`) and mapped back: ``estimate = centre +
    sqrt(s) estimate_Z``, ``se``, CI and PI half-widths times ``sqrt(s)``, ``tau2`` times
    ``s``; z, p, Q, I^2, H^2 and the weights are scale free. ``too_large`` marks rows
    whose standardised values or Q overflow.
    """
    n = Y.shape[1]
    k = M.sum(axis=0)
    Z, U, centre, s = standardise(Y, V, M)
    alpha = 1 - level / 100
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        QE = generalised_q(Z, U, M, np.zeros(n))
        big = too_large(Z, U, M, centre)
        if fixed is None:
            t, conv, its = tau2_standardised(method, Z, U, M)
        else:
            t = np.array(fixed, dtype=float) / s
            conv, its = np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
        root = np.sqrt(s)
        w = M / (U + t[None, :])
        sw = w.sum(axis=0)
        est_z = (w * Z).sum(axis=0) / sw
        r = Z - est_z[None, :]
        se_z = np.sqrt(1 / sw)
        df = k - 1
        s2w = (w * r * r).sum(axis=0) / df
        if test == "knha":
            se_z = se_z * np.sqrt(s2w)
        elif test == "adhoc":
            se_z = se_z * np.sqrt(np.maximum(1.0, s2w))
        est = centre + root * est_z
        se = root * se_z
        zval = est / se
        if test == "z":
            crit = np.full(n, ndtri(1 - alpha / 2))
            pval = 2 * ndtr(-np.abs(zval))
        else:
            crit = stats.t.isf(alpha / 2, df)
            pval = 2 * stats.t.sf(np.abs(zval), df)
        ci_lb, ci_ub = est - crit * se, est + crit * se
        se_pi = root * np.sqrt(se_z * se_z + t)
        if pi_type != "default":
            estimated = 0 if (fixed is not None or method in ("EE", "FE")) else 1
            crit_pi = pi_crit(test, pi_type, level, df, estimated)
        else:
            crit_pi = crit
        pi_lb, pi_ub = est - crit_pi * se_pi, est + crit_pi * se_pi
        se_tau2 = se_tau2_standardised(method, Z, U, M, t) * s
        # log-likelihoods as metafor's fit.stats, from the standardised sums:
        # sum log(v + tau^2) = k log s + sum log(u + t), sum w = sum w_z / s
        rss = (w * r * r).sum(axis=0)
        logdet = k * np.log(s) + (M * np.log(U + t[None, :])).sum(axis=0)
        ll_ml = -0.5 * k * LOG_2PI - 0.5 * logdet - 0.5 * rss
        ll_reml = (
            -0.5 * df * LOG_2PI
            + 0.5 * np.log(k)
            - 0.5 * logdet
            - 0.5 * (np.log(sw) - np.log(s))
            - 0.5 * rss
        )
        w0 = M / U
        sw0 = w0.sum(axis=0)
        QEp = chdtrc(df, QE)
        if method in ("EE", "FE"):
            I2 = np.maximum(0.0, 100 * (QE - df) / QE)
            H2 = QE / df
        else:
            # typical within-study variance (standardised), Higgins & Thompson 2002 eq. 9:
            # (k-1) sum w0 / ((sum w0)^2 - sum w0^2), written without squaring sum w0
            s2 = df / (sw0 - (w0 * (w0 / sw0[None, :])).sum(axis=0))
            I2 = 100 * t / (t + s2)
            H2 = (t + s2) / s2
        weights = 100 * w / sw[None, :]
    single = k == 1
    for arr in (I2, H2, QEp, s2w):
        arr[single] = np.nan
    return {
        "k": k.astype(np.int64),
        "estimate": est,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": ci_lb,
        "ci_ub": ci_ub,
        "tau2": np.where(k > 0, t * s, np.nan),
        "I2": I2,
        "H2": H2,
        "QE": np.where(k > 0, QE, np.nan),
        "QEp": QEp,
        "pi_lb": pi_lb,
        "pi_ub": pi_ub,
        "se_tau2": se_tau2,
        "ll_ML": np.where(k > 0, ll_ml, np.nan),
        "ll_REML": np.where(k > 0, ll_reml, np.nan),
        "s2w": s2w,
        "converged": conv,
        "iterations": its,
        "weights": np.where(M > 0, weights, 0.0),
        "too_large": big,
    }


@dataclass(eq=False, repr=False)
class RMAResult:
    """One fitted meta-analysis; field names follow metafor's ``rma.uni`` object.

    Besides the statistics it keeps what a refit needs (metafor keeps the same in its
    model object): the studies' ``yi``, ``vi`` and labels ``slab`` (all finite: a
    study with a missing value is an error, never left out), ``method``, ``test``,
    ``level`` and whether tau^2 was fixed (``tau2_fix``, metafor's ``tau2.fix``). The
    functions of :mod:`srma.sensitivity` and :mod:`srma.bias` take this object, as
    metafor's ``leave1out(res)``, ``cumul(res)``, ``regtest(res)`` and ``trimfill(res)``
    do.

    ``print(res)`` shows metafor's summary table; ``repr(res)`` is one line.
    """

    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    tau2: float
    I2: float
    H2: float
    QE: float
    QEp: float
    pi_lb: float
    pi_ub: float
    k: int
    method: str
    test: str
    level: float
    yi: np.ndarray
    vi: np.ndarray
    weights: np.ndarray
    slab: tuple[str, ...] = ()
    tau2_fix: bool = False
    converged: bool = True
    iterations: int = 0
    se_tau2: float = float("nan")
    ll_ML: float = float("nan")
    ll_REML: float = float("nan")
    pi_type: str = "default"

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def ll(self) -> float:
        """The log-likelihood (metafor ``logLik(res)``): restricted for REML fits,
        maximum likelihood otherwise."""
        return self.ll_REML if self.method == "REML" else self.ll_ML

    @property
    def p(self) -> int:
        """Number of coefficients (1: the intercept)."""
        return 1

    @property
    def parms(self) -> int:
        """Number of estimated parameters (metafor ``parms``): the coefficient, and
        tau^2 when it is estimated."""
        return 1 + (0 if self.is_common or self.tau2_fix else 1)

    @property
    def sei(self) -> np.ndarray:
        """Standard errors of the studies, ``sqrt(vi)``."""
        return np.sqrt(self.vi)

    @property
    def dfs(self) -> int:
        """Degrees of freedom of the t tests (``k - 1``)."""
        return self.k - 1

    @property
    def is_common(self) -> bool:
        return self.method in ("EE", "FE")

    def to_dict(self) -> dict:
        """Results under metafor's names (arrays as lists)."""
        d = asdict(self)
        for key in ("yi", "vi", "weights"):
            d[key] = [float(x) for x in np.asarray(d[key])]
        d["slab"] = list(self.slab)
        d["tau"] = self.tau
        d["ll"] = self.ll
        d["dfs"] = self.dfs if self.test != "z" else None
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}

    def __repr__(self) -> str:
        return (
            f"<RMAResult k={self.k} method={self.method} test={self.test} "
            f"estimate={self.estimate:.4g} [{self.ci_lb:.4g}, {self.ci_ub:.4g}] "
            f"tau2={self.tau2:.4g}>"
        )

    def __str__(self) -> str:
        lvl = f"{self.level:g}"
        if self.is_common:
            head = f"Equal-Effects Model (k = {self.k})"
        else:
            fixed = (
                "user-specified tau^2 value" if self.tau2_fix else f"tau^2 estimator: {self.method}"
            )
            head = f"Random-Effects Model (k = {self.k}; {fixed})"
        lines = [head, ""]
        if not self.is_common:
            se = "" if self.tau2_fix or np.isnan(self.se_tau2) else f" (SE = {self.se_tau2:.4f})"
            lines += [
                f"tau^2 (estimated amount of total heterogeneity): {self.tau2:.4f}{se}",
                f"tau (square root of estimated tau^2 value):      {self.tau:.4f}",
            ]
        lines += [
            f"I^2 (total heterogeneity / total variability):   {self.I2:.2f}%",
            f"H^2 (total variability / sampling variability):  {self.H2:.2f}",
            "",
            "Test for Heterogeneity:",
            f"Q(df = {self.k - 1}) = {self.QE:.4f}, p-val {_fmt_p(self.QEp)}",
            "",
            "Model Results:",
            "",
        ]
        stat = "zval" if self.test == "z" else "tval"
        cols = ["estimate", "se", stat] + ([] if self.test == "z" else ["df"])
        cols += ["pval", "ci.lb", "ci.ub"]
        vals = [f"{self.estimate:.4f}", f"{self.se:.4f}", f"{self.zval:.4f}"]
        if self.test != "z":
            vals.append(str(self.k - 1))
        vals += [_fmt_p(self.pval, bare=True), f"{self.ci_lb:.4f}", f"{self.ci_ub:.4f}"]
        widths = [max(len(c), len(v)) for c, v in zip(cols, vals, strict=True)]
        lines.append("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
        lines.append("  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)))
        on = " (t on k - 2 df)" if self.pi_type == "t-k2" else ""
        lines += [
            "",
            f"{lvl}% prediction interval{on}: {self.pi_lb:.4f} to {self.pi_ub:.4f}",
        ]
        return "\n".join(lines)


def _fmt_p(p: float, *, bare: bool = False) -> str:
    if np.isnan(p):
        return "NA"
    if p < 1e-4:
        return "<.0001"
    return f"{p:.4f}" if bare else f"= {p:.4f}"


def rma(
    yi,
    vi,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2: float | None = None,
    slab=None,
    pi_type: str = "default",
) -> RMAResult:
    """Fit one meta-analysis (metafor ``rma(yi, vi, method=, test=, level=, tau2=,
    slab=)``).

    ``slab`` labels the studies (strings; default ``"1"`` .. ``"k"``, the positions in
    the input, as metafor). Every study must have a finite ``yi`` and a finite
    ``vi > 0``: unlike metafor's ``na.omit``, a study with a missing or infinite value is
    not left out but raises ValueError naming its position, label and field, so that no
    study disappears from a result unseen. ``tau2`` fixes tau^2 instead of estimating it
    (``method`` is then only a label, as in metafor). ``pi_type="t-k2"`` gives the
    prediction interval on t with ``k - 2`` df (:data:`PI_TYPES`).
    """
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.shape != vi.shape:
        raise ValueError(f"yi and vi differ in length: {yi.size} vs {vi.size}")
    slab = [str(i + 1) for i in range(yi.size)] if slab is None else [str(s) for s in slab]
    if len(slab) != yi.size:
        raise ValueError(f"slab differs in length from yi: {len(slab)} vs {yi.size}")
    if yi.size == 0:
        raise ValueError("no studies: yi and vi are empty")
    for name, values in (("yi", yi), ("vi", vi)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            j = int(bad[0])
            raise ValueError(
                f"study {j + 1} ({slab[j]!r}): {name} is {values[j]}; every study needs a "
                f"finite {name} (no study is left out silently)"
            )
    bad = np.flatnonzero(vi <= 0)
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"study {j + 1} ({slab[j]!r}): vi = {float(vi[j])!r}; sampling variances vi "
            "must be positive"
        )
    slab = tuple(slab)
    method, test = check_settings(method, test, level)
    out = rma_batch(
        yi[None, :],
        vi[None, :],
        method=method,
        test=test,
        level=level,
        tau2=None if tau2 is None else [tau2],
        pi_type=pi_type,
    )
    return RMAResult(
        **{key: float(out[key][0]) for key in (*RESULT_KEYS, *EXTRA_KEYS)},
        pi_type=check_pi_type(pi_type),
        k=int(out["k"][0]),
        method=method,
        test=test,
        level=level,
        yi=yi,
        vi=vi,
        weights=out["weights"][0],
        slab=slab,
        tau2_fix=tau2 is not None,
        converged=bool(out["converged"][0]),
        iterations=int(out["iterations"][0]),
    )


# ------------------------------------------------------------ fit statistics, Q_between
def fit_statistics(ll_ML, ll_REML, *, k: int, p: int, parms: int, vi) -> dict[str, dict]:
    """metafor's ``fit.stats`` (``fitstats(res)``): ``{"ML": {...}, "REML": {...}}`` with
    ``ll, dev, AIC, BIC, AICc`` each, from the two log-likelihoods, ``k`` studies, ``p``
    coefficients, ``parms`` estimated parameters and the sampling variances ``vi``
    (the ML deviance is relative to the saturated model, ``-2 (ll - sum log
    dnorm(yi, yi, sqrt(vi)))``)."""
    vi = np.asarray(vi, dtype=float)
    sat = float(np.sum(-0.5 * LOG_2PI - 0.5 * np.log(vi)))
    dev_ml = -2 * (ll_ML - sat) if k > p else 0.0
    kp = k - p
    m1, m2 = max(k, parms + 2), max(kp, parms + 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ml = {
            "ll": float(ll_ML),
            "dev": float(dev_ml),
            "AIC": float(-2 * ll_ML + 2 * parms),
            "BIC": float(-2 * ll_ML + parms * np.log(k)),
            "AICc": float(-2 * ll_ML + 2 * parms * m1 / (m1 - parms - 1)),
        }
        reml = {
            "ll": float(ll_REML),
            "dev": float(-2 * ll_REML),
            "AIC": float(-2 * ll_REML + 2 * parms),
            "BIC": float(-2 * ll_REML + parms * np.log(kp) if kp > 0 else np.nan),
            "AICc": float(-2 * ll_REML + 2 * parms * m2 / (m2 - parms - 1)),
        }
    return {"ML": ml, "REML": reml}


def fitstats(res) -> dict[str, dict]:
    """:func:`fit_statistics` of a fitted model (an :class:`RMAResult`, a
    meta-regression of :mod:`srma.regression` or a Mantel-Haenszel/Peto fit of
    :mod:`srma.binary`), as metafor's ``fitstats(res)``."""
    vi = np.asarray(res.vi, dtype=float)
    vi = vi[np.isfinite(vi)]
    k = int(getattr(res, "k_yi", res.k))
    return fit_statistics(res.ll_ML, res.ll_REML, k=k, p=res.p, parms=res.parms, vi=vi)


def subgroup_test(estimates, se) -> dict[str, float]:
    """Test for subgroup differences (Cochrane Handbook 10.11.3.1; RevMan; R's meta
    package with separate tau^2 per subgroup): Cochran's Q across the subgroup estimates,
    ``Qb = sum (mu_g - mu)^2 / se_g^2`` with ``mu`` their inverse-variance mean, on
    ``G - 1`` df; metafor's ``rma(estimates, sei = se, method = "EE")$QE``. Subgroups
    without an estimate (NaN, se 0) take no part; ``Qb_df = G - 1`` of those that do.
    Returns ``Qb, Qb_df, Qb_pval`` and the same under the names ``Q_between, df,
    pval``."""
    est = np.asarray(estimates, dtype=float)
    se = np.asarray(se, dtype=float)
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    df = int(ok.sum() - 1)
    if df < 1:
        qb, p = float("nan"), float("nan")
    else:
        w = 1 / se[ok] ** 2
        mu = (w * est[ok]).sum() / w.sum()
        qb = float(max(0.0, (w * (est[ok] - mu) ** 2).sum()))
        p = float(chdtrc(df, qb))
    return {"Qb": qb, "Qb_df": df, "Qb_pval": p, "Q_between": qb, "df": df, "pval": p}


# --------------------------------------------------------------------- Q-profile CI
def confint_tau2_batch(Y, V, mask=None, *, level: float = 95) -> dict[str, np.ndarray]:
    """Q-profile confidence intervals for tau^2, tau, I^2 and H^2 per row.

    The bounds solve ``Q(tau^2) = chi2_{1-alpha/2, k-1}`` (lower) and
    ``Q(tau^2) = chi2_{alpha/2, k-1}`` (upper), where ``Q`` is the generalised Q
    statistic, decreasing in tau^2 (Viechtbauer 2007, Stat Med 26:37-52; metafor
    ``confint.rma.uni``). A bound whose equation has no positive root (``Q(0)`` already
    below the quantile) is 0. I^2 and H^2 bounds are the tau^2 bounds mapped through the
    random-effects formulas with the typical within-study variance ``s^2``.

    The roots are solved on standardised data (:func:`srma.tau2.standardise`) to
    ``1e-12 * max(min vi, tau^2)`` and multiplied back, so that the bounds scale with
    the data (``c^2`` for effects ``c yi`` and variances ``c^2 vi``). ``mask`` and the
    checks of the cells are those of :func:`rma_batch`.
    """
    Y0, V0, M0 = _prepare(Y, V, mask)
    Y, V, M = (np.ascontiguousarray(a.T) for a in (Y0, V0, M0))
    Y, V, centre, scale = standardise(Y, V, M)
    big = too_large(Y, V, M, centre)
    if big.any():
        raise _too_large(Y0, V0, M0, int(np.argmax(big)), Y0.shape[0])
    n = Y.shape[1]
    k = M.sum(axis=0)
    df = np.maximum(k - 1, 1)
    alpha = 1 - level / 100
    out = {}
    rss = (Y * Y).sum(axis=0)
    for name, q in (("lb", stats.chi2.isf(alpha / 2, df)), ("ub", stats.chi2.ppf(alpha / 2, df))):

        def f(t, q=q):
            w = M / (V + t[None, :])
            sw = w.sum(axis=0)
            r = Y - ((w * Y).sum(axis=0) / sw)[None, :]
            g = (w * r * r).sum(axis=0) - q
            d = (w * w * r * r).sum(axis=0)
            return g, g / d

        hi0 = rss / df + (M * V).max(axis=0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            t, _, _ = solve_root(f, n, hi0, tol=1e-12)
        out[f"tau2_{name}"] = np.where(k >= 2, t, np.nan)
    w0 = M / V
    sw0 = w0.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = (k - 1) / (sw0 - (w0 * (w0 / sw0[None, :])).sum(axis=0))
    for name in ("lb", "ub"):
        t = out[f"tau2_{name}"]  # standardised; I^2 and H^2 are scale free
        out[f"I2_{name}"] = 100 * t / (t + s2)
        out[f"H2_{name}"] = (t + s2) / s2
        out[f"tau2_{name}"] = t * scale
        out[f"tau_{name}"] = np.sqrt(t * scale)
    return out


def confint(res: RMAResult) -> dict[str, float]:
    """Confidence intervals of a fitted model (metafor ``confint(res)``), at the
    model's ``level``.

    Keys: ``estimate, ci_lb, ci_ub`` (the model's own interval, by its ``test``) and, for
    each of ``tau2, tau, I2, H2``, the value and its Q-profile bounds ``<name>_lb``,
    ``<name>_ub`` from :func:`confint_tau2_batch` (Viechtbauer 2007). The Q-profile
    depends only on the data, so common-effect models (``EE``/``FE``) get the bounds
    too, where metafor reports none.
    """
    if not isinstance(res, RMAResult):
        raise TypeError("confint takes a fitted model: confint(rma(yi, vi, ...))")
    ci = confint_tau2_batch(res.yi[None, :], res.vi[None, :], level=res.level)
    out = {"estimate": res.estimate, "ci_lb": res.ci_lb, "ci_ub": res.ci_ub}
    for name, value in (("tau2", res.tau2), ("tau", res.tau), ("I2", res.I2), ("H2", res.H2)):
        out[name] = float(value)
        out[f"{name}_lb"] = float(ci[f"{name}_lb"][0])
        out[f"{name}_ub"] = float(ci[f"{name}_ub"][0])
    out["level"] = float(res.level)
    return out


__all__ = [
    "BATCH_KEYS",
    "EXTRA_KEYS",
    "PI_TYPES",
    "RESULT_KEYS",
    "TABLE_METHODS",
    "TESTS",
    "RMAResult",
    "check_pi_type",
    "check_settings",
    "confint",
    "confint_tau2_batch",
    "fit_statistics",
    "fitstats",
    "method_name",
    "rma",
    "rma_batch",
    "subgroup_test",
]
