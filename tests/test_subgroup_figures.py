"""The subgroup forest plot and the bubble plot (srma.figures.subgroups) draw every
block, subtotal, study and test of their tables, and say why when there is nothing to
draw."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from test_group_analyses import COUNTRY, DATA, YEAR, pooled_table

from srma.errors import InputError
from srma.figures.results_analyses import analyses_section
from srma.figures.subgroups import bubble_figure, subgroup_forest_figure
from srma.group_analyses import meta_regression_table, subgroup_table

LABELS = {
    "instrument_label": "Length of stay",
    "timepoint_label": "12 weeks",
    "intervention": "specialist care",
    "comparator": "routine care",
    "unit": "days",
}


def svg_texts(path) -> list[str]:
    return [html.unescape(t) for t in re.findall(r">([^<>]+)</text>", path.read_text())]


def draw(table, tmp_path, name="f", figure=subgroup_forest_figure, **labels):
    svg, png = tmp_path / f"{name}.svg", tmp_path / f"{name}.png"
    drawn = figure(table, svg, png, **{**LABELS, **labels})
    assert png.stat().st_size > 1000
    return drawn, svg_texts(svg), svg.read_text()


def test_every_block_subtotal_and_the_test_are_drawn(tmp_path):
    table = subgroup_table(pooled_table(), COUNTRY, analysis="c", by="country", label="Country")
    drawn, texts, svg = draw(table, tmp_path)
    assert drawn
    assert "Subgroups by Country: Length of stay, 12 weeks" in texts
    subs = table[table["row_type"] == "subgroup"]
    for row in subs.itertuples():
        assert f"Country: {row.subgroup}" in texts
        est = f"{row.estimate:.2f}".replace("-", "\u2212")
        assert any(t.startswith(est + " [") for t in texts), row.subgroup
        assert f"Heterogeneity: \u03c4\u00b2 = {row.tau2:.2f}; I\u00b2 = {row.I2:.0f}%" in texts
    assert [t for t in texts if t.startswith("Subtotal")] == [
        "Subtotal (k = 2)",
        "Subtotal (k = 2)",
        "Subtotal (k = 5)",
    ]
    for sid in DATA:
        assert sid in texts
    assert "Test for subgroup differences: Q = 3.16, df = 2, p = 0.206" in texts
    assert "\u2190 Favours specialist care" in texts and "Favours routine care \u2192" in texts
    # one diamond per pooled subgroup: matplotlib writes each patch as a path
    assert svg.count('id="patch_') >= 3


def test_thin_subgroups_say_why(tmp_path):
    table = subgroup_table(pooled_table(), COUNTRY, analysis="c", by="country", min_studies=3)
    _, texts, _ = draw(table, tmp_path)
    assert [t for t in texts if t.startswith("Subtotal")] == [
        "Subtotal not estimable: 2 usable studies, fewer than 3: not pooled",
        "Subtotal not estimable: 2 usable studies, fewer than 3: not pooled",
        "Subtotal (k = 5)",
    ]
    # the studies of a subgroup that is not pooled are drawn, without a weight
    assert "\u22124.00 [\u221212.15, 4.15]" in texts  # MontrealHome, metafor's escalc
    assert any(
        t.startswith("Test for subgroup differences not estimable: 1 subgroup") for t in texts
    )


def test_studies_in_no_subgroup_are_listed(tmp_path):
    values = {**COUNTRY, "Uppsala": None}
    table = subgroup_table(pooled_table(), values, analysis="c", by="country")
    _, texts, _ = draw(table, tmp_path)
    assert "In no subgroup of country" in texts
    assert "no country in its extraction file" in texts


def test_no_subgroup_is_a_note(tmp_path):
    values = dict.fromkeys(COUNTRY)
    table = subgroup_table(pooled_table(), values, analysis="c", by="country")
    drawn, texts, _ = draw(table, tmp_path)
    assert not drawn
    assert any("No subgroups" in t for t in texts)


def test_bubble_plot_draws_the_studies_and_the_line(tmp_path):
    table = meta_regression_table(
        pooled_table(), {"year": YEAR}, analysis="y", moderators=["year"], label="Year"
    )
    drawn, texts, svg = draw(table, tmp_path, figure=bubble_figure)
    assert drawn
    assert "Meta-regression on Year: Length of stay, 12 weeks" in texts
    slope = table[(table["row_type"] == "coefficient") & (table["term"] == "year")]
    head = f"k = 9; slope {slope['b'].iat[0]:.3f} (z test, p = 0.096); "
    assert any(t.startswith(head) for t in texts), texts
    assert "year" in texts and "Mean difference in change (days)" in texts
    # the 9 studies: one marker each in the group of the studies' points
    studies = re.search(r'<g id="studies">(.*?)</g>', svg, re.S).group(1)
    assert studies.count("<path ") == 9
    assert '<g id="fitted">' in svg


def test_bubble_plot_notes(tmp_path):
    pooled = pooled_table()
    both = meta_regression_table(
        pooled, {"year": YEAR, "country": COUNTRY}, analysis="b", moderators=["year", "country"]
    )
    drawn, texts, _ = draw(both, tmp_path, figure=bubble_figure)
    assert not drawn and any("single numeric moderator" in t for t in texts)
    design = meta_regression_table(
        pooled, {"design": dict.fromkeys(DATA, "rct")}, analysis="d", moderators=["design"]
    )
    drawn, texts, _ = draw(design, tmp_path, figure=bubble_figure)
    assert not drawn
    assert any(t.startswith("Not estimable: moderator design is constant") for t in texts)


def test_a_table_without_its_test_row_is_an_error(tmp_path):
    table = subgroup_table(pooled_table(), COUNTRY, analysis="c", by="country")
    with pytest.raises(InputError, match="expected one test row"):
        draw(table[table["row_type"] != "test"], tmp_path)
    with pytest.raises(InputError, match="column missing"):
        draw(pd.DataFrame({"row_type": ["test"]}), tmp_path)


def test_ratios_are_drawn_back_transformed(tmp_path):
    """OR and RR tables hold log ratios (as metafor); the plot shows the ratios."""
    table = subgroup_table(pooled_table(), COUNTRY, analysis="c", by="country", label="Country")
    for col in ("yi", "estimate", "ci_lb", "ci_ub"):
        table[col] = table[col] / 100
    table["vi"] = table["vi"] / 1e4
    table["measure"] = "OR"
    _, texts, _ = draw(table, tmp_path, measure="OR")
    uk = table[(table["row_type"] == "subgroup") & (table["subgroup"] == "UK")].iloc[0]
    ci = f"{np.exp(uk.estimate):.2f} [{np.exp(uk.ci_lb):.2f}, {np.exp(uk.ci_ub):.2f}]"
    assert ci in texts
    assert "OR [95% CI]" in texts and "Odds ratio" in texts


def test_results_page_section():
    sub = subgroup_table(pooled_table(), COUNTRY, analysis="c", by="country", label="Country")
    pop = subgroup_table(pooled_table(), dict.fromkeys(COUNTRY, "stroke"), analysis="p",
                         by="population")  # fmt: skip
    reg = meta_regression_table(
        pooled_table(), {"year": YEAR}, analysis="y", moderators=["year"], label="Year"
    )
    keep = ("subgroup", "test")
    lines = analyses_section(
        pd.concat([t[t["row_type"].isin(keep)] for t in (sub, pop)]),
        reg[reg["row_type"].isin(("coefficient", "model"))],
        instrument_labels={"los": "Length of stay"},
        timepoint_labels={"12w": "12 weeks"},
    )
    page = "\n".join(lines)
    assert "<h2>Subgroup analyses</h2>" in page and "<h2>Meta-regression</h2>" in page
    assert page.count("<td>Length of stay, 12 weeks</td>") == 4 + 2 + 3
    assert "Test for subgroup differences: Q = 3.16, df = 2, p = 0.206" in page
    assert (
        "Test for subgroup differences not estimable: 1 subgroup with at least 2 usable "
        "studies (usable studies by population: stroke: 9)" in page
    )
    slope = reg[(reg["row_type"] == "coefficient") & (reg["term"] == "year")].iloc[0]
    ci = f"{slope.b:.2f} [{slope.ci_lb:.2f}, {slope.ci_ub:.2f}]".replace("-", "\u2212")
    assert ci in page
    assert "k = 9; test of moderators QM = " in page
