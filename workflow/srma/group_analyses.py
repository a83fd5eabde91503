"""Subgroup analyses and meta-regression of one instrument x timepoint group.

Input is the group's pooled table (:func:`srma.group.pool_group`, data model section 5:
its usable study rows give ``yi``, ``vi``; its rows give ``method``, ``test``, ``level``)
and, per study, the value of a study-level field of its extraction table (data model
section 4: ``design``, ``population``, ``year``, ``drug``, or a key of
``characteristics``; :func:`study_values`).

- :func:`subgroup_table`: each subgroup pooled separately (metafor
  ``rma(yi, vi, subset = by == g, method, test, level)``, a tau^2 per subgroup: Cochrane
  Handbook 10.11.3.1, Borenstein et al. 2009 ch. 19) and the test for subgroup
  differences as RevMan and R's meta package report it: Cochran's Q across the subgroup
  estimates, ``Qb = sum (mu_g - mu)^2 / se_g^2`` on ``G - 1`` df (metafor
  ``rma(estimate, sei = se, method = "EE")$QE``; :func:`srma.pooling.subgroup_test`).
- :func:`meta_regression_table`: the mixed-effects meta-regression of ``yi`` on the
  moderators (metafor ``rma(yi, vi, mods = ~ m1 + m2, method, test)``;
  :func:`srma.regression.rma_reg`), numbers numeric, text categorical (treatment coding,
  the alphabetically first level the reference).

Neither drops a study unseen: every study row of the pooled table is a ``study`` row of
the result, with the reason when it takes no part (not usable, no value of the field). An
analysis that cannot be done is one row with ``status`` ``not estimable`` and the reason.
Strings are pandas ``string`` columns, counts nullable ``Int64``, numbers ``float64``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from srma.io import is_missing, typed_frame
from srma.pooling import method_name, rma, subgroup_test
from srma.regression import INTERCEPT, design_matrix, rma_reg

POOLED = "pooled"
TESTED = "tested"
ESTIMATED = "estimated"
NOT_ESTIMABLE = "not estimable"
#: fields of a study table's columns; any other name is a key of ``characteristics``
STUDY_FIELDS = ("design", "population", "year", "trial")
#: the intervention arm's field
ARM_FIELDS = ("drug",)
#: common-effect methods of binary groups, which these analyses do not refit
NOT_INVERSE_VARIANCE = {"MH": "Mantel-Haenszel", "PETO": "Peto"}
#: points of the fitted line of a one-moderator regression (bubble plot)
LINE_POINTS = 50

SUBGROUP_COLUMNS = [
    "analysis",
    "by",
    "label",
    "instrument",
    "timepoint",
    "row_type",
    "subgroup",
    "study_id",
    "k",
    "yi",
    "vi",
    "weight",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "tau2",
    "I2",
    "QE",
    "QEp",
    "Qb",
    "Qb_df",
    "Qb_pval",
    "measure",
    "method",
    "test",
    "level",
    "status",
    "reason",
]

REGRESSION_COLUMNS = [
    "analysis",
    "moderators",
    "label",
    "instrument",
    "timepoint",
    "row_type",
    "term",
    "study_id",
    "values",
    "x",
    "yi",
    "vi",
    "weight",
    "k",
    "p",
    "b",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "dfs",
    "QM",
    "QMp",
    "QMdf1",
    "QMdf2",
    "QE",
    "QEp",
    "QEdf",
    "tau2",
    "I2",
    "H2",
    "R2",
    "measure",
    "method",
    "test",
    "level",
    "status",
    "reason",
]

INT_COLUMNS = ("k", "p", "Qb_df", "QMdf1", "QMdf2", "QEdf", "dfs")
STRING_COLUMNS = (
    "analysis",
    "by",
    "moderators",
    "label",
    "instrument",
    "timepoint",
    "row_type",
    "subgroup",
    "term",
    "study_id",
    "values",
    "measure",
    "method",
    "test",
    "status",
    "reason",
)


# ------------------------------------------------------------------ study values
def _plain(value):
    """A cell as a Python value: int, float or str (numpy and pandas scalars too)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)


