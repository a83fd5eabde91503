"""PRISMA 2020 flow diagram drawn from ``results/prisma/counts.json``.

Boxes and wording follow the PRISMA 2020 flow diagram template for new systematic reviews
that searched databases and registers only (Page MJ, et al. BMJ 2021;372:n71, Figure 1):
records identified (per database and register), records removed before screening,
records screened and excluded, reports sought and not retrieved, reports assessed and
excluded with reasons, and studies (and reports of studies) included.

``counts`` keys (docs/data-model.md, section 3):

required
    ``identified`` (mapping: source name -> n, plus ``total``), ``duplicates_removed``,
    ``screened``, ``excluded_title_abstract``, ``sought``, ``not_retrieved``,
    ``assessed``, ``excluded_full_text`` (mapping: reason -> n, plus ``total``),
    ``included_studies``;
optional
    ``included_reports`` (line left out when absent), ``not_screened`` (0; drawn as
    "Records awaiting screening" when positive), ``awaiting_full_text`` (0; reports
    sought but not yet assessed, drawn beside "Reports not retrieved" when positive),
    ``records_after_duplicates`` (checked when present), ``automation_excluded`` and
    ``other_removed`` (0; the template's "marked as ineligible by automation tools" and
    "removed for other reasons"), ``other_methods`` (reports found by other methods:
    ``identified`` (route -> n, plus ``total``), ``sought``, ``not_retrieved``,
    ``awaiting_full_text``, ``assessed``, ``excluded`` (reason -> n, plus ``total``),
    ``included_reports``; drawn as the template's second column, "Identification of
    studies via other methods", when ``identified.total`` is positive).

The counts must reconcile (each box equals the one above minus what left the flow);
otherwise an :class:`~srma.errors.InputError` names the key, and nothing is written.
Sources whose name says they are a trials register (ClinicalTrials.gov, ICTRP, EU CTR,
"registry"/"register") are listed under *Registers*, the others under *Databases*.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from srma.errors import InputError
from srma.figures.common import (
    FONT_SIZE,
    INK,
    TextMeasure,
    font,
    in_figure_context,
    new_figure,
    save_figure,
)

REQUIRED = (
    "identified",
    "duplicates_removed",
    "screened",
    "excluded_title_abstract",
    "sought",
    "not_retrieved",
    "assessed",
    "excluded_full_text",
    "included_studies",
)
OPTIONAL_ZERO = ("not_screened", "awaiting_full_text", "automation_excluded", "other_removed")

REGISTER_PATTERN = re.compile(
    r"clinicaltrials|ictrp|regist|eudract|eu ?ctr|isrctn|anzctr|chictr|drks|ctri",
    re.IGNORECASE,
)

BOX_W = 3.35  # inches
COL_GAP = 0.6
PHASE_W = 0.34
MARGIN = 0.2
PAD = 0.11
LINESPACING = 1.33
ROW_GAP = 0.36
HEADER_FILL = "#f3cf5a"
OTHER_HEADER_FILL = "#d9d9d9"
PHASE_FILL = "#a9c6e8"
BOX_EDGE = "#1a1a1a"


def _count(value: object, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, f"expected a whole number, got {value!r}", field=key)
    if value != int(value) or value < 0:
        raise InputError(source, f"expected a non-negative whole number, got {value!r}", field=key)
    return int(value)


def _breakdown(counts: Mapping, key: str, source: str) -> tuple[dict[str, int], int]:
    value = counts[key]
    if not isinstance(value, Mapping):
        raise InputError(source, "expected an object of counts with 'total'", field=key)
    if "total" not in value:
        raise InputError(source, "missing 'total'", field=f"{key}.total")
    total = _count(value["total"], f"{key}.total", source)
    parts = {str(k): _count(v, f"{key}.{k}", source) for k, v in value.items() if k != "total"}
    if parts and sum(parts.values()) != total:
        raise InputError(
            source,
            f"the parts add up to {sum(parts.values())} but total is {total}",
            field=f"{key}.total",
        )
    return parts, total


def validate_counts(counts: Mapping, source: str = "counts.json") -> dict:
    """Check the PRISMA counts and return them normalised (ints, optional keys filled).

    Raises :class:`InputError` naming the key when a required key is missing, a count is
    not a non-negative whole number, or the boxes do not reconcile:
    ``identified.total - duplicates_removed - automation_excluded - other_removed
    = screened + not_screened``, ``screened - excluded_title_abstract = sought``,
    ``sought - not_retrieved - awaiting_full_text = assessed``, and, when
    ``included_reports`` is given,
    ``assessed - excluded_full_text.total = included_reports >= included_studies``.
    """
    if not isinstance(counts, Mapping):
        raise InputError(source, "expected a JSON object of PRISMA counts")
    for key in REQUIRED:
        if key not in counts:
            raise InputError(source, "required PRISMA count missing", field=key)
    out: dict = {}
    out["identified"], out["identified_total"] = _breakdown(counts, "identified", source)
    out["excluded_full_text"], out["excluded_full_text_total"] = _breakdown(
        counts, "excluded_full_text", source
    )
    for key in REQUIRED:
        if key not in ("identified", "excluded_full_text"):
            out[key] = _count(counts[key], key, source)
    for key in OPTIONAL_ZERO:
        out[key] = _count(counts.get(key, 0), key, source)
    out["included_reports"] = (
        _count(counts["included_reports"], "included_reports", source)
        if counts.get("included_reports") is not None
        else None
    )

    def need(lhs: int, rhs: int, field: str, rule: str) -> None:
        if lhs != rhs:
            raise InputError(
                source, f"counts do not reconcile: {rule} ({lhs} != {rhs})", field=field
            )

    removed = out["duplicates_removed"] + out["automation_excluded"] + out["other_removed"]
    need(
        out["identified_total"] - removed,
        out["screened"] + out["not_screened"],
        "screened",
        "identified.total - removed before screening = screened + not_screened",
    )
    need(
        out["screened"] - out["excluded_title_abstract"],
        out["sought"],
        "sought",
        "screened - excluded_title_abstract = sought",
    )
    need(
        out["sought"] - out["not_retrieved"] - out["awaiting_full_text"],
        out["assessed"],
        "assessed",
        "sought - not_retrieved - awaiting_full_text = assessed",
    )
    if counts.get("records_after_duplicates") is not None:
        after = _count(counts["records_after_duplicates"], "records_after_duplicates", source)
        need(
            out["identified_total"] - removed,
            after,
            "records_after_duplicates",
            "identified.total - removed before screening = records_after_duplicates",
        )
    if out["included_reports"] is not None:
        need(
            out["assessed"] - out["excluded_full_text_total"],
            out["included_reports"],
            "included_reports",
            "assessed - excluded_full_text.total = included_reports",
        )
    # The included box counts the reports and studies of both columns.
    out["other"] = _other_methods(counts.get("other_methods"), source, need)
    other_included = out["other"]["included_reports"] if out["other"] else 0
    if out["included_reports"] is not None:
        out["included_reports"] += other_included
        if out["included_studies"] > out["included_reports"]:
            raise InputError(
                source, "more included studies than included reports", field="included_studies"
            )
    left = out["assessed"] - out["excluded_full_text_total"] + other_included
    if out["included_reports"] is None and out["included_studies"] > left:
        raise InputError(
            source,
            "more included studies than reports left after full text",
            field="included_studies",
        )
    return out


def _other_methods(block: object, source: str, need) -> dict | None:
    """The checked ``other_methods`` counts (None when absent or no report)."""
    if block is None:
        return None
    key = "other_methods"
    if not isinstance(block, Mapping):
        raise InputError(source, "expected an object of counts", field=key)
    for name in ("identified", "sought", "not_retrieved", "assessed", "excluded"):
        if name not in block:
            raise InputError(source, "required PRISMA count missing", field=f"{key}.{name}")
    out: dict = {}
    out["identified"], out["identified_total"] = _breakdown(block, "identified", f"{source}: {key}")
    out["excluded"], out["excluded_total"] = _breakdown(block, "excluded", f"{source}: {key}")
    for name in ("sought", "not_retrieved", "assessed"):
        out[name] = _count(block[name], f"{key}.{name}", source)
    for name in ("awaiting_full_text", "included_reports"):
        out[name] = _count(block.get(name, 0), f"{key}.{name}", source)
    need(out["identified_total"], out["sought"], f"{key}.sought", "identified.total = sought")
    need(
        out["sought"] - out["not_retrieved"] - out["awaiting_full_text"],
        out["assessed"],
        f"{key}.assessed",
        "sought - not_retrieved - awaiting_full_text = assessed",
    )
    need(
        out["assessed"] - out["excluded_total"],
        out["included_reports"],
        f"{key}.included_reports",
        "assessed - excluded.total = included_reports",
    )
    return out if out["identified_total"] else None


@in_figure_context
def prisma_diagram(
    counts: dict,
    svg_path: str | os.PathLike,
    png_path: str | os.PathLike,
    *,
    registers: Iterable[str] | None = None,
    source: str = "counts.json",
) -> None:
    """Draw the PRISMA 2020 flow diagram and save it as SVG and 300-dpi PNG.

    Parameters
    ----------
    counts:
        The content of ``results/prisma/counts.json`` (keys in the module docstring).
    registers:
        Names of ``identified`` sources that are trial registers; by default recognised
        from the name (see ``REGISTER_PATTERN``).
    source:
        Name of the counts file in error messages.
    """
    c = validate_counts(counts, source)
    reg_names = (
        set(registers)
        if registers is not None
        else {name for name in c["identified"] if REGISTER_PATTERN.search(name)}
    )
    dbs = {k: v for k, v in c["identified"].items() if k not in reg_names}
    regs = {k: v for k, v in c["identified"].items() if k in reg_names}
    if not c["identified"]:  # only a total was given
        dbs = {}
    tm = TextMeasure()
    fs = FONT_SIZE
    inner = BOX_W - 2 * PAD

    def lines(items: list[tuple[str, int]]) -> str:
        """Box text: each item wrapped to the box; indent = leading spaces (ems)."""
        out = []
        for text, indent in items:
            # A count "(n = 12)" is never split across lines.
            text = re.sub(r"\(n = (\d+)\)", "(n\u00a0=\u00a0\\1)", text)
            prefix = "\u2003" * indent
            more = "\u2003" * (indent + 1)  # hanging indent of wrapped lines
            wrapped = tm.wrap(text, inner - tm.width(more, fs), fs).split("\n")
            out += [prefix + wrapped[0]] + [more + part for part in wrapped[1:]]
        return "\n".join(out)

    ident = [("Records identified from:", 0)]
    ident.append((f"Databases (n = {sum(dbs.values()) if dbs else c['identified_total']})", 1))
    ident += [(f"{name} (n = {n})", 2) for name, n in sorted(dbs.items())]
    ident.append((f"Registers (n = {sum(regs.values())})", 1))
    ident += [(f"{name} (n = {n})", 2) for name, n in sorted(regs.items())]
    removed = [
        ("Records removed before screening:", 0),
        (f"Duplicate records removed (n = {c['duplicates_removed']})", 1),
        (f"Records marked as ineligible by automation tools (n = {c['automation_excluded']})", 1),
        (f"Records removed for other reasons (n = {c['other_removed']})", 1),
    ]
    screened = [("Records screened", 0), (f"(n = {c['screened']})", 0)]
    excluded = [("Records excluded", 0), (f"(n = {c['excluded_title_abstract']})", 0)]
    if c["not_screened"]:
        excluded += [(f"Records awaiting screening (n = {c['not_screened']})", 0)]
    sought = [("Reports sought for retrieval", 0), (f"(n = {c['sought']})", 0)]
    not_retrieved = [("Reports not retrieved", 0), (f"(n = {c['not_retrieved']})", 0)]
    if c["awaiting_full_text"]:
        not_retrieved += [
            (f"Reports awaiting retrieval or assessment (n = {c['awaiting_full_text']})", 0)
        ]
    assessed = [("Reports assessed for eligibility", 0), (f"(n = {c['assessed']})", 0)]
    reasons = [("Reports excluded:", 0)]
    reasons += [
        (f"{reason} (n = {n})", 1)
        for reason, n in sorted(c["excluded_full_text"].items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    if not c["excluded_full_text"]:
        reasons = [("Reports excluded", 0), (f"(n = {c['excluded_full_text_total']})", 0)]
    included = [("Studies included in review", 0), (f"(n = {c['included_studies']})", 0)]
    if c["included_reports"] is not None:
        included += [("Reports of included studies", 0), (f"(n = {c['included_reports']})", 0)]

    # Rows: (left, right, other-methods left, other-methods right) boxes.
    o = c["other"]
    o_ident = o_sought = o_not_retrieved = o_assessed = o_reasons = None
    if o:
        o_ident = [("Records identified from:", 0)]
        o_ident += [(f"{route} (n = {n})", 1) for route, n in sorted(o["identified"].items())]
        if not o["identified"]:
            o_ident = [("Records identified", 0), (f"(n = {o['identified_total']})", 0)]
        o_sought = [("Reports sought for retrieval", 0), (f"(n = {o['sought']})", 0)]
        o_not_retrieved = [("Reports not retrieved", 0), (f"(n = {o['not_retrieved']})", 0)]
        if o["awaiting_full_text"]:
            o_not_retrieved += [
                (f"Reports awaiting retrieval or assessment (n = {o['awaiting_full_text']})", 0)
            ]
        o_assessed = [("Reports assessed for eligibility", 0), (f"(n = {o['assessed']})", 0)]
        o_reasons = [("Reports excluded:", 0)]
        o_reasons += [
            (f"{reason} (n = {n})", 1)
            for reason, n in sorted(o["excluded"].items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        if not o["excluded"]:
            o_reasons = [("Reports excluded", 0), (f"(n = {o['excluded_total']})", 0)]

    def opt(items):
        return None if items is None else lines(items)

    grid = [
        ("Identification", [(lines(ident), lines(removed), opt(o_ident), None)]),
        (
            "Screening",
            [
                (lines(screened), lines(excluded), None, None),
                (lines(sought), lines(not_retrieved), opt(o_sought), opt(o_not_retrieved)),
                (lines(assessed), lines(reasons), opt(o_assessed), opt(o_reasons)),
            ],
        ),
        ("Included", [(lines(included), None, None, None)]),
    ]

    def height(text: str | None) -> float:
        return 0.0 if text is None else tm.height(text, fs, LINESPACING) + 2 * PAD

    x_phase = MARGIN
    x_left = x_phase + PHASE_W + 0.25
    x_right = x_left + BOX_W + COL_GAP
    x_other = x_right + BOX_W + 1.5 * COL_GAP  # the other-methods column, when drawn
    x_other_right = x_other + BOX_W + COL_GAP
    fig_w = (x_other_right if o else x_right) + BOX_W + MARGIN
    header_h = 0.42
    y = MARGIN + header_h + 0.25
    placed = []  # (phase, y_top, y_bottom, [(x, y, h, text)...])
    for phase, rows in grid:
        top = y
        boxes = []
        for row in rows:
            h = max(height(text) for text in row)
            boxes.append((y, h, *row))
            y += h + ROW_GAP
        placed.append((phase, top, y - ROW_GAP, boxes))
    foot = tm.wrap(
        "Template: Page MJ, et al. The PRISMA 2020 statement. BMJ 2021;372:n71. Records "
        "excluded by reviewers at title and abstract; reports excluded at full text with "
        "the reasons shown.",
        fig_w - 2 * MARGIN,
        fs - 1.5,
    )
    fig_h = y - ROW_GAP + 0.2 + (foot.count("\n") + 1) * 0.17 + MARGIN

    fig = new_figure(fig_w, fig_h)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, fig_w)
    ax.set_ylim(fig_h, 0)
    ax.set_axis_off()

    def header(x0: float, x1: float, text: str, fill: str) -> None:
        """A column header over [x0, x1]."""
        ax.add_patch(
            FancyBboxPatch(
                (x0, MARGIN),
                x1 - x0,
                header_h,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=fill,
                edgecolor="none",
            )
        )
        ax.text(
            (x0 + x1) / 2,
            MARGIN + header_h / 2,
            text,
            ha="center",
            va="center",
            color=INK,
            fontproperties=font(fs + 1, "bold"),
        )

    header(
        x_left,
        x_right + BOX_W,
        "Identification of studies via databases and registers",
        HEADER_FILL,
    )
    if o:
        header(
            x_other,
            x_other_right + BOX_W,
            "Identification of studies via other methods",
            OTHER_HEADER_FILL,
        )

    def box(x: float, y: float, h: float, text: str) -> None:
        ax.add_patch(Rectangle((x, y), BOX_W, h, facecolor="white", edgecolor=BOX_EDGE, lw=0.9))
        ax.text(
            x + PAD,
            y + PAD,
            text,
            ha="left",
            va="top",
            color=INK,
            fontproperties=font(fs),
            linespacing=LINESPACING,
        )

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                arrowstyle="-|>",
                mutation_scale=10,
                color=INK,
                lw=0.9,
                shrinkA=0,
                shrinkB=0,
            )
        )

    previous_left = previous_other = None
    included_at = None  # (y, h) of the included box
    for phase, top, bottom, boxes in placed:
        ax.add_patch(
            FancyBboxPatch(
                (x_phase, top),
                PHASE_W,
                bottom - top,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=PHASE_FILL,
                edgecolor="none",
            )
        )
        ax.text(
            x_phase + PHASE_W / 2,
            (top + bottom) / 2,
            phase,
            rotation=90,
            ha="center",
            va="center",
            color=INK,
            fontproperties=font(fs, "bold"),
        )
        for y0, h, left, right, o_left, o_right in boxes:
            box(x_left, y0, h, left)
            if previous_left is not None:
                arrow(x_left + BOX_W / 2, previous_left, x_left + BOX_W / 2, y0)
            previous_left = y0 + h
            if right is not None:
                box(x_right, y0, h, right)
                arrow(x_left + BOX_W, y0 + h / 2, x_right, y0 + h / 2)
            if o_left is not None:
                box(x_other, y0, h, o_left)
                if previous_other is not None:
                    arrow(x_other + BOX_W / 2, previous_other, x_other + BOX_W / 2, y0)
                previous_other = y0 + h
            if o_right is not None:
                box(x_other_right, y0, h, o_right)
                arrow(x_other + BOX_W, y0 + h / 2, x_other_right, y0 + h / 2)
            if phase == "Included":
                included_at = (y0, h)
    if o and included_at is not None:
        # From the last other-methods box down, then left into the included box.
        y_mid = included_at[0] + included_at[1] / 2
        ax.plot(
            [x_other + BOX_W / 2, x_other + BOX_W / 2],
            [previous_other, y_mid],
            color=INK,
            lw=0.9,
            solid_capstyle="butt",
        )
        arrow(x_other + BOX_W / 2, y_mid, x_left + BOX_W, y_mid)
    ax.text(
        MARGIN,
        fig_h - MARGIN,
        foot,
        ha="left",
        va="bottom",
        color="#555555",
        fontproperties=font(fs - 1.5),
        linespacing=1.3,
    )
    save_figure(fig, svg_path, png_path)
