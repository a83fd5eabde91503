"""``results/tables/sensitivity.csv``: the sensitivity analyses of every group in one table.

One row per instrument x timepoint group, from the group's three tables under
``results/sensitivity/`` (data model, section 5; :mod:`srma.group_sensitivity`):

- leave-one-out: how many refits there were and the range of their estimates (the
  smallest and largest pooled estimate with one study left out);
- Egger's regression test: its statistic (z, or t under a t test), p-value and limit
  estimate (the effect at standard error 0);
- trim-and-fill: the number of filled studies, the side they were filled on, and the
  filled model's estimate with its confidence interval;
- Begg's rank correlation test (from the Egger table's ``begg_*`` columns, metafor
  ``ranktest(res)``): the studies tested, Kendall's tau and its p-value (last, after
  the columns above).

An analysis that was not run carries its status and the reason, and empty numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

COLUMNS = [
    "instrument",
    "timepoint",
    "leave1out_status",
    "leave1out_refits",
    "leave1out_min",
    "leave1out_max",
    "leave1out_reason",
    "egger_status",
    "egger_k",
    "egger_zval",
    "egger_pval",
    "egger_limit_estimate",
    "egger_reason",
    "trimfill_status",
    "trimfill_k0",
    "trimfill_side",
    "trimfill_estimate",
    "trimfill_ci_lb",
    "trimfill_ci_ub",
    "trimfill_reason",
    "begg_status",
    "begg_k",
    "begg_tau",
    "begg_pval",
    "begg_reason",
]


def _group(table: pd.DataFrame, what: str) -> tuple[str, str]:
    keys = table[["instrument", "timepoint"]].drop_duplicates()
    if len(keys) != 1:
        raise ValueError(f"a {what} table must hold exactly one group, found {len(keys)}")
    return str(keys["instrument"].iat[0]), str(keys["timepoint"].iat[0])


def _one_status(table: pd.DataFrame, what: str) -> str:
    statuses = table["status"].dropna().unique()
    if len(statuses) != 1:
        raise ValueError(f"a {what} table must have one status, found {list(statuses)}")
    return str(statuses[0])


def summary_table(
    leave1out: Sequence[pd.DataFrame],
    regtest: Sequence[pd.DataFrame],
    trimfill: Sequence[pd.DataFrame],
) -> pd.DataFrame:
    """One row per group (:data:`COLUMNS`), in the order of ``leave1out``; every group
    must have one table of each kind."""
    egger = {_group(t, "regtest"): t.iloc[0] for t in regtest}
    filled = {_group(t, "trimfill"): t for t in trimfill}
    rows = []
    for loo in leave1out:
        key = _group(loo, "leave1out")
        if key not in egger or key not in filled:
            raise ValueError(f"group {key}: no Egger or trim-and-fill table")
        status = _one_status(loo, "leave1out")
        estimated = status == "estimated"
        e, tf = egger.pop(key), filled.pop(key)
        model = tf[tf["row_type"] == "model"].iloc[0]
        rows.append(
            {
                "instrument": key[0],
                "timepoint": key[1],
                "leave1out_status": status,
                "leave1out_refits": len(loo) if estimated else 0,
                "leave1out_min": loo["estimate"].min() if estimated else None,
                "leave1out_max": loo["estimate"].max() if estimated else None,
                "leave1out_reason": loo["reason"].iat[0],
                "egger_status": e["status"],
                "egger_k": e["k"],
                "egger_zval": e["zval"],
                "egger_pval": e["pval"],
                "egger_limit_estimate": e["est"],
                "egger_reason": e["reason"],
                "trimfill_status": model["status"],
                "trimfill_k0": model["k0"],
                "trimfill_side": model["side"],
                "trimfill_estimate": model["estimate"],
                "trimfill_ci_lb": model["ci_lb"],
                "trimfill_ci_ub": model["ci_ub"],
                "trimfill_reason": model["reason"],
                **{f"begg_{c}": e.get(f"begg_{c}") for c in ("status", "k", "tau", "pval")},
                "begg_reason": e.get("begg_reason"),
            }
        )
    if egger or filled:
        raise ValueError(f"groups without a leave-one-out table: {sorted({*egger, *filled})}")
    table = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("leave1out_min", "leave1out_max", "egger_zval", "egger_pval"):
        table[col] = table[col].astype("float64")
    for col in ("egger_limit_estimate", "trimfill_estimate", "trimfill_ci_lb", "trimfill_ci_ub"):
        table[col] = table[col].astype("float64")
    for col in ("begg_tau", "begg_pval"):
        table[col] = table[col].astype("float64")
    for col in ("leave1out_refits", "egger_k", "trimfill_k0", "begg_k"):
        table[col] = table[col].astype("Int64")
    return table
