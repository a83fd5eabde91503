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

import re

from srma.errors import InputError

from .normalise import initials_name, normalise_doi

DATABASE = "PubMed"


_BLANK_RE = re.compile(r"\n[ \t]*(?:\n[ \t]*)*\n")
_SPACE_LINE_RE = re.compile(r"\n[ \t]+\n")
# A line that is neither a tag line, a 6-space continuation nor blank.
_BAD_LINE_RE = re.compile(r"\n(?![A-Z][A-Z0-9 ]{3}-|      |\n|\Z|[ \t]+(?:\n|\Z))")
#: Tags read for every record. Rarer fallbacks (``AU`` when there is no ``FAU``, ``BTI``
#: and ``TT`` without ``TI``, ``DEP`` without ``DP``) are looked up in the record's text
#: only when needed: every tag fewer here is fewer values to collect.
TAGS = (
    "PMID", "TI", "FAU", "CN", "DP", "JT", "TA", "VI", "IP", "PG", "LID", "AID", "AB",
    "OT", "MH", "PT", "LA",
)  # fmt: skip
# One tag line with its continuation lines; the leading "\n" lets the regex engine jump
# from line to line instead of trying every character.
_TAG_RE = re.compile(r"\n(" + "|".join(TAGS) + r") *- ?(.*(?:\n      .*)*)")
_AUTHOR_RE = re.compile(r"^(FAU|AU|CN) *- ?(.*(?:\n      .*)*)", re.M)


def _lookup(raw: str, tag: str) -> list[str]:
    """Values of a tag not in :data:`TAGS`, from the record's original text."""
    return re.findall(r"^" + tag + r" *- ?(.*(?:\n      .*)*)", raw, re.M)


def parse(text: str, path: object = "<text>") -> list[dict]:
    """Split MEDLINE text into records (see :func:`_record` for their keys), reading the
    tags in :data:`TAGS`, in file order.

    A value keeps its continuation lines (``\\n`` + six spaces + text). A second ``PMID`` in one
    block (records run together without a blank line) starts a new record. A line that
    is neither a tag line, a continuation nor blank stops the import with its line and
    record number.

    Speed: the whole text is checked for bad lines by one regular expression, records
    are cut at blank lines by ``str.split`` and each record's tag lines found by one
    ``findall`` (all C loops); a block with two PMIDs is read again line by line
    (:func:`_parse_lines`), which splits it.
    """
    bad = _BAD_LINE_RE.search("\n" + text)
    if bad:
        before = text[: bad.start()]
        line = text[bad.start() :].split("\n", 1)[0]
        raise InputError(
            path,
            f"not a MEDLINE line (expected 'TAG - value' or a 6-space continuation): {line[:40]!r}",
            record=len([b for b in _BLANK_RE.split(before) if b.strip()]) or 1,
            line=before.count("\n") + 1,
        )
    multi = _SPACE_LINE_RE.search(text)
    blocks = _BLANK_RE.split(text) if multi else text.split("\n\n")
    records: list[dict] = []
    findall = _TAG_RE.findall
    for number, block in enumerate(blocks):
        if not block or block.isspace():
            continue
        lined = "\n" + block
        if lined.count("\nPMID- ") > 1:
            # Rare (records run together): line numbers only matter for messages.
            line_base = sum(b.count("\n") + 2 for b in blocks[:number])
            records.extend(_parse_lines(block, path, len(records), line_base))
            continue
        records.append(_record(findall(lined), block.strip("\n")))
    return records


def _record(pairs: list[tuple[str, str]], raw: str) -> dict:
    """A record from its ``(tag, value)`` pairs in file order: each tag's first value
    under the tag; the repeated tags as lists under ``_fau``, ``_keywords`` (``OT``,
    ``MH``), ``_types`` (``PT``), ``_ids`` (``LID``, ``AID``); the original text
    under ``""``. (``dict`` and list comprehensions instead of a loop over the pairs.)"""
    rec = dict(reversed(pairs))
    rec["_fau"] = [v for t, v in pairs if t == "FAU"]
    rec["_keywords"] = [v for t, v in pairs if t == "OT" or t == "MH"]
    rec["_types"] = [v for t, v in pairs if t == "PT"]
    rec["_ids"] = [v for t, v in pairs if t == "LID" or t == "AID"]
    rec[""] = raw
    return rec


