"""Screening: record keys resolve to clusters, PRISMA 2020 counts reconcile, errors name
file/line/field, and an update search keeps earlier decisions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from srma.dedup import deduplicate
from srma.errors import InputError
from srma.screening import screen

ROOT = Path(__file__).resolve().parents[1]
EXPORTS = [
    ("pubmed", "pubmed.nbib", "PubMed"),
    ("embase", "embase.ris", "Embase"),
    ("cochrane_central", "cochrane_central.ris", "CENTRAL"),
]


@pytest.fixture(scope="module")
def bundled():
    """The bundled review's three exports, imported and deduplicated."""
    importers = pytest.importorskip("srma.importers")
    frames = []
    for name, file, database in EXPORTS:
        frame = importers.read_export(ROOT / "resources" / "searches" / file, export=name)
        frames.append(frame.assign(database=database))
    records = pd.concat(frames, ignore_index=True)
    return records, deduplicate(records)


def write_rows(path: Path, rows: list[dict]) -> Path:
    cols = [
        "record_key",
        "title_abstract_decision",
        "title_abstract_reason",
        "full_text_decision",
        "full_text_exclusion_reason",
        "study_id",
    ]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in cols})
    return path


def test_bundled_review_prisma_counts(bundled):
    records, result = bundled
    assert len(records) == 115  # 29 + 32 + 54 records in the three files
    decisions, counts = screen(
        result.unique, result.clusters, records, ROOT / "resources/screening/decisions.csv"
    )
    # The seed lists 77 distinct articles; every one resolves to its own cluster and
    # every cluster has a decision.
    assert len(result.unique) == 77
    assert (decisions["status"] != "not_screened").all()
    # Expected values read from the seed file (screening.csv): 21 pass title/abstract,
    # 17 included and 4 excluded at full text; EMBARK's two reports are one study.
    assert counts["identified"] == {"PubMed": 29, "Embase": 32, "CENTRAL": 54, "total": 115}
    assert counts["duplicates_removed"] == 38
    assert counts["screened"] == 77
    assert counts["excluded_title_abstract"] == 56
    assert counts["sought"] == 21 and counts["not_retrieved"] == 0
    assert counts["assessed"] == 21
    assert counts["excluded_full_text"]["total"] == 4
    assert counts["included_reports"] == 17
    # Eight more reports were found outside the bundled searches (rows O001-O008, record
    # keys other:...): Baraliakos2005's full paper, the correlation sources Weiss2014
    # and Pedersen2010, Barkham2009 and Cui2016, and three reports published after the
    # search date; 16 studies from the searches + 8 = 24, one per extraction file.
    via = "source collection outside the bundled searches (resources/SOURCES.md)"
    assert counts["other_methods"] == {
        "identified": {via: 8, "total": 8},
        "sought": 8,
        "not_retrieved": 0,
        "awaiting_full_text": 0,
        "assessed": 8,
        "excluded": {"total": 0},
        "included_reports": 8,
    }
    assert counts["included_studies"] == 24
    assert counts["included_studies"] == len(list((ROOT / "resources/extraction").glob("*.yaml")))
    assert set(decisions.columns) >= {"cluster_id", "record_key", "status", "study_id"}
    json.dumps(counts)  # serialisable as counts.json
    # a companion report resolves to the same study as the main paper
    embark = decisions[decisions["study_id"] == "Dougados2014"]
    assert len(embark) == 2


