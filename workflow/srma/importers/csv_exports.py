"""CSV exports from PubMed, Scopus, Embase and the Cochrane Library.

Every cell is read as text (PMIDs and accession numbers stay strings, ``001`` stays
``001``). Embase may write a search-query preamble above the header
(:func:`srma.importers.detect.csv_header_offset`). A row with more cells than the header
(unless the extra ones are empty), with fewer cells, or a quoted cell left open at the
end of the file stops the import with the record number.
"""

from __future__ import annotations

import csv
import io
import json
import re

from srma.errors import InputError

from .detect import csv_header_offset
from .normalise import first, initials_name, join_pages

# PubMed "Citation": "Eur J Med Genet. 2020 Feb;63(2):103640. doi: ..."
_PUBMED_CIT_RE = re.compile(r";\s*(?P<volume>[^(:;]+)?(?:\((?P<issue>[^)]*)\))?:(?P<pages>[^.;]+)")
# Embase "Source": "Endoscopic Ultrasound (2014) 3:3 (152-160). Date of Publication: 2014"
_EMBASE_SRC_RE = re.compile(
    r"^(?P<journal>.*?)\s*\((?P<year>\d{4})\)\s*(?P<volume>[^:\s(]+)?(?::(?P<issue>[^\s(]+))?"
    r"\s*(?:\((?P<pages>[^)]*)\))?"
)
_SCOPUS_ID_RE = re.compile(r"\s*\(\d+\)\s*$")


def rows(text: str, path: object) -> list[tuple[int, dict[str, str]]]:
    """``(line number, {column: cell})`` of every non-empty row, cells stripped."""
    offset = csv_header_offset(text)
    line_base = text.count("\n", 0, offset)
    reader = csv.reader(io.StringIO(text[offset:]), strict=True)
    out: list[tuple[int, dict[str, str]]] = []
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(path, "CSV file without a header") from None
    while header and not header[-1]:
        header.pop()
    while True:
        number = len(out) + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise InputError(
                path,
                f"CSV cannot be read ({err}): a quoted cell is not closed, the file may be "
                "truncated",
                record=number,
                line=line_base + reader.line_num,
            ) from None
        if not any(c.strip() for c in cells):
            continue
        line = line_base + reader.line_num
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            raise InputError(
                path,
                f"{len(cells)} cells but {len(header)} column names: columns would shift",
                record=number,
                line=line,
            )
        if len(cells) < len(header):
            raise InputError(
                path,
                f"{len(cells)} cells but {len(header)} column names: the row is cut short",
                record=number,
                line=line,
            )
        out.append((line, {h: c.strip() for h, c in zip(header, cells, strict=False) if h}))
    return out


def _split(value: str | None, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses: Embase writes ``term (diagnosis, surgery)``."""
    text = value or ""
    if "(" not in text:
        return [p.strip() for p in text.split(sep) if p.strip()]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _raw(row: dict[str, str]) -> str:
    return json.dumps({k: v for k, v in row.items() if v}, ensure_ascii=False)


def pubmed(row: dict[str, str]) -> dict:
    """PubMed "Save > CSV"."""
    authors = [initials_name(a.rstrip(".")) for a in _split(row.get("Authors"), ",")]
    cit = _PUBMED_CIT_RE.search(row.get("Citation", ""))
    parts = cit.groupdict() if cit else {}
    return {
        "title": row.get("Title"),
        "authors": authors,
        "year": row.get("Publication Year"),
        "journal": None,
        "journal_abbrev": row.get("Journal/Book"),
        "volume": parts.get("volume"),
        "issue": parts.get("issue"),
        "pages": parts.get("pages"),
        "first_page": None,
        "doi": row.get("DOI"),
        "pmid": row.get("PMID"),
        "accession": None,
        "abstract": None,
        "keywords": [],
        "publication_type": [],
        "language": None,
        "database": "PubMed",
    }


def scopus(row: dict[str, str]) -> dict:
    """Scopus "Export > CSV"."""
    full = [_SCOPUS_ID_RE.sub("", a) for a in _split(row.get("Author full names"), ";")]
    authors = full or [initials_name(a) for a in _split(row.get("Authors"), ";")]
    pages = join_pages(row.get("Page start"), row.get("Page end"))
    first_page = None
    if not pages:
        pages = first_page = row.get("Art. No.") or None
    return {
        "title": row.get("Title"),
        "authors": authors,
        "year": row.get("Year"),
        "journal": row.get("Source title"),
        "journal_abbrev": row.get("Abbreviated Source Title"),
        "volume": row.get("Volume"),
        "issue": row.get("Issue"),
        "pages": pages,
        "first_page": first_page,
        "doi": row.get("DOI"),
        "pmid": row.get("PubMed ID"),
        "accession": row.get("EID"),
        "abstract": row.get("Abstract"),
        "keywords": _split(row.get("Author Keywords"), ";")
        + _split(row.get("Index Keywords"), ";"),
        "publication_type": _split(row.get("Document Type"), ";"),
        "language": row.get("Language of Original Document"),
        "database": row.get("Source") or "Scopus",
    }


def embase(row: dict[str, str]) -> dict:
    """Embase (embase.com) "Export > CSV"."""
    src = _EMBASE_SRC_RE.match(row.get("Source", ""))
    parts = src.groupdict() if src else {}
    pages = join_pages(row.get("First Page"), row.get("Last Page")) or parts.get("pages")
    kw = row.get("Author Keywords") or row.get("keywords") or ""
    return {
        "title": row.get("Title"),
        "authors": [initials_name(a) for a in _split(row.get("Author Names"), ",")],
        "year": first(row.get("Publication Year"), parts.get("year")),
        "journal": first(row.get("Source title"), parts.get("journal")),
        "journal_abbrev": None,
        "volume": first(row.get("Volume"), parts.get("volume")),
        "issue": first(row.get("Issue"), parts.get("issue")),
        "pages": pages,
        "first_page": None,
        "doi": row.get("DOI"),
        "pmid": row.get("Medline PMID"),
        "accession": first(row.get("Embase Accession ID"), row.get("PUI")),
        "abstract": row.get("Abstract"),
        "keywords": _split(kw, ","),
        "publication_type": _split(row.get("Publication Type"), ";"),
        "language": row.get("Article Language"),
        "database": "Embase",
    }


def cochrane(row: dict[str, str]) -> dict:
    """Cochrane Library (CENTRAL) "Export > CSV"."""
    return {
        "title": row.get("Title"),
        "authors": _split(row.get("Author(s)"), ";"),
        "year": row.get("Year"),
        "journal": row.get("Source"),
        "journal_abbrev": None,
        "volume": row.get("Volume"),
        "issue": row.get("Issue"),
        "pages": row.get("Pages"),
        "first_page": None,
        "doi": row.get("DOI"),
        "pmid": row.get("PubMed ID"),
        "accession": row.get("CENTRAL ID"),
        "abstract": row.get("Abstract"),
        "keywords": _split(row.get("Keywords"), ";"),
        "publication_type": _split(row.get("Publication Type"), ";"),
        "language": None,
        "database": "CENTRAL",
    }


MAPPERS = {
    "csv_pubmed": pubmed,
    "csv_scopus": scopus,
    "csv_embase": embase,
    "csv_cochrane": cochrane,
}


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every row of a database's CSV export (``fmt``: ``csv_*``)."""
    mapper = MAPPERS[fmt]
    out = []
    for _, row in rows(text, path):
        rec = mapper(row)
        rec["raw"] = _raw(row)
        out.append(rec)
    return out