def study_values(
    studies: pd.DataFrame, field: str, *, instrument: str, timepoint: str
) -> dict[str, object]:
    """study id -> the value of ``field`` in its extraction table (``studies``: the
    group's study tables concatenated), None when it has none.

    ``design``, ``population``, ``year`` (the main report's), ``trial``: the study's
    column; ``drug``: that of the study's intervention row of the group (``instrument``,
    ``timepoint``; usable rows first); any other name: that key of the study's
    ``characteristics``. Numbers stay numbers (numeric moderators), text stays text.
    """
    out: dict[str, object] = {}
    if not len(studies):
        return out
    for sid, rows in studies.groupby("study_id", sort=True):
        value = None
        if field in STUDY_FIELDS:
            values = [v for v in rows[field] if not is_missing(v)] if field in rows else []
            value = values[0] if values else None
        elif field in ARM_FIELDS:
            arm = rows[
                (rows["instrument"] == instrument)
                & (rows["timepoint"] == timepoint)
                & (rows["arm"] == "intervention")
            ]
            arm = arm.sort_values("usable", ascending=False, kind="stable")
            values = [v for v in arm[field] if not is_missing(v)] if field in arm else []
            value = values[0] if values else None
        else:
            texts = [v for v in rows.get("characteristics", []) if not is_missing(v)]
            if texts:
                value = json.loads(texts[0]).get(field)
        out[str(sid)] = None if is_missing(value) else _plain(value)
    return out


# ------------------------------------------------------------------ pooled table


def _settings(pooled: pd.DataFrame) -> dict:
    def first(col):
        values = pooled[col].dropna() if col in pooled else []
        return values.iloc[0] if len(values) else None

    level = first("level")
    return {
        "instrument": first("instrument"),
        "timepoint": first("timepoint"),
        "measure": first("measure"),
        "method": method_name(first("method") or "REML"),
        "test": str(first("test") or "z").lower(),
        "level": 95.0 if level is None else float(level),
    }


def _studies_text(k: int) -> str:
    return f"{k} usable stud{'y' if k == 1 else 'ies'}"