def test_key_kinds_resolve(bundled, tmp_path):
    records, result = bundled
    rows = [
        {"record_key": "pmid:22128083", "title_abstract_decision": "exclude"},
        {"record_key": "doi:10.1002/ART.21790", "title_abstract_decision": "exclude"},
        {"record_key": "nct:NCT01453725", "title_abstract_decision": "exclude"},
        {"record_key": "eudract:2010-020077-16", "title_abstract_decision": "exclude"},
        {
            "record_key": "title:Focal fat lesions at vertebral",
            "title_abstract_decision": "exclude",
        },
        {"record_key": "cluster:embase:000002", "title_abstract_decision": "exclude"},
    ]
    decisions, counts = screen(
        result.unique, result.clusters, records, write_rows(tmp_path / "d.csv", rows)
    )
    done = decisions[decisions["status"] != "not_screened"]
    assert len(done) == 6
    cid = result.clusters.set_index("record_id")["cluster_id"]
    assert cid["embase:000002"] in set(done["cluster_id"])
    assert counts["not_screened"] == 71 and counts["screened"] == 6


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"record_key": "pmid:99999999"}, "matches no deduplicated record"),
        ({"record_key": "title:Efficacy and safety of"}, "matches .* clusters"),
        ({"record_key": "isbn:123"}, "record_key must be"),
        ({"record_key": "pmid:22128083", "title_abstract_decision": "maybe"}, "include or exclude"),
        (
            {"record_key": "pmid:22128083", "full_text_decision": "include"},
            "excluded at title/abstract has a full-text decision",
        ),
    ],
)
def test_bad_rows_name_file_line_and_field(bundled, tmp_path, row, message):
    records, result = bundled
    path = write_rows(tmp_path / "bad.csv", [{"title_abstract_decision": "exclude"} | row])
    with pytest.raises(InputError, match=r"bad\.csv, line 2.*field") as err:
        screen(result.unique, result.clusters, records, path)
    assert pytest.importorskip("re").search(message, str(err.value))


def test_two_keys_for_one_cluster_is_an_error(bundled, tmp_path):
    records, result = bundled
    rows = [
        {"record_key": "pmid:22128083", "title_abstract_decision": "exclude"},
        {"record_key": "doi:10.1136/annrheumdis-2011-200308", "title_abstract_decision": "exclude"},
    ]
    with pytest.raises(InputError, match="line 3.*already decided on line 2"):
        screen(result.unique, result.clusters, records, write_rows(tmp_path / "d.csv", rows))


def test_update_search_keeps_decisions_and_lists_only_new_records(bundled, tmp_path):
    records, result = bundled
    rows = [
        {
            "record_key": "pmid:22128083",
            "title_abstract_decision": "include",
            "full_text_decision": "include",
            "study_id": "Braun2012",
        },
        {"record_key": "pmid:23644549", "title_abstract_decision": "exclude"},
    ]
    path = write_rows(tmp_path / "d.csv", rows)
    before, _ = screen(result.unique, result.clusters, records, path)
    # an update search: one more copy of GO-RAISE MRI (duplicate) and one new article
    base = records[records["pmid"] == "22128083"].iloc[[0]].copy()
    new_article = base.copy()
    new_article["title"] = "Certolizumab pegol and MRI inflammation in axial SpA: week 52"
    new_article["doi"] = None
    new_article["pmid"] = None
    new_article["pages"] = "100-8"
    new_article["first_page"] = "100"
    update = pd.concat([base, new_article], ignore_index=True)
    update["export"] = "update"
    update["record_id"] = ["update:000001", "update:000002"]
    update["position"] = [1, 2]
    update["database"] = "PubMed"
    all_records = pd.concat([records, update], ignore_index=True)
    result2 = deduplicate(all_records)
    after, counts = screen(result2.unique, result2.clusters, all_records, path)
    kept = before[before["status"] != "not_screened"].set_index("cluster_id")["status"]
    now = after.set_index("cluster_id")["status"]
    assert (now.loc[kept.index] == kept).all()
    new = after[after["status"] == "not_screened"]["cluster_id"].tolist()
    assert "update:000002" in new and len(new) == 76  # 75 unscreened before + 1 new
    assert counts["identified"]["total"] == 117
    assert counts["duplicates_removed"] == 39


