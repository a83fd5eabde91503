"""Tables a reviewer has: a CSV or TSV file (Zotero, Publish or Perish, a sheet saved
from Excel, a list typed by hand) and, through :mod:`.spreadsheet`, an Excel workbook.

Columns are mapped by their header names in any case, with spaces and punctuation
ignored (``Publication Year``, ``publication_year`` and ``PUBLICATION YEAR`` are one
name); :data:`COLUMN_NAMES` lists the names read for each field, in order of preference.
A table needs a title column; a column that is not listed is kept only in the record's
``raw`` text, the row as a JSON object of its non-empty cells.

The delimiter (comma, semicolon as Excel writes it in European locales, or tab) is the
one that splits the header into named columns; an Excel ``sep=;`` line is honoured, and
up to :data:`HEADER_SEARCH` lines above the header (a caption) are skipped. Every cell
is text: a cell starting with ``=``, ``+``, ``-`` or ``@`` is kept as written and never
evaluated.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence

from srma.errors import InputError

from .normalise import join_pages

log = logging.getLogger(__name__)

#: Field -> the column names read for it, in order of preference (the first non-empty
#: cell wins; ``keywords`` and ``publication_type`` join every listed column). Matched
#: case-insensitively, spaces and punctuation ignored. ``first_page``/``last_page`` are
#: used when there is no pages column; ``url`` only for a DOI link (``doi.org/10...``,
#: a publisher's ``/doi/abs/10...``) when there is no DOI; ``extra`` only for Zotero's
#: ``PMID: ...`` line when there is no PMID.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "title": (
        "Title", "Item Title", "Article Title", "Document Title", "Paper Title",
        "Primary Title", "TI",
    ),
    "authors": (
        "Author", "Authors", "Author(s)", "Author Names", "Author full names", "Creators",
        "Creator", "AU",
    ),
    "year": (
        "Year", "Publication Year", "Pub Year", "Year Published", "PY", "Date",
        "Publication Date", "Date Published", "Issued",
    ),
    "journal": (
        "Journal", "Publication Title", "Source Title", "Published In", "Journal Title",
        "Journal Name", "Journal/Book", "Publication", "Container Title", "Source", "SO",
    ),
    "journal_abbrev": (
        "Journal Abbreviation", "Journal Abbrev", "Abbreviated Source Title",
        "Abbreviated Journal", "J9", "JI",
    ),
    "volume": ("Volume", "Vol", "VL"),
    "issue": ("Issue", "Issue Number", "IS"),
    "pages": ("Pages", "Page", "Page Range", "Page Numbers", "PP"),
    "first_page": ("Start Page", "StartPage", "First Page", "Page Start", "Begin Page", "BP"),
    "last_page": ("End Page", "EndPage", "Last Page", "Page End", "EP"),
    "doi": ("DOI", "Digital Object Identifier", "DO"),
    "pmid": ("PMID", "PubMed ID", "PubMed", "PM"),
    "accession": ("Accession Number", "Accession", "Accession No", "AN", "EID", "UT"),
    "abstract": ("Abstract", "Abstract Note", "Summary", "AB"),
    "keywords": (
        "Keywords", "Author Keywords", "Index Keywords", "Manual Tags", "Automatic Tags",
        "Tags", "MeSH Terms", "KW", "DE",
    ),
    "publication_type": (
        "Item Type", "Type", "Document Type", "Publication Type", "Reference Type", "PT",
    ),
    "language": ("Language", "Lang", "LA"),
    "database": ("Database", "Source Database", "Data Source"),
    "url": ("URL", "Link", "ArticleURL", "Article URL", "UR"),
    "extra": ("Extra",),
}  # fmt: skip

#: Lines searched for the header row (rows above it, e.g. a caption, are skipped).
HEADER_SEARCH = 10
#: Cells Excel shows for a formula error; read as empty (kept in ``raw``).
EXCEL_ERRORS = frozenset(
    ("#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!")
)
_DELIMITERS = ("\t", ";", ",")
_DELIMITER_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma", "|": "vertical bar"}
_LIST_SPLIT_RE = re.compile(r"\s*[;\n]\s*")
#: A DOI in a link: ``https://doi.org/10...`` or a publisher's ``.../doi/abs/10...``.
_URL_DOI_RE = re.compile(
    r"(?:doi\.org/|/doi/(?:abs/|full/|pdf/|epdf/|epub/)?)(10\.\d{4,9}/[^?#\s]+)", re.I
)
_ZOTERO_NOT_REFERENCES = frozenset(("note", "attachment", "annotation"))
_ZOTERO_PMID_RE = re.compile(r"^\s*PMID:\s*(\d+)", re.M | re.I)
_AND_RE = re.compile(r"\s+(?:and|&)\s+", re.I)
#: Words of a collective author's name ("ASAS Study Group"): kept as written.
_GROUP_WORDS = frozenset(
    (
        "group", "study", "investigators", "consortium", "society", "committee",
        "collaboration", "collaborative", "network", "team", "association", "trial",
        "trialists", "working", "foundation", "organization", "organisation", "institute",
        "council", "college", "academy", "federation", "panel", "force",
    )
)  # fmt: skip


def key(name: object) -> str:
    """A column name as matched: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


