"""Appraisal of a reviewer's own review, end to end: a review made with ``srma init`` gets
risk of bias and GRADE by filling the documented fields only.

The review is test_own_review's (metafor's dat.normand1999: length of hospital stay,
specialist vs routine care after stroke, 9 centres; ``tests/fixtures/own_review``) with,
written as the review folder's ``resources/risk_of_bias/README.md`` and
``resources/grade/README.md`` say (``tests/fixtures/own_review_appraisal/resources``):

- one RoB 2 file per randomised centre and one ROBINS-I file for Uppsala, made a
  non-randomised controlled study here (its extraction file's ``design`` set to
  ``controlled_cohort``); the judgements are made up for the test;
- a GRADE decisions file: indirectness judged (not serious) for every outcome, and an
  override of srma's inconsistency proposal (very serious -> serious) with its reason;
- config ``grade.mid`` (35 days for the instrument) and ``grade.ois`` (1000).

Expected values, derived by hand below from the tools' decision tables and GRADE's rules
(docs/risk-of-bias.md, sections 3 and 7), with the numbers of metafor (the pooled
model: ``tests/fixtures/own_review/expected.json``; the model without the studies at
high risk: ``tests/fixtures/own_review_appraisal/expected.json`` from ``expected.R``).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import docx
import pandas as pd
import pytest
import yaml
from test_domain_words import domain_words
from test_own_review import EXPECTED as POOLED
from test_own_review import FIXTURE, fill, init, snakemake
from test_report_browser import decode_data_uri, embedded_results, show_result, visible_text
from workflow_runs import copy_workflow, run_snakemake

from srma.appraisal.grade import DOMAINS, load_decisions
from srma.appraisal.load import load_assessment

#: Who decides a GRADE domain (summary_of_findings.csv, ``<domain>_by``).
WHO = ("srma", "reviewer", "not judged")

APPRAISAL = Path(__file__).resolve().parent / "fixtures" / "own_review_appraisal"
EXPECTED = json.loads((APPRAISAL / "expected.json").read_text(encoding="utf-8"))

#: The reviewer's GRADE settings (config ``grade``).
GRADE = {
    "decisions": "resources/grade/decisions.csv",
    "mid": {"los": 35},
    "ois": {"default": 1000},
}
MID, OIS = 35.0, 1000.0

RCTS = [
    "Edinburgh",
    "MontrealHome",
    "MontrealTransfer",
    "Newcastle",
    "OrpingtonMild",
    "OrpingtonModerate",
    "OrpingtonSevere",
    "Umea",
]

#: Overall judgements by hand from the files' domain judgements:
#: RoB 2 (Sterne et al. 2019): every domain low -> low; one domain high -> high (Montreal
#: Transfer, D3); D5 without information and no domain high -> no information (srma's
#: reading; Montreal Home); some concerns in D1 and D4 -> some concerns, which the
#: reviewers raise to high with a reason (the table allows it for multiple domains;
#: Newcastle). ROBINS-I (Sterne et al. 2016): the most severe domain, D1 moderate ->
#: moderate (Uppsala).
OVERALL = {
    "Edinburgh": ("rob2", "low", "low", "algorithm"),
    "MontrealHome": ("rob2", "no information", "no information", "algorithm"),
    "MontrealTransfer": ("rob2", "high", "high", "algorithm"),
    "Newcastle": ("rob2", "high", "some concerns", "reviewer"),
    "OrpingtonMild": ("rob2", "low", "low", "algorithm"),
    "OrpingtonModerate": ("rob2", "low", "low", "algorithm"),
    "OrpingtonSevere": ("rob2", "low", "low", "algorithm"),
    "Umea": ("rob2", "low", "low", "algorithm"),
    "Uppsala": ("robins_i", "moderate", "moderate", "algorithm"),
}


def weight(study: str) -> float:
    """The study's percent weight in metafor's pooled model."""
    sources = [s.replace("-", "") for s in POOLED["data"]["source"]]
    return POOLED["weights"][sources.index(study)]


@pytest.fixture(scope="module")
def appraised(tmp_path_factory):
    """srma init, the review's data, risk-of-bias files and GRADE decisions as the
    folder's READMEs describe them, a MID and an OIS; run and report."""
    review = init(tmp_path_factory.mktemp("reviews") / "stroke-appraisal")
    shutil.copytree(FIXTURE / "resources", review / "resources", dirs_exist_ok=True)
    shutil.copytree(APPRAISAL / "resources", review / "resources", dirs_exist_ok=True)
    uppsala = review / "resources/extraction/Uppsala.yaml"
    text = uppsala.read_text(encoding="utf-8")
    assert "design: rct" in text
    uppsala.write_text(text.replace("design: rct", "design: controlled_cohort"), encoding="utf-8")
    fill(review, screening={"decisions": "resources/screening/decisions.csv"}, grade=GRADE)
    run = snakemake(review, "--cores", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    report = snakemake(review, "--report", "results/report.html")
    assert report.returncode == 0, report.stdout + report.stderr
    return review


def test_the_readmes_document_what_was_filled(appraised):
    """The folder srma init wrote says where the files go and what they hold."""
    rob = (appraised / "resources/risk_of_bias/README.md").read_text(encoding="utf-8")
    for word in ("study_id:", "tool: rob2", "tool: robins_i", "tool: none", "overall"):
        assert word in rob, word
    grade = (appraised / "resources/grade/README.md").read_text(encoding="utf-8")
    assert "instrument,timepoint,domain,downgrade,reason,reviewer" in grade
    config = (appraised / "config/config.yaml").read_text(encoding="utf-8")
    assert "resources/risk_of_bias" in config and "resources/grade/decisions.csv" in config


def test_the_readme_examples_are_valid_files(tmp_path):
    """Each example of the two READMEs srma init writes passes srma's checks against
    the template config's instruments and timepoints (the outcome entry as part of the
    randomised trial's file)."""
    review = init(tmp_path / "r")
    settings = {"instruments": ["outcome_a"], "timepoints": ["12w", "24w"]}
    readme = (review / "resources/risk_of_bias/README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) == 4
    designs = {"rob2": "rct", "robins_i": "controlled_cohort", "none": "cohort"}
    entry = blocks.pop()
    assert entry.startswith("outcomes:")
    for block in blocks:
        data = yaml.safe_load(block)
        if data["tool"] == "rob2":
            block += entry
        path = tmp_path / f"{data['study_id']}.yaml"
        path.write_text(block, encoding="utf-8")
        checked = load_assessment(path, config=settings, design=designs[data["tool"]])
        assert checked["study_id"] == data["study_id"]
    grade = (review / "resources/grade/README.md").read_text(encoding="utf-8")
    csv = re.search(r"```csv\n(.*?)```", grade, re.DOTALL).group(1)
    (tmp_path / "decisions.csv").write_text(csv, encoding="utf-8")
    decisions = load_decisions(tmp_path / "decisions.csv", config=settings, missing_ok=False)
    assert [(d.domain, d.downgrade) for d in decisions] == [
        ("indirectness", 0),
        ("inconsistency", -1),
    ]


def test_overall_judgements_follow_the_tools_algorithms(appraised):
    table = pd.read_csv(appraised / "results/tables/risk_of_bias.csv", dtype=str)
    assert table["instrument"].isna().all()  # no outcome entries: study level only
    overall = table[table["domain"] == "overall"].set_index("study_id")
    assert sorted(overall.index) == sorted(OVERALL)
    for study, (tool, judgement, algorithm, origin) in OVERALL.items():
        row = overall.loc[study]
        assert (row["tool"], row["judgement"], row["algorithm"], row["origin"]) == (
            tool,
            judgement,
            algorithm,
            origin,
        ), study
    assert "substantially lower confidence" in overall.loc["Newcastle", "reason"]
    assert overall.drop(index="Newcastle")["reason"].isna().all()
    domains = table[table["domain"] != "overall"]
    assert len(domains) == 8 * 5 + 7
    assert set(domains[domains["tool"] == "robins_i"]["domain"]) == {f"D{i}" for i in range(1, 8)}
    assert domains["support"].notna().all()


def _circles(svg: Path) -> dict[str, int]:
    """Judgement -> number of traffic-light circles of that judgement in the SVG."""
    marks = re.findall(r'id="rob-([a-z-]+)"', svg.read_text(encoding="utf-8"))
    return {j.replace("-", " "): marks.count(j) for j in sorted(set(marks))}


def _texts(svg: Path) -> str:
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg.read_text(encoding="utf-8")))


