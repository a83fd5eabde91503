"""EndNote tagged ("Refer"/``%0``) format: one ``%X value`` line per field, records
separated by blank lines (EndNote's "EndNote Export" output style; not every record
has a ``%0`` type line, so the blank line, not ``%0``, separates records).

Tags used: ``%0`` type, ``%A`` author, ``%T`` title, ``%J`` journal, ``%B`` secondary
title, ``%D`` year, ``%V`` volume, ``%N`` issue, ``%P`` pages, ``%R`` DOI, ``%M``
accession, ``%X`` abstract, ``%K`` keywords (one per line), ``%G`` language,
``%!`` short title. Lines without a tag continue the field above.
"""

from __future__ import annotations

from srma.errors import InputError

from .normalise import first

DATABASE = "EndNote"


def parse(text: str, path: object = "<text>") -> list[dict[str, list[str]]]:
    """Records as dicts ``tag -> [values]`` (continuation lines after ``\\n``); the
    original text is under ``""``."""
    records: list[dict[str, list[str]]] = []
    lines = text.split("\n")
    rec: dict[str, list[str]] | None = None
    values: list[str] | None = None
    start = 0
    for lineno, line in enumerate(lines):
        if not line.strip():
            if rec is not None:
                rec[""] = ["\n".join(lines[start:lineno])]
                records.append(rec)
                rec, values = None, None
            continue
        if line[:1] == "%" and len(line) >= 2 and (len(line) == 2 or line[2] == " "):
            if rec is None:
                rec, start = {}, lineno
            values = rec.setdefault(line[1], [])
            values.append(line[3:].strip())
        elif values is not None:
            values[-1] = f"{values[-1]}\n{line.strip()}"
        else:
            raise InputError(
                path,
                f"not an EndNote tagged line ('%X value'): {line[:40]!r}",
                record=len(records) + 1,
                line=lineno + 1,
            )
    if rec is not None:
        rec[""] = ["\n".join(lines[start:])]
        records.append(rec)
    return records


def to_fields(rec: dict[str, list[str]]) -> dict:
    """Normalised fields of one EndNote tagged record."""

    def one(tag: str) -> str | None:
        values = rec.get(tag)
        return values[0].replace("\n", " ") if values else None

    accession = one("M")
    pmid = accession if accession and accession.isdigit() and len(accession) <= 8 else None
    return {
        "title": first(one("T"), one("!")),
        "authors": rec.get("A", []),
        "year": first(one("D"), one("8")),
        "journal": first(one("J"), one("B")),
        "journal_abbrev": None,
        "volume": one("V"),
        "issue": one("N"),
        "pages": one("P"),
        "first_page": None,
        "doi": one("R"),
        "pmid": pmid,
        "accession": None if pmid else accession,
        "abstract": one("X"),
        "keywords": [k for v in rec.get("K", []) for k in v.split("\n")],
        "publication_type": rec.get("0", []),
        "language": one("G"),
        "database": None,
        "raw": rec[""][0],
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of an EndNote tagged export."""
    return [to_fields(rec) for rec in parse(text, path)]
