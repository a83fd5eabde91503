"""Field normalisation shared by every importer, and the records table itself.

Each format module turns its records into plain dicts with the keys of
:data:`FIELDS`; :func:`build_table` checks them and makes the records table of
``docs/data-model.md`` section 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from operator import itemgetter

import pandas as pd
import pyarrow as pa

from srma.errors import InputError

#: Columns of the records table, in order (docs/data-model.md section 1).
COLUMNS = (
    "record_id",
    "export",
    "position",
    "source_file",
    "format",
    "database",
    "title",
    "authors",
    "first_author",
    "year",
    "journal",
    "journal_abbrev",
    "volume",
    "issue",
    "pages",
    "first_page",
    "doi",
    "pmid",
    "accession",
    "abstract",
    "keywords",
    "publication_type",
    "language",
    "raw",
)

#: Fields a format module fills for each record (the rest are set when the table is built).
FIELDS = tuple(
    c
    for c in COLUMNS
    if c not in ("record_id", "export", "position", "source_file", "format", "first_author")
)
LIST_FIELDS = ("authors", "keywords", "publication_type")
TEXT_DTYPE = pd.ArrowDtype(pa.string())
#: Arrow schema of the records table (docs/data-model.md section 1).
RECORDS_SCHEMA = pa.schema(
    [
        (
            name,
            pa.int64()
            if name == "position"
            else pa.int32()
            if name == "year"
            else pa.list_(pa.string())
            if name in ("authors", "keywords", "publication_type")
            else pa.string(),
        )
        for name in COLUMNS
    ]
)
TEXT_FIELDS = tuple(f for f in COLUMNS if f not in LIST_FIELDS + ("position", "year"))

_DOI_RE = re.compile(r"10\.\d{4,9}/\S+")
_CENTURIES = frozenset(("15", "16", "17", "18", "19", "20"))
_YEAR_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_SPACE_RE = re.compile(r"\s+")
_DIGITS_RE = re.compile(r"\d+")
_DASH_RE = re.compile(r"\s*[-\u2010-\u2015]\s*")


def clean(value: object) -> str | None:
    """Trimmed text; text with line breaks or tabs has each run of whitespace made one
    space (continuation lines joined); ``None`` when empty."""
    if not value:
        return None
    text = value if value.__class__ is str else str(value)
    if "\t" in text or "\r" in text:
        # str.split() splits on every run of (Unicode) whitespace, in C.
        return " ".join(text.split()) or None
    if "\n" in text:
        # Continuation lines: each line trimmed, blank ones dropped, joined by a space
        # (about four times faster than splitting on every space).
        return " ".join(filter(None, map(str.strip, text.split("\n")))) or None
    return text.strip() or None


def normalise_doi(value: str | None) -> str | None:
    """DOI in lower case without resolver prefix (``https://doi.org/``, ``dx.doi.org``,
    ``doi:``), without PubMed's `` [doi]`` suffix and trailing punctuation.

    A DOI is ``10.<registrant>/<suffix>`` (DOI Handbook, section 2.2); anything without
    that shape gives ``None``. URL-encoded slashes (``%2F``) are decoded.
    """
    if not value:
        return None
    text = value.strip().lower()
    if "%2f" in text:
        text = text.replace("%2f", "/")
    match = _DOI_RE.search(text)
    if match is None:
        return None
    doi = match.group(0)
    if doi.endswith("[doi]"):
        doi = doi[:-5]
    return doi.rstrip(".,;)]") or None


def extract_year(value: str | None) -> int | None:
    """First plausible year (1500-2099) in a date field such as ``2016 Jan 15`` or
    ``2019///``."""
    if not value:
        return None
    head = value[:4]
    if head.isdigit() and head[:2] in _CENTURIES and not value[4:5].isdigit():
        return int(head)
    match = _YEAR_RE.search(value)
    return int(match.group(1)) if match else None


def split_pages(pages: str | None) -> tuple[str | None, str | None]:
    """``(pages as printed, first page)``; the first page is the part before the first
    dash, e.g. ``1328-35`` -> ``1328``, ``e12292`` -> ``e12292``."""
    pages = clean(pages)
    if pages is None:
        return None, None
    if pages.isascii():
        first = pages.split("-", 1)[0].strip()
    else:
        first = _DASH_RE.split(pages, maxsplit=1)[0].strip()
    return pages, (first or None)