def test_the_traffic_lights_show_every_study_and_domain(appraised):
    figures = appraised / "results/figures/rob"
    for name in ("traffic_light", "summary", "traffic_light_robins_i", "summary_robins_i"):
        assert (figures / f"{name}.svg").is_file() and (figures / f"{name}.png").is_file()
    # RoB 2: 8 trials x (5 domains + overall). Domains: 5 trials all low (25), Montreal
    # Home 4 low + D5 no information, Montreal Transfer 4 low + D3 high, Newcastle 3 low
    # + 2 some concerns; overall: 5 low, 1 no information, 2 high; and one circle per
    # judgement of the legend (critical only when used).
    assert _circles(figures / "traffic_light.svg") == {
        "low": 25 + 4 + 4 + 3 + 5 + 1,
        "some concerns": 2 + 1,
        "high": 1 + 2 + 1,
        "no information": 1 + 1 + 1,
    }
    text = _texts(figures / "traffic_light.svg")
    for study in RCTS:
        assert study in text, study
    for domain in ("D1", "D2", "D3", "D4", "D5", "Overall"):
        assert domain in text, domain
    assert "Uppsala" not in text
    # ROBINS-I: Uppsala, D1 moderate, D2-D7 low, overall moderate; the legend.
    assert _circles(figures / "traffic_light_robins_i.svg") == {
        "low": 6 + 1,
        "moderate": 2 + 1,
        "serious": 1,
        "no information": 1,
    }
    text = _texts(figures / "traffic_light_robins_i.svg")
    assert "Uppsala" in text and all(f"D{i}" in text for i in range(1, 8))


