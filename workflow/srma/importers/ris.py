"""RIS exports: Cochrane CENTRAL, Embase (Elsevier and Ovid), Scopus, Web of Science,
CINAHL/EBSCO, ProQuest, PubMed via EndNote or Zotero, and reference managers.

Every dialect shares the line syntax ``XY  - value`` (two-character tag, two spaces,
a dash), ``TY`` opening and ``ER`` closing a record (RIS specification, Research
Information Systems 2011); text outside records (Cochrane's "Record #n of N" preamble,
Ovid's record numbers) is skipped. Lines that are not tag lines continue the value
above them.

The tag-level reading follows rispy's ``RisParser`` rule for what is a tag line
(``line[2:5] == "  -"``, upper-case letter first) and its record boundaries, and
``tests/test_import_real.py`` checks that both give the same tags and values on every
real export. It is written out here, rather than calling ``rispy.load``, for three
reasons: rispy silently drops a last record without ``ER`` and records whose ``TY`` is
missing (srma must stop and name them); srma needs each record's original text and
line number; and rispy's per-line method calls are slow on large exports
(``benchmarks/import_speed.py`` times both). :func:`parse` is the one reader of RIS
text: it names the line, record and tag of a fault.

Which tag holds which field differs by dialect; :func:`to_fields` maps them:
title ``TI``/``T1``, journal ``JF``/``JO``/``T2``, abbreviation ``J2``/``JA``/``JI``/``J9``,
DOI ``DO``/``M3``/``L3`` (or a ``doi.org`` link), abstract ``AB``/``N2``, PMID ``C5``
(Embase) / ``C2`` (Scopus) / ``AN`` (PubMed via EndNote), accession ``AN``, ``U2``
(Embase ``L...``), Scopus EID (from the ``eid=`` link) and Ovid's ``ID``.
"""

from __future__ import annotations

import re

from srma.errors import InputError

from .normalise import join_pages

DATABASE = "RIS"

_EID_RE = re.compile(r"eid=(2-s2\.0-\d+)")
_EMBASE_ID_RE = re.compile(r"^L\d{6,}$")
_CENTRAL_PMID_RE = re.compile(r"^PUBMED\s+(\d+)")
_OVID_NUMBER_RE = re.compile(r"^\d+\.\s*$", re.M)


_TAG_LINE_RE = re.compile(r"\n(?=[A-Z][A-Z0-9]  -)")
_TAG_START_RE = re.compile(r"[A-Z][A-Z0-9]  -")


def parse(text: str, path: object = "<text>") -> list[dict[str, list[str]]]:
    """Split RIS text into records, each a dict ``tag -> [values]`` in file order.

    A value keeps its continuation lines after ``\\n`` (unstripped). The record's
    original text is under the key ``""``. Tags that Ovid writes after ``ER`` (``NL``)
    belong to the record above and are listed under ``"_late"``. Raises
    :class:`InputError` for a record without ``ER`` (truncated file), a ``TY`` inside a
    record, and tag lines outside any record (a record without ``TY``).

    Speed: the text is cut before every tag line by one regular expression (a C loop);
    each piece is then one tag with its value and continuation lines.
    """
    pieces = _TAG_LINE_RE.split(text)
    records: list[dict[str, list[str]]] = []
    rec: dict[str, list[str]] | None = None
    start = 0
    first = 0 if _TAG_START_RE.match(pieces[0]) else 1
    for i in range(first, len(pieces)):
        piece = pieces[i]
        tag = piece[:2]
        if rec is None:
            if tag == "TY":
                rec = {"TY": [piece[6:]]}
                start = i
                continue
            if records and "\n" not in pieces[i - 1].rstrip(" "):
                # Ovid writes some tags (NL) on the lines right after ER: they belong
                # to the record above. rispy skips them; srma keeps them, listed under
                # "_late". After a blank line, a tag without TY is an error.
                last = records[-1]
                last.setdefault(tag, []).append(piece[6:].split("\n", 1)[0])
                last.setdefault("_late", []).append(tag)
                last[""].append(piece.split("\n", 1)[0])
                continue
            raise InputError(
                path,
                f"tag {tag} outside a record: the record does not start with 'TY  -'",
                record=len(records) + 1,
                field=tag,
                line=_line_of(pieces, i),
            )
        if tag == "ER":
            rec[""] = ["\n".join(pieces[start:i]), piece.split("\n", 1)[0]]
            records.append(rec)
            rec = None
        elif tag == "TY":
            raise InputError(
                path,
                "a new record starts ('TY  -') before this one ended ('ER  -')",
                record=len(records) + 1,
                field="ER",
                line=_line_of(pieces, i),
            )
        else:
            values = rec.get(tag)
            if values is None:
                rec[tag] = [piece[6:]]
            else:
                values.append(piece[6:])
    if rec is not None:
        raise InputError(
            path,
            "the last record has no end tag 'ER  -': the file looks truncated",
            record=len(records) + 1,
            field="ER",
            line=_line_of(pieces, start),
        )
    for rec in records:
        rec[""] = ["\n".join(rec[""])]
    return records


def _line_of(pieces: list[str], index: int) -> int:
    """1-based line number where ``pieces[index]`` starts."""
    return sum(p.count("\n") + 1 for p in pieces[:index]) + 1


