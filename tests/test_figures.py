"""Figures: content (study rows, pooled values, PRISMA counts, heatmap cells), layout (no
text overlaps or leaves the figure), byte-identical reruns (in one process, in threads,
in other processes, and under the previous matplotlib minor release) and the rule that
srma's figure code uses only matplotlib's public API and computes no statistics.

The input tables are built by hand in the shape of docs/data-model.md (sections 3, 5, 6)
and of the sensitivity stage's leave-one-out, Egger's test and trim-and-fill tables; the
expected numbers are computed here from the textbook formulas (mean difference
``yi = m1 - m2``, ``vi = sd1^2/n1 + sd2^2/n2``, Wald CI ``yi +/- 1.959964 * sqrt(vi)``,
inverse-variance means) and formatted by hand, independently of the figure code.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.text import Text

import srma.figures.common as common_mod
import srma.figures.forest as forest_mod
import srma.figures.funnel as funnel_mod
import srma.figures.heatmap as heatmap_mod
import srma.figures.leave1out as leave1out_mod
import srma.figures.prisma as prisma_mod
from srma.errors import InputError
from srma.figures.common import TextMeasure, figure_context, font, new_figure, note_figure
from srma.figures.forest import forest_plot, study_label
from srma.figures.funnel import funnel_figure
from srma.figures.heatmap import cell_values, correlation_heatmap
from srma.figures.leave1out import leave1out_figure
from srma.figures.prisma import prisma_diagram

TESTS = Path(__file__).resolve().parent
FIGURES = TESTS.parent / "workflow" / "srma" / "figures"
Z975 = 1.959963984540054
MINUS = "\u2212"
CLINICAL = ["crp", "esr", "basdai", "basfi", "asdas", "pain", "morning_stiffness"]
#: The test review's names of its clinical measure keys (config correlations.clinical_labels).
CLINICAL_LABELS = {"crp": "CRP", "basdai": "BASDAI", "morning_stiffness": "Morning stiffness"}
#: Arm names of the test review (no default in srma's code).
ARMS = {"intervention": "TNFi", "comparator": "control"}
LABELS = {"instrument_label": "SPARCC SIJ", "timepoint_label": "12 weeks"}

# ---- helpers ---------------------------------------------------------------------------


def svg_text(path: Path) -> str:
    """All text of an SVG (our own output), one text element per line."""
    root = ET.parse(path).getroot()
    text = "\n".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text"))
    return text.replace("\u00a0", " ")  # counts "(n = 12)" are kept on one line


def num(x: float) -> str:
    """Two decimals with a true minus sign, as printed in srma's figures."""
    s = f"{x:.2f}"
    return MINUS + s[1:] if s.startswith("-") else s


def arm(study_id, n1, m1, sd1, n2, m2, sd2, weight, flags="reported"):
    yi = m1 - m2
    vi = sd1**2 / n1 + sd2**2 / n2
    se = math.sqrt(vi)
    return {
        "instrument": "sparcc_sij",
        "timepoint": "12w",
        "row_type": "study",
        "study_id": study_id,
        "n1i": float(n1),
        "m1i": m1,
        "sd1i": sd1,
        "n2i": float(n2),
        "m2i": m2,
        "sd2i": sd2,
        "yi": yi,
        "vi": vi,
        "sei": se,
        "ci_lb": yi - Z975 * se,
        "ci_ub": yi + Z975 * se,
        "weight": weight,
        "flags": flags,
        "usable": True,
        "reason": None,
    }


POOLED = {
    "instrument": "sparcc_sij",
    "timepoint": "12w",
    "row_type": "pooled",
    "estimate": -3.1,
    "se": 0.5616,
    "zval": -5.52,
    "pval": 3.4e-8,
    "ci_lb": -4.2,
    "ci_ub": -2.0,
    "tau2": 0.35,
    "I2": 28.4,
    "H2": 1.397,
    "QE": 2.79,
    "QEp": 0.2478,
    "pi_lb": -5.6,
    "pi_ub": -0.6,
    "k": 3,
    "measure": "MD",
    "method": "REML",
    "test": "z",
    "usable": True,
}


def three_study_group() -> pd.DataFrame:
    rows = [
        arm("Lambert2007", 38, -5.0, 4.0, 44, -1.0, 5.0, 50.0),
        arm("Maksymowych2016", 106, -3.5, 6.2, 109, -1.2, 5.9, 30.0, flags="imputed"),
        arm("Sieper2013", 91, -4.1, 7.5, 94, -0.3, 6.8, 20.0),
        {
            "row_type": "study",
            "study_id": "Braun2012",
            "n1i": 37.0,
            "usable": False,
            "reason": "median change only, no spread; control arm not usable; "
            "median change only, no spread; intervention arm not usable",
        },
        POOLED,
    ]
    return pd.DataFrame(rows)


def hidden_tick_labels(fig) -> set[int]:
    """ids of the tick labels that are not drawn: ticks outside the view limits, or of an
    axes switched off (matplotlib keeps such ticks but does not draw them)."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(hi - lo, 1e-300)
            for ticks, locs in (
                (axis.get_major_ticks(), axis.get_majorticklocs()),
                (axis.get_minor_ticks(), axis.get_minorticklocs()),
            ):
                for i, tick in enumerate(ticks):
                    shown = ax.axison and i < len(locs) and lo - eps <= locs[i] <= hi + eps
                    if not shown:
                        hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


class Capture:
    """Replaces a figure module's ``save_figure``: records the figure, checks the layout
    (every text inside the figure; no two unrotated texts overlap), then saves."""

    def __init__(self, real, check_overlap=True):
        self.real = real
        self.check_overlap = check_overlap
        self.figs = []

    def __call__(self, fig, svg, png):
        self.figs.append(fig)
        fig.canvas.draw()  # places axis labels and ticks
        renderer = fig.canvas.get_renderer()
        hidden = hidden_tick_labels(fig)
        texts = [
            t
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden
        ]
        boxes = []
        for t in texts:
            bb = t.get_window_extent(renderer)
            assert bb.x0 >= -0.5 and bb.y0 >= -0.5, f"text cut at the left/bottom: {t!r}"
            assert bb.x1 <= fig.bbox.x1 + 0.5 and bb.y1 <= fig.bbox.y1 + 0.5, (
                f"text cut at the right/top: {t.get_text()!r}"
            )
            if t.get_rotation() == 0:
                boxes.append((t.get_text(), bb.padded(-0.5)))
        if self.check_overlap:
            for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
                assert not a.overlaps(b), f"texts overlap: {ta!r} and {tb!r}"
        self.real(fig, svg, png)


@pytest.fixture
def capture(monkeypatch):
    """``capture(module)`` patches the module's save_figure and returns the Capture."""

    def install(module, check_overlap=True):
        cap = Capture(module.save_figure, check_overlap)
        monkeypatch.setattr(module, "save_figure", cap)
        return cap

    return install


# ---- study labels ----------------------------------------------------------------------


def test_study_label_takes_year_from_id_or_column():
    assert study_label("Maksymowych2016") == "Maksymowych 2016"
    assert study_label("Braun2006b") == "Braun 2006b"
    assert study_label("Smith_2010") == "Smith 2010"
    assert study_label("Braun2006", 2005) == "Braun 2005"
    # A PubMed id ending in digits that look like a year is not split.
    assert study_label("PMID17642006") == "PMID17642006"
    assert study_label("PMID17644552", 2007) == "PMID17644552 2007"


# ---- forest plot -----------------------------------------------------------------------