def test_screen_command_writes_counts_and_the_list_to_screen(bundled, tmp_path, capsys):
    from srma.cli import main
    from srma.dedup import write_outputs
    from srma.io import read_parquet, write_parquet

    records, result = bundled
    paths = []
    for name, frame in records.groupby("export", sort=False):
        paths.append(str(write_parquet(frame.reset_index(drop=True), tmp_path / f"{name}.parquet")))
    write_outputs(result, tmp_path / "dedup")
    rows = [{"record_key": "pmid:22128083", "title_abstract_decision": "exclude"}]
    decisions = write_rows(tmp_path / "d.csv", rows)
    args = ["screen", "--records", *paths, "--dedup", str(tmp_path / "dedup")]
    args += ["--decisions", str(decisions), "-o", str(tmp_path / "s")]
    args += ["--counts", str(tmp_path / "prisma" / "counts.json")]
    assert main(args) == 0
    counts = json.loads((tmp_path / "prisma" / "counts.json").read_text())
    assert counts["screened"] == 1 and counts["not_screened"] == 76
    assert len(read_parquet(tmp_path / "s" / "decisions.parquet")) == 77
    to_screen = pd.read_csv(tmp_path / "s" / "to_screen.csv")
    assert len(to_screen) == 76
    assert "76 to screen" in capsys.readouterr().out


# The decisions file alone (checked when the workflow starts) -----------------------------

HEADER = (
    "record_key,title_abstract_decision,title_abstract_reason,full_text_decision,"
    "full_text_exclusion_reason,study_id"
)
ROWS = [
    "pmid:22128083,include,,include,,Braun2012",
    "pmid:23644549,exclude,no MRI outcome,,,",
]


