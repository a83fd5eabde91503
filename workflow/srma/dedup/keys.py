"""Comparison keys of every record, computed once.

:func:`features` turns a records table (data-model section 1) into plain arrays
aligned with its rows: the normalised title, first-author surnames, year, journal
words, volume, issue, first page, identifiers and the record's kind. Blocking and
comparison read only these arrays.

Fields are repaired first (:mod:`srma.dedup.normalise`): a whole citation exported
into the journal field (Ovid/Embase ``SO``) gives the journal name, volume, issue,
pages and year the record lacks; a year that cannot be a publication year is missing.
Then, over the whole table, an identifier held by records of more than one article
(a congress supplement's DOI, a journal-level DOI) is marked *shared*: it is no
identity (``doi_id`` and the like leave it out), though two different identifiers
still conflict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from srma.dedup.normalise import (
    combine_kinds,
    first_author_of,
    fold,
    is_generic_title,
    is_page_count,
    norm_doi,
    norm_issue,
    norm_journal_tokens,
    norm_pmid,
    norm_surname,
    norm_title,
    norm_volume,
    parse_pages,
    plausible_year,
    source_is_event,
    source_kind,
    source_words,
    split_citation,
    title_digit_runs,
    title_kind,
    title_numbers,
)

__all__ = ["Features", "Surnames", "features", "surnames_compatible", "SURNAME_MIN", "doi_alnum"]

#: First-author surname score (rapidfuzz ``fuzz.ratio``) below which two surnames are
#: different people.
SURNAME_MIN = 75.0
#: Authors of a record looked at when its first author is not the other's first
#: author (order changed, a collective author put first).
AUTHORS_KEPT = 3


@dataclass(frozen=True)
class Features:
    """Arrays aligned with the records' rows; missing text is ``""``, a missing
    year is ``-1``."""

    title: np.ndarray  # object: normalised title
    numbers: np.ndarray  # object: "|"-joined standalone numbers of the title
    digit_runs: np.ndarray  # object: "|"-joined digit runs of the title without spaces
    generic: np.ndarray  # bool: a title many articles carry (editorial, "Reply", ...)
    surname: np.ndarray  # object: first author's surname, folded
    surnames: Surnames  # [k] -> tuple of the first AUTHORS_KEPT surnames (on demand)
    year: np.ndarray  # int64
    journal: np.ndarray  # object: tuple of journal words
    journal_abbrev: np.ndarray  # object: tuple of abbreviation words
    event: np.ndarray  # bool: the source is a conference (its name varies most)
    sources: np.ndarray  # object: distinct (journal, abbreviation) word tuples; codes["source"]
    volume: np.ndarray  # object
    issue: np.ndarray  # object: "n" or "n-m" (supplements and parts: "")
    first_page: np.ndarray  # object
    last_page: np.ndarray  # object
    doi: np.ndarray  # object
    doi_alnum: np.ndarray  # object: the DOI without punctuation (set after the codes)
    pmid: np.ndarray  # object
    accession: np.ndarray  # object
    kind: np.ndarray  # object
    author_full: np.ndarray  # object: first author's folded full name (theses only)
    doi_id: np.ndarray  # object: the DOI when it is an identity (not shared), else ""
    pmid_id: np.ndarray  # object: likewise the PMID
    accession_id: np.ndarray  # object: likewise the accession
    shared: np.ndarray  # object: "|"-joined identifiers of the record that are shared

    codes: dict = None  # field -> int32 codes of the values above (-1 = missing);
    # also "doi_alnum" (the DOI without punctuation), "doi_length" (its length),
    # "doi_suffix" (the DOI after the registrant prefix, when at least 8 characters),
    # "source" (journal and abbreviation) and "page_span" (pages spanned, 0: unknown)

    def __len__(self) -> int:
        return len(self.title)

    @property
    def title_rev(self) -> np.ndarray:
        """Normalised titles reversed (blocking on title endings)."""
        return _obj(t[::-1] for t in self.title)


class Surnames:
    """The folded surnames of a record's first :data:`AUTHORS_KEPT` authors, read from
    the records' author lists when first asked for (only records whose first authors
    differ are asked)."""

    def __init__(self, authors: pd.Series) -> None:
        self._authors = authors.array
        self._cache: dict[int, tuple[str, ...]] = {}

    def __getitem__(self, k: int) -> tuple[str, ...]:
        got = self._cache.get(k)
        if got is None:
            names = _names(self._authors[int(k)])
            got = tuple(
                s for s in (norm_surname(first_author_of(a)) for a in names[:AUTHORS_KEPT]) if s
            )
            self._cache[k] = got
        return got


#: Fields compared for equality, also held as integer codes (fast comparisons).
CODED = (
    "surname",
    "volume",
    "issue",
    "first_page",
    "last_page",
    "doi",
    "pmid",
    "accession",
    "doi_id",
    "pmid_id",
    "accession_id",
    "kind",
    "author_full",
    "numbers",
    "digit_runs",
)


def _codes(values) -> np.ndarray:
    values = values if isinstance(values, np.ndarray) else _obj(values)
    codes, uniques = pd.factorize(values, sort=False)
    codes = codes.astype(np.int32)
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes


def _col(records: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array, ``None`` for missing (one conversion in C: Arrow-
    backed columns are slow to iterate value by value)."""
    if name in records.columns:
        return records[name].to_numpy(dtype=object, na_value=None)
    return np.full(len(records), None, dtype=object)