def test_forest_plot_rows_pooled_values_and_heterogeneity(tmp_path, capture):
    cap = capture(forest_mod)
    group = three_study_group()
    svg, png = tmp_path / "f.svg", tmp_path / "f.png"
    forest_plot(group, svg, png, **LABELS, **ARMS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg_text(svg)
    assert "SPARCC SIJ, 12 weeks" in text
    # Study rows: label with year, per-arm n and mean change (SD), weight, MD [95% CI].
    # Lambert 2007 by hand: yi = -5 - (-1) = -4; vi = 16/38 + 25/44 = 0.98923;
    # se = 0.99460; CI = -4 -/+ 1.94939 = [-5.95, -2.05].
    assert "Lambert 2007" in text
    assert f"{MINUS}4.00 [{MINUS}5.95, {MINUS}2.05]" in text
    assert f"{MINUS}5.00 (4.00)" in text and f"{MINUS}1.00 (5.00)" in text
    assert "50.0%" in text and "30.0%" in text and "20.0%" in text
    for row in group[group["row_type"] == "study"].head(3).itertuples():
        assert f"{num(row.yi)} [{num(row.ci_lb)}, {num(row.ci_ub)}]" in text
        assert f"\n{row.n1i:.0f}\n" in f"\n{text}\n"
    # The imputed study carries the dagger and its footnote.
    assert "Maksymowych 2016\u2020" in text
    assert "\u2020 Mean or SD estimated or imputed" in text
    # Pooled row: model, totals of n per arm (38+106+91, 44+109+94), estimate and CI.
    assert "Random-effects model (REML)" in text
    assert "235" in text.split("\n") and "247" in text.split("\n")
    assert f"{MINUS}3.10 [{MINUS}4.20, {MINUS}2.00]" in text
    assert f"[{MINUS}5.60, {MINUS}0.60]" in text and "95% prediction interval" in text
    assert "Heterogeneity: \u03c4\u00b2 = 0.35; I\u00b2 = 28%; Q = 2.79 (df = 2), p = 0.248" in text
    assert f"Test for overall effect: z = {MINUS}5.52 (p < 0.001)" in text
    assert "\u2190 Favours TNFi" in text and "Favours control \u2192" in text
    # No unit given: the axis names the measure only (srma's code assumes no unit).
    assert "Mean difference in change" in text.split("\n")
    # The unusable study keeps its row, marked not estimable, with its reason (said once
    # per part) in a footnote: nothing is dropped silently.
    assert "not estimable (a)" in text
    assert (
        "(a) Braun 2012: median change only, no spread; control arm not usable; "
        "intervention arm not usable." in text.replace("\n", " ")
    )

    fig = cap.figs[0]
    # One diamond; squares with area proportional to weight (side ~ sqrt(weight)).
    assert len([p for p in fig.findobj(Polygon) if len(p.get_xy()) >= 4]) == 1
    # The squares of the three usable studies, in row order (one collection).
    (squares,) = [c for c in fig.findobj(PathCollection) if len(c.get_offsets()) == 3]
    sides = [math.sqrt(s) for s in squares.get_sizes()]
    assert sides[1] / sides[0] == pytest.approx(math.sqrt(30 / 50), rel=1e-6)
    assert sides[2] / sides[0] == pytest.approx(math.sqrt(20 / 50), rel=1e-6)
    centres = [float(x) for x in squares.get_offsets()[:, 0]]
    assert centres == pytest.approx([-4.0, -2.3, -3.8])


def test_forest_plot_single_study_has_no_diamond(tmp_path, capture):
    cap = capture(forest_mod)
    # The bundled review's usual shape: one study in the group. Even a pooled row
    # (pooling.min_studies = 1) is not drawn as a diamond.
    one = dict(POOLED, k=1, tau2=0.0, I2=0.0, QE=0.0, QEp=1.0)
    group = pd.DataFrame([arm("Braun2006", 194, -5.02, 8.1, 72, -0.6, 6.9, 100.0), one])
    svg = tmp_path / "one.svg"
    forest_plot(
        group,
        svg,
        tmp_path / "one.png",
        instrument_label="ASspiMRI-a",
        timepoint_label="24 weeks",
        **ARMS,
    )
    text = svg_text(svg)
    assert "Braun 2006" in text
    assert "Single study: no pooled estimate." in text
    assert "Random-effects" not in text and "Heterogeneity" not in text
    assert not [p for p in cap.figs[0].findobj(Polygon) if len(p.get_xy()) >= 4]


def test_forest_plot_words_come_from_the_caller(tmp_path, capture):
    """Outcome, unit, arms, direction and axis label are the caller's (the review's
    config); srma's code adds no domain word."""
    capture(forest_mod)
    svg = tmp_path / "f.svg"
    drawn = forest_plot(
        three_study_group(),
        svg,
        tmp_path / "f.png",
        instrument_label="Length of stay",
        timepoint_label="12 weeks",
        intervention="specialist care",
        comparator="routine care",
        unit="days",
        favours_negative=False,
    )
    assert drawn is True
    text = svg_text(svg)
    lines = text.split("\n")
    assert "Length of stay, 12 weeks" in lines
    assert "Mean difference in change (days)" in lines
    # Higher is better: a negative effect favours the comparator.
    assert "\u2190 Favours routine care" in lines and "Favours specialist care \u2192" in lines
    assert "MD (days): specialist care minus routine care" in text.replace("\n", " ")
    forest_plot(
        three_study_group(),
        svg,
        tmp_path / "f.png",
        **LABELS,
        **ARMS,
        measure_label="Difference in days in hospital",
    )
    lines = svg_text(svg).split("\n")
    assert "Difference in days in hospital" in lines
    assert not [line for line in lines if line.startswith("Mean difference")]


def test_forest_plot_without_usable_data_lists_the_reasons(tmp_path, capture):
    """A group whose studies have no usable data is not an empty plot: a short figure
    says so and gives each study's reason."""
    cap = capture(common_mod)
    group = pd.DataFrame(
        [
            {
                "row_type": "study",
                "study_id": "Braun2012",
                "usable": False,
                "yi": math.nan,
                "ci_lb": math.nan,
                "ci_ub": math.nan,
                "reason": "median change only, no spread; median change only, no spread",
            },
            {
                "row_type": "study",
                "study_id": "Song2011",
                "usable": False,
                "yi": math.nan,
                "ci_lb": math.nan,
                "ci_ub": math.nan,
                "reason": None,
            },
        ]
    )
    svg = tmp_path / "none.svg"
    assert forest_plot(group, svg, tmp_path / "none.png", **LABELS, **ARMS) is False
    text = svg_text(svg).replace("\n", " ")
    assert "SPARCC SIJ, 12 weeks: no usable data" in text
    assert "2 studies report this outcome and time point" in text
    assert "Braun 2012: median change only, no spread" in text
    assert "no spread; median" not in text  # the repeated reason is said once
    assert "Song 2011: no reason given" in text
    assert "Favours" not in text and "Study" not in text.split()
    assert len(cap.figs) == 1 and not cap.figs[0].axes[1:]


def test_note_figure_wraps_long_text_inside_the_figure(tmp_path, capture):
    capture(common_mod)
    long = "a reason that goes on and on " * 12
    note_figure(
        tmp_path / "n.svg",
        tmp_path / "n.png",
        "A title that is long enough to need a second line in a note figure of srma " * 2,
        long,
        [long, "short"],
    )
    text = svg_text(tmp_path / "n.svg")
    assert text.count("\u2022") == 2 and "short" in text


def test_forest_plot_25_studies_with_long_labels_fit(tmp_path, capture):
    cap = capture(forest_mod)
    rows = []
    for i in range(25):
        name = (
            f"van der Heijde and the Assessment of SpondyloArthritis Society group {2000 + i}"
            if i % 4 == 0
            else f"Author{chr(65 + i)}{2000 + i}"
        )
        rows.append(arm(name, 20 + i, -3 - i / 10, 5.0, 21 + i, -1.0, 5.5, 4.0))
    rows.append(dict(POOLED, k=25))
    svg = tmp_path / "many.svg"
    forest_plot(
        pd.DataFrame(rows),
        svg,
        tmp_path / "many.png",
        instrument_label="SPARCC spine",
        timepoint_label="12 weeks",
        intervention="TNF inhibitor (any agent)",
        comparator="placebo or usual care",
    )
    text = svg_text(svg)
    for i in range(1, 25, 4):
        assert f"Author{chr(65 + i)} {2000 + i}" in text
    # Long labels are wrapped onto a second line rather than overlapping the n column.
    assert "van der Heijde and the Assessment of" in text
    assert "Favours TNF inhibitor (any agent)" in text
    assert len(cap.figs) == 1  # the Capture checked: no overlaps, nothing cut


def test_forest_plot_errors_name_study_and_field(tmp_path):
    group = three_study_group()
    group.loc[1, "ci_ub"] = float("nan")
    with pytest.raises(InputError) as err:
        forest_plot(
            group,
            tmp_path / "x.svg",
            tmp_path / "x.png",
            instrument_label="a",
            timepoint_label="b",
            **ARMS,
            source="results/pooled/sparcc_sij/12w.parquet",
        )
    msg = str(err.value)
    assert "results/pooled/sparcc_sij/12w.parquet" in msg
    assert "Maksymowych2016" in msg and "ci_ub" in msg
    assert not (tmp_path / "x.svg").exists()
    with pytest.raises(InputError, match="row_type"):
        forest_plot(
            group.drop(columns="row_type"),
            tmp_path / "x.svg",
            tmp_path / "x.png",
            instrument_label="a",
            timepoint_label="b",
            **ARMS,
        )


# ---- PRISMA ----------------------------------------------------------------------------


def prisma_counts() -> dict:
    return {
        "identified": {"PubMed": 120, "Embase": 150, "CENTRAL": 38, "total": 308},
        "duplicates_removed": 95,
        "screened": 211,
        "not_screened": 2,
        "excluded_title_abstract": 176,
        "sought": 35,
        "not_retrieved": 2,
        "assessed": 33,
        "excluded_full_text": {
            "MRI outcome not reported as ASspiMRI-a, SPARCC or Berlin score": 7,
            "conference abstract only (full paper needed)": 6,
            "baseline-only MRI analysis; no change by arm": 6,
            "total": 19,
        },
        "included_reports": 14,
        "included_studies": 11,
    }


def test_prisma_diagram_boxes_counts_and_reasons(tmp_path, capture):
    capture(prisma_mod)
    svg = tmp_path / "prisma.svg"
    prisma_diagram(prisma_counts(), svg, tmp_path / "prisma.png")
    text = svg_text(svg)
    # PRISMA 2020 template wording with the counts.
    expected = [
        "Identification of studies via databases and registers",
        "Identification",
        "Screening",
        "Included",
        "Records identified from:",
        "Databases (n = 308)",
        "PubMed (n = 120)",
        "Embase (n = 150)",
        "CENTRAL (n = 38)",
        "Registers (n = 0)",
        "Records removed before screening:",
        "Duplicate records removed (n = 95)",
        "Records screened",
        "(n = 211)",
        "Records excluded",
        "(n = 176)",
        "Records awaiting screening (n = 2)",
        "Reports sought for retrieval",
        "(n = 35)",
        "Reports not retrieved",
        "Reports assessed for eligibility",
        "(n = 33)",
        "Reports excluded:",
        "conference abstract only (full paper needed)",
        "Studies included in review",
        "(n = 11)",
        "Reports of included studies",
        "(n = 14)",
    ]
    for line in expected:
        assert line in text, line
    # A long reason is wrapped inside its box, its count kept.
    flat = re.sub(r"\s+", " ", text.replace("\u2003", " "))
    assert "MRI outcome not reported as ASspiMRI-a, SPARCC or Berlin score (n = 7)" in flat


def test_prisma_awaiting_full_text_and_records_after_duplicates(tmp_path):
    # As srma.screening writes them: sought = not_retrieved + awaiting + assessed.
    counts = prisma_counts()
    counts.update(sought=37, awaiting_full_text=2, records_after_duplicates=213)
    counts["excluded_title_abstract"] = 174
    svg = tmp_path / "p.svg"
    prisma_diagram(counts, svg, tmp_path / "p.png")
    text = re.sub(r"\s+", " ", svg_text(svg))
    assert "Reports awaiting retrieval or assessment (n = 2)" in text
    counts["records_after_duplicates"] = 212
    with pytest.raises(InputError, match="records_after_duplicates"):
        prisma_diagram(counts, tmp_path / "q.svg", tmp_path / "q.png")


def test_prisma_other_methods_column(tmp_path):
    """Reports found by other methods: the template's second column, and the included
    box counts both columns (14 + 3 reports; 11 studies + 2 new ones)."""
    counts = prisma_counts()
    counts["included_studies"] = 13
    counts["other_methods"] = {
        "identified": {"citation searching": 4, "websites": 1, "total": 5},
        "sought": 5,
        "not_retrieved": 1,
        "awaiting_full_text": 0,
        "assessed": 4,
        "excluded": {"conference abstract only": 1, "total": 1},
        "included_reports": 3,
    }
    svg = tmp_path / "p.svg"
    prisma_diagram(counts, svg, tmp_path / "p.png")
    text = re.sub(r"\s+", " ", svg_text(svg).replace("\u2003", " "))
    for line in [
        "Identification of studies via other methods",
        "citation searching (n = 4)",
        "websites (n = 1)",
        "Reports sought for retrieval (n = 5)",
        "Reports not retrieved (n = 1)",
        "Reports assessed for eligibility (n = 4)",
        "conference abstract only (n = 1)",
        "Studies included in review (n = 13)",
        "Reports of included studies (n = 17)",
    ]:
        assert line in text, line
    # Without reports found by other methods the column is not drawn.
    counts["other_methods"] = {
        "identified": {"total": 0},
        "sought": 0,
        "not_retrieved": 0,
        "assessed": 0,
        "excluded": {"total": 0},
        "included_reports": 0,
    }
    counts["included_studies"] = 11
    prisma_diagram(counts, svg, tmp_path / "p.png")
    assert "other methods" not in svg_text(svg)
    # The second column must reconcile like the first.
    counts["other_methods"] = {**counts["other_methods"], "identified": {"total": 2}}
    with pytest.raises(InputError, match="other_methods.sought"):
        prisma_diagram(counts, svg, tmp_path / "p.png")


def test_prisma_optional_keys_and_registers(tmp_path):
    counts = prisma_counts()
    counts["identified"] = {"PubMed": 300, "ClinicalTrials.gov": 8, "total": 308}
    del counts["included_reports"], counts["not_screened"]
    counts["screened"] = 213
    counts["excluded_title_abstract"] = 178
    svg = tmp_path / "p.svg"
    prisma_diagram(counts, svg, tmp_path / "p.png")
    text = svg_text(svg)
    assert "Databases (n = 300)" in text and "Registers (n = 8)" in text
    assert "ClinicalTrials.gov (n = 8)" in text
    assert "Reports of included studies" not in text
    assert "awaiting screening" not in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.pop("assessed"), "assessed"),
        (lambda c: c["identified"].pop("total"), "identified.total"),
        (lambda c: c.update(sought=34), "sought"),
        (lambda c: c["excluded_full_text"].update(total=18), "excluded_full_text.total"),
        (lambda c: c.update(duplicates_removed=-1), "duplicates_removed"),
        (lambda c: c.update(screened="211"), "screened"),
    ],
)
def test_prisma_bad_counts_name_the_key(tmp_path, change, field):
    counts = prisma_counts()
    change(counts)
    with pytest.raises(InputError) as err:
        prisma_diagram(
            counts, tmp_path / "p.svg", tmp_path / "p.png", source="results/prisma/counts.json"
        )
    assert f"field '{field}'" in str(err.value)
    assert "results/prisma/counts.json" in str(err.value)
    assert not (tmp_path / "p.svg").exists() and not (tmp_path / "p.png").exists()


