"""Bad input to the import stage: each file either imports correctly or stops with an
error that names the file and the record (and the field or line where known).

The files are small, hand-made, in tests/fixtures/import/; what each holds is written
next to its test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srma.errors import InputError
from srma.importers import detect_format, medline, read_export, ris
from srma.importers.cochrane_txt import read as read_cochrane
from srma.importers.detect import decode

FIX = Path(__file__).parent / "fixtures" / "import"


def _error(name: str, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        read_export(FIX / name, export="bad", **kw)
    err = info.value
    assert err.path == str(FIX / name)
    assert name in str(err)
    return err


@pytest.mark.parametrize("name", ["empty.ris", "blank_lines.ris"])
def test_empty_file_is_an_error(name):
    err = _error(name)
    assert "empty" in err.message


def test_truncated_last_record_names_the_record():
    # Record 2 stops in the middle of its PY line, without ER.
    err = _error("truncated.ris")
    assert err.record == 2
    assert err.field == "ER"
    assert err.line == 8  # its TY line
    assert "truncated" in err.message


def test_truncated_wos_record_names_the_record():
    err = _error("truncated_wos.txt")
    assert err.record == 2
    assert err.field == "ER"


def test_ty_before_er_is_an_error():
    # The first record lacks ER: rispy would merge both records into one.
    err = _error("missing_er.ris")
    assert err.record == 1
    assert err.line == 5


def test_record_without_ty_is_an_error():
    # rispy skips such a record silently.
    err = _error("missing_ty.ris")
    assert err.field == "TI"
    assert err.record == 2
    assert err.line == 8


def test_missing_final_newline_imports():
    df = read_export(FIX / "no_final_newline.ris", export="nl")
    assert df["title"].tolist() == [
        "Etanercept and spinal inflammation",
        "Adalimumab in axial spondyloarthritis",
    ]
    assert df["doi"].tolist() == ["10.1000/abc.1", "10.1000/abc.2"]


def test_unknown_format_is_an_error():
    err = _error("unknown.txt")
    assert "unknown export format" in err.message


def test_latin1_names_record_and_field():
    # "Jöns" written in Latin-1 (byte 0xF6) in record 2's AU line.
    err = _error("latin1.ris")
    assert err.record == 2
    assert err.field == "authors"
    assert "0xF6" in err.message


def test_utf16_with_bom_imports():
    df = read_export(FIX / "utf16.ris", export="u16")
    assert df["authors"].tolist() == [["Smith, J"], ["Jöns, K"]]


def test_bom_and_crlf_medline_imports():
    df = read_export(FIX / "bom_crlf.nbib", export="m")
    assert detect_format(FIX / "bom_crlf.nbib") == "medline"
    assert df["pmid"].tolist() == ["11111111", "22222222"]
    # Continuation line joined with one space; the [doi] LID chosen over the [pii] one.
    assert df.loc[0, "title"] == "A trial of etanercept in ankylosing spondylitis."
    assert df.loc[0, "doi"] == "10.1000/etn.1"
    # The collective author is kept, in order, and no CR survives.
    assert df.loc[0, "authors"] == ["Smith, John", "ASAS Study Group"]
    assert "\r" not in df.loc[0, "raw"]
    assert df["year"].tolist() == [2010, 2011]


def test_medline_records_without_blank_line_are_split():
    df = read_export(FIX / "run_together.nbib", export="m")
    assert df["pmid"].tolist() == ["11111111", "22222222"]
    assert df.loc[1, "raw"].startswith("PMID- 22222222")


def test_medline_bad_line_names_line_and_record():
    err = _error("bad_line.nbib")
    assert err.line == 16
    assert err.record == 2


def test_record_without_title_but_doi_imports():
    df = read_export(FIX / "no_title.ris", export="t")
    assert len(df) == 3
    assert df["title"].isna().tolist() == [False, True, False]
    assert df.loc[1, "doi"] == "10.1000/abc.3"


def test_record_without_title_or_identifier_is_an_error():
    err = _error("nothing_traceable.ris")
    assert err.record == 2
    assert err.field == "title"


def test_csv_header_only_is_zero_records_error():
    err = _error("header_only.csv")
    assert "no csv_pubmed records" in err.message


def test_csv_open_quote_names_record():
    err = _error("open_quote.csv")
    assert err.record == 2


def test_csv_extra_cell_names_record():
    err = _error("shifted.csv")
    assert err.record == 2
    assert "shift" in err.message


def test_wos_tab_extra_nonempty_cell_names_record():
    # Every row ends with the WoS trailing tab; row 2 has one more, non-empty cell.
    err = _error("extra_cell.txt")
    assert err.record == 2
    assert err.line == 3


def test_xml_entities_are_refused():
    err = _error("entity.xml")
    assert "DOCTYPE" in err.message


def test_bibtex_duplicate_used_field_names_record():
    err = _error("broken.bib")
    assert err.record == 2
    assert err.field == "title"


def test_bibtex_latex_decoded_where_written(tmp_path, caplog):
    """LaTeX is decoded in the fields srma reads; % and & are the characters; links
    and identifiers stay as written; the job log counts the decoded values."""
    from srma.importers import bibtex

    text = (
        "@article{a,\n"
        '  title = {R\\"ontgen {DNA} -- a 95% CI & more},\n'
        "  author = {M{\\\"u}ller, Anna and O'Brien, Tom},\n"
        "  journal = {Journal \\& Reports},\n"
        "  doi = {10.1000/abc_def},\n"
        "  url = {https://example.org/?x=1%2f2&y=3},\n"
        "  note = {never read \\textbf{x}},\n"
        "  year = {2020}\n}\n"
    )
    with caplog.at_level("INFO", logger="srma"):
        (rec,) = bibtex.read(text, tmp_path / "x.bib")
    assert rec["title"] == "R\u00f6ntgen DNA \u2013 a 95% CI & more"
    assert rec["authors"] == ["M\u00fcller, Anna", "O'Brien, Tom"]
    assert rec["journal"] == "Journal & Reports"
    assert rec["doi"] == "10.1000/abc_def"
    assert "x=1%2f2&y=3" in rec["raw"]
    # title, author and journal hold LaTeX syntax; doi and url are verbatim; note unread
    assert "1 BibTeX entries, LaTeX decoded in 3 values" in caplog.text


def test_bibtex_progress_bar_over_entries(capsys):
    """A large BibTeX file shows a bar over its entries when asked (srma import in a
    terminal); a small one, or one not asked, shows none."""
    from srma.importers import bibtex

    many = "".join(f"@article{{k{i},\n  title = {{Title {{DNA}} {i}}}\n}}\n" for i in range(250))
    records = bibtex.read(many, "many.bib", progress=True)
    assert [r["title"] for r in records[:2]] == ["Title DNA 0", "Title DNA 1"]
    err = capsys.readouterr().err
    assert "BibTeX" in err and "/250 " in err and "entry/s" in err
    bibtex.read(many, "many.bib")
    bibtex.read(many[: many.index("@article{k5,")], "few.bib", progress=True)
    assert capsys.readouterr().err == ""


def test_given_format_must_exist():
    err = _error("no_title.ris", fmt="marc21")
    assert "marc21" in err.message


def test_cochrane_library_text():
    path = FIX / "cochrane_library.txt"
    assert detect_format(path) == "cochrane_txt"
    df = read_export(path, export="c")
    assert df["accession"].tolist() == ["CN-00000001", "CN-00000002"]
    assert df["doi"].tolist() == ["10.1136/ard.2009.000001", "10.1002/art.21790"]
    assert df.loc[0, "pmid"] == "12345678"
    assert df.loc[0, "authors"] == ["Smith J", "Jones K"]
    assert df.loc[0, "first_author"] == "Smith"
    assert df.loc[0, "pages"] == "100-110"
    assert df.loc[0, "first_page"] == "100"
    assert df.loc[0, "keywords"] == ["Etanercept", "MRI"]
    assert df.loc[0, "abstract"] == "Background: a long abstract that continues here."
    assert df["database"].tolist() == ["CENTRAL", "CENTRAL"]


def test_cochrane_gap_in_record_numbers_is_an_error():
    text = (FIX / "cochrane_gap.txt").read_text()
    with pytest.raises(InputError) as info:
        read_cochrane(text, "gap.txt")
    assert info.value.record == 2


def test_endnote_tagged():
    df = read_export(FIX / "endnote_tagged.enw", export="e")
    assert df.loc[0, "authors"] == ["Smith, John", "Jones, Kate"]
    assert df.loc[0, "pmid"] == "12345678"
    assert df.loc[0, "keywords"] == ["etanercept", "MRI"]
    assert df.loc[0, "pages"] == "200-210"
    assert df.loc[1, "title"] == "Second record"


def test_medline_records_separated_by_a_line_of_spaces(tmp_path):
    # Records without PMID (PMC-only) separated by a line holding two spaces.
    path = tmp_path / "spaced.nbib"
    path.write_text(
        "PMC - PMC1\nTI  - First title.\n  \nPMC - PMC2\nTI  - Second\n      title.\n",
        encoding="utf-8",
    )
    df = read_export(path, export="s")
    assert df["title"].tolist() == ["First title.", "Second title."]
    assert df.loc[1, "raw"] == "PMC - PMC2\nTI  - Second\n      title."


# Hand-made texts (written to tmp_path), expected values read off the texts by hand.


def _export(tmp_path: Path, name: str, data: bytes, **kw):
    path = tmp_path / name
    path.write_bytes(data)
    return read_export(path, export="h", **kw)


def _text_error(tmp_path: Path, name: str, data: bytes, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        _export(tmp_path, name, data, **kw)
    assert name in str(info.value)
    return info.value


MEDLINE = """\

