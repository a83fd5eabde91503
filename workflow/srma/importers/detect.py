"""Reading an export's text and telling its format from its content.

The extension is not trusted: PubMed's MEDLINE files are saved as ``.txt``, ``.nbib`` and
even ``.ris``, and Web of Science's plain text as ``.txt``, ``.isi``, ``.ciw`` or ``.ris``.
"""

from __future__ import annotations

import csv
import io
import os
import re

from srma.errors import InputError

#: Every format srma reads (the ``format`` column of the records table).
FORMATS = (
    "medline",
    "ris",
    "wos",
    "wos_tab",
    "ovid",
    "cochrane_txt",
    "endnote_xml",
    "endnote_tagged",
    "bibtex",
    "csv_pubmed",
    "csv_scopus",
    "csv_embase",
    "csv_cochrane",
    "csv_generic",
    "xlsx",
)

_HEAD = 65536
_MEDLINE_RE = re.compile(r"^(PMID|PMC )- \S", re.M)
_RIS_RE = re.compile(r"^TY  - ", re.M)
_WOS_RE = re.compile(r"\A(FN |VR |PT [A-Z]\b)")
_OVID_RE = re.compile(r"^<\d+\. ?>\s*$", re.M)
_COCHRANE_RE = re.compile(r"^Record #\d+ of \d+\s*$", re.M)
_COCHRANE_TAG_RE = re.compile(r"^(ID|TI|AU|SO|YR|DOI|US|PG|VL|NO|KY|AB|PM|CC|XR|EM|PT):", re.M)
_ENDNOTE_RE = re.compile(r"^%[0A-Z@!#$&()*+1-9] ", re.M)
_BIBTEX_RE = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)


def decode(data: bytes, path: object) -> str:
    """Decode an export's bytes as UTF-8 (with or without BOM) or UTF-16 (with BOM, or
    detected from its NUL bytes); line ends become ``\\n``.

    Bytes that are not valid UTF-8 are kept as lone surrogates (``surrogateescape``) so
    that the importer can stop at the record and field that holds them
    (:func:`srma.importers.normalise.check_decoded`), rather than guess an encoding.
    """
    return decode_checked(data, path)[0]


def decode_checked(data: bytes, path: object) -> tuple[str, bool]:
    """:func:`decode`, and whether every byte decoded (no lone surrogates)."""
    blank = b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"
    # Look at the start first: stripping a whole large file copies it.
    if not data[:4096].strip(blank) and not data.strip(blank):
        raise InputError(path, "the file is empty")
    valid = True
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    elif b"\x00" in data[:4096]:
        sample = data[:4096]
        even = sample[0::2].count(0)
        odd = sample[1::2].count(0)
        if odd > len(sample) // 4 and even < odd // 8:
            encoding = "utf-16-le"
        elif even > len(sample) // 4 and odd < even // 8:
            encoding = "utf-16-be"
        else:
            raise InputError(path, "binary file (NUL bytes): not a search export")
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            text, valid = data.decode(encoding, errors="surrogatepass"), False
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text, valid = data.decode("utf-8", errors="surrogateescape"), False
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, valid


def read_text(path: str | os.PathLike) -> str:
    """The decoded text of an export (see :func:`decode`)."""
    return read_text_checked(path)[0]


def read_text_checked(path: str | os.PathLike) -> tuple[str, bool]:
    """The decoded text of an export and whether it decoded without fault."""
    return decode_checked(read_bytes(path), path)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of an export (:class:`InputError` when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the path
        raise InputError(path, f"cannot read the file: {getattr(err, 'strerror', err)}") from err


def detect_text(text: str, path: object = "<text>") -> str:
    """The format of an export from its decoded text (one of :data:`FORMATS`)."""
    head = text[:_HEAD]
    start = head.lstrip()
    if start.startswith(("<?xml", "<xml", "<records")):
        if "<record" in head:
            return "endnote_xml"
        raise InputError(path, "XML file without EndNote <record> elements: unknown format")
    first_line = start.split("\n", 1)[0]
    if first_line.startswith("PT\t") or (
        first_line.count("\t") > 5 and "\tTI\t" in first_line and "\tAU\t" in first_line
    ):
        return "wos_tab"
    if _WOS_RE.match(start):
        return "wos"
    if _MEDLINE_RE.search(head):
        return "medline"
    if _RIS_RE.search(head):
        return "ris"
    if _OVID_RE.search(head):
        return "ovid"
    if _COCHRANE_RE.search(head) and _COCHRANE_TAG_RE.search(head):
        return "cochrane_txt"
    if start.startswith("%") and len(_ENDNOTE_RE.findall(head)) >= 2:
        return "endnote_tagged"
    if _BIBTEX_RE.match(start):
        return "bibtex"
    fmt = _detect_csv(head)
    if fmt:
        return fmt
    from . import generic  # any other CSV/TSV with a title column (Zotero, Excel, ...)

    if generic.detect(head):
        return "csv_generic"
    if _BIBTEX_RE.search(head):
        return "bibtex"
    columns = generic.table_without_title(head)
    if columns:
        raise generic.no_title_error(path, columns, lead="unknown export format: ")
    raise InputError(
        path,
        "unknown export format: expected MEDLINE/PubMed, RIS, Web of Science (plain text "
        "or tab-delimited), Ovid, Cochrane Library text, EndNote XML or tagged, BibTeX, "
        "CSV from PubMed, Scopus, Embase or Cochrane, or a CSV/TSV or Excel .xlsx table "
        "with a Title column",
    )


def detect_format(path: str | os.PathLike) -> str:
    """The format of the export at ``path``, read from its content (not its extension)."""
    from .spreadsheet import sniff

    data = read_bytes(path)
    return sniff(data, path) or detect_text(decode(data, path), path)


def csv_header_offset(text: str) -> int:
    """Character offset of a CSV export's header line.

    Embase writes a search-query preamble (``"SEARCH QUERY","..."`` and a dashed line)
    above the header; the header is the first line after the last line of dashes within
    the first lines of the file.
    """
    offset = 0
    pos = 0
    for _ in range(20):
        end = text.find("\n", pos)
        if end < 0:
            break
        line = text[pos:end].strip()
        if line and set(line) <= {"-", "="} and len(line) >= 5:
            offset = end + 1
        pos = end + 1
    while text.startswith("\n", offset):
        offset += 1
    return offset


def csv_header(text: str) -> list[str]:
    """The column names of a CSV export (after any preamble)."""
    offset = csv_header_offset(text)
    line_end = text.find("\n", offset)
    # A quoted header cell never holds a line break in these exports.
    line = text[offset : line_end if line_end >= 0 else len(text)]
    try:
        row = next(csv.reader(io.StringIO(line)))
    except (StopIteration, csv.Error):
        return []
    return [c.strip() for c in row]


def _detect_csv(head: str) -> str | None:
    cols = set(csv_header(head))
    if len(cols) < 3:
        return None
    if "CENTRAL ID" in cols or ("Database Name" in cols and "CTgov ID" in cols):
        return "csv_cochrane"
    if "EID" in cols or ("Source title" in cols and "Author(s) ID" in cols):
        return "csv_scopus"
    if "Embase Accession ID" in cols or any(c.startswith("Emtree") for c in cols):
        return "csv_embase"
    if "PMID" in cols and "Title" in cols and ("Citation" in cols or "Journal/Book" in cols):
        return "csv_pubmed"
    return None
