"""Leave-one-out plot: the pooled estimate refitted without each study in turn.

Draws precomputed tables only (the refits are computed by the workflow's sensitivity
stage, metafor ``leave1out``):

- the pooled group table (docs/data-model.md, section 5): its ``pooled`` row gives the
  full model's ``estimate``, ``ci_lb``, ``ci_ub`` (and ``level``);
- the leave-one-out table: one row per omitted study (``study_id``) with ``status``
  ``"estimated"`` and the refit's ``estimate``, ``ci_lb``, ``ci_ub``, ``I2`` (also ``k``,
  ``se``, ``zval``, ``pval``, ``Q``, ``Qp``, ``tau2``, ``H2``, ``pi_lb``, ``pi_ub``,
  ``method``, ``test``, ``level``); or a single row with ``status`` ``"not estimated"``
  and the ``reason``, for which a short note figure is drawn instead.

The full model's estimate and confidence interval are drawn as a vertical line and a
shaded band, so a study whose omission moves the estimate outside the band, or across
zero, stands out (Cochrane Handbook 10.14).
"""

from __future__ import annotations

import math
import os

import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    POOLED_COLOUR,
    STUDY_COLOUR,
    TextMeasure,
    add_text,
    check_same_group,
    fmt_num,
    font,
    in_figure_context,
    is_missing,
    new_figure,
    note_figure,
    save_figure,
    table_name,
)
from srma.figures.forest import axis_label, check_group, study_label

#: ``status`` of the leave-one-out table's rows.
ESTIMATED = "estimated"
NOT_ESTIMATED = "not estimated"

LINE_H = 0.23
COL_PAD = 0.2
PANEL_W = 2.8
MARGIN = 0.2


