"""Comparison keys of every record, computed once.

:func:`features` turns a records table (data-model section 1) into plain arrays
aligned with its rows: the normalised title, first-author surname, year, journal
words, volume, first page, identifiers and the record's kind. Blocking and
comparison read only these arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from srma.dedup.normalise import (
    first_author_of,
    fold,
    norm_doi,
    norm_journal_tokens,
    norm_pmid,
    norm_surname,
    norm_title,
    norm_volume,
    parse_pages,
    record_kind,
    title_digit_runs,
    title_numbers,
)

__all__ = ["Features", "features"]


@dataclass(frozen=True)
class Features:
    """Arrays aligned with the records' rows; missing text is ``""``, a missing
    year is ``-1``."""

    title: np.ndarray  # object: normalised title
    title_rev: np.ndarray  # object: normalised title reversed (blocking on endings)
    numbers: np.ndarray  # object: "|"-joined standalone numbers of the title
    digit_runs: np.ndarray  # object: "|"-joined digit runs of the title without spaces
    surname: np.ndarray  # object
    year: np.ndarray  # int64
    journal: np.ndarray  # object: tuple of journal words
    journal_abbrev: np.ndarray  # object: tuple of abbreviation words
    volume: np.ndarray  # object
    first_page: np.ndarray  # object
    last_page: np.ndarray  # object
    doi: np.ndarray  # object
    doi_alnum: np.ndarray  # object: DOI without punctuation
    doi_suffix: np.ndarray  # object: DOI after the registrant prefix ("" if < 8 chars)
    pmid: np.ndarray  # object
    accession: np.ndarray  # object
    kind: np.ndarray  # object
    author_full: np.ndarray  # object: first author's folded full name (theses only)

    codes: dict = None  # field -> int64 codes of the values above (-1 = missing)

    def __len__(self) -> int:
        return len(self.title)


#: Fields compared for equality, also held as integer codes (fast comparisons).
CODED = (
    "surname",
    "volume",
    "first_page",
    "last_page",
    "doi",
    "doi_alnum",
    "doi_suffix",
    "pmid",
    "kind",
    "author_full",
    "numbers",
    "digit_runs",
)


def _codes(values: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(values, sort=False)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes


def _col(records: pd.DataFrame, name: str) -> pd.Series:
    if name in records.columns:
        return records[name]
    return pd.Series([None] * len(records), index=records.index, dtype=object)


def _first_author(row_first: object, row_authors: object) -> object:
    if isinstance(row_first, str) and row_first.strip():
        return row_first
    if row_authors is not None and not isinstance(row_authors, str | float):
        try:
            first = next(iter(row_authors), None)
        except TypeError:
            first = None
        if first:
            return first_author_of(first)
    if isinstance(row_authors, str):
        return first_author_of(row_authors)
    return None


def _first_author_name(authors: object, first: object) -> str:
    """The first author as printed (``Yip, Chi Bun``), from the author list, else
    from ``first_author``."""
    if isinstance(authors, str):
        return re.split(r"\s+and\s+|;|\n", authors, maxsplit=1)[0]
    if authors is not None and not isinstance(authors, float):
        try:
            name = next(iter(authors), None)
        except TypeError:
            name = None
        if isinstance(name, str):
            return name
    return first if isinstance(first, str) else ""


def _obj(values) -> np.ndarray:
    values = list(values)
    return np.fromiter(values, dtype=object, count=len(values))


def features(records: pd.DataFrame) -> Features:
    """Compute the comparison keys of every row of ``records``."""
    titles = [norm_title(t) or "" for t in _col(records, "title")]
    surnames = [
        norm_surname(_first_author(f, a)) or ""
        for f, a in zip(_col(records, "first_author"), _col(records, "authors"), strict=True)
    ]
    years = pd.to_numeric(_col(records, "year"), errors="coerce").fillna(-1).astype("int64")
    journals = [
        norm_journal_tokens(j) if isinstance(j, str) else () for j in _col(records, "journal")
    ]
    abbrevs = [
        norm_journal_tokens(j) if isinstance(j, str) else ()
        for j in _col(records, "journal_abbrev")
    ]
    pages = [parse_pages(p) for p in _col(records, "pages")]
    first_given = _col(records, "first_page")
    first_pages = []
    last_pages = []
    for p, fp in zip(pages, first_given, strict=True):
        if p is None and isinstance(fp, str):
            p = parse_pages(fp)
        first_pages.append(p[0] if p else "")
        last_pages.append(p[1] if p else "")
    kinds = [
        record_kind(t, pt, j, v, pages=pg, folded_title=f)
        for t, pt, j, v, pg, f in zip(
            _col(records, "title"),
            _col(records, "publication_type"),
            _col(records, "journal"),
            _col(records, "volume"),
            _col(records, "pages"),
            titles,
            strict=True,
        )
    ]
    # The first author's whole name (given names too), kept for theses only: a thesis
    # and its Dissertation Abstracts entry have no volume or page in common.
    author_full = [
        (fold(_first_author_name(a, f)) if k == "thesis" else "")
        for k, a, f in zip(
            kinds, _col(records, "authors"), _col(records, "first_author"), strict=True
        )
    ]
    dois = [norm_doi(d) or "" for d in _col(records, "doi")]
    accession = [
        (str(a).strip().upper() if isinstance(a, str) and a.strip() else "")
        for a in _col(records, "accession")
    ]
    feat = Features(
        title=_obj(titles),
        title_rev=_obj(t[::-1] for t in titles),
        numbers=_obj("|".join(title_numbers(t)) for t in titles),
        digit_runs=_obj("|".join(title_digit_runs(t)) for t in titles),
        surname=_obj(surnames),
        year=years.to_numpy(dtype="int64"),
        journal=_obj(journals),
        journal_abbrev=_obj(abbrevs),
        volume=_obj(norm_volume(v) or "" for v in _col(records, "volume")),
        first_page=_obj(first_pages),
        last_page=_obj(last_pages),
        doi=_obj(dois),
        doi_alnum=_obj(re.sub(r"[^0-9a-z]+", "", d) for d in dois),
        doi_suffix=_obj(
            (d.partition("/")[2] if len(d.partition("/")[2]) >= 8 else "") for d in dois
        ),
        pmid=_obj(norm_pmid(p) or "" for p in _col(records, "pmid")),
        accession=_obj(accession),
        kind=_obj(kinds),
        author_full=_obj(author_full),
    )
    object.__setattr__(feat, "codes", {name: _codes(getattr(feat, name)) for name in CODED})
    return feat