def test_the_sensitivity_analysis_leaves_out_the_studies_at_high_risk(appraised):
    row = pd.read_csv(appraised / "results/tables/sensitivity_high_risk.csv").iloc[0]
    assert row["status"] == "estimated" and int(row["k"]) == EXPECTED["k"] == 7
    assert sorted(str(row["left_out"]).replace(",", ";").replace(" ", "").split(";")) == [
        "MontrealTransfer",
        "Newcastle",
    ]
    for key in ("estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2"):
        assert row[key] == pytest.approx(EXPECTED[key], rel=1e-6), key


def test_the_certainty_is_the_one_derived_by_hand(appraised):
    """GRADE for length of stay at discharge, by hand (docs/risk-of-bias.md, 7.1-7.2):

    - risk of bias, srma -1: studies at low risk hold more than half the weight (no -1
      from that rule), those at high risk (Montreal Transfer, Newcastle) less than half
      (no -2), but without them the CI no longer includes no effect: serious;
    - inconsistency, srma -2 (I2 >= 75% and the prediction interval beyond -MID and
      +MID), the reviewer's -1 replaces it;
    - indirectness, the reviewer's 0;
    - imprecision, srma 0: the CI crosses neither -35 nor +35 and 1158 participants
      reach the OIS of 1000;
    - publication bias: 9 studies, fewer than 10: not judged (no downgrade).

    High - 2 levels: low.
    """
    low = sum(weight(s) for s, v in OVERALL.items() if v[1] == "low")
    high = sum(weight(s) for s, v in OVERALL.items() if v[1] == "high")
    total = sum(POOLED["weights"])
    assert 100 * low / total > 50 and 0 < 100 * high / total <= 50
    assert POOLED["ci_lb"] < 0 < POOLED["ci_ub"] and EXPECTED["ci_ub"] < 0
    assert POOLED["I2"] >= 75 and POOLED["pi_lb"] < -MID and POOLED["pi_ub"] > MID
    assert POOLED["ci_lb"] > -MID and POOLED["ci_ub"] < MID
    assert EXPECTED["participants"] >= OIS and len(OVERALL) < 10

    sof = pd.read_csv(appraised / "results/tables/summary_of_findings.csv", dtype=str)
    assert len(sof) == 1
    row = sof.iloc[0]
    assert row["outcome"] == "Length of stay, At discharge"
    assert int(row["studies"]) == 9 and float(row["participants"]) == 1158
    assert float(row["estimate"]) == pytest.approx(POOLED["estimate"], rel=1e-6)
    decided = {
        d: (None if pd.isna(row[d]) else int(row[d]), row[f"{d}_by"])
        for d in ("risk_of_bias", "inconsistency", "indirectness", "imprecision")
    }
    assert decided == {
        "risk_of_bias": (-1, "srma"),
        "inconsistency": (-1, "reviewer"),
        "indirectness": (0, "reviewer"),
        "imprecision": (0, "srma"),
    }
    assert pd.isna(row["publication_bias"]) and row["publication_bias_by"] == "not judged"
    assert row["certainty"] == "low" and row["certainty_symbols"] == "\u2295\u2295\u25ef\u25ef"
    notes = row["footnotes"]
    assert "Inconsistency, serious (-1), reviewer (CD)" in notes
    assert "srma proposed very serious (-2)" in notes
    assert "without the studies at high risk the result changes" in notes
    assert "Publication bias: not judged yet" in notes