def _parse_lines(
    text: str, path: object, record_base: int, line_base: int
) -> list[dict[str, list]]:
    """Line-by-line reading of one block of MEDLINE text (see :func:`parse`)."""
    records: list[dict[str, list]] = []
    lines = text.split("\n")
    rec: dict[str, list] | None = None
    start = 0
    values: list[str] | None = None
    for lineno, line in enumerate(lines):
        if not line or line.isspace():
            continue
        if line[4:6] == "- " or (line[4:5] == "-" and len(line.rstrip()) == 5):
            tag = line[:4].rstrip()
            if rec is None or (tag == "PMID" and "PMID" in rec):
                if rec is not None:
                    rec[""] = ["\n".join(lines[start:lineno]).strip("\n")]
                    records.append(rec)
                rec = {}
                start = lineno
            value = line[6:].rstrip()
            values = rec.get(tag)
            if values is None:
                rec[tag] = values = [value]
            else:
                values.append(value)
        elif line.startswith("      ") and rec is not None and values is not None:
            values[-1] = f"{values[-1]} {line.strip()}" if values[-1] else line.strip()
        else:
            raise InputError(
                path,
                f"not a MEDLINE line (expected 'TAG - value' or a 6-space continuation): "
                f"{line[:40]!r}",
                record=record_base + len(records) + 1,
                line=line_base + lineno + 1,
            )
    if rec is not None:
        rec[""] = ["\n".join(lines[start:]).strip("\n")]
        records.append(rec)
    return [_record(_pairs(rec), rec[""][0]) for rec in records]


def _pairs(rec: dict[str, list[str]]) -> list[tuple[str, str]]:
    # Order between different tags only matters for OT/MH and LID/AID, kept per tag.
    return [(tag, value) for tag, values in rec.items() if tag for value in values]


def _doi(rec: dict) -> str | None:
    for value in rec["_ids"]:
        value = value.rstrip()
        if value.endswith("[doi]"):
            return normalise_doi(value[:-5])
    return None


def _authors(rec: dict) -> list[str]:
    """Authors in file order: full names (``FAU``) when given, else ``AU`` as
    ``Surname, Initials``; collective authors (``CN``) kept where they stand."""
    if "CN" not in rec:
        fau = rec["_fau"]
        if fau:
            return fau
        return [initials_name(" ".join(a.split())) for a in _lookup(rec[""], "AU")]
    use_fau = bool(rec["_fau"])
    out = []
    for tag, value in _AUTHOR_RE.findall(rec[""]):
        if tag == "CN" or (tag == "FAU" and use_fau):
            out.append(value)
        elif tag == "AU" and not use_fau:
            out.append(initials_name(" ".join(value.split())))
    return out


def to_fields(rec: dict) -> dict:
    """The fields of one parsed MEDLINE record. Values keep their continuation lines;
    :func:`srma.importers.normalise.build_table` joins them with one space."""
    get = rec.get
    raw = rec[""]
    title = get("TI")
    if not title:
        title = next(iter(_lookup(raw, "BTI") + _lookup(raw, "TT")), None)
    year = get("DP")
    if not year:
        year = next(iter(_lookup(raw, "DEP")), None)
    return {
        "title": title,
        "authors": _authors(rec),
        "year": year,
        "journal": get("JT"),
        "journal_abbrev": get("TA"),
        "volume": get("VI"),
        "issue": get("IP"),
        "pages": get("PG"),
        "first_page": None,
        "doi": _doi(rec),
        "pmid": get("PMID"),
        "accession": None,
        "abstract": get("AB"),
        "keywords": rec["_keywords"],
        "publication_type": rec["_types"],
        "language": get("LA"),
        "database": None,
        "raw": raw,
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of a MEDLINE export."""
    return [to_fields(rec) for rec in parse(text, path)]
