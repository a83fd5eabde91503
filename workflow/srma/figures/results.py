"""The results page of the report: every outcome x time point group, its result, and why
a group or a study has none.

Two HTML files, from precomputed tables only (nothing is computed here):

- the page (``results/report/results.html``), shown in the report under
  "4. Meta-analysis": one row per group in the config's order (outcome, time point,
  studies usable of those reporting, patients per arm, the estimate with its confidence
  interval, p, tau², I², the prediction interval and the group's status), under each
  group the studies it pooled and every study it could not use with the reason; then
  the groups without usable data, each study with its reason;
- a summary (``results/report/summary.html``) that the report's first page includes:
  how many groups were pooled, the groups with an estimate in a short table, and the
  groups without usable data.

Inputs: ``results/tables/pooled.csv`` (docs/data-model.md, section 5: one row per group,
with ``k``, ``n_intervention``, ``n_control``, ``estimate``, ``ci_lb``, ``ci_ub``,
``pval``, ``tau2``, ``I2``, ``pi_lb``, ``pi_ub``, ``method``, ``test``, ``status``,
``studies``) and the groups' pooled tables (section 5: their study rows give the studies
that report the group, ``usable`` and ``reason``). Every word naming the review's domain
(title, outcome, unit, arms, instrument and time point labels) comes from the caller.

Same inputs give the same bytes (no dates, no versions).
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from srma.errors import InputError
from srma.figures.common import fmt_num, is_missing
from srma.figures.forest import study_label, study_reason
from srma.figures.results_analyses import analyses_section
from srma.io import write_bytes_atomic

#: measures of binary outcomes (config instruments.<key>.measure)
BINARY_MEASURES = ("OR", "RR", "RD")

#: Group statuses of the pooled tables (data-model section 5).
POOLED = "pooled"
SINGLE = "single study"
TOO_FEW = "too few studies"
NO_DATA = "no usable data"

SUMMARY_COLUMNS = ("instrument", "timepoint", "k", "status")

STYLE = """
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 13px;
       color: #1a1a1a; margin: 16px; line-height: 1.4; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 22px 0 6px 0; }