# ---- heatmap ---------------------------------------------------------------------------


def correlation_rows() -> pd.DataFrame:
    rows = [
        # study, MRI measure, timing, clinical, r, n, weeks
        ("Maksymowych2016", "sparcc_sij", "change", "crp", 0.37, 89, "48"),
        ("Maksymowych2016", "sparcc_sij", "change", "crp", 0.31, 96, "12"),
        ("Maksymowych2016", "sparcc_sij", "change", "crp", 0.22, None, "12"),  # other arm
        ("Pedersen2010", "sparcc_sij", "change", "crp", 0.13, 60, None),
        ("Maksymowych2016", "sparcc_sij", "change", "basdai", 0.27, 97, "12"),
        ("PMID17644552", "asspimri", "change", "crp", -0.291, 201, "24"),
        ("Lambert2007", "sparcc_spine", "change", "crp", None, None, "12"),  # "n.s."
        ("Pedersen2010", "berlin_sij", "change", "asdas", 0.46, 60, None),
        ("Machado2012", "berlin_spine", "baseline", "asdas", 0.0, 221, "0"),  # a true zero
    ]
    return pd.DataFrame(
        [
            {
                "study_id": s,
                "mri_measure": m,
                "mri_timing": t,
                "clinical_measure": c,
                "r": r,
                "n": n,
                "timepoint_weeks": w,
            }
            for s, m, t, c, r, n, w in rows
        ]
    )


