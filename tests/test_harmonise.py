"""The statistical conversions of srma.extraction.harmonise, each against a published
worked example or a value computed by hand from the formula (R 4 `qt`/`qnorm` for the
quantiles; the commands are in the comments)."""

from __future__ import annotations

import math

import pytest

from srma.extraction import harmonise as hm


def test_sd_from_se():
    # Handbook 6.5.2.2: SD = SE x sqrt(n); 0.5 x sqrt(25) = 2.5 by hand.
    assert hm.sd_from_se(0.5, 25) == pytest.approx(2.5)


def test_ci_divisor_is_t_based_for_small_n():
    # Handbook 6.5.2.2: for n = 25 the divisor 3.92 is replaced by 2 x 2.0639 = 4.128.
    divisor, how = hm.ci_divisor(25)
    assert divisor == pytest.approx(4.128, abs=5e-4)
    assert how == "t, df=24"
    # n >= 60: normal, 2 x 1.959964 = 3.92.
    assert hm.ci_divisor(100)[0] == pytest.approx(3.919928, abs=1e-6)
    # 90 % interval, large n: Handbook gives 3.29.
    assert hm.ci_divisor(200, level=90)[0] == pytest.approx(3.29, abs=5e-3)


def test_sd_from_ci():
    # sqrt(25) * (34.2 - 30.0) / (2 * qt(0.975, 24)) = 5.087459333 (R)
    assert hm.sd_from_ci(30.0, 34.2, 25) == pytest.approx(5.087459333, rel=1e-9)
    # sqrt(100) * 4.2 / (2 * qnorm(0.975)) = 10.7144826 (R)
    assert hm.sd_from_ci(30.0, 34.2, 100) == pytest.approx(10.7144826, rel=1e-8)


def test_sd_from_p_handbook_example():
    # Handbook 6.5.2.3: P = 0.008, n = 25 and 22, MD = 3.8 -> t = 2.78, SE = 3.8 / 2.78
    # = 1.37, SD = 1.37 / sqrt(1/25 + 1/22) = 4.69 (rounded intermediates).
    assert hm.t_from_p(0.008, 25, 22) == pytest.approx(2.78, abs=5e-3)
    sd = hm.sd_from_p(3.8, 0.008, 25, 22)
    assert sd == pytest.approx(4.69, abs=0.01)
    # unrounded: t = qt(1 - 0.004, 45) = 2.775545369; SD = 4.683469341 (R)
    assert sd == pytest.approx(4.683469341, rel=1e-8)


def test_sd_from_t_sign_free():
    # SE = |MD| / |t| = 3.8 / 2.775545369; same as above, whatever the sign of MD or t.
    assert hm.sd_from_t(-3.8, 2.775545369, 25, 22) == pytest.approx(4.683469341, rel=1e-8)


def test_sd_change_handbook_example():
    # Handbook 5.1, 16.4.6.4: SDs 2.38 and 2.21, Corr 0.68, n = 10 -> SE of the
    # difference 0.583; SD = sqrt(2.38^2 + 2.21^2 - 2 x 0.68 x 2.38 x 2.21) = 1.842599251.
    sd = hm.sd_change(2.38, 2.21, 0.68)
    assert sd == pytest.approx(1.842599251, rel=1e-9)
    assert sd / math.sqrt(10) == pytest.approx(0.583, abs=5e-4)


def test_change_correlation_inverts_sd_change():
    # Corr = (SDb^2 + SDf^2 - SDc^2) / (2 SDb SDf), Handbook 6.5.2.8
    assert hm.change_correlation(2.38, 2.21, 1.842599251) == pytest.approx(0.68, abs=1e-9)
    # r = 0.5 and equal SDs: SD change equals the SD.
    assert hm.sd_change(3.1, 3.1, 0.5) == pytest.approx(3.1)


def test_combine_groups_three_groups_example():
    # StatsToDo "Combine Means and SDs Into One Group" example (same result as the
    # Handbook's Table 6.5.a formula): (10, 11.8, 2.4), (20, 15.3, 3.2), (15, 8.4, 4.1)
    # -> n 45, mean 12.2222, SD 4.5028.
    n, m, sd = hm.combine_groups(10, 11.8, 2.4, 20, 15.3, 3.2)
    n, m, sd = hm.combine_groups(n, m, sd, 15, 8.4, 4.1)
    assert n == 45
    assert m == pytest.approx(12.2222, abs=5e-5)
    assert sd == pytest.approx(4.5028, abs=5e-5)


def test_combine_two_groups_by_hand():
    # N = 100, M = 29.7, SD = sqrt((49*4.5^2 + 49*5.8^2 + 2500/100*6.4^2)/99)
    # = sqrt(3664.61 / 99) = 6.084066
    n, m, sd = hm.combine_groups(50, 26.5, 4.5, 50, 32.9, 5.8)
    assert (n, m) == (100, pytest.approx(29.7))
    assert sd == pytest.approx(math.sqrt(3664.61 / 99), rel=1e-12)
    # negative means (decreases) give the same SD: only M1 - M2 enters.
    assert hm.combine_groups(50, -26.5, 4.5, 50, -32.9, 5.8)[2] == pytest.approx(sd)


def test_median_range_metablue_example():
    # R package metaBLUE documentation: Luo.mean(c(1, 4, 10), 30, "S1") = 4.356748,
    # Wan.std(c(1, 4, 10), 30, "S1") = 2.205578.
    assert hm.mean_from_median_range(4, 1, 10, 30) == pytest.approx(4.356748, abs=1e-6)
    assert hm.sd_from_range(1, 10, 30) == pytest.approx(2.205578, abs=1e-6)


def test_median_iqr():
    # Luo 2018 S2: w = 0.7 + 0.39/30; mean = w * 4.5 + (1 - w) * 4 = 4.3565 (by hand)
    assert hm.mean_from_median_iqr(4, 3, 6, 30) == pytest.approx(4.3565, abs=1e-12)
    # Wan 2014 S2: (6 - 3) / (2 * qnorm((0.75*30 - 0.125)/(30 + 0.25))) = 2.335260656 (R)
    assert hm.sd_from_iqr(3, 6, 30) == pytest.approx(2.335260656, rel=1e-9)


def test_five_number_summary():
    # Luo 2018 S3 and Shi 2020 eq. 11 with (1, 3, 4, 6, 10), n = 30 (R):
    # mean 4.514279398, SD 2.25098174
    assert hm.mean_from_five_numbers(4, 3, 6, 1, 10, 30) == pytest.approx(4.514279398, rel=1e-9)
    assert hm.sd_from_five_numbers(3, 6, 1, 10, 30) == pytest.approx(2.25098174, rel=1e-8)


def test_absolute_from_percent():
    # EMBARK SIJ: -46.9 % of a baseline mean 8.3 = -3.8927 points (by hand)
    assert hm.absolute_from_percent(-46.9, 8.3) == pytest.approx(-3.8927)


@pytest.mark.parametrize(
    ("printed", "value", "relation", "exact"),
    [
        ("<0.001", 0.001, "<", False),
        ("<=0.001", 0.001, "<=", False),
        (">=0.05 (not flagged)", 0.05, ">=", False),
        ("0.006", 0.006, "=", True),
        (0.047, 0.047, "=", True),
        ("P = 0.14", 0.14, "=", True),
        ("significant (exact p not given)", None, None, False),
        (None, None, None, False),
    ],
)
def test_parse_p(printed, value, relation, exact):
    p = hm.parse_p(printed)
    assert p.value == (pytest.approx(value) if value is not None else None)
    assert p.relation == relation
    assert p.exact is exact
