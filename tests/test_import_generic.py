"""Tables a reviewer has: generic CSV/TSV and Excel workbooks (srma.importers.generic,
srma.importers.spreadsheet), and ``srma import``/``srma extract`` taking the review's
config.

Sample files in tests/fixtures/import/, each a few records in the shape the tool writes
(real public citations; one made-up record with the 10.5555 test DOI prefix):

- zotero.csv: Zotero "Export Collection... > CSV" (UTF-8 with BOM, every cell quoted,
  Zotero's full header of 87 columns, ``Author`` as ``Last, First; Last, First``, PMIDs
  in ``Extra``);
- publish_or_perish.csv: Publish or Perish "Save as CSV" of a Google Scholar search
  (``Authors`` as ``WP Maksymowych, M Dougados…``, CRLF, no DOI column values);
- excel_semicolon.csv: a sheet typed in Excel and saved as "CSV UTF-8" in a European
  locale (BOM, ``;``, CRLF, a blank row, a Notes column with cells starting = + @);
- mendeley_fields.tsv: tab-separated with Mendeley's field names (``Published In``,
  ``Tags``; ``Authors`` as ``Sieper, J., van der Heijde, D.``);
- no_title_column.csv: a table without a title column.

Workbooks are written by the tests with openpyxl (:func:`write_workbook`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml

from srma.cli import main
from srma.config import validate_config
from srma.errors import ConfigError, InputError
from srma.importers import COLUMNS, detect_format, read_export
from srma.importers import spreadsheet as spreadsheet_mod
from srma.importers.generic import COLUMN_NAMES, author_name, key, split_authors
from srma.io import read_parquet

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "import"


def _read(name: str, **kw):
    return read_export(FIX / name, export=Path(name).stem, **kw)


def _error(path: Path, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        read_export(path, export="bad", **kw)
    assert str(path) in str(info.value)
    return info.value


# Sample files --------------------------------------------------------------------------


def test_zotero_csv():
    assert (FIX / "zotero.csv").read_bytes().startswith(b'\xef\xbb\xbf"Key","Item Type"')
    assert detect_format(FIX / "zotero.csv") == "csv_generic"
    df = _read("zotero.csv")
    assert list(df.columns) == list(COLUMNS)
    assert df["record_id"].tolist() == ["zotero:000001", "zotero:000002", "zotero:000003"]
    assert df["format"].unique().tolist() == ["csv_generic"]
    assert df["database"].unique().tolist() == ["Zotero"]
    assert df.loc[0, "authors"] == [
        "Maksymowych, Walter P.",
        "Dougados, Maxime",
        "van der Heijde, Désirée",
    ]
    assert df["first_author"].tolist() == ["Maksymowych", "Sieper", "Tan"]
    assert df["year"].tolist() == [2016, 2015, 2015]  # "Publication Year" before "Date"
    assert df.loc[0, "journal"] == "Annals of the Rheumatic Diseases"  # "Publication Title"
    assert df.loc[0, "journal_abbrev"] == "Ann Rheum Dis"
    assert (df.loc[0, "volume"], df.loc[0, "issue"], df.loc[0, "pages"]) == ("75", "7", "1328-1335")
    assert df.loc[0, "first_page"] == "1328"
    assert df["doi"].tolist() == [
        "10.1136/annrheumdis-2015-207596",
        "10.1002/art.39257",
        "10.1097/bor.0000000000000179",
    ]
    # Zotero keeps PubMed ids in Extra ("PMID: ..."), also on a later line of it.
    assert df["pmid"].tolist() == ["26269397", "26139307", None]
    assert df.loc[0, "abstract"].startswith("OBJECTIVE: To evaluate the efficacy")
    assert df.loc[0, "keywords"] == [
        "Etanercept",
        "Spondyloarthritis",
        "Adult",
        "Magnetic Resonance Imaging",
    ]
    assert df.loc[0, "publication_type"] == ["journalArticle"]
    assert df.loc[0, "language"] == "eng"
    raw = json.loads(df.loc[1, "raw"])
    assert raw["Key"] == "Q4ZB8T2N"  # an unmapped column: in raw only
    assert raw["Extra"] == "Citation Key: sieper2015\nPMID: 26139307"
    assert "Series" not in raw  # empty cells are left out


def test_zotero_notes_and_attachments_are_not_records(tmp_path, caplog):
    text = (FIX / "zotero.csv").read_text(encoding="utf-8-sig")
    width = text.split("\n", 1)[0].count('","') + 1
    for kind, title in (("note", "My reading notes"), ("attachment", "Full Text PDF")):
        text += '"K' + kind.upper() + f'","{kind}","","","{title}"' + ',""' * (width - 5) + "\n"
    path = _csv(tmp_path, text)
    with caplog.at_level("INFO", logger="srma"):
        df = read_export(path, export="z")
    assert len(df) == 3
    assert "2 Zotero notes/attachments skipped" in caplog.text


def test_publish_or_perish_csv():
    assert detect_format(FIX / "publish_or_perish.csv") == "csv_generic"
    df = _read("publish_or_perish.csv")
    assert df["database"].unique().tolist() == ["Publish or Perish"]
    # Google Scholar's "initials surname", cut with "…", as "Surname, Initials".
    assert df.loc[0, "authors"] == ["Maksymowych, WP", "Dougados, M", "van der Heijde, D"]
    assert df.loc[2, "authors"] == ["Braun, J", "Baraliakos, X", "Hermann, KGA", "Landewé, R"]
    assert df["year"].tolist() == [2016, 2015, 2014]
    assert df.loc[0, "journal"] == "Annals of the rheumatic …"  # as Google Scholar cut it
    # No DOI column values: the DOI of a publisher's /doi/abs/ link is taken.
    assert df["doi"].tolist() == [None, "10.1002/art.39257", None]
    assert df.loc[2, "publication_type"] == ["PDF"]
    assert json.loads(df.loc[0, "raw"])["GSRank"] == "1"


def test_excel_semicolon_csv_with_bom():
    data = (FIX / "excel_semicolon.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfTitle;Authors;") and b"\r\n" in data
    df = _read("excel_semicolon.csv")
    # Three records: the blank row (";;;;...") is not one; positions count records.
    assert df["position"].tolist() == [1, 2, 3]
    assert df.loc[2, "title"] == "Etanercept and MRI inflammation; a pilot study (made-up record)"
    assert df["authors"].tolist() == [
        ["Braun, J", "Baraliakos, X", "Hermann, KG"],
        ["Tan, S", "Wang, R", "Ward, MM"],
        ["Lindqvist, Åsa", "Müller-Brandt, Jörg"],
    ]
    assert df["doi"].tolist() == [
        "10.1136/annrheumdis-2012-203075",  # typed as https://doi.org/...
        "10.1097/bor.0000000000000179",
        "10.5555/srma.2019.0042",
    ]
    assert df["pmid"].tolist() == ["23644549", None, None]
    assert df["pages"].tolist() == ["1107-13", "326-32", "e1042"]
    assert df["first_page"].tolist() == ["1107", "326", "e1042"]
    assert df["database"].unique().tolist() == ["CSV"]
    # Cells starting with - = + @ are text, kept as written, never evaluated.
    assert df.loc[2, "abstract"] == "-10 mm on the pain VAS; see the supplement"
    notes = [json.loads(r).get("Notes") for r in df["raw"]]
    assert notes == [
        '=HYPERLINK("https://pubmed.ncbi.nlm.nih.gov/23644549/")',
        "+ check full text",
        "@reviewer2 please check",
    ]


def test_tsv_with_mendeley_field_names():
    df = _read("mendeley_fields.tsv")
    assert df["format"].unique().tolist() == ["csv_generic"]
    assert df.loc[0, "authors"] == ["Sieper, J.", "van der Heijde, D.", "Dougados, M."]
    assert df.loc[1, "authors"] == ["Tan, S.", "Wang, R.", "Ward, M. M."]
    assert df["journal"].tolist() == ["Arthritis & Rheumatology", "Current Opinion in Rheumatology"]
    assert df.loc[0, "keywords"] == ["golimumab", "nr-axSpA"]
    assert df["pmid"].tolist() == ["26139307", "26002023"]
    assert df.loc[0, "publication_type"] == ["Journal Article"]


def test_no_title_column_lists_columns_and_names():
    for fmt in (None, "csv_generic"):
        err = _error(FIX / "no_title_column.csv", fmt=fmt)
        assert "no title column" in err.message
        assert "'Name', 'Authors', 'Year', 'DOI'" in err.message
        assert "Title, Item Title" in err.message
    assert "unknown export format" in _error(FIX / "no_title_column.csv").message


def test_database_csvs_still_detected_as_before():
    assert detect_format(FIX / "header_only.csv") == "csv_pubmed"
    assert detect_format(FIX / "shifted.csv") != "csv_generic"


# CSV details ---------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "header",
    [
        "TITLE,AUTHOR(S),PUBLICATION_YEAR,doi",
        "Item Title,authors,Pub Year,Digital Object Identifier",
        "article title;Authors;year;DOI",
        "Title\tAuthors\tYear\tDOI",
    ],
)
def test_header_names_in_any_case(tmp_path, header):
    sep = "\t" if "\t" in header else ";" if ";" in header else ","
    row = sep.join(["A trial", "Smith J", "2020", "10.5555/x.1"])
    df = read_export(_csv(tmp_path, f"{header}\n{row}\n"), export="t")
    assert df.loc[0, ["title", "year", "doi"]].tolist() == ["A trial", 2020, "10.5555/x.1"]
    assert df.loc[0, "authors"] == ["Smith, J"]


def test_sep_line_and_caption_above_header(tmp_path):
    text = "sep=;\nMy search, 11 March 2024\n\nTitle;Year;Pages\nA trial;2020;12-19\n"
    path = _csv(tmp_path, text)
    assert detect_format(path) == "csv_generic"
    df = read_export(path, export="t")
    assert df.loc[0, ["title", "year", "pages"]].tolist() == ["A trial", 2020, "12-19"]


def test_start_and_end_page_columns_and_short_rows(tmp_path):
    # Excel leaves trailing empty cells out of some rows: a short row is read as such.
    text = "Title,Start Page,End Page,Notes\nA,100,110,x\nB,e12\n"
    df = read_export(_csv(tmp_path, text), export="t")
    assert df["pages"].tolist() == ["100-110", "e12"]
    assert df["first_page"].tolist() == ["100", "e12"]


def test_unnamed_and_duplicate_columns_kept_in_raw(tmp_path):
    df = read_export(_csv(tmp_path, "Title,,Title\nA,note,B\n"), export="t")
    assert df.loc[0, "title"] == "A"  # the first title column
    assert json.loads(df.loc[0, "raw"]) == {"Title": "A", "column 2": "note", "Title (2)": "B"}


def test_excel_error_values_are_empty(tmp_path):
    df = read_export(_csv(tmp_path, "Title,DOI,Year\nA,#N/A,#VALUE!\n"), export="t")
    assert df["doi"].isna().all()
    assert df["year"].isna().all()


def test_extra_cell_names_record(tmp_path):
    path = _csv(tmp_path, "Title,Year\nA,2020\nB, 2021, x\n")
    err = _error(path)
    assert (err.record, err.line) == (2, 3)
    assert "shift" in err.message


def test_truncated_last_row_is_an_error(tmp_path):
    err = _error(_csv(tmp_path, "Title,Year,DOI\nA,2020,10.5555/a\nB,20"))
    assert err.record == 2
    assert "cut short" in err.message


def test_open_quote_names_record(tmp_path):
    err = _error(_csv(tmp_path, 'Title,Year\nA,2020\n"B,2021\n'))
    assert err.record == 2


def test_row_without_title_or_identifier_is_an_error(tmp_path):
    err = _error(_csv(tmp_path, "Title,Year,DOI\nA,2020,\n,2021,\n"))
    assert (err.record, err.field) == (2, "title")


def test_sheet_is_for_workbooks_only():
    err = _error(FIX / "zotero.csv", sheet="Sheet1")
    assert "not an Excel workbook" in err.message


# Authors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "authors"),
    [
        ("Smith, John; Jones, Amy", ["Smith, John", "Jones, Amy"]),  # Zotero
        ("Smith J, Jones AB", ["Smith, J", "Jones, AB"]),  # Vancouver
        ("J Smith, AB Jones…", ["Smith, J", "Jones, AB"]),  # Publish or Perish (Scholar)
        ("A.-W. Harzing, S. Alakangas", ["Harzing, A.-W.", "Alakangas, S."]),
        ("Smith, J., Jones, A. B.", ["Smith, J.", "Jones, A. B."]),  # Mendeley/APA
        ("Smith, J., & Jones, A.", ["Smith, J.", "Jones, A."]),
        ("Smith, John and Jones, Amy", ["Smith, John", "Jones, Amy"]),  # BibTeX
        ("Smith, John", ["Smith, John"]),
        ("Smith J\nJones A", ["Smith, J", "Jones, A"]),  # one a line
        ("ASAS Study Group; Sieper J", ["ASAS Study Group", "Sieper, J"]),
        ("John Smith, Amy Jones", ["John Smith", "Amy Jones"]),  # order unknown: as written
        ("Smith J, Jones A and Brown K", ["Smith, J", "Jones, A", "Brown, K"]),
        ("É Dupont, Ł Wałęsa", ["Dupont, É", "Wałęsa, Ł"]),
        ("Bill and Melinda Gates Foundation", ["Bill and Melinda Gates Foundation"]),
        ("", []),
    ],
)
def test_split_authors(cell, authors):
    assert split_authors(cell) == authors


def test_author_name_keeps_particles():
    assert author_name("D van der Heijde") == "van der Heijde, D"
    assert author_name("van der Heijde D") == "van der Heijde, D"


def test_column_names_are_unambiguous():
    # No name is read for two fields ("Author(s)" and "Authors" are one name).
    keys = [{key(n) for n in names} for names in COLUMN_NAMES.values()]
    assert sum(map(len, keys)) == len(set().union(*keys))


# Excel workbooks -----------------------------------------------------------------------

HEADER = ["Title", "Authors", "Year", "DOI", "Journal", "Volume", "Issue", "Pages", "Abstract"]
HEADER += ["PMID"]
ROWS = [
    [
        "Clinical and MRI responses to etanercept in early non-radiographic axial "
        "spondyloarthritis: 48-week results from the EMBARK study",
        "Maksymowych WP, Dougados M, van der Heijde D",
        2016,
        "10.1136/annrheumdis-2015-207596",
        "Annals of the Rheumatic Diseases",
        75,
        7,
        "1328-35",
        None,
        26269397,
    ],
    [None] * 10,  # a blank row
    [
        "Syndesmophyte growth in ankylosing spondylitis",
        "Tan S; Wang R; Ward MM",
        dt.datetime(2015, 7, 1),  # a date cell in the year column: its year
        "#N/A",
        "Current Opinion in Rheumatology",
        27.0,
        "4",
        "326-32",
        "+ typed with a plus sign",
        None,
    ],
]


def write_workbook(path: Path, rows=ROWS, *, caption: str | None = "My included studies"):
    """A reviewer's workbook: a caption row, the header, the rows; a second sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Records"
    if caption:
        ws.append([caption])
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    other = wb.create_sheet("Second search")
    other.append(["title", "doi"])
    other.append(["A record on the second sheet", "10.5555/srma.2"])
    wb.save(path)
    return path


