"""Ovid direct export ("Ovid fields", the ``.ovd``/``.cgi`` files of Ovid's Export).

Records are numbered blocks opened by ``<n. >``; each field is ``XX  - value`` with the
tag padded to four characters, and a value continues on the lines below it until the
next tag (indented or not, as Ovid wraps abstracts both ways). ``DB`` names the database
(``Embase``, ``Ovid MEDLINE(R)``, ``APA PsycInfo``); ``UI`` is the database's accession
number, which for Ovid MEDLINE is the PMID.
"""

from __future__ import annotations

import re

from srma.errors import InputError

from .normalise import first, initials_name, split_pages

DATABASE = "Ovid"

_START_RE = re.compile(r"^<(\d+)\. ?>\s*$")
_TAG_RE = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ")
# "Journal. Volume (Issue) (pages), Year." as in Ovid's SO field.
_SO_RE = re.compile(
    r"^(?P<journal>.+?)\.\s+(?P<volume>[^\s(]+)?\s*(?:\((?P<issue>[^)]*)\))?\s*"
    r"(?:\((?P<pages>[^)]*)\))?\s*,\s*(?P<year>\d{4})"
)


def parse(text: str, path: object = "<text>") -> list[dict[str, list[str]]]:
    """Records as dicts ``tag -> [values]`` (continuations joined by a space); the
    original text is under ``""``."""
    records: list[dict[str, list[str]]] = []
    lines = text.split("\n")
    rec: dict[str, list[str]] | None = None
    values: list[str] | None = None
    start = 0

    def close(end: int) -> None:
        while end > start and not lines[end - 1].strip():
            end -= 1
        rec[""] = ["\n".join(lines[start:end])]
        records.append(rec)

    for lineno, line in enumerate(lines):
        if _START_RE.match(line):
            if rec is not None:
                close(lineno)
            rec, values, start = {}, None, lineno
            continue
        match = _TAG_RE.match(line)
        if match:
            if rec is None:
                raise InputError(
                    path,
                    "field outside a record: records start with '<n. >'",
                    record=1,
                    field=match.group(1),
                    line=lineno + 1,
                )
            values = rec.setdefault(match.group(1), [])
            values.append(line[match.end() :].strip())
        elif line.strip():
            if values is None:
                raise InputError(
                    path,
                    f"text outside a field: {line[:40]!r}",
                    record=len(records) + (rec is not None),
                    line=lineno + 1,
                )
            values[-1] = f"{values[-1]} {line.strip()}".strip()
    if rec is not None:
        close(len(lines))
    return records


def to_fields(rec: dict[str, list[str]]) -> dict:
    """Normalised fields of one Ovid record."""

    def one(tag: str) -> str | None:
        values = rec.get(tag)
        return values[0] if values else None

    so = one("SO") or ""
    m = _SO_RE.match(so)
    parts = m.groupdict() if m else {}
    pages = one("PG") or parts.get("pages")
    if pages and "no pagination" in pages.lower():
        pages = None
    database = one("DB")
    ui = one("UI") or one("AN")
    medline = bool(database and "medline" in database.lower())
    pmid = one("PM") or (ui if medline else None)
    if pmid:
        pmid = re.sub(r"\D", "", pmid) or None
    return {
        "title": first(one("TI"), one("BT")),
        "authors": [initials_name(a) for a in rec.get("AU", [])] or rec.get("FA", []),
        "year": first(one("YR"), one("PY"), one("DP"), parts.get("year")),
        "journal": first(one("JN"), one("JT"), parts.get("journal")),
        "journal_abbrev": first(one("JA"), one("TA")),
        "volume": first(one("VO"), one("VL"), parts.get("volume")),
        "issue": first(one("IP"), one("NO"), parts.get("issue")),
        "pages": split_pages(pages)[0],
        "first_page": None,
        "doi": one("DO") or one("DI"),
        "pmid": pmid,
        "accession": None if medline else ui,
        "abstract": one("AB"),
        "keywords": rec.get("KW", []) + rec.get("MH", []),
        "publication_type": rec.get("PT", []),
        "language": first(one("LG"), one("LA")),
        "database": database,
        "raw": rec[""][0],
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of an Ovid direct export."""
    return [to_fields(rec) for rec in parse(text, path)]
