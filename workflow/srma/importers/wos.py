"""Web of Science exports: plain text (``FN``/``VR``, ``PT`` ... ``ER``, ``EF``) and
tab-delimited.

Plain text: two-character tags, values continued on lines indented by three spaces,
multi-valued tags (``AU``, ``AF``, ``CR``) one value per line (Clarivate, "Web of
Science Core Collection field tags"). Each record is cut out by srma (so that a
truncated last record, which rispy would drop, stops the import, and its original text
is kept) and read with rispy's ``WokParser``, unknown tags skipped.

Tab-delimited: one record per line under a header of the same tags. Each data line ends
with a tab that the header does not have, which shifts every column when the file is
read as a plain table; srma pairs cells with header names and checks that any extra
cell is empty.
"""

from __future__ import annotations

import csv

import rispy

from srma.errors import InputError

from .normalise import first, join_pages

DATABASE = "Web of Science"

#: rispy's WoS tags plus Zoological Record's accession number and page span (``PS``:
#: Zoological Record gives pages there, e.g. ``PS 134-141``, and no ``BP``/``EP``).
_MAPPING = {**rispy.config.WOK_TAG_KEY_MAPPING, "AN": "zr_accession", "PS": "page_span"}


def split_records(text: str, path: object = "<text>") -> list[tuple[int, str]]:
    """``(first line number, record text)`` of each ``PT`` ... ``ER`` record."""
    out: list[tuple[int, str]] = []
    lines = text.split("\n")
    start: int | None = None
    for lineno, line in enumerate(lines):
        if line.startswith("PT ") and line[3:].strip():
            if start is not None:
                raise InputError(
                    path,
                    "a new record starts ('PT') before this one ended ('ER')",
                    record=len(out) + 1,
                    field="ER",
                    line=lineno + 1,
                )
            start = lineno
        elif start is not None and line.rstrip() == "ER":
            out.append((start + 1, "\n".join(lines[start : lineno + 1])))
            start = None
        elif start is None and line.strip() and not line.startswith(("FN ", "VR ", "EF")):
            raise InputError(
                path,
                f"text outside a record: {line[:40]!r} (a record starts with 'PT')",
                record=len(out) + 1,
                line=lineno + 1,
            )
    if start is not None:
        raise InputError(
            path,
            "the last record has no end tag 'ER': the file looks truncated",
            record=len(out) + 1,
            field="ER",
            line=start + 1,
        )
    return out


def _list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _split(value: object, sep: str = ";") -> list[str]:
    return [p.strip() for v in _list(value) for p in v.split(sep) if p.strip()]


def to_fields(tags: dict, raw: str) -> dict:
    """Normalised fields from Web of Science tags (tag -> value(s)) of one record."""

    def one(tag: str) -> str | None:
        values = _list(tags.get(tag))
        return " ".join(values) if values else None

    authors = _list(tags.get("AF")) or _list(tags.get("AU"))
    authors += _list(tags.get("CA"))
    sp = one("BP")
    pages = join_pages(sp, one("EP"))
    first_page = None
    if not pages:
        pages = one("PS")
    if not pages:
        pages = first_page = one("AR")
    return {
        "title": one("TI"),
        "authors": authors,
        "year": first(one("PY"), one("EY"), one("PD"), one("EA")),
        "journal": first(one("SO"), one("SE")),
        "journal_abbrev": first(one("JI"), one("J9")),
        "volume": one("VL"),
        "issue": one("IS"),
        "pages": pages,
        "first_page": first_page,
        "doi": one("DI"),
        "pmid": one("PM"),
        "accession": first(one("UT"), one("AN")),
        "abstract": one("AB"),
        "keywords": _split(tags.get("DE")) + _split(tags.get("ID")),
        "publication_type": _split(tags.get("DT")),
        "language": one("LA"),
        "database": None,
        "raw": raw,
    }


_INVERSE = {name: tag for tag, name in _MAPPING.items()}


def read_tagged(text: str, path: object = "<text>") -> list[dict]:
    """Records of a Web of Science plain-text export."""
    parser = rispy.WokParser(mapping=_MAPPING, skip_unknown_tags=True)
    out = []
    for number, (_, chunk) in enumerate(split_records(text, path), start=1):
        parsed = parser.parse(chunk + "\n")
        if len(parsed) != 1:
            raise InputError(path, "record could not be read", record=number)
        tags = {_INVERSE[name]: value for name, value in parsed[0].items()}
        out.append(to_fields(tags, chunk))
    return out


def read_tab(text: str, path: object = "<text>") -> list[dict]:
    """Records of a Web of Science tab-delimited export."""
    lines = [line for line in text.split("\n")]
    header: list[str] | None = None
    out = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
        if header is None:
            header = [c.strip() for c in cells]
            while header and not header[-1]:
                header.pop()
            continue
        number = len(out) + 1
        if len(cells) < len(header):
            raise InputError(
                path,
                f"{len(cells)} tab-separated cells, the header has {len(header)}: "
                "the record is cut short",
                record=number,
                line=lineno,
            )
        extra = [c for c in cells[len(header) :] if c.strip()]
        if extra:
            raise InputError(
                path,
                f"{len(cells)} cells, more than the header's {len(header)}, and the extra "
                "ones are not empty: the columns would be shifted",
                record=number,
                line=lineno,
            )
        tags = {}
        for name, cell in zip(header, cells, strict=False):
            cell = cell.strip()
            if not cell:
                continue
            if name in ("AU", "AF", "CA"):
                tags[name] = [p.strip() for p in cell.split(";")]
            else:
                tags[name] = cell
        out.append(to_fields(tags, line))
    return out


def read(text: str, path: object = "<text>", fmt: str | None = "wos") -> list[dict]:
    """Records of a Web of Science export (``fmt``: ``wos`` or ``wos_tab``)."""
    return read_tab(text, path) if fmt == "wos_tab" else read_tagged(text, path)