def join_pages(start: str | None, end: str | None) -> str | None:
    """``SP``/``EP``-style start and end page printed as ``start-end``."""
    start = clean(start)
    end = clean(end) if end else None
    if start and end and end != start and "-" not in start:
        return f"{start}-{end}"
    return start or end


def surname(author: str) -> str:
    """Surname of an author written ``Surname, Given``; a name without a comma (a
    collective author, or ``Surname Initials`` when it could not be split) is returned
    whole or without its trailing initials."""
    head, sep, _ = author.partition(",")
    if sep:
        return head.strip()
    parts = author.split()
    if (
        len(parts) > 1
        and parts[-1].replace(".", "").replace("-", "").isupper()
        and len(parts[-1].replace(".", "")) <= 3
    ):
        return " ".join(parts[:-1])
    return author.strip()


def initials_name(author: str) -> str:
    """``Maksymowych WP`` / ``Liu R.`` / ``Adler D.G.`` -> ``Surname, Initials``.

    PubMed's ``AU`` and Embase's ``Author Names`` write the surname first and the
    initials last without a comma (NLM citation style). Names whose last word does not
    look like initials are returned unchanged.
    """
    author = author.strip()
    if "," in author:
        return author
    parts = author.split()
    if len(parts) > 1:
        last = parts[-1].replace(".", "").replace("-", "")
        if last.isalpha() and last.isupper() and len(last) <= 4:
            return f"{' '.join(parts[:-1])}, {parts[-1]}"
    return author


def unique(values: Iterable[str | None]) -> list[str]:
    """Non-empty cleaned values, first occurrence kept, order kept."""
    seen: dict[str, None] = {}
    for value in values:
        value = clean(value)
        if value and value not in seen:
            seen[value] = None
    return list(seen)


def first(*values: str | None) -> str | None:
    """First non-empty value, cleaned."""
    for value in values:
        value = clean(value)
        if value:
            return value
    return None


def digits(value: str | None) -> str | None:
    """The first run of digits of ``value`` (PMIDs printed as ``12345 [pmid]``)."""
    if not value:
        return None
    if value.isdigit():
        return value
    match = _DIGITS_RE.search(value)
    return match.group(0) if match else None


def check_decoded(path: object, position: int, rec: dict) -> None:
    """Stop on text that was not valid UTF-8 (kept as lone surrogates on reading).

    Raises :class:`InputError` naming the record and the field.
    """
    raw = rec.get("raw") or ""
    if not _has_surrogate(raw):
        return
    field = "raw"
    for name in FIELDS:
        value = rec.get(name)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and _has_surrogate(v) for v in values):
            field = name
            break
    bad = next(ch for ch in raw if "\udc80" <= ch <= "\udcff")
    raise InputError(
        path,
        f"text is not UTF-8 (byte 0x{ord(bad) - 0xDC00:02X}); re-export the file as "
        "UTF-8, or convert it first, e.g. `iconv -f latin1 -t utf-8`",
        record=position,
        field=field,
    )


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _clean_list(values: Sequence[str] | None) -> list[str]:
    """Cleaned non-empty items (see :func:`clean`), order kept."""
    if not values:
        return []
    joined = "".join(values)
    if "\n" in joined or "\t" in joined or "\r" in joined:
        return [v for v in map(clean, values) if v]
    stripped = list(map(str.strip, values))
    return stripped if all(stripped) else list(filter(None, stripped))


def _all_none(column: Sequence) -> bool:
    """Whether every value of a column is ``None``. ``list.count(None)`` compares each
    text with ``None`` the slow way (rich comparison); a column with a value usually
    has one first, and one of ``None`` only is counted by identity."""
    return not column or (column[0] is None and column.count(None) == len(column))


def _map(fn, column: Sequence) -> list:
    """``fn`` applied to each value of a column; a column of ``None`` only is copied."""
    if _all_none(column):
        return list(column)
    return list(map(fn, column))


def _year(value: object) -> int | None:
    return value if value is None or isinstance(value, int) else extract_year(value)


def _first_author(authors: list[str]) -> str | None:
    return surname(authors[0]) if authors else None


_ROW = itemgetter(*FIELDS)


