"""Workflow glue: pool one instrument x timepoint group from the extraction tables.

:func:`pool_group` turns the harmonised extraction rows (data model section 4) of one
group into the table ``results/pooled/<instrument>/<timepoint>.parquet`` (section 5):
one row per study, usable or not (with the reason), and a pooled row when enough
studies are usable. :func:`summary_table` collects the groups into
``results/tables/pooled.csv``.

Effects are intervention minus control (see :data:`srma.effects.SIGN_CONVENTION`).

Binary instruments (config ``instruments.<key>.type: binary``) are pooled from the
events and totals of the arms (``ai`` of ``n1i``, ``ci`` of ``n2i``): ``measure`` OR,
RR (log scale, as metafor) or RD, by inverse variance with any tau^2 estimator
(``method`` EE ... PM; per-study ``yi, vi`` from :func:`srma.effects.escalc_2x2`:
1/2 added to the cells of a study with a zero cell), or by Mantel-Haenszel (``MH``) or
Peto (``PETO``, OR) (:mod:`srma.binary`). A study without events in either arm, or
with events in every participant of both (double zero), says nothing on a ratio: it is
listed with that reason and left out of OR and RR (metafor's ``drop00 = TRUE``; its
Mantel-Haenszel and Peto estimates are the same with or without it); RD keeps it.
The sensitivity tables of a pooled group (leave-one-out, Egger's test, trim-and-fill)
are computed from this table by :mod:`srma.group_sensitivity`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from srma.effects import SIGN_CONVENTION, escalc, escalc_2x2, zero_cells
from srma.pooling import EXTRA_KEYS, RESULT_KEYS, TABLE_METHODS, check_pi_type, method_name, rma

#: columns a binary group's table adds after :data:`STUDY_COLUMNS`: events per arm
#: (metafor's ``ai``, ``ci``; totals are ``n1i``, ``n2i``) and the effect back-transformed
#: (``exp``) for OR and RR (the ratio, its CI; on the pooled row also the PI)
BINARY_COLUMNS = ["ai", "ci", "estimate_exp", "ci_lb_exp", "ci_ub_exp", "pi_lb_exp", "pi_ub_exp"]
#: ratio measures: pooled on the log scale, shown back-transformed
RATIO_MEASURES = ("OR", "RR")
#: methods of binary groups besides the tau^2 estimators
BINARY_METHODS = TABLE_METHODS
#: the sign convention of a binary group's table (``sign_convention``)
BINARY_SIGN_CONVENTION = (
    "effects are intervention versus control; OR and RR on the log scale (below 0: fewer "
    "participants with the event with the intervention), RD intervention minus control"
)

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

#: columns every group's table ends with (after :data:`BINARY_COLUMNS` in a binary
#: group's): on the pooled row metafor's ``se.tau2`` and the ML and REML
#: log-likelihoods of ``fit.stats`` (:data:`srma.pooling.EXTRA_KEYS`; ``se_tau2`` NaN
#: for MH and Peto, which estimate no tau^2), on every row ``pi_type``, the
#: prediction interval's kind (config ``pooling.prediction_interval``,
#: :data:`srma.pooling.PI_TYPES`)
FIT_COLUMNS = [*EXTRA_KEYS, "pi_type"]
FIT_FLOAT_COLUMNS = list(EXTRA_KEYS)

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
    "events",
)


def _present(value) -> bool:
    return not pd.isna(value)


def _float(value) -> float:
    return float(value) if _present(value) else np.nan


def _study_row(sid: str, rows: list[dict], reported_only: bool, binary: bool = False) -> dict:
    """Arm values and usability of one study in one group (``rows``: its extraction
    rows as records, in table order); ``binary``: events and totals, not means."""
    trials = [r["trial"] for r in rows if _present(r.get("trial"))]
    row = {"study_id": sid, "trial": trials[0] if trials else None, "usable": False}
    row["reason"] = None
    flags = [r.get("mean_flag") for r in rows] + [r.get("sd_flag") for r in rows]
    # counts are copied as printed: a binary row's values are always reported
    row["flags"] = "reported" if binary else _least_direct(flags)
    usable = [r for r in rows if _present(r.get("usable")) and bool(r["usable"])]
    if not usable:
        reasons = sorted({str(r["reason"]) for r in rows if _present(r.get("reason"))})
        row["reason"] = "; ".join(reasons) if reasons else "no usable arm data"
        return row
    if binary:
        return _binary_study_row(row, usable)
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


def _binary_study_row(row: dict, usable: list[dict]) -> dict:
    """Events and totals of one study's two arms (``ai`` of ``n1i``, ``ci`` of
    ``n2i``); a double-zero study is usable here and left out of ratios later."""
    arms = {}
    for arm in ("intervention", "control"):
        sel = [r for r in usable if r.get("arm") == arm]
        if len(sel) != 1:
            row["reason"] = f"{'no' if not sel else 'more than one'} usable {arm} arm"
            return row
        arms[arm] = sel[0]
    for arm, n, e in (("intervention", "n1i", "ai"), ("control", "n2i", "ci")):
        row[n], row[e] = _float(arms[arm].get("n")), _float(arms[arm].get("events"))
        if not (np.isfinite(row[n]) and np.isfinite(row[e])):
            row["reason"] = f"missing n or events in the {arm} arm"
            return row
        if not (row[n] >= 1 and 0 <= row[e] <= row[n]):
            row["reason"] = f"{arm} arm needs n >= 1 and 0 <= events <= n"
            return row
    row["usable"] = True
    return row


def _double_zero_reason(measure: str) -> str:
    return (
        "no events in either arm (or events in every participant of both): no information "
        f"on the {'odds' if measure == 'OR' else 'risk'} ratio, left out "
        "(metafor's drop00 = TRUE)"
    )


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
    outcome: str = "continuous",
    pi_type: str = "default",
) -> pd.DataFrame:
    """The pooled table of one instrument x timepoint group (data model section 5).

    ``outcome="binary"`` pools events and totals (module docstring): ``measure`` OR,
    RR or RD, ``method`` a tau^2 estimator, ``MH`` or ``PETO``; the table then has the
    :data:`BINARY_COLUMNS` after the others.

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
    ``method`` is written as spelt in :data:`srma.tau2.METHODS` (``HSk``, ``PMM``; any
    case accepted). ``pi_type`` is the prediction interval's kind
    (:data:`srma.pooling.PI_TYPES`): ``"default"`` metafor's ``predict()`` (normal
    quantile under ``test="z"``, t on k - 1 df otherwise), ``"t-k2"`` t on k - 2 df
    (Higgins, Thompson & Spiegelhalter 2009; RevMan 5). The :data:`FIT_COLUMNS` close
    the table.
    """
    pi_type = check_pi_type(pi_type)
    method = method_name(method)
    sub = extraction[
        (extraction["instrument"] == instrument) & (extraction["timepoint"] == timepoint)
    ]
    # Plain records, not per-study DataFrame selections: a group of 150 studies took
    # seconds in pandas' indexing alone.
    by_study: dict = {}
    for record in sub[[c for c in _ROW_FIELDS if c in sub.columns]].to_dict("records"):
        if _present(record["study_id"]):
            by_study.setdefault(record["study_id"], []).append(record)
    binary = outcome == "binary"
    rows = [
        _study_row(str(sid), part, reported_only, binary)
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
    if binary:
        return _pool_binary(
            rows, instrument, timepoint, measure, method, test, level, min_studies, pi_type
        )
    columns = STUDY_COLUMNS + FIT_COLUMNS
    frame = pd.DataFrame(rows, columns=columns)
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
    frame["pi_type"] = pi_type
    if status == "pooled":
        res = rma(
            frame.loc[use, "yi"],
            frame.loc[use, "vi"],
            method=method,
            test=test,
            level=level,
            slab=frame.loc[use, "study_id"],
            pi_type=pi_type,
        )
        frame.loc[use, "weight"] = res.weights
        pooled = {c: None for c in columns}
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
            pi_type=pi_type,
            **{c: getattr(res, c) for c in (*RESULT_KEYS, *EXTRA_KEYS)},
        )
        frame = pd.concat([frame, pd.DataFrame([pooled], columns=columns)], ignore_index=True)
    for c in FLOAT_COLUMNS + FIT_FLOAT_COLUMNS:
        frame[c] = frame[c].astype("float64")
    frame["k"] = frame["k"].astype("Int64")
    frame["usable"] = frame["usable"].astype(bool)
    for c in STUDY_COLUMNS:
        if c not in FLOAT_COLUMNS and c not in ("k", "usable"):
            frame[c] = frame[c].astype("string")
    frame["pi_type"] = frame["pi_type"].astype("string")
    return frame[columns].reset_index(drop=True)


def _pool_binary(
    rows: list[dict], instrument: str, timepoint: str, measure: str, method: str,
    test: str, level: float, min_studies: int, pi_type: str = "default",
) -> pd.DataFrame:  # fmt: skip
    """:func:`pool_group` of a binary group (``rows``: the study rows, trials
    counted once already)."""
    from srma import binary as mh

    measure, method = measure.upper(), method_name(method)
    columns = STUDY_COLUMNS + BINARY_COLUMNS + FIT_COLUMNS
    frame = pd.DataFrame(rows, columns=columns)
    frame["instrument"], frame["timepoint"], frame["row_type"] = instrument, timepoint, "study"
    use = frame["usable"].astype(bool).to_numpy()
    a, c = frame["ai"].astype(float).to_numpy(), frame["ci"].astype(float).to_numpy()
    n1, n2 = frame["n1i"].astype(float).to_numpy(), frame["n2i"].astype(float).to_numpy()
    if measure in RATIO_MEASURES:
        _, dz = zero_cells(a, n1 - a, c, n2 - c)
        for i in np.flatnonzero(use & dz):
            frame.loc[i, "usable"], frame.loc[i, "reason"] = False, _double_zero_reason(measure)
        use = frame["usable"].astype(bool).to_numpy()
    test = "z" if method in BINARY_METHODS else test  # MH, Peto: Wald z (metafor)
    k = int(use.sum())
    status = (
        "no usable data" if k == 0 else "single study" if k == 1
        else "too few studies" if k < min_studies else "pooled"
    )  # fmt: skip
    z = stats.norm.isf((1 - level / 100) / 2)
    if len(frame):
        effect = "PETO" if method == "PETO" else measure
        yi, vi = escalc_2x2(effect, a, n1 - a, c, n2 - c)
        yi, vi = np.where(use, yi, np.nan), np.where(use, vi, np.nan)
        frame["yi"], frame["vi"], frame["sei"] = yi, vi, np.sqrt(vi)
        frame["ci_lb"], frame["ci_ub"] = yi - z * np.sqrt(vi), yi + z * np.sqrt(vi)
    frame["measure"], frame["method"], frame["test"] = measure, method, test
    frame["level"], frame["status"] = float(level), status
    frame["sign_convention"] = BINARY_SIGN_CONVENTION
    frame["pi_type"] = pi_type
    if status == "pooled":
        slab = frame.loc[use, "study_id"]
        counts = {"ai": a[use], "n1i": n1[use], "ci": c[use], "n2i": n2[use]}
        if method == "MH":
            res = mh.rma_mh(**counts, measure=measure, level=level, slab=slab)
        elif method == "PETO":
            res = mh.rma_peto(**counts, level=level, slab=slab)
        else:
            res = rma(frame.loc[use, "yi"], frame.loc[use, "vi"], method=method, test=test,
                      level=level, slab=slab, pi_type=pi_type)  # fmt: skip
        frame.loc[use, "weight"] = res.weights
        pooled = {col: None for col in columns}
        pooled.update(
            instrument=instrument, timepoint=timepoint, row_type="pooled", usable=True,
            flags="reported", n1i=float(n1[use].sum()), n2i=float(n2[use].sum()),
            ai=float(a[use].sum()), ci=float(c[use].sum()), yi=res.estimate, sei=res.se,
            vi=res.se**2, weight=100.0, k=k, measure=measure, method=method, test=test,
            level=float(level), status=status, sign_convention=BINARY_SIGN_CONVENTION,
            pi_type=pi_type, **{col: getattr(res, col, np.nan) for col in RESULT_KEYS},
            **{col: getattr(res, col, np.nan) for col in EXTRA_KEYS},
        )  # fmt: skip
        if method in BINARY_METHODS:  # a common-effect model: no tau^2, no PI
            pooled.update(tau2=0.0, pi_lb=np.nan, pi_ub=np.nan)
            pooled.update(se_tau2=np.nan)  # their log-likelihoods: metafor's fit.stats
        frame = pd.concat([frame, pd.DataFrame([pooled], columns=columns)], ignore_index=True)
    if measure in RATIO_MEASURES:
        pooled_row = (frame["row_type"] == "pooled").to_numpy()
        est = np.where(pooled_row, frame["estimate"].astype(float), frame["yi"].astype(float))
        frame["estimate_exp"] = np.exp(est)
        for col in ("ci_lb", "ci_ub", "pi_lb", "pi_ub"):
            frame[f"{col}_exp"] = np.exp(frame[col].astype(float))
    for col in FLOAT_COLUMNS + BINARY_COLUMNS + FIT_FLOAT_COLUMNS:
        frame[col] = frame[col].astype("float64")
    frame["k"] = frame["k"].astype("Int64")
    frame["usable"] = frame["usable"].astype(bool)
    for col in STUDY_COLUMNS:
        if col not in FLOAT_COLUMNS and col not in ("k", "usable"):
            frame[col] = frame[col].astype("string")
    frame["pi_type"] = frame["pi_type"].astype("string")
    return frame[columns].reset_index(drop=True)


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
#: columns that close :func:`summary_table` (after the ratio columns, when there are)
SUMMARY_FIT_COLUMNS = ["se_tau2", "pi_type"]


def summary_table(groups: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per group for ``results/tables/pooled.csv``, sorted by instrument,
    timepoint.

    ``k``, ``n_intervention``, ``n_control`` count the usable studies; ``studies`` lists
    them (``; ``-joined). A pooled group takes the pooled row's statistics; a single
    study's group takes that study's effect with its Wald CI and z-test p-value (no
    tau^2, I^2 or PI); groups without usable data have empty statistics. When a group's
    measure is OR or RR (pooled on the log scale), ``estimate_exp, ci_lb_exp, ci_ub_exp,
    pi_lb_exp, pi_ub_exp`` follow: the ratio and its intervals (NaN for the other
    groups; the columns are absent when no group has a ratio measure). Last come
    ``se_tau2`` (the pooled row's standard error of tau^2) and ``pi_type``, the kind of
    prediction interval (``default`` or ``t-k2``; :func:`pool_group`).
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
        extra = {"pi_type": first.get("pi_type", "default"), "se_tau2": None}
        pooled = g[g["row_type"] == "pooled"]
        if len(pooled):
            p = pooled.iloc[0]
            row.update({c: p[c] for c in ("estimate", "ci_lb", "ci_ub", "pval", "tau2", "I2")})
            row.update(pi_lb=p["pi_lb"], pi_ub=p["pi_ub"])
            extra["se_tau2"] = p.get("se_tau2")
        elif len(studies) == 1:
            s = studies.iloc[0]
            row.update(
                estimate=s["yi"],
                ci_lb=s["ci_lb"],
                ci_ub=s["ci_ub"],
                pval=float(2 * stats.norm.sf(abs(s["yi"] / s["sei"]))),
            )
        out.append(row | extra)
    table = pd.DataFrame(out, columns=SUMMARY_COLUMNS + SUMMARY_FIT_COLUMNS)
    if len(table):
        table = table.sort_values(["instrument", "timepoint"], kind="stable").reset_index(drop=True)
    for c in ("n_intervention", "n_control", *SUMMARY_COLUMNS[6:14:1]):
        if c in ("method", "test"):
            continue
        table[c] = table[c].astype("float64")
    table["k"] = table["k"].astype("int64")
    ratio = table["measure"].isin(RATIO_MEASURES).to_numpy()
    if ratio.any():  # OR, RR back-transformed (the ratio scale); NaN for other groups
        for c in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
            table[f"{c}_exp"] = np.where(ratio, np.exp(table[c].to_numpy(dtype=float)), np.nan)
    last = table[SUMMARY_FIT_COLUMNS]
    table = pd.concat([table.drop(columns=SUMMARY_FIT_COLUMNS), last], axis=1)
    table["se_tau2"] = table["se_tau2"].astype("float64")
    return table