def test_heatmap_cell_values_by_hand():
    cells = cell_values(correlation_rows(), CLINICAL).set_index(
        ["clinical_measure", "mri_measure", "mri_timing"]
    )
    # Maksymowych: the week-12 row with the largest n (96) gives 0.31; Pedersen 0.13;
    # cell = median(0.31, 0.13) = 0.22.
    c = cells.loc[("crp", "sparcc_sij", "change")]
    assert c["r"] == pytest.approx(0.22) and c["k"] == 2 and not c["pooled"]
    assert cells.loc[("crp", "asspimri", "change"), "r"] == pytest.approx(-0.291)
    # Reported without r: the column exists, the cell is missing (NaN), not zero.
    assert math.isnan(cells.loc[("crp", "sparcc_spine", "change"), "r"])
    assert cells.loc[("crp", "sparcc_spine", "change"), "k"] == 0
    assert cells.loc[("asdas", "berlin_spine", "baseline"), "r"] == 0.0
    assert len(cells) == 7 * 5  # every clinical measure x every MRI column


def test_heatmap_draws_missing_cells_as_missing(tmp_path, capture):
    capture(heatmap_mod, check_overlap=False)
    pooled = pd.DataFrame(
        [
            {
                "mri_measure": "sparcc_sij",
                "mri_timing": "change",
                "clinical_measure": "basdai",
                "k": 3,
                "r": 0.41,
                "ci_lb": 0.2,
                "ci_ub": 0.58,
                "tau2": 0.01,
                "I2": 12.0,
                "method": "REML",
            }
        ]
    )
    svg = tmp_path / "h.svg"
    correlation_heatmap(
        correlation_rows(),
        svg,
        tmp_path / "h.png",
        clinical_measures=CLINICAL,
        pooled=pooled,
        measure_labels={"sparcc_sij": "SPARCC SIJ", "asspimri": "ASspiMRI-a"},
        clinical_labels=CLINICAL_LABELS,
        measure_label="MRI measure",
    )
    lines = svg_text(svg).split("\n")
    assert "SPARCC SIJ (change)" in lines and "ASspiMRI-a (change)" in lines
    assert "Morning stiffness" in lines and "CRP" in lines
    # A key without a label is shown as it is, underscores as spaces.
    assert "esr" in lines and "asdas" in lines
    assert "Correlations: Clinical measure \u00d7 MRI measure" in lines
    assert lines.count("0.22") == 1 and lines.count("k = 2") == 1
    assert "0.41*" in lines and "k = 3" in lines  # pooled r replaces the median
    assert f"{MINUS}0.29" in lines
    assert lines.count("0.00") == 1  # only the reported zero
    filled = 5  # crp x (sparcc_sij, asspimri), basdai, asdas x (berlin_sij, berlin_spine)
    assert lines.count("no data") == 7 * 5 - filled
    assert "1 reported correlation(s) without a value of r are not shown." in " ".join(lines)


def test_heatmap_rejects_r_outside_range(tmp_path):
    rows = correlation_rows()
    rows.loc[3, "r"] = 1.3
    with pytest.raises(InputError) as err:
        correlation_heatmap(
            rows, tmp_path / "h.svg", tmp_path / "h.png", clinical_measures=CLINICAL
        )
    assert "Pedersen2010" in str(err.value) and "field 'r'" in str(err.value)


@pytest.mark.parametrize(
    ("rows", "clinical", "message"),
    [
        (pd.DataFrame(), CLINICAL, "No correlations were extracted"),
        (pd.DataFrame(columns=["study_id", "mri_measure", "clinical_measure", "r"]), CLINICAL,
         "No correlations were extracted"),
        (correlation_rows(), [], "the review names no clinical measures"),
    ],
)  # fmt: skip
def test_heatmap_without_correlations_is_a_note(tmp_path, capture, rows, clinical, message):
    """A review without correlations gets a figure that says so, not an empty grid."""
    cap = capture(common_mod)
    svg = tmp_path / "h.svg"
    drawn = correlation_heatmap(
        rows,
        svg,
        tmp_path / "h.png",
        clinical_measures=clinical,
        measure_label="Length of stay",
    )
    assert drawn is False
    text = svg_text(svg).replace("\n", " ")
    assert message in text and "Correlations: Clinical measure \u00d7 Length of stay" in text
    assert "no data" not in text
    assert len(cap.figs) == 1


def test_heatmap_title_is_never_cut_off(tmp_path, capture):
    """One column: the grid is narrow, the title is not (the figure is as wide as the
    title, and a very long title wraps); the capture checks every text is inside."""
    capture(heatmap_mod, check_overlap=False)
    rows = correlation_rows().iloc[[5]]
    svg = tmp_path / "h.svg"
    for label in ("Outcome measure", "An outcome measure with a name long enough " * 3):
        assert correlation_heatmap(
            rows, svg, tmp_path / "h.png", clinical_measures=["crp"], measure_label=label
        )
        assert label.split()[-1] in svg_text(svg)


# ---- leave-one-out ---------------------------------------------------------------------

LEAVE1OUT_COLUMNS = [
    "instrument",
    "timepoint",
    "study_id",
    "k",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "Q",
    "Qp",
    "tau2",
    "I2",
    "H2",
    "pi_lb",
    "pi_ub",
    "method",
    "test",
    "level",
    "status",
    "reason",
]


def leave1out_by_hand(group: pd.DataFrame) -> pd.DataFrame:
    """The leave-one-out table of ``group``'s usable studies under a common-effect model,
    computed by hand: each refit is the inverse-variance mean of the other studies."""
    studies = group[(group["row_type"] == "study") & group["usable"].fillna(False).astype(bool)]
    rows = []
    for omit in studies["study_id"]:
        rest = studies[studies["study_id"] != omit]
        w = 1 / rest["vi"]
        est = float((w * rest["yi"]).sum() / w.sum())
        se = math.sqrt(1 / w.sum())
        q = float((w * (rest["yi"] - est) ** 2).sum())
        i2 = max(0.0, (q - (len(rest) - 1)) / q) * 100 if q > 0 else 0.0
        rows.append(
            {
                "instrument": "sparcc_sij",
                "timepoint": "12w",
                "study_id": omit,
                "k": len(rest),
                "estimate": est,
                "se": se,
                "zval": est / se,
                "pval": math.erfc(abs(est / se) / math.sqrt(2)),
                "ci_lb": est - Z975 * se,
                "ci_ub": est + Z975 * se,
                "Q": q,
                "Qp": math.nan,
                "tau2": 0.0,
                "I2": i2,
                "H2": math.nan,
                "pi_lb": est - Z975 * se,
                "pi_ub": est + Z975 * se,
                "method": "EE",
                "test": "z",
                "level": 95.0,
                "status": "estimated",
                "reason": None,
            }
        )
    return pd.DataFrame(rows, columns=LEAVE1OUT_COLUMNS)


def leave1out_not_estimated(reason: str) -> pd.DataFrame:
    row = dict.fromkeys(LEAVE1OUT_COLUMNS)
    row.update(instrument="sparcc_sij", timepoint="12w", status="not estimated", reason=reason)
    return pd.DataFrame([row], columns=LEAVE1OUT_COLUMNS)