def _typed(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """A table with ``columns`` in the documented dtypes."""
    return typed_frame(rows, columns, INT_COLUMNS, STRING_COLUMNS)


def _study_rows(pooled: pd.DataFrame, values: Mapping[str, object], names: Sequence[str]):
    """``(rows, entered)``: one dict per study row of the pooled table (``study_id``,
    ``yi``, ``vi``, ``reason``) and the usable ones with a value of every field in
    ``names`` (``values``: field -> study id -> value)."""
    rows, entered = [], []
    for _, r in pooled[pooled["row_type"] == "study"].iterrows():
        sid = str(r["study_id"])
        row = {"study_id": sid, "yi": r["yi"], "vi": r["vi"], "reason": None}
        if is_missing(r["usable"]) or not bool(r["usable"]):
            reason = r.get("reason")
            row["reason"] = "not usable: " + ("no reason given" if is_missing(reason) else reason)
            row["yi"] = row["vi"] = np.nan
        else:
            lacking = [n for n in names if is_missing(values[n].get(sid))]
            if lacking:
                row["reason"] = f"no {' or '.join(lacking)} in its extraction file"
            else:
                entered.append(row)
        rows.append(row)
    return rows, entered


def _not_inverse_variance(method: str, what: str) -> str:
    return (
        f"the group is pooled with the {NOT_INVERSE_VARIANCE[method]} method: a {what} "
        "needs an inverse-variance model (pooling.method or the instrument's method)"
    )


# ------------------------------------------------------------------ subgroups
def subgroup_table(
    pooled: pd.DataFrame,
    values: Mapping[str, object],
    *,
    analysis: str,
    by: str,
    label: str | None = None,
    min_studies: int = 2,
) -> pd.DataFrame:
    """The subgroup analysis ``analysis`` of one group by the study-level field ``by``.

    ``values``: study id -> the study's value of ``by`` (:func:`study_values`). Rows:

    - ``study``: every study row of the pooled table, in its order, with its
      ``subgroup``, ``yi``, ``vi`` and percent ``weight`` in its subgroup's model;
      ``status`` ``included``, or ``excluded`` with the ``reason`` (not usable in the
      group; no value of ``by``; its subgroup not pooled);
    - ``subgroup``: one per subgroup (sorted by label) with ``k`` and, when it has at
      least ``min_studies`` usable studies (and 2 at least), the model's ``estimate, se,
      zval, pval, ci_lb, ci_ub, tau2, I2, QE, QEp`` (status ``pooled``); else status
      ``not estimable`` and the reason;
    - ``test``: the test for subgroup differences across the pooled subgroups, ``Qb``,
      ``Qb_df``, ``Qb_pval`` (status ``tested``), or ``not estimable`` with the reason
      when fewer than 2 subgroups are pooled.
    """
    s = _settings(pooled)
    need = max(int(min_studies), 2)
    base = {"analysis": analysis, "by": by, "label": label or by, **s}
    rows, entered = _study_rows(pooled, {by: values}, [by])
    if s["method"] in NOT_INVERSE_VARIANCE:
        why = _not_inverse_variance(s["method"], "subgroup analysis")
        study_out = [
            {**base, "row_type": "study", "study_id": r["study_id"], "yi": r["yi"], "vi": r["vi"]}
            | {"subgroup": None if is_missing(values.get(r["study_id"])) else
               str(values[r["study_id"]]), "status": "excluded", "reason": r["reason"] or why}
            for r in rows
        ]  # fmt: skip
        test = {**base, "row_type": "test", "k": len(entered), "status": NOT_ESTIMABLE}
        return _typed([*study_out, test | {"reason": why}], SUBGROUP_COLUMNS)
    members: dict[str, list[dict]] = {}
    for row in entered:
        members.setdefault(str(values[row["study_id"]]), []).append(row)
    out_sub, fits = [], {}
    for g in sorted(members):
        part = members[g]
        k = len(part)
        row = {**base, "row_type": "subgroup", "subgroup": g, "k": k}
        if k < need:
            row |= {
                "status": NOT_ESTIMABLE,
                "reason": f"{_studies_text(k)}, fewer than {need}: not pooled",
            }
        else:
            res = rma(
                [r["yi"] for r in part],
                [r["vi"] for r in part],
                method=s["method"],
                test=s["test"],
                level=s["level"],
                slab=[r["study_id"] for r in part],
            )
            fits[g] = res
            stats_ = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "I2", "QE")
            row |= {c: getattr(res, c) for c in (*stats_, "QEp")}
            row |= {"status": POOLED, "reason": None}
        out_sub.append(row)
    study_out = []
    for row in rows:
        sid = row["study_id"]
        g = values.get(sid)
        r = {**base, "row_type": "study", "study_id": sid, "yi": row["yi"], "vi": row["vi"]}
        r["subgroup"] = None if is_missing(g) else str(g)
        reason = row["reason"]
        if reason is None and r["subgroup"] not in fits:
            reason = f"subgroup {r['subgroup']} not pooled"
        if reason is None:
            res = fits[r["subgroup"]]
            r["weight"] = float(res.weights[list(res.slab).index(sid)])
            r |= {"status": "included", "reason": None}
        else:
            r |= {"status": "excluded", "reason": reason}
        study_out.append(r)
    test = {**base, "row_type": "test", "k": len(entered)}
    pooled_groups = [g for g in sorted(fits)]
    if len(pooled_groups) >= 2:
        t = subgroup_test(
            [fits[g].estimate for g in pooled_groups], [fits[g].se for g in pooled_groups]
        )
        test |= {"Qb": t["Qb"], "Qb_df": t["Qb_df"], "Qb_pval": t["Qb_pval"]}
        left = [g for g in sorted(members) if g not in fits]
        note = f"subgroups not pooled, not in the test: {', '.join(left)}" if left else None
        test |= {"status": TESTED, "reason": note}
    else:
        counts = "; ".join(f"{g}: {len(members[g])}" for g in sorted(members))
        test |= {
            "status": NOT_ESTIMABLE,
            "reason": (
                f"{len(pooled_groups)} subgroup{'' if len(pooled_groups) == 1 else 's'} with "
                f"at least {need} usable studies (usable studies by {by}: "
                f"{counts or 'none'}); the test for subgroup differences needs 2"
            ),
        }
    return _typed([*study_out, *out_sub, test], SUBGROUP_COLUMNS)


