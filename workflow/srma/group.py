"""Workflow glue: pool one instrument x timepoint group from the extraction tables.

:func:`pool_group` turns the harmonised extraction rows (data model section 4) of one
group into the table ``results/pooled/<instrument>/<timepoint>.parquet`` (section 5):
one row per study, usable or not (with the reason), and a pooled row when enough
studies are usable. :func:`summary_table` collects the groups into
``results/tables/pooled.csv``.

Effects are intervention minus control (see :data:`srma.effects.SIGN_CONVENTION`).
The sensitivity tables of a pooled group (leave-one-out, Egger's test, trim-and-fill)
are computed from this table by :mod:`srma.group_sensitivity`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from srma.effects import SIGN_CONVENTION, escalc
from srma.pooling import RESULT_KEYS, rma

#: flags from most to least direct; a study carries the least direct of its values
FLAG_ORDER = ("reported", "converted", "estimated", "imputed")

STUDY_COLUMNS = [
    "instrument",
    "timepoint",
    "row_type",
    "study_id",
    "trial",
    "n1i",
    "m1i",
    "sd1i",
    "n2i",
    "m2i",
    "sd2i",
    "yi",
    "vi",
    "sei",
    "ci_lb",
    "ci_ub",
    "weight",
    "flags",
    "usable",
    "reason",
    "estimate",
    "se",
    "zval",
    "pval",
    "tau2",
    "I2",
    "H2",
    "QE",
    "QEp",
    "pi_lb",
    "pi_ub",
    "k",
    "measure",
    "method",
    "test",
    "level",
    "status",
    "sign_convention",
]

FLOAT_COLUMNS = [
    "n1i",
    "m1i",
    "sd1i",
    "n2i",
    "m2i",
    "sd2i",
    "yi",
    "vi",
    "sei",
    "ci_lb",
    "ci_ub",
    "weight",
    "estimate",
    "se",
    "zval",
    "pval",
    "tau2",
    "I2",
    "H2",
    "QE",
    "QEp",
    "pi_lb",
    "pi_ub",
    "level",
]


def _least_direct(flags) -> str | None:
    ranks = [FLAG_ORDER.index(f) for f in flags if isinstance(f, str) and f in FLAG_ORDER]
    unknown = sorted({f for f in flags if isinstance(f, str) and f not in FLAG_ORDER})
    if unknown:
        return unknown[0]
    return FLAG_ORDER[max(ranks)] if ranks else None


#: extraction columns a study row is built from
_ROW_FIELDS = (
    "study_id",
    "trial",
    "mean_flag",
    "sd_flag",
    "usable",
    "reason",
    "arm",
    "n",
    "mean_change",
    "sd_change",
)


def _present(value) -> bool:
    return not pd.isna(value)


def _float(value) -> float:
    return float(value) if _present(value) else np.nan


def _study_row(sid: str, rows: list[dict], reported_only: bool) -> dict:
    """Arm values and usability of one study in one group (``rows``: its extraction
    rows as records, in table order)."""
    trials = [r["trial"] for r in rows if _present(r.get("trial"))]
    row = {"study_id": sid, "trial": trials[0] if trials else None, "usable": False}
    row["reason"] = None
    flags = [r.get("mean_flag") for r in rows] + [r.get("sd_flag") for r in rows]
    row["flags"] = _least_direct(flags)
    usable = [r for r in rows if _present(r.get("usable")) and bool(r["usable"])]
    if not usable:
        reasons = sorted({str(r["reason"]) for r in rows if _present(r.get("reason"))})
        row["reason"] = "; ".join(reasons) if reasons else "no usable arm data"
        return row
    if reported_only and not all(
        r.get("mean_flag") == "reported" and r.get("sd_flag") == "reported" for r in usable
    ):
        row["reason"] = "values not reported as such (reported_only sensitivity analysis)"
        return row
    arms = {}
    for arm in ("intervention", "control"):
        sel = [r for r in usable if r.get("arm") == arm]
        if len(sel) == 0:
            row["reason"] = f"no usable {arm} arm"
            return row
        if len(sel) > 1:
            row["reason"] = f"more than one usable {arm} arm"
            return row
        arms[arm] = sel[0]
    for arm, pre in (("intervention", "1"), ("control", "2")):
        a = arms[arm]
        row[f"n{pre}i"] = _float(a.get("n"))
        row[f"m{pre}i"] = _float(a.get("mean_change"))
        row[f"sd{pre}i"] = _float(a.get("sd_change"))
    for arm, pre in (("intervention", "1"), ("control", "2")):
        n, m, s = row[f"n{pre}i"], row[f"m{pre}i"], row[f"sd{pre}i"]
        if not (np.isfinite(n) and np.isfinite(m) and np.isfinite(s)):
            row["reason"] = f"missing n, mean change or SD in the {arm} arm"
            return row
        if n < 2 or s <= 0:
            row["reason"] = f"{arm} arm needs n >= 2 and SD > 0"
            return row
    row["usable"] = True
    return row


def pool_group(
    extraction: pd.DataFrame,
    *,
    instrument: str,
    timepoint: str,
    measure: str = "MD",
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    min_studies: int = 2,
    reported_only: bool = False,
) -> pd.DataFrame:
    """The pooled table of one instrument x timepoint group (data model section 5).

    Rules: only rows of the group are used; a study enters when it has exactly one
    usable intervention row and one usable control row with n >= 2 and SD > 0;
    ``reported_only=True`` (sensitivity analysis) also drops studies with any value not
    flagged ``reported``. Reports of one ``trial`` count once: the first study_id (in
    sorted order) is used and the others are listed as ``same trial as <id>``. Every
    study of the group appears as a study row (``usable`` false with the ``reason`` when
    it did not enter). With at least ``min_studies`` usable studies a pooled row follows
    (status ``pooled``); with one, status ``single study``; with 2..min_studies-1,
    ``too few studies``; with none, ``no usable data``.

    Per-study ``ci_lb, ci_ub`` are Wald intervals ``yi -/+ z sei``; on the pooled row
    they are the model's (``test``). ``weight`` is the percent weight in the model.
    """
    sub = extraction[
        (extraction["instrument"] == instrument) & (extraction["timepoint"] == timepoint)
    ]
    # Plain records, not per-study DataFrame selections: a group of 150 studies took
    # seconds in pandas' indexing alone.
    by_study: dict = {}
    for record in sub[[c for c in _ROW_FIELDS if c in sub.columns]].to_dict("records"):
        if _present(record["study_id"]):
            by_study.setdefault(record["study_id"], []).append(record)
    rows = [
        _study_row(str(sid), part, reported_only)
        for sid, part in sorted(by_study.items(), key=lambda x: str(x[0]))
    ]
    seen_trials: dict[str, str] = {}
    for row in rows:
        if row["usable"] and row["trial"] is not None:
            if row["trial"] in seen_trials:
                row["usable"] = False
                row["reason"] = f"same trial as {seen_trials[row['trial']]}"
            else:
                seen_trials[row["trial"]] = row["study_id"]
    frame = pd.DataFrame(rows, columns=STUDY_COLUMNS)
    frame["instrument"] = instrument
    frame["timepoint"] = timepoint
    frame["row_type"] = "study"
    use = frame["usable"].astype(bool).to_numpy()
    if len(frame):
        yi, vi = escalc(
            measure,
            n1i=frame["n1i"].astype(float),
            m1i=frame["m1i"].astype(float),
            sd1i=frame["sd1i"].astype(float),
            n2i=frame["n2i"].astype(float),
            m2i=frame["m2i"].astype(float),
            sd2i=frame["sd2i"].astype(float),
        )
        yi = np.where(use, yi, np.nan)
        vi = np.where(use, vi, np.nan)
        z = stats.norm.isf((1 - level / 100) / 2)
        frame["yi"], frame["vi"], frame["sei"] = yi, vi, np.sqrt(vi)
        frame["ci_lb"], frame["ci_ub"] = yi - z * np.sqrt(vi), yi + z * np.sqrt(vi)
    k = int(use.sum())
    status = (
        "no usable data"
        if k == 0
        else "single study"
        if k == 1
        else "too few studies"
        if k < min_studies
        else "pooled"
    )
    frame["measure"], frame["method"], frame["test"] = measure, method, test
    frame["level"] = float(level)
    frame["status"] = status
    frame["sign_convention"] = SIGN_CONVENTION
    if status == "pooled":
        res = rma(
            frame.loc[use, "yi"],
            frame.loc[use, "vi"],
            method=method,
            test=test,
            level=level,
            slab=frame.loc[use, "study_id"],
        )
        frame.loc[use, "weight"] = res.weights
        pooled = {c: None for c in STUDY_COLUMNS}
        pooled.update(
            instrument=instrument,
            timepoint=timepoint,
            row_type="pooled",
            usable=True,
            flags=_least_direct(frame.loc[use, "flags"].tolist()),
            n1i=float(frame.loc[use, "n1i"].sum()),
            n2i=float(frame.loc[use, "n2i"].sum()),
            yi=res.estimate,
            sei=res.se,
            vi=res.se**2,
            weight=100.0,
            k=k,
            measure=measure,
            method=method,
            test=test,
            level=float(level),
            status=status,
            sign_convention=SIGN_CONVENTION,
            **{c: getattr(res, c) for c in RESULT_KEYS},
        )
        frame = pd.concat([frame, pd.DataFrame([pooled], columns=STUDY_COLUMNS)], ignore_index=True)
    for c in FLOAT_COLUMNS:
        frame[c] = frame[c].astype("float64")
    frame["k"] = frame["k"].astype("Int64")
    frame["usable"] = frame["usable"].astype(bool)
    for c in STUDY_COLUMNS:
        if c not in FLOAT_COLUMNS and c not in ("k", "usable"):
            frame[c] = frame[c].astype("string")
    return frame[STUDY_COLUMNS].reset_index(drop=True)


SUMMARY_COLUMNS = [
    "instrument",
    "timepoint",
    "k",
    "n_intervention",
    "n_control",
    "measure",
    "estimate",
    "ci_lb",
    "ci_ub",
    "pval",
    "tau2",
    "I2",
    "pi_lb",
    "pi_ub",
    "method",
    "test",
    "status",
    "studies",
    "sign_convention",
]


def summary_table(groups: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per group for ``results/tables/pooled.csv``, sorted by instrument,
    timepoint.

    ``k``, ``n_intervention``, ``n_control`` count the usable studies; ``studies`` lists
    them (``; ``-joined). A pooled group takes the pooled row's statistics; a single
    study's group takes that study's effect with its Wald CI and z-test p-value (no
    tau^2, I^2 or PI); groups without usable data have empty statistics.
    """
    out = []
    for g in groups:
        if g is None or len(g) == 0:
            continue
        studies = g[(g["row_type"] == "study") & g["usable"]]
        first = g.iloc[0]
        row = {c: None for c in SUMMARY_COLUMNS}
        row.update(
            instrument=first["instrument"],
            timepoint=first["timepoint"],
            k=len(studies),
            n_intervention=float(studies["n1i"].sum()) if len(studies) else None,
            n_control=float(studies["n2i"].sum()) if len(studies) else None,
            measure=first["measure"],
            method=first["method"],
            test=first["test"],
            status=first["status"],
            studies="; ".join(studies["study_id"].astype(str)),
            sign_convention=first["sign_convention"],
        )
        pooled = g[g["row_type"] == "pooled"]
        if len(pooled):
            p = pooled.iloc[0]
            row.update({c: p[c] for c in ("estimate", "ci_lb", "ci_ub", "pval", "tau2", "I2")})
            row.update(pi_lb=p["pi_lb"], pi_ub=p["pi_ub"])
        elif len(studies) == 1:
            s = studies.iloc[0]
            row.update(
                estimate=s["yi"],
                ci_lb=s["ci_lb"],
                ci_ub=s["ci_ub"],
                pval=float(2 * stats.norm.sf(abs(s["yi"] / s["sei"]))),
            )
        out.append(row)
    table = pd.DataFrame(out, columns=SUMMARY_COLUMNS)
    if len(table):
        table = table.sort_values(["instrument", "timepoint"], kind="stable").reset_index(drop=True)
    for c in ("n_intervention", "n_control", *SUMMARY_COLUMNS[6:14:1]):
        if c in ("method", "test"):
            continue
        table[c] = table[c].astype("float64")
    table["k"] = table["k"].astype("int64")
    return table
