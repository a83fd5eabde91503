"""Risk-of-bias figures in the layout reviewers know from robvis (McGuinness LA,
Higgins JPT. Res Synth Methods 2021;12:55-61) and RevMan.

- :func:`traffic_light`: one row per study, one column per domain and the overall
  judgement; a coloured circle per cell with the judgement's symbol;
- :func:`summary_bars`: one horizontal bar per domain (and overall), split by the share
  of studies, or of their weight in the analysis, at each judgement;
- :class:`RobColumns`: the risk-of-bias columns of the forest plot (one coloured mark per
  domain per study row, as RevMan draws them), used by
  :func:`srma.figures.forest.forest_plot` when it is given a risk-of-bias table.

Colours and symbols (robvis's, with grey for no information): low green ``+``; some
concerns (RoB 2) and moderate (ROBINS-I) yellow ``−``; high and serious red ``×``;
critical dark red ``!``; no information grey ``?``.

Input: the risk-of-bias table (docs/risk-of-bias.md; ``srma.appraisal.load.rob_table``)
with one scope per study, e.g. the study-level rows or the rows that hold for one
outcome (``srma.appraisal.load.for_outcome``). Columns used: ``study_id``, ``domain``
(``D1`` ... ``D7``, ``overall``), ``judgement``; optional ``tool`` (rows of other tools
are left out), ``domain_name``, ``instrument``/``timepoint`` (only to say which scope
is given). Studies are drawn in the order they first appear. The figures draw the
judgements they are given and compute nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from matplotlib.patches import Circle, Rectangle

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    GREY,
    INK,
    TextMeasure,
    add_text,
    font,
    in_figure_context,
    is_missing,
    new_figure,
    note_figure,
    save_figure,
    table_name,
)
from srma.figures.forest import study_label

#: Fill colour of each judgement.
COLOURS = {
    "low": "#02C100",
    "some concerns": "#E2DF07",
    "moderate": "#E2DF07",
    "high": "#BF0000",
    "serious": "#BF0000",
    "critical": "#820000",
    "no information": "#AAAAAA",
}
#: Symbol drawn in each judgement's circle.
SYMBOLS = {
    "low": "+",
    "some concerns": "\u2212",
    "moderate": "\u2212",
    "high": "\u00d7",
    "serious": "\u00d7",
    "critical": "!",
    "no information": "?",
}
#: Judgement scales, least severe first (as in the legends).
SCALES = {
    "rob2": ("low", "some concerns", "high", "no information"),
    "robins_i": ("low", "moderate", "serious", "critical", "no information"),
}
#: Tool names in titles and legends.
TOOL_NAMES = {"rob2": "RoB 2", "robins_i": "ROBINS-I"}
#: Domain names of each tool (srma.appraisal.tools holds the same; a test checks it).
DOMAINS = {
    "rob2": {
        "D1": "Randomisation process",
        "D2": "Deviations from intended interventions",
        "D3": "Missing outcome data",
        "D4": "Measurement of the outcome",
        "D5": "Selection of the reported result",
    },
    "robins_i": {
        "D1": "Confounding",
        "D2": "Selection of participants",
        "D3": "Classification of interventions",
        "D4": "Deviations from intended interventions",
        "D5": "Missing data",
        "D6": "Measurement of outcomes",
        "D7": "Selection of the reported result",
    },
}

MARGIN = 0.2
CELL = 0.34  # width and height of a traffic-light cell, inches
BAR_H = 0.3  # height of a summary bar, inches
BAR_W = 4.2  # width of the summary bars at 100%, inches
MARK_R = 0.105  # radius of a forest-plot mark, inches


def _grid(table: pd.DataFrame, tool: str, source: str) -> tuple[list[str], list[str], dict]:
    """(studies in order, domain columns with ``overall`` last, {(study, domain):
    judgement}) of ``tool``'s rows; InputError on a missing column, an unknown
    judgement, a judgement given twice or a missing cell."""
    where = table_name(source, "risk-of-bias table")
    if tool not in DOMAINS:
        raise InputError(where, f"unknown tool {tool!r}; expected one of: {', '.join(DOMAINS)}")
    if not isinstance(table, pd.DataFrame):
        raise InputError(where, "expected a DataFrame")
    for col in ("study_id", "domain", "judgement"):
        if col not in table.columns:
            raise InputError(where, "required column is missing", field=col)
    rows = table[table["tool"] == tool] if "tool" in table.columns else table
    columns = [*DOMAINS[tool], "overall"]
    scale = SCALES[tool]
    studies: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for _, r in rows.iterrows():
        sid, dom, judgement = str(r["study_id"]), str(r["domain"]), r["judgement"]
        if dom not in columns:
            raise InputError(
                where,
                f"{TOOL_NAMES[tool]} has domains {', '.join(columns)}, not {dom!r}",
                record=sid,
                field="domain",
            )
        if is_missing(judgement) or str(judgement) not in scale:
            raise InputError(
                where,
                f"{dom}: {judgement!r} is not a {TOOL_NAMES[tool]} judgement ({', '.join(scale)})",
                record=sid,
                field="judgement",
            )
        if (sid, dom) in cells:
            raise InputError(
                where,
                f"{dom} is given twice (one scope per study: pick the study-level rows or "
                "those of one outcome)",
                record=sid,
                field="domain",
            )
        cells[(sid, dom)] = str(judgement)
        if sid not in studies:
            studies.append(sid)
    for sid in studies:
        for dom in columns:
            if (sid, dom) not in cells:
                raise InputError(where, f"no judgement for {dom}", record=sid, field="judgement")
    return studies, columns, cells


def _mark(fig, transform, x: float, y: float, r: float, judgement: str, size: float) -> None:
    """A filled circle of ``judgement``'s colour with its symbol, centred at (x, y) in
    inches from the top left (``transform``: the table axes' data coordinates)."""
    circle = Circle(
        (x, y),
        r,
        transform=transform,
        facecolor=COLOURS[judgement],
        edgecolor=INK,
        linewidth=0.5,
        gid=f"rob-{judgement.replace(' ', '-')}",
    )
    fig.add_artist(circle)
    colour = "white" if judgement in ("high", "serious", "critical") else INK
    add_text(
        fig,
        transform,
        x,
        y,
        SYMBOLS[judgement],
        ha="center",
        va="center_baseline",
        color=colour,
        fontproperties=font(size, "bold"),
    )


@in_figure_context
def traffic_light(
    table: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    tool: str,
    title: str | None = None,
    source: str = "",
) -> bool:
    """The traffic-light plot of ``tool``'s studies (``rob2`` or ``robins_i``): studies
    down, domains and the overall judgement across, a circle per cell coloured and
    marked by its judgement; the domains' names and the judgements' colours under the
    grid. Returns False (and draws a short note instead) when no study of the table was
    assessed with ``tool``."""
    studies, columns, cells = _grid(table, tool, source)
    name = TOOL_NAMES[tool]
    title = title or f"Risk of bias ({name})"
    if not studies:
        note_figure(svg_path, png_path, title, f"No study was assessed with {name}.")
        return False
    tm = TextMeasure()
    fs = FONT_SIZE
    labels = [study_label(s) for s in studies]
    label_w = max(tm.width(t) for t in [*labels, "Study"])
    col_label = {c: (c if c != "overall" else "Overall") for c in columns}
    cell_w = max(CELL, *(tm.width(col_label[c], fs, "bold") + 0.08 for c in columns))
    grid_x0 = MARGIN + label_w + 0.2
    grid_w = cell_w * len(columns)
    domain_lines = [f"{d}: {DOMAINS[tool][d]}" for d in DOMAINS[tool]]
    used = {cells[k] for k in cells}
    legend = [j for j in SCALES[tool] if j in used or j != "critical"]
    legend_w = max(tm.width(j.capitalize()) for j in legend) + 0.35
    fig_w = max(
        grid_x0 + grid_w + 0.3 + legend_w + MARGIN,
        MARGIN * 2 + max(tm.width(t) for t in domain_lines),
        MARGIN * 2 + tm.width(title, fs + 1, "bold"),
    )
    y = MARGIN
    title_y = y + 0.12
    y += 0.36
    header_top_y = y + 0.1
    y += 0.24
    header_y = y + CELL / 2
    y += CELL
    grid_top = y
    y += CELL * len(studies)
    grid_bottom = y
    y += 0.2
    notes_y = y
    y += len(domain_lines) * 0.18
    fig_h = max(y, grid_top + 0.3 + len(legend) * 0.26) + MARGIN

    fig = new_figure(fig_w, fig_h)
    tab = fig.add_axes((0, 0, 1, 1))
    tab.set_xlim(0, fig_w)
    tab.set_ylim(fig_h, 0)
    tab.set_axis_off()
    t = tab.transData

    def put(x, y, s, ha="left", weight="normal", size=fs, colour=INK, va="center"):
        add_text(fig, t, x, y, s, ha=ha, va=va, color=colour, fontproperties=font(size, weight))

    put(MARGIN, title_y, title, weight="bold", size=fs + 1)
    put(grid_x0 + grid_w / 2, header_top_y, "Risk of bias domains", ha="center", weight="bold")
    put(MARGIN, header_y, "Study", weight="bold")
    for j, c in enumerate(columns):
        put(grid_x0 + cell_w * (j + 0.5), header_y, col_label[c], ha="center", weight="bold")
    # The grid: light cell borders, the overall column set off by a heavier line.
    for i in range(len(studies) + 1):
        yy = grid_top + CELL * i
        tab.plot([grid_x0, grid_x0 + grid_w], [yy, yy], color=GREY, lw=0.4)
    for j in range(len(columns) + 1):
        xx = grid_x0 + cell_w * j
        lw = 1.0 if j == len(columns) - 1 else 0.4
        tab.plot([xx, xx], [grid_top, grid_bottom], color=GREY, lw=lw)
    for i, (sid, label) in enumerate(zip(studies, labels, strict=True)):
        cy = grid_top + CELL * (i + 0.5)
        put(MARGIN, cy, label)
        for j, c in enumerate(columns):
            _mark(fig, t, grid_x0 + cell_w * (j + 0.5), cy, CELL * 0.36, cells[(sid, c)], fs)
    # Legend: the judgements, right of the grid.
    lx = grid_x0 + grid_w + 0.3
    put(lx, grid_top - CELL / 2, "Judgement", weight="bold")
    for i, j in enumerate(legend):
        ly = grid_top + 0.14 + i * 0.26
        _mark(fig, t, lx + 0.1, ly, 0.09, j, fs - 1.5)
        put(lx + 0.26, ly, j.capitalize())
    for i, line in enumerate(domain_lines):
        put(MARGIN, notes_y + i * 0.18, line, size=fs - 0.5, va="top")
    save_figure(fig, svg_path, png_path)
    return True


@in_figure_context
def summary_bars(
    table: pd.DataFrame,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    tool: str,
    weights: Mapping[str, float] | pd.Series | None = None,
    title: str | None = None,
    source: str = "",
) -> bool:
    """The weighted summary plot of ``tool``'s studies: one bar per domain (overall
    last), split by the percentage of studies at each judgement, or of their
    ``weights`` (study id -> weight, e.g. the percent weights of one analysis; every
    study of the table needs one, > 0 in total). Shares of at least 6% are printed in
    their segment. Returns False (and draws a note) when no study was assessed with
    ``tool``."""
    studies, columns, cells = _grid(table, tool, source)
    name = TOOL_NAMES[tool]
    weighted = weights is not None
    title = title or f"Risk of bias ({name}){', weighted' if weighted else ''}"
    if not studies:
        note_figure(svg_path, png_path, title, f"No study was assessed with {name}.")
        return False
    where = table_name(source, "weights")
    if weighted:
        w = {str(k): v for k, v in dict(weights).items()}
        for sid in studies:
            v = w.get(sid)
            if is_missing(v) or float(v) < 0:
                raise InputError(where, "no weight (>= 0) for this study", record=sid)
        total = sum(float(w[s]) for s in studies)
        if total <= 0:
            raise InputError(where, "the weights of the studies add up to 0")
        share = {s: float(w[s]) / total for s in studies}
    else:
        share = {s: 1.0 / len(studies) for s in studies}
    tm = TextMeasure()
    fs = FONT_SIZE
    names = {d: DOMAINS[tool][d] for d in DOMAINS[tool]}
    names["overall"] = "Overall risk of bias"
    labels = {c: (f"{c}: {names[c]}" if c != "overall" else names[c]) for c in columns}
    label_w = max(tm.width(labels[c], fs, "bold" if c == "overall" else "normal") for c in columns)
    bar_x0 = MARGIN + label_w + 0.2
    scale = list(SCALES[tool])
    used = {cells[k] for k in cells}
    legend = [j for j in scale if j in used or j != "critical"]
    legend_w = sum(tm.width(j.capitalize()) + 0.5 for j in legend)
    fig_w = max(
        bar_x0 + BAR_W + MARGIN + 0.2,
        MARGIN * 2 + legend_w,
        MARGIN * 2 + tm.width(title, fs + 1, "bold"),
    )
    y = MARGIN
    title_y = y + 0.12
    y += 0.4
    bars_top = y
    gap = 0.12
    y += len(columns) * (BAR_H + gap)
    axis_y = y
    y += 0.36
    legend_y = y + 0.1
    y += 0.3
    caption_y = y + 0.05
    caption = (
        f"Share of the {len(studies)} studies' weight in the analysis"
        if weighted
        else f"Share of the {len(studies)} studies"
    )
    y += 0.25
    fig_h = y + MARGIN

    fig = new_figure(fig_w, fig_h)
    tab = fig.add_axes((0, 0, 1, 1))
    tab.set_xlim(0, fig_w)
    tab.set_ylim(fig_h, 0)
    tab.set_axis_off()
    t = tab.transData

    def put(x, y, s, ha="left", weight="normal", size=fs, colour=INK):
        add_text(
            fig, t, x, y, s, ha=ha, va="center", color=colour, fontproperties=font(size, weight)
        )

    put(MARGIN, title_y, title, weight="bold", size=fs + 1)
    for i, c in enumerate(columns):
        top = bars_top + i * (BAR_H + gap)
        cy = top + BAR_H / 2
        put(MARGIN, cy, labels[c], weight="bold" if c == "overall" else "normal")
        x = bar_x0
        for j in scale:
            part = sum(share[s] for s in studies if cells[(s, c)] == j)
            if part <= 0:
                continue
            width = BAR_W * part
            tab.add_patch(
                Rectangle(
                    (x, top),
                    width,
                    BAR_H,
                    facecolor=COLOURS[j],
                    edgecolor="white",
                    linewidth=0.6,
                    gid=f"bar-{c}-{j.replace(' ', '-')}",
                )
            )
            text = f"{100 * part:.0f}%"
            if part >= 0.06 and tm.width(text, fs - 1) + 0.06 <= width:
                colour = "white" if j in ("high", "serious", "critical") else INK
                put(x + width / 2, cy, text, ha="center", size=fs - 1, colour=colour)
            x += width
    # The percentage axis.
    tab.plot([bar_x0, bar_x0 + BAR_W], [axis_y, axis_y], color=INK, lw=0.6)
    for p in (0, 25, 50, 75, 100):
        xx = bar_x0 + BAR_W * p / 100
        tab.plot([xx, xx], [axis_y, axis_y + 0.05], color=INK, lw=0.6)
        put(xx, axis_y + 0.17, f"{p}%", ha="center", size=fs - 1)
    x = MARGIN
    for j in legend:
        tab.add_patch(
            Rectangle((x, legend_y - 0.08), 0.16, 0.16, facecolor=COLOURS[j], edgecolor=INK, lw=0.4)
        )
        put(x + 0.22, legend_y, j.capitalize())
        x += tm.width(j.capitalize()) + 0.5
    put(MARGIN, caption_y, caption, size=fs - 0.5, colour=GREY)
    save_figure(fig, svg_path, png_path)
    return True


# ---- forest-plot columns -----------------------------------------------------------------


@dataclass
class RobColumns:
    """The risk-of-bias columns of a forest plot (RevMan's layout): one column per
    domain of the tools in use and one for the overall judgement, a coloured mark with
    its symbol per study row. Build with :meth:`from_table`, reserve :attr:`width`
    inches right of the plot, then :meth:`draw` the header and the marks and add
    :meth:`legend` to the footnotes."""

    tools: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], str]
    col_w: float = 0.3

    @property
    def width(self) -> float:
        return self.col_w * len(self.columns)

    @classmethod
    def from_table(
        cls, table: pd.DataFrame, studies: Sequence[str], source: str = ""
    ) -> RobColumns:
        """The marks of ``studies`` (the forest plot's study ids) from a risk-of-bias
        table with one scope per study; a study without judgements has empty cells
        (studies the table has and the plot does not are ignored)."""
        where = table_name(source, "risk-of-bias table")
        if "tool" not in table.columns:
            raise InputError(where, "required column is missing", field="tool")
        tools = [t for t in ("rob2", "robins_i") if (table["tool"] == t).any() and t in DOMAINS]
        cells: dict[tuple[str, str], str] = {}
        for tool in tools:
            _, _, c = _grid(table, tool, source)
            cells.update(c)
        wanted = {str(s) for s in studies}
        cells = {k: v for k, v in cells.items() if k[0] in wanted}
        n = max((len(DOMAINS[t]) for t in tools), default=0)
        columns = [f"D{i}" for i in range(1, n + 1)] + ["overall"] if tools else []
        return cls(tools=tools, columns=columns, cells=cells)

    def draw(
        self,
        fig,
        transform,
        x0: float,
        header_y: float,
        rows: Sequence[tuple[str, float]],
        size: float = FONT_SIZE,
    ) -> None:
        """Header labels (``D1`` ... and ``O``) at ``header_y`` and a mark per study row
        (``rows``: (study id, y)), from ``x0`` (inches, in ``transform``'s units)."""
        for j, c in enumerate(self.columns):
            x = x0 + self.col_w * (j + 0.5)
            label = "O" if c == "overall" else c
            add_text(
                fig,
                transform,
                x,
                header_y,
                label,
                ha="center",
                va="center",
                color=INK,
                fontproperties=font(size - 1, "bold"),
            )
        for sid, y in rows:  # row by row, as the study is read
            for j, c in enumerate(self.columns):
                judgement = self.cells.get((str(sid), c))
                if judgement is not None:
                    x = x0 + self.col_w * (j + 0.5)
                    _mark(fig, transform, x, y, MARK_R, judgement, size - 2)

    def legend(self) -> list[str]:
        """Footnote lines: the domains of each tool in use and the symbols."""
        lines = []
        for tool in self.tools:
            doms = "; ".join(f"{d} {n.lower()}" for d, n in DOMAINS[tool].items())
            lines.append(f"Risk of bias ({TOOL_NAMES[tool]}): {doms}; O overall.")
        used = sorted(set(self.cells.values()), key=lambda j: list(COLOURS).index(j))
        if used:
            lines.append("Marks: " + ", ".join(f"{SYMBOLS[j]} {j}" for j in used) + ".")
        return lines
