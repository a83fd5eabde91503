"""Screening decisions read back from ASReview LAB, Rayyan and Covidence exports.

The exports in ``tests/fixtures/screening_tools`` are those tools' exports of the
fixture review's ``unique.ris`` (its README says which documented format each imitates).
Each tool's export reads into the PRISMA 2020 counts; rows that find no record, or
several, are reported with their file and line (an included one stops the run)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import rispy
from workflow_runs import FIXTURE_REVIEW, copy_review

from srma.dedup import deduplicate
from srma.dedup.ris_out import ris_entries
from srma.errors import ConfigError, InputError
from srma.screening_tools import Matcher, check_screening, read_export, screen_exports

HERE = Path(__file__).resolve().parent / "fixtures" / "screening_tools"
ASREVIEW = HERE / "asreview"
RAYYAN = HERE / "rayyan"
COVIDENCE = HERE / "covidence"
COV_IRRELEVANT = COVIDENCE / "review_412907_irrelevant_csv_20261201141530.csv"
COV_INCLUDED = COVIDENCE / "review_412907_included_csv_20261201141530.csv"
COV_EXCLUDED = COVIDENCE / "review_412907_excluded_csv_20261201141530.csv"
STUDIES = [
    "Edinburgh1990",
    "MontrealHome1992",
    "OrpingtonMild1991",
    "OrpingtonModerate1991",
    "OrpingtonSevere1991",
]


@pytest.fixture(scope="module")
def review():
    """The fixture review's two search exports, imported and deduplicated as the
    workflow does: ``(unique, clusters, records)``."""
    from srma.importers import read_export as read_search

    searches = FIXTURE_REVIEW / "resources" / "searches"
    records = pd.concat(
        [
            read_search(searches / "pubmed.nbib", export="pubmed", database="PubMed"),
            read_search(searches / "central.ris", export="central", database="CENTRAL"),
        ],
        ignore_index=True,
    )
    result = deduplicate(records)
    return result.unique, result.clusters, records


def counts_of(review, **kwargs):
    unique, clusters, records = review
    decisions, counts, not_counted = screen_exports(unique, clusters, records, **kwargs)
    json.dumps(counts)  # as counts.json
    return decisions.set_index("cluster_id"), counts, not_counted


def flow(counts, reasons):
    """The PRISMA boxes of the fixture review with every record screened, two
    excluded at title/abstract, one at full text (``reasons``) and four included."""
    assert counts["identified"] == {"CENTRAL": 5, "PubMed": 5, "total": 10}
    assert counts["duplicates_removed"] == 3
    assert counts["records_after_duplicates"] == 7
    assert (counts["screened"], counts["not_screened"]) == (7, 0)
    assert counts["excluded_title_abstract"] == 2
    assert (counts["sought"], counts["assessed"], counts["awaiting_full_text"]) == (5, 5, 0)
    assert counts["excluded_full_text"] == {**reasons, "total": 1}
    assert (counts["included_reports"], counts["included_studies"]) == (4, 4)


def test_fixture_exports_are_of_srma_unique_ris(review):
    """The tools were given this unique.ris: what srma writes for the fixture review."""
    unique, _, _ = review
    stored = rispy.loads((HERE / "unique.ris").read_text(encoding="utf-8"))
    keys = ("id", "title", "doi", "accession_number", "notes")
    assert [{k: e.get(k) for k in keys} for e in ris_entries(unique)] == [
        {k: e.get(k) for k in keys} for e in stored
    ]


# ASReview LAB --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "export",
    [
        "asreview_relevant+irrelevant_srma_fixture.csv",  # LAB 2: asreview_label, tags
        "asreview_relevant+irrelevant_srma_fixture.tsv",
        "asreview_relevant+irrelevant_srma_fixture.xlsx",
        "asreview_relevant+irrelevant_srma_fixture.ris",  # N1 ASReview_relevant ...
        "asreview_dataset_all_srma_fixture_lab1.csv",  # LAB 1: included, asreview_ranking
    ],
)
def test_asreview_export_into_prisma_counts(review, export):
    """ASReview LAB screens titles and abstracts; the full-text decisions and study ids
    are rows of srma's decisions file."""
    decisions, counts, not_counted = counts_of(
        review,
        tool="asreview",
        title_abstract=[ASREVIEW / export],
        decisions_path=ASREVIEW / "full_text_decisions.csv",
    )
    flow(counts, {"MRI scores not reported per arm": 1})
    assert not_counted == []
    assert decisions.loc["pubmed:000004", "status"] == "excluded_title_abstract"
    assert decisions.loc["pubmed:000001", "study_id"] == "Edinburgh1990"
    if "lab1" not in export:  # LAB 2 tags on an irrelevant record are its reasons
        assert decisions.loc["pubmed:000004", "title_abstract_reason"] == (
            "exclusion review article"
        )
        assert decisions.loc["pubmed:000005", "title_abstract_reason"] == (
            "exclusion no mri outcome"
        )


