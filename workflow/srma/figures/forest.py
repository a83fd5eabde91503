"""Forest plot of one instrument x timepoint group, in the RevMan / metafor layout.

One row per study: label with year, per-arm n and mean change (SD), percent weight, the
effect with its 95 % confidence interval, and a square whose *area* is proportional to the
study's weight (Cochrane Handbook 10.2.1; metafor ``forest.rma``). Below the studies: the
pooled estimate as a diamond spanning its confidence interval, the prediction interval
(Riley et al., BMJ 2011;342:d549; metafor ``predict.rma``), a heterogeneity line
(tau², I², Cochran's Q with df = k - 1 and its p) and the test for the overall effect.
The x axis says which side favours the intervention: with ``measure = "MD"`` of change
scores (intervention minus control, srma's sign convention, data-model section 5) a
negative value means a larger decrease of the outcome with the intervention, which
favours the intervention when lower values are better (the review's
``lower_is_better``, the default), else the comparator.

A binary group (its table has the events ``ai``, ``ci``) shows events/total per arm
instead of n and mean change (SD); an odds or risk ratio (``measure`` OR, RR; pooled on
the log scale) is drawn on a log axis with the null line at 1, and its values are shown
back-transformed (the ratio and its CI); a risk difference on a linear axis with the
null line at 0.

Input: the pooled group table of ``results/pooled/<instrument>/<timepoint>.parquet``
(docs/data-model.md, section 5). Columns used:

- every row: ``row_type`` (``study`` / ``pooled``);
- study rows: ``study_id``, ``yi``, ``ci_lb``, ``ci_ub``, ``usable``; optional ``year``
  (else the trailing four digits of ``study_id``), ``n1i, m1i, sd1i, n2i, m2i, sd2i``,
  ``weight`` (percent), ``flags``, ``reason``;
- pooled row (optional): ``estimate``, ``ci_lb``, ``ci_ub``; optional ``pi_lb``,
  ``pi_ub``, ``tau2``, ``I2``, ``QE``, ``QEp``, ``zval``, ``pval``, ``k``, ``method``,
  ``test``.

Columns are as wide as their widest cell (measured with matplotlib's renderer) and long
labels are wrapped, so nothing overlaps whatever the number of studies or label length.
A group of one usable study has no diamond. Studies that did not enter pooling are listed
under the plot with their reason. A group without any usable study gets a short figure
that says so and lists each study with its reason, instead of an empty plot.

Every word that names the review's domain (outcome, unit, arms) comes from the caller
(the review's config in the workflow); nothing here assumes a particular outcome.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    LIGHT,
    PI_COLOUR,
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

#: Height of one table line, inches.
LINE_H = 0.23
#: Horizontal space between table columns, inches.
COL_PAD = 0.16
#: Width of the plot panel, inches (widened when the "favours" labels need more).
PANEL_W = 2.9
#: Widest study label before it is wrapped onto a second line, inches.
MAX_LABEL_W = 2.6
MARGIN = 0.2

#: Flags whose values are not taken directly from the publication.
INDIRECT_FLAGS = {"estimated", "imputed"}
DAGGER = "\u2020"

METHOD_NAMES = {
    "REML": "REML",
    "DL": "DerSimonian\u2013Laird",
    "PM": "Paule\u2013Mandel",
    "ML": "ML",
    "HE": "Hedges",
    "SJ": "Sidik\u2013Jonkman",
    "HS": "Hunter\u2013Schmidt",
    "EB": "empirical Bayes",
}
MEASURE_NAMES = {
    "MD": "Mean difference in change",
    "SMD": "Standardised mean difference (Hedges' g)",
    "OR": "Odds ratio",
    "RR": "Risk ratio",
    "RD": "Risk difference",
}
#: measures drawn on a log axis (their yi, CI are log ratios; shown exponentiated)
RATIO_MEASURES = ("OR", "RR")
#: common-effect methods of binary groups
BINARY_METHOD_NAMES = {"MH": "Mantel–Haenszel", "PETO": "Peto"}


def axis_label(measure: str, unit: str = "", measure_label: str | None = None) -> str:
    """The effect axis label: ``measure_label`` when given, else the measure's name
    (with the unit of an unstandardised measure, e.g. ``Mean difference in change
    (days)``)."""
    if measure_label:
        return str(measure_label)
    name = MEASURE_NAMES.get(measure, measure)
    return f"{name} ({unit})" if unit and measure == "MD" else name


def study_label(study_id: str, year: object = None) -> str:
    """``Braun2006`` -> ``Braun 2006``; a given ``year`` replaces a trailing one.

    A study id without a trailing year and no ``year`` value is shown as it is.
    """
    sid = str(study_id).strip()
    # The year must follow a non-digit: "PMID17642006" is an id, not "PMID1764 2006".
    m = re.fullmatch(r"(.*?[^\d\s_-])[ _-]?((?:19|20)\d{2})([a-z]?)", sid)
    base, id_year, suffix = (m.group(1), m.group(2), m.group(3)) if m else (sid, None, "")
    if not is_missing(year):
        y = str(int(float(year))) if not isinstance(year, str) else year.strip()
        if id_year is None:
            return f"{sid} {y}"
        return f"{base} {y}{suffix}"
    if id_year is not None and base:
        return f"{base} {id_year}{suffix}"
    return sid


@dataclass
class _Row:
    cells: dict[str, str]
    lines: int = 1
    kind: str = "study"  # study, pooled, pi, header
    bold: bool = False
    italic: bool = False
    data: dict[str, float] = field(default_factory=dict)
    y: float = 0.0  # centre, inches from the top


def _num(row: pd.Series, col: str) -> float:
    if col not in row.index or is_missing(row[col]):
        return math.nan
    return float(row[col])


def _n(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.0f}"


def _mean_sd(m: float, sd: float) -> str:
    if math.isnan(m):
        return ""
    return f"{fmt_num(m)} ({fmt_num(sd)})" if not math.isnan(sd) else fmt_num(m)


def _ci_text(est: float, lb: float, ub: float) -> str:
    return f"{fmt_num(est)} [{fmt_num(lb)}, {fmt_num(ub)}]"


def _letter(i: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa: footnote marks."""
    out = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        out = chr(97 + rem) + out
    return out