PMID- 11111111
TI  - A trial of etanercept
      in spondylitis.
FAU - Smith, John
AU  - Smith J
CN  - ASAS Study Group
FAU - Jöns, Kate
DP  - 2010 Jan
LID - S0001 [pii]
AID - 10.1000/etn.1 [doi]
AB  - First line
      second line.
OT  - MRI
MH  - Humans
PT  - Journal Article
PT  - Randomized Controlled Trial
LA  - eng


PMID- 22222222
TI  -
BTI - A book title
AU  - Adler DG
DEP - 20110304
PG  - 1-9"""


def test_medline_fields_by_hand(tmp_path):
    got = medline.read(MEDLINE, "m.nbib")
    assert got["title"] == ["A trial of etanercept\n      in spondylitis.", "A book title"]
    # CN kept where it stands among the full names; AU used when there is no FAU.
    assert got["authors"] == [["Smith, John", "ASAS Study Group", "Jöns, Kate"], ["Adler, DG"]]
    assert got["year"] == ["2010 Jan", "20110304"]
    assert got["doi"] == ["10.1000/etn.1 ", None]
    assert got["keywords"] == [["MRI", "Humans"], []]
    assert got["publication_type"] == [["Journal Article", "Randomized Controlled Trial"], []]
    assert got["pages"] == [None, "1-9"]
    assert got["raw"][1] == MEDLINE[MEDLINE.index("PMID- 22222222") :]
    table = _export(tmp_path, "m.nbib", MEDLINE.encode())
    assert table["title"].tolist() == ["A trial of etanercept in spondylitis.", "A book title"]
    assert table["doi"].tolist() == ["10.1000/etn.1", None]


@pytest.mark.parametrize(
    "text",
    [
        "PMID- 1\nTI  - One\nPMID- 2\nTI  - Two\n",  # records run together
        "PMID- 1\nTI  - One\n  \nPMID- 2\nTI  - Two\n",  # a line of spaces between records
        "PMID- 1\nTI  - One\n\n\t\nPMID- 2\nTI  - Two",  # a line of a tab, no final newline
    ],
)
def test_medline_other_layouts(tmp_path, text):
    table = _export(tmp_path, "m.nbib", text.encode())
    assert table["pmid"].tolist() == ["1", "2"]
    assert table["title"].tolist() == ["One", "Two"]
    assert table["raw"].tolist() == ["PMID- 1\nTI  - One", "PMID- 2\nTI  - Two"]


def test_medline_record_starting_with_a_continuation_line(tmp_path):
    table = _export(tmp_path, "m.nbib", b"      continued\nPMID- 1\nTI  - One\n")
    assert table["pmid"].tolist() == ["1"]
    assert table["title"].tolist() == ["One"]


def test_medline_bad_line_by_hand(tmp_path):
    err = _text_error(tmp_path, "m.nbib", b"PMID- 1\nTI  - One\n\nPMID- 2\nnot a tag line\n")
    assert (err.record, err.line) == (2, 5)
    assert "not a MEDLINE line" in err.message


def test_medline_bytes_not_utf8_name_record_and_field(tmp_path):
    # "Jöns" written in Latin-1 (byte 0xF6) in record 2's title.
    err = _text_error(tmp_path, "m.nbib", b"PMID- 1\nTI  - One\n\nPMID- 2\nTI  - J\xf6ns\n")
    assert err.record == 2
    assert err.field == "title"
    assert "0xF6" in err.message


RIS = """\
Record 1 of 2
1.
TY  - JOUR
TI  - A title
      on two lines