def test_asreview_rows_match_through_the_ris_id(review):
    """ASReview keeps the RIS ID (srma's cluster id) in its ``id`` column."""
    _, clusters, records = review
    matcher = Matcher(clusters, records)
    rows = read_export(
        ASREVIEW / "asreview_dataset_all_srma_fixture_lab1.csv", "asreview", "title_abstract"
    )
    assert [matcher.match(r) for r in rows][:2] == [
        ({"pubmed:000003"}, "srma id"),
        ({"central:000002"}, "srma id"),
    ]
    assert [r.line for r in rows][:2] == [2, 3]


def test_asreview_alone_leaves_the_full_texts_awaiting(review):
    """Without srma's decisions file, ASReview's relevant records await their full text."""
    decisions, counts, _ = counts_of(
        review,
        tool="asreview",
        title_abstract=[ASREVIEW / "asreview_relevant+irrelevant_srma_fixture.csv"],
    )
    assert counts["sought"] == counts["awaiting_full_text"] == 5
    assert counts["included_reports"] == 0
    assert (decisions["status"] == "awaiting_full_text").sum() == 5


# Rayyan --------------------------------------------------------------------------------------


@pytest.mark.parametrize("full_text", ["articles.csv", "articles.ris"])
def test_rayyan_exports_into_prisma_counts(review, full_text):
    """Rayyan's screening and full-text screening exports: both reviewers' decisions,
    the exclusion reasons, and study:<id> labels."""
    decisions, counts, not_counted = counts_of(
        review,
        tool="rayyan",
        title_abstract=[RAYYAN / "screening" / "articles.csv"],
        full_text=[RAYYAN / "full_text" / full_text],
    )
    flow(counts, {"wrong outcome": 1})
    assert not_counted == []
    assert decisions.loc["pubmed:000004", "title_abstract_reason"] == "wrong publication type"
    assert decisions.loc["pubmed:000005", "title_abstract_reason"] == (
        "wrong outcome; background article"
    )
    assert decisions.loc["pubmed:000003", "study_id"] == "OrpingtonModerate1991"
    # central:000001 has no AN, so Rayyan's key is empty: matched by the srma records note
    assert decisions.loc["central:000001", "study_id"] == "OrpingtonSevere1991"


def edited(src: Path, dest: Path, old: str, new: str) -> Path:
    text = src.read_text(encoding="utf-8")
    assert old in text, old
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text.replace(old, new, 1), encoding="utf-8")
    return dest


def test_rayyan_undecided_record_is_listed_not_counted(review, tmp_path, caplog):
    """Maybe, or reviewers who disagree: no decision, the record stays to screen."""
    screening = tmp_path / "articles.csv"
    lines = (RAYYAN / "screening" / "articles.csv").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.startswith("23644549,"))
    votes = '{""Anna""=>""Excluded"", ""Ben""=>""Excluded""}'
    assert votes in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(votes, '{""Anna""=>""Excluded"", ""Ben""=>""Maybe""}')
    screening.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="srma.screening_tools"):
        decisions, counts, not_counted = counts_of(
            review,
            tool="rayyan",
            title_abstract=[screening],
            full_text=[RAYYAN / "full_text" / "articles.csv"],
        )
    assert decisions.loc["pubmed:000005", "status"] == "not_screened"
    assert (counts["screened"], counts["not_screened"]) == (6, 1)
    [(row, problem)] = not_counted
    assert row.line == line and "reviewers disagree: Anna: Excluded, Ben: Maybe" in problem
    assert f"{screening}  {line}" in caplog.text
    assert "The effect of two golimumab doses" in caplog.text


