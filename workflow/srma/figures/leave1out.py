"""Leave-one-out plot: the pooled estimate refitted without each study in turn.

Input: the table of :func:`srma.sensitivity.leave1out` (metafor ``leave1out``): one row per
omitted study with ``slab`` (or ``study_id``), ``estimate``, ``ci_lb``, ``ci_ub`` and
optionally ``I2``, ``tau2``, ``pval``. The full model's estimate and confidence interval
are drawn as a vertical line and a shaded band, so a study whose omission moves the
estimate outside the band, or across zero, stands out (Cochrane Handbook 10.14).
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
    figure_context,
    fmt_num,
    font,
    is_missing,
    new_figure,
    save_figure,
)
from srma.figures.forest import MEASURE_AXIS, study_label

LINE_H = 0.23
COL_PAD = 0.2
PANEL_W = 2.8
MARGIN = 0.2


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
    intervention: str = "TNFi",
    comparator: str = "control",
    measure: str = "MD",
    favours_negative: bool = True,
    level: float = 95,
    source: str = "leave-one-out table",
) -> None:
    """Draw the leave-one-out plot of one pooled group; SVG and 300-dpi PNG.

    Parameters
    ----------
    table:
        :func:`srma.sensitivity.leave1out` output, one row per omitted study.
    estimate, ci_lb, ci_ub:
        The full model's pooled estimate and confidence limits (the pooled row).
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
        rows.append(
            {
                "label": tm.wrap(f"Omitting {study_label(r[label_col])}", 2.8, fs),
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
    axis_label = MEASURE_AXIS.get(measure, measure)
    fav_left = f"\u2190 Favours {intervention if favours_negative else comparator}"
    fav_right = f"Favours {comparator if favours_negative else intervention} \u2192"
    panel_w = max(PANEL_W, tm.width(fav_left) + tm.width(fav_right) + 0.4)
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

    with figure_context():
        fig = new_figure(fig_w, fig_h, tm.lines)
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
        ticks = [
            float(t) for t in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        ]
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
        put(panel_x0 + panel_w / 2, panel_bottom + 0.36, axis_label, ha="center", size=fs - 0.5)
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


def leave1out_group(
    group: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    **labels,
) -> bool:
    """Leave-one-out plot of a pooled group table (data-model section 5).

    Refits the pooled row's model (``method``, ``test``, ``level``) without each usable
    study with :func:`srma.sensitivity.leave1out` and draws it. Returns False and writes
    nothing when the group has no pooled row (fewer than ``pooling.min_studies`` usable
    studies). ``labels``: ``instrument_label``, ``timepoint_label``, ``intervention``,
    ``comparator``, ``measure`` as for :func:`leave1out_plot`.
    """
    from srma.sensitivity import leave1out

    pooled = group[group["row_type"] == "pooled"]
    if pooled.empty:
        return False
    p = pooled.iloc[0]
    studies = group[group["row_type"] == "study"]
    used = studies[studies["usable"].map(lambda v: (not is_missing(v)) and bool(v))]
    level = float(p["level"]) if "level" in p.index and not is_missing(p["level"]) else 95.0
    table = leave1out(
        used["yi"].to_numpy(dtype=float),
        used["vi"].to_numpy(dtype=float),
        slab=list(used["study_id"]),
        method=str(p["method"]),
        test=str(p["test"]),
        level=level,
    )
    leave1out_plot(
        table,
        svg_path,
        png_path,
        estimate=float(p["estimate"]),
        ci_lb=float(p["ci_lb"]),
        ci_ub=float(p["ci_ub"]),
        level=level,
        **labels,
    )
    return True
