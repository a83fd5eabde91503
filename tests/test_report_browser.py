"""The Snakemake HTML report, opened in headless Chromium.

A small workflow in a temporary folder calls srma's figure functions with outputs flagged
by ``report()`` and srma's captions (``workflow/report/*.rst``), runs, and builds
``report.html`` with ``snakemake --report``. The report is a JavaScript application, so
the checks run on the DOM after Chromium has executed it (``--dump-dom``):

- the app renders: navigation with the report's categories and the review description,
  which leads with the results (the summary the results page rule writes, included by
  ``workflow/report/workflow.rst``), before the question and the methods;
- opening the forest plot (as a click on it would) shows the figure's image and its
  caption, with the sign convention;
- every figure and the results page are embedded in the self-contained file (data URI)
  with their content, listed under the config's labels, and the file loads nothing from
  the network.

Debian's ``chromium`` is installed by the test setup when missing (needs root, as in CI).

Reuse for the real workflow's report: ``dump_dom(report_html, tmp)`` renders any report;
``show_result(report_html, tmp, endswith)`` opens one result as a click would;
``embedded_results(report_html)`` returns the report's ``results`` object (path ->
entry with ``data_uri`` and ``caption``).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_figures import correlation_rows, prisma_counts, results_tables

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=10000",
]

SNAKEFILE = """
import json

import pandas as pd

from srma.figures.forest import forest_plot
from srma.figures.heatmap import correlation_heatmap
from srma.figures.prisma import prisma_diagram
from srma.figures.results import results_page


configfile: "config.yaml"


REVIEW = config["review"]
LABELS = {key: spec["label"] for key, spec in config["instruments"].items()}
TIMES = {key: spec["label"] for key, spec in config["timepoints"].items()}


report: "report/workflow.rst"


rule all:
    input:
        "results/figures/forest/sparcc_sij_12w.svg",
        "results/figures/prisma.svg",
        "results/figures/heatmap.svg",
        "results/tables/pooled.csv",
        "results/report/results.html",


rule forest:
    input:
        "data/group.parquet",
    output:
        svg=report(
            "results/figures/forest/{instrument}_{timepoint}.svg",
            caption="report/forest.rst",
            category="4. Meta-analysis",
            subcategory="2. Forest plots",
            labels=lambda w: {"outcome, time point": f"1. {LABELS[w.instrument]}, "
                                                     f"{TIMES[w.timepoint]}"},
        ),
        png="results/figures/forest/{instrument}_{timepoint}.png",
    run:
        forest_plot(pd.read_parquet(input[0]), output.svg, output.png,
                    instrument_label=LABELS[wildcards.instrument],
                    timepoint_label=TIMES[wildcards.timepoint],
                    intervention=REVIEW["intervention"], comparator=REVIEW["comparator"],
                    unit=REVIEW["unit"])


rule prisma:
    input:
        "data/counts.json",
    output:
        svg=report("results/figures/prisma.svg", caption="report/prisma.rst",
                   category="2. Screening"),
        png="results/figures/prisma.png",
    run:
        prisma_diagram(json.loads(open(input[0]).read()), output.svg, output.png)


rule heatmap:
    input:
        "data/correlations.csv",
    output:
        svg=report("results/figures/heatmap.svg", caption="report/heatmap.rst",
                   category="5. Correlations"),
        png="results/figures/heatmap.png",
    run:
        correlation_heatmap(pd.read_csv(input[0]), output.svg, output.png,
                            clinical_measures=config["correlations"]["clinical_measures"],
                            clinical_labels=config["correlations"]["clinical_labels"],
                            measure_labels=LABELS,
                            measure_label=config["correlations"]["measure_label"])


rule pooled_table:
    input:
        "data/group.parquet",
    output:
        report("results/tables/pooled.csv", caption="report/pooled.rst",
               category="4. Meta-analysis"),
    run:
        g = pd.read_parquet(input[0])
        cols = ["estimate", "ci_lb", "ci_ub", "tau2", "I2"]
        g[g.row_type == "pooled"][cols].to_csv(output[0], index=False)


