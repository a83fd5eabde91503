"""Effect sizes against metafor's escalc (reference.json) and hand computations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from srma.effects import escalc, hedges_correction

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference.json").read_text())["escalc"]


def _arms():
    d = REF["normand_md"]
    return {k: d[k] for k in ("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")}


def test_md_matches_metafor():
    yi, vi = escalc("MD", **_arms())
    np.testing.assert_allclose(yi, REF["normand_md"]["yi"], rtol=1e-12)
    np.testing.assert_allclose(vi, REF["normand_md"]["vi"], rtol=1e-12)


def test_smd_hedges_g_matches_metafor():
    yi, vi = escalc("SMD", **_arms())
    np.testing.assert_allclose(yi, REF["normand_smd"]["yi"], rtol=1e-10)
    np.testing.assert_allclose(vi, REF["normand_smd"]["vi"], rtol=1e-10)


def test_cor_and_zcor_match_metafor():
    d = REF["molloy_cor"]
    yi, vi = escalc("COR", ri=d["ri"], ni=d["ni"])
    np.testing.assert_allclose(yi, d["yi"], rtol=1e-12)
    np.testing.assert_allclose(vi, d["vi"], rtol=1e-12)
    yi, vi = escalc("ZCOR", ri=d["ri"], ni=d["ni"])
    np.testing.assert_allclose(yi, REF["molloy_zcor"]["yi"], rtol=1e-12)
    np.testing.assert_allclose(vi, REF["molloy_zcor"]["vi"], rtol=1e-12)


def test_hand_computed_md_sign_and_smd():
    # TNFi: -5 (SD 4, n 20); control: -1 (SD 4.5, n 21) -> MD -4 (larger decrease on TNFi)
    yi, vi = escalc("MD", n1i=[20], m1i=[-5], sd1i=[4], n2i=[21], m2i=[-1], sd2i=[4.5])
    assert yi[0] == -4.0
    assert vi[0] == pytest.approx(16 / 20 + 20.25 / 21, rel=1e-14)
    # Hedges' g by hand: pooled SD, exact J = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))
    m = 39
    sp = math.sqrt((19 * 16 + 20 * 20.25) / m)
    j = math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2)) / math.sqrt(m / 2)
    g = j * -4 / sp
    yi, vi = escalc("SMD", n1i=[20], m1i=[-5], sd1i=[4], n2i=[21], m2i=[-1], sd2i=[4.5])
    assert yi[0] == pytest.approx(g, rel=1e-12)
    assert vi[0] == pytest.approx(1 / 20 + 1 / 21 + g * g / (2 * 41), rel=1e-12)
    # the exact correction is close to the approximation 1 - 3/(4m - 1)
    assert hedges_correction(m) == pytest.approx(1 - 3 / (4 * m - 1), rel=1e-4)


def test_missing_values_propagate_and_bad_measure():
    yi, vi = escalc("MD", n1i=[10, 10], m1i=[1, np.nan], sd1i=[1, 1], n2i=[10, 10],
                    m2i=[0, 0], sd2i=[1, 1])  # fmt: skip
    assert np.isfinite(yi[0]) and np.isnan(yi[1])
    with pytest.raises(ValueError, match="unknown measure"):
        escalc("XYZ", ri=[0.1], ni=[10])
    with pytest.raises(ValueError, match="'ai' is required"):
        escalc("OR", ri=[0.1], ni=[10])
    with pytest.raises(ValueError, match="n1i"):
        escalc("MD", m1i=[1])