def decisions_file(tmp_path, text: str | bytes) -> Path:
    path = tmp_path / "decisions.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("text", "line", "record", "field", "message"),
    [
        (b"", 1, None, None, "the file is empty"),
        (b"\n\n", 1, None, None, "the file is empty"),
        (HEADER + "\n", 2, None, None, "no screening decisions: the file has a header but no rows"),
        (HEADER.replace(",full_text_decision", "") + "\npmid:1,exclude,,,\n", 1, None,
         "full_text_decision", "missing column(s) full_text_decision"),
        (HEADER.replace("study_id", "Study_Id") + "\n" + ROWS[1] + "\n", 1, None, "study_id",
         "is 'Study_Id' meant as 'study_id'?"),
        (HEADER + ",study_id\n" + ROWS[1] + ",\n", 1, None, "study_id", "column named twice"),
        (HEADER + "\n" + ROWS[0] + ",extra\n", 2, "pmid:22128083", None,
         "the row has 7 cells, the header 6"),
        (HEADER + "\npmid:23644549,exclude\n", 2, "pmid:23644549", None,
         "the row has 2 cells, the header 6"),
        (HEADER + "\n" + ROWS[1] + "\n" + ROWS[1].replace("pmid:", "PMID: ") + "\n", 3,
         "PMID: 23644549", "record_key", "is given twice (first on line 2)"),
        (HEADER + "\npmid:22128083,include,,include,,\n", 2, "pmid:22128083", "study_id",
         "an included report needs the study_id"),
        (HEADER + "\npmid:22128083,include,,include,,Braun 2012\n", 2, "pmid:22128083",
         "study_id", "'Braun 2012' is not an extraction file name"),
        (HEADER + "\npmid:22128083,include,,maybe,,\n", 2, "pmid:22128083",
         "full_text_decision", "full_text_decision must be include"),
        ((HEADER + "\n" + ROWS[1].replace("no MRI", "n\xe9 MRI") + "\n").encode("latin-1"), 2,
         None, None, "byte 0xe9 is not UTF-8"),
    ],
)  # fmt: skip
def test_decisions_file_errors_name_line_record_and_column(
    tmp_path, text, line, record, field, message
):
    from srma.screening import read_decision_rows

    path = decisions_file(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_decision_rows(path)
    err = info.value
    assert (err.path, err.line, err.record, err.field) == (str(path), line, record, field)
    assert message in err.message


def test_decisions_file_layout_that_is_fine(tmp_path):
    """A byte-order mark, blank lines, extra columns (kept for people), empty columns a
    spreadsheet adds, and a quoted cell with a comma."""
    from srma.screening import read_decision_rows

    text = "\ufeff\n" + HEADER + ",notes,,\n" + ROWS[0] + ',"RCT, MRI",,\n\n' + ROWS[1] + ",,\n"
    rows = read_decision_rows(decisions_file(tmp_path, text))
    assert [r["record_key"] for r in rows] == ["pmid:22128083", "pmid:23644549"]
    assert [r["line"] for r in rows] == [3, 5]


def test_study_references(tmp_path):
    from srma.screening import check_decisions_file, check_study_references, read_screening

    path = decisions_file(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    frame = read_screening(path)
    assert check_study_references(frame, ["Braun2012"]) == ([], [])
    assert check_study_references(frame, ["Other2020"]) == (
        [("Braun2012", 2, "pmid:22128083")],
        ["Other2020"],
    )
    check_decisions_file(path, ["Braun2012"])  # consistent: no error
    # An included study without a file: counted in PRISMA, never analysed. Stops.
    with pytest.raises(InputError) as err:
        check_decisions_file(path, [], "reviews/x/extraction")
    assert str(err.value) == (
        f"{path}, line 2, record pmid:22128083, field 'study_id': included study Braun2012 "
        "has no extraction file reviews/x/extraction/Braun2012.yaml: write it (a study "
        "without usable data has 'outcomes: []' and its 'no_outcomes_reason'), or correct "
        "the study_id"
    )
    # A study file no included report names: analysed, never counted. Stops.
    with pytest.raises(InputError) as err:
        check_decisions_file(path, ["Braun2012", "Other2020"], "reviews/x/extraction")
    message = str(err.value)
    assert message.startswith(
        "reviews/x/extraction/Other2020.yaml, record Other2020, field 'study_id': no included "
        f"report in {path} names study Other2020: "
    )
    assert "record_key other:<label>" in message


def test_reports_found_by_other_methods(bundled, tmp_path):
    """``other:`` rows: reports found outside the searches, counted in PRISMA's second
    column; their studies are included like any other and named study files are fine."""
    records, result = bundled
    header = HEADER + ",identified_via"
    rows = [
        "pmid:22128083,include,,include,,Braun2012,",
        "other:Smith letter,include,,include,,Smith2020,citation searching",
        "other:Jones poster,include,,exclude,conference abstract only,,citation searching",
        "other:Lee website,include,,not_retrieved,,,websites",
        "other:Braun companion,include,,include,,Braun2012,",
    ]
    path = decisions_file(tmp_path, "\n".join([header, *rows]) + "\n")
    decisions, counts = screen(
        result.unique, result.clusters, records, path, study_ids=["Braun2012", "Smith2020"]
    )
    assert counts["other_methods"] == {
        "identified": {"citation searching": 2, "other methods": 1, "websites": 1, "total": 4},
        "sought": 4,
        "not_retrieved": 1,
        "awaiting_full_text": 0,
        "assessed": 3,
        "excluded": {"conference abstract only": 1, "total": 1},
        "included_reports": 2,
    }
    # Braun2012 (a search record and a companion found by other methods) + Smith2020
    assert counts["included_reports"] == 1 and counts["included_studies"] == 2
    assert (decisions["record_key"].dropna().str.startswith("other:")).sum() == 0
    # An other: report is sought: it cannot be excluded at title/abstract.
    bad = "other:Kim,exclude,not relevant,,,,citation searching"
    path = decisions_file(tmp_path, "\n".join([header, bad]) + "\n")
    with pytest.raises(InputError, match="field 'title_abstract_decision': a report found by"):
        screen(result.unique, result.clusters, records, path)
    # identified_via belongs to other: rows only
    bad = "pmid:22128083,include,,include,,Braun2012,citation searching"
    path = decisions_file(tmp_path, "\n".join([header, bad]) + "\n")
    with pytest.raises(InputError, match="field 'identified_via': identified_via is for"):
        screen(result.unique, result.clusters, records, path)


def test_screening_module_imports_without_pandas(root_dir):
    """The workflow checks the decisions file when it starts: no pandas import there."""
    import subprocess
    import sys

    code = "import sys, srma.screening; sys.exit('pandas' in sys.modules)"
    env = {"PYTHONPATH": str(root_dir / "workflow")}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
