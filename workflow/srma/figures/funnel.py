"""Funnel plot with pseudo-confidence region, contour enhancement and Egger's test.

Each study is a point at its effect ``yi`` (x) and standard error ``sqrt(vi)`` (y, zero at
the top, as in metafor ``funnel.rma``). The pseudo 95 % confidence region is the triangle
``estimate +/- 1.96 se`` (Sterne & Egger, J Clin Epidemiol 2001;54:1046). Optional
contours shade where a study's own test against zero would give p < 0.10, 0.05, 0.01
(contour-enhanced funnel plot: Peters et al., J Clin Epidemiol 2008;61:991).

Tests for funnel asymmetry need at least 10 studies (Cochrane Handbook 13.3.5.4; Sterne
et al., BMJ 2011;343:d4002): below ``min_studies`` the function draws nothing, logs the
reason and returns False. Egger's regression test (metafor ``regtest``, as returned by
:func:`srma.bias.regtest`) is printed under the plot and, with its slope, drawn as the
regression line ``yi = est + slope * sei``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    PI_COLOUR,
    STUDY_COLOUR,
    TextMeasure,
    figure_context,
    fmt_num,
    fmt_p,
    font,
    new_figure,
    save_figure,
)

log = logging.getLogger(__name__)

#: Contour bands of the contour-enhanced funnel plot, from the outside in: the colour
#: outside the triangle where a study's two-sided p (against zero) equals the threshold.
#: Inside the p = 0.10 triangle (p > 0.10) is white.
CONTOURS = ((0.01, "#ececec"), (0.05, "#d6d6d6"), (0.10, "#b8b8b8"))


def egger_text(egger: Mapping[str, float] | None, k: int) -> str:
    """One line describing Egger's test, e.g. ``Egger's test: z = 1.23, p = 0.219; ...``.

    ``egger`` holds ``zval`` (t when ``dfs`` is given), ``pval`` and optionally ``est``
    with ``ci_lb``/``ci_ub`` (the limit estimate as se -> 0).
    """
    if not egger:
        return "Egger's regression test: not computed."
    dfs = egger.get("dfs")
    stat = "z" if dfs is None or (isinstance(dfs, float) and math.isnan(dfs)) else f"t({dfs:g})"
    text = (
        f"Egger's regression test for funnel asymmetry (k = {k}): {stat} = "
        f"{fmt_num(egger['zval'])}, {fmt_p(egger['pval'])}"
    )
    if egger.get("est") is not None:
        text += f"; limit estimate {fmt_num(egger['est'])}"
        if egger.get("ci_lb") is not None and egger.get("ci_ub") is not None:
            text += f" [{fmt_num(egger['ci_lb'])}, {fmt_num(egger['ci_ub'])}]"
    return text + "."


def funnel_plot(
    yi: Sequence[float],
    vi: Sequence[float],
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    estimate: float,
    egger: Mapping[str, float] | None,
    min_studies: int = 10,
    contours: bool = True,
    title: str = "",
    measure: str = "MD",
    level: float = 95,
) -> bool:
    """Draw the funnel plot of one group; return False (nothing written) below min_studies.

    Parameters
    ----------
    yi, vi:
        Effects and sampling variances of the pooled studies (same order).
    estimate:
        The pooled estimate (centre of the pseudo-confidence region).
    egger:
        :func:`srma.bias.regtest` result (``zval, pval, dfs, est, ci_lb, ci_ub, slope``),
        or None when not computed.
    min_studies:
        Fewest studies for which the plot is drawn (10 by the usual rule).
    contours:
        Shade the p < 0.10 / 0.05 / 0.01 regions around zero.
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    if y.shape != v.shape:
        raise ValueError(f"yi ({y.size}) and vi ({v.size}) differ in length")
    ok = np.isfinite(y) & np.isfinite(v) & (v > 0)
    k = int(ok.sum())
    if k < min_studies:
        log.info(
            "funnel plot %s not drawn: %d studies, fewer than the %d needed for a funnel "
            "plot and Egger's test",
            title or svg_path,
            k,
            min_studies,
        )
        return False
    y, se = y[ok], np.sqrt(v[ok])
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    se_max = float(se.max()) * 1.08
    tm = TextMeasure()
    fs = FONT_SIZE
    width, height = 5.6, 4.4
    caption = tm.wrap(egger_text(egger, k), width - 0.4, fs - 0.5)
    cap_h = tm.height(caption, fs - 0.5, 1.3) + 0.25
    has_line = bool(egger) and egger.get("est") is not None and egger.get("slope") is not None
    legend = (
        f"dashed: pseudo {level:g}% CI around the pooled estimate"
        + (
            "; shading (darkest to lightest): p against zero in 0.05–0.10, "
            "0.01–0.05, < 0.01; white: p > 0.10"
            if contours
            else ""
        )
        + ("; red: Egger regression line" if has_line else "")
    )
    legend = tm.wrap(legend, width - 0.4, fs - 1.5)
    cap_h += tm.height(legend, fs - 1.5, 1.3) + 0.08
    fig_h = height + cap_h

    with figure_context():
        fig = new_figure(width, fig_h, tm.lines)
        ax = fig.add_axes(
            (0.8 / width, (cap_h + 0.65) / fig_h, (width - 1.1) / width, (height - 1.15) / fig_h)
        )
        grid = np.linspace(0, se_max, 50)
        spread = max(float(np.max(np.abs(y - estimate))), z * se_max)
        if contours:
            spread = max(spread, float(np.max(np.abs(y))), stats.norm.ppf(0.995) * se_max)
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
            ax.plot(egger["est"] + egger["slope"] * grid, grid, color=PI_COLOUR, lw=1.0, zorder=2)
        ax.scatter(y, se, s=22, color=STUDY_COLOUR, edgecolors="white", linewidths=0.5, zorder=3)
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(se_max, 0)
        ax.set_xlabel(
            f"{measure} (score points)" if measure == "MD" else measure,
            fontproperties=font(fs),
            color=INK,
        )
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
            (cap_h - tm.height(legend, fs - 1.5, 1.3) - 0.02) / fig_h,
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
    return True