p { max-width: 60em; margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0 4px 0; }
th, td { padding: 3px 6px; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #1a1a1a; vertical-align: bottom; }
thead th.num { text-align: right; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.group td { border-top: 1px solid #c8c8c8; }
tr.detail td { font-size: 12px; color: #555555; padding-top: 0; }
tr.none td.status { color: #b2182b; }
ul { margin: 4px 0; padding-left: 22px; }
li { margin: 2px 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: object) -> float:
    if is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _n(value: object) -> str:
    v = _num(value)
    return "" if math.isnan(v) else f"{v:.0f}"


def _p(value: object) -> str:
    v = _num(value)
    if math.isnan(v):
        return ""
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def _interval(lb: object, ub: object) -> str:
    lo, hi = _num(lb), _num(ub)
    if math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{fmt_num(lo)}, {fmt_num(hi)}]"


def _ratio(row: pd.Series) -> bool:
    """The row's effect is a ratio pooled on the log scale, shown back-transformed
    (``estimate_exp`` ... of pooled.csv)."""
    return not math.isnan(_num(row.get("estimate_exp")))


def _estimate(row: pd.Series, measure: str | None = None) -> str:
    """Estimate and CI of a group, the ratio for OR and RR; prefixed with the group's
    measure when it is not the page's ``measure`` (a binary outcome's OR, RR, RD)."""
    suffix = "_exp" if _ratio(row) else ""
    est = _num(row.get(f"estimate{suffix}"))
    if math.isnan(est):
        return ""
    own = row.get("measure")
    name = f"{own} " if measure and not is_missing(own) and str(own) != measure else ""
    ci = _interval(row.get(f"ci_lb{suffix}"), row.get(f"ci_ub{suffix}"))
    return f"{name}{fmt_num(est)} {ci}".strip()


def _pi(row: pd.Series) -> str:
    suffix = "_exp" if _ratio(row) else ""
    return _interval(row.get(f"pi_lb{suffix}"), row.get(f"pi_ub{suffix}"))


def status_text(status: str, k: int, min_studies: int | None = None) -> str:
    """A group's status for a reader: ``pooled, 3 studies``, ``single study: not
    pooled``, ``2 usable studies: too few to pool``, ``no usable data``."""
    if status == POOLED:
        return f"pooled, {k} {'study' if k == 1 else 'studies'}"
    if status == SINGLE:
        return "single study: not pooled"
    if status == TOO_FEW:
        least = f" (at least {min_studies} needed)" if min_studies else ""
        return f"{k} usable studies: too few to pool{least}"
    return str(status)


def _group_key(row: Mapping) -> tuple[str, str]:
    return str(row["instrument"]), str(row["timepoint"])


def _studies_of(groups: Sequence[pd.DataFrame], source: str) -> dict[tuple[str, str], list]:
    """(instrument, timepoint) -> its study rows as (label, usable, reason)."""
    out: dict[tuple[str, str], list] = {}
    for table in groups:
        if not len(table):
            continue
        for col in ("instrument", "timepoint", "row_type", "study_id", "usable"):
            if col not in table.columns:
                raise InputError(source, "column missing", field=col)
        studies = table[table["row_type"] == "study"]
        year_col = "year" if "year" in table.columns else None
        key = _group_key(table.iloc[0])
        rows = []
        for _, r in studies.iterrows():
            label = study_label(r["study_id"], r[year_col] if year_col else None)
            usable = (not is_missing(r["usable"])) and bool(r["usable"])
            rows.append((label, usable, study_reason(r)))
        out[key] = rows
    return out


def _labels(
    summary: pd.DataFrame,
    instrument_labels: Mapping[str, str],
    timepoint_labels: Mapping[str, str],
) -> list[tuple[str, str]]:
    return [
        (
            str(instrument_labels.get(str(r["instrument"]), r["instrument"])),
            str(timepoint_labels.get(str(r["timepoint"]), r["timepoint"])),
        )
        for _, r in summary.iterrows()
    ]


def _direction(intervention: str, favours_negative: bool) -> str:
    sign = "negative" if favours_negative else "positive"
    return f"{sign} values favour {intervention}"


def results_page(
    summary: pd.DataFrame,
    groups: Sequence[pd.DataFrame],
    page_path: str | os.PathLike,
    summary_path: str | os.PathLike,
    *,
    instrument_labels: Mapping[str, str],
    timepoint_labels: Mapping[str, str],
    intervention: str,
    comparator: str,
    measure: str = "MD",
    unit: str = "",
    measure_label: str | None = None,
    favours_negative: bool = True,
    outcome_label: str = "the outcome",
    title: str = "Systematic review and meta-analysis",
    level: float = 95,
    min_studies: int | None = None,
    source: str = "pooled.csv",
    sensitivity: pd.DataFrame | None = None,
    appraisal: str = "",
    subgroups: pd.DataFrame | None = None,
    meta_regression: pd.DataFrame | None = None,
) -> None:
    """Write the results page and the first page's summary (module docstring).

    Parameters
    ----------
    summary:
        ``results/tables/pooled.csv`` as a DataFrame, one row per group, in the order
        the page lists them (the config's).
    groups:
        The groups' pooled tables (any order): the studies of each group, and why a study
        was not used.
    page_path, summary_path:
        Output files.
    instrument_labels, timepoint_labels:
        Display names of the instrument and time point keys (config labels).
    intervention, comparator, measure, unit, favours_negative:
        As for :func:`srma.figures.forest.forest_plot`.
    measure_label:
        The figures' axis label; accepted with the other labels, not used (the page
        names the effect by ``measure`` and ``unit``).
    outcome_label, title:
        What the instruments measure and the review's title (config ``review``).
    level:
        Confidence level, percent.
    min_studies:
        The fewest usable studies that are pooled (config ``pooling.min_studies``).
    sensitivity:
        ``results/tables/sensitivity_analyses.csv`` (the config's sensitivity analyses,
        :mod:`srma.sensitivity_analyses`), shown in a section of its own; None: the
        review configures none.
    appraisal:
        The risk of bias and the certainty of the evidence in words, an HTML fragment
        (:func:`srma.appraisal.narrative.appraisal_html`), shown in a section of its own
        (:func:`appraisal_section`); empty: no such section.
    subgroups, meta_regression:
        ``results/tables/subgroups.csv`` and ``meta_regression.csv`` (the config's
        ``analyses``), each a section of its own
        (:func:`srma.figures.results_analyses.analyses_section`); None: no such section.
    """
    if not isinstance(summary, pd.DataFrame):
        raise InputError(source, "expected the pooled results table (DataFrame)")
    for col in SUMMARY_COLUMNS:
        if col not in summary.columns:
            raise InputError(source, "column missing", field=col)
    summary = summary.reset_index(drop=True)
    studies = _studies_of(groups, "pooled group table")
    names = _labels(summary, instrument_labels, timepoint_labels)
    lvl = f"{level:g}"
    in_unit = f" ({unit})" if unit and measure == "MD" else ""
    sentence = (
        f"{measure}: {intervention} minus {comparator}, change from baseline in "
        f"{outcome_label}{in_unit}; {_direction(intervention, favours_negative)}."
    )
    binary = sorted(set(summary["measure"].dropna().astype(str)) & set(BINARY_MEASURES))
    if binary:
        sentence += (
            f" {', '.join(binary)} (outcomes counted as events): {intervention} versus "
            f"{comparator}, participants with the event; "
            + ("odds and risk ratios back-transformed from the log scale (1: no difference)."
               if set(binary) - {"RD"} else "risk difference, 0: no difference.")
        )  # fmt: skip
    if "pi_type" in summary and (summary["pi_type"] == "t-k2").any():  # pooling option
        sentence += (
            " PI: prediction interval from the t distribution on k - 2 degrees of freedom"
            " (Higgins et al. 2009, as RevMan 5)."
        )
    page = _page(
        summary,
        studies,
        names,
        title=title,
        sentence=sentence,
        head=_head(measure, lvl, intervention, comparator),
        min_studies=min_studies,
        measure=measure,
        extra=_sensitivity_section(
            sensitivity, instrument_labels, timepoint_labels, measure, lvl, min_studies
        )
        + appraisal_section(appraisal)
        + analyses_section(
            subgroups,
            meta_regression,
            instrument_labels=instrument_labels,
            timepoint_labels=timepoint_labels,
            measure=measure,
            level=level,
        ),
    )
    short = _summary(summary, names, sentence, measure, lvl, min_studies)
    write_bytes_atomic(Path(page_path), page.encode("utf-8"))
    write_bytes_atomic(Path(summary_path), short.encode("utf-8"))


def _counts(summary: pd.DataFrame) -> str:
    statuses = list(summary["status"].astype(str))
    n = len(statuses)
    parts = [
        (statuses.count(POOLED), "pooled"),
        (statuses.count(SINGLE), "with a single usable study (not pooled)"),
        (statuses.count(TOO_FEW), "with too few usable studies to pool"),
        (statuses.count(NO_DATA), "without usable data"),
    ]
    said = ", ".join(f"{count} {what}" for count, what in parts if count)
    groups = "group" if n == 1 else "groups"
    return f"{n} outcome \u00d7 time point {groups}" + (f": {said}." if said else ".")


#: The columns of the page's table that hold numbers (right-aligned).
NUMERIC = frozenset({0, 3, 4, 5, 6, 7, 8, 9})


def _head(measure: str, lvl: str, intervention: str, comparator: str) -> list[str]:
    return [
        "#",
        "Outcome, time point",
        "Result",
        "Studies",
        f"n ({intervention} / {comparator})",
        f"{measure} [{lvl}% CI]",
        "p",
        "\u03c4\u00b2",
        "I\u00b2",
        f"{lvl}% PI",
    ]


def _page(
    summary: pd.DataFrame,
    studies: Mapping[tuple[str, str], list],
    names: list[tuple[str, str]],
    *,
    title: str,
    sentence: str,
    head: list[str],
    min_studies: int | None,
    measure: str | None = None,
    extra: Sequence[str] = (),
) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{_e(title)}: results</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        "<h2>Results by outcome and time point</h2>",
        f"<p>{_e(_counts(summary))} {_e(sentence)}</p>",
        "<table>",
        "<thead><tr>"
        + "".join(
            f'<th class="num">{_e(h)}</th>' if i in NUMERIC else f"<th>{_e(h)}</th>"
            for i, h in enumerate(head)
        )
        + "</tr></thead>",
        "<tbody>",
    ]
    ncol = len(head)
    missing: list[tuple[str, list]] = []
    for i, (_, row) in enumerate(summary.iterrows()):
        outcome, timepoint = names[i]
        status = str(row["status"])
        k = int(_num(row["k"])) if not math.isnan(_num(row["k"])) else 0
        group = studies.get(_group_key(row), [])
        reporting = len(group) if group else k
        i2, tau2 = _num(row.get("I2")), _num(row.get("tau2"))
        arms = (_n(row.get("n_intervention")), _n(row.get("n_control")))
        cells = [
            (str(i + 1), "num"),
            (f"{outcome}, {timepoint}", ""),
            (status_text(status, k, min_studies), "status"),
            (f"{k} of {reporting}", "num"),
            (" / ".join(arms) if all(arms) else "", "num"),
            (_estimate(row, measure), "num"),
            (_p(row.get("pval")), "num"),
            ("" if math.isnan(tau2) else fmt_num(tau2), "num"),
            ("" if math.isnan(i2) else f"{i2:.0f}%", "num"),
            (_pi(row), "num"),
        ]
        kind = "group none" if status == NO_DATA else "group"
        out.append(
            f'<tr class="{kind}">'
            + "".join(
                f'<td class="{cls}">{_e(text)}</td>' if cls else f"<td>{_e(text)}</td>"
                for text, cls in cells
            )
            + "</tr>"
        )
        used = [label for label, usable, _ in group if usable]
        unused = [f"{label} ({reason})" for label, usable, reason in group if not usable]
        detail = []
        if used:
            detail.append(("Used: " if status != POOLED else "Pooled: ") + "; ".join(used) + ".")
        if unused:
            detail.append("Not used: " + "; ".join(unused) + ".")
        if detail:
            out.append(
                f'<tr class="detail"><td></td><td colspan="{ncol - 1}">'
                f"{_e(' '.join(detail))}</td></tr>"
            )
        if status == NO_DATA:
            missing.append((f"{outcome}, {timepoint}", group))
    out += ["</tbody>", "</table>"]
    if missing:
        out += [
            "<h2>Groups without usable data</h2>",
            "<p>These outcome \u00d7 time point groups are reported by at least one included "
            "study, but no study gives values that can enter the comparison (the reason "
            "is given per study; every value that could not be used is listed in "
            "<code>results/extraction/excluded.csv</code>).</p>",
            "<ul>",
        ]
        for name, group in missing:
            reasons = "; ".join(f"{label}: {reason}" for label, _, reason in group)
            out.append(f"<li><strong>{_e(name)}</strong>: {_e(reasons or 'no study rows')}</li>")
        out.append("</ul>")
    out += extra
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _summary(
    summary: pd.DataFrame,
    names: list[tuple[str, str]],
    sentence: str,
    measure: str,
    lvl: str,
    min_studies: int | None,
) -> str:
    """The HTML fragment of the report's first page."""
    out = [
        '<div class="srma-results">',
        f"<p><strong>Results.</strong> {_e(_counts(summary))}</p>",
    ]
    rows = []
    none: dict[str, list[str]] = {}
    for i, (_, row) in enumerate(summary.iterrows()):
        outcome, timepoint = names[i]
        status = str(row["status"])
        k = int(_num(row["k"])) if not math.isnan(_num(row["k"])) else 0
        if status == NO_DATA:
            none.setdefault(outcome, []).append(timepoint)
            continue
        rows.append(
            "<tr>"
            f"<td>{i + 1}</td>"
            f"<td>{_e(outcome)}, {_e(timepoint)}</td>"
            f'<td style="text-align:right">{k}</td>'
            f'<td style="text-align:right;white-space:nowrap">{_e(_estimate(row, measure))}</td>'
            f'<td style="text-align:right">{_e(_p(row.get("pval")))}</td>'
            f"<td>{_e(status_text(status, k, min_studies))}</td>"
            "</tr>"
        )
    if rows:
        out += [
            "<table>",
            "<thead><tr><th>#</th><th>Outcome, time point</th>"
            f'<th style="text-align:right">k</th>'
            f'<th style="text-align:right">{_e(measure)} [{_e(lvl)}% CI]</th>'
            '<th style="text-align:right">p</th><th>Result</th></tr></thead>',
            "<tbody>",
            *rows,
            "</tbody>",
            "</table>",
            f"<p>{_e(sentence)}</p>",
        ]
    if none:
        listed = "; ".join(f"{outcome} ({', '.join(times)})" for outcome, times in none.items())
        out.append(f"<p><strong>No usable data:</strong> {_e(listed)}.</p>")
    out.append("</div>")
    return "\n".join(out) + "\n"


#: Statuses of the sensitivity analyses table (srma.sensitivity_analyses).
SENSITIVITY_ESTIMATED = "estimated"
SENSITIVITY_SAME = "same as main analysis"


def _sensitivity_section(
    table: pd.DataFrame | None,
    instrument_labels: Mapping[str, str],
    timepoint_labels: Mapping[str, str],
    measure: str,
    lvl: str,
    min_studies: int | None,
) -> list[str]:
    """The page's section on the config's sensitivity analyses: one table row per
    analysis (variant) of every group that has one estimated or the same as the main
    analysis; the groups where none could be estimated are counted, not listed row by
    row (``sensitivity_analyses.csv`` gives every row's reason). Nothing without a
    table."""
    if table is None:
        return []
    out = [
        "<h2>Sensitivity analyses</h2>",
        "<p>Each sensitivity analysis of the review's configuration, pooled with the "
        "main model and compared with the main result (change: its estimate minus the "
        "main estimate). Every row, with the reason when an analysis could not be "
        "estimated, is in <code>results/tables/sensitivity_analyses.csv</code>.</p>",
    ]
    if not len(table):
        return out + ["<p>No outcome \u00d7 time point group to analyse.</p>"]
    status = table["status"].astype(str)
    shown = status.isin([SENSITIVITY_ESTIMATED, SENSITIVITY_SAME])
    keys_of_rows = list(zip(table["instrument"], table["timepoint"], strict=True))
    keys = list(dict.fromkeys(keys_of_rows))
    with_rows = {key for key, show in zip(keys_of_rows, shown, strict=True) if show}
    hidden = [key for key in keys if key not in with_rows]
    if with_rows:
        head = ["Outcome, time point", "Analysis", "Studies", f"{measure} [{lvl}% CI]"]
        head += ["Change", "Result"]
        out += [
            "<table>",
            "<thead><tr>"
            + "".join(
                f'<th class="num">{_e(h)}</th>' if i in (2, 3, 4) else f"<th>{_e(h)}</th>"
                for i, h in enumerate(head)
            )
            + "</tr></thead>",
            "<tbody>",
        ]
        last = None
        for _, row in table.iterrows():
            key = (row["instrument"], row["timepoint"])
            if key not in with_rows:
                continue
            name = (
                f"{instrument_labels.get(str(key[0]), key[0])}, "
                f"{timepoint_labels.get(str(key[1]), key[1])}"
            )
            analysis = str(row["analysis"])
            if not is_missing(row.get("variant")):
                analysis += f" ({row['variant']})"
            change = _num(row.get("change"))
            result = str(row["status"])
            if not is_missing(row.get("reason")):
                result += f": {row['reason']}"
            cells = [
                ("" if key == last else name, ""),
                (analysis, ""),
                (f"{_n(row.get('k'))} of {_n(row.get('k_main'))}", "num"),
                (_estimate(row), "num"),
                ("" if math.isnan(change) else fmt_num(change), "num"),
                (result, ""),
            ]
            kind = ' class="group"' if key != last else ""
            out.append(
                f"<tr{kind}>"
                + "".join(
                    f'<td class="{cls}">{_e(text)}</td>' if cls else f"<td>{_e(text)}</td>"
                    for text, cls in cells
                )
                + "</tr>"
            )
            last = key
        out += ["</tbody>", "</table>"]
    if hidden:
        least = f" (at least {min_studies})" if min_studies else ""
        n = len(hidden)
        groups = "group" if n == 1 else "groups"
        out.append(
            f"<p>{n} outcome \u00d7 time point {groups} without any estimable sensitivity "
            f"analysis: too few usable studies{least}, in the main analysis or once the "
            "analysis leaves studies out.</p>"
        )
    return out


def appraisal_section(fragment: str) -> list[str]:
    """The page's section on risk of bias and the certainty of the evidence (lines of
    HTML): a heading, the text generated from the appraisal tables (``fragment``,
    written by the summary-of-findings job) and where the tables are; none without a
    fragment."""
    if not fragment:
        return []
    return [
        "<h2>Risk of bias and certainty of the evidence</h2>",
        fragment.rstrip("\n"),
        "<p>Every judgement: <code>results/tables/risk_of_bias.csv</code>; the summary "
        "of findings with its footnotes: <code>results/tables/summary_of_findings.csv</code> "
        "and <code>.docx</code>.</p>",
    ]
