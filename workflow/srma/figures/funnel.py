"""Funnel plot with pseudo-confidence region, contour enhancement and Egger's test.

Each study is a point at its effect ``yi`` (x) and standard error ``sei`` (y, zero at the
top, as in metafor ``funnel.rma``). The pseudo 95 % confidence region is the triangle
``estimate +/- 1.96 se`` (Sterne & Egger, J Clin Epidemiol 2001;54:1046). Optional
contours shade where a study's own test against zero would give p < 0.10, 0.05, 0.01
(contour-enhanced funnel plot: Peters et al., J Clin Epidemiol 2008;61:991).

Draws precomputed tables only (the tests are computed by the workflow's sensitivity
stage):

- the pooled group table (docs/data-model.md, section 5): the usable studies' ``yi`` and
  ``sei`` (points) and the pooled row's ``estimate`` (centre) and ``level``;
- Egger's regression test (metafor ``regtest``), one row: ``k``, ``model``,
  ``predictor``, ``method``, ``test``, ``zval``, ``pval``, ``dfs``, the limit estimate
  ``est`` with ``ci_lb``, ``ci_ub``, the ``slope``, ``status`` (``"tested"`` /
  ``"not tested"``) and ``reason``. It is printed under the plot and drawn as the
  regression line ``yi = est + slope * sei`` (``* sei^2`` with predictor ``vi``). When
  the test was not done (e.g. fewer than 10 studies: Cochrane Handbook 13.3.5.4; Sterne
  et al., BMJ 2011;343:d4002) a note figure with the reason is drawn instead;
- optionally trim-and-fill (Duval & Tweedie 2000; metafor ``trimfill``): a ``model`` row
  (``k0``, ``side``, ``estimator``, ``estimate``, ``ci_lb``, ``ci_ub``, ``status``,
  ``reason``) then one ``filled`` row per filled study (``yi``, ``vi``). Filled studies
  are drawn as open circles and the adjusted estimate as a dotted line; the caption
  says so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    PI_COLOUR,
    STUDY_COLOUR,
    TextMeasure,
    check_same_group,
    fmt_num,
    fmt_p,
    font,
    in_figure_context,
    is_missing,
    new_figure,
    note_figure,
    save_figure,
    table_name,
)
from srma.figures.forest import axis_label, check_group

#: Contour bands of the contour-enhanced funnel plot, from the outside in: the colour
#: outside the triangle where a study's two-sided p (against zero) equals the threshold.
#: Inside the p = 0.10 triangle (p > 0.10) is white.
CONTOURS = ((0.01, "#ececec"), (0.05, "#d6d6d6"), (0.10, "#b8b8b8"))

#: ``status`` of Egger's test row.
TESTED = "tested"
NOT_TESTED = "not tested"
#: ``status`` of the trim-and-fill model row.
ESTIMATED = "estimated"
NOT_ESTIMATED = "not estimated"


def _value(mapping: Mapping, key: str) -> float | None:
    value = mapping.get(key)
    return None if is_missing(value) else float(value)


def egger_text(egger: Mapping[str, object] | None, k: int) -> str:
    """One line describing Egger's test, e.g. ``Egger's ... (k = 12): z = 1.23, p = 0.219;
    limit estimate ...``.

    ``egger`` holds ``zval`` (t when ``dfs`` is given), ``pval`` and optionally ``est``
    with ``ci_lb``/``ci_ub`` (the limit estimate as se -> 0).
    """
    if not egger:
        return "Egger's regression test: not computed."
    dfs = _value(egger, "dfs")
    stat = "z" if dfs is None else f"t({dfs:g})"
    text = (
        f"Egger's regression test for funnel asymmetry (k = {k}): {stat} = "
        f"{fmt_num(_value(egger, 'zval'))}, {fmt_p(_value(egger, 'pval'))}"
    )
    est, lb, ub = (_value(egger, c) for c in ("est", "ci_lb", "ci_ub"))
    if est is not None:
        text += f"; limit estimate {fmt_num(est)}"
        if lb is not None and ub is not None:
            text += f" [{fmt_num(lb)}, {fmt_num(ub)}]"
    return text + "."


def trimfill_text(trimfill: Mapping[str, object]) -> str:
    """One line describing trim-and-fill: studies filled, side, adjusted estimate."""
    if trimfill.get("status") != ESTIMATED:
        reason = trimfill.get("reason")
        return "Trim and fill: not estimated" + (
            "." if is_missing(reason) else f" ({str(reason).strip().rstrip('.')})."
        )
    k0 = int(_value(trimfill, "k0") or 0)
    estimator = trimfill.get("estimator")
    head = "Trim and fill" + ("" if is_missing(estimator) else f" ({estimator} estimator)")
    side = trimfill.get("side")
    where = "" if is_missing(side) else f" on the {side} side"
    filled = (
        "no missing studies estimated"
        if k0 == 0
        else f"{k0} {'study' if k0 == 1 else 'studies'} filled{where} (open circles)"
    )
    text = f"{head}: {filled}; adjusted estimate {fmt_num(_value(trimfill, 'estimate'))}"
    lb, ub = _value(trimfill, "ci_lb"), _value(trimfill, "ci_ub")
    if lb is not None and ub is not None:
        text += f" [{fmt_num(lb)}, {fmt_num(ub)}]"
    return text + (" (dotted line)." if k0 else ".")


@in_figure_context
def funnel_plot(
    yi: Sequence[float],
    sei: Sequence[float],
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    estimate: float,
    egger: Mapping[str, object] | None,
    trimfill: Mapping[str, object] | None = None,
    contours: bool = True,
    title: str = "",
    measure: str = "MD",
    unit: str = "",
    measure_label: str | None = None,
    level: float = 95,
) -> None:
    """Draw the funnel plot of one group; SVG and 300-dpi PNG.

    Parameters
    ----------
    yi, sei:
        Effects and standard errors of the pooled studies (same order; finite, se > 0).
    estimate:
        The pooled estimate (centre of the pseudo-confidence region).
    egger:
        Egger's test (``zval, pval, dfs, est, ci_lb, ci_ub, slope``, optionally
        ``predictor``: ``"sei"`` or ``"vi"``), or None when not computed.
    trimfill:
        Optional trim-and-fill result: ``status``, ``reason``, ``k0``, ``side``,
        ``estimator``, ``estimate``, ``ci_lb``, ``ci_ub`` and the filled studies'
        ``yi`` and ``sei`` (sequences).
    contours:
        Shade the p < 0.10 / 0.05 / 0.01 regions around zero.
    measure, unit, measure_label:
        Name the x axis (:func:`srma.figures.forest.axis_label`).
    """
    y = np.asarray(yi, dtype=float)
    se = np.asarray(sei, dtype=float)
    if y.shape != se.shape:
        raise ValueError(f"yi ({y.size}) and sei ({se.size}) differ in length")
    if y.size == 0 or not (np.isfinite(y).all() and np.isfinite(se).all() and (se > 0).all()):
        raise ValueError("funnel plot needs finite effects and positive standard errors")
    k = int(y.size)
    filled_y = np.asarray((trimfill or {}).get("yi", ()), dtype=float)
    filled_se = np.asarray((trimfill or {}).get("sei", ()), dtype=float)
    adjusted = _value(trimfill, "estimate") if trimfill and len(filled_y) else None
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    se_max = float(np.concatenate([se, filled_se]).max()) * 1.08
    tm = TextMeasure()
    fs = FONT_SIZE
    width, height = 5.6, 4.4
    # A long title or axis label wraps (never cut off); the plot panel keeps its size.
    title = tm.wrap(title, width - 0.4, fs + 1, "bold") if title else ""
    x_label = tm.wrap(axis_label(measure, unit, measure_label), width - 1.3, fs)
    x_extra = max(0.0, tm.height(x_label, fs) - tm.height("Xg", fs))
    t_extra = max(0.0, tm.height(title, fs + 1) - tm.height("Xg", fs + 1)) if title else 0.0
    height += x_extra + t_extra
    caption = [tm.wrap(egger_text(egger, k), width - 0.4, fs - 0.5)]
    if trimfill:
        caption.append(tm.wrap(trimfill_text(trimfill), width - 0.4, fs - 0.5))
    caption = "\n".join(caption)
    cap_h = tm.height(caption, fs - 0.5, 1.3) + 0.25
    slope = None if not egger else _value(egger, "slope")
    limit = None if not egger else _value(egger, "est")
    has_line = slope is not None and limit is not None
    legend = (
        f"dashed: pseudo {level:g}% CI around the pooled estimate"
        + (
            "; shading (darkest to lightest): p against zero in 0.05–0.10, "
            "0.01–0.05, < 0.01; white: p > 0.10"
            if contours
            else ""
        )
        + ("; red: Egger regression line" if has_line else "")
        + (
            "; open circles: studies filled by trim and fill; dotted: adjusted estimate"
            if len(filled_y)
            else ""
        )
    )
    legend = tm.wrap(legend, width - 0.4, fs - 1.5)
    legend_h = tm.height(legend, fs - 1.5, 1.3)
    cap_h += legend_h + 0.08
    fig_h = height + cap_h

    fig = new_figure(width, fig_h)
    ax = fig.add_axes(
        (
            0.8 / width,
            (cap_h + 0.65 + x_extra) / fig_h,
            (width - 1.1) / width,
            (height - 1.15 - x_extra - t_extra) / fig_h,
        )
    )
    grid = np.linspace(0, se_max, 50)
    points = np.concatenate([y, filled_y])
    spread = max(float(np.max(np.abs(points - estimate))), z * se_max)
    if contours:
        spread = max(spread, float(np.max(np.abs(points))), stats.norm.ppf(0.995) * se_max)
    xlo, xhi = estimate - spread * 1.1, estimate + spread * 1.1
    if contours:
        xlo, xhi = min(xlo, -spread * 1.1), max(xhi, spread * 1.1)
        # Widest region first: p < 0.01 everywhere, then the narrower triangles.
        ax.fill_between([xlo, xhi], 0, se_max, color=CONTOURS[0][1], zorder=0, lw=0)
        for (p, _), (_, colour) in zip(CONTOURS, [*CONTOURS[1:], (None, "white")], strict=True):
            q = stats.norm.ppf(1 - p / 2)
            ax.fill_betweenx(grid, -q * grid, q * grid, color=colour, zorder=0, lw=0)
    ax.plot(estimate - z * grid, grid, color=INK, lw=0.8, ls=(0, (4, 3)), zorder=2)
    ax.plot(estimate + z * grid, grid, color=INK, lw=0.8, ls=(0, (4, 3)), zorder=2)
    ax.axvline(estimate, color=INK, lw=0.9, zorder=2)
    if has_line:
        x = grid**2 if egger.get("predictor") == "vi" else grid
        ax.plot(limit + slope * x, grid, color=PI_COLOUR, lw=1.0, zorder=2)
    if adjusted is not None:
        ax.axvline(adjusted, color=GREY, lw=0.9, ls=(0, (1, 1.5)), zorder=2)
    if len(filled_y):
        ax.scatter(
            filled_y,
            filled_se,
            s=22,
            facecolors="white",
            edgecolors=STUDY_COLOUR,
            linewidths=0.8,
            zorder=3,
        )
    ax.scatter(y, se, s=22, color=STUDY_COLOUR, edgecolors="white", linewidths=0.5, zorder=3)
    ax.set_xlim(xlo, xhi)
    ax.set_ylim(se_max, 0)
    ax.set_xlabel(x_label, fontproperties=font(fs), color=INK)
    ax.set_ylabel("Standard error", fontproperties=font(fs), color=INK)
    for lab in ax.get_xticklabels() + ax.get_yticklabels():
        lab.set_fontproperties(font(fs - 1))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        fig.text(
            0.2 / width,
            1 - 0.15 / fig_h,
            title,
            ha="left",
            va="top",
            color=INK,
            fontproperties=font(fs + 1, "bold"),
        )
    fig.text(
        0.2 / width,
        (cap_h - legend_h - 0.02) / fig_h,
        legend,
        ha="left",
        va="bottom",
        color=GREY,
        fontproperties=font(fs - 1.5),
        linespacing=1.3,
    )
    fig.text(
        0.2 / width,
        0.12 / fig_h,
        caption,
        ha="left",
        va="bottom",
        color=INK,
        fontproperties=font(fs - 0.5),
        linespacing=1.3,
    )
    save_figure(fig, svg_path, png_path)


def funnel_figure(
    pooled: pd.DataFrame,
    regtest: pd.DataFrame,
    trimfill: pd.DataFrame | None,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    instrument_label: str,
    timepoint_label: str,
    measure: str,
    unit: str = "",
    measure_label: str | None = None,
    source: str = "",
) -> bool:
    """Funnel plot of one group from its precomputed tables; SVG and 300-dpi PNG.

    Parameters
    ----------
    pooled:
        The group's pooled table (data-model section 5): the usable study rows are the
        points (``yi``, ``sei``), the pooled row's ``estimate`` the centre.
    regtest:
        Egger's test of the group, one row (module docstring). ``status`` ``"not
        tested"``: a note figure with its ``reason`` is drawn instead of the plot.
    trimfill:
        The group's trim-and-fill table (module docstring), or None: filled studies as
        open circles, the adjusted estimate as a dotted line and a caption line.
    instrument_label, timepoint_label:
        Shown in the title.
    measure:
        ``"MD"`` or ``"SMD"``: names the x axis.
    unit, measure_label:
        The outcome's unit and an axis label replacing the one made from ``measure``
        (:func:`srma.figures.forest.axis_label`).
    source:
        Name of the inputs in error messages (e.g. the group's Parquet path).

    Returns True when the plot was drawn, False when the note figure was.

    Raises
    ------
    InputError
        When a table lacks a column or value, or the tables disagree (groups, k).
    """
    title = f"Funnel plot: {instrument_label}, {timepoint_label}"
    where = table_name(source, "Egger's test table")
    egger = _one_row(regtest, where, (TESTED, NOT_TESTED))
    tables = {"Egger's test table": regtest}
    if trimfill is not None:
        tables["trim-and-fill table"] = trimfill
    check_same_group(pooled, tables, source)
    if egger["status"] == NOT_TESTED:
        reason = egger.get("reason")
        reason = "no reason given" if is_missing(reason) else str(reason).strip()
        note_figure(svg_path, png_path, title, f"No funnel plot and no Egger's test: {reason}")
        return False
    for col in ("zval", "pval"):
        if _value(egger, col) is None:
            raise InputError(where, "tested but without a value", field=col)
    pooled_where = table_name(source, "pooled group table")
    studies, full = check_group(pooled, pooled_where)
    if full is None:
        raise InputError(pooled_where, "no pooled row, but Egger's test was done", field="row_type")
    used = studies[studies["usable"].map(lambda v: (not is_missing(v)) and bool(v))]
    yi = used["yi"].to_numpy(dtype=float)
    sei = _standard_errors(used, pooled_where)
    k = _value(egger, "k")
    if k is not None and int(k) != len(yi):
        raise InputError(
            where,
            f"k = {int(k)}, but the pooled group table has {len(yi)} usable studies",
            field="k",
        )
    level = _value(full, "level") or 95.0
    fill = (
        None if trimfill is None else _trimfill(trimfill, table_name(source, "trim-and-fill table"))
    )
    funnel_plot(
        yi,
        sei,
        svg_path,
        png_path,
        estimate=float(full["estimate"]),
        egger=egger,
        trimfill=fill,
        title=title,
        measure=measure,
        unit=unit,
        measure_label=measure_label,
        level=level,
    )
    return True


def _one_row(table: pd.DataFrame, where: str, statuses: tuple[str, ...]) -> dict:
    """The single row of a test table as a dict, its ``status`` checked."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(where, "expected a table (DataFrame)")
    if "status" not in table.columns:
        raise InputError(where, "column missing", field="status")
    if len(table) != 1:
        raise InputError(where, f"{len(table)} rows; expected one")
    row = table.iloc[0].to_dict()
    status = None if is_missing(row["status"]) else str(row["status"])
    if status not in statuses:
        raise InputError(where, f"status must be one of {list(statuses)}, got {status!r}")
    row["status"] = status
    return row


def _standard_errors(used: pd.DataFrame, where: str) -> np.ndarray:
    """``sei`` of the usable studies (``sqrt(vi)`` when the table has no ``sei``)."""
    if "sei" in used.columns:
        sei = used["sei"].to_numpy(dtype=float)
    elif "vi" in used.columns:
        sei = np.sqrt(used["vi"].to_numpy(dtype=float))
    else:
        raise InputError(where, "column missing", field="sei")
    for sid, value in zip(used["study_id"], sei, strict=True):
        if not (math.isfinite(value) and value > 0):
            raise InputError(where, "usable study without a positive sei", record=sid, field="sei")
    return sei


def _trimfill(table: pd.DataFrame, where: str) -> dict:
    """The trim-and-fill model row's values, with the filled studies' ``yi`` and ``sei``
    (arrays, empty when none were filled or trim-and-fill was not estimated)."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(where, "expected a table (DataFrame)")
    for col in ("row_type", "status"):
        if col not in table.columns:
            raise InputError(where, "column missing", field=col)
    kinds = [None if is_missing(v) else str(v) for v in table["row_type"]]
    if not kinds or kinds[0] != "model" or set(kinds[1:]) - {"filled"}:
        raise InputError(
            where, "expected a 'model' row first, then 'filled' rows", field="row_type"
        )
    row = _one_row(table.iloc[:1], where, (ESTIMATED, NOT_ESTIMATED))
    keys = ("status", "reason", "k0", "side", "estimator", "estimate", "ci_lb", "ci_ub")
    model = {key: row.get(key) for key in keys}
    filled = table.iloc[1:]
    if model["status"] == NOT_ESTIMATED:
        if len(filled):
            raise InputError(where, f"not estimated, but {len(filled)} filled rows", field="k0")
        return {**model, "yi": np.empty(0), "sei": np.empty(0)}
    for col in ("estimate", "k0"):
        if _value(model, col) is None:
            raise InputError(where, "estimated but without a value", record="model", field=col)
    if len(filled) != int(_value(model, "k0")):
        raise InputError(
            where, f"k0 = {int(_value(model, 'k0'))} but {len(filled)} filled rows", field="k0"
        )
    values = {}
    for col in ("yi", "vi"):
        values[col] = (
            filled[col].to_numpy(dtype=float)
            if col in table.columns
            else np.full(len(filled), np.nan)
        )
    ok = np.isfinite(values["yi"]) & np.isfinite(values["vi"]) & (values["vi"] > 0)
    if not ok.all():
        raise InputError(
            where,
            "filled study without a finite yi and positive vi",
            record=f"filled row {int(np.argmin(ok)) + 1}",
        )
    return {**model, "yi": values["yi"], "sei": np.sqrt(values["vi"])}