def _usable_studies(group) -> tuple[np.ndarray, np.ndarray]:
    studies = group[group["row_type"] == "study"]
    usable = studies["usable"].map(lambda v: bool(v) if v == v and v is not None else False)
    used = studies[usable.astype(bool)]
    return used["yi"].to_numpy(dtype=float), used["vi"].to_numpy(dtype=float)


def funnel_group(
    group,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    name: str = "",
    title: str = "",
    min_studies: int = 10,
    measure: str = "MD",
) -> dict:
    """Funnel plot of one pooled group table (data-model section 5), when it has a
    pooled row and at least ``min_studies`` usable studies.

    Egger's test is computed with :func:`srma.bias.regtest` (``model="rma"``, predictor
    ``sei``, the pooled row's ``method`` and ``test``). Returns the group's status row:
    ``group, k, drawn, reason, zval, pval``; nothing is written when it is not drawn.
    """
    from srma.bias import regtest

    yi, vi = _usable_studies(group)
    k = int(len(yi))
    pooled = group[group["row_type"] == "pooled"]
    row = {"group": name, "k": k, "drawn": False, "reason": None, "zval": None, "pval": None}
    if pooled.empty:
        row["reason"] = "not pooled"
    elif k < min_studies:
        row["reason"] = f"{k} studies, fewer than {min_studies}"
        log.info("funnel plot %s not drawn: %s", name, row["reason"])
    else:
        p = pooled.iloc[0]
        egger = regtest(
            yi, vi, model="rma", predictor="sei", method=str(p["method"]), test=str(p["test"])
        )
        funnel_plot(
            yi,
            vi,
            svg_path,
            png_path,
            estimate=float(p["estimate"]),
            egger=egger,
            min_studies=min_studies,
            title=title or name,
            measure=measure,
        )
        row.update(drawn=True, zval=egger["zval"], pval=egger["pval"])
    return row


def funnel_plots(
    groups: Mapping[str, object],
    outdir: str | os.PathLike,
    *,
    titles: Mapping[str, str] | None = None,
    min_studies: int = 10,
    measure: str = "MD",
) -> list[dict]:
    """Funnel plots of every pooled group with at least ``min_studies`` studies.

    ``groups`` maps a name (e.g. ``sparcc_sij_12w``) to its pooled group table; each
    drawn group is written as ``<outdir>/<name>.svg|png`` by :func:`funnel_group`.
    Returns one status row per group, in name order (write it as
    ``<outdir>/status.csv`` so that every group is accounted for).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return [
        funnel_group(
            groups[name],
            outdir / f"{name}.svg",
            outdir / f"{name}.png",
            name=name,
            title=(titles or {}).get(name, name),
            min_studies=min_studies,
            measure=measure,
        )
        for name in sorted(groups)
    ]
