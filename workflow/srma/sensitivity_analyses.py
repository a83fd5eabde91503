"""Sensitivity analyses named in the review's config, per instrument x timepoint group.

The config's ``sensitivity.analyses`` is a list; each entry has a ``name`` (the
reader's words, shown in the tables and the report) and one of these keys:

- ``reported_only: true`` -- pool only studies whose values are all reported as
  such (no converted, estimated or imputed mean or SD; :func:`srma.group.pool_group`
  with ``reported_only=True``);
- ``change_score_correlation: [r, ...]`` -- the SDs of change imputed from baseline and
  follow-up SDs are imputed again with each correlation ``r``,
  ``SD_change = sqrt(SD_b^2 + SD_f^2 - 2 r SD_b SD_f)`` (Cochrane Handbook 6.5.2.8;
  :func:`srma.extraction.harmonise.sd_change`). The extraction job writes a study's rows
  once per ``r`` (:func:`srma.extraction.study.rows_per_correlation`): this module
  never reads a study file. A study whose own baseline, follow-up and change SDs give
  its correlation keeps it, as in the main analysis;
- ``exclude: {field: value or [values]}`` -- leave out the studies whose study-level
  ``field`` has one of the values, e.g. ``{design: [controlled_cohort]}`` for randomised
  trials only. A field is a study-level column of the extraction table (data model
  section 4: ``design``, ``study_id``, ``trial``, ``population``, ``year``, ``drug``)
  or a key of a study's ``characteristics``; values are compared as text, numbers
  written as the YAML writes them (``2005``, ``44.5``);
- ``leave_one_out: true`` -- the group's leave-one-out table
  (:func:`srma.group_sensitivity.leave1out_table`, metafor ``leave1out(res)``), one row
  per omitted study.

Every variant is pooled with the group's own model (``pooling``: measure, method,
test, level, min_studies, reported_only, and ``outcome`` for a binary instrument) by
:func:`srma.group.pool_group` and compared
with the main result (:func:`compare`): ``change`` is its estimate minus the main
estimate. A variant with the same usable studies and the same effects as the main
analysis has status ``same as main analysis`` (the main numbers, change 0, the reason
says why nothing changed); one with fewer than ``min_studies`` usable studies is
``not estimable`` with the reason; otherwise ``estimated``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from srma.group import pool_group
from srma.io import is_missing, typed_frame

#: the keys an analysis entry may have besides ``name`` (exactly one of them)
KINDS = ("reported_only", "change_score_correlation", "exclude", "leave_one_out")

#: column of :func:`srma.extraction.study.rows_per_correlation` holding ``r``
CORRELATION_COLUMN = "change_score_correlation"

COLUMNS = [
    "analysis",
    "kind",
    "variant",
    "instrument",
    "timepoint",
    "k",
    "k_main",
    "left_out",
    "changed",
    "estimate",
    "se",
    "ci_lb",
    "ci_ub",
    "pval",
    "tau2",
    "I2",
    "estimate_main",
    "change",
    "method",
    "test",
    "level",
    "status",
    "reason",
]
STRINGS = ("analysis", "kind", "variant", "instrument", "timepoint", "left_out", "changed")
STRINGS += ("method", "test", "status", "reason")
INTS = ("k", "k_main")
#: the statistics a row takes from a pooled row (or a leave-one-out refit)
STATISTICS = ("estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2")

ESTIMATED = "estimated"
SAME = "same as main analysis"
NOT_ESTIMABLE = "not estimable"


def kind_of(spec: Mapping) -> str:
    """The kind of an analysis entry: its one key of :data:`KINDS`."""
    kinds = [k for k in KINDS if k in spec]
    if len(kinds) != 1:
        raise ValueError(
            f"sensitivity analysis {spec.get('name')!r}: expected exactly one of "
            f"{', '.join(KINDS)}, found {kinds or 'none'}"
        )
    return kinds[0]


def correlations_of(analyses: Sequence[Mapping]) -> list[float]:
    """Every ``r`` the ``change_score_correlation`` analyses name, sorted, once each:
    what the extraction job harmonises the studies' rows with."""
    found = {
        float(r)
        for spec in analyses
        if kind_of(spec) == "change_score_correlation"
        for r in spec["change_score_correlation"]
    }
    return sorted(found)


def _studies(k: int) -> str:
    return f"{k} usable stud{'y' if k == 1 else 'ies'}"