def test_the_word_document_has_the_table(appraised):
    document = docx.Document(str(appraised / "results/tables/summary_of_findings.docx"))
    assert document.tables
    cells = [cell.text for table in document.tables for r in table.rows for cell in r.cells]
    assert any("Length of stay, At discharge" in c for c in cells)
    assert any("\u2295\u2295\u25ef\u25ef" in c for c in cells)


def test_no_word_of_the_bundled_review_in_its_outputs(appraised):
    texts = {
        path: path.read_text(encoding="utf-8")
        for path in sorted((appraised / "results").rglob("*"))
        if path.suffix in {".csv", ".svg", ".html", ".json"}
    }
    document = docx.Document(str(appraised / "results/tables/summary_of_findings.docx"))
    texts[Path("summary_of_findings.docx")] = "\n".join(
        [p.text for p in document.paragraphs]
        + [c.text for t in document.tables for r in t.rows for c in r.cells]
    )
    assert appraised / "results/report.html" in texts
    hits = [
        f"{path.name}:{line}: {word!r}"
        for path, text in texts.items()
        for line, word in domain_words(text)
    ]
    assert not hits, hits


def _words(path: Path) -> str:
    """The text of an HTML file, tags removed, entities resolved, spaces collapsed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
    return re.sub(r"\s+", " ", text).replace(" .", ".").replace(" ,", ",")


def test_the_results_page_says_it_in_words(appraised):
    """The counts of the paragraph, by hand from OVERALL and the files: 9 studies, 8 with
    RoB 2, 1 with ROBINS-I; 47 domain judgements, 1 without information (Montreal Home
    D5); GRADE: 2 domains srma's (risk of bias, imprecision), 2 the reviewer's
    (inconsistency, indirectness), 1 not judged (publication bias)."""
    text = _words(appraised / "results/report/results.html")
    assert "Risk of bias and certainty of the evidence" in text
    for sentence in [
        "Risk of bias was assessed for 9 of 9 studies: 8 randomised trials with RoB 2 and "
        "1 non-randomised controlled study with ROBINS-I.",
        "Overall (RoB 2): 5 at low risk, 0 with some concerns, 2 at high risk, 1 with no "
        "information.",
        "Overall (ROBINS-I): 0 at low risk, 1 at moderate risk, 0 at serious risk, 0 at "
        "critical risk.",
        "The overall judgements of 8 studies are the tools' algorithm's; the reviewers' for "
        "1 (Newcastle: high instead of some concerns (Unclear concealment",
        "1 of 47 domain judgements are \u201cno information\u201d (1 study).",
        "Length of stay, At discharge (9 studies, 1158 participants; MD \u221215.11 days "
        "(95% CI \u221232.64 to 2.43)): low certainty "
        "(\u2295\u2295\u25ef\u25ef), rated down for risk of bias by one level (serious; "
        "srma's proposal: 55% of the weight from studies at low risk of bias",
        "; inconsistency by one level (serious; the reviewer's judgement (CD): Six of nine "
        "centres favour specialist care",
        "[srma proposed very serious (-2): I\u00b2 = 99%",
        "; indirectness not serious (the reviewer's judgement (AB): Adults admitted",
        "; not judged yet (no downgrade): publication bias.",
        "Of the 5 GRADE domain judgements, 2 are srma's proposals, 2 the reviewers' and 1 "
        "not judged yet.",
    ]:
        assert sentence in text, sentence
    # the same text, as the report's captions show it
    assert "Risk of bias was assessed for 9 of 9 studies" in _words(
        appraised / "results/report/risk_of_bias.html"
    )
    assert _words(appraised / "results/report/appraisal.html") in text
    # and in the review's Snakemake report, as the captions of the appraisal outputs
    results = embedded_results(appraised / "results/report.html")
    captions = {Path(p).name: html.unescape(e["caption"]) for p, e in results.items()}
    assert "9 of 9 studies" in captions["risk_of_bias.csv"]
    assert "5 at low risk" in re.sub(r"\s+", " ", captions["traffic_light.svg"])
    assert "Of the 5 GRADE domain judgements" in re.sub(
        r"\s+", " ", captions["summary_of_findings.csv"]
    )


# The bundled review: its tables in words, and its Snakemake report -----------------------


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled review (config/config.yaml, resources/) run in a copy of the checkout,
    with its Snakemake report."""
    work = copy_workflow(tmp_path_factory.mktemp("bundled"))
    run_snakemake(work, "--cores", "2")
    run_snakemake(work, "--report", "results/report.html")
    return work