def test_leave1out_figure_rows_by_hand(tmp_path, capture):
    capture(leave1out_mod)
    group = three_study_group()
    table = leave1out_by_hand(group)
    svg = tmp_path / "l.svg"
    assert leave1out_figure(group, table, svg, tmp_path / "l.png", **LABELS, **ARMS, measure="MD")
    lines = svg_text(svg).split("\n")
    assert "Leave-one-out analysis: SPARCC SIJ, 12 weeks" in lines
    # Every omitted study has its row with the refit's estimate and CI, in table order.
    labels = [line for line in lines if line.startswith("Omitting ")]
    assert labels == [f"Omitting {study_label(s)}" for s in table["study_id"]]
    for row in table.itertuples():
        assert f"{num(row.estimate)} [{num(row.ci_lb)}, {num(row.ci_ub)}]" in lines
        assert f"{row.I2:.0f}%" in lines
    # The full model (the pooled row) as the last row: -3.10 [-4.20, -2.00].
    assert "All studies" in lines and f"{MINUS}3.10 [{MINUS}4.20, {MINUS}2.00]" in lines
    assert "MD [95% CI]" in lines
    assert "\u2190 Favours TNFi" in lines and "Favours control \u2192" in lines
    assert "Mean difference in change" in lines
    # The unit, the axis label and the direction are the caller's.
    leave1out_figure(
        group, table, svg, tmp_path / "l.png", **LABELS, **ARMS, measure="MD", unit="days",
        favours_negative=False,
    )  # fmt: skip
    lines = svg_text(svg).split("\n")
    assert "Mean difference in change (days)" in lines
    assert "\u2190 Favours control" in lines and "Favours TNFi \u2192" in lines


def test_leave1out_figure_draws_band_and_one_marker_per_study(tmp_path, capture):
    cap = capture(leave1out_mod)
    group = three_study_group()
    table = leave1out_by_hand(group)
    leave1out_figure(
        group, table, tmp_path / "l.svg", tmp_path / "l.png", **LABELS, **ARMS, measure="MD"
    )
    fig = cap.figs[0]
    (markers,) = [c for c in fig.findobj(PathCollection) if len(c.get_offsets()) == 3]
    assert list(markers.get_offsets()[:, 0]) == pytest.approx(list(table["estimate"]))
    # The full model: a diamond spanning the pooled CI, and the band of its CI.
    (diamond,) = [p for p in fig.findobj(Polygon) if len(p.get_xy()) in (4, 5)]
    xs = diamond.get_xy()[:, 0]
    assert min(xs) == pytest.approx(-4.2) and max(xs) == pytest.approx(-2.0)