def build_table(
    records: Sequence[dict] | dict[str, Sequence],
    *,
    path: object,
    export: str,
    fmt: str,
    database: str | None,
    default_database: str,
    check_encoding: bool = True,
) -> pd.DataFrame:
    """The records table for one export, from one dict of fields per record (keys
    :data:`FIELDS`) or from one list per field.

    ``database``: the one given (config) wins over the record's own, which wins over the
    format's ``default_database``. Each record must carry a title, an identifier (DOI,
    PMID, accession) or where it was published (journal, volume, pages); one with none
    of them cannot be traced and stops the import.
    ``check_encoding``: look for bytes that were not UTF-8 (pass ``False`` only when the
    whole text is known to be clean).

    Text columns hold ``str`` or ``None`` (object dtype: building Arrow-backed string
    columns here would copy every record's text once more; Parquet stores them as
    strings; a column with no value at all is typed ``string``); list columns hold
    Python lists. Written with :data:`RECORDS_SCHEMA`, every column has its contract
    type even when a list column holds only empty lists. Work is done
    column by column with ``map`` (C loops calling the cleaning functions).
    """
    if isinstance(records, dict):
        raw_cols = records
        n = len(raw_cols["raw"])
        rows_of = (  # one dict per record, only for the rare encoding check
            {name: raw_cols[name][i] for name in FIELDS} for i in range(n)
        )
    else:
        n = len(records)
        rows_of = iter(records)
    if n == 0:
        raise InputError(path, f"no {fmt} records found in a non-empty file")
    if check_encoding:
        for i, rec in enumerate(rows_of):
            check_decoded(path, i + 1, rec)
    if not isinstance(records, dict):
        try:
            rows = list(map(_ROW, records))
        except KeyError:
            rows = [tuple(rec.get(name) for name in FIELDS) for rec in records]
        raw_cols = dict(zip(FIELDS, zip(*rows, strict=True), strict=True))
    title = _map(clean, raw_cols["title"])
    doi = _map(normalise_doi, raw_cols["doi"])
    pmid = _map(digits, raw_cols["pmid"])
    accession = _map(clean, raw_cols["accession"])
    for i, ids in enumerate(zip(title, doi, pmid, accession, strict=True)):
        # A record without a title or identifier is kept when it names where it was
        # published (journal, volume or pages: an EndNote entry whose title was left
        # empty); deduplication never merges it and lists it for a person. With
        # nothing to check it against, it stops the import.
        if not (ids[0] or ids[1] or ids[2] or ids[3]) and not (
            clean(raw_cols["journal"][i]) or clean(raw_cols["volume"][i])
            or clean(raw_cols["pages"][i])
        ):  # fmt: skip
            raise InputError(
                path,
                "record has no title, no DOI, PMID or accession, and no journal, volume or "
                "pages: it cannot be traced",
                record=i + 1,
                field="title",
            )
    authors = list(map(_clean_list, raw_cols["authors"]))
    given = clean(database)
    if given:
        dbs = [given] * n
    else:
        dbs = [d or default_database for d in _map(clean, raw_cols["database"])]
    pages_first = list(map(split_pages, raw_cols["pages"]))
    first_page = [pf[1] for pf in pages_first]
    given_first = raw_cols["first_page"]
    if not _all_none(given_first):
        first_page = [clean(fp) or pf for fp, pf in zip(given_first, first_page, strict=True)]
    cols: dict[str, list] = {
        "database": dbs,
        "title": title,
        "authors": authors,
        "first_author": list(map(_first_author, authors)),
        "year": list(map(_year, raw_cols["year"])),
        "pages": [pf[0] for pf in pages_first],
        "first_page": first_page,
        "doi": doi,
        "pmid": pmid,
        "accession": accession,
        "keywords": list(map(_clean_list, raw_cols["keywords"])),
        "publication_type": list(map(_clean_list, raw_cols["publication_type"])),
        "raw": list(raw_cols["raw"]),
    }
    for name in ("journal", "journal_abbrev", "volume", "issue", "abstract", "language"):
        cols[name] = _map(clean, raw_cols[name])
    year_c = cols["year"]

    data: dict[str, object] = {
        "record_id": pd.Series([f"{export}:{p:06d}" for p in range(1, n + 1)], dtype=object),
        "export": pd.Series([export] * n, dtype=object),
        "position": pd.Series(range(1, n + 1), dtype="int64"),
        "source_file": pd.Series([str(path)] * n, dtype=object),
        "format": pd.Series([fmt] * n, dtype=object),
    }
    for name in COLUMNS[5:]:
        values = cols[name]
        if name == "year":
            data[name] = pd.array(year_c, dtype="Int32")
        elif name in LIST_FIELDS:
            data[name] = pd.Series(values, dtype=object)
        elif _all_none(values):
            data[name] = pd.Series(values, dtype=TEXT_DTYPE)  # typed even when empty
        else:
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, columns=list(COLUMNS))