@in_figure_context
def leave1out_plot(
    table: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    estimate: float,
    ci_lb: float,
    ci_ub: float,
    instrument_label: str = "",
    timepoint_label: str = "",
    intervention: str,
    comparator: str,
    measure: str = "MD",
    unit: str = "",
    measure_label: str | None = None,
    favours_negative: bool = True,
    level: float = 95,
    source: str = "leave-one-out table",
) -> None:
    """Draw the leave-one-out plot of one pooled group; SVG and 300-dpi PNG.

    Parameters
    ----------
    table:
        One row per omitted study: ``slab`` or ``study_id``, ``estimate``, ``ci_lb``,
        ``ci_ub``, optionally ``I2`` (percent); drawn in the order given.
    estimate, ci_lb, ci_ub:
        The full model's pooled estimate and confidence limits (the pooled row).
    intervention, comparator:
        Arm names for the "favours" labels.
    measure, unit, measure_label, favours_negative:
        As for :func:`srma.figures.forest.forest_plot`.
    """
    label_col = "slab" if "slab" in table.columns else "study_id"
    for col in (label_col, "estimate", "ci_lb", "ci_ub"):
        if col not in table.columns:
            raise InputError(source, "column missing", field=col)
    for _, r in table.iterrows():
        for col in ("estimate", "ci_lb", "ci_ub"):
            if is_missing(r[col]) or not math.isfinite(float(r[col])):
                raise InputError(
                    source, "missing or infinite value", record=r[label_col], field=col
                )
    tm = TextMeasure()
    fs = FONT_SIZE
    lvl = f"{level:g}"
    has_i2 = "I2" in table.columns
    rows = []
    for _, r in table.iterrows():
        year = r["year"] if "year" in table.columns else None
        rows.append(
            {
                "label": tm.wrap(f"Omitting {study_label(r[label_col], year)}", 2.8, fs),
                "ci": f"{fmt_num(r['estimate'])} [{fmt_num(r['ci_lb'])}, {fmt_num(r['ci_ub'])}]",
                "i2": "" if not has_i2 or is_missing(r["I2"]) else f"{float(r['I2']):.0f}%",
                "est": float(r["estimate"]),
                "lb": float(r["ci_lb"]),
                "ub": float(r["ci_ub"]),
            }
        )
    full = {
        "label": "All studies",
        "ci": f"{fmt_num(estimate)} [{fmt_num(ci_lb)}, {fmt_num(ci_ub)}]",
        "i2": "",
        "est": estimate,
        "lb": ci_lb,
        "ub": ci_ub,
    }
    head = {"label": "Model", "ci": f"{measure} [{lvl}% CI]", "i2": "I\u00b2"}
    w_label = max(tm.width(x["label"], fs) for x in [*rows, full, head]) + COL_PAD
    w_ci = max(tm.width(x["ci"], fs, "bold") for x in [*rows, full, head]) + COL_PAD
    w_i2 = max(tm.width(x["i2"], fs) for x in [*rows, full, head]) + COL_PAD if has_i2 else 0
    x_label = axis_label(measure, unit, measure_label)
    fav_left = f"\u2190 Favours {intervention if favours_negative else comparator}"
    fav_right = f"Favours {comparator if favours_negative else intervention} \u2192"
    panel_w = max(PANEL_W, tm.width(fav_left) + tm.width(fav_right) + 0.4, tm.width(x_label) + 0.2)
    x_ci = MARGIN + w_label + w_ci - COL_PAD  # right edge of the CI column
    x_i2 = x_ci + w_i2
    panel_x0 = x_i2 + COL_PAD * 1.5
    fig_w = panel_x0 + panel_w + MARGIN + 0.2

    y = MARGIN + 0.45
    header_y = y + LINE_H / 2
    y += LINE_H + 0.1
    panel_top = y
    for row in rows:
        h = LINE_H * (row["label"].count("\n") + 1)
        row["y"] = y + h / 2
        y += h
    y += LINE_H * 0.4
    full["y"] = y + LINE_H / 2
    y += LINE_H * 1.3
    panel_bottom = y
    fig_h = panel_bottom + 0.75 + MARGIN

    fig = new_figure(fig_w, fig_h)
    tab = fig.add_axes((0, 0, 1, 1))
    tab.set_xlim(0, fig_w)
    tab.set_ylim(fig_h, 0)
    tab.set_axis_off()

    def put(x, y, s, ha="left", bold=False, colour=INK, size=fs):
        add_text(
            fig,
            tab.transData,
            x,
            y,
            s,
            ha=ha,
            va="center",
            color=colour,
            fontproperties=font(size, "bold" if bold else "normal"),
            linespacing=1.15,
        )

    title = ", ".join(t for t in (instrument_label, timepoint_label) if t)
    put(
        MARGIN,
        MARGIN + 0.14,
        f"Leave-one-out analysis{': ' + title if title else ''}",
        bold=True,
        size=fs + 2,
    )
    put(MARGIN, header_y, head["label"], bold=True)
    put(x_ci, header_y, head["ci"], ha="right", bold=True)
    if has_i2:
        put(x_i2, header_y, head["i2"], ha="right", bold=True)
    tab.plot([MARGIN, fig_w - MARGIN], [header_y + LINE_H / 2 + 0.03] * 2, color=INK, lw=0.8)
    for row in [*rows, full]:
        bold = row is full
        put(MARGIN, row["y"], row["label"], bold=bold)
        put(x_ci, row["y"], row["ci"], ha="right", bold=bold)
        if has_i2 and row["i2"]:
            put(x_i2, row["y"], row["i2"], ha="right")

    ax = fig.add_axes(
        (
            panel_x0 / fig_w,
            1 - panel_bottom / fig_h,
            panel_w / fig_w,
            (panel_bottom - panel_top) / fig_h,
        )
    )
    ax.set_ylim(panel_bottom, panel_top)
    values = [0.0] + [v for row in [*rows, full] for v in (row["lb"], row["ub"])]
    lo, hi = min(values), max(values)
    lo, hi = lo - 0.03 * (hi - lo or 1), hi + 0.03 * (hi - lo or 1)
    ticks = [float(t) for t in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)]
    xmin = max((t for t in ticks if t <= lo), default=lo)
    xmax = min((t for t in ticks if t >= hi), default=hi)
    ax.set_xlim(xmin, xmax)
    shown = [t for t in ticks if xmin - 1e-12 <= t <= xmax + 1e-12]
    step = shown[1] - shown[0] if len(shown) > 1 else 1.0
    digits = next((d for d in range(4) if abs(round(step, d) - step) < 1e-9), 3)
    ax.set_xticks(shown)
    ax.set_xticklabels([fmt_num(t, digits) for t in shown], fontproperties=font(fs - 0.5))
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", length=3, width=0.8, colors=INK)
    ax.axvspan(ci_lb, ci_ub, color="#e8e8e8", zorder=0, lw=0)
    ax.axvline(estimate, color=GREY, lw=0.9, ls=(0, (3, 2)), zorder=1)
    ax.axvline(0, color=GREY, lw=0.8, zorder=1)
    # One line collection and one scatter for all rows, drawn in row order.
    if rows:
        ax.add_collection(
            LineCollection(
                [[(row["lb"], row["y"]), (row["ub"], row["y"])] for row in rows],
                colors=INK,
                linewidths=0.9,
                capstyle="projecting",  # as a plotted line's ends
                zorder=2,
            ),
            autolim=False,
        )
        ax.scatter(
            [row["est"] for row in rows],
            [row["y"] for row in rows],
            s=30,
            marker="s",
            color=STUDY_COLOUR,
            edgecolors="none",
            zorder=3,
        )
    half = LINE_H * 0.36
    ax.add_patch(
        Polygon(
            [
                (ci_lb, full["y"]),
                (estimate, full["y"] - half),
                (ci_ub, full["y"]),
                (estimate, full["y"] + half),
            ],
            closed=True,
            facecolor=POOLED_COLOUR,
            edgecolor=POOLED_COLOUR,
            lw=0.6,
            zorder=3,
        )
    )
    put(panel_x0 + panel_w / 2, panel_bottom + 0.36, x_label, ha="center", size=fs - 0.5)
    put(panel_x0, panel_bottom + 0.58, fav_left, size=fs - 0.5, colour=GREY)
    put(
        panel_x0 + panel_w,
        panel_bottom + 0.58,
        fav_right,
        ha="right",
        size=fs - 0.5,
        colour=GREY,
    )
    save_figure(fig, svg_path, png_path)