rule results_page:
    input:
        summary="data/summary.csv",
        groups=["data/group.parquet", "data/empty_group.parquet"],
    output:
        html=report("results/report/results.html", caption="report/results.rst",
                    category="4. Meta-analysis", subcategory="1. Results",
                    labels={"table": "Results of every outcome and time point"}),
        summary="results/report/summary.html",
    run:
        results_page(pd.read_csv(input.summary), [pd.read_parquet(p) for p in input.groups],
                     output.html, output.summary, instrument_labels=LABELS,
                     timepoint_labels=TIMES, intervention=REVIEW["intervention"],
                     comparator=REVIEW["comparator"], unit=REVIEW["unit"],
                     outcome_label=REVIEW["outcome_label"], title=REVIEW["title"])
"""


# ---- Chromium ----------------------------------------------------------------------------


def _run_chromium(chromium: str, page: Path, profile: Path, *extra: str) -> str:
    profile.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return out.stdout


def dump_dom(chromium: str, report_html: Path, tmp: Path) -> str:
    """The report's DOM after its JavaScript ran."""
    return _run_chromium(chromium, report_html, tmp / "chromium-profile", "--dump-dom")


def show_result(chromium: str, report_html: Path, tmp: Path, endswith: str) -> str:
    """The DOM after opening the result whose path ends with ``endswith`` (image view and
    its description), as a click in the report would. The page title says whether the
    result was found: ``srma-check:found`` / ``srma-check:missing``."""
    script = (
        "<script>window.addEventListener('load', function () { setTimeout(function () {"
        f"const hit = Object.entries(results).find(([p]) => p.endsWith({json.dumps(endswith)}));"
        "document.title = 'srma-check:' + (hit ? 'found' : 'missing');"
        "if (hit) { app.setView({navbarMode: 'resultinfo', resultPath: hit[0],"
        " content: 'img', contentPath: hit[1].data_uri}); }"
        "}, 300); });</script>"
    )
    html = report_html.read_text(encoding="utf-8")
    cut = html.rindex("</body>")
    page = tmp / f"view-{re.sub(r'[^A-Za-z0-9]+', '_', endswith)}.html"
    page.write_text(html[:cut] + script + html[cut:], encoding="utf-8")
    return _run_chromium(chromium, page, tmp / "chromium-profile", "--dump-dom")


def visible_text(dom: str) -> str:
    """Text of a DOM without scripts and styles, whitespace collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def embedded_results(report_html: Path) -> dict:
    """The report's ``results`` object: path -> entry (``data_uri``, ``caption``...)."""
    html = report_html.read_text(encoding="utf-8")
    m = re.search(r'<script id="results">\s*var results = (.*?);\s*</script>', html, re.S)
    assert m, "no results in the report"
    return json.loads(m.group(1))


def decode_data_uri(uri: str) -> str:
    text = base64.b64decode(uri.split(";base64,", 1)[1]).decode("utf-8")
    return text.replace("\u00a0", " ")  # PRISMA counts use no-break spaces