def _dedupe_reason(reason: str) -> str:
    """A reason whose parts (``; ``-separated) repeat, e.g. once per arm, said once."""
    parts = [p.strip() for p in reason.split(";")]
    return "; ".join(dict.fromkeys(p for p in parts if p))


def check_group(group: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.Series | None]:
    """A pooled group table, checked: its study rows and its pooled row (or None).

    Raises :class:`InputError` naming the study and field of a missing value.
    """
    if not isinstance(group, pd.DataFrame):
        raise InputError(source, "expected a pooled group table (DataFrame)")
    if "row_type" not in group.columns:
        raise InputError(source, "column missing", field="row_type")
    bad = set(group["row_type"].dropna()) - {"study", "pooled"}
    if bad or group["row_type"].isna().any():
        raise InputError(
            source, f"row_type must be 'study' or 'pooled', got {sorted(bad)}", field="row_type"
        )
    studies = group[group["row_type"] == "study"].reset_index(drop=True)
    for col in ("study_id", "yi", "ci_lb", "ci_ub", "usable"):
        if col not in group.columns:
            raise InputError(source, "column missing", field=col)
    for i, row in studies.iterrows():
        if is_missing(row["study_id"]):
            raise InputError(source, "study row without study_id", record=i + 1, field="study_id")
        if bool(row["usable"]) if not is_missing(row["usable"]) else False:
            for col in ("yi", "ci_lb", "ci_ub"):
                if is_missing(row[col]) or not math.isfinite(float(row[col])):
                    raise InputError(
                        source,
                        "usable study without a finite value",
                        record=row["study_id"],
                        field=col,
                    )
    pooled_rows = group[group["row_type"] == "pooled"]
    if len(pooled_rows) > 1:
        raise InputError(
            source, f"{len(pooled_rows)} pooled rows; expected at most one", field="row_type"
        )
    pooled = None
    if len(pooled_rows) == 1:
        pooled = pooled_rows.iloc[0]
        for col in ("estimate", "ci_lb", "ci_ub"):
            if col not in group.columns or is_missing(pooled[col]):
                raise InputError(source, "pooled row without a value", record="pooled", field=col)
    return studies, pooled