def test_the_bundled_reviews_appraisal_in_words(bundled):
    """docs/risk-of-bias.md, section 8: 24 files, 20 randomised (RoB 2), 2
    non-randomised controlled (ROBINS-I), 2 uncontrolled cohorts (no tool); every overall
    judgement 'no information' (the algorithm's); 108 of 114 domain judgements without
    information. Studies with an extraction file and no risk-of-bias file are 'not
    assessed'. GRADE: no decisions file, so indirectness is not judged for any outcome,
    and risk of bias is srma's -1 for every outcome with data."""
    rob = pd.read_csv(bundled / "results/tables/risk_of_bias.csv", dtype=str)
    rob = rob[rob["domain"] == "overall"]
    pending = sorted(rob.loc[rob["judgement"] == "not assessed", "study_id"])
    assert len(rob) - len(pending) == 24 and len(pending) <= 8
    text = _words(bundled / "results/report/results.html")
    if pending:
        were = "1 study was" if len(pending) == 1 else f"{len(pending)} studies were"
        assert f"{were} not assessed (no risk-of-bias file yet): {', '.join(pending)}." in text
    for sentence in [
        f"Risk of bias was assessed for 22 of {len(rob)} studies: 20 randomised trials with "
        "RoB 2 and 2 non-randomised controlled studies with ROBINS-I.",
        "2 studies compare no interventions, so no tool applies: Pedersen2010, Weiss2014.",
        "Overall (RoB 2): 0 at low risk, 0 with some concerns, 0 at high risk, 20 with no "
        "information.",
        "Overall (ROBINS-I): 0 at low risk, 0 at moderate risk, 0 at serious risk, 0 at "
        "critical risk, 2 with no information.",
        "The overall judgements of 22 studies are the tools' algorithm's.",
        "108 of 114 domain judgements are \u201cno information\u201d (22 studies).",
    ]:
        assert sentence in text, sentence
    sof = pd.read_csv(bundled / "results/tables/summary_of_findings.csv", dtype=str)
    rated = sof[sof["certainty"].notna()]
    assert len(rated) and (rated["indirectness_by"] == "not judged").all()
    for row in rated.itertuples():
        assert f"{row.outcome} (" in text and f"{row.certainty} certainty" in text
        assert "risk of bias by one level (serious; srma's proposal: " in text
    for row in sof[sof["certainty"].isna()].itertuples():
        assert f"{row.outcome}: not rated (no usable data)." in text
    k = len(rated) * 5
    by = {w: int((rated[[f"{d}_by" for d in DOMAINS]] == w).sum().sum()) for w in WHO}
    assert sum(by.values()) == k and by["reviewer"] == 0
    assert (
        f"Of the {k} GRADE domain judgements, {by['srma']} are srma's proposals, 0 the "
        f"reviewers' and {by['not judged']} not judged yet." in text
    )


