"""The byte-level readers (``read_bytes``) against the general readers (``read``).

``read_export`` reads a plain UTF-8 file (no byte-order mark, ``\\n`` line ends) of the
tagged formats from its bytes with numpy line tables (srma.importers.lines); the
general readers, which work on the decoded text, take every other file. Both must give
the same fields for every record: checked on every real export and on small hand-made
texts holding each case the byte-level reader treats apart (expected values read off
the texts by hand).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srma.importers import detect_format, lines, medline, read_export, read_text, ris
from srma.importers.detect import map_bytes, plain_bytes


@pytest.fixture(scope="module")
def exports(shared_dir: Path) -> Path:
    return shared_dir / "datasets" / "exports"


def _real(exports: Path, fmt: str) -> list[Path]:
    return [
        p
        for p in sorted(exports.glob("*/*"))
        if p.suffix not in (".md", ".csv") and detect_format(p) == fmt
    ]


def _all(length, word):
    return length >= 0, length >= 0


def _tags(length, word):
    """Heads: lines that do not start with six spaces; kept: those starting "TI"."""
    cont = (length >= 6) & ((word & np.uint64(0xFFFF_FFFF_FFFF)) == np.uint64(0x2020_2020_2020))
    return ~cont, (length >= 2) & ((word & np.uint64(0xFFFF)) == np.uint64(0x4954))


def test_scan_by_hand():
    data = "AB  - x\n\n      yz\nTI  - é".encode()
    table = lines.scan(data, _all)
    assert table.start.tolist() == [0, 8, 9, 18]
    assert table.end.tolist() == [7, 8, 17, 26]
    assert table.length.tolist() == [7, 0, 8, 8]
    assert table.next.tolist() == [8, 9, 18, 27]  # the length plus one after the last
    # First eight bytes of each line, little-endian (past a line's end: the next line).
    assert int(table.word[0]) == int.from_bytes(b"AB  - x\n", "little")
    assert int(table.word[1]) == int.from_bytes(b"\n      y", "little")
    assert int(table.word[3]) == int.from_bytes("TI  - é".encode(), "little")
    assert lines.byte(table.word, 4).tolist() == [45, 32, 32, 45]
    assert lines.code("TI") == int.from_bytes(b"TI  ", "little")
    data = b"TI  - a\n      b\nAB  - c\nTI  - d\n      e\n"
    table = lines.scan(data, _tags)
    assert table.start.tolist() == [0, 24]
    # The next head after each kept line: "AB" at 16, the empty last line at 40.
    assert table.next.tolist() == [16, 40]


def test_scan_in_small_chunks_equals_one_chunk(monkeypatch):
    data = b"TI  - a\n      b\n\nAB  - c\nTI  - d\n      e\n      f\nTI  - g" * 5
    whole = lines.scan(data, _tags)
    monkeypatch.setattr(lines, "_CHUNK", 3)
    small = lines.scan(data, _tags)
    for a, b in zip(whole, small, strict=True):
        assert a.tolist() == b.tolist()
    assert len(whole.start) == 11  # "g" runs into the next "TI" four times


def test_decode_spans_by_hand():
    data = "PMID- 1\nTI  - Jöns\n".encode()
    got = lines.decode(data, np.array([6, 14]), np.array([7, 19]), check=True)
    assert got.tolist() == ["1", "Jöns"]
    assert lines.firsts(3, np.array([0, 0, 2]), np.array(["a", "b", "c"], dtype=object)) == [
        "a",
        None,
        "c",
    ]
    assert lines.lists(3, np.array([0, 0, 2]), np.array(["a", "b", "c"], dtype=object)) == [
        ["a", "b"],
        None,
        ["c"],
    ]


@pytest.mark.parametrize(("fmt", "count"), [("medline", 11), ("ris", 29)])
def test_bytes_equal_text_reader_on_real_files(exports, fmt, count):
    module = {"medline": medline, "ris": ris}[fmt]
    paths = _real(exports, fmt)
    assert len(paths) == count
    for path in paths:
        fast = module.read_bytes(plain_bytes(path.read_bytes()), path)
        assert fast is not None, path.name
        assert fast == module.read(read_text(path), path), path.name


def test_plain_bytes():
    assert plain_bytes(b"\xef\xbb\xbfTY  - JOUR\r\nER  - \r\n") == b"TY  - JOUR\nER  - \n"
    assert plain_bytes(b"TY  - JOUR\rER  - \r") == b"TY  - JOUR\nER  - \n"
    assert plain_bytes("TY  - JOUR\n".encode("utf-16")) is None
    assert plain_bytes(b" \n\n") is None


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


def test_medline_bytes_cases_by_hand():
    fast = medline.read_bytes(MEDLINE.encode(), "m.nbib")
    assert fast == medline.read(MEDLINE, "m.nbib")
    assert fast["title"] == ["A trial of etanercept\n      in spondylitis.", "A book title"]
    # CN kept where it stands among the full names; AU used when there is no FAU.
    assert fast["authors"] == [["Smith, John", "ASAS Study Group", "Jöns, Kate"], ["Adler, DG"]]
    assert fast["year"] == ["2010 Jan", "20110304"]
    assert fast["doi"] == ["10.1000/etn.1 ", None]
    assert fast["keywords"] == [["MRI", "Humans"], []]
    assert fast["publication_type"] == [["Journal Article", "Randomized Controlled Trial"], []]
    assert fast["pages"] == [None, "1-9"]
    assert fast["raw"][1] == MEDLINE[MEDLINE.index("PMID- 22222222") :]
    table = read_export_text(MEDLINE)
    assert table["title"].tolist() == ["A trial of etanercept in spondylitis.", "A book title"]
    assert table["doi"].tolist() == ["10.1000/etn.1", None]


def read_export_text(text: str, name: str = "m.nbib"):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(text.encode())
        assert plain_bytes(path.read_bytes()) is not None
        return read_export(path, export="m")


@pytest.mark.parametrize(
    "text",
    [
        "PMID- 1\nTI  - One\nPMID- 2\nTI  - Two\n",  # records run together
        "PMID- 1\nTI  - One\n  \nPMID- 2\nTI  - Two\n",  # a line of spaces between records
        "PMID- 1\nTI  - One\nnot a tag line\n",  # a bad line
        "      continued\nPMID- 1\nTI  - One\n",  # a record starting with a continuation
    ],
)
def test_medline_bytes_leaves_other_layouts_to_the_text_reader(text):
    assert medline.read_bytes(text.encode(), "m.nbib") is None


def test_medline_bytes_leaves_bytes_that_are_not_utf8():
    assert medline.read_bytes(b"PMID- 1\nTI  - J\xf6ns\n", "m.nbib") is None


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


def test_ris_bytes_cases_by_hand():
    fast = ris.read_bytes(RIS.encode(), "r.ris")
    assert fast == ris.read(RIS, "r.ris")
    assert [f["title"] for f in fast] == ["A title\n      on two lines", "Second"]
    assert fast[0]["authors"] == ["Smith, J", "Jöns, K"]
    # KW's continuation line is a keyword of its own (EndNote's lists).
    assert fast[0]["keywords"] == ["MRI", "etanercept"]
    # The NL line right after ER belongs to the record above; "2." does not.
    assert fast[0]["raw"] == RIS[RIS.index("TY") : RIS.index("\n2.")]
    assert fast[1]["raw"] == RIS[RIS.rindex("TY") :]
    assert fast[1]["doi"] == "10.1000/x"


@pytest.mark.parametrize(
    "text",
    [
        "TY  - JOUR\nTI  - One\nTY  - JOUR\nTI  - Two\nER  - \n",  # TY before ER
        "TY  - JOUR\nTI  - One\n",  # no ER: truncated
        "TI  - One\nER  - \n",  # no TY
        "TY  - JOUR\nER  - \n\nNL  - x\n",  # a tag after ER and a blank line
        "TY  - JOUR\nTI  -é\nER  - \n",  # a two-byte character right after "  -"
    ],
)
def test_ris_bytes_leaves_other_layouts_to_the_text_reader(text):
    assert ris.read_bytes(text.encode(), "r.ris") is None


def test_ris_bytes_leaves_bytes_that_are_not_utf8():
    assert ris.read_bytes(b"TY  - JOUR\nTI  - J\xf6ns\nER  - \n", "r.ris") is None


@pytest.mark.parametrize(("fmt", "text"), [("medline", MEDLINE), ("ris", RIS)])
def test_large_file_is_mapped_and_read_like_text(tmp_path, fmt, text):
    # Over 1 MiB: read_export maps the file instead of copying it.
    body = text.strip("\n")
    if fmt == "ris":
        body = body[body.index("TY") :]
    copies = (1 << 20) // len(body.encode()) + 1
    whole = "\n\n".join([body] * copies) + "\n"
    path = tmp_path / f"big.{fmt}"
    path.write_text(whole, encoding="utf-8")
    data = map_bytes(path)
    assert not isinstance(data, bytes)
    module = {"medline": medline, "ris": ris}[fmt]
    assert module.read_bytes(data, path) == module.read(whole, path)
    table = read_export(path, export="big")
    general = module.read(whole, path)
    raws = general["raw"] if fmt == "medline" else [r["raw"] for r in general]
    assert len(raws) == 2 * copies
    assert table["raw"].tolist() == raws