TITLE_KEYS = frozenset(key(n) for n in COLUMN_NAMES["title"])


def accepted_title_names() -> str:
    """The title column names, for messages."""
    return ", ".join(COLUMN_NAMES["title"])


def has_title(cells: Iterable[object]) -> bool:
    """Whether a header row has a title column."""
    return any(key(c) in TITLE_KEYS for c in cells if c is not None)


def no_title_error(
    path: object, columns: Sequence[object], where: str = "", lead: str = ""
) -> InputError:
    """The error for a table without a title column: the columns found and the names
    accepted."""
    found = ", ".join(repr(str(c).strip()) for c in columns if c is not None and str(c).strip())
    return InputError(
        path,
        f"{lead}no title column{where}: the columns are {found or '(none)'}; srma reads a table "
        f"whose title column is named one of {accepted_title_names()} (any case), and "
        "Author(s), Year, Journal, Volume, Issue, Pages, DOI, PMID, Abstract columns by "
        "their usual names (docs/data-model.md, section 1)",
    )


# Detection ------------------------------------------------------------------------------


def _lines(text: str, limit: int) -> list[tuple[int, int, str]]:
    """``(offset, line number, line)`` of the first ``limit`` non-blank lines."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    number = 0
    while len(out) < limit and pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        number += 1
        line = text[pos:end]
        if line.strip():
            out.append((pos, number, line))
        pos = end + 1
    return out


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []


def find_header(text: str) -> tuple[int, int, str] | None:
    """``(offset of the header line, its line number, delimiter)``, or None when none of
    the first lines splits into columns with a title column."""
    lines = _lines(text, HEADER_SEARCH)
    forced = None
    if lines and lines[0][2].strip().lower().startswith("sep=") and len(lines[0][2].strip()) == 5:
        forced = lines[0][2].strip()[4]  # Excel's "sep=;" line
        lines = lines[1:]
    for offset, number, line in lines:
        best = None
        for delimiter in (forced,) if forced else _DELIMITERS:
            cells = _split(line, delimiter)
            if len(cells) >= 2 and has_title(cells) and (best is None or len(cells) > best[0]):
                best = (len(cells), delimiter)
        if best:
            return offset, number, best[1]
    return None


def detect(head: str) -> bool:
    """Whether the text is a CSV/TSV table with a title column."""
    return find_header(head) is not None


def table_without_title(head: str) -> list[str] | None:
    """The column names when the first line looks like a table header (three or more
    named columns) without a title column; else None."""
    lines = _lines(head, 1)
    if not lines:
        return None
    line = lines[0][2]
    best: list[str] = []
    for delimiter in _DELIMITERS:
        cells = [c.strip() for c in _split(line, delimiter)]
        if len([c for c in cells if c]) > len([c for c in best if c]):
            best = cells
    named = [c for c in best if c]
    if len(named) < 3 or has_title(named):
        return None
    return named


# Authors --------------------------------------------------------------------------------


def _initials(word: str) -> bool:
    """``J``, ``JA``, ``J.A.``, ``A.-W.``, ``É``: initials, not a name (one to four
    capital letters, with dots or hyphens)."""
    letters = word.replace(".", "").replace("-", "")
    return 0 < len(letters) <= 4 and letters.isalpha() and letters.isupper()


def author_name(author: str) -> str:
    """One author as ``Surname, Given``: ``Smith, John`` kept; ``Smith JA`` (Vancouver,
    PubMed) and ``JA Smith`` / ``J. A. Smith`` (Google Scholar via Publish or Perish)
    become ``Smith, JA`` / ``Smith, J. A.``; anything else (``John Smith``, a group such
    as ``ASAS Study Group``) is kept as written."""
    author = " ".join(author.split())
    if "," in author:
        head, _, tail = author.partition(",")
        return f"{head.strip()}, {tail.strip()}".strip(" ,")
    words = author.split(" ")
    if len(words) < 2 or any(w.casefold() in _GROUP_WORDS for w in words):
        return author
    last_init, first_init = _initials(words[-1]), _initials(words[0])
    if last_init and (not first_init or len(words[-1]) <= len(words[0])):
        return f"{' '.join(words[:-1])}, {words[-1]}"
    if first_init:
        n = 1
        while n < len(words) - 1 and _initials(words[n]):
            n += 1
        return f"{' '.join(words[n:])}, {' '.join(words[:n])}"
    return author


def _given(part: str) -> bool:
    """Whether a comma-separated part is given names or initials (``J.``, ``J. A.``,
    ``John``, ``Anne-Wil``), i.e. the second half of ``Surname, Given``."""
    words = part.split()
    if not words:
        return False
    if all(_initials(w) for w in words):
        return True
    return len(words) == 1 and part[:1].isupper() and part.replace("-", "").isalpha()


def split_authors(value: str | None) -> list[str]:
    """The authors of one cell, each as ``Surname, Given`` where it can be told.

    - ``Smith, John; Jones, Amy`` (Zotero ``Author``), or one author a line: split at
      ``;`` and line breaks;
    - ``Smith, J. and Jones, A.`` (BibTeX) or ``Smith, J., & Jones, A.`` (APA): paired;
    - ``Smith J, Jones A`` (Vancouver) and ``J Smith, A Jones`` (Publish or Perish from
      Google Scholar, which may end in ``…``): one author per comma;
    - ``Smith, John``: one author.
    """
    if not value:
        return []
    text = value.strip().rstrip("…").strip()
    if text.endswith("..."):
        text = text[:-3].strip()
    if ";" in text or "\n" in text:
        parts = _LIST_SPLIT_RE.split(text)
    else:
        pieces = [p.strip() for p in _AND_RE.split(text) if p.strip()]
        if len(pieces) > 1 and all("," in p for p in pieces[:-1]):
            text = ", ".join(p.rstrip(",") for p in pieces)
        elif len(pieces) > 1 and all(author_name(p) != p for p in pieces):
            text = ", ".join(pieces)  # "Smith J and Jones A" (not "A and B Foundation")
        parts = [p.strip() for p in text.split(",")]
        parts = [p for p in parts if p and p not in ("…", "...", "&")]
        parts = [p[1:].strip() if p.startswith("&") else p for p in parts]
        if len(parts) >= 2 and len(parts) % 2 == 0:
            surnames, given = parts[0::2], parts[1::2]
            if all(_given(g) for g in given) and not any(
                _initials(s.split()[-1]) or _initials(s.split()[0]) for s in surnames
            ):
                parts = [f"{s}, {g}" for s, g in zip(surnames, given, strict=True)]
    out = []
    for part in parts:
        part = part.strip().rstrip("…").strip()
        if part and part not in ("...", "et al.", "et al"):
            out.append(author_name(part))
    return out


# Mapping --------------------------------------------------------------------------------


class Plan:
    """Which columns feed which field, from the header row."""

    def __init__(self, header: Sequence[object]) -> None:
        self.names = _unique_names(header)
        keys = [key(h) if h is not None else "" for h in header]
        self.columns: dict[str, list[int]] = {}
        for field, names in COLUMN_NAMES.items():
            idx = [i for name in names for i, k in enumerate(keys) if k and k == key(name)]
            self.columns[field] = list(dict.fromkeys(idx))
        used = {i for idx in self.columns.values() for i in idx}
        self.unmapped = [self.names[i] for i in range(len(header)) if i not in used]
        lower = set(keys)
        if {"key", "itemtype", "publicationtitle"} <= lower:
            self.tool = "Zotero"
        elif "gsrank" in lower or {"cites", "citesurl"} <= lower:
            self.tool = "Publish or Perish"
        else:
            self.tool = None
        self.skipped = 0

    def is_reference(self, cells: Sequence[str | None]) -> bool:
        """False for a Zotero note, attachment or annotation exported as a row (not a
        reference; counted in :attr:`skipped`)."""
        if self.tool != "Zotero":
            return True
        kind = _pick(cells, self.columns["publication_type"][:1])
        if kind and kind.casefold() in _ZOTERO_NOT_REFERENCES:
            self.skipped += 1
            return False
        return True

    def name_columns(self, width: int) -> None:
        """Name the columns past the header's (``column N``) up to ``width``: their
        cells are kept in ``raw``."""
        while len(self.names) < width:
            self.names.append(f"column {len(self.names) + 1}")
            self.unmapped.append(self.names[-1])

    def describe(self) -> str:
        """The mapping, for the job's log."""
        mapped = [
            f"{self.names[i]}->{field}"
            for field, idx in self.columns.items()
            for i in idx
            if field not in ("url", "extra")
        ]
        parts = [f"columns {', '.join(mapped)}"]
        if self.skipped:
            parts.insert(0, f"{self.skipped} Zotero notes/attachments skipped (not references)")
        if self.unmapped:
            parts.append(f"kept only in raw: {', '.join(self.unmapped)}")
        return "; ".join(parts)


