"""Figures: content (study rows, pooled values, PRISMA counts, heatmap cells), layout (no
text overlaps or leaves the figure) and byte-identical reruns.

The input tables are built by hand in the shape of docs/data-model.md (sections 3, 5, 6);
the expected numbers are computed here from the textbook formulas (mean difference
``yi = m1 - m2``, ``vi = sd1^2/n1 + sd2^2/n2``, Wald CI ``yi +/- 1.959964 * sqrt(vi)``) and
formatted by hand, independently of the figure code.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.text import Text
from PIL import Image

import srma.figures.common as common_mod
import srma.figures.forest as forest_mod
import srma.figures.funnel as funnel_mod
import srma.figures.heatmap as heatmap_mod
import srma.figures.leave1out as leave1out_mod
import srma.figures.prisma as prisma_mod
from srma.errors import InputError
from srma.figures.common import Canvas, encode_png, figure_context, font
from srma.figures.forest import forest_plot, study_label
from srma.figures.funnel import funnel_plot
from srma.figures.heatmap import cell_values, correlation_heatmap
from srma.figures.leave1out import leave1out_plot
from srma.figures.prisma import prisma_diagram

Z975 = 1.959963984540054
MINUS = "\u2212"
CLINICAL = ["crp", "esr", "basdai", "basfi", "asdas", "pain", "morning_stiffness"]


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
        # Tick labels outside the view limits, or of an axes switched off, are not drawn.
        hidden = set()
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                drawn = {id(t) for t in axis._update_ticks()} if ax.axison else set()
                for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                    if id(tick) not in drawn:
                        hidden |= {id(tick.label1), id(tick.label2)}
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
    forest_plot(group, svg, png, instrument_label="SPARCC SIJ", timepoint_label="12 weeks")
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
    assert "Mean difference in change (score points)" in text
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
        group, svg, tmp_path / "one.png", instrument_label="ASspiMRI-a", timepoint_label="24 weeks"
    )
    text = svg_text(svg)
    assert "Braun 2006" in text
    assert "Single study: no pooled estimate." in text
    assert "Random-effects" not in text and "Heterogeneity" not in text
    assert not [p for p in cap.figs[0].findobj(Polygon) if len(p.get_xy()) >= 4]


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
        )


def test_figures_are_byte_identical_on_rerun_and_in_threads(tmp_path):
    group = three_study_group()
    kw = {"instrument_label": "SPARCC SIJ", "timepoint_label": "12 weeks"}
    forest_plot(group, tmp_path / "a.svg", tmp_path / "a.png", **kw)
    forest_plot(group, tmp_path / "b.svg", tmp_path / "b.png", **kw)
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    svg = (tmp_path / "a.svg").read_text()
    # No date, and the creator is srma rather than the matplotlib version.
    assert "<dc:date>" not in svg and "<dc:title>srma</dc:title>" in svg
    assert "Matplotlib v" not in svg
    assert b"Software" not in (tmp_path / "a.png").read_bytes()
    # Rules may run in threads of one process: same bytes when drawn concurrently.
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: forest_plot(group, tmp_path / f"t{i}.svg", tmp_path / f"t{i}.png", **kw),
                range(4),
            )
        )
    for i in range(4):
        assert (tmp_path / f"t{i}.svg").read_bytes() == (tmp_path / "a.svg").read_bytes()
        assert (tmp_path / f"t{i}.png").read_bytes() == (tmp_path / "a.png").read_bytes()


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
        mri_labels={"sparcc_sij": "SPARCC SIJ", "asspimri": "ASspiMRI-a"},
    )
    lines = svg_text(svg).split("\n")
    assert "SPARCC SIJ (change)" in lines and "ASspiMRI-a (change)" in lines
    assert "Morning stiffness" in lines and "CRP" in lines
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


# ---- funnel ----------------------------------------------------------------------------


def funnel_data(k: int):
    yi = [-4.0 + 0.37 * ((i * 7) % 11) for i in range(k)]
    vi = [0.4 + 0.15 * i for i in range(k)]
    return yi, vi


def test_funnel_not_drawn_below_ten_studies(tmp_path, caplog):
    yi, vi = funnel_data(9)
    with caplog.at_level(logging.INFO, logger="srma.figures.funnel"):
        drawn = funnel_plot(
            yi,
            vi,
            tmp_path / "f.svg",
            tmp_path / "f.png",
            estimate=-3.0,
            egger=None,
            title="SPARCC SIJ, 12 weeks",
        )
    assert drawn is False
    assert not list(tmp_path.iterdir())
    assert "9 studies, fewer than the 10 needed" in caplog.text
    assert "SPARCC SIJ, 12 weeks" in caplog.text


def test_funnel_plot_points_and_egger_caption(tmp_path, capture):
    cap = capture(funnel_mod)
    yi, vi = funnel_data(10)
    egger = {
        "zval": 1.2345,
        "pval": 0.2171,
        "dfs": None,
        "est": -2.5,
        "ci_lb": -4.1,
        "ci_ub": -0.9,
        "slope": 0.8,
    }
    svg = tmp_path / "f.svg"
    assert funnel_plot(yi, vi, svg, tmp_path / "f.png", estimate=-3.0, egger=egger)
    text = re.sub(r"\s+", " ", svg_text(svg))
    assert (
        "Egger's regression test for funnel asymmetry (k = 10): z = 1.23, p = 0.217; "
        f"limit estimate {MINUS}2.50 [{MINUS}4.10, {MINUS}0.90]." in text
    )
    assert "Standard error" in text and "pseudo 95% CI" in text
    points = [c for c in cap.figs[0].findobj(PathCollection) if len(c.get_offsets()) == 10]
    assert len(points) == 1
    xy = points[0].get_offsets()
    assert list(xy[:, 0]) == pytest.approx(yi)
    assert list(xy[:, 1]) == pytest.approx([math.sqrt(v) for v in vi])


# ---- leave-one-out ---------------------------------------------------------------------


def test_leave1out_plot_rows(tmp_path, capture):
    capture(leave1out_mod)
    table = pd.DataFrame(
        {
            "slab": ["Lambert2007", "Maksymowych2016", "Sieper2013"],
            "k": [2, 2, 2],
            "estimate": [-2.9, -4.0, -3.0],
            "ci_lb": [-3.8, -5.7, -4.4],
            "ci_ub": [-2.0, -2.3, -1.6],
            "I2": [0.0, 41.2, 55.0],
        }
    )
    svg = tmp_path / "l.svg"
    leave1out_plot(
        table,
        svg,
        tmp_path / "l.png",
        estimate=-3.1,
        ci_lb=-4.2,
        ci_ub=-2.0,
        instrument_label="SPARCC SIJ",
        timepoint_label="12 weeks",
    )
    lines = svg_text(svg).split("\n")
    assert "Leave-one-out analysis: SPARCC SIJ, 12 weeks" in lines
    assert "Omitting Maksymowych 2016" in lines
    assert f"{MINUS}4.00 [{MINUS}5.70, {MINUS}2.30]" in lines
    assert f"{MINUS}3.10 [{MINUS}4.20, {MINUS}2.00]" in lines  # all studies
    assert "41%" in lines and "55%" in lines


def test_counts_json_roundtrip_draws_same_bytes(tmp_path):
    # counts.json as written by srma.io.write_json (sorted keys) gives the same figure.
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(prisma_counts(), sort_keys=True, indent=2))
    prisma_diagram(json.loads(path.read_text()), tmp_path / "a.svg", tmp_path / "a.png")
    prisma_diagram(prisma_counts(), tmp_path / "b.svg", tmp_path / "b.png")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


# ---- group-level drivers (with srma's pooling engine) ---------------------------------


def test_leave1out_group_common_effect_by_hand(tmp_path):
    from srma.figures.leave1out import leave1out_group

    group = three_study_group()
    pooled = group["row_type"] == "pooled"
    group.loc[pooled, "method"] = "EE"
    svg = tmp_path / "l.svg"
    assert leave1out_group(group, svg, tmp_path / "l.png", instrument_label="SPARCC SIJ")
    lines = svg_text(svg).split("\n")
    studies = group[(group["row_type"] == "study") & group["usable"].fillna(False).astype(bool)]
    for omit in studies["study_id"]:
        rest = studies[studies["study_id"] != omit]
        w = 1 / rest["vi"]
        est = float((w * rest["yi"]).sum() / w.sum())  # inverse-variance mean of the others
        se = math.sqrt(1 / w.sum())
        assert f"{num(est)} [{num(est - Z975 * se)}, {num(est + Z975 * se)}]" in lines
        assert f"Omitting {study_label(omit)}" in lines
    # No pooled row (fewer than pooling.min_studies usable studies): nothing drawn.
    single = group[group["study_id"] == "Lambert2007"]
    assert not leave1out_group(single, tmp_path / "s.svg", tmp_path / "s.png")
    assert not (tmp_path / "s.svg").exists()


def test_funnel_plots_status_for_every_group(tmp_path):
    from srma.bias import regtest
    from srma.figures.funnel import funnel_plots

    yi, vi = funnel_data(12)
    big = pd.DataFrame(
        [
            {"row_type": "study", "study_id": f"S{i:02d}", "yi": y, "vi": v, "usable": True}
            for i, (y, v) in enumerate(zip(yi, vi, strict=True))
        ]
        + [{"row_type": "pooled", "estimate": -2.6, "method": "REML", "test": "z"}]
    )
    groups = {
        "sparcc_sij_12w": big,
        "asspimri_24w": three_study_group(),
        "berlin_sij_48w": three_study_group().query("row_type == 'study'"),
    }
    status = funnel_plots(groups, tmp_path / "funnel", titles={"sparcc_sij_12w": "SPARCC SIJ"})
    assert [s["group"] for s in status] == ["asspimri_24w", "berlin_sij_48w", "sparcc_sij_12w"]
    assert status[0]["drawn"] is False and status[0]["reason"] == "3 studies, fewer than 10"
    assert status[1]["reason"] == "not pooled"
    assert status[2]["drawn"] is True and status[2]["k"] == 12
    egger = regtest(yi, vi, model="rma", predictor="sei", method="REML", test="z")
    assert status[2]["pval"] == pytest.approx(egger["pval"])
    assert sorted(p.name for p in (tmp_path / "funnel").iterdir()) == [
        "sparcc_sij_12w.png",
        "sparcc_sij_12w.svg",
    ]
    text = re.sub(r"\s+", " ", svg_text(tmp_path / "funnel" / "sparcc_sij_12w.svg"))
    assert f"(k = 12): z = {num(egger['zval'])}" in text and "SPARCC SIJ" in text


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
    forest_plot(
        group, svg, tmp_path / "g.png", instrument_label="SPARCC SIJ", timepoint_label="12 weeks"
    )
    lines = svg_text(svg).split("\n")
    # Sieper 2013 by hand: yi = -3.8, vi = 7.5^2/91 + 6.8^2/94 = 1.110047, CI -3.8 -/+ 2.0650.
    assert f"{MINUS}3.80 [{MINUS}5.86, {MINUS}1.74]" in lines
    studies = group[group["row_type"] == "study"]
    assert [f"{w:.1f}%" for w in studies["weight"]] == [
        line for line in lines if line.endswith("%") and line != "100.0%" and "I" not in line
    ]
    assert studies["weight"].sum() == pytest.approx(100)
    assert "Random-effects model (REML)" in lines and "235" in lines and "247" in lines


# ---- saving: PNG encoder and line-at-a-time text rendering ----------------------------


def test_encode_png_round_trips_pixels_and_resolution(tmp_path):
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    opaque = rgba.copy()
    opaque[:, :, 3] = 255
    for pixels, mode in ((opaque, "RGB"), (rgba, "RGBA")):
        data = encode_png(pixels, 300)
        path = tmp_path / f"{mode}.png"
        path.write_bytes(data)
        with Image.open(path) as im:
            assert im.mode == mode and im.size == (53, 37)
            # 300 dpi = 11811 pixels per metre (rounded), read back as dots per inch.
            assert im.info["dpi"] == pytest.approx((11811 * 0.0254,) * 2)
            back = np.asarray(im)
        assert np.array_equal(back, pixels[:, :, :3] if mode == "RGB" else pixels)
        # Nothing but the image chunks: no text, no time.
        tags = re.findall(rb"(?<=....)(IHDR|pHYs|IDAT|IEND|tEXt|zTXt|iTXt|tIME)", data)
        assert tags == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    with pytest.raises(ValueError):
        encode_png(rgba[:, :, :3], 300)


def test_line_text_renderer_places_text_as_matplotlib_does():
    """Each line drawn as one bitmap lands within 0.6 pixel of matplotlib's own rendering,
    at every sub-pixel phase of its position, and holds the same ink."""

    def ink(canvas, phase):
        fig = Figure(figsize=(3, 1), facecolor="white")
        canvas(fig)
        x, y = (90 + phase) / 900, (150 + phase) / 300  # figure fractions; 300 dpi pixels
        fig.text(x, y + 0.3, "\u22124.00 [\u22125.95, \u22122.05]", fontproperties=font())
        fig.text(x + 0.8, y, "Maksymowych 2016\u2020", ha="right", fontproperties=font(9, "bold"))
        fav = "Favours control \u2192"
        fig.text(x + 0.4, y - 0.3, fav, ha="center", va="center", fontproperties=font())
        fig.set_dpi(300)
        with figure_context():  # srma's rcParams (unhinted glyphs), as when saving
            fig.canvas.draw()
        return 255.0 - np.asarray(fig.canvas.buffer_rgba())[:, :, :3].min(axis=2)

    rows = np.arange(300)[:, None]
    cols = np.arange(900)[None, :]
    for phase in np.arange(8) / 8:
        a, b = ink(Canvas, phase), ink(FigureCanvasAgg, phase)
        # The same glyphs; where two glyphs' edge pixels meet, one line bitmap holds the
        # pixel once while glyph-by-glyph blending darkens it twice: a few % less ink.
        assert a.sum() == pytest.approx(b.sum(), rel=0.05)
        for band in (slice(0, 110), slice(110, 200), slice(200, 300)):  # one text each
            wa, wb = a[band], b[band]
            assert wa.sum() > 1000 and wb.sum() > 1000
            for coord in (rows[band], cols):
                ca = (wa * coord).sum() / wa.sum()
                cb = (wb * coord).sum() / wb.sum()
                assert abs(ca - cb) <= 0.6, (phase, band)  # pixels at 300 dpi


def test_svg_text_placed_as_matplotlib_measures_it(tmp_path, monkeypatch):
    """The SVG, with text measured by the figure's TextLines, matches matplotlib's own SVG
    of the same figure: same elements and text, coordinates within 0.01 point."""
    svgs = {}

    def save(fig, svg, png):
        svgs["ours"] = common_mod.svg_bytes(fig).decode()
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata=common_mod.SVG_METADATA, dpi=72)
        svgs["matplotlib"] = buf.getvalue().decode()

    monkeypatch.setattr(forest_mod, "save_figure", save)
    kw = {"instrument_label": "SPARCC SIJ", "timepoint_label": "12 weeks"}
    forest_plot(three_study_group(), tmp_path / "f.svg", tmp_path / "f.png", **kw)
    number = r"-?\d+\.\d+"
    ours, theirs = svgs["ours"], svgs["matplotlib"]
    assert re.sub(number, "#", ours) == re.sub(number, "#", theirs)
    pairs = list(zip(re.findall(number, ours), re.findall(number, theirs), strict=True))
    assert max(abs(float(a) - float(b)) for a, b in pairs) < 0.01
    assert sum(a != b for a, b in pairs) > 0  # the text positions were computed by srma
