"""PubMed/MEDLINE format (``.nbib``, ``.txt``): PubMed's "Save > PubMed format".

Field tags are up to four letters padded to four characters, then ``- `` (``PMID- ``,
``AU  - ``); a value continues on lines indented by six spaces; records are separated by
a blank line (NLM, "MEDLINE/PubMed Data Element (Field) Descriptions").

Written by hand rather than with ``Bio.Medline``: srma needs the record's original text
and line numbers for its error messages, collective authors kept in author order, and
it must not depend on Biopython at run time. :func:`parse` is the one reader of MEDLINE
text; ``tests/test_import_real.py`` compares its fields with ``Bio.Medline`` on every
real export and ``benchmarks/import_speed.py`` the speed.
"""

from __future__ import annotations

import re
from itertools import chain

from srma.errors import InputError

from .normalise import FIELDS, initials_name

DATABASE = "PubMed"


_BLANK_RE = re.compile(r"\n[ \t]*(?:\n[ \t]*)*\n")
# A line that is neither a tag line, a 6-space continuation nor empty.
_BAD_LINE_RE = re.compile(r"\n(?![A-Z][A-Z0-9 ]{3}-|      |\n|\Z)")
#: Tags read for every record. Rarer fallbacks (``AU`` when there is no ``FAU``, ``BTI``
#: and ``TT`` without ``TI``, ``DEP`` without ``DP``) are looked up in the record's text
#: only when needed: every tag fewer here is fewer values to collect.
TAGS = (
    "PMID", "TI", "FAU", "CN", "DP", "JT", "TA", "VI", "IP", "PG", "LID", "AID", "AB",
    "OT", "MH", "PT", "LA",
)  # fmt: skip
# One tag line with its continuation lines; the leading "\n" lets the regex engine jump
# from line to line instead of trying every character.
# Possessive quantifiers (``*+``): a value never gives back characters, which spares the
# engine its backtracking bookkeeping (a third faster on PubMed exports).
_TAG_RE = re.compile(r"\n(" + "|".join(TAGS) + r") *- ?(.*+(?:\n      .*+)*+)")
# Lines found after a "\n" (the record's text is searched with one in front): the
# engine jumps from line to line, where "^" with re.M is tried at every character.
_AUTHOR_RE = re.compile(r"\n(FAU|AU|CN) *- ?(.*(?:\n      .*)*)")


def _lookup(raw: str, tag: str) -> list[str]:
    """Values of a tag not in :data:`TAGS`, from the record's original text."""
    return re.findall(r"\n" + tag + r" *- ?(.*(?:\n      .*)*)", "\n" + raw)


def parse(text: str, path: object = "<text>") -> list[dict]:
    """Split MEDLINE text into records, each a dict ``tag -> [values]`` for the tags in
    :data:`TAGS` (file order), the original text under ``""``.

    A value keeps its continuation lines (``\\n`` + six spaces + text). A second ``PMID`` in one
    block (records run together without a blank line) starts a new record. A line that
    is neither a tag line, a continuation nor blank stops the import with its line and
    record number.

    Speed: the whole text is checked for bad lines by one regular expression, records
    are cut at blank lines by ``str.split`` and each record's tag lines found by one
    ``findall`` (all C loops); a block with two PMIDs is read again line by line
    (:func:`_parse_lines`), which splits it.
    """
    return list(_records(text, path))


def _spaced(text: str, path: object) -> bool:
    """Check that every line is a tag line, a continuation or blank (:class:`InputError`
    naming the line and record otherwise); ``True`` when a line of spaces or tabs
    separates records (then ``str.split("\\n\\n")`` would miss it)."""
    spaced = False
    # The first line is checked on its own so that the text need not be copied.
    first = text[: text.find("\n") + 1 or len(text)]
    for bad in chain(_BAD_LINE_RE.finditer("\n" + first), _BAD_LINE_RE.finditer(text)):
        start = bad.start() + 1 if bad.string is text else 0
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.isspace():
            spaced = True
            continue
        before = text[:start]
        raise InputError(
            path,
            f"not a MEDLINE line (expected 'TAG - value' or a 6-space continuation): {line[:40]!r}",
            record=len([b for b in _BLANK_RE.split(before) if b.strip()]) or 1,
            line=before.count("\n") + 1,
        )
    return spaced


