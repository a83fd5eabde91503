"""Effect sizes from arm-level and correlation data, equal to metafor's ``escalc``.

Sign convention (stated again in every srma output): arm 1 is the intervention,
arm 2 the control, and every effect is *intervention minus control*. Scores are change
from baseline, so a negative MD means a larger decrease with the intervention.

Measures (metafor 3.8 ``escalc`` defaults, Viechtbauer 2010, J Stat Softw 36(3)):

``MD``
    Raw mean difference, ``yi = m1i - m2i``, with the heteroscedastic sampling variance
    ``vi = sd1i^2/n1i + sd2i^2/n2i`` (units: the instrument's and its square).
``SMD``
    Hedges' g: ``d = (m1i - m2i) / sp`` with the pooled SD
    ``sp = sqrt(((n1i-1) sd1i^2 + (n2i-1) sd2i^2) / (n1i+n2i-2))``, multiplied by the
    exact small-sample correction ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``,
    ``m = n1i + n2i - 2`` (Hedges 1981; Hedges & Olkin 1985, eq. 5.10);
    ``vi = 1/n1i + 1/n2i + yi^2 / (2 (n1i + n2i))`` (metafor's large-sample ``vtype="LS"``).
``COR``
    Raw correlation, ``yi = ri``, ``vi = (1 - ri^2)^2 / (ni - 1)``.
``ZCOR``
    Fisher's r-to-z, ``yi = atanh(ri)``, ``vi = 1 / (ni - 3)``.

Binary outcomes from 2x2 counts (arm 1: ``ai`` events of ``n1i = ai + bi``; arm 2:
``ci`` of ``n2i = ci + di``; metafor's names), with ``p1 = ai/n1i``, ``p2 = ci/n2i``:

``OR``
    Log odds ratio ``log(p1/(1-p1)) - log(p2/(1-p2))``,
    ``vi = 1/ai + 1/bi + 1/ci + 1/di``.
``RR``
    Log risk ratio ``log p1 - log p2``, ``vi = 1/ai - 1/n1i + 1/ci - 1/n2i``.
``RD``
    Risk difference ``p1 - p2``, ``vi = p1 (1-p1)/n1i + p2 (1-p2)/n2i``
    (``vtype="LS"``).
``PETO``
    Peto's log odds ratio ``(ai - E) / V`` with ``E = (ai+ci) n1i/N`` and
    ``V = (ai+ci)(bi+di) n1i n2i / (N^2 (N-1))``, ``vi = 1/V``.

Zero cells as metafor's ``escalc`` defaults: ``add = 1/2`` is added to every cell of a
study with a zero cell (``to = "only0"``; ``"all"``, ``"if0all"`` and ``"none"`` as in
metafor), and double-zero studies (no events, or only events, in both arms) are kept
(``drop00 = False``; ``drop00 = True`` gives them NaN, as ``rma.mh`` and ``rma.peto``
do for their per-study outcomes).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

#: measures of ``srma pool --measure``
MEASURES = ("MD", "SMD", "COR", "ZCOR", "OR", "RR", "RD")
#: measures from 2x2 counts (``PETO``: Peto's log odds ratio, for ``rma.peto``)
BINARY_MEASURES = ("OR", "RR", "RD", "PETO")
#: zero-cell corrections (metafor's ``to``)
ADD_TO = ("only0", "all", "if0all", "none")

#: Sentence written into every output that holds effects.
SIGN_CONVENTION = (
    "effects are intervention minus control; a negative MD means a larger decrease "
    "with the intervention"
)


def _arr(name: str, value) -> np.ndarray:
    if value is None:
        raise ValueError(f"escalc: argument '{name}' is required for this measure")
    return np.asarray(value, dtype=float)


def hedges_correction(m) -> np.ndarray:
    """Exact small-sample correction ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``.

    ``m`` are the degrees of freedom (``n1 + n2 - 2``); ``c(m) < 1`` and tends to 1.
    Computed on the log scale so that large ``m`` does not overflow.
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))