AU  - Smith, J
AU  - Jöns, K
KW  - MRI
etanercept
ER  -
NL  - New
2.
TY  - JOUR
T1  - Second
DO  - 10.1000/x
ER  - """


def test_ris_fields_by_hand(tmp_path):
    got = ris.read(RIS, "r.ris")
    assert [f["title"] for f in got] == ["A title\n      on two lines", "Second"]
    assert got[0]["authors"] == ["Smith, J", "Jöns, K"]
    # KW's continuation line is a keyword of its own (EndNote's lists).
    assert got[0]["keywords"] == ["MRI", "etanercept"]
    # The NL line right after ER belongs to the record above; "2." does not.
    assert got[0]["raw"] == RIS[RIS.index("TY") : RIS.index("\n2.")]
    assert got[1]["raw"] == RIS[RIS.rindex("TY") :]
    assert got[1]["doi"] == "10.1000/x"
    table = _export(tmp_path, "r.ris", RIS.encode())
    assert table["title"].tolist() == ["A title on two lines", "Second"]
    assert table["keywords"].tolist() == [["MRI", "etanercept"], []]


@pytest.mark.parametrize(
    ("text", "record", "line", "field"),
    [
        ("TY  - JOUR\nTI  - One\nTY  - JOUR\nTI  - Two\nER  - \n", 1, 3, "ER"),  # TY before ER
        ("TY  - JOUR\nTI  - One\n", 1, 1, "ER"),  # no ER: truncated
        ("TI  - One\nER  - \n", 1, 1, "TI"),  # no TY
        ("TY  - JOUR\nER  - \n\nNL  - x\n", 2, 4, "NL"),  # a tag after ER and a blank line
    ],
)
def test_ris_bad_layouts_by_hand(tmp_path, text, record, line, field):
    # Given the format: a text without "TY  -" is not detected as RIS.
    err = _text_error(tmp_path, "r.ris", text.encode(), fmt="ris")
    assert (err.record, err.line, err.field) == (record, line, field)


def test_ris_bytes_not_utf8_name_record_and_field(tmp_path):
    err = _text_error(tmp_path, "r.ris", b"TY  - JOUR\nTI  - J\xf6ns\nER  - \n")
    assert err.record == 1
    assert err.field == "title"
    assert "0xF6" in err.message


def test_bom_and_line_ends_are_read_as_plain_text(tmp_path):
    assert decode(b"\xef\xbb\xbfTY  - JOUR\r\nER  - \r\n", "r.ris") == "TY  - JOUR\nER  - \n"
    assert decode(b"TY  - JOUR\rER  - \r", "r.ris") == "TY  - JOUR\nER  - \n"
    plain = _export(tmp_path, "plain.ris", RIS.encode())
    for name, data in [
        ("bom_crlf.ris", b"\xef\xbb\xbf" + RIS.replace("\n", "\r\n").encode()),
        ("cr.ris", RIS.replace("\n", "\r").encode()),
    ]:
        table = _export(tmp_path, name, data)
        assert detect_format(tmp_path / name) == "ris"
        assert table["raw"].tolist() == plain["raw"].tolist()
        assert table["title"].tolist() == plain["title"].tolist()
        assert table["authors"].tolist() == plain["authors"].tolist()
    text = MEDLINE.strip("\n")
    plain = _export(tmp_path, "plain.nbib", text.encode())
    table = _export(tmp_path, "cr.nbib", b"\xef\xbb\xbf" + text.replace("\n", "\r").encode())
    assert table["raw"].tolist() == plain["raw"].tolist()
    assert table["authors"].tolist() == plain["authors"].tolist()


@pytest.mark.parametrize(("fmt", "text"), [("medline", MEDLINE), ("ris", RIS)])
def test_large_file_imports_every_record(tmp_path, fmt, text):
    # Over 1 MiB of records, each kept with its own text.
    body = text.strip("\n")
    if fmt == "ris":
        body = body[body.index("TY") :]
    copies = (1 << 20) // len(body.encode()) + 1
    whole = "\n\n".join([body] * copies) + "\n"
    table = _export(tmp_path, f"big.{fmt}", whole.encode())
    module = {"medline": medline, "ris": ris}[fmt]
    general = module.read(whole, "big")
    raws = general["raw"] if fmt == "medline" else [r["raw"] for r in general]
    assert len(raws) == 2 * copies
    assert table["raw"].tolist() == raws
