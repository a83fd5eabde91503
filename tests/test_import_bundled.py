"""The bundled review's own exports (resources/searches), the counts table, the
``srma import`` command and byte-identical output."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from srma.cli import main
from srma.importers import COLUMNS, count_table, read_export
from srma.io import read_parquet, write_parquet

ROOT = Path(__file__).resolve().parents[1]
SEARCHES = ROOT / "resources" / "searches"

# export -> (file, database in config/config.yaml, records counted by reading the file)
BUNDLED = {
    "pubmed": ("pubmed.nbib", "PubMed", 29),
    "embase": ("embase.ris", "Embase", 32),
    "cochrane_central": ("cochrane_central.ris", "CENTRAL", 54),
}


@pytest.fixture(scope="module")
def bundled() -> dict[str, pd.DataFrame]:
    return {
        export: read_export(SEARCHES / name, export=export, database=db)
        for export, (name, db, _) in BUNDLED.items()
    }


@pytest.mark.parametrize("export", list(BUNDLED))
def test_bundled_counts(bundled, export):
    name, db, n = BUNDLED[export]
    text = (SEARCHES / name).read_text(encoding="utf-8")
    marker = r"^PMID- " if name.endswith(".nbib") else r"^ER  -"
    assert len(re.findall(marker, text, re.M)) == n
    table = bundled[export]
    assert len(table) == n
    assert list(table.columns) == list(COLUMNS)
    assert (table["database"] == db).all()
    assert table["record_id"].tolist() == [f"{export}:{i:06d}" for i in range(1, n + 1)]


def test_bundled_first_pubmed_record(bundled):
    row = bundled["pubmed"].iloc[0]
    # As printed in resources/searches/pubmed.nbib, lines 1-40.
    assert row["pmid"] == "26269397"
    assert row["title"] == (
        "Clinical and MRI responses to etanercept in early non-radiographic axial "
        "spondyloarthritis: 48-week results from the EMBARK study."
    )
    assert row["first_author"] == "Maksymowych"
    assert row["authors"][:2] == ["Maksymowych, Walter P", "Dougados, Maxime"]
    assert row["year"] == 2016
    assert row["volume"] == "75"
    assert row["issue"] == "7"
    assert row["pages"] == "1328-35"
    assert row["first_page"] == "1328"
    assert row["doi"] == "10.1136/annrheumdis-2015-207596"
    assert row["journal"] == "Annals of the rheumatic diseases"
    assert row["journal_abbrev"] == "Ann Rheum Dis"


def test_central_subtitle_in_t2_is_not_the_journal(bundled):
    # Lines 600-614 of cochrane_central.ris: "TI  - Golimumab reduces spinal inflammation
    # in ankylosing spondylitis", "T2  - MRI results of the randomised, placebo- controlled
    # GO-RAISE study" (the subtitle) and "JO  - Annals of the rheumatic diseases".
    table = bundled["cochrane_central"]
    row = table[table["title"] == "Golimumab reduces spinal inflammation in ankylosing spondylitis"]
    assert len(row) == 1
    assert row["journal"].iloc[0] == "Annals of the rheumatic diseases"
    # Line 658: a congress abstract, T2 without JO: the congress stands as the source.
    row = table[table["pages"] == "2219"]
    assert row["journal"].tolist() == ["2012 ACR/ARHP Annual Meeting, abstract 2219"]


def test_bundled_first_central_and_embase_records(bundled):
    central = bundled["cochrane_central"].iloc[0]
    assert central["first_author"] == "Braun"
    assert central["year"] == 2006
    assert central["doi"] == "10.1002/art.21790"
    assert central["pages"] == "1646-1652"
    assert central["journal"] == "Arthritis and rheumatism"
    embase = bundled["embase"].iloc[0]
    assert embase["title"] == (
        "Long-term safety and efficacy of infliximab for the treatment of ankylosing spondylitis."
    )
    assert embase["authors"] == ["Elalouf, Ofir", "Elkayam, Ori"]
    assert embase["journal"] == "Therapeutics and clinical risk management"
    assert embase["journal_abbrev"] == "Ther Clin Risk Manag"
    assert embase["pages"] == "1719-26"
    assert embase["doi"] == "10.2147/tcrm.s55928"


def test_database_from_record_when_not_given():
    table = read_export(SEARCHES / "embase.ris", export="embase")
    assert set(table["database"]) == {"Embase"}  # DB tag of every record
    table = read_export(SEARCHES / "pubmed.nbib", export="pubmed")
    assert set(table["database"]) == {"PubMed"}  # the format's database


def test_count_table(bundled):
    counts = count_table(list(bundled.values()))
    assert counts.to_dict("records") == [
        {
            "export": export,
            "path": str(SEARCHES / name),
            "format": "medline" if name.endswith(".nbib") else "ris",
            "database": db,
            "records": n,
        }
        for export, (name, db, n) in BUNDLED.items()
    ]


def test_same_input_same_bytes(tmp_path):
    paths = []
    for i in range(2):
        table = read_export(SEARCHES / "cochrane_central.ris", export="c", database="CENTRAL")
        paths.append(write_parquet(table, tmp_path / f"r{i}.parquet"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    back = read_parquet(paths[0])
    assert back["title"].tolist() == table["title"].tolist()
    assert [list(a) for a in back["authors"]] == table["authors"].tolist()
    assert back["year"].tolist() == table["year"].tolist()


def test_command_writes_table_and_prints_counts(tmp_path, capsys):
    out = tmp_path / "records.parquet"
    counts = tmp_path / "counts.csv"
    files = [str(SEARCHES / name) for name, _, _ in BUNDLED.values()]
    assert main(["import", *files, "-o", str(out), "--counts", str(counts)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^pubmed\s+29\s+medline", printed, re.M)
    assert re.search(r"^embase\s+32\s+ris", printed, re.M)
    assert re.search(r"^cochrane_central\s+54\s+ris", printed, re.M)
    assert re.search(r"^total\s+115\b", printed, re.M)
    table = read_parquet(out)
    assert len(table) == 115
    assert table["record_id"].iloc[0] == "pubmed:000001"
    assert pd.read_csv(counts)["records"].tolist() == [29, 32, 54]


def test_command_error_names_file_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "records.parquet"
    bad = ROOT / "tests" / "fixtures" / "import" / "truncated.ris"
    assert main(["import", str(SEARCHES / "pubmed.nbib"), str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "truncated.ris" in err and "record 2" in err
    assert not out.exists()