def test_leave1out_figure_not_estimated_draws_the_reason(tmp_path):
    group = three_study_group()
    reason = "2 usable studies: a leave-one-out refit needs at least 3"
    svg = tmp_path / "n.svg"
    drawn = leave1out_figure(
        group,
        leave1out_not_estimated(reason),
        svg,
        tmp_path / "n.png",
        **LABELS,
        **ARMS,
        measure="MD",
    )
    assert drawn is False
    text = re.sub(r"\s+", " ", svg_text(svg))
    assert "Leave-one-out analysis: SPARCC SIJ, 12 weeks" in text
    assert f"No leave-one-out analysis: {reason}" in text
    assert (tmp_path / "n.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_leave1out_figure_rejects_inconsistent_tables(tmp_path):
    group = three_study_group()
    kw = {**LABELS, **ARMS, "measure": "MD", "source": "results/sensitivity/x.parquet"}
    out = (tmp_path / "x.svg", tmp_path / "x.png")
    mixed = pd.concat(
        [leave1out_by_hand(group), leave1out_not_estimated("refit failed")], ignore_index=True
    )
    with pytest.raises(InputError, match="field 'status'"):
        leave1out_figure(group, mixed, *out, **kw)
    other = leave1out_by_hand(group).assign(timepoint="24w")
    with pytest.raises(InputError, match="field 'timepoint'") as err:
        leave1out_figure(group, other, *out, **kw)
    assert "results/sensitivity/x.parquet (leave-one-out table)" in str(err.value)
    unpooled = group[group["row_type"] == "study"]
    with pytest.raises(InputError, match="no pooled row"):
        leave1out_figure(unpooled, leave1out_by_hand(group), *out, **kw)
    with pytest.raises(InputError, match="field 'estimate'"):
        leave1out_figure(group, leave1out_by_hand(group).assign(estimate=math.nan), *out, **kw)
    assert not out[0].exists() and not out[1].exists()


# ---- funnel ----------------------------------------------------------------------------


def funnel_group(k: int = 12) -> pd.DataFrame:
    """A pooled group table of ``k`` usable studies and one unusable one."""
    rows = []
    for i in range(k):
        yi = -4.0 + 0.37 * ((i * 7) % 11)
        vi = 0.4 + 0.15 * i
        se = math.sqrt(vi)
        rows.append(
            {
                "instrument": "sparcc_sij",
                "timepoint": "12w",
                "row_type": "study",
                "study_id": f"Study{i:02d}{2001 + i}",
                "yi": yi,
                "vi": vi,
                "sei": se,
                "ci_lb": yi - Z975 * se,
                "ci_ub": yi + Z975 * se,
                "weight": 100 / k,
                "usable": True,
                "reason": None,
            }
        )
    rows.append(
        {
            "instrument": "sparcc_sij",
            "timepoint": "12w",
            "row_type": "study",
            "study_id": "Braun2012",
            "usable": False,
            "reason": "median change only",
        }
    )
    rows.append(dict(POOLED, estimate=-2.6, ci_lb=-3.3, ci_ub=-1.9, k=k, level=95.0))
    return pd.DataFrame(rows)


def regtest_row(**change) -> pd.DataFrame:
    row = {
        "instrument": "sparcc_sij",
        "timepoint": "12w",
        "k": 12,
        "model": "rma",
        "predictor": "sei",
        "method": "REML",
        "test": "z",
        "zval": 1.2345,
        "pval": 0.2171,
        "dfs": math.nan,
        "est": -2.5,
        "ci_lb": -4.1,
        "ci_ub": -0.9,
        "slope": 0.8,
        "status": "tested",
        "reason": None,
    }
    row.update(change)
    return pd.DataFrame([row])


TRIMFILL_COLUMNS = [
    "instrument",
    "timepoint",
    "row_type",
    "k",
    "k0",
    "side",
    "estimator",
    "yi",
    "vi",
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "tau2",
    "method",
    "test",
    "status",
    "reason",
]


def trimfill_table(filled: list[tuple[float, float]]) -> pd.DataFrame:
    """The trim-and-fill table: the model row, then one row per filled study (yi, vi)."""
    common = {"instrument": "sparcc_sij", "timepoint": "12w"}
    model = {
        **common,
        "row_type": "model",
        "k": 12 + len(filled),
        "k0": len(filled),
        "side": "left",
        "estimator": "L0",
        "estimate": -2.95,
        "se": 0.4,
        "zval": -7.4,
        "pval": 1e-13,
        "ci_lb": -3.73,
        "ci_ub": -2.17,
        "tau2": 0.2,
        "method": "REML",
        "test": "z",
        "status": "estimated",
        "reason": None,
    }
    rows = [model] + [
        {**common, "row_type": "filled", "yi": y, "vi": v, "status": "estimated"} for y, v in filled
    ]
    return pd.DataFrame(rows, columns=TRIMFILL_COLUMNS)


def test_funnel_figure_points_egger_caption_and_line(tmp_path, capture):
    cap = capture(funnel_mod)
    group = funnel_group(12)
    svg = tmp_path / "f.svg"
    assert funnel_figure(
        group, regtest_row(), None, svg, tmp_path / "f.png", **LABELS, measure="MD"
    )
    text = re.sub(r"\s+", " ", svg_text(svg))
    assert "Funnel plot: SPARCC SIJ, 12 weeks" in text
    assert (
        "Egger's regression test for funnel asymmetry (k = 12): z = 1.23, p = 0.217; "
        f"limit estimate {MINUS}2.50 [{MINUS}4.10, {MINUS}0.90]." in text
    )
    assert "Standard error" in text and "pseudo 95% CI" in text and "Trim and fill" not in text
    assert "Mean difference in change" in svg_text(svg).split("\n")  # no unit given
    fig = cap.figs[0]
    # Every usable study is a point at (yi, sei); the unusable one is not drawn.
    studies = group[(group["row_type"] == "study") & group["usable"]]
    (points,) = [c for c in fig.findobj(PathCollection) if len(c.get_offsets())]
    xy = points.get_offsets()
    assert list(xy[:, 0]) == pytest.approx(list(studies["yi"]))
    assert list(xy[:, 1]) == pytest.approx(list(studies["sei"]))
    # Egger's line yi = est + slope * sei, in red.
    (line,) = [ln for ln in fig.findobj(Line2D) if to_hex(ln.get_color()) == "#b2182b"]
    se = np.asarray(line.get_ydata())
    assert np.asarray(line.get_xdata()) == pytest.approx(-2.5 + 0.8 * se)
    assert se.max() > studies["sei"].max()
    # The pooled estimate (vertical line at -2.6) is the centre of the funnel.
    assert any(
        list(ln.get_xdata()) == [-2.6, -2.6] for ln in fig.findobj(Line2D) if len(ln.get_xdata())
    )


def test_funnel_figure_t_test_and_trim_and_fill(tmp_path, capture):
    cap = capture(funnel_mod)
    group = funnel_group(12)
    egger = regtest_row(test="knha", dfs=10.0, zval=2.5, pval=0.0314)
    filled = [(-5.1, 1.9), (-4.6, 1.4)]
    svg = tmp_path / "f.svg"
    funnel_figure(
        group, egger, trimfill_table(filled), svg, tmp_path / "f.png", **LABELS, measure="MD"
    )
    text = re.sub(r"\s+", " ", svg_text(svg))
    assert "(k = 12): t(10) = 2.50, p = 0.031" in text
    assert (
        "Trim and fill (L0 estimator): 2 studies filled on the left side (open circles); "
        f"adjusted estimate {MINUS}2.95 [{MINUS}3.73, {MINUS}2.17] (dotted line)." in text
    )
    assert "open circles: studies filled by trim and fill" in text
    # The filled studies: open circles at (yi, sqrt(vi)).
    fig = cap.figs[0]
    (open_points,) = [c for c in fig.findobj(PathCollection) if len(c.get_offsets()) == 2]
    assert list(open_points.get_offsets()[:, 0]) == pytest.approx([-5.1, -4.6])
    assert list(open_points.get_offsets()[:, 1]) == pytest.approx([math.sqrt(1.9), math.sqrt(1.4)])
    assert to_hex(open_points.get_facecolor()[0]) == "#ffffff"
    # Trim and fill without filled studies, or not estimated: said in the caption.
    none = trimfill_table([])
    funnel_figure(group, egger, none, svg, tmp_path / "f.png", **LABELS, measure="MD")
    assert "no missing studies estimated" in re.sub(r"\s+", " ", svg_text(svg))
    failed = none.assign(status="not estimated", reason="did not converge")
    funnel_figure(group, egger, failed, svg, tmp_path / "f.png", **LABELS, measure="MD")
    assert "Trim and fill: not estimated (did not converge)." in re.sub(r"\s+", " ", svg_text(svg))


def test_funnel_figure_unit_and_long_labels_fit(tmp_path, capture):
    """The axis names the caller's unit; a long title or axis label wraps inside the
    figure (the capture checks every text is inside and none overlaps)."""
    capture(funnel_mod)
    svg = tmp_path / "f.svg"
    assert funnel_figure(
        funnel_group(12),
        regtest_row(),
        None,
        svg,
        tmp_path / "f.png",
        instrument_label="Length of hospital stay after admission " * 3,
        timepoint_label="12 weeks",
        measure="MD",
        unit="days",
    )
    assert "Mean difference in change (days)" in svg_text(svg).split("\n")
    funnel_figure(
        funnel_group(12),
        regtest_row(),
        None,
        svg,
        tmp_path / "f.png",
        **LABELS,
        measure="MD",
        measure_label="Difference in the number of days spent in hospital " * 2,
    )
    assert "hospital" in svg_text(svg)


def test_funnel_figure_not_tested_draws_the_reason(tmp_path):
    reason = "9 usable studies, fewer than the 10 needed for Egger's test"
    egger = regtest_row(status="not tested", reason=reason, zval=math.nan, pval=math.nan)
    svg = tmp_path / "n.svg"
    drawn = funnel_figure(
        funnel_group(9), egger, None, svg, tmp_path / "n.png", **LABELS, measure="MD"
    )
    assert drawn is False
    text = re.sub(r"\s+", " ", svg_text(svg))
    assert "Funnel plot: SPARCC SIJ, 12 weeks" in text
    assert f"No funnel plot and no Egger's test: {reason}" in text


def test_funnel_figure_rejects_inconsistent_tables(tmp_path):
    group = funnel_group(12)
    out = (tmp_path / "x.svg", tmp_path / "x.png")
    kw = {**LABELS, "measure": "MD", "source": "results/bias/x"}
    with pytest.raises(InputError, match="field 'k'") as err:
        funnel_figure(group, regtest_row(k=11), None, *out, **kw)
    assert "results/bias/x (Egger's test table)" in str(err.value)
    with pytest.raises(InputError, match="2 rows"):
        funnel_figure(group, pd.concat([regtest_row(), regtest_row()]), None, *out, **kw)
    with pytest.raises(InputError, match="field 'instrument'"):
        funnel_figure(group, regtest_row(instrument="berlin_sij"), None, *out, **kw)
    with pytest.raises(InputError, match="field 'k0'"):
        funnel_figure(group, regtest_row(), trimfill_table([(-5.1, 1.9)]).iloc[:1], *out, **kw)
    with pytest.raises(InputError, match="filled row 2"):
        funnel_figure(group, regtest_row(), trimfill_table([(-5.1, 1.9), (-4.6, 0)]), *out, **kw)
    with pytest.raises(InputError, match="no pooled row"):
        funnel_figure(group[group["row_type"] == "study"], regtest_row(), None, *out, **kw)
    assert not out[0].exists() and not out[1].exists()


def test_counts_json_roundtrip_draws_same_bytes(tmp_path):
    # counts.json as written by srma.io.write_json (sorted keys) gives the same figure.
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(prisma_counts(), sort_keys=True, indent=2))
    prisma_diagram(json.loads(path.read_text()), tmp_path / "a.svg", tmp_path / "a.png")
    prisma_diagram(prisma_counts(), tmp_path / "b.svg", tmp_path / "b.png")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_forest_plot_of_a_pool_group_table(tmp_path):
    """The pooling stage's own output (data-model section 5) draws without adaptation."""
    from srma.group import pool_group

    arms = {
        "Lambert2007": (38, -5.0, 4.0, 44, -1.0, 5.0),
        "Maksymowych2016": (106, -3.5, 6.2, 109, -1.2, 5.9),
        "Sieper2013": (91, -4.1, 7.5, 94, -0.3, 6.8),
    }
    rows = []
    for sid, (n1, m1, s1, n2, m2, s2) in arms.items():
        for arm_name, n, m, s in (("intervention", n1, m1, s1), ("control", n2, m2, s2)):
            rows.append(
                {
                    "study_id": sid,
                    "trial": sid,
                    "instrument": "sparcc_sij",
                    "timepoint": "12w",
                    "timepoint_weeks": 12.0,
                    "arm": arm_name,
                    "arm_label": arm_name,
                    "n": n,
                    "mean_change": m,
                    "sd_change": s,
                    "mean_flag": "reported",
                    "sd_flag": "reported",
                    "method": "reported",
                    "usable": True,
                    "reason": None,
                    "source": "Table 2",
                }
            )
    group = pool_group(pd.DataFrame(rows), instrument="sparcc_sij", timepoint="12w")
    svg = tmp_path / "g.svg"
    forest_plot(group, svg, tmp_path / "g.png", **LABELS, **ARMS)
    lines = svg_text(svg).split("\n")
    # Sieper 2013 by hand: yi = -3.8, vi = 7.5^2/91 + 6.8^2/94 = 1.110047, CI -3.8 -/+ 2.0650.
    assert f"{MINUS}3.80 [{MINUS}5.86, {MINUS}1.74]" in lines
    studies = group[group["row_type"] == "study"]
    assert [f"{w:.1f}%" for w in studies["weight"]] == [
        line for line in lines if line.endswith("%") and line != "100.0%" and "I" not in line
    ]
    assert studies["weight"].sum() == pytest.approx(100)
    assert "Random-effects model (REML)" in lines and "235" in lines and "247" in lines
    # The same table (Parquet-like string columns, pd.NA) feeds the leave-one-out and
    # funnel figures, with the sensitivity tables built by hand.
    table = leave1out_by_hand(group)
    svg = tmp_path / "l.svg"
    assert leave1out_figure(group, table, svg, tmp_path / "l.png", **LABELS, **ARMS, measure="MD")
    lines = svg_text(svg).split("\n")
    pooled = group[group["row_type"] == "pooled"].iloc[0]
    full = f"{num(pooled['estimate'])} [{num(pooled['ci_lb'])}, {num(pooled['ci_ub'])}]"
    assert full in lines and f"{num(table['estimate'].iloc[2])}" in " ".join(lines)
    egger = regtest_row(k=3, test="z")
    svg = tmp_path / "u.svg"
    assert funnel_figure(group, egger, None, svg, tmp_path / "u.png", **LABELS, measure="MD")
    assert "(k = 3): z = 1.23" in re.sub(r"\s+", " ", svg_text(svg))


