"""Effect sizes from arm-level and correlation data, equal to metafor's ``escalc``.

Sign convention (stated again in every srma output): arm 1 is the intervention (TNFi),
arm 2 the control, and every effect is *intervention minus control*. Scores are change
from baseline, so a negative MD means a larger decrease with the intervention.

Measures (metafor 3.8 ``escalc`` defaults, Viechtbauer 2010, J Stat Softw 36(3)):

``MD``
    Raw mean difference, ``yi = m1i - m2i``, with the heteroscedastic sampling variance
    ``vi = sd1i^2/n1i + sd2i^2/n2i`` (units: score points and points^2).
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
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

MEASURES = ("MD", "SMD", "COR", "ZCOR")

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
) -> tuple[np.ndarray, np.ndarray]:
    """Effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc``).

    Arm 1 is the intervention, arm 2 the control (effect = arm 1 minus arm 2). Inputs
    are array-likes of equal length; missing values (NaN) give NaN effects. The pooling
    functions do not drop these: :func:`srma.pooling.rma` raises ValueError on a NaN or
    infinite ``yi`` or ``vi``, so a caller leaves such studies out explicitly (and says
    so), as :func:`srma.group.pool_group` does with its ``usable`` flag.
    """
    measure = measure.upper()
    if measure not in MEASURES:
        raise ValueError(f"escalc: unknown measure {measure!r}; expected one of {MEASURES}")
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


def transform_z_to_r(z):
    """Back-transform Fisher's z to r: ``r = tanh(z)`` (metafor ``transf.ztor``)."""
    return np.tanh(np.asarray(z, dtype=float))
