"""Correlation table and pooled correlations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srma.correlations import COLUMNS, pool, tabulate
from srma.errors import InputError

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference.json").read_text())


def test_tabulate_bundled_seed_rows(root_dir):
    raw = pd.read_csv(root_dir / "resources/seed/correlations.csv", dtype=str)
    table = tabulate(raw)
    assert list(table.columns) == COLUMNS
    assert len(table) == len(raw)  # nothing dropped
    # "sparcc_sij change" is split into measure and timing
    mak = table[(table["study_id"] == "Maksymowych2016") & (table["clinical_measure"] == "crp")]
    assert set(mak["mri_measure"]) == {"sparcc_sij"} and set(mak["mri_timing"]) == {"change"}
    first = mak.iloc[0]
    assert first["r"] == 0.31 and first["n"] == 96 and first["p"] == "<0.01"
    assert first["timepoint_weeks"] == "12"
    # sorted by study, then measures; same input in another order gives the same table
    again = tabulate(raw.iloc[::-1])
    pd.testing.assert_frame_equal(table, again)
    assert table["study_id"].tolist() == sorted(table["study_id"].tolist())


def _rows(items):
    return pd.DataFrame(
        [
            dict(
                study_id=s, mri_measure="sparcc_sij change", clinical_measure="crp",
                clinical_measure_detail="CRP change", timepoint_weeks=w, group="all",
                method="spearman", r=r, p=None, n=n, source="T2",
            )
            for s, r, n, w in items
        ]
    )  # fmt: skip


def test_pool_fisher_z_matches_metafor():
    ref = REF["escalc"]["molloy_cor"]
    items = [
        (f"S{i:02d}", r, n, 12) for i, (r, n) in enumerate(zip(ref["ri"], ref["ni"], strict=True))
    ]
    out = pool(tabulate(_rows(items)), min_studies=3)
    assert len(out) == 1
    row = out.iloc[0]
    exp = REF["cor_pool"]
    assert row["status"] == "pooled" and row["k"] == 16
    for key in ("r", "ci_lb", "ci_ub", "tau2", "I2"):
        assert row[key] == pytest.approx(exp[key], rel=1e-6)
    assert row["n_total"] == sum(ref["ni"])


def test_pool_one_row_per_study_rule_and_rows_without_n():
    items = [
        ("A", 0.30, 50, 12),
        ("A", 0.60, 80, 48),  # larger n: chosen for A
        ("B", 0.20, 40, 24),
        ("B", 0.25, 40, 12),  # same n: earlier week chosen for B
        ("C", 0.40, None, 12),  # no n: cannot be pooled
        ("D", 0.10, 30, 12),
    ]
    out = pool(tabulate(_rows(items)), min_studies=3, method="DL")
    row = out.iloc[0]
    assert row["k"] == 3 and row["studies"] == "A; B; D" and row["not_pooled"] == "C"
    z = np.arctanh([0.60, 0.25, 0.10])
    v = 1 / (np.array([80, 40, 30]) - 3)
    w = 1 / v
    mu_fe = (w * z).sum() / w.sum()
    q = (w * (z - mu_fe) ** 2).sum()
    tau2 = max(0.0, (q - 2) / (w.sum() - (w**2).sum() / w.sum()))  # DerSimonian-Laird
    ws = 1 / (v + tau2)
    est = (ws * z).sum() / ws.sum()
    assert row["tau2"] == pytest.approx(tau2, rel=1e-10)
    assert row["r"] == pytest.approx(math.tanh(est), rel=1e-10)
    # with C's n missing there are only 3 studies: min_studies=4 leaves it unpooled
    out4 = pool(tabulate(_rows(items)), min_studies=4)
    assert out4.iloc[0]["status"] == "too few studies" and np.isnan(out4.iloc[0]["r"])


def test_a_correlation_of_one_is_listed_not_pooled():
    """r = 1 or -1 has an infinite Fisher z: the study is listed under not_pooled, the
    others are pooled as if it were absent (DL by hand, as above)."""
    items = [("A", 0.60, 80, 12), ("B", 0.25, 40, 12), ("C", 1.0, 30, 12), ("D", 0.10, 30, 12)]
    row = pool(tabulate(_rows(items)), min_studies=3, method="DL").iloc[0]
    assert row["k"] == 3 and row["studies"] == "A; B; D" and row["not_pooled"] == "C"
    z = np.arctanh([0.60, 0.25, 0.10])
    w = np.array([80, 40, 30]) - 3.0
    q = (w * (z - (w * z).sum() / w.sum()) ** 2).sum()
    tau2 = max(0.0, (q - 2) / (w.sum() - (w**2).sum() / w.sum()))
    ws = 1 / (1 / w + tau2)
    assert row["r"] == pytest.approx(math.tanh((ws * z).sum() / ws.sum()), rel=1e-10)
    items[2] = ("C", -1.0, 30, 12)
    assert pool(tabulate(_rows(items)), min_studies=3).iloc[0]["not_pooled"] == "C"


def test_bad_values_name_study_and_field():
    with pytest.raises(InputError, match=r"record X.*field 'r'"):
        tabulate(_rows([("X", 1.5, 20, 12)]))
    with pytest.raises(InputError, match=r"record Y.*field 'n'"):
        tabulate(_rows([("Y", 0.5, 20.5, 12)]))