# ---- the report ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("report-workflow")
    (work / "data").mkdir()
    summary, (empty_group, group) = results_tables()
    group.to_parquet(work / "data" / "group.parquet")
    empty_group.to_parquet(work / "data" / "empty_group.parquet")
    summary.to_csv(work / "data" / "summary.csv", index=False)
    (work / "data" / "counts.json").write_text(json.dumps(prisma_counts()))
    correlation_rows().to_csv(work / "data" / "correlations.csv", index=False)
    shutil.copytree(ROOT / "workflow" / "report", work / "report")
    shutil.copy(ROOT / "config" / "config.yaml", work / "config.yaml")
    (work / "Snakefile").write_text(SNAKEFILE, encoding="utf-8")
    snakemake = [sys.executable, "-m", "snakemake", "-s", "Snakefile"]
    for args in (["--cores", "1", "--quiet"], ["--report", "report.html"]):
        run = subprocess.run(
            [*snakemake, *args], cwd=work, capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stderr[-3000:]
    return work / "report.html"


def test_report_is_self_contained_with_every_figure(report_html):
    html = report_html.read_text(encoding="utf-8")
    # Nothing is fetched from the network when the report is opened.
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", html)
    results = embedded_results(report_html)
    by_name = {Path(p).name: e for p, e in results.items()}
    assert set(by_name) == {
        "sparcc_sij_12w.svg",
        "prisma.svg",
        "heatmap.svg",
        "pooled.csv",
        "results.html",
    }
    forest = decode_data_uri(by_name["sparcc_sij_12w.svg"]["data_uri"])
    assert "Lambert 2007" in forest and "Random-effects model (REML)" in forest
    assert "\u22123.10 [\u22124.20, \u22122.00]" in forest
    prisma = decode_data_uri(by_name["prisma.svg"]["data_uri"])
    assert "Records screened" in prisma and "PubMed (n = 120)" in prisma
    heat = decode_data_uri(by_name["heatmap.svg"]["data_uri"])
    assert "Morning stiffness" in heat and "no data" in heat
    assert "Correlations: Clinical measure \u00d7 MRI inflammation measure" in heat
    # The results page: every group under the config's labels, with the reasons.
    page = decode_data_uri(by_name["results.html"]["data_uri"])
    assert "SPARCC SIJ, 12 weeks" in page and "ASspiMRI-a, 24 weeks" in page
    assert "Groups without usable data" in page and "no SD of the change" in page
    assert by_name["results.html"]["labels"] == {"table": "Results of every outcome and time point"}
    assert by_name["sparcc_sij_12w.svg"]["labels"] == {
        "outcome, time point": "1. SPARCC SIJ, 12 weeks"
    }
    # Captions are rendered from workflow/report with the config's model, sign and labels.
    caption = {name: re.sub(r"\s+", " ", e["caption"]) for name, e in by_name.items()}
    forest = caption["sparcc_sij_12w.svg"]
    assert "Forest plot of <strong>SPARCC SIJ</strong> at <strong>12 weeks</strong>" in forest
    assert "lower values are better, so it favours TNFi (left of zero)" in forest
    assert "tau² estimated by restricted maximum likelihood (REML)" in forest
    assert "MRI inflammation scores (points)" in forest
    assert "normal distribution (Wald z)" in forest
    assert "Under each group: the studies it used" in caption["results.html"]
    assert "Page et al., BMJ 2021;372:n71" in caption["prisma.svg"]
    assert "not a correlation of zero" in caption["heatmap.svg"]
    assert "Wald z" in caption["pooled.csv"]


def test_report_loads_in_chromium(chromium, report_html, tmp_path):
    text = visible_text(dump_dom(chromium, report_html, tmp_path))
    # The app replaced its loading placeholder with the navigation and the description.
    for category in ("2. Screening", "4. Meta-analysis", "5. Correlations"):
        assert category in text
    assert "TNF inhibitors and MRI inflammation in axial spondyloarthritis" in text
    assert "negative values favour TNFi" in text
    # The first page leads with the results: the summary of the results page comes
    # before the question and the methods, with the groups under the config's labels.
    results = text.index("Results. 2 outcome \u00d7 time point groups: 1 pooled")
    assert results < text.index("Question.") < text.index("Statistical model.")
    assert "SPARCC SIJ, 12 weeks 3 \u22123.10 [\u22124.20, \u22122.00]" in text
    assert "No usable data: ASspiMRI-a (24 weeks)." in text
    assert "Change in MRI inflammation scores (points) with TNFi compared with control" in text
    # The methods are those of the config: estimator, test, thresholds.
    assert "estimated by restricted maximum likelihood (REML)" in text
    assert "by Wald-type z tests" in text and "Hartung" not in text
    assert (
        "funnel plots, Egger's regression test, Begg's rank correlation test and "
        "trim-and-fill for groups of at least" in text
    )
    assert "prediction intervals from the normal distribution" in text
    assert "at least 10 usable studies" in text and "at least 3 usable studies" in text


def test_forest_plot_opens_with_caption_in_chromium(chromium, report_html, tmp_path):
    dom = show_result(chromium, report_html, tmp_path, "forest/sparcc_sij_12w.svg")
    assert "<title>srma-check:found</title>" in dom
    imgs = re.findall(
        r'<img[^>]+src="(data:image/svg\+xml[^"]*filename=sparcc_sij_12w\.svg'
        r'[^"]*)"',
        dom,
    )
    assert len(imgs) == 1, "the forest plot is not displayed"
    svg = decode_data_uri(imgs[0])
    assert "Maksymowych 2016" in svg and "Heterogeneity" in svg
    text = visible_text(dom)
    assert "A negative value means a larger decrease with TNFi" in text
    assert (
        "Random-effects model, between-study variance tau² estimated by restricted maximum "
        "likelihood (REML)" in text
    )
