"""Statistical conversions that turn what a trial printed into a mean and SD of change.

Every function takes and returns plain numbers in the units of the score (points), works
on one arm (or one two-arm comparison), and names its formula and source. Nothing here
knows about files; :mod:`srma.extraction.study` decides which conversion applies and
records the flag (``reported``, ``converted``, ``estimated``, ``imputed``).

Sources
-------
- Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023),
  chapter 6 (Higgins, Li, Deeks): 6.5.2.2 (SD from SE or CI of a group mean),
  6.5.2.3 (SD from t or P of a difference in means), 6.5.2.8 (imputing change-from-baseline
  SDs with a correlation coefficient), Table 6.5.a (combining groups).
- Wan X, Wang W, Liu J, Tong T. Estimating the sample mean and standard deviation from the
  sample size, median, range and/or interquartile range. BMC Med Res Methodol
  2014;14:135.
- Luo D, Wan X, Liu J, Tong T. Optimally estimating the sample mean from the sample size,
  median, mid-range, and/or mid-quartile range. Stat Methods Med Res 2018;27:1785-805.
- Shi J, Luo D, Weng H, et al. Optimally estimating the sample standard deviation from the
  five-number summary. Res Synth Methods 2020;11:641-54.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from scipy import stats

#: Below this arm size a confidence interval is taken to be t-based (Handbook 6.5.2.2:
#: "if the sample size is small (say less than 60 participants in each group)").
T_BASED_BELOW = 60


def sd_from_se(se: float, n: int) -> float:
    """SD of a group from the standard error of its mean.

    ``SD = SE * sqrt(n)`` (Cochrane Handbook 6.5.2.2).
    """
    return se * math.sqrt(n)


def ci_divisor(n: int, level: float = 95.0) -> tuple[float, str]:
    """Width of a confidence interval of a group mean, in standard errors.

    For ``n < 60`` the interval is taken as t-based, ``2 * t_{1-a/2, n-1}`` (for 95 % and
    n = 25: 2 x 2.0639 = 4.128); otherwise normal, ``2 * z_{1-a/2}`` (3.92 for 95 %)
    (Cochrane Handbook 6.5.2.2). Returns the divisor and a description.
    """
    alpha = 1.0 - level / 100.0
    if n < T_BASED_BELOW:
        return 2.0 * float(stats.t.ppf(1.0 - alpha / 2.0, n - 1)), f"t, df={n - 1}"
    return 2.0 * float(stats.norm.ppf(1.0 - alpha / 2.0)), "normal"


def sd_from_ci(lower: float, upper: float, n: int, level: float = 95.0) -> float:
    """SD of a group from the confidence interval of its mean.

    ``SD = sqrt(n) * (upper - lower) / divisor`` with the divisor of :func:`ci_divisor`
    (Cochrane Handbook 6.5.2.2).
    """
    divisor, _ = ci_divisor(n, level)
    return math.sqrt(n) * (upper - lower) / divisor


def t_from_p(p: float, n1: int, n2: int) -> float:
    """t statistic of a two-sided two-sample t test with P value ``p``.

    ``t = t_{1 - p/2, n1 + n2 - 2}`` (Cochrane Handbook 6.5.2.3; e.g. P = 0.008 with
    25 and 22 participants gives t = 2.78).
    """
    return float(stats.t.ppf(1.0 - p / 2.0, n1 + n2 - 2))


def sd_from_t(md: float, t: float, n1: int, n2: int) -> float:
    """Within-group SD (the same for both arms) from a mean difference and its t statistic.

    ``SE = |MD| / |t|``, ``SD = SE / sqrt(1/n1 + 1/n2)`` (Cochrane Handbook 6.5.2.3).
    """
    se = abs(md) / abs(t)
    return se / math.sqrt(1.0 / n1 + 1.0 / n2)


def sd_from_p(md: float, p: float, n1: int, n2: int) -> float:
    """Within-group SD (the same for both arms) from a mean difference and an exact
    two-sided P value of a t test: :func:`t_from_p` then :func:`sd_from_t`
    (Cochrane Handbook 6.5.2.3)."""
    return sd_from_t(md, t_from_p(p, n1, n2), n1, n2)


def sd_change(sd_baseline: float, sd_followup: float, corr: float) -> float:
    """SD of the change from baseline, from the baseline and follow-up SDs and their
    correlation.

    ``SD_change = sqrt(SD_b^2 + SD_f^2 - 2 * Corr * SD_b * SD_f)``
    (Cochrane Handbook 6.5.2.8).
    """
    var = sd_baseline**2 + sd_followup**2 - 2.0 * corr * sd_baseline * sd_followup
    return math.sqrt(max(var, 0.0))


def change_correlation(sd_baseline: float, sd_followup: float, sd_chg: float) -> float:
    """Correlation between baseline and follow-up from a study that reports all three SDs.

    ``Corr = (SD_b^2 + SD_f^2 - SD_change^2) / (2 * SD_b * SD_f)``
    (Cochrane Handbook 6.5.2.8).
    """
    return (sd_baseline**2 + sd_followup**2 - sd_chg**2) / (2.0 * sd_baseline * sd_followup)


def combine_groups(n1: int, m1: float, sd1: float, n2: int, m2: float, sd2: float):
    """Combine two groups (e.g. two doses of one drug) into one.

    ``N = N1 + N2``; ``M = (N1 M1 + N2 M2) / N``;
    ``SD = sqrt(((N1-1) SD1^2 + (N2-1) SD2^2 + N1 N2 / N * (M1^2 + M2^2 - 2 M1 M2)) / (N-1))``
    (Cochrane Handbook Table 6.5.a). Apply repeatedly for more than two groups.
    Returns ``(N, M, SD)``.
    """
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n
    var = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2 + n1 * n2 / n * (m1 - m2) ** 2) / (n - 1)
    return n, mean, math.sqrt(var)


# Median and quantiles -> mean and SD -----------------------------------------------------


def _xi(n: int) -> float:
    """Expected range of n standard normal values, ``2 * Phi^-1((n - 0.375) / (n + 0.25))``
    (Wan et al. 2014, scenario S1, Blom's approximation)."""
    return 2.0 * float(stats.norm.ppf((n - 0.375) / (n + 0.25)))


def _eta(n: int) -> float:
    """Expected interquartile range of n standard normal values,
    ``2 * Phi^-1((0.75 n - 0.125) / (n + 0.25))`` (Wan et al. 2014, scenario S2)."""
    return 2.0 * float(stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25)))