def _cached(func):
    """``func`` over a column, computed once per distinct value."""
    cache: dict = {}

    def run(values) -> list:
        out = []
        for v in values:
            try:
                got = cache[v]
            except KeyError:
                got = cache[v] = func(v)
            except TypeError:  # unhashable (a list)
                got = func(v)
            out.append(got)
        return out

    return run


def _names(row_authors: object) -> list[str]:
    """The author names of one record as a list (strings only)."""
    if row_authors is None or isinstance(row_authors, float) or row_authors is pd.NA:
        return []
    if isinstance(row_authors, str):
        return [a for a in re.split(r"\s+and\s+|;|\n", row_authors) if a.strip()]
    try:
        return [a for a in row_authors if isinstance(a, str) and a.strip()]
    except TypeError:
        return []


def _first_author(row_first: object, names: list[str]) -> object:
    if isinstance(row_first, str) and row_first.strip():
        return row_first
    if names:
        return first_author_of(names[0])
    return None


def _first_author_name(names: list[str], first: object) -> str:
    """The first author as printed (``Yip, Chi Bun``), from the author list, else
    from ``first_author``."""
    if names:
        return names[0]
    return first if isinstance(first, str) else ""


def _obj(values) -> np.ndarray:
    values = list(values)
    return np.fromiter(values, dtype=object, count=len(values))


def _interned(values) -> np.ndarray:
    """As :func:`_obj`, one object per distinct value (volumes, pages, surnames repeat:
    a million records hold a few thousand distinct ones)."""
    seen: dict[str, str] = {}
    return _obj(seen.setdefault(v, v) for v in values)


@lru_cache(maxsize=1 << 16)
def _citation(journal: str) -> dict | None:
    return split_citation(journal)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


@lru_cache(maxsize=1 << 16)
def _source_tokens(name: str) -> tuple[str, ...]:
    return source_words(norm_journal_tokens(name))


def surnames_compatible(a: str, b: str) -> bool:
    """Whether two folded surnames can be one person's: equal, one inside the other
    (``heijde`` in ``vanderheijde``), or alike (``fuzz.ratio`` at least
    :data:`SURNAME_MIN`: spelling and transliteration variants)."""
    if not a or not b or a == b or a in b or b in a:
        return True
    return fuzz.ratio(a, b) >= SURNAME_MIN


