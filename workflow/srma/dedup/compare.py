"""Decide, pair by pair, whether two records are one article.

Rules (each from a way two different articles can look alike, or one article can
look different):

- A *conflict* makes a pair two articles whatever the title says:
  - both have a DOI and they are not one DOI printed differently (punctuation, cut
    short, other registrant prefix); except a "double DOI": title at the threshold and
    the same first author, year, volume and full page range;
  - both have a PMID and they differ;
  - different kinds (erratum, comment, retraction, congress abstract, registry entry,
    thesis vs article; a record only weakly marked as an abstract - its journal field
    names a congress - conflicts only with a paper of 3 or more pages on other pages);
  - years more than 1 apart (print vs online year are allowed);
  - both have a volume and they differ, unless both page ranges and the years agree
    (volumes are the field exports garble most);
  - both have a first page and they differ (``123-9`` = ``123-129``);
  - different numbers in the title (``12-week`` vs ``48-week results``, ``part 1`` vs
    ``part 2``), counted both as words and as digit runs (``11 C`` = ``11C``);
  - first authors' surnames unlike (rapidfuzz ratio < 75 and neither contains the
    other), unless the title reaches the threshold and volume and pages agree;
  - journal names that cannot be abbreviations of each other, unless volume and
    pages agree.
- Without conflict, a pair is a duplicate when its title score (rapidfuzz
  ``fuzz.ratio`` of the normalised titles, 0-100) reaches ``title_threshold``; or when
  the score reaches ``uncertain_threshold`` and the pair also shares year, volume and
  first page, with first authors on both (not in conflict: see above) - a re-worded or
  translated title of one paper; or when one title is the other cut at a word boundary
  (subtitle exported in another field) with the same support.
- Two theses (a thesis and its Dissertation Abstracts entry: no volume or page to
  compare, the thesis's pages field counts its pages) need, besides, the first
  author's whole name printed alike (``Yip, Chi Bun`` both times); else they are
  *uncertain*.
- Other conflict-free pairs scoring at least ``uncertain_threshold`` are *uncertain*:
  listed for a person.

Exact identifiers (DOI, PMID, accession) are compared in :func:`exact_pairs`: records
sharing one are duplicates unless their kinds differ, another identifier conflicts, or
their titles are unalike (score < 70, and not one cut from the other) or their
journals are (an identifier attached to the wrong record, e.g. a congress abstract
given its later paper's DOI). A database accession number names one record of one
database, so two exports of that record are one record even when the database
changed its DOI between the exports: records sharing an accession and a title
(score >= 95) are not split by their DOIs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from srma.dedup.keys import Features
from srma.dedup.normalise import journals_compatible

__all__ = ["score_pairs", "exact_pairs", "EXACT_TITLE_MIN"]

#: Title score below which two records sharing an identifier are not merged.
EXACT_TITLE_MIN = 70.0
#: Title score from which two records sharing an identifier (and not a volume
#: conflict) join even when their page ranges are printed differently.
EXACT_STRONG_TITLE = 95.0
#: First-author surname score below which two records have different first authors.
SURNAME_MIN = 75.0


def _both_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Both present (code >= 0) and different."""
    return (a >= 0) & (b >= 0) & (a != b)