# ------------------------------------------------------------------ meta-regression
def _weights(vi, tau2) -> np.ndarray:
    w = 1 / (np.asarray(vi, dtype=float) + tau2)
    return 100 * w / w.sum()


def _line(res, x: np.ndarray) -> dict:
    """Fitted values of a one-moderator regression over ``LINE_POINTS`` points from
    the smallest to the largest ``x``, with their confidence interval (metafor
    ``predict(res, newmods = xs)``: ``pred``, ``ci.lb``, ``ci.ub``; ``vb = (X'WX)^-1``,
    times ``s2w`` under ``knha`` and ``max(1, s2w)`` under ``adhoc``)."""
    xs = np.linspace(x.min(), x.max(), LINE_POINTS)
    w = 1 / (res.vi + res.tau2)
    X = res.X
    vb = np.linalg.inv(X.T @ (w[:, None] * X))
    if res.test in ("knha", "adhoc"):
        r = res.yi - X @ res.b
        s2w = float((w * r * r).sum() / (res.k - res.p))
        vb = vb * (s2w if res.test == "knha" else max(1.0, s2w))
    Xn = np.column_stack([np.ones(xs.size), xs])
    pred = Xn @ res.b
    se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, vb, Xn))
    alpha = 1 - res.level / 100
    crit = stats.norm.isf(alpha / 2) if res.test == "z" else stats.t.isf(alpha / 2, res.k - res.p)
    return {"x": xs, "pred": pred, "ci_lb": pred - crit * se, "ci_ub": pred + crit * se}


