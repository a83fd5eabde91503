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
line number; and rispy's per-line method calls are slow on large exports.
:func:`read_bytes` reads the same tag lines from the file's bytes with array
operations (``srma.importers.lines``), about 1.4-1.9 times rispy's speed on a
100,000-record file while doing more (``benchmarks/import_speed.py``); :func:`parse`
reads any other text and names the line of a fault; ``tests/test_import_fast.py``
checks that both give the same fields on every real export.

Which tag holds which field differs by dialect; :func:`to_fields` maps them:
title ``TI``/``T1``, journal ``JF``/``JO``/``T2``, abbreviation ``J2``/``JA``/``JI``/``J9``,
DOI ``DO``/``M3``/``L3`` (or a ``doi.org`` link), abstract ``AB``/``N2``, PMID ``C5``
(Embase) / ``C2`` (Scopus) / ``AN`` (PubMed via EndNote), accession ``AN``, ``U2``
(Embase ``L...``), Scopus EID (from the ``eid=`` link) and Ovid's ``ID``.
"""

from __future__ import annotations

import mmap
import re

import numpy as np
import pyarrow as pa

from srma.errors import InputError

from . import lines
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
    return _fields({tag: values[0] for tag, values in rec.items()}, rec, ovid)


def _fields(one: dict[str, str], rec: dict[str, list[str]], ovid: bool) -> dict:
    """:func:`to_fields` from each tag's first value (``one``, the record's text under
    ``""``) and the lists of the tags whose every value is read (``rec``: at least
    those of :data:`_LISTED`)."""
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
    """Normalised fields of every record of a RIS export (the general reader, for any
    text; :func:`srma.importers.read_export` tries :func:`read_bytes` first)."""
    ovid = bool(_OVID_NUMBER_RE.search(text[:4096]))
    return [to_fields(rec, ovid=ovid) for rec in parse(text, path)]


#: Tags :func:`to_fields` reads (the only ones :func:`read_bytes` decodes), and those of
#: them whose every value it reads.
_USED = ("A1", "AB", "AN", "AR", "AU", "BT", "C2", "C3", "C5", "C7", "CT", "DA", "DB", "DI",
         "DO", "DP", "EP", "ID", "IS", "J1", "J2", "J9", "JA", "JF", "JI", "JO", "KW", "L2",
         "L3", "LA", "M3", "N1", "N2", "PT", "PY", "SP", "T1", "T2", "TI", "TY", "U2", "UR",
         "VL", "Y1")  # fmt: skip
_LISTED = ("A1", "AU", "C3", "DI", "DO", "KW", "L2", "L3", "M3", "N1", "UR")
_MASK16 = np.uint64(0xFFFF)


def _code(tag: str) -> int:
    """The low two bytes of :attr:`srma.importers.lines.Lines.word` of a tag line."""
    return lines.code(tag) & 0xFFFF


_BY_CODE = sorted(_USED, key=_code)
_USED_CODES = np.array([_code(t) for t in _BY_CODE], dtype=np.uint64)


def _classify(length: np.ndarray, word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`srma.importers.lines.scan`: tag lines (``[A-Z][A-Z0-9]  -``) are the
    heads, and all of them are kept."""
    c = [lines.byte(word, k) for k in range(5)]
    tag = (
        (length >= 5)
        & lines.is_upper(c[0])
        & lines.is_upper_or_digit(c[1])
        & (c[2] == 32)
        & (c[3] == 32)
        & (c[4] == 45)
    )
    return tag, tag


def read_bytes(data: bytes | mmap.mmap, path: object = "<text>") -> list[dict] | None:
    """:func:`read` for UTF-8 bytes with ``\\n`` line ends and no byte-order mark (see
    :mod:`srma.importers.lines`); ``None`` when the file needs the text reader: a
    record without ``TY`` or ``ER`` (which :func:`parse` names), a tag after ``ER``
    that is not on the very next line, a character other than ASCII right after a
    tag's ``  -``, or bytes that are not UTF-8.

    The same tag lines, values and record texts as :func:`parse`: a tag line is
    ``[A-Z][A-Z0-9]  -``; its value runs from its seventh character to the line before
    the next tag line; tags on the lines right after ``ER`` (Ovid's ``NL``) belong to
    the record above, with the rest of their line as value. Only the tags that
    :func:`to_fields` reads are decoded, and its dict of first values is built per
    record by one ``dict(zip(...))``.
    """
    if not len(data) or data.find(b"\r") >= 0:
        return None
    table = lines.scan(data, _classify)
    m = len(table.start)
    if m == 0:
        return None
    start, end, word = table.start, table.end, table.word
    long = table.length > 5
    # The seventh character starts the value: the sixth must be one byte long.
    if (lines.byte(word[long], 5) >= 128).any():
        return None
    code = word & _MASK16
    is_ty = code == _code("TY")
    is_er = code == _code("ER")
    opened = np.cumsum(is_ty)
    # 1 inside a record (TY read, ER not yet), 0 between records.
    depth = opened - (np.cumsum(is_er) - is_er)
    inside = depth == 1
    outside = depth == 0
    if (
        not is_ty[0]
        or not (inside | outside).all()
        or not inside[is_ty | is_er].all()
        or opened[-1] != is_er.sum()
    ):
        return None  # the text reader names the record without TY or ER
    if outside.any():
        # Tags after ER: each on the line right after ER or after another such tag,
        # with its value on its own line.
        late = np.flatnonzero(outside)
        before = late - 1
        if not (
            (start[late] == end[before] + 1) & (is_er[before] | outside[before]) & long[late]
        ).all():
            return None
    record = opened - 1
    n = int(opened[-1])
    # A value runs to the line before the next tag line; a late tag's, to its line end.
    value_end = np.where(outside, end, table.next - 1)
    value_start = np.minimum(start + 6, value_end)
    # A record's text: from its TY line to the end of its ER line or of its last late tag.
    closing = is_er | outside
    last_end = np.empty(n, dtype=np.int64)
    last_end[record[closing]] = end[closing]  # in order: each record's last one stays
    try:
        raw = lines.decode(data, start[is_ty], last_end, check=True, near=True).tolist()
    except (UnicodeDecodeError, pa.ArrowInvalid):
        return None  # not UTF-8: the text reader names the record and field
    keep = np.isin(code, _USED_CODES)
    rows, tags = record[keep], code[keep]
    found = lines.decode(data, value_start[keep], value_end[keep])
    names = np.array(_BY_CODE, dtype=object)[np.searchsorted(_USED_CODES, tags)].tolist()
    values = found.tolist()
    cuts = np.searchsorted(rows, np.arange(n + 1)).tolist()
    listed: list[dict[str, list[str]]] = [{} for _ in range(n)]
    for tag in _LISTED:
        sel = tags == _code(tag)
        for i, items in zip(*lines.groups(rows[sel], found[sel]), strict=True):
            listed[i][tag] = items
    ovid = bool(_OVID_NUMBER_RE.search(data[: 4 * 4096].decode("utf-8", "ignore")[:4096]))
    out = []
    for i in range(n):
        lo, hi = cuts[i], cuts[i + 1]
        # Reversed: the first value of a tag is the one the dict keeps.
        one = dict(zip(names[lo:hi][::-1], values[lo:hi][::-1], strict=True))
        one[""] = raw[i]
        out.append(_fields(one, listed[i], ovid))
    return out