def test_xlsx_first_sheet(tmp_path):
    path = write_workbook(tmp_path / "review.xlsx")
    assert detect_format(path) == "xlsx"
    df = read_export(path, export="review")
    assert list(df.columns) == list(COLUMNS)
    assert df["format"].unique().tolist() == ["xlsx"]
    assert df["database"].unique().tolist() == ["Excel"]
    assert df["position"].tolist() == [1, 2]
    assert df["year"].tolist() == [2016, 2015]
    assert df["authors"].tolist() == [
        ["Maksymowych, WP", "Dougados, M", "van der Heijde, D"],
        ["Tan, S", "Wang, R", "Ward, MM"],
    ]
    assert df["volume"].tolist() == ["75", "27"]  # numbers as text, 27.0 as 27
    assert df["pmid"].tolist() == ["26269397", None]
    assert df["doi"].tolist() == ["10.1136/annrheumdis-2015-207596", None]  # #N/A: none
    assert df.loc[1, "abstract"] == "+ typed with a plus sign"
    raw = json.loads(df.loc[1, "raw"])
    assert raw["Year"] == "2015-07-01"
    assert raw["DOI"] == "#N/A"


def test_xlsx_sheet_by_name(tmp_path):
    path = write_workbook(tmp_path / "review.xlsx")
    for name in ("Second search", "second SEARCH"):
        df = read_export(path, export="r", sheet=name)
        assert df["title"].tolist() == ["A record on the second sheet"]
    err = _error(path, sheet="Third")
    assert "'Records', 'Second search'" in err.message