def _unique_names(header: Sequence[object]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(header, start=1):
        name = str(h).strip() if h is not None else ""
        name = name or f"column {i}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base} ({n})", n + 1
        seen.add(name)
        out.append(name)
    return out


def _pick(cells: Sequence[str | None], idx: list[int]) -> str | None:
    for i in idx:
        value = cells[i] if i < len(cells) else None
        if value:
            value = value.strip()
            if value and value not in EXCEL_ERRORS:
                return value
    return None


def _all(cells: Sequence[str | None], idx: list[int]) -> list[str]:
    out: list[str] = []
    for i in idx:
        value = cells[i] if i < len(cells) else None
        if value and value.strip() and value.strip() not in EXCEL_ERRORS:
            out.extend(p for p in _LIST_SPLIT_RE.split(value.strip()) if p)
    return out


def to_fields(cells: Sequence[str | None], plan: Plan) -> dict:
    """One row (cells as text, ``None`` when empty) as the fields of the records table."""
    col = plan.columns
    pages = _pick(cells, col["pages"])
    first_page = _pick(cells, col["first_page"])
    if not pages:
        pages = join_pages(first_page, _pick(cells, col["last_page"]))
    doi = _pick(cells, col["doi"])
    if not doi:
        url = _pick(cells, col["url"])
        match = _URL_DOI_RE.search(url) if url else None
        doi = match.group(1) if match else None
    pmid = _pick(cells, col["pmid"])
    if not pmid:
        extra = _pick(cells, col["extra"])
        match = _ZOTERO_PMID_RE.search(extra) if extra else None
        pmid = match.group(1) if match else None
    return {
        "title": _pick(cells, col["title"]),
        "authors": split_authors(_pick(cells, col["authors"])),
        "year": _pick(cells, col["year"]),
        "journal": _pick(cells, col["journal"]),
        "journal_abbrev": _pick(cells, col["journal_abbrev"]),
        "volume": _pick(cells, col["volume"]),
        "issue": _pick(cells, col["issue"]),
        "pages": pages,
        "first_page": first_page,
        "doi": doi,
        "pmid": pmid,
        "accession": _pick(cells, col["accession"]),
        "abstract": _pick(cells, col["abstract"]),
        "keywords": _all(cells, col["keywords"]),
        "publication_type": _all(cells, col["publication_type"]),
        "language": _pick(cells, col["language"]),
        "database": _pick(cells, col["database"]) or plan.tool,
        "raw": json.dumps(
            {n: v for n, v in zip(plan.names, cells, strict=False) if v and v.strip()},
            ensure_ascii=False,
        ),
    }


# CSV / TSV ------------------------------------------------------------------------------


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Every row of a CSV/TSV table with a title column as record fields."""
    found = find_header(text)
    if found is None:
        columns = table_without_title(text[:65536]) or _split(_lines(text, 1)[0][2], ",")
        raise no_title_error(path, columns)
    offset, header_line, delimiter = found
    reader = csv.reader(io.StringIO(text[offset:]), delimiter=delimiter, strict=True)
    header = [h.strip() for h in next(reader)]
    plan = Plan(header)
    width = len(header)
    base = header_line - 1
    records: list[dict] = []
    last: list[str] = []
    while True:
        number = len(records) + 1
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
                line=base + reader.line_num,
            ) from None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise InputError(
                path,
                f"{len(cells)} cells but {width} column names: columns would shift (is a "
                f"{_DELIMITER_NAMES.get(delimiter, delimiter)} inside a cell not quoted?)",
                record=number,
                line=base + reader.line_num,
            )
        row = [c or None for c in cells[:width]]
        if plan.is_reference(row):
            records.append(to_fields(row, plan))
        last = cells
    if records and len(last) < width and not text.endswith("\n"):
        raise InputError(
            path,
            f"the last row has {len(last)} of {width} cells and the file does not end "
            "with a line break: it may be cut short",
            record=len(records),
            line=base + reader.line_num,
        )
    log.info(
        "%s: %d rows (%s-delimited, header on line %d); %s",
        path,
        len(records),
        _DELIMITER_NAMES.get(delimiter, delimiter),
        header_line,
        plan.describe(),
    )
    return records