def test_unmatched_included_row_stops_with_file_line_and_title(review, tmp_path):
    full_text = edited(
        RAYYAN / "full_text" / "articles.csv",
        tmp_path / "articles.csv",
        '26414004,"Course of Magnetic',
        '31000001,"Course of Functional',
    )
    full_text.write_text(
        full_text.read_text(encoding="utf-8").replace("srma records: pubmed:000002 | ", ""),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        counts_of(
            review,
            tool="rayyan",
            title_abstract=[RAYYAN / "screening" / "articles.csv"],
            full_text=[full_text],
        )
    message = str(err.value)
    assert message.startswith(f"{full_text}, line 3, field 'title': 1 included row(s)")
    assert "Course of Functional Resonance" in message
    assert "matches no record" in message


def test_unmatched_and_ambiguous_excluded_rows_are_warnings(review, tmp_path, caplog):
    irrelevant = tmp_path / COV_IRRELEVANT.name
    shutil.copy(COV_IRRELEVANT, irrelevant)
    with open(irrelevant, "a", encoding="utf-8", newline="") as fh:
        fh.write(
            '"A record screened in Covidence that no search export holds","Doe, J","",'
            '"2020","","J Imag","1","1","1-2","","","","#99","Doe 2020","",""\r\n'
        )
        fh.write(
            '"Two records in one row","Roe, R","","2021","","J Imag","1","1","1-2","","",'
            '"","#100","Roe 2021","srma records: pubmed:000002; pubmed:000001",""\r\n'
        )
    with caplog.at_level(logging.WARNING, logger="srma.screening_tools"):
        decisions, counts, not_counted = counts_of(
            review,
            tool="covidence",
            title_abstract=[irrelevant],
            full_text=[COV_INCLUDED, COV_EXCLUDED],
        )
    flow(counts, {"Wrong outcomes": 1})  # the two rows are not counted
    assert [(r.line, p) for r, p in not_counted] == [
        (4, "matches no record (no srma id, DOI, PMID, accession or title in common)"),
        (5, "matches 2 clusters (pubmed:000001, pubmed:000002)"),
    ]
    assert "2 row(s) of the covidence exports not counted" in caplog.text
    assert re.search(rf"{re.escape(str(irrelevant))}\s+4\s+exclude at title/abstract", caplog.text)


# Covidence -----------------------------------------------------------------------------------


def test_covidence_exports_into_prisma_counts(review):
    """Covidence's Irrelevant, Included and Excluded lists; study ids from its Study
    column (spaces removed) or a study:<id> tag; the reason from the Notes."""
    decisions, counts, not_counted = counts_of(
        review,
        tool="covidence",
        title_abstract=[COV_IRRELEVANT],
        full_text=[COV_INCLUDED, COV_EXCLUDED],
    )
    flow(counts, {"Wrong outcomes": 1})
    assert not_counted == []
    assert decisions.loc["pubmed:000001", "study_id"] == "Edinburgh1990"
    assert decisions.loc["central:000001", "study_id"] == "OrpingtonSevere1991"  # tag
    assert decisions.loc["central:000002", "full_text_exclusion_reason"] == "Wrong outcomes"
    assert decisions.loc["central:000002", "record_key"] == f"{COV_EXCLUDED}:2"


def test_covidence_rows_fall_back_to_doi_pmid_and_title(review):
    _, clusters, records = review
    matcher = Matcher(clusters, records)
    included = read_export(COV_INCLUDED, "covidence", "full_text")
    excluded = read_export(COV_EXCLUDED, "covidence", "full_text")
    assert [matcher.match(r)[1] for r in included + excluded] == [
        "doi",
        "doi",
        "pmid/accession",  # no DOI in Covidence
        "doi",
        "title",  # neither DOI nor accession number
    ]


def test_covidence_study_that_is_no_file_name_needs_a_study_id(review, tmp_path):
    included = edited(
        COV_INCLUDED, tmp_path / COV_INCLUDED.name, '"Edinburgh 1990"', '"O\'Brien 2016"'
    )
    with pytest.raises(InputError) as err:
        counts_of(
            review,
            tool="covidence",
            title_abstract=[COV_IRRELEVANT],
            full_text=[included, COV_EXCLUDED],
        )
    message = str(err.value)
    assert message.startswith(f"{included}, line 2, record pubmed:000001, field 'study_id'")
    assert "Covidence's Study \"O'Brien 2016\" is not an extraction file name" in message


def test_covidence_file_must_name_its_list(tmp_path):
    renamed = tmp_path / "covidence_export.csv"
    shutil.copy(COV_INCLUDED, renamed)
    with pytest.raises(InputError, match="does not say which Covidence list"):
        read_export(renamed, "covidence", "full_text")


# Several sources -----------------------------------------------------------------------------


def test_tool_and_srma_file_disagreeing_is_an_error(review, tmp_path):
    srma = edited(
        ASREVIEW / "full_text_decisions.csv",
        tmp_path / "decisions.csv",
        "cluster:central:000002,include,,exclude,MRI scores not reported per arm,,",
        "cluster:central:000002,include,,exclude,MRI scores not reported per arm,,\n"
        "pmid:26002023,include,,,,,",
    )
    with pytest.raises(InputError) as err:
        counts_of(
            review,
            tool="asreview",
            title_abstract=[ASREVIEW / "asreview_relevant+irrelevant_srma_fixture.csv"],
            decisions_path=srma,
        )
    message = str(err.value)
    assert message.startswith(
        f"{srma}, line 7, record pubmed:000004, field 'title_abstract_decision'"
    )
    assert "'include' here but 'exclude' in" in message and ", line 7:" in message


def test_wrong_export_for_the_tool_is_named(tmp_path):
    with pytest.raises(InputError, match="no label column"):
        read_export(COV_INCLUDED, "asreview", "title_abstract")
    with pytest.raises(InputError, match="not a Covidence CSV export"):
        read_export(RAYYAN / "screening" / "articles.csv", "covidence", "full_text")
    with pytest.raises(InputError, match="no RAYYAN-INCLUSION"):
        read_export(
            ASREVIEW / "asreview_dataset_all_srma_fixture_lab1.csv", "rayyan", "title_abstract"
        )


def test_check_screening_config(tmp_path):
    with pytest.raises(ConfigError, match="screening.title_abstract': the exports"):
        check_screening({"tool": "srma", "decisions": "x.csv", "title_abstract": ["a.csv"]}, [])
    with pytest.raises(ConfigError, match="list the exports of rayyan"):
        check_screening({"tool": "rayyan", "decisions": ""}, [])
    with pytest.raises(ConfigError, match="screening.full_text': gone.csv: no such file"):
        check_screening({"tool": "rayyan", "decisions": "", "full_text": ["gone.csv"]}, [])
    settings = {
        "tool": "covidence",
        "decisions": "",
        "title_abstract": [str(COV_IRRELEVANT)],
        "full_text": [str(COV_INCLUDED), str(COV_EXCLUDED)],
    }
    # A study file the exports never include would be analysed but not counted: stop.
    with pytest.raises(InputError) as err:
        check_screening(settings, STUDIES, "res/extraction")
    assert str(err.value).startswith(
        "res/extraction/MontrealHome1992.yaml, record MontrealHome1992, field 'study_id': no "
        "included report in the screening tool's exports names study MontrealHome1992"
    )
    assert check_screening(settings, [s for s in STUDIES if s != "MontrealHome1992"]) is None
    # without srma's decisions file, nothing else can name the study: stop when starting
    included = edited(COV_INCLUDED, tmp_path / COV_INCLUDED.name, '"Edinburgh 1990"', '""')
    with pytest.raises(InputError, match=r"line 2, field 'study_id': an included report"):
        check_screening(
            {"tool": "covidence", "decisions": "", "full_text": [str(included)]}, STUDIES
        )


# The workflow --------------------------------------------------------------------------------


def counts_run(work):
    """Snakemake up to the PRISMA counts in the review folder ``work``."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "results/prisma/counts.json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_workflow_reads_covidence_exports(root_dir, tmp_path):
    """The fixture review screened in Covidence: import, deduplicate and screening jobs."""
    work = copy_review(root_dir, tmp_path)
    dest = work / "resources" / "screening"
    for path in (COV_IRRELEVANT, COV_INCLUDED, COV_EXCLUDED):
        shutil.copy(path, dest / path.name)
    config = work / "config" / "config.yaml"
    text = config.read_text(encoding="utf-8")
    old = "screening:\n  decisions: resources/screening/decisions.csv\n"
    assert old in text
    config.write_text(
        text.replace(
            old,
            "screening:\n  decisions: ''\n  tool: covidence\n"
            f"  title_abstract: [resources/screening/{COV_IRRELEVANT.name}]\n"
            f"  full_text: [resources/screening/{COV_INCLUDED.name}, "
            f"resources/screening/{COV_EXCLUDED.name}]\n",
        ),
        encoding="utf-8",
    )
    proc = counts_run(work)
    out = proc.stdout + proc.stderr
    # The fixture review has a study file (MontrealHome1992) the exports never include:
    # analysed but never counted, so the run stops when it starts, naming it.
    assert proc.returncode != 0, out[-3000:]
    assert "MontrealHome1992.yaml, record MontrealHome1992, field 'study_id'" in out
    assert not (work / "results").exists()
    (work / "resources" / "extraction" / "MontrealHome1992.yaml").unlink()
    proc = counts_run(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = json.loads((work / "results/prisma/counts.json").read_text())
    flow(counts, {"Wrong outcomes": 1})
