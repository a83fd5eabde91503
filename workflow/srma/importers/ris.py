"""RIS exports: Cochrane CENTRAL, Embase (Elsevier and Ovid), Scopus, Web of Science,
CINAHL/EBSCO, ProQuest, PubMed via EndNote or Zotero, and reference managers.

Every dialect shares the line syntax ``XY  - value`` (two-character tag, two spaces,
a dash), ``TY`` opening and ``ER`` closing a record (RIS specification, Research
Information Systems 2011); text outside records (Cochrane's "Record #n of N" preamble,
Ovid's record numbers) is skipped. Lines that are not tag lines continue the value
above them.

The tag-level reading follows rispy's ``RisParser`` rule for what is a tag line
(``line[2:5] == "  -"``, upper-case letter first) and its record boundaries, and
``tests/test_import_ris.py`` checks that both give the same tags and values on every
real export. It is written out here, rather than calling ``rispy.load``, for three
reasons: rispy silently drops a last record without ``ER`` and records whose ``TY`` is
missing (srma must stop and name them); srma needs each record's original text and
line number; and the loop below, without rispy's per-line method calls, reads a
100,000-record file several times faster (``benchmarks/import_speed.py``).

Which tag holds which field differs by dialect; :func:`to_fields` maps them:
title ``TI``/``T1``, journal ``JF``/``T2``/``JO``, abbreviation ``J2``/``JA``/``JI``/``J9``,
DOI ``DO``/``M3``/``L3`` (or a ``doi.org`` link), abstract ``AB``/``N2``, PMID ``C5``
(Embase) / ``C2`` (Scopus) / ``AN`` (PubMed via EndNote), accession ``AN``, ``U2``
(Embase ``L...``), Scopus EID (from the ``eid=`` link) and Ovid's ``ID``.
"""

from __future__ import annotations

import re

from srma.errors import InputError

from .normalise import first, join_pages

DATABASE = "RIS"

_EID_RE = re.compile(r"eid=(2-s2\.0-\d+)")
_EMBASE_ID_RE = re.compile(r"^L\d{6,}$")
_OVID_NUMBER_RE = re.compile(r"^\d+\.\s*$", re.M)


def parse(text: str, path: object = "<text>") -> list[dict[str, list[str]]]:
    """Split RIS text into records, each a dict ``tag -> [values]`` in file order.

    A value's continuation lines are kept, stripped, after ``\\n``. The record's
    original text is under the key ``""`` and its first line number under ``"_line"``.
    Raises :class:`InputError` for a record without ``ER`` (truncated file) and for tag
    lines outside any record (a record without ``TY``).
    """
    records: list[dict[str, list[str]]] = []
    spans: list[list[int]] = []
    lines = text.split("\n")
    rec: dict[str, list[str]] | None = None
    values: list[str] = []
    start = 0
    for lineno, line in enumerate(lines):
        if line[2:5] == "  -" and line[:2].isupper() and line[:1].isalpha():
            tag = line[:2]
            if rec is None:
                if tag != "TY" and records:
                    # Ovid writes some tags (NL) after ER: they belong to the record
                    # above. rispy skips them; srma keeps them, listed under "_late".
                    last = records[-1]
                    last.setdefault(tag, []).append(line[6:].strip())
                    last.setdefault("_late", []).append(tag)
                    spans[-1][1] = lineno + 1
                    continue
                if tag != "TY":
                    raise InputError(
                        path,
                        f"tag {tag} outside a record: the record does not start with 'TY  -'",
                        record=len(records) + 1,
                        field=tag,
                        line=lineno + 1,
                    )
                rec = {"TY": [line[6:].strip()], "_line": [str(lineno + 1)]}
                start = lineno
                values = rec["TY"]
                continue
            if tag == "ER":
                records.append(rec)
                spans.append([start, lineno + 1])
                rec = None
                continue
            if tag == "TY":
                raise InputError(
                    path,
                    "a new record starts ('TY  -') before this one ended ('ER  -')",
                    record=len(records) + 1,
                    field="ER",
                    line=lineno + 1,
                )
            values = rec.get(tag)
            if values is None:
                rec[tag] = values = [line[6:].strip()]
            else:
                values.append(line[6:].strip())
        elif rec is not None:
            values[-1] = f"{values[-1]}\n{line.strip()}"
    if rec is not None:
        raise InputError(
            path,
            "the last record has no end tag 'ER  -': the file looks truncated",
            record=len(records) + 1,
            field="ER",
            line=int(rec["_line"][0]),
        )
    for rec, (begin, end) in zip(records, spans, strict=True):
        rec[""] = ["\n".join(lines[begin:end])]
    return records