def _records(text: str, path: object):
    """The records of :func:`parse`, one at a time (see there)."""
    blocks = _BLANK_RE.split(text) if _spaced(text, path) else text.split("\n\n")
    findall = _TAG_RE.findall
    count = 0
    for number, block in enumerate(blocks):
        if not block or block.isspace():
            continue
        lined = "\n" + block
        # Built here: a third faster than a function call and dict.get per tag line.
        rec: dict[str, list[str]] = {"": [block.strip("\n")]}
        for tag, value in findall(lined):
            if tag in rec:
                rec[tag].append(value)
            else:
                rec[tag] = [value]
        # Every "PMID- " line is among the PMID values found: the block is searched
        # again only when there are two of them.
        if len(rec.get("PMID", ())) > 1 and lined.count("\nPMID- ") > 1:
            # Rare (records run together): line numbers only matter for messages.
            line_base = sum(b.count("\n") + 2 for b in blocks[:number])
            split = _parse_lines(block, path, count, line_base)
            count += len(split)
            yield from split
            continue
        count += 1
        yield rec


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
    return records


def _doi(ids: list[str]) -> str | None:
    """The ``LID``/``AID`` value marked ``[doi]`` (not ``[pii]``)."""
    for value in ids:
        value = value.rstrip()
        if value.endswith("[doi]"):
            return value[:-5]
    return None


def _authors(rec: dict[str, list[str]]) -> list[str]:
    """Authors in file order: full names (``FAU``) when given, else ``AU`` as
    ``Surname, Initials``; collective authors (``CN``) kept where they stand."""
    raw = rec[""][0]
    if "CN" not in rec:
        fau = rec.get("FAU")
        if fau:
            return fau
        return [initials_name(" ".join(a.split())) for a in _lookup(raw, "AU")]
    use_fau = "FAU" in rec
    out = []
    for tag, value in _AUTHOR_RE.findall("\n" + raw):
        if tag == "CN" or (tag == "FAU" and use_fau):
            out.append(value)
        elif tag == "AU" and not use_fau:
            out.append(initials_name(" ".join(value.split())))
    return out


def _row(r: dict[str, list[str]]) -> tuple:
    """One record's fields (order of :data:`_NAMES`) from its tag dict (:func:`parse`)."""
    raw = r[""][0]
    get = r.get
    title = get("TI")
    if title and title[0]:
        title = title[0]
    else:
        title = next(iter(_lookup(raw, "BTI") + _lookup(raw, "TT")), None)
    year = get("DP")
    year = year[0] if year and year[0] else next(iter(_lookup(raw, "DEP")), None)
    fau = get("FAU")
    lid, aid = get("LID"), get("AID")
    ot, mh = get("OT"), get("MH")
    return (
        title,
        fau if fau and "CN" not in r else _authors(r),
        year,
        v[0] if (v := get("JT")) else None,
        v[0] if (v := get("TA")) else None,
        v[0] if (v := get("VI")) else None,
        v[0] if (v := get("IP")) else None,
        v[0] if (v := get("PG")) else None,
        _doi(lid + aid if lid and aid else lid or aid or []),
        v[0] if (v := get("PMID")) else None,
        v[0] if (v := get("AB")) else None,
        ot + mh if ot and mh else ot or mh or [],
        get("PT") or [],
        v[0] if (v := get("LA")) else None,
        raw,
    )


_NAMES = (
    "title", "authors", "year", "journal", "journal_abbrev", "volume", "issue", "pages",
    "doi", "pmid", "abstract", "keywords", "publication_type", "language", "raw",
)  # fmt: skip


def _columns(rows: list[tuple]) -> dict[str, list]:
    """One tuple per record (:data:`_NAMES`) -> one list per field of ``FIELDS``."""
    n = len(rows)
    # One tuple per record, turned into columns by zip (a C loop).
    columns = list(map(list, zip(*rows, strict=True))) if rows else [[] for _ in _NAMES]
    out = dict(zip(_NAMES, columns, strict=True))
    for name in ("database", "first_page", "accession"):
        out[name] = [None] * n
    return {name: out[name] for name in FIELDS}


def read(text: str, path: object = "<text>", fmt: str | None = None) -> dict[str, list]:
    """The fields of every record of a MEDLINE export, as columns (one list per field
    of :data:`srma.importers.normalise.FIELDS`; values keep their continuation lines,
    which :func:`srma.importers.normalise.build_table` joins with one space).

    Any layout: lines of spaces between records, records run together (split at the
    second ``PMID``); a bad line is named by its line and record (:func:`parse`).
    """
    return _columns([_row(r) for r in _records(text, path)])
