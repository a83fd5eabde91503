"""Write merged records as RIS for screening tools (ASReview, Rayyan, Covidence).

One RIS record per cluster, written with rispy. Tags: ``TY`` (``JOUR``, ``ABST`` for
congress abstracts), ``ID`` = cluster id, ``TI``, ``AU`` (one per author), ``PY``,
``T2`` journal, ``J2`` abbreviation, ``VL``, ``IS``, ``SP``/``EP``, ``DO``, ``AB``,
``KW``, ``LA``, ``AN`` (PMID, else accession), ``DB`` (databases, ``; ``-joined) and
``N1`` listing the source record ids so that a screener can trace every record.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import rispy

from srma.dedup.normalise import parse_pages, record_kind

__all__ = ["write_ris", "ris_entries"]


def _s(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA:
        return None
    text = " ".join(str(value).split())
    return text or None


def _lst(value: object) -> list[str]:
    if value is None or value is pd.NA or isinstance(value, str | float):
        return [value] if isinstance(value, str) and value.strip() else []
    return [" ".join(str(v).split()) for v in value if v is not None and str(v).strip()]


#: RIS reference type of a record kind (``JOUR`` for the rest).
_RIS_TYPE = {"abstract": "ABST", "thesis": "THES"}


def ris_entries(unique: pd.DataFrame) -> list[dict]:
    """rispy entries (dicts) for the rows of ``unique``."""
    entries = []
    # column by column into Python objects (one conversion in C per column), then row
    # by row
    names = list(unique.columns)
    columns = [unique[c].to_numpy(dtype=object, na_value=None) for c in names]
    for values in zip(*columns, strict=True):
        row = dict(zip(names, values, strict=True))
        kind = record_kind(
            row.get("title"),
            row.get("publication_type"),
            row.get("journal"),
            row.get("volume"),
            pages=row.get("pages"),
        )
        entry: dict = {"type_of_reference": _RIS_TYPE.get(kind, "JOUR")}
        entry["id"] = _s(row.get("cluster_id"))
        for key, col in (
            ("title", "title"),
            ("secondary_title", "journal"),
            ("alternate_title1", "journal_abbrev"),
            ("volume", "volume"),
            ("number", "issue"),
            ("doi", "doi"),
            ("abstract", "abstract"),
            ("language", "language"),
        ):
            value = _s(row.get(col))
            if value:
                entry[key] = value
        year = row.get("year")
        if year is not None and not pd.isna(year):
            entry["year"] = str(int(year))
        authors = _lst(row.get("authors"))
        if authors:
            entry["authors"] = authors
        pages = _s(row.get("pages"))
        parsed = parse_pages(pages) if pages else None
        if pages:
            first, _, last = pages.partition("-")
            entry["start_page"] = first.strip() or pages
            if last.strip() and parsed:
                entry["end_page"] = parsed[1]
        elif _s(row.get("first_page")):
            entry["start_page"] = _s(row.get("first_page"))
        keywords = _lst(row.get("keywords"))
        if keywords:
            entry["keywords"] = keywords
        an = _s(row.get("pmid")) or _s(row.get("accession"))
        if an:
            entry["accession_number"] = an
        dbs = _lst(row.get("databases"))
        if dbs:
            entry["name_of_database"] = "; ".join(dbs)
        ids = _lst(row.get("record_ids"))
        if ids:
            entry["notes"] = ["srma records: " + "; ".join(ids)]
        entries.append(entry)
    return entries


def write_ris(unique: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``unique`` (data-model section 2) as an RIS file at ``path``, UTF-8 with
    ``\\n`` line ends; same table, same bytes."""
    from srma.io import _atomic_write_bytes

    path = Path(path)
    writer = rispy.RisWriter(skip_unknown_tags=True, enforce_list_tags=False)

    def _write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            writer.format_lines(fh, _Entries(unique))

    _atomic_write_bytes(path, _write)
    return path


class _Entries:
    """The entries of ``unique``, made block by block as the writer asks for them (a
    million clusters' entries at once would hold every abstract twice more)."""

    BLOCK = 10_000

    def __init__(self, unique: pd.DataFrame) -> None:
        self._unique = unique

    def __len__(self) -> int:
        return len(self._unique)

    def __iter__(self):
        for start in range(0, len(self._unique), self.BLOCK):
            yield from ris_entries(self._unique.iloc[start : start + self.BLOCK])