def _one(rec: dict[str, list[str]], tag: str) -> str | None:
    values = rec.get(tag)
    if not values:
        return None
    value = values[0]
    return value.replace("\n", " ") if "\n" in value else value


def _lines(rec: dict[str, list[str]], *tags: str) -> list[str]:
    out: list[str] = []
    for tag in tags:
        for value in rec.get(tag, ()):
            out.extend(value.split("\n") if "\n" in value else (value,))
    return out


def _doi(rec: dict[str, list[str]]) -> str | None:
    for tag in ("DO", "DI", "M3", "L3", "N1", "UR", "L2"):
        for value in rec.get(tag, ()):
            low = value.lower()
            if tag in ("DO", "DI", "L3") and "10." in low:
                return value
            if tag in ("M3", "N1") and low.lstrip().startswith(("10.", "doi:")):
                return value
            if tag in ("UR", "L2") and "doi.org/10." in low:
                return value[low.index("doi.org/") + 8 :]
    return None


def to_fields(rec: dict[str, list[str]], *, ovid: bool = False) -> dict:
    """The normalised fields of one parsed RIS record.

    ``ovid``: the file is an Ovid RIS export (numbered records), whose ``ID`` is the
    database accession number (in EndNote's RIS, ``ID`` is EndNote's own record number).
    """
    url = " ".join([*rec.get("UR", ()), *rec.get("L2", ())])
    database = _one(rec, "DB")
    an = _one(rec, "AN")
    pmid = None
    accession = None
    if an and an.startswith("CN-"):
        database = database or "CENTRAL"
        accession = an
    elif an and an.startswith("WOS:"):
        database = database or "Web of Science"
        accession = an
    elif an and an.isdigit() and (_one(rec, "DP") or "").upper() == "NLM":
        database = database or "PubMed"
        pmid = an
    elif an:
        accession = an
    u2 = _one(rec, "U2")
    if "embase.com" in url or (u2 and _EMBASE_ID_RE.match(u2)):
        database = database or "Embase"
        pmid = pmid or _one(rec, "C5")
        if u2 and _EMBASE_ID_RE.match(u2):
            accession = accession or u2
    eid = _EID_RE.search(url)
    if "scopus.com" in url:
        database = database or "Scopus"
        c2 = _one(rec, "C2")
        pmid = pmid or (c2 if c2 and c2.isdigit() else None)
        accession = accession or (eid.group(1) if eid else None)
    if ovid:
        accession = accession or _one(rec, "ID")
    title = first(_one(rec, "TI"), _one(rec, "T1"), _one(rec, "CT"), _one(rec, "BT"))
    journal = first(_one(rec, "JF"), _one(rec, "T2"), _one(rec, "JO"), _one(rec, "J1"))
    abbrev = first(
        _one(rec, "J2"),
        _one(rec, "JA"),
        _one(rec, "JI"),
        _one(rec, "J9"),
        _one(rec, "JO") if _one(rec, "JO") != journal else None,
        _one(rec, "J1") if _one(rec, "J1") != journal else None,
    )
    sp = _one(rec, "SP")
    pages = join_pages(sp, _one(rec, "EP"))
    first_page = None
    if not pages:
        pages = first_page = _one(rec, "C7") or _one(rec, "AR")
    ptypes = [v for v in (_one(rec, "TY"), _one(rec, "M3"), _one(rec, "PT")) if v]
    ptypes = [v for v in ptypes if "10." not in v]
    return {
        "title": title,
        "authors": _lines(rec, "AU", "A1"),
        "year": first(_one(rec, "PY"), _one(rec, "Y1"), _one(rec, "DA")),
        "journal": journal,
        "journal_abbrev": abbrev,
        "volume": _one(rec, "VL"),
        "issue": _one(rec, "IS"),
        "pages": pages,
        "first_page": first_page,
        "doi": _doi(rec),
        "pmid": pmid,
        "accession": accession,
        "abstract": first(_one(rec, "AB"), _one(rec, "N2")),
        "keywords": _lines(rec, "KW"),
        "publication_type": ptypes,
        "language": _one(rec, "LA"),
        "database": database,
        "raw": rec[""][0],
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of a RIS export."""
    ovid = bool(_OVID_NUMBER_RE.search(text[:4096]))
    return [to_fields(rec, ovid=ovid) for rec in parse(text, path)]
