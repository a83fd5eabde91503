"""Subgroup forest plot and meta-regression bubble plot of one group.

Both only draw the tables of :mod:`srma.group_analyses` (docs/data-model.md, section
"Subgroup analyses and meta-regression"); every number shown is a cell of them.

- :func:`subgroup_forest_figure`: one block per subgroup (its studies with their CI and
  percent weight in the subgroup's model, then the subtotal diamond with tau^2 and I^2,
  or "not estimable" with the reason), the studies in no subgroup with theirs, and the
  test for subgroup differences under the blocks.
- :func:`bubble_figure`: the effects against a single numeric moderator, points sized
  by their weight in the model, with the fitted line and its confidence band (the
  table's ``fitted`` rows); a note figure with the reason when the regression was not
  estimable or has no single numeric moderator.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    LIGHT,
    POOLED_COLOUR,
    STUDY_COLOUR,
    TextMeasure,
    add_text,
    fmt_num,
    fmt_p,
    font,
    in_figure_context,
    is_missing,
    new_figure,
    note_figure,
    save_figure,
)
from srma.figures.forest import RATIO_MEASURES, axis_label, study_label

LINE_H = 0.22
MARGIN = 0.25
PANEL_W = 2.8
COL_PAD = 0.18
NOT_ESTIMABLE = "not estimable"


def _need(table: pd.DataFrame, columns, source: str) -> None:
    for col in columns:
        if col not in table.columns:
            raise InputError(source, "column missing", field=col)


def _ci(est, lb, ub) -> str:
    return f"{fmt_num(est)} [{fmt_num(lb)}, {fmt_num(ub)}]"


def _f(value) -> float:
    return math.nan if is_missing(value) else float(value)


@in_figure_context
def subgroup_forest_figure(
    table: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    instrument_label: str,
    timepoint_label: str,
    intervention: str,
    comparator: str,
    measure: str = "MD",
    unit: str = "",
    measure_label: str | None = None,
    favours_negative: bool = True,
    source: str = "subgroup table",
) -> bool:
    """Draw the subgroup forest plot of one group's subgroup table; SVG and PNG.

    Returns True when the plot was drawn, False when a note figure was (no study of
    the group is in a subgroup)."""
    _need(table, ("row_type", "subgroup", "study_id", "status", "reason", "label"), source)
    label = str(table["label"].dropna().iloc[0]) if table["label"].notna().any() else ""
    title = f"Subgroups by {label}: {instrument_label}, {timepoint_label}"
    subs = table[table["row_type"] == "subgroup"]
    studies = table[table["row_type"] == "study"]
    test = table[table["row_type"] == "test"]
    if len(test) != 1:
        raise InputError(source, f"expected one test row, found {len(test)}", field="row_type")
    test = test.iloc[0]
    level = _f(table["level"].dropna().iloc[0]) if table["level"].notna().any() else 95.0
    if not len(subs):
        items = [f"{study_label(r.study_id)}: {r.reason}" for r in studies.itertuples()]
        note_figure(svg_path, png_path, title, f"No subgroups: {test['reason']}", items)
        return False
    # OR and RR are pooled on the log scale: drawn as ratios on a log axis.
    ratio = measure in RATIO_MEASURES
    back = math.exp if ratio else float
    rows: list[dict] = []
    for sub in subs.itertuples():
        rows.append({"kind": "head", "text": f"{label}: {sub.subgroup}"})
        for st in studies[studies["subgroup"] == sub.subgroup].itertuples():
            row = {"kind": "study", "text": study_label(st.study_id)}
            if math.isfinite(_f(st.yi)) and math.isfinite(_f(st.vi)):
                # usable: its effect, also in a subgroup that is not pooled (grey)
                est, (lb, ub) = back(_f(st.yi)), map(back, _ci_study(st.yi, st.vi, level))
                row |= {"est": est, "lb": lb, "ub": ub, "ci": _ci(est, lb, ub)}
            if st.status == "included":
                row["weight"] = f"{_f(st.weight):.1f}%"
            else:
                row |= {"ci": row.get("ci", str(st.reason)), "grey": True}
            rows.append(row)
        if sub.status == "pooled":
            est, lb, ub = (back(_f(v)) for v in (sub.estimate, sub.ci_lb, sub.ci_ub))
            rows.append(
                {"kind": "subtotal", "text": f"Subtotal (k = {sub.k})", "est": est, "lb": lb,
                 "ub": ub, "ci": _ci(est, lb, ub), "weight": "100%"}
            )  # fmt: skip
            het = f"Heterogeneity: \u03c4\u00b2 = {fmt_num(sub.tau2)}; I\u00b2 = {sub.I2:.0f}%"
            rows.append({"kind": "note", "text": het})
        else:
            rows.append({"kind": "note", "text": f"Subtotal {NOT_ESTIMABLE}: {sub.reason}"})
    outside = studies[studies["subgroup"].isna()]
    if len(outside):
        rows.append({"kind": "head", "text": f"In no subgroup of {label}"})
        for st in outside.itertuples():
            rows.append(
                {"kind": "study", "text": study_label(st.study_id), "ci": str(st.reason),
                 "grey": True}
            )  # fmt: skip
    if test["status"] == "tested":
        qb = (
            f"Test for subgroup differences: Q = {fmt_num(test['Qb'])}, "
            f"df = {int(test['Qb_df'])}, {fmt_p(_f(test['Qb_pval']))}"
        )
    else:
        qb = f"Test for subgroup differences {NOT_ESTIMABLE}: {test['reason']}"
    tm = TextMeasure()
    fs = FONT_SIZE
    lvl = f"{level:g}"
    head = {
        "kind": "header",
        "text": label or "Subgroup",
        "ci": f"{measure} [{lvl}% CI]",
        "weight": "Weight",
    }
    w_text = max(tm.width(r["text"], fs, "bold") for r in [head, *rows] if r["kind"] != "note")
    w_text = min(w_text, 3.2) + COL_PAD
    w_ci = max(tm.width(r.get("ci", ""), fs) for r in [head, *rows]) + COL_PAD
    w_ci = min(w_ci, 3.6)
    w_w = tm.width("Weight", fs, "bold") + COL_PAD
    x_ci = MARGIN + w_text
    x_w = x_ci + w_ci
    panel_x0 = x_w + w_w + COL_PAD
    left = f"\u2190 Favours {intervention if favours_negative else comparator}"
    right = f"Favours {comparator if favours_negative else intervention} \u2192"
    panel_w = max(PANEL_W, tm.width(left, fs - 1) + tm.width(right, fs - 1) + 0.3)
    fig_w = panel_x0 + panel_w + MARGIN
    n = len(rows) + 1
    qb_text = tm.wrap(qb, fig_w - 2 * MARGIN, fs)
    qb_h = tm.height(qb_text, fs)
    top, bottom = 0.55, 0.95 + qb_h
    fig_h = top + n * LINE_H + bottom
    fig = new_figure(fig_w, fig_h)
    ax = fig.add_axes((panel_x0 / fig_w, bottom / fig_h, panel_w / fig_w, n * LINE_H / fig_h))
    ax.set_ylim(n - 0.5, -0.5)
    tr = blended_transform_factory(fig.transFigure, ax.transData)
    fig.text(MARGIN / fig_w, 1 - 0.2 / fig_h, title, va="top", fontproperties=font(weight="bold"))
    for x, key in ((MARGIN, "text"), (x_ci, "ci"), (x_w, "weight")):
        add_text(fig, tr, x / fig_w, 0, head[key], va="center", fontproperties=font(weight="bold"))
    lows, highs = [], []
    for i, r in enumerate(rows, start=1):
        weight = "bold" if r["kind"] in ("head", "subtotal") else "normal"
        style = "italic" if r["kind"] == "note" else "normal"
        colour = GREY if r.get("grey") or r["kind"] == "note" else INK
        indent = 0.12 if r["kind"] in ("study", "subtotal", "note") else 0.0
        text = r["text"] if r["kind"] == "note" else tm.wrap(r["text"], w_text - COL_PAD, fs)
        add_text(fig, tr, (MARGIN + indent) / fig_w, i, text, va="center", color=colour,
                 fontproperties=font(weight=weight, style=style))  # fmt: skip
        if r["kind"] in ("study", "subtotal"):
            ci = tm.wrap(r.get("ci", ""), w_ci - COL_PAD, fs)
            add_text(fig, tr, x_ci / fig_w, i, ci, va="center", color=colour,
                     fontproperties=font(weight=weight))  # fmt: skip
            add_text(fig, tr, x_w / fig_w, i, r.get("weight", ""), va="center", color=colour,
                     fontproperties=font(weight=weight))  # fmt: skip
        if "est" in r:
            lows.append(_f(r["lb"]))
            highs.append(_f(r["ub"]))
    ax.axvline(1.0 if ratio else 0.0, color=GREY, lw=0.8, zorder=1)
    for i, r in enumerate(rows, start=1):
        if r["kind"] == "study" and "est" in r:
            colour = GREY if r.get("grey") else STUDY_COLOUR
            ax.plot([r["lb"], r["ub"]], [i, i], color=colour, lw=1, zorder=2)
            w = _weight_of(r)
            ax.plot([r["est"]], [i], marker="s", ms=3 + 6 * math.sqrt(w / 100),
                    color=colour, zorder=3, ls="none")  # fmt: skip
        elif r["kind"] == "subtotal":
            est, lb, ub = _f(r["est"]), _f(r["lb"]), _f(r["ub"])
            ax.add_patch(
                Polygon([(lb, i), (est, i - 0.35), (ub, i), (est, i + 0.35)], closed=True,
                        facecolor=POOLED_COLOUR, edgecolor=POOLED_COLOUR, zorder=3)
            )  # fmt: skip
    if ratio:
        lo, hi = math.log(min([1.0, *lows])), math.log(max([1.0, *highs]))
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_xscale("log")
        ax.set_xlim(math.exp(lo - pad), math.exp(hi + pad))
    else:
        lo, hi = min([0.0, *lows]), max([0.0, *highs])
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=fs - 1, color=INK)
    ax.set_facecolor("none")
    for j in range(len(rows) + 1):
        if j and rows[j - 1]["kind"] == "head":
            ax.axhline(j - 0.5, color=LIGHT, lw=0.5, zorder=0)
    ax.set_xlabel(axis_label(measure, unit, measure_label), fontsize=fs - 1)
    y_fav = (bottom - 0.62) / fig_h
    add_text(fig, fig.transFigure, panel_x0 / fig_w, y_fav, left, ha="left", va="center",
             fontproperties=font(size=fs - 1), color=INK)  # fmt: skip
    add_text(fig, fig.transFigure, (panel_x0 + panel_w) / fig_w, y_fav, right, ha="right",
             va="center", fontproperties=font(size=fs - 1), color=INK)  # fmt: skip
    fig.text(MARGIN / fig_w, (0.15 + qb_h) / fig_h, qb_text, va="top",
             fontproperties=font(), color=INK)  # fmt: skip
    save_figure(fig, svg_path, png_path)
    return True


def _weight_of(row: dict) -> float:
    text = row.get("weight", "0%").rstrip("%")
    return float(text) if text else 0.0


def _ci_study(yi, vi, level: float) -> tuple[float, float]:
    """A study's Wald interval ``yi -/+ z sqrt(vi)`` (as in the pooled table)."""
    from scipy import stats

    z = stats.norm.isf((1 - level / 100) / 2)
    se = math.sqrt(_f(vi))
    return _f(yi) - z * se, _f(yi) + z * se


