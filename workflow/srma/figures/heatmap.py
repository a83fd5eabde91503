"""Heatmap of correlations between clinical measures and the review's outcome measures.

Rows are the clinical measures of the config (``correlations.clinical_measures``, shown
with their ``correlations.clinical_labels``), columns the outcome measures (with their
timing, baseline or change) found in the correlations table (docs/data-model.md,
section 6; the table calls them ``mri_measure``), shown with the instruments' labels. What
the two sides are called comes from the config too (``correlations.clinical_label``,
``correlations.measure_label``). Each cell is coloured by r on a diverging scale from -1
to 1 and annotated with r and the number of studies k:

- when the pooled table holds the pair (at least ``correlations.min_studies`` studies),
  the cell shows the pooled random-effects r (Fisher z, back-transformed; marked ``*``);
- otherwise the median of the study values, one value per study chosen as the
  correlation stage chooses it for pooling (largest n, then earliest week, then table
  order), so that no study counts twice;
- a pair without any reported r is drawn as *missing* (hatched grey, "no data"), never as
  zero. Rows of the table without r (reported only as "significant" or "not
  significant") do not contribute a value but are counted in the footnote.

A review without correlations (no rows in the table, or no clinical measures in the
config) gets a short figure that says so instead of an empty grid. The figure is as wide
as its title, so the title is never cut off.

Input columns: ``study_id``, ``mri_measure``, ``clinical_measure``, ``r``; optional
``mri_timing`` (``baseline``/``change``). Pooled table: ``mri_measure``,
``clinical_measure``, ``k``, ``r``; optional ``mri_timing``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    TextMeasure,
    fmt_num,
    font,
    in_figure_context,
    is_missing,
    new_figure,
    note_figure,
    save_figure,
)

CELL_W = 1.0
CELL_H = 0.56
MARGIN = 0.2
MISSING_FILL = "#f0f0f0"


def _column_key(row: pd.Series, has_timing: bool) -> tuple[str, str]:
    measure = str(row["mri_measure"]).strip()
    timing = ""
    if has_timing and not is_missing(row["mri_timing"]):
        timing = str(row["mri_timing"]).strip()
    return measure, timing


def _first_week(value: object) -> float:
    """``24`` -> 24.0, ``24;102`` -> 24.0, missing -> inf."""
    m = re.match(r"\s*(\d+(?:\.\d+)?)", "" if is_missing(value) else str(value))
    return float(m.group(1)) if m else math.inf


def _one_row_per_study(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per study for a pair, as the correlation stage picks it for pooling:
    largest n, then earliest week, then table order."""
    t = rows.assign(
        _n=pd.to_numeric(rows["n"], errors="coerce").fillna(-1) if "n" in rows else -1,
        _week=rows["timepoint_weeks"].map(_first_week) if "timepoint_weeks" in rows else math.inf,
        _order=range(len(rows)),
    )
    t = t.sort_values(["study_id", "_n", "_week", "_order"], ascending=[True, False, True, True])
    return t.drop_duplicates("study_id", keep="first")


def cell_values(
    table: pd.DataFrame,
    clinical_measures: list[str],
    pooled: pd.DataFrame | None = None,
    source: str = "correlations table",
) -> pd.DataFrame:
    """The numbers drawn in the heatmap, one row per clinical x outcome-measure cell.

    Columns: ``clinical_measure, mri_measure, mri_timing, r, k, pooled`` where ``k`` is
    the number of distinct studies reporting an r for the pair, and ``r`` is NaN (missing)
    when none did. Clinical measures outside ``clinical_measures`` are left out.
    """
    for col in ("study_id", "mri_measure", "clinical_measure", "r"):
        if col not in table.columns:
            raise InputError(source, "column missing", field=col)
    has_timing = "mri_timing" in table.columns
    t = table.copy()
    t["r"] = pd.to_numeric(t["r"], errors="coerce")
    bad = t[t["r"].notna() & ((t["r"] < -1) | (t["r"] > 1))]
    if len(bad):
        row = bad.iloc[0]
        raise InputError(
            source, f"r = {row['r']} is outside [-1, 1]", record=row["study_id"], field="r"
        )
    t["_col"] = [_column_key(r, has_timing) for _, r in t.iterrows()]
    t["_clin"] = t["clinical_measure"].astype(str).str.strip().str.lower()
    columns = sorted(set(t["_col"]))
    pooled_map: dict[tuple[str, tuple[str, str]], tuple[float, int]] = {}
    if pooled is not None and len(pooled):
        for col in ("mri_measure", "clinical_measure", "k", "r"):
            if col not in pooled.columns:
                raise InputError("pooled correlations table", "column missing", field=col)
        p_timing = "mri_timing" in pooled.columns
        for _, row in pooled.iterrows():
            key = (str(row["clinical_measure"]).strip().lower(), _column_key(row, p_timing))
            if not is_missing(row["r"]):
                pooled_map[key] = (float(row["r"]), int(row["k"]))
                if key[1] not in columns:
                    columns.append(key[1])
    columns = sorted(set(columns))
    out = []
    for clin in clinical_measures:
        for col in columns:
            sub = t[(t["_clin"] == clin.lower()) & (t["_col"] == col)]
            with_r = sub[sub["r"].notna()]
            k = int(with_r["study_id"].nunique())
            if (clin.lower(), col) in pooled_map:
                r, kp = pooled_map[(clin.lower(), col)]
                out.append((clin, col[0], col[1], r, kp, True))
            elif k:
                per_study = _one_row_per_study(with_r)["r"]
                out.append((clin, col[0], col[1], float(per_study.median()), k, False))
            else:
                out.append((clin, col[0], col[1], math.nan, 0, False))
    return pd.DataFrame(
        out, columns=["clinical_measure", "mri_measure", "mri_timing", "r", "k", "pooled"]
    )