# ---- results page ----------------------------------------------------------------------


def results_tables() -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """``pooled.csv`` of two groups (one pooled, one without usable data), as read back
    from the CSV, and their pooled group tables."""
    pooled_group = three_study_group()
    pooled_group["instrument"], pooled_group["timepoint"] = "sparcc_sij", "12w"
    empty_group = pd.DataFrame(
        [
            {
                "instrument": "asspimri",
                "timepoint": "24w",
                "row_type": "study",
                "study_id": "Braun2006",
                "usable": False,
                "reason": "no SD of the change; no SD of the change",
            }
        ]
    )
    summary = pd.DataFrame(
        [
            {
                "instrument": "sparcc_sij",
                "timepoint": "12w",
                "k": 3,
                "n_intervention": 235.0,
                "n_control": 247.0,
                "measure": "MD",
                "estimate": -3.1,
                "ci_lb": -4.2,
                "ci_ub": -2.0,
                "pval": 3.4e-8,
                "tau2": 0.35,
                "I2": 28.4,
                "pi_lb": -5.6,
                "pi_ub": -0.6,
                "method": "REML",
                "test": "z",
                "status": "pooled",
                "studies": "Lambert2007; Maksymowych2016; Sieper2013",
            },
            {
                "instrument": "asspimri",
                "timepoint": "24w",
                "k": 0,
                "measure": "MD",
                "method": "REML",
                "test": "z",
                "status": "no usable data",
            },
        ]
    )
    return summary, [empty_group, pooled_group]


RESULTS_LABELS = {
    "instrument_labels": {"sparcc_sij": "SPARCC SIJ", "asspimri": "ASspiMRI-a"},
    "timepoint_labels": {"12w": "12 weeks", "24w": "24 weeks"},
    "intervention": "TNFi",
    "comparator": "control",
    "unit": "points",
    "outcome_label": "the test scores",
    "title": "A test review",
}


def visible(html_text: str) -> str:
    """The text of an HTML page, tags removed, entities decoded, whitespace collapsed."""
    import html

    text = re.sub(r"<(style|title)\b.*?</\1>", " ", html_text, flags=re.S)
    text = re.sub(r"</?(strong|code|b|em)>", "", text)  # inline: no space
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


def test_results_page_lists_every_group_by_label_with_reasons(tmp_path):
    from srma.figures.results import results_page

    summary, groups = results_tables()
    page, short = tmp_path / "results.html", tmp_path / "summary.html"
    results_page(summary, groups, page, short, **RESULTS_LABELS, min_studies=2)
    text = visible(page.read_text(encoding="utf-8"))
    assert "A test review" in text
    # Groups by their labels, never the config's keys, in the order of pooled.csv.
    assert "sparcc_sij" not in text and "12w" not in text and "asspimri" not in text
    assert text.index("SPARCC SIJ, 12 weeks") < text.index("ASspiMRI-a, 24 weeks")
    assert "2 outcome \u00d7 time point groups: 1 pooled, 1 without usable data." in text
    assert "MD: TNFi minus control, change from baseline in the test scores (points); " in text
    assert "negative values favour TNFi." in text
    # The pooled group's numbers, formatted as in the figures.
    row = text[text.index("1 SPARCC SIJ, 12 weeks") :]
    assert row.startswith(
        f"1 SPARCC SIJ, 12 weeks pooled, 3 studies 3 of 4 235 / 247 {MINUS}3.10 "
        f"[{MINUS}4.20, {MINUS}2.00] < 0.001 0.35 28% [{MINUS}5.60, {MINUS}0.60]"
    )
    assert "Pooled: Lambert 2007; Maksymowych 2016; Sieper 2013." in text
    assert (
        "Not used: Braun 2012 (median change only, no spread; control arm not usable; "
        "intervention arm not usable)." in text
    )
    # The group without usable data: in the table, and listed with each study's reason.
    assert "2 ASspiMRI-a, 24 weeks no usable data 0 of 1" in text
    assert "Groups without usable data" in text
    assert "ASspiMRI-a, 24 weeks: Braun 2006: no SD of the change" in text
    # The first page's summary: the groups with an estimate, then those without data.
    first = visible(short.read_text(encoding="utf-8"))
    assert first.startswith("Results. 2 outcome \u00d7 time point groups: 1 pooled")
    assert f"1 SPARCC SIJ, 12 weeks 3 {MINUS}3.10 [{MINUS}4.20, {MINUS}2.00] < 0.001" in first
    assert "No usable data: ASspiMRI-a (24 weeks)." in first
    # Same inputs, same bytes.
    before = page.read_bytes(), short.read_bytes()
    results_page(summary, groups, page, short, **RESULTS_LABELS, min_studies=2)
    assert (page.read_bytes(), short.read_bytes()) == before


def test_results_page_escapes_labels_and_names_statuses(tmp_path):
    from srma.figures.results import results_page, status_text

    summary, groups = results_tables()
    labels = dict(RESULTS_LABELS, title="<b>A & B</b>", intervention="drug <x>")
    results_page(summary, groups, tmp_path / "p.html", tmp_path / "s.html", **labels)
    html_text = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "<b>A" not in html_text and "&lt;b&gt;A &amp; B&lt;/b&gt;" in html_text
    assert "drug &lt;x&gt;" in html_text
    assert status_text("pooled", 1) == "pooled, 1 study"
    assert status_text("single study", 1) == "single study: not pooled"
    assert status_text("too few studies", 2, 3) == (
        "2 usable studies: too few to pool (at least 3 needed)"
    )
    assert status_text("no usable data", 0) == "no usable data"
    with pytest.raises(InputError, match="status"):
        results_page(
            summary.drop(columns="status"), groups, tmp_path / "p.html", tmp_path / "s.html",
            **RESULTS_LABELS,
        )  # fmt: skip


# ---- determinism -----------------------------------------------------------------------


def draw_all(out: Path) -> dict[str, str]:
    """Every kind of srma figure drawn into ``out``; {file name: sha256 of its bytes}."""
    out.mkdir(parents=True, exist_ok=True)
    group = three_study_group()
    forest_plot(group, out / "forest.svg", out / "forest.png", **LABELS, **ARMS)
    prisma_diagram(prisma_counts(), out / "prisma.svg", out / "prisma.png")
    correlation_heatmap(
        correlation_rows(), out / "heatmap.svg", out / "heatmap.png", clinical_measures=CLINICAL
    )
    leave1out_figure(
        group,
        leave1out_by_hand(group),
        out / "leave1out.svg",
        out / "leave1out.png",
        **LABELS,
        **ARMS,
        measure="MD",
    )
    funnel_figure(
        funnel_group(12),
        regtest_row(),
        trimfill_table([(-5.1, 1.9), (-4.6, 1.4)]),
        out / "funnel.svg",
        out / "funnel.png",
        **LABELS,
        measure="MD",
    )
    note_figure(out / "note.svg", out / "note.png", "SPARCC SIJ, 12 weeks", "not pooled")
    from srma.figures.results import results_page

    summary, groups = results_tables()
    results_page(summary, groups, out / "results.html", out / "summary.html", **RESULTS_LABELS)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