def meta_regression_table(
    pooled: pd.DataFrame,
    values: Mapping[str, Mapping[str, object]],
    *,
    analysis: str,
    moderators: Sequence[str],
    label: str | None = None,
) -> pd.DataFrame:
    """The meta-regression ``analysis`` of one group on ``moderators`` (study-level
    fields; ``values``: moderator -> study id -> value, :func:`study_values`).

    Rows: ``study`` (every study row of the pooled table: ``values`` as
    ``name=value; ...``, ``x`` the value of a single numeric moderator, ``yi``, ``vi``,
    percent ``weight`` ``1/(vi + tau2)``; ``status`` ``included`` or ``excluded`` with
    the reason), ``coefficient`` (one per ``term``, R's ``model.matrix`` names:
    ``intrcpt``, ``year``, ``countryUK``; ``b, se, zval, pval, ci_lb, ci_ub``,
    ``zval`` holding t on ``dfs = k - p`` df under t tests), ``model`` (``k, p, QM, QMp,
    QMdf1, QMdf2, QE, QEp, QEdf, tau2, I2, H2, R2``; ``QM`` is an F statistic on
    ``QMdf1, QMdf2`` df under t tests, chi-square on ``QMdf1`` df under ``z``), and for a
    single numeric moderator ``fitted`` rows (the line of the bubble plot: ``x``, fitted
    ``b`` with ``ci_lb, ci_ub``). ``status`` ``estimated``, or one ``model`` row ``not
    estimable`` with the reason: a moderator with one level or one value only, text and
    numbers mixed, moderators that are collinear, or ``k <= p`` (no residual df).
    """
    s = _settings(pooled)
    names = list(moderators)
    base = {"analysis": analysis, "moderators": ", ".join(names)}
    base |= {"label": label or " + ".join(names), **s}
    rows, entered = _study_rows(pooled, values, names)
    if s["method"] in NOT_INVERSE_VARIANCE:
        entered = []
    mods = {n: [values[n][r["study_id"]] for r in entered] for n in names}
    numeric = [n for n in names if all(not isinstance(v, str) for v in mods[n])]
    single = numeric[0] if len(names) == 1 and numeric else None
    k = len(entered)
    reason, X, terms = None, None, []
    if s["method"] in NOT_INVERSE_VARIANCE:
        reason = _not_inverse_variance(s["method"], "meta-regression")
    for n in names:
        kinds = {isinstance(v, str) for v in mods[n]}
        if len(kinds) > 1:
            reason = f"moderator {n} mixes numbers and text across the studies"
            break
        if k and len(set(mods[n])) < 2:
            reason = f"moderator {n} is constant ({mods[n][0]}) in the {_studies_text(k)}"
            break
    if reason is None and k:
        X, terms = design_matrix(mods)
        if np.linalg.matrix_rank(X) < X.shape[1]:
            reason = f"the moderators are collinear in the {_studies_text(k)}"
    p = len(terms) if terms else None
    if reason is None and (k == 0 or k <= p):
        reason = (
            f"{_studies_text(k)} for {p or 'the'} coefficients: a meta-regression needs "
            "more studies than coefficients (k > p)"
        )
    res = None
    if reason is None:
        res = rma_reg(
            [r["yi"] for r in entered],
            [r["vi"] for r in entered],
            X,
            names=terms,
            method=s["method"],
            test=s["test"],
            level=s["level"],
            slab=[r["study_id"] for r in entered],
        )
    weights = {} if res is None else dict(zip(res.slab, _weights(res.vi, res.tau2), strict=True))
    study_out = []
    for row in rows:
        sid = row["study_id"]
        vals = "; ".join(
            f"{n}={values[n].get(sid)}" for n in names if not is_missing(values[n].get(sid))
        )
        r = {**base, "row_type": "study", "study_id": sid, "values": vals or None}
        r |= {"yi": row["yi"], "vi": row["vi"]}
        if single is not None and not is_missing(values[single].get(sid)):
            r["x"] = float(values[single][sid])
        if row["reason"] is not None:
            r |= {"status": "excluded", "reason": row["reason"]}
        elif res is None:
            r |= {"status": "excluded", "reason": "meta-regression not estimable"}
        else:
            r |= {"weight": weights[sid], "status": "included", "reason": None}
        study_out.append(r)
    if res is None:
        model = {**base, "row_type": "model", "k": k, "p": p}
        model |= {"status": NOT_ESTIMABLE, "reason": reason}
        return _typed([*study_out, model], REGRESSION_COLUMNS)
    dfs = None if res.test == "z" else res.k - res.p
    coefs = [
        {**base, "row_type": "coefficient", "term": term, "k": res.k, "p": res.p, "dfs": dfs}
        | {c: float(getattr(res, c)[j]) for c in ("b", "se", "zval", "pval", "ci_lb", "ci_ub")}
        | {"status": ESTIMATED, "reason": None}
        for j, term in enumerate(res.names)
    ]
    model = {**base, "row_type": "model", "k": res.k, "p": res.p, "dfs": dfs}
    model |= {c: getattr(res, c) for c in ("QM", "QMp", "QE", "QEp", "tau2", "I2", "H2", "R2")}
    model |= {"QMdf1": res.QMdf[0], "QMdf2": res.QMdf[1], "QEdf": res.k - res.p}
    model |= {"status": ESTIMATED, "reason": None}
    fitted = []
    if single is not None:
        line = _line(res, res.X[:, 1])
        for i in range(LINE_POINTS):
            fitted.append(
                {**base, "row_type": "fitted", "term": single, "x": line["x"][i]}
                | {"b": line["pred"][i], "ci_lb": line["ci_lb"][i], "ci_ub": line["ci_ub"][i]}
                | {"status": ESTIMATED, "reason": None}
            )
    return _typed([*study_out, *coefs, model, *fitted], REGRESSION_COLUMNS)


# ------------------------------------------------------------------ collected tables
def collect(tables: Sequence[pd.DataFrame], row_types: Sequence[str]) -> pd.DataFrame:
    """The rows of ``row_types`` of every group's table, concatenated in the order
    given (the config's analyses, instruments, timepoints), with all their columns."""
    parts = [t[t["row_type"].isin(list(row_types))] for t in tables if len(t)]
    if not parts:
        return pd.DataFrame(columns=tables[0].columns if tables else [])
    return pd.concat(parts, ignore_index=True)


__all__ = [
    "INTERCEPT",
    "REGRESSION_COLUMNS",
    "SUBGROUP_COLUMNS",
    "collect",
    "meta_regression_table",
    "study_values",
    "subgroup_table",
]