@in_figure_context
def correlation_heatmap(
    table: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    clinical_measures: list[str],
    pooled: pd.DataFrame | None = None,
    measure_labels: Mapping[str, str] | None = None,
    clinical_labels: Mapping[str, str] | None = None,
    measure_label: str = "Outcome measure",
    clinical_label: str = "Clinical measure",
    source: str = "correlations table",
) -> bool:
    """Draw the clinical x outcome-measure correlation heatmap and save it as SVG and
    300-dpi PNG.

    Parameters
    ----------
    table:
        ``results/tables/correlations.csv`` as a DataFrame (one row per study x outcome
        measure x clinical measure x time point x group).
    clinical_measures:
        Row order (config ``correlations.clinical_measures``); every one gets a row, even
        without data.
    pooled:
        ``results/tables/correlations_pooled.csv`` (optional).
    measure_labels, clinical_labels:
        Display names of the outcome measures' keys (config ``instruments.<key>.label``)
        and of the clinical measures' keys (config ``correlations.clinical_labels``); a
        key without one is shown as it is (underscores as spaces).
    measure_label, clinical_label:
        What the columns and the rows are (config ``correlations.measure_label`` and
        ``correlations.clinical_label``), in the title.

    Returns True when the heatmap was drawn, False when a note figure saying that there
    are no correlations (no rows, or no clinical measures) was drawn instead.
    """
    title = f"Correlations: {clinical_label} \u00d7 {measure_label}"
    if not clinical_measures:
        note_figure(
            svg_path,
            png_path,
            title,
            "No correlations are shown: the review names no clinical measures "
            "(correlations.clinical_measures in the config is empty).",
        )
        return False
    if not len(table):
        note_figure(
            svg_path,
            png_path,
            title,
            "No correlations were extracted: none of the included studies reports a "
            "correlation between these measures.",
        )
        return False
    cells = cell_values(table, clinical_measures, pooled, source)
    measure_labels = dict(measure_labels or {})
    clin_labels = dict(clinical_labels or {})
    columns = list(dict.fromkeys(zip(cells["mri_measure"], cells["mri_timing"], strict=True)))
    tm = TextMeasure()
    fs = FONT_SIZE

    col_labels = []
    for measure, timing in columns:
        name = measure_labels.get(measure, measure)
        col_labels.append(tm.wrap(f"{name} ({timing})" if timing else name, CELL_W * 1.9, fs))
    row_labels = [clin_labels.get(c, str(c).replace("_", " ")) for c in clinical_measures]
    label_w = max([tm.width(s, fs) for s in row_labels] + [0.5]) + 0.15
    n_rows, n_cols = len(row_labels), max(len(columns), 1)
    # Column labels are drawn at 40 degrees; their height and overhang set the top margin.
    slant = math.radians(40)
    col_h = max([tm.width(s, fs) * math.sin(slant) + 0.2 for s in col_labels] + [0.4])
    overhang = max(
        [
            tm.width(s, fs) * math.cos(slant) - (n_cols - i - 0.5) * CELL_W
            for i, s in enumerate(col_labels)
        ]
        + [0.0]
    )
    grid_x0 = MARGIN + label_w
    grid_y0 = MARGIN + 0.35 + col_h
    grid_w, grid_h = n_cols * CELL_W, n_rows * CELL_H
    bar_x0 = grid_x0 + grid_w + max(0.3, overhang + 0.1)
    # At least as wide as the title (a long one wraps at 6.5 inches or the grid's width).
    title = tm.wrap(title, max(6.5 - 2 * MARGIN, bar_x0 + 0.73 - MARGIN), fs + 2, "bold")
    fig_w = max(bar_x0 + 0.18 + 0.55 + MARGIN, tm.width(title, fs + 2, "bold") + 2 * MARGIN)
    title_h = tm.height(title, fs + 2)
    grid_y0 += title_h - tm.height("Xg", fs + 2)
    note = (
        "Cells: r and k = number of studies; * pooled random-effects r (Fisher z); "
        "otherwise the median of study values. Hatched: no study reported r."
    )
    n_without_r = int(pd.to_numeric(table["r"], errors="coerce").isna().sum())
    if n_without_r:
        note += f" {n_without_r} reported correlation(s) without a value of r are not shown."
    note = tm.wrap(note, fig_w - 2 * MARGIN, fs - 1)
    fig_h = grid_y0 + grid_h + 0.2 + tm.height(note, fs - 1, 1.3) + MARGIN

    cmap = colormaps["RdBu_r"]
    norm = Normalize(vmin=-1.0, vmax=1.0)
    fig = new_figure(fig_w, fig_h)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, fig_w)
    ax.set_ylim(fig_h, 0)
    ax.set_axis_off()
    ax.text(
        MARGIN,
        MARGIN,
        title,
        ha="left",
        va="top",
        color=INK,
        fontproperties=font(fs + 2, "bold"),
    )
    lookup = {
        (row.clinical_measure, row.mri_measure, row.mri_timing): row
        for row in cells.itertuples(index=False)
    }
    for i, clin in enumerate(clinical_measures):
        y = grid_y0 + i * CELL_H
        ax.text(
            grid_x0 - 0.1,
            y + CELL_H / 2,
            row_labels[i],
            ha="right",
            va="center",
            color=INK,
            fontproperties=font(fs),
        )
        for j, (measure, timing) in enumerate(columns):
            x = grid_x0 + j * CELL_W
            cell = lookup[(clin, measure, timing)]
            if math.isnan(cell.r):
                ax.add_patch(_rect(x, y, facecolor=MISSING_FILL, hatch="///"))
                ax.text(
                    x + CELL_W / 2,
                    y + CELL_H / 2,
                    "no data",
                    ha="center",
                    va="center",
                    color=GREY,
                    fontproperties=font(fs - 1.5, style="italic"),
                )
                continue
            colour = cmap(norm(cell.r))
            ax.add_patch(_rect(x, y, facecolor=colour))
            lum = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
            ink = "white" if lum < 0.5 else INK
            star = "*" if cell.pooled else ""
            ax.text(
                x + CELL_W / 2,
                y + CELL_H / 2,
                f"{fmt_num(cell.r)}{star}\nk = {cell.k}",
                ha="center",
                va="center",
                color=ink,
                fontproperties=font(fs - 0.5),
                linespacing=1.25,
            )
    for j, label in enumerate(col_labels):
        ax.text(
            grid_x0 + (j + 0.5) * CELL_W,
            grid_y0 - 0.08,
            label,
            ha="left",
            va="bottom",
            rotation=40,
            rotation_mode="anchor",
            color=INK,
            fontproperties=font(fs),
        )
    # Colour bar from -1 to 1 beside the grid.
    bar = fig.add_axes(
        (bar_x0 / fig_w, 1 - (grid_y0 + grid_h) / fig_h, 0.18 / fig_w, grid_h / fig_h)
    )
    grad = np.linspace(1, -1, 201).reshape(-1, 1)
    bar.imshow(
        grad, aspect="auto", cmap=cmap, norm=norm, extent=(0, 1, -1, 1), interpolation="nearest"
    )
    bar.set_xticks([])
    bar.yaxis.tick_right()
    bar.set_yticks([-1, -0.5, 0, 0.5, 1])
    bar.set_yticklabels([fmt_num(v, 1) for v in (-1, -0.5, 0, 0.5, 1)], fontproperties=font(fs - 1))
    bar.set_title("r", fontproperties=font(fs, "bold"), color=INK, pad=4)
    for side in bar.spines.values():
        side.set_linewidth(0.6)
    ax.text(
        MARGIN,
        fig_h - MARGIN,
        note,
        ha="left",
        va="bottom",
        color="#555555",
        fontproperties=font(fs - 1),
        linespacing=1.3,
    )
    save_figure(fig, svg_path, png_path)
    return True


def _rect(x: float, y: float, **kw):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), CELL_W, CELL_H, edgecolor="white", lw=1.2, **kw)