def test_xlsx_formulas_never_evaluated(tmp_path):
    rows = [
        ['=CONCATENATE("Golimumab", " in nr-axSpA")', "Sieper J", 2015, None, None, None],
        ["A second record", "=1+1", 2016, None, None, None],
    ]
    path = write_workbook(tmp_path / "f.xlsx", rows, caption=None)
    # openpyxl stores no computed value: the formula is kept as its text.
    df = read_export(path, export="f")
    assert df.loc[0, "title"] == '=CONCATENATE("Golimumab", " in nr-axSpA")'
    assert df.loc[1, "authors"] == ["=1+1"]
    # Excel stores the value it computed next to the formula: that value is read.
    cached = tmp_path / "cached.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(cached, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(
                    rb'<c r="A2"><f>(.*?)</f>(?:<v\s*/>|<v></v>)',
                    rb'<c r="A2" t="str"><f>\1</f><v>Golimumab in nr-axSpA</v>',
                    data,
                )
                assert b"<v>Golimumab in nr-axSpA</v>" in data
            zout.writestr(item, data)
    df = read_export(cached, export="c")
    assert df.loc[0, "title"] == "Golimumab in nr-axSpA"
    assert df.loc[1, "authors"] == ["=1+1"]


def test_xlsx_date_in_pages_is_an_error(tmp_path):
    rows = [["A trial", "Smith J", 2020, None, None, None, None, dt.datetime(2024, 3, 5)]]
    err = _error(write_workbook(tmp_path / "d.xlsx", rows))
    assert (err.record, err.field) == (1, "Pages")
    assert "as a date" in err.message and "row 3" in err.message