@in_figure_context
def bubble_figure(
    table: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    instrument_label: str,
    timepoint_label: str,
    measure: str = "MD",
    unit: str = "",
    measure_label: str | None = None,
    source: str = "meta-regression table",
    **_labels,
) -> bool:
    """Draw the bubble plot of one group's meta-regression table; SVG and PNG.

    Returns True when drawn; False when a note figure says why not (not estimable, or
    not a single numeric moderator)."""
    _need(table, ("row_type", "status", "reason", "label", "x", "yi", "b"), source)
    label = str(table["label"].dropna().iloc[0]) if table["label"].notna().any() else ""
    title = f"Meta-regression on {label}: {instrument_label}, {timepoint_label}"
    model = table[table["row_type"] == "model"]
    if len(model) != 1:
        raise InputError(source, f"expected one model row, found {len(model)}", field="row_type")
    model = model.iloc[0]
    studies = table[table["row_type"] == "study"]
    excluded = [
        f"{study_label(r.study_id)}: {r.reason}"
        for r in studies.itertuples()
        if r.status != "included" and r.reason != "meta-regression not estimable"
    ]
    if model["status"] == NOT_ESTIMABLE:
        note_figure(svg_path, png_path, title, f"Not estimable: {model['reason']}", excluded)
        return False
    line = table[table["row_type"] == "fitted"]
    if not len(line):
        note_figure(
            svg_path, png_path, title,
            "No bubble plot: it shows a meta-regression on a single numeric moderator; "
            f"this one has {model['p'] - 1} coefficient(s) besides the intercept "
            f"({label}). Its coefficients are in results/tables/meta_regression.csv.",
        )  # fmt: skip
        return False
    used = studies[studies["status"] == "included"]
    moderator = str(line["term"].iloc[0])
    fs = FONT_SIZE
    fig = new_figure(5.6, 4.2)
    ax = fig.add_axes((0.14, 0.14, 0.8, 0.74))
    # OR and RR are fitted on the log scale: drawn as ratios on a log axis.
    ratio = measure in RATIO_MEASURES
    back = np.exp if ratio else np.asarray
    size = 20 + 600 * used["weight"].to_numpy(dtype=float) / 100
    ax.scatter(used["x"], back(used["yi"].to_numpy(dtype=float)), s=size, facecolor="none",
               edgecolor=STUDY_COLOUR, linewidth=1, zorder=3, gid="studies")  # fmt: skip
    x = line["x"].to_numpy(dtype=float)
    ax.plot(x, back(line["b"].to_numpy(dtype=float)), color=POOLED_COLOUR, lw=1.2, zorder=2,
            gid="fitted")  # fmt: skip
    for col in ("ci_lb", "ci_ub"):
        ax.plot(x, back(line[col].to_numpy(dtype=float)), color=GREY, lw=0.9, ls="--", zorder=2)
    ax.axhline(1.0 if ratio else 0.0, color=LIGHT, lw=0.8, zorder=1)
    if ratio:
        ax.set_yscale("log")
    ax.set_xlabel(moderator, fontsize=fs)
    ax.set_ylabel(axis_label(measure, unit, measure_label), fontsize=fs)
    ax.tick_params(labelsize=fs - 1)
    slope = table[(table["row_type"] == "coefficient") & (table["term"] == moderator)]
    stat = "z" if str(model["test"]) == "z" else "t"
    sub = (
        f"k = {int(model['k'])}; slope {fmt_num(_f(slope['b'].iat[0]), 3)} "
        f"({stat} test, {fmt_p(_f(slope['pval'].iat[0]))}); "
        f"\u03c4\u00b2 = {fmt_num(_f(model['tau2']))}; R\u00b2 = {fmt_num(_f(model['R2']), 0)}%"
    )
    fig.text(0.02, 0.98, title, va="top", fontproperties=font(weight="bold"), color=INK)
    fig.text(0.02, 0.93, sub, va="top", fontproperties=font(size=fs - 1), color=INK)
    if excluded:
        fig.text(0.02, 0.01, "Not in the model: " + "; ".join(excluded), va="bottom",
                 fontproperties=font(size=fs - 2), color=GREY, wrap=True)  # fmt: skip
    save_figure(fig, svg_path, png_path)
    return True