def _usable(group: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """study_id -> (yi, vi) of a pooled table's usable study rows."""
    if not len(group):
        return {}
    rows = group[(group["row_type"] == "study") & group["usable"].astype(bool)]
    return {
        str(s): (float(y), float(v))
        for s, y, v in zip(rows["study_id"], rows["yi"], rows["vi"], strict=True)
    }


def _pooled(group: pd.DataFrame) -> pd.Series | None:
    rows = group[group["row_type"] == "pooled"] if len(group) else group
    return rows.iloc[0] if len(rows) else None


def _numbers(row: pd.Series | Mapping | None) -> dict:
    if row is None:
        return {}
    return {c: row.get(c) for c in STATISTICS}


def compare(
    main: pd.DataFrame,
    variant: pd.DataFrame,
    *,
    unchanged: str,
    min_studies: int,
) -> dict:
    """One analysis variant (its pooled table, as :func:`srma.group.pool_group` writes
    it) against the main pooled table of the same group.

    Returns the row's ``k``, ``k_main``, ``left_out`` (usable in the main analysis, not
    in the variant), ``changed`` (usable in both, another ``yi`` or ``vi``; relative
    difference above 1e-12), the statistics, ``estimate_main``, ``change`` (estimate
    minus the main estimate), ``status`` and ``reason``. ``unchanged`` is the reason
    given when the variant has the main analysis's usable studies and effects.
    """
    before, after = _usable(main), _usable(variant)
    left_out = [s for s in before if s not in after]
    changed = [
        s
        for s, (y, v) in after.items()
        if s in before and not np.allclose((y, v), before[s], rtol=1e-12, atol=0.0)
    ]
    main_row, row = _pooled(main), _pooled(variant)
    estimate_main = None if main_row is None else main_row.get("estimate")
    out = {
        "k": len(after),
        "k_main": len(before),
        "left_out": "; ".join(left_out) or None,
        "changed": "; ".join(changed) or None,
        "estimate_main": estimate_main,
    }
    same = not left_out and not changed and set(after) == set(before)
    need = max(int(min_studies), 2)
    if row is None:
        what = _studies(len(after)) + ("" if same else " left")
        tail = " (as in the main analysis)" if same else ""
        out["status"] = NOT_ESTIMABLE
        none = "no usable study" + ("" if same else " left")
        out["reason"] = (
            f"{none}{tail}" if not after else f"{what}, fewer than {need}: not pooled{tail}"
        )
        return out
    if same:
        out.update(_numbers(main_row), status=SAME, reason=unchanged, change=0.0)
        return out
    out.update(_numbers(row), status=ESTIMATED, reason=None)
    if estimate_main is not None and not pd.isna(estimate_main):
        out["change"] = float(row["estimate"]) - float(estimate_main)
    return out


def _pool(rows: pd.DataFrame, instrument: str, timepoint: str, pooling: Mapping):
    keys = ("measure", "method", "test", "level", "min_studies", "reported_only", "outcome")
    settings = {k: pooling[k] for k in keys if k in pooling}
    settings["pi_type"] = pooling.get("prediction_interval", "default")
    return pool_group(rows, instrument=instrument, timepoint=timepoint, **settings)


def _text(value) -> str | None:
    """A field value as text: numbers without a trailing ``.0`` (``2005``, ``44.5``)."""
    if is_missing(value):
        return None
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def _values(value) -> list[str]:
    return [_text(v) for v in (value if isinstance(value, list | tuple) else [value])]


def study_field(extraction: pd.DataFrame, field: str) -> list[str | None]:
    """A study-level field of every extraction row as text (:func:`_text`): the column
    ``field``, else the key ``field`` of the row's ``characteristics`` (JSON text);
    None where the study has no such field."""
    import json

    if field in extraction.columns:
        return [_text(v) for v in extraction[field]]
    if "characteristics" not in extraction.columns:
        return [None] * len(extraction)
    out = []
    for text in extraction["characteristics"]:
        chars = {} if is_missing(text) else json.loads(text)
        out.append(_text(chars.get(field)))
    return out


def exclude_rows(extraction: pd.DataFrame, exclude: Mapping) -> pd.DataFrame:
    """The extraction rows of the studies whose study-level fields
    (:func:`study_field`) match none of ``exclude`` (``{field: value or [values]}``)."""
    keep = np.ones(len(extraction), dtype=bool)
    for field, value in exclude.items():
        drop = set(_values(value))
        keep &= np.array([v not in drop for v in study_field(extraction, field)], dtype=bool)
    return extraction[keep]


def _described(exclude: Mapping) -> str:
    return "; ".join(f"{f} = {', '.join(_values(v))}" for f, v in exclude.items())


def group_analyses(
    main: pd.DataFrame,
    extraction: pd.DataFrame,
    *,
    analyses: Sequence[Mapping],
    instrument: str,
    timepoint: str,
    pooling: Mapping,
    alternatives: pd.DataFrame | None = None,
    leave1out: pd.DataFrame | None = None,
    correlation: float | None = None,
) -> pd.DataFrame:
    """The table of one group's sensitivity analyses (:data:`COLUMNS`), one row per
    analysis variant in the order of ``analyses`` (config ``sensitivity.analyses``).

    ``main``: the group's pooled table (data model section 5); ``extraction``: its
    studies' extraction rows (section 4); ``alternatives``: the same rows harmonised per
    correlation (:data:`CORRELATION_COLUMN`), needed by ``change_score_correlation``
    analyses; ``leave1out``: the group's leave-one-out table, needed by
    ``leave_one_out``; ``correlation``: the config's ``extraction.change_score_correlation``
    (to say why an ``r`` equal to it changes nothing); ``pooling``: the config's pooling
    section (the model of every variant).
    """
    rows = []
    need = int(pooling.get("min_studies", 2))
    method = {c: _first(main, c) for c in ("method", "test", "level")}

    def add(spec, kind, variant, values):
        rows.append(
            {"analysis": spec["name"], "kind": kind, "variant": variant}
            | {"instrument": instrument, "timepoint": timepoint}
            | method
            | values
        )

    for spec in analyses:
        kind = kind_of(spec)
        if kind == "reported_only":
            variant = _pool(extraction, instrument, timepoint, {**pooling, "reported_only": True})
            why = "every usable study's values are reported as such"
            add(spec, kind, None, compare(main, variant, unchanged=why, min_studies=need))
        elif kind == "exclude":
            kept = exclude_rows(extraction, spec["exclude"])
            variant = _pool(kept, instrument, timepoint, pooling)
            what = _described(spec["exclude"])
            why = f"no usable study has {what}"
            add(
                spec,
                kind,
                f"without {what}",
                compare(main, variant, unchanged=why, min_studies=need),
            )
        elif kind == "change_score_correlation":
            if alternatives is None or CORRELATION_COLUMN not in alternatives:
                raise ValueError(
                    f"sensitivity analysis {spec['name']!r}: no rows harmonised per correlation"
                )
            for r in spec["change_score_correlation"]:
                r = float(r)
                part = alternatives[np.isclose(alternatives[CORRELATION_COLUMN], r)]
                variant = _pool(
                    part.drop(columns=CORRELATION_COLUMN), instrument, timepoint, pooling
                )
                why = (
                    f"r = {r:g} is the main analysis's correlation "
                    "(extraction.change_score_correlation)"
                    if correlation is not None and np.isclose(r, correlation)
                    else "no usable study's SD of change is imputed with the review's correlation"
                )
                values = compare(main, variant, unchanged=why, min_studies=need)
                add(spec, kind, f"r = {r:g}", values)
        else:
            rows += [
                {"analysis": spec["name"], "kind": kind} | row
                for row in _leave1out_rows(main, leave1out, instrument, timepoint, method)
            ]
    return _typed(rows)


def _leave1out_rows(main, leave1out, instrument, timepoint, method) -> list[dict]:
    """The leave-one-out table's rows as rows of this table."""
    if leave1out is None:
        raise ValueError("a leave_one_out analysis needs the group's leave-one-out table")
    main_row = _pooled(main)
    estimate_main = None if main_row is None else main_row.get("estimate")
    k_main = len(_usable(main))
    out = []
    base = {"instrument": instrument, "timepoint": timepoint, **method}
    base |= {"k_main": k_main, "estimate_main": estimate_main}
    for rec in leave1out.to_dict("records"):
        if rec.get("status") == "estimated":
            sid = str(rec["study_id"])
            row = base | _numbers(rec) | {"variant": f"without {sid}", "left_out": sid}
            row |= {"k": rec["k"], "status": ESTIMATED, "reason": None}
            row["change"] = float(rec["estimate"]) - float(estimate_main)
        else:
            row = base | {"k": rec.get("k"), "status": NOT_ESTIMABLE, "reason": rec.get("reason")}
        out.append(row)
    return out


def _first(frame: pd.DataFrame, column: str):
    if column not in frame:
        return None
    values = frame[column].dropna()
    return values.iloc[0] if len(values) else None


def _typed(rows: list[dict]) -> pd.DataFrame:
    """Rows as a table of :data:`COLUMNS`: strings ``string``, counts ``Int64``, the
    rest ``float64``."""
    return typed_frame([{c: r.get(c) for c in COLUMNS} for r in rows], COLUMNS, INTS, STRINGS)


def empty_table() -> pd.DataFrame:
    """The table without rows (a review without sensitivity analyses)."""
    return _typed([])


__all__ = [
    "COLUMNS",
    "KINDS",
    "compare",
    "correlations_of",
    "empty_table",
    "exclude_rows",
    "group_analyses",
    "kind_of",
]