def _model_label(pooled: pd.Series) -> str:
    method = "" if is_missing(pooled.get("method")) else str(pooled.get("method"))
    test = "" if is_missing(pooled.get("test")) else str(pooled.get("test"))
    if method.upper() in BINARY_METHOD_NAMES:
        label = f"Common-effect model ({BINARY_METHOD_NAMES[method.upper()]})"
    elif method.upper() in {"FE", "EE", "CE"}:
        label = "Common-effect model"
    else:
        label = f"Random-effects model ({METHOD_NAMES.get(method.upper(), method or 'REML')}"
        extra = {
            "knha": ", Hartung\u2013Knapp",
            "adhoc": ", Hartung\u2013Knapp ad hoc",
            "t": ", t distribution",
        }
        label += extra.get(test.lower(), "") + ")"
    return label


@in_figure_context
def forest_plot(
    group: pd.DataFrame,
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
    level: float = 95,
    source: str = "pooled group table",
    rob: pd.DataFrame | None = None,
) -> bool:
    """Draw the forest plot of one pooled group and save it as SVG and 300-dpi PNG.

    Parameters
    ----------
    group:
        The group's pooled table (data-model section 5): study rows and at most one
        pooled row. Study rows are drawn in the order given.
    svg_path, png_path:
        Output files (folders are created).
    instrument_label, timepoint_label:
        Shown in the title, e.g. ``"Length of stay"``, ``"12 weeks"``.
    intervention, comparator:
        Arm names for the column headers and the "favours" labels.
    measure:
        ``"MD"`` (in the outcome's unit) or ``"SMD"`` (Hedges' g); for a binary group
        ``"OR"``, ``"RR"`` (log axis, values exponentiated) or ``"RD"``; names the axis
        and the column.
    unit:
        Unit of the outcome (e.g. ``"days"``), shown on an MD axis and in the footnote;
        empty: none shown.
    measure_label:
        The axis label, replacing the one made from ``measure`` and ``unit`` (not for
        an odds or risk ratio: its axis is always ``Odds ratio (log scale)``, ...).
    favours_negative:
        True when a negative effect favours the intervention (lower values of the
        outcome are better: the review's ``lower_is_better``, the default).
    level:
        Confidence level of the intervals, percent (labels only); the pooled row's
        ``level`` column wins when present.
    source:
        Name of the input in error messages (e.g. the Parquet path).
    rob:
        Optional risk-of-bias judgements of the group's studies (the risk-of-bias table
        with one scope per study, e.g. ``srma.appraisal.load.for_outcome``): adds one
        coloured mark per domain and one for the overall judgement to each study row,
        right of the plot, as RevMan draws them (:class:`srma.figures.rob.RobColumns`).

    Returns True when the plot was drawn, False when the group has no usable study and
    a note figure listing its studies and their reasons was drawn instead.

    Raises
    ------
    InputError
        When a required column or value is missing (names the study and the field).
    """
    studies, pooled = check_group(group, source)
    usable_mask = studies["usable"].map(lambda v: (not is_missing(v)) and bool(v))
    used = studies[usable_mask].reset_index(drop=True)
    year_col = "year" if "year" in studies.columns else None
    if not len(used):
        reasons = [
            f"{study_label(r['study_id'], r[year_col] if year_col else None)}: {study_reason(r)}"
            for _, r in studies.iterrows()
        ]
        note_figure(
            svg_path,
            png_path,
            f"{instrument_label}, {timepoint_label}: no usable data",
            f"No study reports data for this comparison that can be used, so there is no "
            f"forest plot. {len(studies)} "
            f"{'study reports' if len(studies) == 1 else 'studies report'} this outcome "
            "and time point:",
            reasons,
        )
        return False
    draw_pooled = pooled is not None and len(used) >= 2
    if pooled is not None and "level" in pooled.index and not is_missing(pooled["level"]):
        level = float(pooled["level"])
    lvl = f"{level:g}"
    binary = "ai" in group.columns
    ratio = binary and measure in RATIO_MEASURES
    shown = math.exp if ratio else float  # the displayed scale of yi and its CI

    tm = TextMeasure()
    fs = FONT_SIZE

    # ---- table content -------------------------------------------------------------
    cols = ["study", "n1", "m1", "n2", "m2", "weight", "ci"]
    align = {"study": "left", **{c: "right" for c in cols[1:]}}
    rows: list[_Row] = []
    any_dagger = False
    notes: list[str] = []  # footnotes of the studies that are not estimable
    for (_, r), usable in zip(studies.iterrows(), usable_mask, strict=True):
        label = study_label(r["study_id"], r[year_col] if year_col else None)
        if not usable:
            mark = f"({_letter(len(notes))})"
            notes.append(f"{mark} {label}: {study_reason(r)}.")
            label = tm.wrap(label, MAX_LABEL_W, fs)
            rows.append(
                _Row(
                    cells={
                        "study": label,
                        **_arm_cells(r, binary),
                        "ci": f"not estimable {mark}",
                    },
                    lines=label.count("\n") + 1,
                    kind="unusable",
                )
            )
            continue
        flag = "" if "flags" not in r.index or is_missing(r["flags"]) else str(r["flags"])
        if flag.lower() in INDIRECT_FLAGS:
            label += DAGGER
            any_dagger = True
        label = tm.wrap(label, MAX_LABEL_W, fs)
        w = _num(r, "weight")
        yi, lb, ub = (shown(float(r[c])) for c in ("yi", "ci_lb", "ci_ub"))
        rows.append(
            _Row(
                cells={
                    "study": label,
                    **_arm_cells(r, binary),
                    "weight": "" if math.isnan(w) else f"{w:.1f}%",
                    "ci": _ci_text(yi, lb, ub),
                },
                lines=label.count("\n") + 1,
                data={"yi": yi, "lb": lb, "ub": ub, "w": w},
            )
        )
    if draw_pooled:
        est, lb, ub = (shown(float(pooled[c])) for c in ("estimate", "ci_lb", "ci_ub"))
        total = {"n1": "", "n2": ""}
        for arm, n, e in (("n1", "n1i", "ai"), ("n2", "n2i", "ci")):
            if binary:
                total[arm] = f"{_n(used[e].sum())}/{_n(used[n].sum())}"
            elif n in used:
                total[arm] = _n(used[n].sum())
        rows.append(
            _Row(
                cells={
                    "study": _model_label(pooled),
                    "n1": total["n1"],
                    "m1": "",
                    "n2": total["n2"],
                    "m2": "",
                    "weight": "100.0%",
                    "ci": _ci_text(est, lb, ub),
                },
                kind="pooled",
                bold=True,
                data={"yi": est, "lb": lb, "ub": ub},
            )
        )
        pi_lb, pi_ub = shown(_num(pooled, "pi_lb")), shown(_num(pooled, "pi_ub"))
        if not (math.isnan(pi_lb) or math.isnan(pi_ub)):
            rows.append(
                _Row(
                    cells={
                        "study": f"{lvl}% prediction interval",
                        "ci": f"[{fmt_num(pi_lb)}, {fmt_num(pi_ub)}]",
                    },
                    kind="pi",
                    italic=True,
                    data={"lb": pi_lb, "ub": pi_ub},
                )
            )

    header_top = {"n1": intervention, "n2": comparator}
    arm_header = ("Events/Total", "") if binary else ("n", "Mean change (SD)")
    header = {
        "study": "Study",
        "n1": arm_header[0],
        "m1": arm_header[1],
        "n2": arm_header[0],
        "m2": arm_header[1],
        "weight": "Weight",
        "ci": f"{measure} [{lvl}% CI]",
    }

    # ---- column widths -------------------------------------------------------------
    width = {c: tm.width(header[c], fs, "bold") for c in cols}
    for row in rows:
        for c, text in row.cells.items():
            width[c] = max(width[c], tm.width(text, fs, "bold" if row.bold else "normal"))
    for left, right in (("n1", "m1"), ("n2", "m2")):
        need = tm.width(header_top[left], fs, "bold") - (width[left] + COL_PAD + width[right])
        if need > 0:
            width[right] += need
    x_left: dict[str, float] = {}
    x = MARGIN
    for c in cols:
        x_left[c] = x
        x += width[c] + COL_PAD
    table_right = x - COL_PAD

    # a ratio's axis is its own (measure_label names the log scale of other figures)
    x_label = (
        f"{axis_label(measure)} (log scale)" if ratio else axis_label(measure, unit, measure_label)
    )
    fav_left = f"\u2190 Favours {intervention if favours_negative else comparator}"
    fav_right = f"Favours {comparator if favours_negative else intervention} \u2192"
    panel_w = max(PANEL_W, tm.width(fav_left) + tm.width(fav_right) + 0.4, tm.width(x_label) + 0.2)
    panel_x0 = table_right + COL_PAD * 2
    fig_w = panel_x0 + panel_w + MARGIN + 0.2  # room for the last tick label
    rob_cols = None
    if rob is not None:  # risk-of-bias columns right of the plot
        from srma.figures.rob import RobColumns

        rob_cols = RobColumns.from_table(rob, [str(s) for s in studies["study_id"]], source)
        rob_x0 = panel_x0 + panel_w + 0.3
        if rob_cols.columns:
            fig_w = rob_x0 + rob_cols.width + MARGIN
        else:  # no study of the table was assessed with a tool
            rob_cols = None

    # ---- footer text (wrapped to the figure width) ---------------------------------
    foot: list[str] = []
    if draw_pooled:
        tau2, i2 = _num(pooled, "tau2"), _num(pooled, "I2")
        qe, qep = _num(pooled, "QE"), _num(pooled, "QEp")
        k = int(_num(pooled, "k")) if not math.isnan(_num(pooled, "k")) else len(used)
        # Mantel-Haenszel and Peto are common-effect models: no tau^2 to show.
        common = str(pooled.get("method")) in {"MH", "PETO", "EE", "FE"}
        het = (
            "Heterogeneity: "
            + ("" if common else f"\u03c4\u00b2 = {fmt_num(tau2, 2)}; ")
            + f"I\u00b2 = {'NA' if math.isnan(i2) else f'{i2:.0f}%'}; Q = {fmt_num(qe, 2)} "
            f"(df = {k - 1}), {fmt_p(qep)}"
        )
        test = "" if is_missing(pooled.get("test")) else str(pooled.get("test")).lower()
        stat = f"t({k - 1})" if test in {"t", "knha", "adhoc"} else "z"
        overall = (
            f"Test for overall effect: {stat} = {fmt_num(_num(pooled, 'zval'), 2)} "
            f"({fmt_p(_num(pooled, 'pval'))})"
        )
        foot += [het, overall]
    elif len(used) == 1:
        foot.append("Single study: no pooled estimate.")
    elif len(used) >= 2:
        foot.append(f"{len(used)} usable studies: not pooled (below the minimum for pooling).")
    foot += notes
    if any_dagger:
        foot.append(f"{DAGGER} Mean or SD estimated or imputed (see the extraction table).")
    in_unit = f" ({unit})" if unit and measure == "MD" else ""
    if binary:
        versus = "minus" if measure == "RD" else "versus"
        foot.append(
            f"{measure}: {intervention} {versus} {comparator}, participants with the event; "
            f"squares sized by weight; bars: {lvl}% CI" + ("; log scale." if ratio else ".")
        )
    else:
        foot.append(
            f"{measure}{in_unit}: {intervention} minus {comparator}, change from baseline; "
            f"squares sized by weight; bars: {lvl}% CI."
        )
    if rob_cols is not None:
        foot += rob_cols.legend()
    foot_w = fig_w - 2 * MARGIN
    foot = [tm.wrap(t, foot_w, fs - 0.5) for t in foot]

    # ---- vertical layout (inches from the top) --------------------------------------
    y = MARGIN
    title_y = y + 0.14
    y += 0.42
    header_top_y = y + LINE_H / 2
    y += LINE_H
    header_y = y + LINE_H / 2
    y += LINE_H
    rule_y = y + 0.04
    y += 0.1
    panel_top = y
    for row in rows:
        if row.kind == "pooled":
            y += LINE_H * 0.4  # gap before the summary rows
        h = LINE_H * row.lines
        row.y = y + h / 2
        y += h
    y += LINE_H * 0.3
    panel_bottom = y
    if not rows:
        panel_bottom = panel_top + LINE_H
        y = panel_bottom
    y += 0.72  # ticks, axis label, favours labels
    foot_top = y + 0.06
    foot_h = [tm.height(text, fs - 0.5, 1.2) + 0.07 for text in foot]
    y += sum(foot_h)
    fig_h = y + MARGIN

    fig = new_figure(fig_w, fig_h)
    tab = fig.add_axes((0, 0, 1, 1))
    tab.set_xlim(0, fig_w)
    tab.set_ylim(fig_h, 0)
    tab.set_axis_off()

    def put(
        x: float, y: float, s: str, ha="left", bold=False, italic=False, size=fs, colour=INK
    ) -> None:
        add_text(
            fig,
            tab.transData,
            x,
            y,
            s,
            ha=ha,
            va="center",
            color=colour,
            fontproperties=font(
                size, "bold" if bold else "normal", "italic" if italic else "normal"
            ),
            linespacing=1.15,
        )

    put(MARGIN, title_y, f"{instrument_label}, {timepoint_label}", bold=True, size=fs + 2)
    for c in cols:
        xa = x_left[c] if align[c] == "left" else x_left[c] + width[c]
        put(xa, header_y, header[c], ha=align[c], bold=True)
    for left, right in (("n1", "m1"), ("n2", "m2")):
        x0, x1 = x_left[left], x_left[right] + width[right]
        put((x0 + x1) / 2, header_top_y, header_top[left], ha="center", bold=True)
        tab.plot([x0, x1], [header_top_y + LINE_H / 2 - 0.02] * 2, color=INK, lw=0.6)
    tab.plot([MARGIN, fig_w - MARGIN], [rule_y, rule_y], color=INK, lw=0.8)
    for row in rows:
        for c, text in row.cells.items():
            if not text:
                continue
            xa = x_left[c] if align[c] == "left" else x_left[c] + width[c]
            put(
                xa,
                row.y,
                text,
                ha=align[c],
                bold=row.bold,
                italic=row.italic,
                colour=PI_COLOUR if row.kind == "pi" and c == "ci" else INK,
            )
    fy = foot_top
    for text, h in zip(foot, foot_h, strict=True):
        add_text(
            fig,
            tab.transData,
            MARGIN,
            fy,
            text,
            ha="left",
            va="top",
            color=INK,
            fontproperties=font(fs - 0.5),
            linespacing=1.2,
        )
        fy += h

    # ---- plot panel --------------------------------------------------------------
    ax = fig.add_axes(
        (
            panel_x0 / fig_w,
            1 - panel_bottom / fig_h,
            panel_w / fig_w,
            (panel_bottom - panel_top) / fig_h,
        )
    )
    ax.set_ylim(panel_bottom, panel_top)
    null = 1.0 if ratio else 0.0
    values = [null]
    for row in rows:
        values += [row.data.get("lb", math.nan), row.data.get("ub", math.nan)]
    values = [v for v in values if math.isfinite(v) and (v > 0 or not ratio)]
    if ratio:
        ax.set_xscale("log")
        ticks = log_ticks(min(values), max(values))
        xmin, xmax = ticks[0], ticks[-1]
        digits = None  # each ratio tick with its own decimals (0.05, 0.2, 1, 10)
    else:
        lo, hi = min(values), max(values)
        if hi - lo < 1e-9:
            lo, hi = lo - 1, hi + 1
        # A little room so that no interval or the null line sits on the panel's edge.
        lo, hi = lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo)
        steps = [1, 2, 2.5, 5, 10]
        ticks = [float(t) for t in MaxNLocator(nbins=6, steps=steps).tick_values(lo, hi)]
        xmin = max((t for t in ticks if t <= lo), default=lo)
        xmax = min((t for t in ticks if t >= hi), default=hi)
        digits = _tick_digits(ticks)
    ax.set_xlim(xmin, xmax)
    ax.set_xticks([t for t in ticks if xmin - 1e-12 <= t <= xmax + 1e-12])
    ax.minorticks_off()
    ax.set_xticklabels(
        [fmt_num(t, _decimals(t) if digits is None else digits) for t in ax.get_xticks()],
        fontproperties=font(fs - 0.5),
    )
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(0.8)
    ax.tick_params(axis="x", length=3, width=0.8, colors=INK)
    ax.axvline(null, color=GREY, lw=0.8, zorder=1)

    max_w = max(
        (
            r.data.get("w", math.nan)
            for r in rows
            if r.kind == "study" and math.isfinite(r.data.get("w", math.nan))
        ),
        default=math.nan,
    )
    side_max = 0.62 * LINE_H * 72  # points
    # The studies' intervals as one line collection and their squares as one scatter
    # (one artist each, whatever the number of studies), drawn in row order.
    study_rows = [row for row in rows if row.kind == "study"]
    if study_rows:
        ax.add_collection(
            LineCollection(
                [[(r.data["lb"], r.y), (r.data["ub"], r.y)] for r in study_rows],
                colors=INK,
                linewidths=0.9,
                capstyle="butt",
                zorder=2,
            ),
            autolim=False,
        )
        sides = [
            max(3.0, side_max * math.sqrt(r.data["w"] / max_w))
            if math.isfinite(r.data["w"]) and math.isfinite(max_w) and max_w > 0
            else side_max * 0.6
            for r in study_rows
        ]
        ax.scatter(
            [r.data["yi"] for r in study_rows],
            [r.y for r in study_rows],
            s=[side**2 for side in sides],
            marker="s",
            color=STUDY_COLOUR,
            edgecolors="none",
            zorder=3,
        )
    for row in rows:
        d = row.data
        if row.kind == "pooled":
            half = LINE_H * 0.36
            ax.add_patch(
                Polygon(
                    [
                        (d["lb"], row.y),
                        (d["yi"], row.y - half),
                        (d["ub"], row.y),
                        (d["yi"], row.y + half),
                    ],
                    closed=True,
                    facecolor=POOLED_COLOUR,
                    edgecolor=POOLED_COLOUR,
                    lw=0.6,
                    zorder=3,
                )
            )
            ax.axvline(d["yi"], color=LIGHT, lw=0.8, ls=(0, (3, 2)), zorder=0)
        elif row.kind == "pi":
            cap = LINE_H * 0.18
            ax.plot([d["lb"], d["ub"]], [row.y, row.y], color=PI_COLOUR, lw=1.4, zorder=2)
            for xv in (d["lb"], d["ub"]):
                ax.plot([xv, xv], [row.y - cap, row.y + cap], color=PI_COLOUR, lw=1.4, zorder=2)

    # Axis label and the "favours" labels, placed in table inches under the panel.
    put(panel_x0 + panel_w / 2, panel_bottom + 0.36, x_label, ha="center", size=fs - 0.5)
    put(panel_x0, panel_bottom + 0.58, fav_left, ha="left", size=fs - 0.5, colour=GREY)
    put(
        panel_x0 + panel_w,
        panel_bottom + 0.58,
        fav_right,
        ha="right",
        size=fs - 0.5,
        colour=GREY,
    )
    if rob_cols is not None:
        marked = [row.y for row in rows if row.kind in ("study", "unusable")]
        ids = [str(sid) for sid in studies["study_id"]]
        rob_cols.draw(fig, tab.transData, rob_x0, header_y, list(zip(ids, marked, strict=True)))
        put(rob_x0 + rob_cols.width / 2, header_top_y, "Risk of bias", ha="center", bold=True)
    save_figure(fig, svg_path, png_path)
    return True