def title_scores(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``fuzz.ratio`` of the normalised titles of each pair (NaN when one is empty)."""
    if len(i) == 0:
        return np.empty(0)
    s = process.cpdist(feat.title[i], feat.title[j], scorer=fuzz.ratio, dtype=np.float64)
    empty = (feat.title[i] == "") | (feat.title[j] == "")
    s = np.asarray(s, dtype=np.float64)
    s[empty] = np.nan
    return s


def _surname_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    a, b = feat.surname[i], feat.surname[j]
    both = (a != "") & (b != "") & (a != b)
    out = np.zeros(len(i), dtype=bool)
    idx = np.flatnonzero(both)
    if len(idx):
        s = process.cpdist(a[idx], b[idx], scorer=fuzz.ratio, dtype=np.float64)
        bad = np.asarray(s) < SURNAME_MIN
        for k in np.flatnonzero(bad):
            x, y = a[idx[k]], b[idx[k]]
            if x in y or y in x:
                bad[k] = False
        out[idx] = bad
    return out


def _journal_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = np.zeros(len(i), dtype=bool)
    for k, (x, y) in enumerate(zip(i, j, strict=True)):
        names_x = [n for n in (feat.journal[x], feat.journal_abbrev[x]) if n]
        names_y = [n for n in (feat.journal[y], feat.journal_abbrev[y]) if n]
        if names_x and names_y:
            out[k] = not any(journals_compatible(p, q) for p in names_x for q in names_y)
    return out


def _same_pages(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return (
        (feat.codes["first_page"][i] >= 0)
        & (feat.codes["first_page"][i] == feat.codes["first_page"][j])
        & (feat.codes["last_page"][i] == feat.codes["last_page"][j])
    )


def _kind_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Kinds differ; a record only weakly marked as a congress abstract (``abstract?``)
    conflicts with an ``article`` only when the article spans 3 or more pages and the
    two page ranges differ."""
    same_pages = _same_pages(feat, i, j)
    ki, kj = feat.kind[i], feat.kind[j]
    differ = ki != kj
    weak = ((ki == "abstract?") & (kj == "article")) | ((kj == "abstract?") & (ki == "article"))
    if weak.any():
        art = np.where(ki == "article", i, j)
        span = np.array(
            [
                int(feat.last_page[a]) - int(feat.first_page[a])
                if feat.first_page[a] and feat.last_page[a]
                else 0
                for a in art
            ]
        )
        differ = differ & ~(weak & ((span < 2) | same_pages))
    return differ


def doi_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both records have a DOI and the DOIs are not one DOI printed differently
    (:func:`~srma.dedup.normalise.dois_equivalent`)."""
    out = _both_differ(feat.codes["doi"][i], feat.codes["doi"][j])
    idx = np.flatnonzero(out)
    if len(idx):
        ii, jj = i[idx], j[idx]
        same = (feat.codes["doi_alnum"][ii] == feat.codes["doi_alnum"][jj]) | (
            (feat.codes["doi_suffix"][ii] >= 0)
            & (feat.codes["doi_suffix"][ii] == feat.codes["doi_suffix"][jj])
        )
        out[idx[same]] = False
        alnum = feat.doi_alnum
        for k in idx[~same]:  # one DOI cut short (see dois_equivalent)
            a, b = alnum[i[k]], alnum[j[k]]
            if len(a) > len(b):
                a, b = b, a
            if len(a) >= 12 and b.startswith(a):
                out[k] = False
    return out


def full_agreement(
    feat: Features, i: np.ndarray, j: np.ndarray, score: np.ndarray, title_threshold: float
) -> np.ndarray:
    """Title at or above the threshold, and the same first author, year, volume, first
    and last page (all present), kind and title numbers: one article even when its two
    records carry different DOIs (a publisher's old and new DOI: a "double DOI")."""
    return (
        (np.nan_to_num(score, nan=-1.0) >= title_threshold)
        & _strong_support(feat, i, j)
        & (feat.codes["surname"][i] == feat.codes["surname"][j])
        & (feat.codes["last_page"][i] >= 0)
        & (feat.codes["last_page"][i] == feat.codes["last_page"][j])
        & (feat.codes["kind"][i] == feat.codes["kind"][j])
        & (feat.codes["numbers"][i] == feat.codes["numbers"][j])
        & (feat.codes["digit_runs"][i] == feat.codes["digit_runs"][j])
    )


def conflicts(
    feat: Features,
    i: np.ndarray,
    j: np.ndarray,
    *,
    double_doi: np.ndarray | None = None,
    title_match: np.ndarray | None = None,
) -> np.ndarray:
    """Reason code of the first conflict of each pair (``""`` when none). Pairs marked
    in ``double_doi`` (see :func:`full_agreement`) are not in conflict for their DOIs;
    pairs marked in ``title_match`` (title at or above the threshold) whose volume and
    page range agree are not in conflict for their first authors (run-together or
    transliterated author fields)."""
    reason = np.full(len(i), "", dtype=object)

    def mark(mask: np.ndarray, why: str) -> None:
        reason[(reason == "") & mask] = why

    dc = doi_conflict(feat, i, j)
    if double_doi is not None:
        dc &= ~double_doi
    mark(dc, "different doi")
    mark(_both_differ(feat.codes["pmid"][i], feat.codes["pmid"][j]), "different pmid")
    mark(_kind_conflict(feat, i, j), "different kind")
    yi, yj = feat.year[i], feat.year[j]
    mark((yi > 0) & (yj > 0) & (np.abs(yi - yj) > 1), "years apart")
    same_pages = (
        (feat.codes["first_page"][i] >= 0)
        & (feat.codes["first_page"][i] == feat.codes["first_page"][j])
        & (feat.codes["last_page"][i] == feat.codes["last_page"][j])
    )
    # A volume is the field exports garble most ("1)" cut from "31 (Suppl 1)"): when
    # both page ranges and the years agree, a volume difference is not a conflict.
    same_year = (yi > 0) & (yi == yj)
    mark(
        _both_differ(feat.codes["volume"][i], feat.codes["volume"][j]) & ~(same_pages & same_year),
        "different volume",
    )
    mark(_both_differ(feat.codes["first_page"][i], feat.codes["first_page"][j]), "different pages")
    # Numbers differ both as standalone numbers and as digit runs: "12-week" vs
    # "48-week" (not "11 C" vs "11C", nor "Ca2+" vs "Ca")
    numbers_differ = (feat.codes["numbers"][i] != feat.codes["numbers"][j]) & (
        feat.codes["digit_runs"][i] != feat.codes["digit_runs"][j]
    )
    mark(numbers_differ, "different numbers in title")
    same_place = same_pages & (feat.codes["volume"][i] == feat.codes["volume"][j])
    waive_author = same_place & (title_match if title_match is not None else False)
    todo = np.flatnonzero((reason == "") & ~waive_author)
    if len(todo):
        sc = _surname_conflict(feat, i[todo], j[todo])
        reason[todo[sc]] = "different first author"
    # Journal names are compared only when volume and pages do not already agree:
    # abbreviations vary too much ("Eur J Cardiothorac Surg" = "European Journal of
    # Cardio-Thoracic Surgery", "(Maywood)", "(1985)") to overrule them.
    todo = np.flatnonzero((reason == "") & ~same_place)
    if len(todo):
        jc = _journal_conflict(feat, i[todo], j[todo])
        reason[todo[jc]] = "different journal"
    return reason


def _strong_support(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both have a first author (whether they agree is a conflict rule), and the same
    year, volume and first page."""
    return (
        (feat.codes["surname"][i] >= 0)
        & (feat.codes["surname"][j] >= 0)
        & (feat.year[i] > 0)
        & (feat.year[i] == feat.year[j])
        & (feat.codes["volume"][i] >= 0)
        & (feat.codes["volume"][i] == feat.codes["volume"][j])
        & (feat.codes["first_page"][i] >= 0)
        & (feat.codes["first_page"][i] == feat.codes["first_page"][j])
    )


def _thesis_needs_name(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both records are theses (a thesis or its Dissertation Abstracts entry), do not
    share volume and first page, and their first authors' whole names (given names
    too) are not the same as printed: title and surname alone are too little to
    tell two theses apart."""
    code = feat.codes["author_full"]
    return (
        (feat.kind[i] == "thesis")
        & (feat.kind[j] == "thesis")
        & ~(
            (feat.codes["volume"][i] >= 0)
            & (feat.codes["volume"][i] == feat.codes["volume"][j])
            & (feat.codes["first_page"][i] >= 0)
            & (feat.codes["first_page"][i] == feat.codes["first_page"][j])
        )
        & ~((code[i] >= 0) & (code[i] == code[j]))
    )


#: Shortest title (characters, normalised) accepted as the start of another title.
PREFIX_MIN = 20


def _title_prefix(a: str, b: str) -> bool:
    """One title is the other cut at a word boundary (title and subtitle exported in
    separate fields), and at least :data:`PREFIX_MIN` characters long."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= PREFIX_MIN and long_.startswith(short + " ")


def score_pairs(
    feat: Features,
    pairs: np.ndarray,
    *,
    title_threshold: float = 95.0,
    uncertain_threshold: float = 85.0,
) -> pd.DataFrame:
    """Score candidate pairs; returns the pairs scoring at least
    ``uncertain_threshold`` with columns ``i, j, score, status (match|uncertain|no),
    reason``."""
    i = pairs[:, 0].astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)
    j = pairs[:, 1].astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)
    score = title_scores(feat, i, j)
    strong_all = _strong_support(feat, i, j)
    prefix = np.zeros(len(i), dtype=bool)
    low = np.nan_to_num(score, nan=100.0) < uncertain_threshold
    for k in np.flatnonzero(strong_all & low):
        prefix[k] = _title_prefix(feat.title[i[k]], feat.title[j[k]])
    keep = (np.nan_to_num(score, nan=-1.0) >= uncertain_threshold) | prefix
    i, j, score, prefix = i[keep], j[keep], score[keep], prefix[keep]
    double = full_agreement(feat, i, j, score, title_threshold) & doi_conflict(feat, i, j)
    reason = conflicts(feat, i, j, double_doi=double, title_match=score >= title_threshold)
    ok = reason == ""
    strong = _strong_support(feat, i, j)
    match = ok & ((score >= title_threshold) | strong)
    # A thesis and its Dissertation Abstracts entry share no volume or page: the
    # first author's whole name must agree as printed, else a person decides.
    thesis_unsure = _thesis_needs_name(feat, i, j)
    match &= ~thesis_unsure
    status = np.where(match, "match", np.where(ok, "uncertain", "no"))
    reason = np.where(match & (score < title_threshold), "same author, year, volume, page", reason)
    reason = np.where(match & prefix, "title is the start of the other", reason)
    reason = np.where(match & double, "double doi", reason)
    reason = np.where(status == "uncertain", "title similar", reason)
    reason = np.where(
        (status == "uncertain") & thesis_unsure, "thesis, first author's name differs", reason
    )
    return pd.DataFrame(
        {
            "i": i,
            "j": j,
            "score": score,
            "status": status,
            "reason": reason,
            "double_doi": match & double,
        }
    )


def exact_pairs(feat: Features) -> pd.DataFrame:
    """Pairs of records that share a DOI, PMID or accession.

    Each record is paired with the first record (in table order) holding the same
    identifier, so a group of ``k`` records gives ``k - 1`` pairs. Columns: ``i, j,
    how (doi|pmid|accession), score, status (match|uncertain), reason``.
    """
    frames = []
    for how in ("doi", "pmid", "accession"):
        values = getattr(feat, how)
        frame = pd.DataFrame({"v": values, "j": np.arange(len(values))})
        frame = frame[frame["v"] != ""]
        if frame.empty:
            continue
        first = frame.groupby("v", sort=False)["j"].transform("min")
        frame = frame.assign(i=first)
        frame = frame[frame["i"] != frame["j"]]
        if frame.empty:
            continue
        frames.append(pd.DataFrame({"i": frame["i"], "j": frame["j"], "how": how}))
    if not frames:
        return pd.DataFrame(
            {
                "i": pd.Series(dtype="int64"),
                "j": pd.Series(dtype="int64"),
                "how": pd.Series(dtype=object),
                "score": pd.Series(dtype="float64"),
                "status": pd.Series(dtype=object),
                "reason": pd.Series(dtype=object),
            }
        )
    out = pd.concat(frames, ignore_index=True)
    i = out["i"].to_numpy(dtype=np.int64)
    j = out["j"].to_numpy(dtype=np.int64)
    score = title_scores(feat, i, j)
    reason = np.full(len(i), "", dtype=object)

    def mark(mask: np.ndarray, why: str) -> None:
        reason[(reason == "") & mask] = why

    how = out["how"].to_numpy(dtype=object)
    same_title = np.nan_to_num(score, nan=0.0) >= EXACT_STRONG_TITLE
    dc = doi_conflict(feat, i, j)
    # One database record exported twice (same accession, same title) whose DOI the
    # database corrected in between: the DOIs do not split it.
    one_record = dc & (how == "accession") & same_title
    mark(dc & ~one_record, "same id, different doi")
    mark(_both_differ(feat.codes["pmid"][i], feat.codes["pmid"][j]), "same id, different pmid")
    mark(feat.codes["kind"][i] != feat.codes["kind"][j], "same id, different kind")
    unlike = np.nan_to_num(score, nan=100.0) < EXACT_TITLE_MIN
    for k in np.flatnonzero(unlike):
        unlike[k] = not _title_prefix(feat.title[i[k]], feat.title[j[k]])
    mark(unlike, "same id, different title")
    mark(_journal_conflict(feat, i, j), "same id, different journal")
    status = np.where(reason == "", "match", "uncertain")
    # One identifier and one title: page ranges printed differently do not split them.
    strong = (same_title & ~_both_differ(feat.codes["volume"][i], feat.codes["volume"][j])) | (
        one_record
    )
    return pd.DataFrame(
        {
            "i": i,
            "j": j,
            "double_doi": strong & (status == "match"),
            "how": how,
            "score": np.where(np.isnan(score), 100.0, score),
            "status": status,
            "reason": reason,
        }
    )