def _shared_ids(values: list[str], titles: list[str], surnames: list[str]) -> set[str]:
    """Identifiers held by records of more than one article.

    A group of records with one identifier is one article when every record's title
    is like the first record's (``fuzz.token_set_ratio`` at least 90: one title may
    lack the other's subtitle) and no two first authors differ. Three or more records
    with unlike titles or authors under one identifier are several articles (a
    supplement's DOI given to each of its abstracts, a journal-level DOI): the
    identifier is *shared*. Two records with unlike titles are left to the
    comparison rules (one article with its title in two languages, or an identifier
    attached to the wrong record).
    """
    frame = pd.DataFrame({"v": values, "k": np.arange(len(values))})
    frame = frame[frame["v"] != ""]
    if frame.empty:
        return set()
    size = frame.groupby("v", sort=False)["k"].transform("size")
    frame = frame[size >= 3]
    shared: set[str] = set()
    for v, rows in frame.groupby("v", sort=False)["k"]:
        rows = rows.to_numpy()
        t = [titles[r] for r in rows]
        s = [surnames[r] for r in rows]
        anchor = next((x for x in t if x), "")
        if not anchor:
            shared.add(v)
            continue
        sim = process.cdist([anchor], t, scorer=fuzz.token_set_ratio)[0]
        named = [x for x in s if x]
        if (sim < 90).any() or any(not surnames_compatible(named[0], x) for x in named[1:]):
            shared.add(v)
    return shared


def _distinct(records: pd.DataFrame, name: str) -> tuple[np.ndarray, list]:
    """``(codes, values)``: the column's distinct values and, per row, the index of
    its value (``len(values) - 1`` for a missing one, whose value is ``None``). Read
    by Arrow for Arrow-backed columns: no Python object per row."""
    n = len(records)
    if name not in records.columns:
        return np.zeros(n, dtype=np.int64), [None]
    col = records[name]
    arrow = getattr(col.array, "_pa_array", None)
    if arrow is not None and (pa.types.is_list(arrow.type) or pa.types.is_large_list(arrow.type)):
        # list of strings (publication types): joined by spaces
        value_type = arrow.type.value_type
        sep = pa.scalar(" ", type=value_type if pa.types.is_large_string(value_type) else None)
        col = pd.Series(pd.arrays.ArrowExtensionArray(pc.binary_join(arrow, sep)), index=col.index)
    try:
        codes, uniques = pd.factorize(col, use_na_sentinel=True, sort=False)
    except TypeError:  # unhashable values (Python lists): joined by spaces
        joined = [
            " ".join(str(x) for x in v) if v is not None and not isinstance(v, str | float) else v
            for v in col.to_numpy(dtype=object, na_value=None)
        ]
        codes, uniques = pd.factorize(pd.Series(joined, dtype=object), use_na_sentinel=True)
    values = [v if not (isinstance(v, float) and v != v) else None for v in list(uniques)]
    values.append(None)
    codes = np.asarray(codes, dtype=np.int64)
    codes[codes < 0] = len(values) - 1
    return codes, values


def _per_value(codes: np.ndarray, values: list, func) -> np.ndarray:
    """``func`` of each row's value, computed once per distinct value (an object
    array whose rows share the results)."""
    return _obj(func(v) for v in values)[codes]


#: Rows converted to Python strings at a time (titles are all distinct).
ROWS_AT_A_TIME = 1 << 17