def test_the_bundled_report_shows_risk_of_bias_and_the_summary_of_findings(bundled):
    """The Snakemake report embeds the risk-of-bias table and figures and the summary of
    findings, with the generated paragraph in their captions."""
    results = embedded_results(bundled / "results/report.html")
    entries = {Path(path).as_posix().split("results/", 1)[-1]: e for path, e in results.items()}
    for rel in [
        "tables/risk_of_bias.csv",
        "figures/rob/traffic_light.svg",
        "figures/rob/summary.svg",
        "figures/rob/traffic_light_robins_i.svg",
        "figures/rob/summary_robins_i.svg",
        "tables/summary_of_findings.csv",
        "tables/summary_of_findings.docx",
        "report/summary_of_findings.html",
    ]:
        assert rel in entries, rel
    caption = re.sub(r"\s+", " ", html.unescape(entries["tables/risk_of_bias.csv"]["caption"]))
    assert "Risk of bias was assessed for 22 of" in caption
    light = re.sub(r"\s+", " ", entries["figures/rob/traffic_light.svg"]["caption"])
    assert "20 with no information" in light
    sof = re.sub(r"\s+", " ", html.unescape(entries["report/summary_of_findings.html"]["caption"]))
    assert "Certainty of the evidence (GRADE)" in sof and "GRADE domain judgements" in sof
    table = decode_data_uri(entries["report/summary_of_findings.html"]["data_uri"])
    outcomes = pd.read_csv(bundled / "results/tables/summary_of_findings.csv")["outcome"]
    assert "<table" in table and all(html.escape(o) in table for o in outcomes)


@pytest.mark.browser
def test_the_bundled_summary_of_findings_opens_in_chromium(chromium, bundled, tmp_path):
    """Opened as a click in the report would: the table and, in its description, the
    paragraph; the risk-of-bias table's description has the counts."""
    report = bundled / "results/report.html"
    outcomes = pd.read_csv(bundled / "results/tables/summary_of_findings.csv")["outcome"]
    dom = show_result(chromium, report, tmp_path, "summary_of_findings.html")
    assert "srma-check:found" in dom
    text = visible_text(dom)
    assert "Certainty of the evidence (GRADE)" in text and "GRADE domain judgements" in text
    assert outcomes.iloc[0] in html.unescape(text)
    dom = show_result(chromium, report, tmp_path, "traffic_light.svg")
    assert "Risk of bias was assessed for 22 of" in visible_text(dom)