def leave1out_figure(
    pooled: pd.DataFrame,
    leave1out: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    instrument_label: str,
    timepoint_label: str,
    intervention: str,
    comparator: str,
    measure: str,
    unit: str = "",
    measure_label: str | None = None,
    favours_negative: bool = True,
    source: str = "",
) -> bool:
    """Leave-one-out figure of one group from its precomputed tables; SVG and PNG.

    Parameters
    ----------
    pooled:
        The group's pooled table (data-model section 5); its pooled row gives the full
        model's estimate and confidence interval (line and band) and ``level``.
    leave1out:
        The group's leave-one-out table (module docstring): one ``"estimated"`` row per
        omitted study, drawn in the order given; or one ``"not estimated"`` row, for
        which a note figure with its ``reason`` is drawn instead.
    instrument_label, timepoint_label:
        Shown in the title.
    intervention, comparator:
        Arm names for the "favours" labels.
    measure:
        ``"MD"`` or ``"SMD"``: names the axis and the column.
    unit, measure_label, favours_negative:
        As for :func:`srma.figures.forest.forest_plot`.
    source:
        Name of the inputs in error messages (e.g. the group's Parquet path).

    Returns True when the plot was drawn, False when the note figure was.

    Raises
    ------
    InputError
        When a table lacks a column or value, the tables are of different groups, or the
        leave-one-out table mixes statuses.
    """
    where = table_name(source, "leave-one-out table")
    table = _check_leave1out(leave1out, where)
    title = f"Leave-one-out analysis: {instrument_label}, {timepoint_label}"
    check_same_group(pooled, {"leave-one-out table": table}, source)
    if str(table["status"].iloc[0]) == NOT_ESTIMATED:
        reason = table["reason"].iloc[0] if "reason" in table.columns else None
        reason = "no reason given" if is_missing(reason) else str(reason).strip()
        note_figure(svg_path, png_path, title, f"No leave-one-out analysis: {reason}")
        return False
    studies, full = check_group(pooled, table_name(source, "pooled group table"))
    if full is None:
        raise InputError(
            table_name(source, "pooled group table"),
            "no pooled row, but the leave-one-out table holds estimates",
            field="row_type",
        )
    if "year" in studies.columns:
        years = dict(zip(studies["study_id"].astype(str), studies["year"], strict=True))
        table = table.assign(year=[years.get(str(s)) for s in table["study_id"]])
    # The confidence level of the intervals: the pooled row's, else the refits'.
    levels = [full.get("level"), table["level"].iloc[0] if "level" in table.columns else None]
    level = next((float(v) for v in levels if not is_missing(v)), 95.0)
    leave1out_plot(
        table,
        svg_path,
        png_path,
        estimate=float(full["estimate"]),
        ci_lb=float(full["ci_lb"]),
        ci_ub=float(full["ci_ub"]),
        instrument_label=instrument_label,
        timepoint_label=timepoint_label,
        intervention=intervention,
        comparator=comparator,
        measure=measure,
        unit=unit,
        measure_label=measure_label,
        favours_negative=favours_negative,
        level=level,
        source=where,
    )
    return True


def _check_leave1out(table: pd.DataFrame, where: str) -> pd.DataFrame:
    """The leave-one-out table, checked: statuses known and not mixed, ids present."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(where, "expected a leave-one-out table (DataFrame)")
    for col in ("study_id", "status"):
        if col not in table.columns:
            raise InputError(where, "column missing", field=col)
    if table.empty:
        raise InputError(where, "no rows: expected one row per omitted study or a reason")
    table = table.reset_index(drop=True)
    status = [None if is_missing(s) else str(s) for s in table["status"]]
    unknown = sorted({str(s) for s in status} - {ESTIMATED, NOT_ESTIMATED})
    if unknown:
        raise InputError(
            where,
            f"status must be {ESTIMATED!r} or {NOT_ESTIMATED!r}, got {unknown}",
            field="status",
        )
    if NOT_ESTIMATED in status and len(table) != 1:
        raise InputError(
            where,
            f"{status.count(NOT_ESTIMATED)} of {len(table)} rows {NOT_ESTIMATED!r}: expected "
            "one row per omitted study, or a single row saying why there are none",
            field="status",
        )
    if status[0] == ESTIMATED:
        for i, sid in enumerate(table["study_id"]):
            if is_missing(sid):
                raise InputError(where, "estimated row without study_id", record=i + 1)
    return table
