"""Workflow glue: pool_group and summary_table on hand-built extraction tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from srma.group import pool_group, summary_table
from srma.io import write_parquet
from srma.pooling import rma


def arm(study, arm_, n, m, sd, *, flag="reported", usable=True, reason=None, trial=None,
        instrument="asspimri", timepoint="12w"):  # fmt: skip
    return dict(
        study_id=study, trial=trial or study, instrument=instrument, timepoint=timepoint,
        timepoint_weeks=12.0, arm=arm_, arm_label=arm_, n=n, mean_change=m, sd_change=sd,
        mean_flag=flag, sd_flag=flag, method="reported", usable=usable, reason=reason,
        source="Table 2",
    )  # fmt: skip


@pytest.fixture
def extraction():
    return pd.DataFrame(
        [
            arm("A", "intervention", 20, -5.0, 4.0),
            arm("A", "control", 21, -1.0, 4.5),
            arm("B", "intervention", 30, -4.0, 5.0, flag="imputed"),
            arm("B", "control", 28, 0.5, 5.2),
            arm("C", "intervention", 15, -6.0, 3.0),  # no control arm
            arm("D", "intervention", 40, -3.0, 4.0),
            arm("D", "control", 40, -1.0, 3.0),
            arm("E", "intervention", 10, -3.0, 4.0, usable=False, reason="percent change"),
            arm("E", "control", 10, -1.0, 3.0, usable=False, reason="percent change"),
            arm("F", "intervention", 12, -2.0, 3.0, trial="D"),  # companion report of D
            arm("F", "control", 12, -1.0, 3.0, trial="D"),
            arm("A", "intervention", 20, -4.0, 4.0, timepoint="24w"),
            arm("A", "control", 21, -2.0, 4.5, timepoint="24w"),
        ]
    )


def test_pooled_group_by_hand(extraction):
    g = pool_group(extraction, instrument="asspimri", timepoint="12w")
    studies = g[g["row_type"] == "study"]
    assert studies["study_id"].tolist() == ["A", "B", "C", "D", "E", "F"]
    assert studies["usable"].tolist() == [True, True, False, True, False, False]
    reasons = dict(zip(studies["study_id"], studies["reason"], strict=True))
    assert reasons["C"] == "no usable control arm"
    assert reasons["E"] == "percent change"
    assert reasons["F"] == "same trial as D"
    a = studies.iloc[0]
    assert a["yi"] == -4.0  # intervention minus control: larger decrease with TNFi
    assert a["vi"] == pytest.approx(16 / 20 + 20.25 / 21, rel=1e-14)
    assert studies.set_index("study_id").loc["B", "flags"] == "imputed"
    yi = np.array([-4.0, -4.5, -2.0])
    vi = np.array([16 / 20 + 20.25 / 21, 25 / 30 + 5.2**2 / 28, 16 / 40 + 9 / 40])
    res = rma(yi, vi)
    pooled = g[g["row_type"] == "pooled"].iloc[0]
    assert pooled["k"] == 3 and pooled["status"] == "pooled"
    for key in ("estimate", "se", "pval", "ci_lb", "ci_ub", "tau2", "I2", "pi_lb", "pi_ub"):
        assert pooled[key] == pytest.approx(getattr(res, key), rel=1e-12)
    assert studies["weight"].dropna().sum() == pytest.approx(100.0)
    assert pooled["n1i"] == 90 and pooled["n2i"] == 89


def test_single_study_reported_only_and_summary(extraction):
    g12 = pool_group(extraction, instrument="asspimri", timepoint="12w")
    g24 = pool_group(extraction, instrument="asspimri", timepoint="24w")
    assert (g24["row_type"] == "study").all() and len(g24) == 1
    assert g24["status"].iloc[0] == "single study"
    sens = pool_group(extraction, instrument="asspimri", timepoint="12w", reported_only=True)
    b = sens[sens["study_id"] == "B"].iloc[0]
    assert not b["usable"] and "reported" in b["reason"]
    assert sens[sens["row_type"] == "pooled"].iloc[0]["k"] == 2
    none = pool_group(
        extraction[extraction["study_id"] == "E"], instrument="asspimri", timepoint="12w"
    )
    assert none["status"].iloc[0] == "no usable data"
    table = summary_table([g24, g12, none])
    assert table["timepoint"].tolist() == ["12w", "12w", "24w"]
    row = table.iloc[0]
    assert row["k"] == 3 and row["n_intervention"] == 90 and row["studies"] == "A; B; D"
    single = table.iloc[2]
    assert single["status"] == "single study" and single["estimate"] == -2.0
    assert np.isnan(single["tau2"])
    assert table.iloc[1]["status"] == "no usable data" and table.iloc[1]["k"] == 0


def test_same_input_same_bytes(extraction, tmp_path):
    a = write_parquet(pool_group(extraction, instrument="asspimri", timepoint="12w"),
                      tmp_path / "a.parquet")  # fmt: skip
    b = write_parquet(pool_group(extraction.iloc[::-1], instrument="asspimri", timepoint="12w"),
                      tmp_path / "b.parquet")  # fmt: skip
    assert a.read_bytes() == b.read_bytes()


def test_smd_and_knha(extraction):
    g = pool_group(extraction, instrument="asspimri", timepoint="12w", measure="SMD",
                   test="knha", method="DL")  # fmt: skip
    pooled = g[g["row_type"] == "pooled"].iloc[0]
    study = g[g["usable"] & (g["row_type"] == "study")]
    res = rma(study["yi"], study["vi"], method="DL", test="knha")
    assert pooled["estimate"] == pytest.approx(res.estimate, rel=1e-12)
    assert pooled["zval"] == pytest.approx(res.zval, rel=1e-12)
    assert pooled["measure"] == "SMD" and pooled["test"] == "knha"
