"""PubMed/MEDLINE format (``.nbib``, ``.txt``): PubMed's "Save > PubMed format".

Field tags are up to four letters padded to four characters, then ``- `` (``PMID- ``,
``AU  - ``); a value continues on lines indented by six spaces; records are separated by
a blank line (NLM, "MEDLINE/PubMed Data Element (Field) Descriptions").

Written by hand rather than with ``Bio.Medline``: srma needs the record's original text
and line numbers for its error messages, collective authors kept in author order, and
it must not depend on Biopython at run time. ``benchmarks/import_speed.py`` compares its
speed with ``Bio.Medline`` and ``tests/test_import_medline.py`` its fields.
"""

from __future__ import annotations

from srma.errors import InputError

from .normalise import first, initials_name, normalise_doi

DATABASE = "PubMed"


def parse(text: str, path: object = "<text>") -> list[dict[str, list[str]]]:
    """Split MEDLINE text into records, each a dict ``tag -> [values]`` in file order.

    Continuation lines are joined to their value with one space. The record's original
    text is under the key ``""`` (one-element list); author tags (``FAU``, ``AU``, ``CN``)
    are also kept in their common order under ``"_authors"`` as ``tag\\tvalue``.
    A second ``PMID`` in one block (records run together without a blank line) starts a
    new record.
    """
    records: list[dict[str, list[str]]] = []
    lines = text.split("\n")
    rec: dict[str, list[str]] | None = None
    authors: list[str] = []
    start = 0
    values: list[str] | None = None
    for lineno, line in enumerate(lines):
        if not line or line.isspace():
            if rec is not None:
                rec[""] = ["\n".join(lines[start:lineno])]
                records.append(rec)
                rec = None
            continue
        if line[4:6] == "- " or (line[4:5] == "-" and len(line.rstrip()) == 5):
            tag = line[:4].rstrip()
            if rec is None or (tag == "PMID" and "PMID" in rec):
                if rec is not None:
                    rec[""] = ["\n".join(lines[start:lineno])]
                    records.append(rec)
                rec = {"_authors": []}
                authors = rec["_authors"]
                start = lineno
            value = line[6:].rstrip()
            values = rec.get(tag)
            if values is None:
                rec[tag] = values = [value]
            else:
                values.append(value)
            if tag == "AU" or tag == "FAU" or tag == "CN":
                authors.append(f"{tag}\t{value}")
        elif line.startswith("      ") and rec is not None and values is not None:
            values[-1] = f"{values[-1]} {line.strip()}" if values[-1] else line.strip()
            if authors and authors[-1].startswith(f"{tag}\t"):
                authors[-1] = f"{authors[-1]} {line.strip()}"
        else:
            raise InputError(
                path,
                f"not a MEDLINE line (expected 'TAG - value' or a 6-space continuation): "
                f"{line[:40]!r}",
                record=len(records) + 1,
                line=lineno + 1,
            )
    if rec is not None:
        rec[""] = ["\n".join(lines[start:])]
        records.append(rec)
    return records


def _get(rec: dict[str, list[str]], tag: str) -> str | None:
    values = rec.get(tag)
    return values[0] if values else None


def _doi(rec: dict[str, list[str]]) -> str | None:
    for tag in ("LID", "AID"):
        for value in rec.get(tag, ()):
            if value.endswith("[doi]"):
                return normalise_doi(value[:-5])
    return None


def to_fields(rec: dict[str, list[str]]) -> dict:
    """The normalised fields of one parsed MEDLINE record."""
    entries = rec["_authors"]
    has_fau = any(e.startswith("FAU\t") for e in entries)
    authors = []
    for entry in entries:
        tag, _, value = entry.partition("\t")
        if tag == "CN" or (tag == "FAU" if has_fau else tag == "AU"):
            authors.append(value if tag != "AU" else initials_name(value))
    keywords = rec.get("OT", []) + rec.get("MH", [])
    return {
        "title": first(_get(rec, "TI"), _get(rec, "BTI"), _get(rec, "TT")),
        "authors": authors,
        "year": _get(rec, "DP") or _get(rec, "DEP"),
        "journal": _get(rec, "JT"),
        "journal_abbrev": _get(rec, "TA"),
        "volume": _get(rec, "VI"),
        "issue": _get(rec, "IP"),
        "pages": _get(rec, "PG"),
        "doi": _doi(rec),
        "pmid": _get(rec, "PMID"),
        "accession": None,
        "abstract": _get(rec, "AB"),
        "keywords": keywords,
        "publication_type": rec.get("PT", []),
        "language": _get(rec, "LA"),
        "database": None,
        "raw": rec[""][0],
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of a MEDLINE export."""
    return [to_fields(rec) for rec in parse(text, path)]