def study_reason(row: pd.Series) -> str:
    """Why a study row did not enter pooling (its ``reason``, each part said once)."""
    if "reason" not in row.index or is_missing(row["reason"]):
        return "no reason given"
    return _dedupe_reason(str(row["reason"]))


def _arm_cells(r: pd.Series, binary: bool = False) -> dict[str, str]:
    """The n and mean change (SD) cells of both arms of a study row; ``binary``: the
    events/total cells (``ai``/``n1i``, ``ci``/``n2i``)."""
    if binary:
        cells = {"m1": "", "m2": ""}
        for arm, n, e in (("n1", "n1i", "ai"), ("n2", "n2i", "ci")):
            events, total = _num(r, e), _num(r, n)
            cells[arm] = "" if math.isnan(total) else f"{_n(events)}/{_n(total)}"
        return cells
    return {
        "n1": _n(_num(r, "n1i")),
        "m1": _mean_sd(_num(r, "m1i"), _num(r, "sd1i")),
        "n2": _n(_num(r, "n2i")),
        "m2": _mean_sd(_num(r, "m2i"), _num(r, "sd2i")),
    }


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a ratio axis (log scale) from ``lo`` to ``hi`` (both > 0): the values
    1, 2, 5 x 10^k, the first at or below ``lo`` and the last at or above ``hi``, thinned
    to 1 x 10^k (and the two ends) when there are more than 6."""
    lo, hi = min(lo, hi), max(lo, hi)
    if hi / lo < 1.5:
        lo, hi = lo / 1.25, hi * 1.25
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    nice = [m * 10.0**e for e in range(first, last + 1) for m in (1, 2, 5)]
    start = max(i for i, t in enumerate(nice) if t <= lo * (1 + 1e-12))
    stop = min(i for i, t in enumerate(nice) if t >= hi * (1 - 1e-12))
    ticks = [round(t, 12) for t in nice[start : stop + 1]]
    if len(ticks) > 6:
        keep = [t for t in ticks if math.isclose(10 ** round(math.log10(t)), t)]
        ticks = sorted({ticks[0], *keep, ticks[-1]})
    return ticks


def _decimals(x: float) -> int:
    """Decimals needed to write a tick such as 0.05 (2) or 20 (0)."""
    for d in range(0, 6):
        if abs(round(x, d) - x) < 1e-9 * max(1.0, abs(x)):
            return d
    return 6


def _tick_digits(ticks) -> int:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    for d in range(0, 4):
        if abs(round(step, d) - step) < 1e-9:
            return d
    return 3
