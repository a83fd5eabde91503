"""The import stage on the 62 real export files in ../shared/datasets/exports.

Record counts were verified by reading each file: they are counted here again by a
method other than srma's parsers (``ER  -`` lines for RIS, ``PMID-`` lines for MEDLINE,
``ER`` lines for Web of Science, ``<record>`` elements, ``@`` entry lines, ``<n. >``
headers, data rows read by pandas for CSV). Field values were read off the files by eye.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
import rispy

from srma.importers import count_table, detect_format, read_export, read_text
from srma.importers import medline as medline_mod
from srma.importers import ris as ris_mod

#: file (under exports/), detected format, number of records (checked by reading the file)
REAL = [
    ("bibtex/asysd__zotero_export.bib", "bibtex", 1000),
    ("bibtex/synthesisr__Scopus_bib_example.bib", "bibtex", 3),
    ("cochrane/cff__baseline_cochrane.csv", "csv_cochrane", 3),
    ("cochrane/cff__baseline_cochrane_endnote.ris", "ris", 3),
    ("cochrane/cff__baseline_cochrane_procite.ris", "ris", 3),
    ("cochrane/cff__baseline_cochrane_refman.ris", "ris", 3),
    ("embase/asreview__embase.csv", "csv_embase", 6),
    ("embase/cff__baseline_embase.csv", "csv_embase", 10),
    ("endnote/asysd__mendeley_export.xml", "endnote_xml", 1233),
    ("endnote/colrev__ais_enl.txt", "endnote_tagged", 6),
    ("endnote/colrev__enl_data.enl", "endnote_tagged", 3),
    ("ovid/knh__Embase_citavi_r3001-3002.ovd", "ovid", 2),
    ("ovid/knh__Embase_endnote_r3001-3002.cgi", "ovid", 2),
    ("pubmed/biopython__pubmed_result1.txt", "medline", 1),
    ("pubmed/biopython__pubmed_result2.txt", "medline", 4),
    ("pubmed/biopython__pubmed_result3.txt", "medline", 1),
    ("pubmed/biopython__pubmed_result4.txt", "medline", 1),
    ("pubmed/cff__baseline_pubmed.csv", "csv_pubmed", 10),
    ("pubmed/cff__baseline_pubmed.ris", "medline", 50),
    ("pubmed/colrev__pubmed-chatbot.csv", "csv_pubmed", 6),
    ("pubmed/metaknowledge__medline_test.medline", "medline", 175),
    ("pubmed/nbib__pmc_medlars.txt", "medline", 5),
    ("pubmed/nbib__pubmed-balloongui-set.nbib", "medline", 75),
    ("pubmed/nbib__single.nbib", "medline", 1),
    ("pubmed/revtools__restoration_pubmed.nbib", "medline", 104),
    ("pubmed/synthesisr__PubMed_example.txt", "medline", 3),
    ("ris/asreview__embase.ris", "ris", 6),
    ("ris/asreview__ovid_psycinfo.ris", "ris", 6),
    ("ris/asreview__ovid_zotero.ris", "ris", 6),
    ("ris/asreview__proquest.ris", "ris", 6),
    ("ris/asreview__pubmed_endnote.txt", "ris", 6),
    ("ris/asreview__pubmed_zotero.ris", "ris", 6),
    ("ris/asreview__ris_issue_1099.txt", "ris", 7),
    ("ris/asreview__ris_issue_992.txt", "ris", 19),
    ("ris/asysd__ris_export.txt", "ris", 69),
    ("ris/cff__baseline_cinahl.ris", "ris", 9),
    ("ris/cff__baseline_embase.ris", "ris", 10),
    ("ris/cff__baseline_eric_ovid.ris", "ris", 10),
    ("ris/cff__baseline_psychInfo_ovid.ris", "ris", 10),
    ("ris/revtools__avian_ecology_bibliography.ris", "ris", 20),
    ("ris/synthesisr__ASP_ris_example.ris", "ris", 4),
    ("ris/synthesisr__Ovid_ris_example.ris", "ris", 4),
    ("ris/synthesisr__citesource_issue_24.ris", "ris", 17),
    ("scopus/asreview__scopus.ris", "ris", 6),
    ("scopus/asysd__scopus.ris", "ris", 10),
    ("scopus/cff__baseline_scopus.csv", "csv_scopus", 10),
    ("scopus/cff__baseline_scopus.ris", "ris", 10),
    ("scopus/revtools__restoration_scopus.ris", "ris", 286),
    ("scopus/synthesisr__Scopus_ris_example.ris", "ris", 3),
    ("scopus/synthesisr__scopus.ris", "ris", 92),
    ("wos/asreview__web_of_science.txt", "ris", 10),
    ("wos/asysd__wos_test.ris", "ris", 50),
    ("wos/awandahl__savedrecs.txt", "wos", 95),
    ("wos/cff__baseline_webofscience.ris", "ris", 10),
    ("wos/knh__WoS_other_reference_software_r0001-0500.txt", "wos", 500),
    ("wos/knh__WoS_other_reference_software_r4001-4012.txt", "wos", 12),
    ("wos/metaknowledge__testFile.isi", "wos", 34),
    ("wos/revtools__restoration_WoS.ciw", "wos", 247),
    ("wos/rispy__example_wos.ris", "wos", 2),
    ("wos/sciencescape__savedrecs_tabdelimited.txt", "wos_tab", 1),
    ("wos/synthesisr__WoS_txt_example.txt", "wos", 4),
    ("wos/synthesisr__zoorec.txt", "wos", 134),
]


@pytest.fixture(scope="module")
def exports(shared_dir: Path) -> Path:
    return shared_dir / "datasets" / "exports"


@pytest.fixture(scope="module")
def tables(exports: Path) -> dict[str, pd.DataFrame]:
    """Every real file read once (the module's tests share them)."""
    return {name: read_export(exports / name, export=Path(name).stem) for name, _, _ in REAL}


def independent_count(path: Path, fmt: str) -> int:
    """Records counted without srma's parsers."""
    text = path.read_text(encoding="utf-8-sig")
    if fmt == "medline":
        return len(re.findall(r"^PMID- ", text, re.M))
    if fmt == "ris":
        return len(re.findall(r"^ER  -", text, re.M))
    if fmt == "wos":
        return len(re.findall(r"^ER\s*$", text, re.M))
    if fmt == "wos_tab":
        return sum(1 for line in text.splitlines() if line.strip()) - 1
    if fmt == "endnote_xml":
        return text.count("<record>")
    if fmt == "endnote_tagged":
        return len(re.findall(r"^%T ", text, re.M))
    if fmt == "bibtex":
        return len(re.findall(r"^@", text, re.M))
    if fmt == "ovid":
        return len(re.findall(r"^<\d+\. >", text, re.M))
    skip = 3 if text.startswith('"SEARCH QUERY"') else 0  # Embase's query preamble
    return len(pd.read_csv(io.StringIO(text), dtype=str, skiprows=skip))


def test_all_62_files_listed(exports):
    on_disk = sorted(str(p.relative_to(exports)) for p in exports.glob("*/*") if p.is_file())
    assert on_disk == sorted(name for name, _, _ in REAL)
    assert len(REAL) == 62


@pytest.mark.parametrize(("name", "fmt", "n"), REAL, ids=[r[0] for r in REAL])
def test_format_and_count(exports, tables, name, fmt, n):
    path = exports / name
    assert detect_format(path) == fmt
    assert independent_count(path, fmt) == n
    table = tables[name]
    assert len(table) == n
    assert table["position"].tolist() == list(range(1, n + 1))
    assert table["record_id"].iloc[-1] == f"{Path(name).stem}:{n:06d}"
    assert table["raw"].map(lambda r: isinstance(r, str) and len(r) > 0).all()
    # Every record is traceable (title or an identifier).
    ident = table[["title", "doi", "pmid", "accession"]].notna().any(axis=1)
    assert ident.all()


def test_counts_table_equals_independent_counts(exports, tables):
    counts = count_table([tables[name] for name, _, _ in REAL])
    assert list(counts.columns) == ["export", "path", "format", "database", "records"]
    expected = [independent_count(exports / name, fmt) for name, fmt, _ in REAL]
    assert counts["records"].tolist() == expected
    assert counts["format"].tolist() == [fmt for _, fmt, _ in REAL]


# (file, position): fields as read in the file
SPOT = {
    ("pubmed/nbib__pubmed-balloongui-set.nbib", 1): {  # CRLF line ends
        "pmid": "30776994",
        "year": 2019,
        "doi": "10.1161/strokeaha.118.021126",
        "first_author": "Zaidat",
        "title": "Impact of Balloon Guide Catheter Use on Clinical and Angiographic Outcomes "
        "in the STRATIS Stroke Thrombectomy Registry.",
    },
    ("pubmed/metaknowledge__medline_test.medline", 17): {
        "pmid": "26516810",
        "doi": "10.1097/spv.0000000000000215",
        "year": 2016,
        "first_author": "Visco",
    },
    ("pubmed/biopython__pubmed_result4.txt", 1): {  # no final newline
        "pmid": "37195739",
        "doi": "10.1091/mbc.e22-12-0560",
        "pages": "mbcE22120560",
        "title": "High extracellular glucose promotes cell motility by modulating cell "
        "deformability and contractility via cAMP-RhoA-ROCK axis in human breast cancer "
        "cells.",
    },
    ("cochrane/cff__baseline_cochrane_endnote.ris", 1): {  # "Record #3 of 18" preamble
        "accession": "CN-00778158",
        "pmid": "21314913",
        "journal": "Trials",
        "year": 2011,
        "pages": "39",
        "doi": "10.1186/1745-6215-12-39",
        "database": "CENTRAL",
    },
    ("ris/cff__baseline_embase.ris", 1): {
        "accession": "L2029880245",
        "pmid": "38773066",
        "doi": "10.1038/s41467-024-48400-3",
        "journal": "Nature Communications",
        "journal_abbrev": "Nat. Commun.",
        "database": "Embase",
    },
    ("scopus/cff__baseline_scopus.ris", 1): {  # BOM
        "title": "Global latitudinal gradients and the evolution of body size in dinosaurs "
        "and mammals",
        "accession": "2-s2.0-85189760133",
        "pmid": "38580657",
        "first_page": "2864",
        "doi": "10.1038/s41467-024-46843-2",
        "journal_abbrev": "Nat. Commun.",
        "database": "Scopus",
    },
    ("wos/cff__baseline_webofscience.ris", 1): {
        "accession": "WOS:000282053100002",
        "doi": "10.1371/journal.pone.0012292",
        "year": 2010,
        "first_author": "Sampson",
        "pages": "e12292",
        "journal": "PLOS ONE",
        "database": "Web of Science",
    },
    ("ris/asreview__ovid_psycinfo.ris", 1): {
        "accession": "2019-65183-001",
        "doi": "10.1002/cpp.2398",
        "journal": "Clinical Psychology & Psychotherapy",
    },
    ("ris/asreview__proquest.ris", 1): {
        "accession": "2214991469; 51887",
        "doi": "10.1002/jts.22387",
        "database": "PTSDpubs",
    },
    ("ris/asreview__pubmed_endnote.txt", 1): {
        "pmid": "21553931",
        "doi": "10.2165/11586800-000000000-00000",
        "pages": "349-69",
        "first_page": "349",
        "database": "PubMed",
    },
    ("ris/asysd__ris_export.txt", 2): {  # BOM + CRLF
        "doi": "10.3389/fonc.2016.00120",
        "year": 2016,
        "first_author": "Buchanan",
        "title": "Alternate service delivery models in cancer genetic counseling: A mini-review",
    },
    ("ris/cff__baseline_cinahl.ris", 1): {
        "doi": "10.1371/journal.pone.0298242",  # in L3
        "year": 2024,
        "journal": "PLoS ONE",
        "first_author": "Curry Rogers",
    },
    ("wos/awandahl__savedrecs.txt", 1): {
        "title": "Circular economy metrics for batteries: Enhancing sustainability in energy "
        "storage systems",
        "first_author": "Bin",
        "journal": "SUSTAINABLE PRODUCTION AND CONSUMPTION",
        "year": 2025,
        "volume": "55",
        "first_page": "470",
        "doi": "10.1016/j.spc.2025.02.014",
    },
    ("wos/sciencescape__savedrecs_tabdelimited.txt", 1): {  # trailing tab on every row
        "title": "Genetic Algorithm Optimization for the Total Radiated Power of a Meandered "
        "Line by Using an Artificial Neural Network",
        "accession": "WOS:000423122600025",
        "doi": "10.1109/temc.2017.2764623",
        "pages": "1014-1017",
        "volume": "60",
        "issue": "4",
    },
    ("wos/synthesisr__zoorec.txt", 1): {
        "accession": "ZOOREC:ZOOR15512090342",
        "journal": "Condor",
        "year": 2019,
    },
    ("ovid/knh__Embase_citavi_r3001-3002.ovd", 1): {
        "accession": "621381829",
        "database": "Embase",
        "doi": "10.1186/s12919-018-0099-8",
        "year": 2018,
        "first_author": "Behan",
        "title": "Quality of life in patients with primary ciliary dyskinesia: A systematic "
        "review.",
    },
    ("endnote/asysd__mendeley_export.xml", 1): {
        "pmid": "35319117",
        "doi": "10.1111/jvim.16404",
        "pages": "1032-1038",
        "title": "Myoclonus in older Cavalier King Charles Spaniels.",
    },
    ("endnote/colrev__ais_enl.txt", 1): {  # %T before %0
        "first_author": "Guo",
        "year": 2021,
        "volume": "45",
        "issue": "3",
        "pages": "1309-1348",
        "journal": "Management Information Systems Quarterly",
    },
    ("bibtex/synthesisr__Scopus_bib_example.bib", 1): {  # repeated funding_details field
        "doi": "10.1080/20964129.2020.1722034",
        "first_author": "Li",
        "accession": "2-s2.0-85079532227",
        "database": "Scopus",
    },
    ("wos/synthesisr__zoorec.txt", 3): {  # Zoological Record's page span (PS), no BP/EP
        "pages": "134-141",
        "first_page": "134",
    },
    ("bibtex/asysd__zotero_export.bib", 1): {  # braces protecting capitals
        "title": "Microangiography of the humeral condyle in Cocker Spaniel and non-Cocker "
        "Spaniel dogs",
    },
    ("cochrane/cff__baseline_cochrane.csv", 1): {
        "accession": "CN-00778158",
        "pmid": "21314913",
        "first_author": "Bywater",
        "year": 2011,
    },
    ("embase/cff__baseline_embase.csv", 1): {  # query preamble above the header
        "first_author": "Yang",
        "accession": "L2029880245",
        "pmid": "38773066",
        "doi": "10.1038/s41467-024-48400-3",
    },
    ("embase/asreview__embase.csv", 1): {
        "title": "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound",
        "journal": "Endoscopic Ultrasound",
        "year": 2014,
        "volume": "3",
        "issue": "3",
        "pages": "152-160",
    },
    ("pubmed/cff__baseline_pubmed.csv", 1): {
        "pmid": "30922926",
        "volume": "63",
        "issue": "2",
        "pages": "103640",
        "doi": "10.1016/j.ejmg.2019.03.004",
        "first_author": "Griffin",
        "journal_abbrev": "Eur J Med Genet",
    },
    ("scopus/cff__baseline_scopus.csv", 1): {
        "first_author": "Wilson",
        "accession": "2-s2.0-85189760133",
        "first_page": "2864",
        "pmid": "38580657",
    },
}


def test_bibtex_unescaped_percent_and_ampersand_kept(tables):
    """Scopus writes % and & unescaped; read as LaTeX, "85.58% of the increase" would
    start a comment and lose the rest of the abstract, "&" would become spaces."""
    scopus = tables["bibtex/synthesisr__Scopus_bib_example.bib"]
    first, second = scopus["abstract"].iloc[0], scopus["abstract"].iloc[1]
    assert "Published by Taylor & Francis Group and Science Press" in first
    assert "contributed to 85.58% of the increase in NPP" in second
    # the abstract as written ends with its copyright line (read from the file)
    assert second.endswith("Ecological Society of China.")
    # links keep their percent-encoding
    assert "doi=10.1080%2f20964129.2020.1722034" in scopus["raw"].iloc[0]


@pytest.mark.parametrize("key", list(SPOT), ids=[f"{k[0]}#{k[1]}" for k in SPOT])
def test_field_values(tables, key):
    name, position = key
    row = tables[name].iloc[position - 1]
    assert row["position"] == position
    for field, value in SPOT[key].items():
        assert row[field] == value, field


def test_medline_collective_author_kept_in_order(tables):
    row = tables["pubmed/metaknowledge__medline_test.medline"].iloc[16]
    assert row["authors"][0] == "Visco, Anthony G"
    assert row["authors"][-1] == "Pelvic Floor Disorders Network"


def test_ovid_late_tag_kept(tables):
    # Ovid writes NL (journal abbreviation) after ER; it stays in the record's text.
    raw = tables["ris/asreview__ovid_psycinfo.ris"].iloc[0]["raw"]
    assert raw.rstrip().endswith("NL  - Clin Psychol Psychother")


def test_ovid_two_exports_agree(tables):
    # The same two records exported for Citavi and for EndNote: the EndNote one breaks
    # the abstract over lines; the normalised fields are the same.
    a = tables["ovid/knh__Embase_citavi_r3001-3002.ovd"].drop(columns=["raw", "record_id"])
    b = tables["ovid/knh__Embase_endnote_r3001-3002.cgi"].drop(columns=["raw", "record_id"])
    cols = [c for c in a.columns if c not in ("export", "source_file")]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_cochrane_ris_variants_agree(tables):
    # EndNote (AU/TI/AB), ProCite and RefMan (A1/T1/N2) flavours of the same export.
    names = [f"cochrane/cff__baseline_cochrane_{v}.ris" for v in ("endnote", "procite")]
    cols = ["title", "authors", "year", "doi", "accession", "pmid", "abstract", "journal"]
    a, b = (tables[n][cols] for n in names)
    pd.testing.assert_frame_equal(a, b)


# rispy's tag reading is the reference for srma's RIS reader (see ris.py).
class _Identity(dict):
    def __missing__(self, key):
        return key


class _Everything:
    def __contains__(self, key):
        return True


RIS_FILES = [name for name, fmt, _ in REAL if fmt == "ris"]


@pytest.mark.parametrize("name", RIS_FILES)
def test_ris_tags_equal_rispy(exports, name):
    """Same records, tags and values as rispy (every tag kept, as lists, one item per
    line), read with utf-8-sig; Ovid's tags after ER are the only addition."""
    path = exports / name
    ref = rispy.load(
        path,
        encoding="utf-8-sig",
        mapping=_Identity(),
        list_tags=_Everything(),
        delimiter_tags_mapping={},
    )
    mine = ris_mod.parse(read_text(path), path)
    assert len(mine) == len(ref)
    for theirs, ours in zip(ref, mine, strict=True):
        flat = {
            tag: [part.strip() for v in values for part in v.split("\n")]
            for tag, values in ours.items()
            if tag not in ("", "_late")
        }
        for tag in ours.get("_late", []):
            flat[tag] = flat[tag][:-1]
            if not flat[tag]:
                del flat[tag]
        theirs = dict(theirs)
        assert [theirs.pop("TY")] == flat.pop("TY")[:1]
        assert flat == theirs


MEDLINE_FILES = [name for name, fmt, _ in REAL if fmt == "medline"]


@pytest.mark.parametrize("name", MEDLINE_FILES)
def test_medline_equals_biopython(exports, tables, name):
    """PMID, title, full authors and DP as Biopython's Bio.Medline reads them."""
    medline = pytest.importorskip("Bio.Medline")
    with open(exports / name, encoding="utf-8-sig") as fh:
        ref = list(medline.parse(fh))
    table = tables[name]
    assert len(ref) == len(table)
    for rec, (_, row) in zip(ref, table.iterrows(), strict=True):
        assert row["pmid"] == rec.get("PMID")
        # Bio joins continuation lines with a space but keeps a line's trailing spaces.
        title = re.sub(" +", " ", rec.get("TI", "")).strip() or None
        assert row["title"] == title
        fau = rec.get("FAU") or []
        if fau:
            assert [a for a in row["authors"] if "," in a][: len(fau)] == fau
        assert row["journal"] == rec.get("JT")


def test_medline_parse_keeps_raw(exports):
    path = exports / "pubmed/nbib__single.nbib"
    recs = medline_mod.parse(read_text(path), path)
    assert len(recs) == 1
    assert recs[0][""][0].startswith("PMID- 28754806")