#: Run in a new process: draws every figure and prints the hashes (and the matplotlib
#: version) as JSON.
DRAW_ALL = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import matplotlib
from test_figures import draw_all
print(json.dumps({{"matplotlib": matplotlib.__version__, "files": draw_all(Path(sys.argv[1]))}}))
"""


def draw_all_in_process(out: Path, env: dict | None = None) -> dict:
    """:func:`draw_all` in a new Python process (``env``: its environment)."""
    done = subprocess.run(
        [sys.executable, "-c", DRAW_ALL.format(tests=str(TESTS)), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG file."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]))
        pos += 12 + size
    return chunks


def test_figures_are_byte_identical_on_rerun_and_in_threads(tmp_path):
    first = draw_all(tmp_path / "a")
    assert len(first) == 14  # six figures, SVG and PNG each, and the results page (2 files)
    assert draw_all(tmp_path / "b") == first
    # Rules may run in threads of one process: same bytes when drawn concurrently.
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda i: draw_all(tmp_path / f"t{i}"), range(3)))
    assert all(run == first for run in runs)


def test_figures_are_byte_identical_in_other_processes(tmp_path):
    here = draw_all(tmp_path / "here")
    one = draw_all_in_process(tmp_path / "one")
    two = draw_all_in_process(tmp_path / "two")
    assert one["matplotlib"] == matplotlib.__version__
    assert one["files"] == here and two["files"] == here


def test_figures_do_not_depend_on_global_rcparams(tmp_path, monkeypatch):
    """A matplotlibrc (or another library) changing the global rcParams changes nothing."""
    before = draw_all(tmp_path / "before")
    for key, value in {
        "font.family": ["serif"],
        "lines.linewidth": 4.0,
        "text.hinting": "force_autohint",
        "xtick.labelsize": 20.0,
        "svg.hashsalt": None,
        "svg.fonttype": "path",
        "axes.unicode_minus": False,
    }.items():
        monkeypatch.setitem(matplotlib.rcParams, key, value)
    assert draw_all(tmp_path / "after") == before
    assert matplotlib.rcParams["lines.linewidth"] == 4.0  # restored after each figure


def test_saved_files_hold_no_version_or_date(tmp_path):
    svg_path, png_path = tmp_path / "f.svg", tmp_path / "f.png"
    forest_plot(three_study_group(), svg_path, png_path, **LABELS, **ARMS)
    svg = svg_path.read_text()
    # No date, and the creator is srma rather than the matplotlib version.
    assert "<dc:date>" not in svg and "<dc:title>srma</dc:title>" in svg
    assert "Matplotlib v" not in svg and "matplotlib.org" not in svg
    # Text kept as text (svg.fonttype "none"): no glyph outlines.
    assert svg.count("<text ") > 50 and 'id="DejaVuSans' not in svg
    assert "font-family" in svg or "font:" in svg
    chunks = png_chunks(png_path.read_bytes())
    assert [tag for tag, _ in chunks if tag not in (b"IDAT",)] == [b"IHDR", b"pHYs", b"IEND"]
    # 300 dpi: 11811 pixels per metre on both axes.
    phys = dict(chunks)[b"pHYs"]
    assert int.from_bytes(phys[:4], "big") == int.from_bytes(phys[4:8], "big") == 11811
    ihdr = dict(chunks)[b"IHDR"]
    width = int.from_bytes(ihdr[:4], "big")
    svg_width = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1))
    assert width == pytest.approx(svg_width / 72 * 300, abs=1)


def test_text_measure_matches_drawn_text():
    """Text is measured as matplotlib draws it: widths within 1/100 inch, heights (rounded
    to whole pixels by some matplotlib releases) within 2/100 inch."""
    tm = TextMeasure()
    texts = [
        ("Maksymowych 2016\u2020", 9, "normal"),
        (f"{MINUS}4.00 [{MINUS}5.95, {MINUS}2.05]", 9, "bold"),
        ("Heterogeneity: \u03c4\u00b2 = 0.35; I\u00b2 = 28%", 8.5, "normal"),
        ("Favours control \u2192", 11, "bold"),
    ]
    with figure_context():
        fig = new_figure(6, 2)
        renderer = fig.canvas.get_renderer()
        for s, size, weight in texts:
            artist = fig.text(0.1, 0.5, s, fontproperties=font(size, weight))
            drawn = artist.get_window_extent(renderer).width / fig.dpi
            assert tm.width(s, size, weight) == pytest.approx(drawn, abs=0.01), s
        two = fig.text(0, 0, "a\nb", fontproperties=font(9), linespacing=1.2)
        assert tm.height("a\nb", 9, 1.2) == pytest.approx(
            two.get_window_extent(renderer).height / fig.dpi, abs=0.02
        )
    assert tm.wrap("one two three four five six", 0.8).count("\n") >= 1
    assert all(tm.width(line) <= 0.8 for line in tm.wrap("one two three four five", 0.8).split())


# ---- public API only, no statistics ----------------------------------------------------


def test_figure_code_uses_matplotlib_public_api_only():
    """No private matplotlib name (``_x``) is imported or read from a matplotlib object,
    and no matplotlib class is subclassed; nor does the code write PNGs by hand."""
    for path in sorted(FIGURES.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("matplotlib"):
                assert not any(part.startswith("_") for part in node.module.split(".")), where
                assert not any(a.name.startswith("_") for a in node.names), where
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] not in ("zlib", "PIL", "struct"), where
                    if alias.name.startswith("matplotlib"):
                        assert not any(p.startswith("_") for p in alias.name.split(".")), where
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in ("zlib", "PIL", "struct"), where
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                # Our own private attributes only (self._x, module-level _x of srma).
                assert isinstance(node.value, ast.Name) and node.value.id == "self", (
                    f"{where}: .{node.attr}"
                )
            if isinstance(node, ast.ClassDef):
                assert not node.bases, f"{where}: class {node.name} subclasses"
    assert not hasattr(common_mod, "encode_png")


def test_figures_import_no_statistics():
    """The figure code only draws: importing it loads none of srma's statistics."""
    code = (
        "import sys\n"
        "import srma.figures.common, srma.figures.forest, srma.figures.funnel, "
        "srma.figures.heatmap, srma.figures.leave1out, srma.figures.prisma, "
        "srma.figures.results\n"
        "import json\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('srma'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    statistics = {"srma.pooling", "srma.bias", "srma.sensitivity", "srma.group_sensitivity"}
    figures = {f"srma.figures.{p.stem}" for p in FIGURES.glob("*.py") if p.stem != "__init__"}
    assert loaded <= {"srma", "srma.errors", "srma.io", "srma.figures"} | figures, loaded
    for path in FIGURES.glob("*.py"):
        source = path.read_text()
        for name in statistics | {"srma.group", "scipy.optimize", "statsmodels"}:
            assert f"{name} import" not in source and f"import {name}" not in source, (
                path.name,
                name,
            )


# ---- the previous matplotlib minor release ---------------------------------------------


def previous_minor() -> str:
    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return f"{major}.{minor - 1}"


@pytest.fixture(scope="session")
def previous_matplotlib(request, tmp_path_factory) -> Path:
    """A folder holding the previous matplotlib minor release (``pip install --target``,
    kept in pytest's cache between runs); skips when pip cannot download it."""
    version = previous_minor()
    cache = getattr(request.config, "cache", None)
    target = (
        cache.mkdir(f"srma-matplotlib-{version}")
        if cache is not None
        else tmp_path_factory.mktemp(f"matplotlib-{version}")
    )
    if (target / ".complete").exists():
        return target
    for old in target.iterdir():
        subprocess.run(["rm", "-rf", str(old)], check=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--target",
        str(target),
        f"matplotlib=={version}.*",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip could not download matplotlib {version}.x within 10 minutes")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        pytest.skip(f"pip could not install matplotlib {version}.x: {' '.join(tail)}")
    (target / ".complete").write_text(version)
    return target


@pytest.mark.slow
def test_figures_under_previous_matplotlib_minor_release(previous_matplotlib, tmp_path):
    """The figure tests pass, and figures are byte-identical on rerun, in threads and
    across processes, under the previous matplotlib minor release (pyproject's pin is
    one minor release: this shows the public API in use works across releases)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(previous_matplotlib), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("PYTEST_ADDOPTS", None)
    one = draw_all_in_process(tmp_path / "one", env)
    two = draw_all_in_process(tmp_path / "two", env)
    assert one["matplotlib"].startswith(previous_minor() + "."), one["matplotlib"]
    assert one["files"] == two["files"] and len(one["files"]) == 14
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(Path(__file__)),
            "-q",
            "-m",
            "not slow",
            "-p",
            "no:cacheprovider",
            "-x",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(TESTS.parent),
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
