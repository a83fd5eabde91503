"""Sensitivity analysis: a group's pooled result without its studies at high risk of bias.

Cochrane Handbook (version 6.4), chapters 7, 8 and 10: a meta-analysis restricted to the
studies at low risk of bias (or without those at high risk) shows how much the
conclusion rests on the weaker studies; GRADE uses it for the risk-of-bias domain
(Guyatt et al. J Clin Epidemiol 2011;64:407-415).

A study is left out when its overall judgement for the group's instrument x timepoint
(:func:`srma.appraisal.load.for_outcome`) is at high risk: RoB 2 ``high``, ROBINS-I
``serious`` or ``critical`` (:data:`srma.appraisal.tools.HIGH_RISK`). Studies whose
overall judgement is ``no information`` stay in: nothing says they are at high risk (the
row names them, so the reader sees what the analysis rests on). The remaining usable
studies are refitted with the group's own model (``method``, ``test``, ``level`` and
prediction interval ``pi_type`` of the pooled table, :func:`srma.pooling.rma`), in table
order.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from srma.appraisal.load import for_outcome, overall_judgements
from srma.appraisal.tools import HIGH_RISK, NO_INFORMATION
from srma.errors import InputError
from srma.pooling import rma

COLUMNS = [
    "instrument",
    "timepoint",
    "k_all",
    "k",
    "left_out",
    "no_information",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "tau2",
    "I2",
    "pi_lb",
    "pi_ub",
    "method",
    "test",
    "level",
    "status",
    "reason",
]
STRINGS = ("instrument", "timepoint", "left_out", "no_information", "method", "test")
STRINGS += ("status", "reason")


def without_high_risk(
    group: pd.DataFrame, rob: pd.DataFrame, *, min_studies: int = 2, source: str = ""
) -> pd.DataFrame:
    """One row: the group (its pooled table, data model section 5) refitted without its
    usable studies at high risk of bias (``rob``: the risk-of-bias table,
    :func:`srma.appraisal.load.rob_table`).

    ``status``: ``same as main analysis`` (no usable study at high risk: the main
    analysis's numbers), ``estimated`` (refitted from ``k`` >= ``min_studies`` studies),
    ``single study`` (one study left: its effect and Wald CI), ``not estimated`` (no
    usable study, none left, or fewer than ``min_studies`` but more than one; the
    ``reason`` says which).
    ``left_out`` and ``no_information`` list the studies at high risk and the kept
    studies without information (``; ``-joined). A usable study without a risk-of-bias
    judgement is an :class:`~srma.errors.InputError`.
    """
    where = source or "pooled group table"
    keys = {c: _first(group, c) for c in ("instrument", "timepoint")}
    studies = group[(group["row_type"] == "study") & group["usable"].astype(bool)]
    pooled = group[group["row_type"] == "pooled"]
    judgements = overall_judgements(for_outcome(rob, keys["instrument"], keys["timepoint"]))
    for sid in studies["study_id"]:
        if str(sid) not in judgements:
            raise InputError(
                where,
                f"usable study {sid} has no risk-of-bias judgement "
                "(resources/risk_of_bias/<study>.yaml)",
                record=str(sid),
            )
    high = [str(s) for s in studies["study_id"] if judgements[str(s)] in HIGH_RISK]
    kept = studies[~studies["study_id"].astype(str).isin(high)]
    no_info = [str(s) for s in kept["study_id"] if judgements[str(s)] == NO_INFORMATION]
    settings = {
        "method": _first(group, "method") or "REML",
        "test": _first(group, "test") or "z",
        "level": float(_first(group, "level") or 95.0),
    }
    pi_type = _first(group, "pi_type") or "default"  # tables written before it: default
    row = {
        **keys,
        "k_all": len(studies),
        "k": len(kept),
        "left_out": "; ".join(high) or None,
        "no_information": "; ".join(no_info) or None,
        **settings,
    }
    need = max(int(min_studies), 2)
    if not len(studies):
        row["status"] = "not estimated"
        row["reason"] = "no usable study"
    elif not high:
        row["status"] = "same as main analysis"
        row["reason"] = "no usable study at high risk of bias"
        if len(pooled):
            p = pooled.iloc[0]
            row.update({c: p.get(c) for c in COLUMNS[6:16]})
        elif len(studies) == 1:
            row.update(_single(studies.iloc[0], settings["level"]))
    elif len(kept) >= need:
        res = rma(
            kept["yi"].to_numpy(dtype=float),
            kept["vi"].to_numpy(dtype=float),
            method=settings["method"],
            test=settings["test"],
            level=settings["level"],
            slab=[str(s) for s in kept["study_id"]],
            pi_type=pi_type,
        )
        row.update({c: getattr(res, c) for c in COLUMNS[6:16]})
        row["status"] = "estimated"
        row["reason"] = None
    elif len(kept) == 1:
        row.update(_single(kept.iloc[0], settings["level"]))
        row["status"] = "single study"
        row["reason"] = f"one usable study left after leaving out {len(high)} at high risk"
    else:
        row["status"] = "not estimated"
        row["reason"] = (
            "every usable study is at high risk of bias"
            if not len(kept)
            else f"{len(kept)} usable studies left, fewer than {need}"
        )
    return table_row(row)


def _single(study: pd.Series, level: float) -> dict:
    yi, vi = float(study["yi"]), float(study["vi"])
    se = math.sqrt(vi)
    z = stats.norm.isf((1 - level / 100) / 2)
    return {
        "estimate": yi,
        "se": se,
        "zval": yi / se,
        "pval": float(2 * stats.norm.sf(abs(yi / se))),
        "ci_lb": yi - z * se,
        "ci_ub": yi + z * se,
    }


def _first(frame: pd.DataFrame, column: str):
    if column not in frame:
        return None
    values = frame[column].dropna()
    return values.iloc[0] if len(values) else None


def table_row(row: dict) -> pd.DataFrame:
    """One row of the high-risk sensitivity table (:data:`COLUMNS`, missing ones null)
    with the table's column types."""
    frame = pd.DataFrame([{c: row.get(c) for c in COLUMNS}], columns=COLUMNS)
    for c in COLUMNS:
        if c in STRINGS:
            frame[c] = frame[c].astype("string")
        elif c in ("k_all", "k"):
            frame[c] = frame[c].astype("Int64")
        else:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return frame
