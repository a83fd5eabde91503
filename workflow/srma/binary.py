"""Binary outcomes from 2x2 counts: Mantel-Haenszel (OR, RR, RD) and Peto (OR) models,
with metafor's numbers (``rma.mh``, ``rma.peto``), vectorised over many meta-analyses.

Cells (metafor's names): arm 1 (intervention) ``ai`` events and ``bi`` non-events
(``n1i = ai + bi``), arm 2 (control) ``ci`` and ``di`` (``n2i = ci + di``), ``N = n1i +
n2i``. Effects are intervention versus control; OR and RR are on the log scale
(``estimate``, ``ci_lb``, ``ci_ub``; :attr:`BinaryResult.exp` gives the ratios).

Mantel-Haenszel (Mantel & Haenszel 1959; Greenland & Robins 1985; Robins, Breslow &
Greenland 1986; metafor 3.8 ``rma.mh``), from the raw counts (no zero-cell correction,
double-zero studies kept: metafor's ``add = c(1/2, 0)``, ``to = c("only0", "none")``,
``drop00 = c(TRUE, FALSE)``):

- ``OR``: ``log(R/S)``, ``R = sum ai di/N``, ``S = sum bi ci/N``, with the
  Robins-Breslow-Greenland variance ``1/2 (sum P R_i/R^2 + sum (P S_i + Q R_i)/(R S) +
  sum Q S_i/S^2)``, ``P = (ai + di)/N``, ``Q = (bi + ci)/N``; also the Cochran (``CO``)
  and Cochran-Mantel-Haenszel (``MH``, denominators ``N - 1``) tests with continuity
  correction (``correct``), and the Breslow-Day (``BD``) and Tarone (``TA``) tests of
  homogeneity on ``k_pos - 1`` df;
- ``RR``: ``log(sum ai n2i/N / sum ci n1i/N)`` with the Greenland-Robins variance;
- ``RD``: ``sum (ai n2i - ci n1i)/N / sum n1i n2i/N`` with the Sato, Greenland &
  Robins (1989) variance.

Peto (Yusuf et al. 1985; metafor ``rma.peto``): ``sum (ai - E_i) / sum V_i`` with
``E_i = (ai + ci) n1i/N``, ``V_i = (ai + ci)(bi + di) n1i n2i / (N^2 (N - 1))``,
``se = 1/sqrt(sum V_i)``.

Heterogeneity (both): the per-study outcomes ``yi, vi`` are metafor's ``escalc`` with
``add = 1/2`` to every cell of a study with a zero cell and double-zero studies dropped
(NaN; ``k_yi`` counts the others). ``QE = sum (yi - estimate)^2 / vi`` on ``k_yi - 1``
df for Mantel-Haenszel; for Peto ``QE = sum (ai - E)^2/V - (sum (ai - E))^2 / sum V``
from the raw counts. ``I2 = max(0, 100 (QE - (k_yi - 1)) / QE)``, ``H2 = QE / (k_yi -
1)``. Log-likelihoods (``ll_ML``, ``ll_REML``) as metafor's ``fit.stats`` of the common
effect at the estimate. Weights (percent): MH-OR ``bi ci/N``, MH-RR ``ci n1i/N``, MH-RD
``n1i n2i/N``, Peto ``V_i``.

Input: the cells in the mask must be finite and non-negative, with ``n1i >= 1`` and
``n2i >= 1`` (ValueError naming the row, study and cell otherwise); cells outside the
mask are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import chdtrc, ndtr, ndtri

from srma.effects import counts_2x2, escalc_2x2, zero_cells
from srma.pooling import LOG_2PI
from srma.tau2 import chunks

MH_MEASURES = ("OR", "RR", "RD")
#: statistics of :func:`rma_mh_batch` and :func:`rma_peto_batch`, one array each
BATCH_KEYS = (
    "k",
    "k_yi",
    "k_pos",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "QE",
    "QEp",
    "I2",
    "H2",
    "ll_ML",
    "ll_REML",
    "CO",
    "COp",
    "MH",
    "MHp",
    "BD",
    "BDp",
    "TA",
    "TAp",
)
CELLS = ("ai", "bi", "ci", "di")


def _cell(n: int, row: int, col: int) -> str:
    return f"study {col + 1}" if n == 1 else f"row {row + 1}, study {col + 1}"


def _prepare(A, B, C, D, mask):
    """Float arrays ``(A, B, C, D, M)`` of equal 2-D shape, zeros outside the mask,
    every cell of the mask checked (finite, >= 0, both arms with participants)."""
    arrs = [np.atleast_2d(np.asarray(x, dtype=float)) for x in (A, B, C, D)]
    shape = arrs[0].shape
    for name, x in zip(CELLS, arrs, strict=True):
        if x.shape != shape:
            raise ValueError(f"{name} has shape {x.shape}, ai has {shape}")
    M = np.ones(shape, dtype=bool) if mask is None else np.atleast_2d(np.asarray(mask, bool))
    if M.shape != shape:
        raise ValueError(f"mask shape {M.shape} differs from the counts {shape}")
    n = shape[0]
    for name, x in zip(CELLS, arrs, strict=True):
        bad = M & ~(np.isfinite(x) & (x >= 0))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"{_cell(n, i, j)}: {name} = {float(x[i, j])!r}; counts must be finite and >= 0"
            )
    for name, x, y in (("n1i", arrs[0], arrs[1]), ("n2i", arrs[2], arrs[3])):
        bad = M & (x + y <= 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"{_cell(n, i, j)}: {name} = 0; both arms need participants")
    out = [np.where(M, x, 0.0) for x in arrs]
    return (*out, M.astype(float))


def _outcomes(measure, A, B, C, D, M):
    """Per-study ``yi, vi`` (metafor's escalc with drop00) and their mask."""
    nan = np.where(M > 0, 0.0, np.nan)
    yi, vi = escalc_2x2(measure, A + nan, B + nan, C + nan, D + nan, add=0.5, to="only0",
                        drop00=True)  # fmt: skip
    ok = (M > 0) & np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    return np.where(ok, yi, 0.0), np.where(ok, vi, 1.0), ok.astype(float)


def _heterogeneity(out, yi, vi, Myi, est, qe=None):
    """QE (unless given), QEp, I2, H2 and the log-likelihoods from the per-study
    outcomes, as metafor's rma.mh / rma.peto."""
    kyi = Myi.sum(axis=1)
    w = Myi / vi
    with np.errstate(invalid="ignore", divide="ignore"):
        rss = (w * (yi - est[:, None]) ** 2).sum(axis=1)
        if qe is None:
            qe = np.maximum(0.0, rss)
            multi = kyi > 1
            out["QE"] = np.where(multi, qe, 0.0)
            out["QEp"] = np.where(multi, chdtrc(kyi - 1, qe), 1.0)
            out["I2"] = np.where(multi, np.maximum(0.0, 100 * (qe - (kyi - 1)) / qe), 0.0)
            out["H2"] = np.where(multi, qe / (kyi - 1), 1.0)
            rss = out["QE"]
            # metafor: an estimate that cannot be computed (NA) gives NA heterogeneity
            for key in ("QE", "QEp", "I2", "H2"):
                out[key] = np.where(np.isfinite(est), out[key], np.nan)
        slv = (Myi * np.log(vi)).sum(axis=1)
        out["ll_ML"] = -0.5 * kyi * LOG_2PI - 0.5 * slv - 0.5 * rss
        out["ll_REML"] = (
            -0.5 * (kyi - 1) * LOG_2PI
            + 0.5 * np.log(kyi)
            - 0.5 * slv
            - 0.5 * np.log(w.sum(axis=1))
            - 0.5 * rss
        )
    for key in ("ll_ML", "ll_REML"):
        out[key] = np.where(kyi >= 1, out[key], np.nan)
    out["k_yi"] = kyi.astype(np.int64)


def _wald(out, est, se, level):
    crit = ndtri(1 - (1 - level / 100) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = est / se
    out["estimate"], out["se"], out["zval"] = est, se, z
    out["pval"] = 2 * ndtr(-np.abs(z))
    out["ci_lb"], out["ci_ub"] = est - crit * se, est + crit * se


def _check_level(level: float) -> float:
    if not 0 < level < 100:
        raise ValueError(f"level must be in (0, 100), got {level}")
    return float(level)


def rma_mh_batch(
    A, B, C, D, mask=None, *, measure: str = "OR", level: float = 95, correct: bool = True
) -> dict[str, np.ndarray]:
    """Mantel-Haenszel fits, one per row of the padded count arrays ``A`` (ai), ``B``
    (bi), ``C`` (ci), ``D`` (di) (metafor ``rma.mh(ai, bi, ci, di, measure, level,
    correct)``; module docstring). ``mask`` marks the cells holding a study.

    Returns a dict of 1-D arrays named as in :data:`BATCH_KEYS` (tests not defined for
    the measure are NaN), plus ``weights`` (2-D, percent, 0 in empty cells) and the
    per-study ``yi``, ``vi`` (2-D, NaN where dropped or empty). An estimate that cannot
    be computed (OR: ``R`` or ``S`` is 0; RR: no events in an arm) is NaN, as metafor's
    NA. Every statistic is a masked sum over the rows: no loop over meta-analyses.
    """
    measure = measure.upper()
    if measure not in MH_MEASURES:
        raise ValueError(f"Mantel-Haenszel: measure must be one of {MH_MEASURES}, not {measure!r}")
    level = _check_level(level)
    return _chunked(_mh, _prepare(A, B, C, D, mask), measure, level, correct)


def _chunked(fit, arrays, *args) -> dict[str, np.ndarray]:
    """``fit`` over chunks of a few thousand cells (arrays of that size stay in cache
    and below the allocator's mmap threshold: about twice as fast as whole arrays)."""
    n, kmax = arrays[0].shape
    parts = [fit(*(a[sl] for a in arrays), *args) for sl in chunks(n, kmax)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _mh(A, B, C, D, M, measure, level, correct) -> dict[str, np.ndarray]:
    """:func:`rma_mh_batch` on one chunk of checked arrays."""
    n = A.shape[0]
    n1, n2 = A + B, C + D
    N = np.where(M > 0, n1 + n2, 1.0)
    nan = np.full(n, np.nan)
    out = {key: nan.copy() for key in BATCH_KEYS}
    out["k"] = M.sum(axis=1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        iN = 1 / N
        if measure == "OR":
            P, Q = (A + D) * iN, (B + C) * iN
            Ri, Si = A * iN * D, B * iN * C
            R, S = Ri.sum(axis=1), Si.sum(axis=1)
            ok = (R > 0) & (S > 0)
            psi = np.where(ok, R / S, np.nan)
            est = np.log(psi)
            se = np.sqrt(
                0.5
                * (
                    (P * Ri).sum(axis=1) / R**2
                    + (P * Si + Q * Ri).sum(axis=1) / (R * S)
                    + (Q * Si).sum(axis=1) / S**2
                )
            )
            se = np.where(ok, se, np.nan)
            weights = Si
            # Cochran and Cochran-Mantel-Haenszel tests
            xt, yt = A + C, B + D
            has = (xt.sum(axis=1) > 0) & (yt.sum(axis=1) > 0)
            f1 = n1 * iN
            num = (np.abs((A - f1 * xt).sum(axis=1)) - (0.5 if correct else 0.0)) ** 2
            g = f1 * (n2 * iN) * xt * yt
            den_co = (g * iN).sum(axis=1)
            den_mh = (g / np.where(M > 0, N - 1, 1.0)).sum(axis=1)
            out["CO"] = np.where(has, num / den_co, np.nan)
            out["MH"] = np.where(has, num / den_mh, np.nan)
            out["COp"] = chdtrc(1, out["CO"])
            out["MHp"] = chdtrc(1, out["MH"])
            # Breslow-Day and Tarone: expected ai under the common odds ratio
            ps = psi[:, None]
            Aq = ps * (n1 + xt) + (n2 - xt)
            Bq = np.sqrt(Aq * Aq - 4 * n1 * xt * ps * (ps - 1))
            N11 = np.where(ps == 1, f1 * xt, (Aq - Bq) * (0.5 / (ps - 1)))
            pos = (M > 0) & (N11 > 0) & (xt > 0) & (yt > 0)
            N11 = np.where(pos, N11, 1.0)
            N12, N21 = n1 - N11, xt - N11
            N22 = N11 - n1 - xt + N
            inv = np.where(pos, 1 / N11 + 1 / N12 + 1 / N21 + 1 / N22, 1.0)
            dev = np.where(pos, A - N11, 0.0)
            bd = np.maximum(0.0, (dev * dev * inv).sum(axis=1))
            ta = np.maximum(0.0, bd - dev.sum(axis=1) ** 2 / (pos / inv).sum(axis=1))
            kpos = pos.sum(axis=1)
            out["k_pos"] = np.where(ok, kpos, 0).astype(np.int64)
            out["BD"] = np.where(ok, bd, np.nan)
            out["TA"] = np.where(ok, ta, np.nan)
            multi = ok & (kpos > 1)
            out["BDp"] = np.where(multi, chdtrc(kpos - 1, bd), np.nan)
            out["TAp"] = np.where(multi, chdtrc(kpos - 1, ta), np.nan)
        elif measure == "RR":
            R = (A * (n2 / N)).sum(axis=1)
            S = (C * (n1 / N)).sum(axis=1)
            ok = (A.sum(axis=1) > 0) & (C.sum(axis=1) > 0)
            est = np.where(ok, np.log(R / S), np.nan)
            se = np.sqrt((n1 / N * (n2 / N) * (A + C) - A / N * C).sum(axis=1) / (R * S))
            se = np.where(ok, se, np.nan)
            weights = C / N * n1
        else:  # RD
            sw = (n1 * (n2 / N)).sum(axis=1)
            est = (A * (n2 / N) - C * (n1 / N)).sum(axis=1) / sw
            part = (C * (n1 / N) ** 2 - A * (n2 / N) ** 2 + n1 / N * (n2 / N) * (n2 - n1) / 2).sum(
                axis=1
            )
            rest = (A * (n2 - C) / N + C * (n1 - A) / N).sum(axis=1) / 2
            se = np.sqrt((est * part + rest) / sw**2)
            weights = n1 / N * n2
        if measure != "OR":
            out["k_pos"] = np.zeros(n, dtype=np.int64)
        _wald(out, est, se, level)
        weights = np.where(M > 0, weights, 0.0)
        total = weights.sum(axis=1)
        out["weights"] = 100 * weights / total[:, None]
    yi, vi, Myi = _outcomes(measure, A, B, C, D, M)
    _heterogeneity(out, yi, vi, Myi, est)
    out["yi"] = np.where(Myi > 0, yi, np.nan)
    out["vi"] = np.where(Myi > 0, vi, np.nan)
    return out


def rma_peto_batch(A, B, C, D, mask=None, *, level: float = 95) -> dict[str, np.ndarray]:
    """Peto's one-step odds ratio, one fit per row (metafor ``rma.peto``; module
    docstring); keys as :func:`rma_mh_batch` (``CO, MH, BD, TA`` NaN). A row in which
    one of the two outcomes never occurs (``sum V_i = 0``) is all NaN (metafor stops
    with an error there; :func:`rma_peto` raises ValueError)."""
    level = _check_level(level)
    return _chunked(_peto, _prepare(A, B, C, D, mask), level)


def _peto(A, B, C, D, M, level) -> dict[str, np.ndarray]:
    """:func:`rma_peto_batch` on one chunk of checked arrays."""
    n = A.shape[0]
    n1, n2 = A + B, C + D
    N = np.where(M > 0, n1 + n2, 2.0)
    out = {key: np.full(n, np.nan) for key in BATCH_KEYS}
    out["k"] = M.sum(axis=1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        xt, yt = A + C, B + D
        E = xt * n1 / N
        Vi = np.where(M > 0, xt * yt * (n1 / N) * (n2 / N) / (N - 1), 0.0)
        sv = Vi.sum(axis=1)
        ok = sv > 0
        dev = np.where(M > 0, A - E, 0.0)
        est = np.where(ok, dev.sum(axis=1) / sv, np.nan)
        se = np.where(ok, np.sqrt(1 / sv), np.nan)
        _wald(out, est, se, level)
        pos = Vi > 0
        kpos = pos.sum(axis=1)
        qe = np.maximum(
            0.0, (np.where(pos, dev * dev / np.where(pos, Vi, 1.0), 0.0)).sum(axis=1)
            - dev.sum(axis=1) ** 2 / sv
        )  # fmt: skip
        out["weights"] = 100 * Vi / sv[:, None]
    yi, vi, Myi = _outcomes("PETO", A, B, C, D, M)
    kyi = Myi.sum(axis=1)
    multi = kpos > 1
    with np.errstate(invalid="ignore", divide="ignore"):
        out["QE"] = np.where(ok, qe, np.nan)
        out["QEp"] = np.where(multi, chdtrc(kyi - 1, qe), 1.0)
        out["I2"] = np.where(multi, np.maximum(0.0, 100 * (qe - (kyi - 1)) / qe), 0.0)
        out["H2"] = np.where(multi, qe / (kyi - 1), 1.0)
    for key in ("QEp", "I2", "H2"):
        out[key] = np.where(ok, out[key], np.nan)
    out["k_pos"] = kpos.astype(np.int64)
    _heterogeneity(out, yi, vi, Myi, est, qe=qe)
    out["yi"] = np.where(Myi > 0, yi, np.nan)
    out["vi"] = np.where(Myi > 0, vi, np.nan)
    return out


@dataclass(eq=False, repr=False)
class BinaryResult:
    """A Mantel-Haenszel or Peto fit; names follow metafor's ``rma.mh`` / ``rma.peto``
    objects (``ci_lb`` for ``ci.lb``, ``k_yi`` for ``k.yi``). ``yi``, ``vi`` are the
    per-study outcomes (NaN for double-zero studies), ``ai .. di`` the counts as given.
    ``print(res)`` shows metafor's summary."""

    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    QE: float
    QEp: float
    I2: float
    H2: float
    k: int
    k_yi: int
    k_pos: int
    method: str
    measure: str
    level: float
    ai: np.ndarray
    bi: np.ndarray
    ci: np.ndarray
    di: np.ndarray
    yi: np.ndarray
    vi: np.ndarray
    weights: np.ndarray
    slab: tuple[str, ...] = ()
    CO: float = float("nan")
    COp: float = float("nan")
    MH: float = float("nan")
    MHp: float = float("nan")
    BD: float = float("nan")
    BDp: float = float("nan")
    TA: float = float("nan")
    TAp: float = float("nan")
    ll_ML: float = float("nan")
    ll_REML: float = float("nan")
    correct: bool = True
    tau2: float = 0.0
    test: str = field(default="z")

    p = 1
    parms = 1
    is_common = True
    tau2_fix = False

    @property
    def exp(self) -> dict[str, float] | None:
        """``estimate, ci_lb, ci_ub`` on the ratio scale (OR, RR); None for RD."""
        if self.measure == "RD":
            return None
        return {k: float(np.exp(getattr(self, k))) for k in ("estimate", "ci_lb", "ci_ub")}

    @property
    def ll(self) -> float:
        return self.ll_ML

    def to_dict(self) -> dict:
        d = {
            key: getattr(self, key)
            for key in (
                "estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2",
                "H2", "tau2", "k", "k_yi", "k_pos", "method", "measure", "level", "CO",
                "COp", "MH", "MHp", "BD", "BDp", "TA", "TAp", "ll_ML", "ll_REML", "correct",
                "test",
            )
        }  # fmt: skip
        for key in ("ai", "bi", "ci", "di", "yi", "vi", "weights"):
            d[key] = [float(x) for x in np.asarray(getattr(self, key))]
        d["slab"] = list(self.slab)
        d["exp"] = self.exp
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}

    def __repr__(self) -> str:
        return (
            f"<BinaryResult {self.method} {self.measure} k={self.k} "
            f"estimate={self.estimate:.4g} [{self.ci_lb:.4g}, {self.ci_ub:.4g}]>"
        )

    def __str__(self) -> str:
        lines = [f"Equal-Effects Model (k = {self.k})", ""]
        lines += [
            f"I^2 (total heterogeneity / total variability):  {self.I2:.2f}%",
            f"H^2 (total variability / sampling variability): {self.H2:.2f}",
            "",
            "Test for Heterogeneity:",
            f"Q(df = {max(self.k_yi - 1, 0)}) = {self.QE:.4f}, p-val {_fmt_p(self.QEp)}",
            "",
        ]
        head = "Model Results (log scale):" if self.measure != "RD" else "Model Results:"
        cols = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
        vals = [f"{self.estimate:.4f}", f"{self.se:.4f}", f"{self.zval:.4f}",
                _fmt_p(self.pval, bare=True), f"{self.ci_lb:.4f}", f"{self.ci_ub:.4f}"]  # fmt: skip
        lines += [head, "", *_table(cols, vals)]
        if self.exp is not None:
            e = self.exp
            lines += ["", f"Model Results ({self.measure} scale):", ""]
            lines += _table(
                ["estimate", "ci.lb", "ci.ub"],
                [f"{e['estimate']:.4f}", f"{e['ci_lb']:.4f}", f"{e['ci_ub']:.4f}"],
            )
        if self.method == "MH" and self.measure == "OR":
            lines.append("")
            if np.isnan(self.MH):
                lines.append("Cochran-Mantel-Haenszel Test:    test value not computable")
            else:
                lines.append(
                    f"Cochran-Mantel-Haenszel Test:    CMH = {self.MH:.4f}, df = 1, "
                    f"p-val {_fmt_p(self.MHp)}"
                )
            if np.isnan(self.TA):
                lines.append("Tarone's Test for Heterogeneity: test value not computable")
            else:
                lines.append(
                    f"Tarone's Test for Heterogeneity: X^2 = {self.TA:.4f}, "
                    f"df = {self.k_pos - 1}, p-val {_fmt_p(self.TAp)}"
                )
        return "\n".join(lines)


def _table(cols, vals):
    widths = [max(len(c), len(v)) for c, v in zip(cols, vals, strict=True)]
    return [
        "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)),
        "  ".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)),
    ]


def _fmt_p(p: float, *, bare: bool = False) -> str:
    if p is None or np.isnan(p):
        return "NA"
    if p < 1e-4:
        return "<.0001"
    return f"{p:.4f}" if bare else f"= {p:.4f}"


def _single(method, cells, slab, level, measure, correct) -> BinaryResult:
    a, b, c, d = cells
    k = a.size
    if k == 0:
        raise ValueError("no studies: the counts are empty")
    slab = tuple(str(i + 1) for i in range(k)) if slab is None else tuple(str(s) for s in slab)
    if len(slab) != k:
        raise ValueError(f"slab differs in length from the counts: {len(slab)} vs {k}")
    try:
        if method == "MH":
            out = rma_mh_batch(a[None], b[None], c[None], d[None], measure=measure,
                               level=level, correct=correct)  # fmt: skip
        else:
            out = rma_peto_batch(a[None], b[None], c[None], d[None], level=level)
    except ValueError as err:
        msg = str(err)
        if msg.startswith("study "):
            j = int(msg.split(":")[0].split()[1]) - 1
            msg = f"study {j + 1} ({slab[j]!r}):" + msg.split(":", 1)[1]
        raise ValueError(msg) from None
    if method == "PETO" and not np.isfinite(out["estimate"][0]):
        raise ValueError(
            "one of the two outcomes never occurred in any of the tables: Peto's method "
            "cannot be used"
        )
    scalars = {key: out[key][0] for key in BATCH_KEYS}
    return BinaryResult(
        **{key: float(v) for key, v in scalars.items() if key not in ("k", "k_yi", "k_pos")},
        k=int(scalars["k"]),
        k_yi=int(scalars["k_yi"]),
        k_pos=int(scalars["k_pos"]),
        method=method,
        measure=measure,
        level=float(level),
        ai=a, bi=b, ci=c, di=d,
        yi=out["yi"][0], vi=out["vi"][0], weights=out["weights"][0],
        slab=slab,
        correct=correct,
    )  # fmt: skip


def rma_mh(
    ai,
    bi=None,
    ci=None,
    di=None,
    *,
    n1i=None,
    n2i=None,
    measure: str = "OR",
    level: float = 95,
    correct: bool = True,
    slab=None,
) -> BinaryResult:
    """Mantel-Haenszel model of one meta-analysis (metafor ``rma.mh(ai, bi, ci, di,
    n1i, n2i, measure, level, correct, slab)``): ``bi``/``di`` or ``n1i``/``n2i``."""
    measure = measure.upper()
    cells = counts_2x2(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)
    return _single("MH", cells, slab, level, measure, correct)


def rma_peto(
    ai, bi=None, ci=None, di=None, *, n1i=None, n2i=None, level: float = 95, slab=None
) -> BinaryResult:
    """Peto's model of one meta-analysis (metafor ``rma.peto(ai, bi, ci, di, n1i, n2i,
    level, slab)``); the measure is the log odds ratio."""
    cells = counts_2x2(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)
    return _single("PETO", cells, slab, level, "OR", True)


def refit_batch(res: BinaryResult, A, B, C, D, mask) -> dict[str, np.ndarray]:
    """The fit's model (method, measure, level, correction) on padded count arrays: the
    batch behind leave-one-out and subgroups of a Mantel-Haenszel or Peto fit."""
    if res.method == "MH":
        return rma_mh_batch(A, B, C, D, mask, measure=res.measure, level=res.level,
                            correct=res.correct)  # fmt: skip
    return rma_peto_batch(A, B, C, D, mask, level=res.level)


__all__ = [
    "BATCH_KEYS",
    "MH_MEASURES",
    "BinaryResult",
    "refit_batch",
    "rma_mh",
    "rma_mh_batch",
    "rma_peto",
    "rma_peto_batch",
    "zero_cells",
]
