"""Sensitivity tables of one pooled group: leave-one-out, Egger's test, trim-and-fill.

Input is the group's pooled table, as written by :func:`srma.group.pool_group` (data
model section 5): study rows (``row_type == "study"``, with ``study_id``, ``usable``,
``yi``, ``vi``) and, when the group was pooled, one row ``row_type == "pooled"`` with
the model's ``method``, ``test``, ``level``, ``pi_type`` and ``estimate``.
:func:`fit_group` refits that model from the usable studies (same studies, same order,
same settings, so the same numbers); each table function applies one metafor analysis
to the refit:

- :func:`leave1out_table`: metafor ``leave1out(res)`` (:func:`srma.sensitivity.leave1out`);
- :func:`regtest_table`: metafor ``regtest(res)`` (:func:`srma.bias.regtest`,
  ``model="rma"``, ``predictor="sei"``: the meta-regression ``yi ~ sei`` with the model's
  ``method`` and ``test``) and, in its ``begg_*`` columns, Begg's rank correlation test,
  metafor ``ranktest(res)`` (:func:`srma.bias.ranktest`), under the same rule;
- :func:`trimfill_table`: metafor ``trimfill(res)`` (:func:`srma.bias.trimfill`,
  ``estimator="L0"``, side from the sign of the Egger slope; the filled model with the
  model's ``method``, ``test`` and ``level``).

Every function returns a table, also for a group that is not analysed: then one row
with status ``not estimated`` / ``not tested``, a ``reason`` in a plain sentence, and
empty (NaN) statistics. The workflow writes these tables (Parquet) under
``results/sensitivity/``; figures only draw them. Strings are pandas ``string`` columns,
counts (``k``, ``k0``) nullable ``Int64``, everything else ``float64``; the output
depends only on the input table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from srma.bias import ranktest, regtest, trimfill
from srma.io import typed_frame
from srma.pooling import RMAResult, method_name, rma
from srma.sensitivity import leave1out

#: columns of :func:`leave1out_table`
LEAVE1OUT_COLUMNS = [
    "instrument",
    "timepoint",
    "study_id",
    "k",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "Q",
    "Qp",
    "tau2",
    "I2",
    "H2",
    "pi_lb",
    "pi_ub",
    "method",
    "test",
    "level",
    "status",
    "reason",
]
#: columns of :func:`regtest_table`
REGTEST_COLUMNS = [
    "instrument",
    "timepoint",
    "k",
    "model",
    "predictor",
    "method",
    "test",
    "zval",
    "pval",
    "dfs",
    "est",
    "ci_lb",
    "ci_ub",
    "slope",
    "status",
    "reason",
    "begg_status",
    "begg_k",
    "begg_tau",
    "begg_pval",
    "begg_reason",
]
#: columns of :func:`trimfill_table`
TRIMFILL_COLUMNS = [
    "instrument",
    "timepoint",
    "row_type",
    "k",
    "k0",
    "side",
    "estimator",
    "yi",
    "vi",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "tau2",
    "method",
    "test",
    "status",
    "reason",
]

#: columns holding counts (nullable Int64); the others not in STRING_COLUMNS are float64
INT_COLUMNS = ("k", "k0", "begg_k")
STRING_COLUMNS = (
    "instrument",
    "timepoint",
    "study_id",
    "row_type",
    "side",
    "estimator",
    "model",
    "predictor",
    "method",
    "test",
    "status",
    "reason",
    "begg_status",
    "begg_reason",
)

#: fewest studies each analysis can be computed with at all: leave-one-out refits with
#: k - 1 >= 1 studies; the regression yi ~ sei (Egger, and trim-and-fill's side) has two
#: coefficients and needs k - 2 >= 1
LEAVE1OUT_FLOOR = 2
REGTEST_FLOOR = 3
TRIMFILL_FLOOR = 3


# ------------------------------------------------------------------- group table
def _pooled_row(pooled: pd.DataFrame) -> pd.Series | None:
    rows = pooled[pooled["row_type"] == "pooled"] if "row_type" in pooled else pooled.iloc[:0]
    return rows.iloc[0] if len(rows) else None


def _usable(pooled: pd.DataFrame) -> pd.DataFrame:
    """Usable study rows, in table order."""
    if not len(pooled):
        return pooled
    study = (pooled["row_type"] == "study").fillna(False).astype(bool)
    usable = pooled["usable"].astype("boolean").fillna(False).astype(bool)
    return pooled[study.to_numpy() & usable.to_numpy()]


def _first(pooled: pd.DataFrame, column: str):
    """The first non-missing value of ``column`` (None if there is none)."""
    if column not in pooled:
        return None
    values = pooled[column].dropna()
    return values.iloc[0] if len(values) else None


def _settings(pooled: pd.DataFrame) -> dict:
    """``method``, ``test``, ``level`` of the group: the pooled row's, else the first
    given in the table (pool_group writes them on every row)."""
    row = _pooled_row(pooled)

    def get(column):
        if row is None:
            return _first(pooled, column)
        value = row.get(column)
        return None if value is None or pd.isna(value) else value

    method, test, level = get("method"), get("test"), get("level")
    return {
        "method": None if method is None else method_name(method),
        "test": None if test is None else str(test).lower(),
        "level": 95.0 if level is None else float(level),
    }


def _keys(pooled: pd.DataFrame) -> dict:
    return {c: _first(pooled, c) for c in ("instrument", "timepoint")}


def fit_group(pooled: pd.DataFrame) -> RMAResult | None:
    """The group's model refitted from its usable study rows (``slab`` = ``study_id``,
    in table order) with the pooled row's ``method``, ``test`` and ``level``; None when
    the group has no pooled row.

    The refit is the computation :func:`srma.group.pool_group` made, so its estimate
    equals the pooled row's; a table whose pooled row does not match its studies (edited
    by hand, or written by other code) raises ValueError.
    """
    row = _pooled_row(pooled)
    if row is None:
        return None
    s = _settings(pooled)
    studies = _usable(pooled)
    pi_type = _first(pooled, "pi_type") or "default"  # tables written before it: default
    res = rma(
        studies["yi"].to_numpy(dtype=float),
        studies["vi"].to_numpy(dtype=float),
        method=s["method"] or "REML",
        test=s["test"] or "z",
        level=s["level"],
        slab=[str(x) for x in studies["study_id"]],
        pi_type=str(pi_type),
    )
    expected = float(row["estimate"]) if pd.notna(row.get("estimate")) else np.nan
    if not np.isclose(res.estimate, expected, rtol=1e-9, atol=1e-12):
        raise ValueError(
            f"refit of the usable studies gives estimate {res.estimate!r}, the pooled row "
            f"{expected!r}: the pooled row does not belong to these studies"
        )
    return res


def _studies(k: int) -> str:
    return f"{k} usable stud{'y' if k == 1 else 'ies'}"


def _reason(pooled: pd.DataFrame, k: int, need: int, what: str) -> str | None:
    """Why the group gets no ``what`` (None when it does)."""
    if _pooled_row(pooled) is None:
        return f"not pooled ({_studies(k)}): no {what}"
    method = _settings(pooled)["method"]
    if method in ("MH", "PETO"):  # binary groups' common-effect models from counts
        return f"pooled by the {method} method, not by inverse variance: no {what}"
    if k < need:
        return f"{_studies(k)}, fewer than {need}: no {what}"
    return None


def _typed(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """A table with ``columns`` in the documented dtypes."""
    return typed_frame(rows, columns, INT_COLUMNS, STRING_COLUMNS)


# ------------------------------------------------------------------ leave-one-out
def leave1out_table(pooled: pd.DataFrame, *, min_studies: int) -> pd.DataFrame:
    """Leave-one-out analysis of the group (metafor ``leave1out(res)``).

    One row per usable study, in table order: ``study_id`` is the omitted study, ``k``
    the studies in the refit, then the refit's statistics (``zval`` is t under t tests;
    ``Q``, ``Qp`` Cochran's Q and its p-value; ``pi_lb``, ``pi_ub`` the prediction
    interval), the model's ``method``, ``test``, ``level``; ``status`` ``estimated``.
    A group without a pooled row, or with fewer than ``min_studies`` (at least 2)
    usable studies, gets one row: ``study_id`` null, ``k`` the usable studies, NaN
    statistics, ``status`` ``not estimated`` and the ``reason``.
    """
    keys, s, k = _keys(pooled), _settings(pooled), len(_usable(pooled))
    reason = _reason(pooled, k, max(min_studies, LEAVE1OUT_FLOOR), "leave-one-out analysis")
    if reason is not None:
        row = {**keys, "k": k, **s, "status": "not estimated", "reason": reason}
        return _typed([row], LEAVE1OUT_COLUMNS)
    res = fit_group(pooled)
    table = leave1out(res).rename(columns={"slab": "study_id"})
    rows = [
        {**keys, **rec, "method": res.method, "test": res.test, "level": res.level}
        | {"status": "estimated", "reason": None}
        for rec in table.to_dict("records")
    ]
    return _typed(rows, LEAVE1OUT_COLUMNS)


# ------------------------------------------------------------------- Egger's test
def regtest_table(pooled: pd.DataFrame, *, min_studies: int) -> pd.DataFrame:
    """Egger's regression test of the group (metafor ``regtest(res)``: ``model="rma"``,
    ``predictor="sei"``), one row.

    ``zval``, ``pval`` test the slope of ``yi ~ sei`` (t on ``dfs = k - 2`` under t
    tests; ``dfs`` NaN under ``test="z"``); ``est``, ``ci_lb``, ``ci_ub`` are the limit
    estimate (the intercept: the effect at se = 0) and its CI; ``slope`` the slope.
    ``status`` ``tested``, or ``not tested`` with a ``reason`` (no pooled row, fewer
    than ``min_studies`` (at least 3) usable studies, or all standard errors equal) and
    NaN numbers.

    Begg's rank correlation test (Begg & Mazumdar 1994; metafor ``ranktest(res)``)
    follows under the same rule: ``begg_k`` studies, ``begg_tau`` Kendall's tau of the
    standardised deviates from the common-effect estimate with ``vi``, ``begg_pval`` its
    p-value (exact without ties); ``begg_status`` ``tested``, or ``not tested`` with
    ``begg_reason`` and NaN numbers.
    """
    keys, s, k = _keys(pooled), _settings(pooled), len(_usable(pooled))
    base = {**keys, "k": k, "model": "rma", "predictor": "sei"}
    base |= {"method": s["method"], "test": s["test"]}
    need = max(min_studies, REGTEST_FLOOR)
    reason = _reason(pooled, k, need, "Egger's test")
    res = fit_group(pooled) if reason is None else None
    if res is not None and np.ptp(res.vi) == 0:
        reason = "the usable studies' standard errors are all equal: no Egger's test"
    begg = _begg(pooled, res, k, need)
    if reason is not None:
        row = {**base, "status": "not tested", "reason": reason}
        return _typed([row | begg], REGTEST_COLUMNS)
    out = regtest(res, model="rma", predictor="sei")
    row = {**base, **{c: out[c] for c in ("zval", "pval", "est", "ci_lb", "ci_ub", "slope")}}
    row |= {"dfs": np.nan if out["dfs"] is None else float(out["dfs"])}
    row |= {"status": "tested", "reason": None}
    return _typed([row | begg], REGTEST_COLUMNS)


def _begg(pooled: pd.DataFrame, res: RMAResult | None, k: int, need: int) -> dict:
    """The ``begg_*`` values of :func:`regtest_table` (``res``: the refit, None when
    Egger's test is not run for lack of a pooled row or of studies)."""
    reason = _reason(pooled, k, need, "Begg's test")
    if reason is None and np.ptp(res.vi) == 0:
        reason = "the usable studies' standard errors are all equal: no Begg's test"
    if reason is not None:
        return {"begg_status": "not tested", "begg_k": k, "begg_reason": reason}
    out = ranktest(res)
    return {"begg_status": "tested", "begg_k": out["k"], "begg_tau": out["tau"]} | {
        "begg_pval": out["pval"],
        "begg_reason": None,
    }


# ------------------------------------------------------------------ trim-and-fill
def trimfill_table(pooled: pd.DataFrame, *, min_studies: int) -> pd.DataFrame:
    """Trim-and-fill analysis of the group (metafor ``trimfill(res)``, estimator
    ``L0``; the filled model with the model's ``method``, ``test`` and ``level``).

    First row ``row_type`` ``model``: the filled model (``k`` = observed + filled
    studies, ``k0`` filled, ``side`` where they were filled, ``estimator``, then its
    ``estimate, se, zval, pval, ci_lb, ci_ub, tau2``); then one ``filled`` row per filled
    study with its ``yi`` and ``vi`` (the statistics NaN). A group without a pooled row,
    with fewer than ``min_studies`` (at least 3) usable studies, or whose standard errors
    are all equal (the side cannot be chosen) gets one ``model`` row with ``status``
    ``not estimated``, a ``reason`` and NaN numbers.
    """
    keys, s, k = _keys(pooled), _settings(pooled), len(_usable(pooled))
    base = {**keys, "estimator": "L0", "method": s["method"], "test": s["test"]}
    reason = _reason(pooled, k, max(min_studies, TRIMFILL_FLOOR), "trim-and-fill analysis")
    res = fit_group(pooled) if reason is None else None
    if res is not None and np.ptp(res.vi) == 0:
        reason = "the usable studies' standard errors are all equal: no trim-and-fill analysis"
    if reason is not None:
        row = {**base, "row_type": "model", "k": k, "status": "not estimated", "reason": reason}
        return _typed([row], TRIMFILL_COLUMNS)
    try:
        tf = trimfill(res, estimator="L0")
    except RuntimeError as err:  # k0 still changing after maxiter iterations
        row = {**base, "row_type": "model", "k": k, "status": "not estimated"}
        return _typed([row | {"reason": f"{err}: no trim-and-fill analysis"}], TRIMFILL_COLUMNS)
    fit = tf["fit"]
    base |= {"side": tf["side"], "status": "estimated", "reason": None}
    rows = [
        {**base, "row_type": "model", "k": fit.k, "k0": tf["k0"]}
        | {c: getattr(fit, c) for c in ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub")}
        | {"tau2": fit.tau2}
    ]
    for y, v in zip(tf["yi_fill"], tf["vi_fill"], strict=True):
        rows.append({**base, "row_type": "filled", "yi": float(y), "vi": float(v)})
    return _typed(rows, TRIMFILL_COLUMNS)


__all__ = [
    "LEAVE1OUT_COLUMNS",
    "REGTEST_COLUMNS",
    "TRIMFILL_COLUMNS",
    "fit_group",
    "leave1out_table",
    "regtest_table",
    "trimfill_table",
]