def _one(rec: dict[str, list[str]], tag: str) -> str | None:
    values = rec.get(tag)
    if not values:
        return None
    value = values[0]
    return value.replace("\n", " ").strip() if "\n" in value else value.strip()


def _lines(rec: dict[str, list[str]], *tags: str) -> list[str]:
    """Every value of ``tags``, one item per line (continuation lines are items too, as
    in EndNote's keyword lists); cleaned later."""
    out: list[str] = []
    for tag in tags:
        values = rec.get(tag)
        if values:
            for value in values:
                if "\n" in value:
                    out.extend(value.split("\n"))
                else:
                    out.append(value)
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


def _pick(one: dict[str, str], *tags: str) -> str | None:
    """The first of ``tags`` with a non-blank value (unstripped)."""
    for tag in tags:
        value = one.get(tag)
        if value and not value.isspace():
            return value
    return None


def _stripped(one: dict[str, str], tag: str) -> str | None:
    value = one.get(tag)
    if value is None:
        return None
    return value.strip() or None


def to_fields(rec: dict[str, list[str]], *, ovid: bool = False) -> dict:
    """The fields of one parsed RIS record (text is cleaned by
    :func:`srma.importers.normalise.build_table`).

    ``ovid``: the file is an Ovid RIS export (numbered records), whose ``ID`` is the
    database accession number (in EndNote's RIS, ``ID`` is EndNote's own record number).
    """
    one = {tag: values[0] for tag, values in rec.items()}
    get = rec.get
    ur, l2 = get("UR"), get("L2")
    url = " ".join((ur or []) + (l2 or [])) if ur or l2 else ""
    database = _stripped(one, "DB")
    an = _stripped(one, "AN")
    pmid = None
    accession = None
    cochrane = False
    if an:
        if an.startswith("CN-"):
            # Cochrane CENTRAL: JA is the journal's full name, C3 holds "PUBMED <pmid>".
            cochrane = True
            database = database or "CENTRAL"
            accession = an
            for value in get("C3", ()):
                found = _CENTRAL_PMID_RE.match(value.strip())
                if found:
                    pmid = found.group(1)
                    break
        elif an.startswith("WOS:"):
            database = database or "Web of Science"
            accession = an
        elif an.isdigit() and (_stripped(one, "DP") or "").upper() == "NLM":
            database = database or "PubMed"
            pmid = an
        else:
            accession = an
    if pmid is None:
        # CENTRAL records also carry "PUBMED <pmid>" in C3 when the export has no CN-
        # accession (e.g. records saved from the Cochrane Library one by one).
        for value in get("C3", ()):
            found = _CENTRAL_PMID_RE.match(value.strip())
            if found:
                pmid = found.group(1)
                break
    u2 = _stripped(one, "U2")
    embase_id = bool(u2 and _EMBASE_ID_RE.match(u2))
    if embase_id or "embase.com" in url:
        database = database or "Embase"
        pmid = pmid or one.get("C5")
        if embase_id:
            accession = accession or u2
    if "scopus.com" in url:
        database = database or "Scopus"
        c2 = _stripped(one, "C2")
        pmid = pmid or (c2 if c2 and c2.isdigit() else None)
        eid = _EID_RE.search(url)
        accession = accession or (eid.group(1) if eid else None)
    if ovid:
        accession = accession or _stripped(one, "ID")
    # JF and JO are the periodical's full name; T2, the "secondary title", is the
    # journal in Scopus, Web of Science, Zotero and EndNote exports (which write no JO),
    # but a subtitle or a congress in CENTRAL's records that have a JO.
    journal = _pick(one, "JF", "JO", "T2", "J1")
    if cochrane and not journal:
        journal = one.get("JA")
    jkey = journal.strip() if journal else None
    abbrev = None
    for tag in ("J2", "JA", "JI", "J9", "JO", "J1"):
        value = one.get(tag)
        if value and not value.isspace() and value.strip() != jkey:
            abbrev = value
            break
    pages = join_pages(one.get("SP"), one.get("EP"))
    first_page = None
    if not pages:
        pages = first_page = _pick(one, "C7", "AR")
    ptypes = [v for v in (one.get("TY"), one.get("M3"), one.get("PT")) if v and "10." not in v]
    kw = get("KW")
    return {
        "title": _pick(one, "TI", "T1", "CT", "BT"),
        "authors": _lines(rec, "AU", "A1"),
        "year": _pick(one, "PY", "Y1", "DA"),
        "journal": journal,
        "journal_abbrev": abbrev,
        "volume": one.get("VL"),
        "issue": one.get("IS"),
        "pages": pages,
        "first_page": first_page,
        "doi": _doi(rec),
        "pmid": pmid,
        "accession": accession,
        "abstract": _pick(one, "AB", "N2"),
        "keywords": _lines(rec, "KW") if kw else [],
        "publication_type": ptypes,
        "language": one.get("LA"),
        "database": database,
        "raw": one[""],
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every record of a RIS export (:func:`parse`, then
    :func:`to_fields`)."""
    ovid = bool(_OVID_NUMBER_RE.search(text[:4096]))
    return [to_fields(rec, ovid=ovid) for rec in parse(text, path)]
