"""Cochrane Library plain-text export (CENTRAL "Export selected > Plain text").

Each record opens with ``Record #n of N``; fields are ``XX: value`` lines (``ID`` the
CENTRAL accession ``CN-...``, ``AU`` one per author, ``TI``, ``SO`` source, ``YR``,
``VL``, ``NO`` issue, ``PG``, ``PM`` ``PUBMED <pmid>``, ``XR`` other databases'
identifiers, ``PT``, ``KY`` keywords separated by ``;``, ``DOI``, ``AB``). Lines without
a tag continue the field above.
"""

from __future__ import annotations

import re

from srma.errors import InputError

from .normalise import first

DATABASE = "CENTRAL"

_START_RE = re.compile(r"^Record #(\d+) of (\d+)\s*$")
_TAG_RE = re.compile(r"^([A-Z]{2,3}):(?: |$)")


def parse(text: str, path: object = "<text>") -> list[dict[str, list[str]]]:
    """Records as dicts ``tag -> [values]``; the original text under ``""``. The
    ``Record #n of N`` numbers must run 1, 2, ... (a gap means a record is missing)."""
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
        m = _START_RE.match(line)
        if m:
            if rec is not None:
                close(lineno)
            number = int(m.group(1))
            rec, values, start = {"_number": [m.group(1)]}, None, lineno
            if records and number != int(records[-1]["_number"][0]) + 1:
                raise InputError(
                    path,
                    f"'Record #{number}' follows 'Record #{records[-1]['_number'][0]}': "
                    "a record is missing",
                    record=len(records) + 1,
                    line=lineno + 1,
                )
            continue
        t = _TAG_RE.match(line)
        if t and rec is not None:
            values = rec.setdefault(t.group(1), [])
            values.append(line[t.end() :].strip())
        elif line.strip():
            if rec is None or values is None:
                if rec is None and not records:
                    continue  # header text above the first record
                raise InputError(
                    path,
                    f"text outside a field: {line[:40]!r}",
                    record=len(records) + 1,
                    line=lineno + 1,
                )
            values[-1] = f"{values[-1]} {line.strip()}".strip()
    if rec is not None:
        close(len(lines))
    return records


def to_fields(rec: dict[str, list[str]]) -> dict:
    """Normalised fields of one Cochrane plain-text record."""

    def one(tag: str) -> str | None:
        values = rec.get(tag)
        return values[0] if values else None

    keywords = [k.strip() for v in rec.get("KY", []) for k in v.split(";") if k.strip()]
    pm = one("PM") or ""
    pmid = re.search(r"\d+", pm)
    return {
        "title": one("TI"),
        "authors": rec.get("AU", []),
        "year": one("YR"),
        "journal": one("SO"),
        "journal_abbrev": None,
        "volume": one("VL"),
        "issue": one("NO"),
        "pages": one("PG"),
        "first_page": None,
        "doi": first(one("DOI"), one("DO")),
        "pmid": pmid.group(0) if pmid else None,
        "accession": one("ID"),
        "abstract": one("AB"),
        "keywords": keywords,
        "publication_type": [p.strip() for v in rec.get("PT", []) for p in v.split(";")],
        "language": one("LA"),
        "database": "CENTRAL",
        "raw": rec[""][0],
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of a Cochrane Library plain-text export."""
    return [to_fields(rec) for rec in parse(text, path)]