def test_xlsx_without_title_column(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["Name", "Year"])
    wb.active.append(["A trial", 2020])
    wb.save(tmp_path / "n.xlsx")
    err = _error(tmp_path / "n.xlsx")
    assert "no title column" in err.message and "'Name', 'Year'" in err.message
    assert "sheet 'Sheet'" in err.message


def test_xlsx_value_in_unnamed_column_kept_in_raw(tmp_path):
    rows = [["A trial", "Smith J", 2020, *[None] * 7, "note beside the table"]]
    df = read_export(write_workbook(tmp_path / "u.xlsx", rows), export="u")
    assert json.loads(df.loc[0, "raw"])["column 11"] == "note beside the table"


def test_xlsx_progress_bar(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(spreadsheet_mod, "PROGRESS_ROWS", 10)
    rows = [[f"Record {i}", "Smith J", 2020] for i in range(2500)]
    path = write_workbook(tmp_path / "big.xlsx", rows, caption=None)
    df = read_export(path, export="big", progress=True)
    assert len(df) == 2500
    assert "big.xlsx" in capsys.readouterr().err
    read_export(path, export="big")  # no bar unless asked for
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, ".xls"),
        (b"PK\x03\x04" + b"\0" * 100, "damaged ZIP"),
    ],
)
def test_other_binary_files_are_refused(tmp_path, data, what):
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert what in _error(path).message


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_ods_and_plain_zip_are_refused(tmp_path):
    ods = _zip(tmp_path / "r.ods", {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    assert "OpenDocument" in _error(ods).message
    archive = _zip(tmp_path / "exports.zip", {"pubmed.nbib": b"PMID- 1\n"})
    assert "unzip" in _error(archive).message
    broken = _zip(tmp_path / "broken.xlsx", {"xl/workbook.xml": b"<not a workbook"})
    assert "cannot read the Excel workbook" in _error(broken).message


# Config and command line ---------------------------------------------------------------


def _config(tmp_path: Path, searches: dict) -> Path:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["searches"] = searches
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_config_accepts_sheet_and_new_formats():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["searches"] = {
        "mine": {"path": "r.xlsx", "format": "xlsx", "sheet": "Second search"},
        "zotero": {"path": "z.csv", "format": "csv_generic", "database": "Zotero"},
    }
    assert validate_config(config)["searches"]["mine"]["sheet"] == "Second search"
    config["searches"]["mine"]["sheet"] = ""
    with pytest.raises(ConfigError, match="sheet"):
        validate_config(config)


def test_import_command_reads_the_config(tmp_path, monkeypatch, capsys):
    write_workbook(tmp_path / "review.xlsx")
    (tmp_path / "zotero.csv").write_bytes((FIX / "zotero.csv").read_bytes())
    config = _config(
        tmp_path,
        {
            "own_list": {"path": "review.xlsx", "sheet": "Second search", "database": "Own"},
            "zotero": {"path": "zotero.csv"},
        },
    )
    monkeypatch.chdir(tmp_path)
    assert main(["import", "-c", str(config), "-o", "all.parquet"]) == 0
    out = capsys.readouterr()
    assert "2 search(es) of" in out.err
    table = read_parquet(tmp_path / "all.parquet")
    assert table["record_id"].tolist() == [
        "own_list:000001",
        "zotero:000001",
        "zotero:000002",
        "zotero:000003",
    ]
    assert table["database"].tolist()[:2] == ["Own", "Zotero"]
    # Searches chosen by name or path.
    assert main(["import", "-c", str(config), "zotero.csv", "-o", "z.parquet"]) == 0
    assert len(read_parquet(tmp_path / "z.parquet")) == 3
    assert main(["import", "-c", str(config), "other", "-o", "z.parquet"]) == 1
    assert "searches are own_list, zotero" in capsys.readouterr().err


def test_import_command_default_config_and_none(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["import", "-o", "r.parquet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-c path/to/config.yaml" in err
    (tmp_path / "config").mkdir()
    (tmp_path / "s.tsv").write_bytes((FIX / "mendeley_fields.tsv").read_bytes())
    _config(tmp_path / "config", {"mine": {"path": "s.tsv"}})
    assert main(["import", "-o", "r.parquet"]) == 0
    assert "reading the searches of config/config.yaml" in capsys.readouterr().err
    assert len(read_parquet(tmp_path / "r.parquet")) == 2


def test_import_command_sheet_option_applies_to_workbooks(tmp_path, capsys):
    book = write_workbook(tmp_path / "review.xlsx")
    args = ["import", str(book), str(FIX / "zotero.csv"), "--sheet", "Second search"]
    assert main([*args, "-o", str(tmp_path / "r.parquet")]) == 0
    table = read_parquet(tmp_path / "r.parquet")
    assert table["title"].tolist()[0] == "A record on the second sheet"
    assert len(table) == 4


def test_extract_without_config_here_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    study = next((ROOT / "resources" / "extraction").glob("*.yaml"))
    assert main(["extract", str(study), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no config/config.yaml" in err and "-c path/to/config.yaml" in err
    assert main(["extract", str(study), "-c", "missing.yaml", "-o", "out"]) == 1
    assert "missing.yaml: no such config file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_extract_names_the_default_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    study = sorted((ROOT / "resources" / "extraction").glob("*.yaml"))[0]
    assert main(["extract", str(study), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "validating against config/config.yaml" in err
    assert err.count("\n") == 1