def escalc(
    measure: str,
    *,
    n1i=None,
    m1i=None,
    sd1i=None,
    n2i=None,
    m2i=None,
    sd2i=None,
    ri=None,
    ni=None,
    ai=None,
    bi=None,
    ci=None,
    di=None,
    add: float = 0.5,
    to: str = "only0",
    drop00: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc``).

    Arm 1 is the intervention, arm 2 the control (effect = arm 1 minus arm 2). Inputs
    are array-likes of equal length; missing values (NaN) give NaN effects. The pooling
    functions do not drop these: :func:`srma.pooling.rma` raises ValueError on a NaN or
    infinite ``yi`` or ``vi``, so a caller leaves such studies out explicitly (and says
    so), as :func:`srma.group.pool_group` does with its ``usable`` flag.
    """
    measure = measure.upper()
    if measure in BINARY_MEASURES:
        a, b, c, d = counts_2x2(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)
        return escalc_2x2(measure, a, b, c, d, add=add, to=to, drop00=drop00)
    if measure not in MEASURES:
        raise ValueError(
            f"escalc: unknown measure {measure!r}; expected one of {(*MEASURES, 'PETO')}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure in ("MD", "SMD"):
            n1, m1, s1 = _arr("n1i", n1i), _arr("m1i", m1i), _arr("sd1i", sd1i)
            n2, m2, s2 = _arr("n2i", n2i), _arr("m2i", m2i), _arr("sd2i", sd2i)
            if measure == "MD":
                yi = m1 - m2
                vi = s1**2 / n1 + s2**2 / n2
            else:
                df = n1 + n2 - 2
                sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / df)
                yi = hedges_correction(df) * (m1 - m2) / sp
                vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
        else:
            r, n = _arr("ri", ri), _arr("ni", ni)
            if measure == "COR":
                yi = r.copy()
                vi = (1 - r**2) ** 2 / (n - 1)
            else:
                yi = np.arctanh(r)
                vi = 1 / (n - 3)
    return np.atleast_1d(yi).astype(float), np.atleast_1d(vi).astype(float)


def counts_2x2(*, ai=None, bi=None, ci=None, di=None, n1i=None, n2i=None):
    """The four cells ``(ai, bi, ci, di)`` as float arrays, from ``ai, bi, ci, di`` or
    ``ai, n1i, ci, n2i`` (``bi = n1i - ai``, ``di = n2i - ci``)."""
    a, c = _arr("ai", ai), _arr("ci", ci)
    b = _arr("bi", bi) if bi is not None or n1i is None else _arr("n1i", n1i) - a
    d = _arr("di", di) if di is not None or n2i is None else _arr("n2i", n2i) - c
    return tuple(np.atleast_1d(x).astype(float) for x in (a, b, c, d))


def zero_cells(ai, bi, ci, di) -> tuple[np.ndarray, np.ndarray]:
    """``(any_zero, double_zero)`` per study: a cell is 0; no events in both arms or
    only events in both arms (metafor's ``id0`` and ``id00``)."""
    a, b, c, d = (np.asarray(x, dtype=float) for x in (ai, bi, ci, di))
    id0 = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    id00 = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    return id0, id00


def escalc_2x2(
    measure: str, ai, bi, ci, di, *, add: float = 0.5, to: str = "only0", drop00: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Effect sizes from 2x2 counts (metafor ``escalc(measure, ai, bi, ci, di, add, to,
    drop00)``; module docstring). Studies dropped by ``drop00`` get NaN."""
    measure = measure.upper()
    if measure not in BINARY_MEASURES:
        raise ValueError(f"escalc: unknown measure {measure!r}; expected one of {BINARY_MEASURES}")
    if to not in ADD_TO:
        raise ValueError(f"escalc: unknown 'to' {to!r}; expected one of {ADD_TO}")
    a, b, c, d = (np.atleast_1d(np.asarray(x, dtype=float)).copy() for x in (ai, bi, ci, di))
    id0, id00 = zero_cells(a, b, c, d)
    if drop00:
        for x in (a, b, c, d):
            x[id00] = np.nan
        id0 = id0 & ~id00
    if to == "all":
        sel = np.ones(a.shape, dtype=bool)
    elif to == "only0":
        sel = id0
    elif to == "if0all":
        sel = np.full(a.shape, bool(id0.any()))
    else:
        sel = np.zeros(a.shape, dtype=bool)
    for x in (a, b, c, d):
        x[sel] += add
    n1, n2 = a + b, c + d
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = a / n1, c / n2
        if measure == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "RD":
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        else:  # PETO
            n = n1 + n2
            xt, yt = a + c, b + d
            e = xt * n1 / n
            v = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
            yi = (a - e) / v
            vi = 1 / v
    return yi.astype(float), vi.astype(float)


def transform_z_to_r(z):
    """Back-transform Fisher's z to r: ``r = tanh(z)`` (metafor ``transf.ztor``)."""
    return np.tanh(np.asarray(z, dtype=float))