def mean_from_median_range(median: float, minimum: float, maximum: float, n: int) -> float:
    """Mean from median and range (scenario S1).

    ``w = 4 / (4 + n^0.75)``; ``mean = w (a + b) / 2 + (1 - w) m`` (Luo et al. 2018, scenario S1).
    """
    w = 4.0 / (4.0 + n**0.75)
    return w * (minimum + maximum) / 2.0 + (1.0 - w) * median


def sd_from_range(minimum: float, maximum: float, n: int) -> float:
    """SD from the range (scenario S1): ``SD = (b - a) / xi(n)`` (Wan et al. 2014, scenario S1)."""
    return (maximum - minimum) / _xi(n)


def mean_from_median_iqr(median: float, q1: float, q3: float, n: int) -> float:
    """Mean from median and quartiles (scenario S2).

    ``w = 0.7 + 0.39 / n``; ``mean = w (q1 + q3) / 2 + (1 - w) m``
    (Luo et al. 2018, scenario S2, eq. 15).
    """
    w = 0.7 + 0.39 / n
    return w * (q1 + q3) / 2.0 + (1.0 - w) * median


def sd_from_iqr(q1: float, q3: float, n: int) -> float:
    """SD from the interquartile range (scenario S2): ``SD = (q3 - q1) / eta(n)``
    (Wan et al. 2014, scenario S2, eqs. 15-16)."""
    return (q3 - q1) / _eta(n)


def mean_from_five_numbers(
    median: float, q1: float, q3: float, minimum: float, maximum: float, n: int
) -> float:
    """Mean from the five-number summary (scenario S3).

    ``w1 = 2.2 / (2.2 + n^0.75)``, ``w2 = 0.7 - 0.72 / n^0.55``;
    ``mean = w1 (a + b) / 2 + w2 (q1 + q3) / 2 + (1 - w1 - w2) m`` (Luo et al. 2018, scenario S3).
    """
    w1 = 2.2 / (2.2 + n**0.75)
    w2 = 0.7 - 0.72 / n**0.55
    return w1 * (minimum + maximum) / 2.0 + w2 * (q1 + q3) / 2.0 + (1.0 - w1 - w2) * median


def sd_from_five_numbers(q1: float, q3: float, minimum: float, maximum: float, n: int) -> float:
    """SD from the five-number summary (scenario S3).

    ``theta1 = (2 + 0.14 n^0.6) Phi^-1((n - 0.375) / (n + 0.25))``,
    ``theta2 = (2 + 2 / (0.07 n^0.6)) Phi^-1((0.75 n - 0.125) / (n + 0.25))``,
    ``SD = (b - a) / theta1 + (q3 - q1) / theta2`` (Shi et al. 2020, eq. 11).
    """
    theta1 = (2.0 + 0.14 * n**0.6) * float(stats.norm.ppf((n - 0.375) / (n + 0.25)))
    theta2 = (2.0 + 2.0 / (0.07 * n**0.6)) * float(stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25)))
    return (maximum - minimum) / theta1 + (q3 - q1) / theta2


def absolute_from_percent(pct_change: float, baseline_mean: float) -> float:
    """Absolute mean change from a mean percent change and the baseline mean:
    ``change = pct / 100 * baseline_mean`` (in the instrument's units).

    An approximation (the mean of individual percent changes times the mean baseline is
    not the mean of individual changes), hence flagged ``estimated``.
    """
    return pct_change / 100.0 * baseline_mean


# P values as printed ---------------------------------------------------------------------

_P_RE = re.compile(r"^\s*[pP]?\s*(<=|>=|=<|=>|≤|≥|<|>|=)?\s*(\d*\.?\d+(?:[eE][-+]?\d+)?)")
_RELATION = {"=<": "<=", "=>": ">=", "≤": "<=", "≥": ">=", None: "=", "=": "="}


@dataclass(frozen=True)
class PValue:
    """A P value as printed (``text``), with its number and relation when it has one.

    ``relation`` is ``=`` for an exact value, else ``<``, ``<=``, ``>`` or ``>=``;
    ``value`` is None when the text holds no number (e.g. "significant").
    """

    text: str | None
    value: float | None
    relation: str | None

    @property
    def exact(self) -> bool:
        return self.value is not None and self.relation == "="


def parse_p(printed: object) -> PValue:
    """Parse a printed P value: ``0.006`` (exact), ``"<0.001"``, ``">=0.05 (not flagged)"``,
    ``"significant (exact p not given)"`` (no number)."""
    if printed is None:
        return PValue(None, None, None)
    if isinstance(printed, bool):
        raise ValueError(f"not a P value: {printed!r}")
    if isinstance(printed, int | float):
        return PValue(f"{printed:g}", float(printed), "=")
    text = str(printed).strip()
    m = _P_RE.match(text)
    if not m:
        return PValue(text, None, None)
    relation = _RELATION.get(m.group(1), m.group(1))
    return PValue(text, float(m.group(2)), relation)
