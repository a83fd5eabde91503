"""``results/tables/sensitivity.csv`` built from hand-made sensitivity tables: one row per
group with the leave-one-out range, Egger's test and trim-and-fill, or the reasons."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from srma.sensitivity_table import COLUMNS, summary_table


def group(instrument, timepoint, **cols):
    return pd.DataFrame({"instrument": instrument, "timepoint": timepoint, **cols})


def tables():
    loo = [
        group("a", "12w", study_id=["S1", "S2", "S3"], estimate=[-1.5, -2.5, -2.0],
              status="estimated", reason=None),
        group("b", "12w", study_id=[None], estimate=[math.nan], status="not estimated",
              reason=["2 usable studies, fewer than 3: no leave-one-out analysis"]),
    ]  # fmt: skip
    egger = [
        group("b", "12w", k=[2], zval=[math.nan], pval=[math.nan], est=[math.nan],
              status="not tested", reason=["2 usable studies, fewer than 10: no Egger's test"],
              begg_status="not tested", begg_k=[2], begg_tau=[math.nan],
              begg_pval=[math.nan],
              begg_reason=["2 usable studies, fewer than 10: no Begg's test"]),
        group("a", "12w", k=[12], zval=[-2.1], pval=[0.0357], est=[-0.4], status="tested",
              reason=None, begg_status="tested", begg_k=[12], begg_tau=[-0.25],
              begg_pval=[0.27], begg_reason=[None]),
    ]  # fmt: skip
    fill = [
        group("a", "12w", row_type=["model", "filled", "filled"], k0=[2, None, None],
              side=["right"] * 3, estimate=[-1.8, math.nan, math.nan],
              ci_lb=[-2.6, math.nan, math.nan], ci_ub=[-1.0, math.nan, math.nan],
              status="estimated", reason=None),
        group("b", "12w", row_type=["model"], k0=[None], side=[None], estimate=[math.nan],
              ci_lb=[math.nan], ci_ub=[math.nan], status="not estimated",
              reason=["2 usable studies, fewer than 10: no trim-and-fill analysis"]),
    ]  # fmt: skip
    return loo, egger, fill


def test_one_row_per_group_with_numbers_or_reasons():
    out = summary_table(*tables())
    assert list(out.columns) == COLUMNS
    assert out[["instrument", "timepoint"]].values.tolist() == [["a", "12w"], ["b", "12w"]]
    a, b = out.iloc[0], out.iloc[1]
    assert (a.leave1out_refits, a.leave1out_min, a.leave1out_max) == (3, -2.5, -1.5)
    assert (a.egger_k, a.egger_zval, a.egger_pval, a.egger_limit_estimate) == (
        12,
        -2.1,
        0.0357,
        -0.4,
    )
    assert (a.trimfill_k0, a.trimfill_side, a.trimfill_estimate) == (2, "right", -1.8)
    assert (a.trimfill_ci_lb, a.trimfill_ci_ub) == (-2.6, -1.0)
    assert b.leave1out_status == "not estimated" and b.leave1out_refits == 0
    assert b.leave1out_reason.startswith("2 usable studies")
    assert b.egger_status == "not tested" and math.isnan(b.egger_pval)
    assert b.trimfill_reason.endswith("no trim-and-fill analysis")
    assert (a.begg_status, a.begg_k, a.begg_tau, a.begg_pval) == ("tested", 12, -0.25, 0.27)
    assert pd.isna(a.begg_reason)
    assert b.begg_status == "not tested" and b.begg_k == 2 and math.isnan(b.begg_tau)
    assert b.begg_reason == "2 usable studies, fewer than 10: no Begg's test"
    assert out["begg_k"].dtype == "Int64" and out["begg_pval"].dtype == "float64"


def test_every_group_needs_all_three_tables():
    loo, egger, fill = tables()
    with pytest.raises(ValueError, match="no Egger or trim-and-fill table"):
        summary_table(loo, egger[:1], fill)
    with pytest.raises(ValueError, match="without a leave-one-out table"):
        summary_table(loo[:1], egger, fill)
    mixed = pd.concat([loo[0], loo[0].assign(instrument="c")])
    with pytest.raises(ValueError, match="exactly one group"):
        summary_table([mixed], egger, fill)
