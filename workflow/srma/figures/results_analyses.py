"""The results page's section on subgroup analyses and meta-regressions (lines of HTML),
from ``results/tables/subgroups.csv`` and ``results/tables/meta_regression.csv``
(:mod:`srma.group_analyses`): per analysis and outcome x time point, the subgroups'
estimates and the test for subgroup differences, the regression's coefficients and
test of moderators, or why they were not estimable."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape

import pandas as pd

from srma.figures.common import fmt_num, fmt_p, is_missing
from srma.figures.forest import RATIO_MEASURES


def _e(text: object) -> str:
    return escape(str(text), quote=False)


def _f(value: object) -> float:
    if is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _group(row, instrument_labels: Mapping, timepoint_labels: Mapping) -> str:
    i, t = str(row["instrument"]), str(row["timepoint"])
    return f"{instrument_labels.get(i, i)}, {timepoint_labels.get(t, t)}"


def _ci(est, lb, ub, measure: object = None, page_measure: str | None = None) -> str:
    """Estimate and CI; OR and RR (pooled on the log scale) as ratios, prefixed with
    their measure when it is not the page's."""
    if math.isnan(_f(est)):
        return ""
    back = math.exp if measure in RATIO_MEASURES else float
    name = f"{measure} " if measure and page_measure and measure != page_measure else ""
    return f"{name}{fmt_num(back(_f(est)))} [{fmt_num(back(_f(lb)))}, {fmt_num(back(_f(ub)))}]"


def _reason(row) -> str:
    return "" if is_missing(row.get("reason")) else str(row["reason"])


def analyses_section(
    subgroups: pd.DataFrame | None,
    meta_regression: pd.DataFrame | None,
    *,
    instrument_labels: Mapping[str, str],
    timepoint_labels: Mapping[str, str],
    measure: str = "MD",
    level: float = 95,
) -> list[str]:
    """Lines of HTML: a section per kind of analysis the config has (none without)."""
    out: list[str] = []
    lvl = f"{level:g}"
    if subgroups is not None:
        out += [
            "<h2>Subgroup analyses</h2>",
            "<p>Each subgroup pooled separately; the test for subgroup differences is "
            "Cochran's Q between the subgroup estimates (as RevMan and R's meta report "
            "it). Every row, with the reason where a subgroup or a test is not "
            "estimable: <code>results/tables/subgroups.csv</code>.</p>",
            "<table>",
            f"<thead><tr><th>Subgroups by</th><th>Outcome, time point</th><th>Subgroup</th>"
            f'<th class="num">Studies</th><th class="num">{_e(measure)} [{lvl}% CI]</th>'
            '<th class="num">I\u00b2</th><th>Result</th></tr></thead>',
            "<tbody>",
        ]
        for _, row in subgroups.iterrows():
            where = _group(row, instrument_labels, timepoint_labels)
            label = row.get("label") if not is_missing(row.get("label")) else row.get("by")
            if row["row_type"] == "test":
                if row["status"] == "tested":
                    qb = _f(row["Qb"])
                    text = (
                        f"Test for subgroup differences: Q = {fmt_num(qb)}, "
                        f"df = {int(_f(row['Qb_df']))}, {fmt_p(_f(row['Qb_pval']))}"
                    )
                else:
                    text = f"Test for subgroup differences not estimable: {_reason(row)}"
                out.append(
                    f'<tr class="detail"><td>{_e(label)}</td><td>{_e(where)}</td>'
                    f'<td colspan="5">{_e(text)}</td></tr>'
                )
                continue
            i2 = _f(row.get("I2"))
            result = "pooled" if row["status"] == "pooled" else f"not estimable: {_reason(row)}"
            effect = _ci(row["estimate"], row["ci_lb"], row["ci_ub"], row.get("measure"), measure)
            out.append(
                f"<tr><td>{_e(label)}</td><td>{_e(where)}</td><td>{_e(row['subgroup'])}</td>"
                f'<td class="num">{int(_f(row["k"]))}</td>'
                f'<td class="num">{_e(effect)}</td>'
                f'<td class="num">{"" if math.isnan(i2) else f"{i2:.0f}%"}</td>'
                f"<td>{_e(result)}</td></tr>"
            )
        out += ["</tbody>", "</table>"]
    if meta_regression is not None:
        out += [
            "<h2>Meta-regression</h2>",
            "<p>The effects regressed on study-level moderators (text moderators against "
            "their alphabetically first level). Every coefficient and statistic: "
            "<code>results/tables/meta_regression.csv</code>.</p>",
            "<table>",
            "<thead><tr><th>Moderators</th><th>Outcome, time point</th><th>Term</th>"
            f'<th class="num">Coefficient [{lvl}% CI]</th><th class="num">p</th>'
            "<th>Model</th></tr></thead>",
            "<tbody>",
        ]
        for _, row in meta_regression.iterrows():
            where = _group(row, instrument_labels, timepoint_labels)
            label = row.get("label")
            if row["row_type"] == "coefficient":
                out.append(
                    f"<tr><td>{_e(label)}</td><td>{_e(where)}</td><td>{_e(row['term'])}</td>"
                    f'<td class="num">{_e(_ci(row["b"], row["ci_lb"], row["ci_ub"]))}</td>'
                    f'<td class="num">{_e(fmt_p(_f(row["pval"])))}</td><td></td></tr>'
                )
                continue
            if row["status"] == "estimated":
                text = (
                    f"k = {int(_f(row['k']))}; test of moderators "
                    f"{'QM' if is_missing(row.get('QMdf2')) else 'F'} = {fmt_num(_f(row['QM']))}, "
                    f"{fmt_p(_f(row['QMp']))}; residual \u03c4\u00b2 = {fmt_num(_f(row['tau2']))}, "
                    f"I\u00b2 = {_f(row['I2']):.0f}%; R\u00b2 = {_f(row['R2']):.0f}%"
                )
            else:
                text = f"not estimable: {_reason(row)}"
            out.append(
                f'<tr class="detail"><td>{_e(label)}</td><td>{_e(where)}</td>'
                f'<td colspan="4">{_e(text)}</td></tr>'
            )
        out += ["</tbody>", "</table>"]
    return out