def features(records: pd.DataFrame) -> Features:
    """Compute the comparison keys of every row of ``records``."""
    n = len(records)
    authors_col = (
        records["authors"] if "authors" in records.columns else pd.Series([None] * n, dtype=object)
    )
    # Titles, chunk by chunk (one Python string per title at a time); the title's
    # part of the record's kind (erratum, comment, a congress abstract's number).
    titles: list[str] = []
    title_kinds: list[str] = []
    title_col = records["title"] if "title" in records.columns else None
    for start in range(0, n, ROWS_AT_A_TIME):
        raw = (
            title_col.iloc[start : start + ROWS_AT_A_TIME].to_numpy(dtype=object, na_value=None)
            if title_col is not None
            else [None] * min(ROWS_AT_A_TIME, n - start)
        )
        for t in raw:
            folded = norm_title(t) or ""
            titles.append(folded)
            title_kinds.append(title_kind(_text(t) or "", folded) if folded else "")
    first_codes, first_values = _distinct(records, "first_author")
    surnames = _per_value(
        first_codes, first_values, lambda f: (norm_surname(f) or "") if isinstance(f, str) else ""
    )
    for k in np.flatnonzero(surnames == ""):
        # no first_author given: the first name of the author list
        names = _names(authors_col.iat[k])
        surnames[k] = norm_surname(_first_author(None, names)) or ""
    surnames = _interned(surnames)
    # Repair: a whole citation in the journal field fills the fields the record lacks.
    j_codes, j_values = _distinct(records, "journal")
    cits = [_citation(j) if isinstance(j, str) else None for j in j_values]
    has_cit = _obj(c is not None for c in cits)[j_codes].astype(bool)

    def from_citation(field: str) -> np.ndarray:
        return _obj((c or {}).get(field) for c in cits)[j_codes]

    def filled(name: str, field: str) -> np.ndarray:
        codes, values = _distinct(records, name)
        own = _obj(_text(v) for v in values)[codes]
        missing = has_cit & np.fromiter((v is None for v in own), bool, n)
        own[missing] = from_citation(field)[missing]
        return own

    journal_raw = _obj(_text(j) for j in j_values)[j_codes]
    journal_raw[has_cit] = from_citation("journal")[has_cit]
    volume_raw = filled("volume", "volume")
    issue_raw = filled("issue", "issue")
    pages_raw = filled("pages", "pages")
    y_codes, y_values = _distinct(records, "year")
    years = np.asarray(
        _per_value(y_codes, y_values, lambda y: -1 if y is None else plausible_year(y)),
        dtype=np.int64,
    )
    missing_year = has_cit & (years < 0)
    if missing_year.any():
        cit_year = from_citation("year")
        years[missing_year] = [plausible_year(y) if y else -1 for y in cit_year[missing_year]]
    tokens = _cached(lambda j: _source_tokens(j) if isinstance(j, str) and j.strip() else ())
    journals = tokens(journal_raw)
    a_codes, a_values = _distinct(records, "journal_abbrev")
    abbrevs = list(_per_value(a_codes, a_values, lambda j: tokens([j])[0]))
    event = [
        source_is_event(a) or source_is_event(b) for a, b in zip(journals, abbrevs, strict=True)
    ]
    names = [tuple(x for x in (a, b) if x) for a, b in zip(journals, abbrevs, strict=True)]
    source_code, sources = pd.factorize(_obj(names), sort=False)
    source_code = source_code.astype(np.int32)
    empty = [k for k, v in enumerate(sources) if not v]
    if empty:
        source_code[source_code == empty[0]] = -1
    del names
    pages = _cached(parse_pages)(pages_raw)
    fp_codes, fp_values = _distinct(records, "first_page")
    first_given = _obj(fp_values)[fp_codes]
    first_pages = []
    last_pages = []
    for p, fp in zip(pages, first_given, strict=True):
        if p is None and isinstance(fp, str):
            p = parse_pages(fp)
        first_pages.append(p[0] if p else "")
        last_pages.append(p[1] if p else "")
    del pages, first_given
    # The record's kind: its title's part per row, the rest (publication types,
    # journal, volume, a pages field that counts pages) once per distinct combination.
    pt_codes, pt_values = _distinct(records, "publication_type")
    v_codes, v_values = _distinct(records, "volume")
    p_codes, p_values = _distinct(records, "pages")
    count = np.fromiter((is_page_count(v) for v in p_values), bool, len(p_values))[p_codes]
    combo = pd.factorize(pd.MultiIndex.from_arrays([pt_codes, j_codes, v_codes, count]), sort=False)
    combo_codes, combo_values = combo
    source_kinds = _obj(
        source_kind(pt_values[t] or "", _text(j_values[j]) or "", _text(v_values[v]) or "", bool(c))
        for t, j, v, c in combo_values
    )[combo_codes]
    kinds = [combine_kinds(tk, sk) for tk, sk in zip(title_kinds, source_kinds, strict=True)]
    del title_kinds, source_kinds
    # The first author's whole name (given names too), kept for theses only: a thesis
    # and its Dissertation Abstracts entry have no volume or page in common.
    author_full = [""] * n
    first_col = _obj(first_values)[first_codes]
    for k in [k for k, kind in enumerate(kinds) if kind == "thesis"]:
        names = _names(authors_col.iat[k])
        author_full[k] = fold(_first_author_name(names, first_col[k]))
    del first_col
    d_codes, d_values = _distinct(records, "doi")
    dois = list(_per_value(d_codes, d_values, lambda d: norm_doi(d) or ""))
    m_codes, m_values = _distinct(records, "pmid")
    pmids = list(_per_value(m_codes, m_values, lambda p: norm_pmid(p) or ""))
    c_codes, c_values = _distinct(records, "accession")
    accession = list(
        _per_value(
            c_codes,
            c_values,
            lambda a: str(a).strip().upper() if isinstance(a, str) and a.strip() else "",
        )
    )
    shared_doi = _shared_ids(dois, titles, surnames)
    shared_pmid = _shared_ids(pmids, titles, surnames)
    shared_acc = _shared_ids(accession, titles, surnames)
    shared = [""] * n
    if shared_doi or shared_pmid or shared_acc:
        for k in range(n):
            marks = []
            if dois[k] and dois[k] in shared_doi:
                marks.append("doi")
            if pmids[k] and pmids[k] in shared_pmid:
                marks.append("pmid")
            if accession[k] and accession[k] in shared_acc:
                marks.append("accession")
            if marks:
                shared[k] = "|".join(marks)
    # A shared identifier is no identity (``*_id`` blank it), but two different
    # identifiers still conflict (``doi``, ``pmid``, ``accession`` keep it).
    ids_doi = [d if "doi" not in s else "" for d, s in zip(dois, shared, strict=True)]
    ids_pmid = [p if "pmid" not in s else "" for p, s in zip(pmids, shared, strict=True)]
    ids_acc = [a if "accession" not in s else "" for a, s in zip(accession, shared, strict=True)]
    feat = Features(
        title=_obj(titles),
        numbers=_interned("|".join(title_numbers(t)) for t in titles),
        digit_runs=_interned("|".join(title_digit_runs(t)) for t in titles),
        generic=np.fromiter((is_generic_title(t) for t in titles), dtype=bool, count=n),
        surname=surnames,
        surnames=Surnames(authors_col),
        year=years,
        journal=_obj(journals),
        journal_abbrev=_obj(abbrevs),
        event=np.asarray(event, dtype=bool),
        sources=np.asarray(sources, dtype=object),
        volume=_obj(_cached(lambda v: norm_volume(v) or "")(volume_raw)),
        issue=_obj(_cached(lambda v: norm_issue(v) or "")(issue_raw)),
        first_page=_interned(first_pages),
        last_page=_interned(last_pages),
        doi=_obj(dois),
        doi_alnum=None,
        pmid=_obj(pmids),
        accession=_obj(accession),
        doi_id=_obj(ids_doi),
        pmid_id=_obj(ids_pmid),
        accession_id=_obj(ids_acc),
        kind=_obj(kinds),
        author_full=_obj(author_full),
        shared=_obj(shared),
    )
    del titles
    codes = {name: _codes(getattr(feat, name)) for name in CODED}
    codes["source"] = source_code
    alnum = _obj(doi_alnum(d) for d in dois)
    object.__setattr__(feat, "doi_alnum", alnum)
    codes["doi_alnum"] = _codes(alnum)
    codes["doi_length"] = np.fromiter((len(a) for a in alnum), np.int32, n)
    # how many pages an article spans (last minus first page; 0 when unknown)
    codes["page_span"] = np.fromiter(
        (int(b) - int(a) if a and b else 0 for a, b in zip(first_pages, last_pages, strict=True)),
        np.int64,
        n,
    )
    codes["doi_suffix"] = _codes(_doi_suffix(d) for d in dois)
    object.__setattr__(feat, "codes", codes)
    return feat


def doi_alnum(doi: str) -> str:
    """A DOI without punctuation (``10.1160/th09-03-0165`` = ``10.1160/th-09-03-0165``)."""
    return re.sub(r"[^0-9a-z]+", "", doi) if doi else ""


def _doi_suffix(doi: str) -> str:
    """A DOI after its registrant prefix, when at least 8 characters long."""
    suffix = doi.partition("/")[2]
    return suffix if len(suffix) >= 8 else ""
