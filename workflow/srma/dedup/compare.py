"""Decide, pair by pair, whether two records are one article.

How these rules were made (and how they are measured): the labelled sets in
``shared/datasets/dedup`` are split by set, decided before any rule below was
written. ``cardiac`` and ``stroke`` are the *tuning* sets (their misses and false
merges were looked at while designing); ``neuroimaging`` is the *test* set (only its
totals are reported, by ``benchmarks/dedup.py``; its records were not looked at).
``diabetes`` was a test set until its first run showed false merges; those were
looked at (the conference-name rule below was too loose) and it became a tuning set.
``restoration`` and ``spaniels`` (``benchmarks/data/dedup``, labelled from real
exports) were test sets, measured once, then became tuning sets for the rules of
issue 15 (corrections, replies, title markup, pages and DOIs printed otherwise).
``woodpecker`` (Scopus + Zoological Record) was a test set, measured once, then
became the tuning set of the second round of issue 15 (symposium papers in a
journal, series numbers filed as volume or issue, online articles' lengths and roman
front matter as pages, a title printed word for word in two places listed).
The field repairs were also checked on tuning sets with their Ovid records' journals
rewritten as Embase citation strings, and on the real exports in
``shared/datasets/exports`` (Embase ``Source`` strings). Each rule names its reason: a
way two different articles can look alike, or one article can look different.

*Hard conflicts* make a pair two articles whatever else agrees, and the pair is not
listed for a person:

- both have a DOI and they are not one DOI printed differently (punctuation, cut
  short, other registrant prefix) - except a "double DOI": title at the threshold and
  the same first author, year, volume and full page range (a publisher's old and new
  DOI), or one issue and two DOIs ending in one number under one prefix
  (:func:`doi_twins`);
- both have a PMID and they differ;
- different kinds (erratum, comment, retraction, congress abstract, registry entry,
  thesis vs article; Web of Science's correction titled ``<article title> (vol 104,
  pg 150, 2017)`` is an erratum, so it never joins the article it corrects; a
  record only weakly marked as an abstract - its journal field names a congress -
  conflicts only with a paper of 3 or more pages on other pages; a record typed as a
  conference paper whose source names no congress and whose pages span 3 or more
  is a symposium paper printed in a journal's issue, and no other kind than an
  article of the same page range: :func:`journal_paper`);
- different numbers in the title (``12-week`` vs ``48-week results``, ``part 1`` vs
  ``part 2``), counted both as words and as digit runs (``11 C`` = ``11C``), the
  words ``zero`` to ``twelve`` as digits (``2 dogs`` = ``two dogs``);
- years more than 2 apart.

An identifier held by records of more than one article (a congress supplement's DOI
given to each abstract, a journal-level DOI; see :mod:`srma.dedup.keys`) is no
identity: records are never matched by it, though a different DOI on the other
record still conflicts.

*Soft conflicts* keep a pair apart, but the pair is listed for a person when its
titles are alike, because exports garble these fields:

- years 2 apart (print vs online year is 1 apart and no conflict);
- both have a volume and they differ, unless both page ranges and the years agree
  (volumes are the field exports garble most); a series' number filed by one
  database as volume and by the other as issue (with no volume, or the year as
  volume) is one volume (:func:`volume_issue_swapped`);
- both have an issue and they cannot be one (``3`` vs ``5``; ``3`` and ``3-4`` can;
  supplements and parts are not compared): two issues are two articles, which is what
  tells a journal's recurring editorials apart;
- both have a first page and they differ (``123-9`` = ``123-129``) - unless the pair
  is one article of one issue (title at the threshold, same first author, year,
  volume and issue) whose pages one export slipped on: ranges that overlap, first
  pages one apart or one digit apart (:func:`pages_slip`);
- first authors unlike: surnames score < 75 (rapidfuzz ``fuzz.ratio``), neither
  contains the other, and neither is among the other record's first three authors
  (an author list reordered, a collective author put first) - unless the title
  reaches the threshold and volume and pages agree, and on a one-page item (a letter
  and its reply share page and title) the surnames still score at least
  :data:`LOOSE_SURNAME_MIN`;
- journal names that cannot be abbreviations or acronyms of each other, unless the
  volume and first page, or the page range and year, agree; two names of conferences
  are never a conflict (``AMCIS 2017 Proceedings`` = ``Americas Conference on
  Information Systems``, and many other printings), a conference and a journal are.

Without conflict, a pair is a duplicate when

- its title score (``fuzz.ratio`` of the normalised titles, 0-100) reaches
  ``title_threshold`` *and* something besides the title agrees: the first author, an
  identifier, the year and journal, the volume and first page, or the year and one of
  volume, issue or first page. A title score is evidence, not proof: identically
  titled reports of different authors and years exist;
- or the score reaches ``uncertain_threshold`` and the pair shares year, volume and
  first page, with first authors on both (a re-worded or translated title);
- or one title is the other cut at a word boundary (subtitle exported in another
  field) with the same support.

A *generic* title (an editorial heading, ``Reply``, ``Erratum``, front matter, or a
title of two words or fewer) says nothing about which article a record is: such a
pair also needs its place to agree (volume and issue or first page, first page and
year) or an identifier. Two theses (a thesis and its Dissertation Abstracts entry)
need the first author's whole name printed alike. A record without a title is never
merged by a rule.

Records sharing a DOI, PMID or accession (:func:`exact_pairs`) are duplicates unless
a hard conflict, a first-author conflict, unalike titles (score < 70, and not one cut
from the other) or unalike journals say the identifier was attached to the wrong
record; a generic title also needs issue, volume and pages not to conflict. Unlike
journal names do not split one DOI, one title, first author and year (a journal's
name printed otherwise), unless one names a congress. Two records of one correction
(both errata) compare their titles without ``Corrigendum to`` and the like
(:func:`~srma.dedup.normalise.correction_core`), word by word. Two
records with one identifier, the same first author, year and place (volume or first
page) are one article even when their titles are unalike (a title in two languages).
A database accession number names one record of one database, so two exports of
that record are one record even when the database changed its DOI between the
exports.

Every candidate pair that is not merged is listed for a person (``uncertain.csv``)
when its :func:`review_priority` - the title score, plus what agrees, minus what
conflicts - reaches ``uncertain_threshold``, or when it has the same first author,
year, volume and first page and nothing in conflict (a translated title: listed from
a title score of :data:`REVIEW_STRONG_MIN`), or when its title is the other's word
for word (not generic) with the same first author and year and no hard conflict
(one congress abstract printed in two journals' supplements); most likely first.
Tuned on the tuning sets so that the list holds most of what the rules leave
unmerged while naming under 1 % of the records: hard conflicts weigh twice a soft
one, so a pair with one is listed only when nearly everything else agrees (a
publisher's two DOIs).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from srma.dedup.keys import Features, surnames_compatible
from srma.dedup.normalise import correction_core, issues_overlap, journals_compatible

__all__ = [
    "score_pairs",
    "exact_pairs",
    "review_priority",
    "EXACT_TITLE_MIN",
    "REVIEW_STRONG_MIN",
    "REVIEW_MIN",
]

#: Title score below which two records sharing an identifier are not merged (unless
#: first author, year and place agree: one article with its title in two languages).
EXACT_TITLE_MIN = 70.0
#: Title score from which two records sharing an identifier (and not a volume
#: conflict) join even when their page ranges are printed differently.
EXACT_STRONG_TITLE = 95.0
#: Shortest title (characters, normalised) accepted as the start of another title.
PREFIX_MIN = 20
#: Title score from which a pair with the same first author, year, volume and first
#: page is listed for a person when it is not merged (translated titles).
REVIEW_STRONG_MIN = 50.0
#: :func:`review_priority` from which a pair that is not merged is listed for a person
#: (``None``: the ``uncertain_threshold``).
REVIEW_MIN: float | None = None


def _both_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Both present (code >= 0) and different."""
    return (a >= 0) & (b >= 0) & (a != b)


def _both_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Both present (code >= 0) and equal."""
    return (a >= 0) & (a == b)


def title_scores(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``fuzz.ratio`` of the normalised titles of each pair (NaN when one is empty)."""
    if len(i) == 0:
        return np.empty(0)
    s = process.cpdist(feat.title[i], feat.title[j], scorer=fuzz.ratio, dtype=np.float64)
    empty = (feat.title[i] == "") | (feat.title[j] == "")
    s = np.asarray(s, dtype=np.float64)
    s[empty] = np.nan
    return s


def _pairwise(a: np.ndarray, b: np.ndarray, values: np.ndarray, test) -> np.ndarray:
    """``test(values[a], values[b])`` for code pairs ``(a, b)`` (all >= 0), called once
    per distinct pair of codes."""
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    key = a.astype(np.int64) * (len(values) + 1) + b.astype(np.int64)
    inverse, uniq = pd.factorize(key, sort=False)
    ua, ub = uniq // (len(values) + 1), uniq % (len(values) + 1)
    ok = np.fromiter(
        (test(values[x], values[y]) for x, y in zip(ua, ub, strict=True)), bool, len(uniq)
    )
    return ok[inverse]


def _surname_values(feat: Features) -> np.ndarray:
    values = getattr(feat, "_surname_values", None)
    if values is None:
        # codes["surname"] number the distinct surnames as pd.factorize does ("",
        # missing, keeps its place in this list but has code -1)
        values = np.asarray(pd.factorize(feat.surname, sort=False)[1], dtype=object)
        object.__setattr__(feat, "_surname_values", values)
    return values


def _surnames_alike(feat: Features, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(both, alike)``: both first authors present, and their surnames can be one
    person's (:func:`~srma.dedup.keys.surnames_compatible`)."""
    ca, cb = feat.codes["surname"][i], feat.codes["surname"][j]
    both = (ca >= 0) & (cb >= 0)
    alike = both & (ca == cb)
    todo = np.flatnonzero(both & (ca != cb))
    if len(todo):
        alike[todo] = _pairwise(ca[todo], cb[todo], _surname_values(feat), surnames_compatible)
    return both, alike


def _author_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """First authors unlike (see module doc), both present."""
    both, alike = _surnames_alike(feat, i, j)
    out = both & ~alike
    for k in np.flatnonzero(out):
        x, y = feat.surname[i[k]], feat.surname[j[k]]
        # author order changed or a collective author first: the first author of one
        # among the first authors of the other
        if any(surnames_compatible(x, s) for s in feat.surnames[j[k]][1:]) or any(
            surnames_compatible(y, s) for s in feat.surnames[i[k]][1:]
        ):
            out[k] = False
    return out


#: Surname score (``fuzz.ratio``) from which two first authors of records on one
#: page under one title may be one person printed otherwise ("Cai" and "Tsai" score
#: 57; a letter's and its reply's authors, "Rusbridge" and "Stern-Bertholtz", 26).
LOOSE_SURNAME_MIN = 50.0


def _surnames_loosely_alike(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both first authors present and their surnames score at least
    :data:`LOOSE_SURNAME_MIN`."""
    out = np.zeros(len(i), dtype=bool)
    for k in range(len(i)):
        a, b = feat.surname[i[k]], feat.surname[j[k]]
        out[k] = bool(a and b) and fuzz.ratio(a, b) >= LOOSE_SURNAME_MIN
    return out


def _author_agrees(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return _surnames_alike(feat, i, j)[1]


@lru_cache(maxsize=1 << 18)
def _names_compatible(names_x: tuple, names_y: tuple) -> bool:
    return any(journals_compatible(p, q) for p in names_x for q in names_y)


def _journal_compare(feat: Features, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(agree, conflict)``: both have a source name and the names are compatible;
    both have one, they are not, and they do not both name a conference."""
    ca, cb = feat.codes["source"][i], feat.codes["source"][j]
    both = (ca >= 0) & (cb >= 0)
    agree = both & (ca == cb)
    todo = np.flatnonzero(both & (ca != cb))
    conflict = np.zeros(len(i), dtype=bool)
    if len(todo):
        ok = _pairwise(ca[todo], cb[todo], feat.sources, _names_compatible)
        agree[todo] = ok
        ev = feat.event
        # two printings of a conference's name vary beyond abbreviation; a journal
        # and a conference are two places
        conflict[todo] = ~ok & ~(ev[i[todo]] & ev[j[todo]])
    return agree, conflict


def _issue_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = _both_differ(feat.codes["issue"][i], feat.codes["issue"][j])
    iss = feat.issue
    for k in np.flatnonzero(out):
        if issues_overlap(iss[i[k]], iss[j[k]]):
            out[k] = False
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
    two page ranges differ. A paper of a symposium printed in a journal's issue
    (:func:`journal_paper`) is no congress abstract beside an ``article`` of the same
    page range."""
    same_pages = _same_pages(feat, i, j)
    ki, kj = feat.kind[i], feat.kind[j]
    differ = ki != kj
    weak = ((ki == "abstract?") & (kj == "article")) | ((kj == "abstract?") & (ki == "article"))
    if weak.any():
        art = np.where(ki == "article", i, j)
        span = feat.codes["page_span"][art]
        differ = differ & ~(weak & ((span < 2) | same_pages))
    paper = (
        differ
        & same_pages
        & (((ki == "abstract") & (kj == "article")) | ((kj == "abstract") & (ki == "article")))
    )
    if paper.any():
        conf = np.where(ki == "abstract", i, j)
        differ = differ & ~(paper & journal_paper(feat, conf))
    return differ


def journal_paper(feat: Features, k: np.ndarray) -> np.ndarray:
    """Records typed as conference papers (kind ``abstract``) that are papers of a
    symposium printed in a journal's issue: the source names no congress (``Acta
    Ornithologica``, ``Annales Zoologici Fennici``), and the pages span 3 or more
    pages (a congress abstract takes one or two). Scopus files such papers as
    "Conference Paper" with the journal as the proceedings' title; Zoological Record
    and the journal itself as articles."""
    return (feat.kind[k] == "abstract") & ~feat.event[k] & (feat.codes["page_span"][k] >= 2)


def volume_issue_swapped(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One record's issue is the other's volume, the first has no volume (or its year
    as volume) and the other no issue: a series numbered once, whose number one
    database files as the volume and another as the issue (Scopus: "Studies in Avian
    Biology" issue 30, and a report series' number 391 with the year 2018 as volume;
    Zoological Record: volume 30, volume 391). The two records agree on the volume."""
    c = feat.codes
    out = np.zeros(len(i), dtype=bool)
    for a, b in ((i, j), (j, i)):
        todo = np.flatnonzero((c["issue"][a] >= 0) & (c["issue"][b] < 0) & (c["volume"][b] >= 0))
        for k in todo:
            x, y = a[k], b[k]
            vol = feat.volume[x]
            if feat.issue[x] == feat.volume[y] and (not vol or vol == str(feat.year[x])):
                out[k] = True
    return out


def doi_conflict(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both records have a DOI and the DOIs are not one DOI printed differently
    (:func:`~srma.dedup.normalise.dois_equivalent`). Shared DOIs count as missing."""
    out = _both_differ(feat.codes["doi"][i], feat.codes["doi"][j])
    idx = np.flatnonzero(out)
    if len(idx):
        ii, jj = i[idx], j[idx]
        same = (feat.codes["doi_alnum"][ii] == feat.codes["doi_alnum"][jj]) | (
            (feat.codes["doi_suffix"][ii] >= 0)
            & (feat.codes["doi_suffix"][ii] == feat.codes["doi_suffix"][jj])
        )
        out[idx[same]] = False
        # one DOI cut short (see dois_equivalent): lengths differ, the shorter >= 12
        length = feat.codes["doi_length"]
        la, lb = length[i[idx]], length[j[idx]]
        cut = ~same & (la != lb) & (np.minimum(la, lb) >= 12)
        alnum = feat.doi_alnum
        for k in idx[cut]:
            a, b = alnum[i[k]], alnum[j[k]]
            if len(a) > len(b):
                a, b = b, a
            if b.startswith(a):
                out[k] = False
    return out


def _strong_support(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both have a first author (whether they agree is a conflict rule), and the same
    year, volume and first page."""
    return (
        (feat.codes["surname"][i] >= 0)
        & (feat.codes["surname"][j] >= 0)
        & (feat.year[i] > 0)
        & (feat.year[i] == feat.year[j])
        & _both_equal(feat.codes["volume"][i], feat.codes["volume"][j])
        & _both_equal(feat.codes["first_page"][i], feat.codes["first_page"][j])
    )


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


def _same_issue(
    feat: Features, i: np.ndarray, j: np.ndarray, score: np.ndarray, title_threshold: float
) -> np.ndarray:
    """Title at or above the threshold and not generic (an editor's column recurs), and
    the same first author (as printed), year, volume and issue (all present), kind and
    title numbers, the kind not a congress abstract: one article of one issue. What
    else disagrees between two such records is a slip of one export (the rules below
    say which slips)."""
    c = feat.codes
    kind = feat.kind[i]
    return (
        (np.nan_to_num(score, nan=-1.0) >= title_threshold)
        & (c["surname"][i] >= 0)
        & (c["surname"][i] == c["surname"][j])
        & (feat.year[i] > 0)
        & (feat.year[i] == feat.year[j])
        & _both_equal(c["volume"][i], c["volume"][j])
        & _both_equal(c["issue"][i], c["issue"][j])
        & (c["kind"][i] == c["kind"][j])
        & (kind != "abstract")
        & (kind != "abstract?")
        & (c["numbers"][i] == c["numbers"][j])
        & ~feat.generic[i]
        & ~feat.generic[j]
    )


_DOI_TAIL = re.compile(r"(\d{5,})$")


def doi_twins(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The two DOIs have one registrant prefix and end in one number of 5 or more
    digits: a publisher's two DOI schemes for one article (BMJ's Veterinary Record
    ``10.1136/vetrec-2019-105467`` and ``10.1136/vr.105467``). Only evidence together
    with :func:`_same_issue`."""
    out = np.zeros(len(i), dtype=bool)
    for k in np.flatnonzero(_both_differ(feat.codes["doi"][i], feat.codes["doi"][j])):
        a, b = feat.doi[i[k]], feat.doi[j[k]]
        ta, tb = _DOI_TAIL.search(a), _DOI_TAIL.search(b)
        out[k] = bool(
            ta and tb and ta.group(1) == tb.group(1) and a.partition("/")[0] == b.partition("/")[0]
        )
    return out


def _digits_one_apart(a: str, b: str) -> bool:
    """Two page numbers one apart (``859`` vs ``860``: a page range counted from the
    cover or not) or with one digit mistyped (``968`` vs ``988``)."""
    if not (a.isdigit() and b.isdigit()):
        return False
    if abs(int(a) - int(b)) == 1:
        return True
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def pages_slip(feat: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both first pages present and different, but the page ranges overlap (a letter's
    pages ``491-492`` inside ``486-496`` given by another database) or the first pages
    are one apart or one digit apart: a slip of one export when everything else
    agrees (:func:`_same_issue`), not two articles."""
    c = feat.codes
    out = np.zeros(len(i), dtype=bool)
    for k in np.flatnonzero(_both_differ(c["first_page"][i], c["first_page"][j])):
        fa, fb = feat.first_page[i[k]], feat.first_page[j[k]]
        la, lb = feat.last_page[i[k]] or fa, feat.last_page[j[k]] or fb
        if _digits_one_apart(fa, fb):
            out[k] = True
        elif fa.isdigit() and fb.isdigit() and la.isdigit() and lb.isdigit():
            out[k] = int(fa) <= int(lb) and int(fb) <= int(la)
    return out


#: Names of the fields whose agreement a listed pair shows, in bit order.
EVIDENCE = ("identifier", "first author", "year", "journal", "volume", "issue", "pages")


def evidence(bits) -> list[str | None]:
    """The names of the fields that agree (``, ``-joined), from
    :meth:`Comparison.agree_bits`; ``None`` when none does."""
    return [
        ", ".join(name for k, name in enumerate(EVIDENCE) if int(b) >> k & 1) or None for b in bits
    ]


class Comparison:
    """Field by field comparison of pairs ``(i, j)``: boolean arrays ``*_eq`` (both
    present and agreeing) and ``*_ne`` (both present and in conflict)."""

    def __init__(self, feat: Features, i: np.ndarray, j: np.ndarray) -> None:
        c = feat.codes
        self.i, self.j = i, j
        yi, yj = feat.year[i], feat.year[j]
        both_years = (yi > 0) & (yj > 0)
        gap = np.abs(yi - yj)
        self.year_eq = both_years & (gap == 0)
        self.year_near = both_years & (gap <= 1)
        self.year_two = both_years & (gap == 2)
        self.year_far = both_years & (gap > 2)
        self.vol_eq = _both_equal(c["volume"][i], c["volume"][j])
        self.vol_ne = _both_differ(c["volume"][i], c["volume"][j])
        self.issue_eq = _both_equal(c["issue"][i], c["issue"][j])
        self.issue_ne = _issue_conflict(feat, i, j)
        swapped = volume_issue_swapped(feat, i, j)
        self.vol_eq |= swapped
        self.vol_ne &= ~swapped
        self.page_eq = _both_equal(c["first_page"][i], c["first_page"][j])
        self.page_ne = _both_differ(c["first_page"][i], c["first_page"][j])
        self.range_eq = self.page_eq & (c["last_page"][i] == c["last_page"][j])
        self.id_eq = (
            _both_equal(c["doi_id"][i], c["doi_id"][j])
            | _both_equal(c["pmid_id"][i], c["pmid_id"][j])
            | _both_equal(c["accession_id"][i], c["accession_id"][j])
        )
        self.doi_ne = doi_conflict(feat, i, j)
        self.pmid_ne = _both_differ(c["pmid"][i], c["pmid"][j])
        self.kind_ne = _kind_conflict(feat, i, j)
        self.numbers_ne = (c["numbers"][i] != c["numbers"][j]) & (
            c["digit_runs"][i] != c["digit_runs"][j]
        )
        self.numbers_both = (c["digit_runs"][i] >= 0) & (c["digit_runs"][j] >= 0)
        self.author_eq = _author_agrees(feat, i, j)
        self._feat = feat
        self._author_ne: np.ndarray | None = None
        self._journal: tuple[np.ndarray, np.ndarray] | None = None
        self.generic = feat.generic[i] | feat.generic[j]
        self.untitled = (feat.title[i] == "") | (feat.title[j] == "")

    @property
    def author_ne(self) -> np.ndarray:
        if self._author_ne is None:
            self._author_ne = _author_conflict(self._feat, self.i, self.j)
        return self._author_ne

    @property
    def journal_eq(self) -> np.ndarray:
        if self._journal is None:
            self._journal = _journal_compare(self._feat, self.i, self.j)
        return self._journal[0]

    @property
    def journal_ne(self) -> np.ndarray:
        if self._journal is None:
            self._journal = _journal_compare(self._feat, self.i, self.j)
        return self._journal[1]

    @property
    def place(self) -> np.ndarray:
        """Where the article is printed agrees: volume and issue or first page, or
        first page and year; or an identifier."""
        return (
            (self.vol_eq & (self.issue_eq | self.page_eq))
            | (self.page_eq & self.year_eq)
            | self.id_eq
        )

    def corroborated(self) -> np.ndarray:
        """Something besides the title agrees."""
        return (
            self.author_eq
            | self.id_eq
            | (self.year_eq & self.journal_eq)
            | (self.vol_eq & self.page_eq)
            | (self.year_near & (self.vol_eq | self.issue_eq | self.page_eq))
        )

    def agree_bits(self) -> np.ndarray:
        """The fields that agree as bits of :data:`EVIDENCE` (see :func:`evidence`)."""
        bits = np.zeros(len(self.i), dtype=np.int16)
        for k, mask in enumerate(
            (
                self.id_eq,
                self.author_eq,
                self.year_eq,
                self.journal_eq,
                self.vol_eq,
                self.issue_eq,
                self.page_eq,
            )
        ):
            bits |= mask.astype(np.int16) << k
        return bits

    def agreements(self) -> np.ndarray:
        return (
            self.id_eq.astype(int) * 2
            + self.author_eq
            + self.year_eq
            + self.journal_eq
            + self.vol_eq
            + self.issue_eq
            + self.page_eq
        )


def conflicts(
    cmp: Comparison,
    *,
    double_doi: np.ndarray | None = None,
    title_match: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(reason, soft, hard)``: the first hard conflict of each pair, else its first
    soft conflict (``""`` when none), and the numbers of soft and hard conflicts.
    Pairs marked in ``double_doi`` (see :func:`full_agreement`) are not in conflict
    for their DOIs; pairs marked in ``title_match`` (title at or above the threshold)
    whose volume and page range agree are not in conflict for their first authors
    (run-together or transliterated author fields)."""
    n = len(cmp.i)
    reason = np.full(n, "", dtype=object)
    hard = np.zeros(n, dtype=np.int64)
    soft = np.zeros(n, dtype=np.int64)

    def mark(mask: np.ndarray, why: str, counter: np.ndarray) -> None:
        reason[(reason == "") & mask] = why
        counter += mask

    dc = cmp.doi_ne
    if double_doi is not None:
        dc = dc & ~double_doi
    mark(dc, "different doi", hard)
    mark(cmp.pmid_ne, "different pmid", hard)
    mark(cmp.kind_ne, "different kind", hard)
    mark(cmp.numbers_ne & cmp.numbers_both, "different numbers in title", hard)
    mark(cmp.year_far, "years apart", hard)
    # Numbers in one title only: a title cut short ("... muscle" and "... muscle. 1.
    # Protection against ...") more often than another report.
    mark(cmp.numbers_ne & ~cmp.numbers_both, "numbers in one title only", soft)
    # A volume is the field exports garble most ("1)" cut from "31 (Suppl 1)"): when
    # both page ranges and the years agree, a volume difference is not a conflict.
    excused = cmp.range_eq & cmp.year_eq
    mark(cmp.year_two, "years 2 apart", soft)
    mark(cmp.vol_ne & ~excused, "different volume", soft)
    mark(cmp.issue_ne & ~excused, "different issue", soft)
    mark(cmp.page_ne, "different pages", soft)
    same_place = cmp.range_eq & (cmp.vol_eq | ~cmp.vol_ne)
    # ... but on a single page only for surnames that are still alike (a
    # transliteration: "Cai" and "Tsai"): a letter and the reply to it are printed on
    # one page under one title, and only their first authors tell them apart.
    one_page = cmp._feat.codes["page_span"][cmp.i] == 0
    waive_author = same_place & (title_match if title_match is not None else False)
    ask = np.flatnonzero(waive_author & one_page & cmp.author_ne)
    if len(ask):
        waive_author[ask] = _surnames_loosely_alike(cmp._feat, cmp.i[ask], cmp.j[ask])
    todo = np.flatnonzero(~waive_author)
    if len(todo):
        au = np.zeros(n, dtype=bool)
        au[todo] = cmp.author_ne[todo]
        mark(au, "different first author", soft)
    # Journal names are compared only when the place does not already agree:
    # abbreviations vary too much ("Eur J Cardiothorac Surg" = "European Journal of
    # Cardio-Thoracic Surgery", "(Maywood)", "(1985)") to overrule it.
    place_agrees = (cmp.vol_eq & cmp.page_eq) | (cmp.range_eq & cmp.year_eq)
    mark(cmp.journal_ne & ~place_agrees, "different journal", soft)
    return reason, soft, hard


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
            _both_equal(feat.codes["volume"][i], feat.codes["volume"][j])
            & _both_equal(feat.codes["first_page"][i], feat.codes["first_page"][j])
        )
        & ~((code[i] >= 0) & (code[i] == code[j]))
    )


def _title_prefix(a: str, b: str) -> bool:
    """One title is the other cut at a word boundary (title and subtitle exported in
    separate fields), and at least :data:`PREFIX_MIN` characters long."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= PREFIX_MIN and long_.startswith(short + " ")


def review_priority(
    score: np.ndarray, agreements: np.ndarray, soft: np.ndarray, hard: np.ndarray
) -> np.ndarray:
    """How likely a pair that was not merged is one article, for ordering the list
    for a person: the title score, plus 5 for every field that agrees (an identifier
    counts 2), minus 10 for every soft and 20 for every hard conflict."""
    return np.nan_to_num(score, nan=0.0) + 5.0 * agreements - 10.0 * soft - 20.0 * hard


def score_pairs(
    feat: Features,
    pairs: np.ndarray,
    *,
    title_threshold: float = 95.0,
    uncertain_threshold: float = 85.0,
    review_min: float | None = None,
) -> pd.DataFrame:
    """Score candidate pairs; returns the pairs to merge or to list (a pair that is
    neither is left out) with columns ``i, j, score, status (match|uncertain),
    reason, agree (bits, see :func:`evidence`), priority, double_doi, same_place``. A
    pair not merged is *uncertain* (listed for a person) when its
    :func:`review_priority` reaches ``review_min`` (default :data:`REVIEW_MIN`, else
    ``uncertain_threshold``)."""
    if review_min is None:
        review_min = REVIEW_MIN if REVIEW_MIN is not None else uncertain_threshold
    # In chunks, so that the memory for comparing pairs does not grow with their number.
    parts = [
        _score_chunk(
            feat,
            pairs[start : start + CHUNK],
            title_threshold=title_threshold,
            uncertain_threshold=uncertain_threshold,
            review_min=review_min,
        )
        for start in range(0, max(len(pairs), 1), CHUNK)
    ]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


#: Candidate pairs compared at a time.
CHUNK = 1 << 20


def _score_chunk(
    feat: Features,
    pairs: np.ndarray,
    *,
    title_threshold: float,
    uncertain_threshold: float,
    review_min: float,
) -> pd.DataFrame:
    i = pairs[:, 0].astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)
    j = pairs[:, 1].astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)
    score = title_scores(feat, i, j)
    strong_all = _strong_support(feat, i, j)
    s0 = np.nan_to_num(score, nan=-1.0)
    # One title the start of the other (a subtitle exported in another field), looked
    # for where first author and year, or the place, agree.
    c = feat.codes
    author_year = (
        (c["surname"][i] >= 0) & (c["surname"][i] == c["surname"][j])
        & (feat.year[i] > 0) & (feat.year[i] == feat.year[j])
    )  # fmt: skip
    prefix = np.zeros(len(i), dtype=bool)
    for k in np.flatnonzero((strong_all | author_year) & (s0 >= 0) & (s0 < uncertain_threshold)):
        prefix[k] = _title_prefix(feat.title[i[k]], feat.title[j[k]])
    # Records without a title are never merged by a rule, but a partner with the same
    # first author, year, volume and first page is listed for a person.
    untitled = (feat.title[i] == "") | (feat.title[j] == "")
    keep = (
        (s0 >= uncertain_threshold) | prefix | (strong_all & ((s0 >= REVIEW_STRONG_MIN) | untitled))
    )
    i, j, score, prefix = i[keep], j[keep], score[keep], prefix[keep]
    s0 = np.nan_to_num(score, nan=-1.0)
    cmp = Comparison(feat, i, j)
    # numbers in the part of a title that the other lacks (a cut title), or against
    # no title at all, say nothing
    cmp.numbers_ne &= ~prefix & ~cmp.untitled
    # One article of one issue (title, first author, year, volume, issue agree) whose
    # pages one export printed otherwise (overlapping, one apart, a digit mistyped):
    # not a page conflict, and its first pages do not split the cluster.
    same_issue = np.flatnonzero(_same_issue(feat, i, j, score, title_threshold))
    slip = np.zeros(len(i), dtype=bool)
    slip[same_issue] = pages_slip(feat, i[same_issue], j[same_issue])
    cmp.page_ne &= ~slip
    # A publisher's old and new DOI: all fields agree (full_agreement), or one issue
    # and DOIs that end in one number under one prefix (doi_twins).
    twins = np.zeros(len(i), dtype=bool)
    twins[same_issue] = doi_twins(feat, i[same_issue], j[same_issue])
    double = (full_agreement(feat, i, j, score, title_threshold) | (twins & ~cmp.page_ne)) & (
        cmp.doi_ne
    )
    at_threshold = s0 >= title_threshold
    reason, soft, hard = conflicts(cmp, double_doi=double, title_match=at_threshold)
    ok = reason == ""
    strong = _strong_support(feat, i, j)
    corroborated = cmp.corroborated()
    high = at_threshold & corroborated
    support = strong & ((s0 >= uncertain_threshold) | prefix)
    match = ok & (high | support)
    # A generic title (editorial, reply, front matter) needs its place to agree.
    generic_unplaced = cmp.generic & ~cmp.place
    match &= ~generic_unplaced
    # A thesis and its Dissertation Abstracts entry share no volume or page: the
    # first author's whole name must agree as printed, else a person decides.
    thesis_unsure = _thesis_needs_name(feat, i, j)
    match &= ~thesis_unsure
    # The title score behind the priority: a cut title counts as a similar one; a
    # generic title says little.
    ranked = np.where(prefix, np.maximum(s0, uncertain_threshold), s0)
    ranked = np.where(cmp.generic, ranked - 20.0, ranked)
    priority = review_priority(ranked, cmp.agreements(), soft, hard)
    # Listed for a person: likely enough by the priority, or a re-worded title with
    # first author, year, volume and first page in common and nothing in conflict.
    # Also listed: one title word for word (not generic) by one first author in one
    # year, nothing hard in conflict, printed in two places - a congress abstract
    # printed in two congresses' journal supplements (other journal, volume, issue
    # and pages: only a person can tell it from a duplicate publication).
    twice_printed = (s0 >= 100.0) & cmp.author_eq & cmp.year_eq & (hard == 0) & ~cmp.generic
    listed = ~match & (
        (priority >= review_min) | (strong & (hard == 0) & (soft == 0)) | twice_printed
    )
    status = np.where(match, "match", np.where(listed, "uncertain", "no"))
    why = np.where(match, "title", reason)
    why = np.where(match & (s0 < title_threshold), "same author, year, volume, page", why)
    why = np.where(match & prefix, "title is the start of the other", why)
    why = np.where(match & slip, "same issue, pages printed differently", why)
    why = np.where(match & double, "double doi", why)
    unsure = (status == "uncertain") & ok
    why = np.where(unsure, "title similar", why)
    why = np.where(unsure & prefix, "title is the start of the other", why)
    why = np.where(unsure & at_threshold & ~corroborated, "title alike, nothing else agrees", why)
    why = np.where(
        unsure & strong & ~support, "same author, year, volume, page; titles differ", why
    )
    why = np.where(unsure & generic_unplaced, "generic title, place does not agree", why)
    why = np.where(unsure & thesis_unsure, "thesis, first author's name differs", why)
    why = np.where(unsure & cmp.untitled, "no title; same author, year, volume, page", why)
    # only the pairs a later step uses: merged, or listed for a person
    used = status != "no"
    return pd.DataFrame(
        {
            "i": i[used],
            "j": j[used],
            "score": score[used],
            "status": status[used].astype(object),
            "reason": why[used].astype(object),
            "agree": cmp.agree_bits()[used],
            "priority": priority[used],
            "double_doi": (match & (double | slip))[used],
            "same_place": cmp.range_eq[used],
        }
    )


def soft_count(cmp: Comparison) -> np.ndarray:
    """Soft conflicts of pairs sharing an identifier (first author, journal, volume,
    first page, issue)."""
    return cmp.author_ne.astype(int) + cmp.journal_ne + cmp.vol_ne + cmp.page_ne + cmp.issue_ne


def hard_count(cmp: Comparison) -> np.ndarray:
    """Hard conflicts of pairs sharing an identifier."""
    return cmp.doi_ne.astype(int) + cmp.pmid_ne + cmp.kind_ne + cmp.year_far + cmp.numbers_ne


def exact_pairs(feat: Features, *, review_min: float = 85.0) -> pd.DataFrame:
    """Pairs of records that share a DOI, PMID or accession (shared identifiers left
    out, see :mod:`srma.dedup.keys`).

    Each record is paired with the first record (in table order) holding the same
    identifier, so a group of ``k`` records gives ``k - 1`` pairs. Columns: ``i, j,
    how (doi|pmid|accession), score, status (match|uncertain|no), reason, agree,
    priority, double_doi, same_place``; a pair that is not merged is *uncertain* when
    its :func:`review_priority` reaches ``review_min``.
    """
    frames = []
    for how in ("doi", "pmid", "accession"):
        values = getattr(feat, f"{how}_id")  # shared identifiers are no identity
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
                "agree": pd.Series(dtype="int16"),
                "priority": pd.Series(dtype="float64"),
                "double_doi": pd.Series(dtype=bool),
                "same_place": pd.Series(dtype=bool),
            }
        )
    out = pd.concat(frames, ignore_index=True)
    i = out["i"].to_numpy(dtype=np.int64)
    j = out["j"].to_numpy(dtype=np.int64)
    score = title_scores(feat, i, j)
    # Two records of one correction under one DOI: databases title it "Corrigendum to
    # <title>", "Erratum for <title>" or "<title> (vol 104, pg 150, 2017)" (Web of
    # Science), so their titles are compared without these additions, word by word
    # (Scopus appends the corrected article's whole citation).
    errata = np.flatnonzero((feat.kind[i] == "erratum") & (feat.kind[j] == "erratum"))
    for k in errata:
        a, b = feat.title[i[k]], feat.title[j[k]]
        if a and b:
            score[k] = fuzz.token_set_ratio(correction_core(a), correction_core(b))
    cmp = Comparison(feat, i, j)
    cmp.numbers_ne &= ~cmp.untitled  # against no title, numbers say nothing
    reason = np.full(len(i), "", dtype=object)

    def mark(mask: np.ndarray, why: str) -> None:
        reason[(reason == "") & mask] = why

    how = out["how"].to_numpy(dtype=object)
    same_title = np.nan_to_num(score, nan=0.0) >= EXACT_STRONG_TITLE
    # One database record exported twice (same accession, same title) whose DOI the
    # database corrected in between: the DOIs do not split it.
    one_record = cmp.doi_ne & (how == "accession") & same_title
    mark(cmp.untitled, "no title, same id")
    mark(cmp.doi_ne & ~one_record, "same id, different doi")
    mark(cmp.pmid_ne, "same id, different pmid")
    mark(feat.codes["kind"][i] != feat.codes["kind"][j], "same id, different kind")
    # An identifier attached to the wrong record: another first author, other years.
    mark(cmp.author_ne, "same id, different first author")
    mark(cmp.year_far, "same id, years apart")
    # A generic title (an editorial in every issue) needs its place not to conflict.
    mark(
        cmp.generic & (cmp.issue_ne | cmp.vol_ne | cmp.page_ne),
        "same id, generic title, other place",
    )
    unlike = np.nan_to_num(score, nan=100.0) < EXACT_TITLE_MIN
    for k in np.flatnonzero(unlike):
        unlike[k] = not _title_prefix(feat.title[i[k]], feat.title[j[k]])
    # One article with its title in two languages: same first author (as printed),
    # year and place, nothing in conflict.
    bilingual = (
        unlike
        & (feat.codes["surname"][i] >= 0)
        & (feat.codes["surname"][i] == feat.codes["surname"][j])
        & cmp.year_eq
        & (cmp.vol_eq | cmp.page_eq)
        & ~cmp.vol_ne
        & ~cmp.page_ne
        & ~cmp.issue_ne
        & ~cmp.numbers_ne
    )
    mark(unlike & ~bilingual, "same id, different title")
    # (a congress abstract given its later paper's DOI and pages: the journal tells)
    # One DOI, one title (score >= EXACT_STRONG_TITLE), the same first author and year
    # and no volume or page conflict, neither a congress: the journal's name is printed
    # otherwise ("TAG. Theoretical and applied genetics. Theoretische und angewandte
    # Genetik", "Journal of Veterinary Medicine Series A" for "Zentralblatt fur
    # Veterinarmedizin. Reihe A"), not another journal.
    journal_named_otherwise = (
        (how == "doi")
        & same_title
        & cmp.author_eq
        & cmp.year_eq
        & ~cmp.vol_ne
        & ~cmp.page_ne
        & ~feat.event[i]
        & ~feat.event[j]
        & np.isin(feat.kind[i], ("article", "erratum"))
    )
    mark(cmp.journal_ne & ~journal_named_otherwise, "same id, different journal")
    priority = review_priority(
        np.where(np.isnan(score), 0.0, score), cmp.agreements(), soft_count(cmp), hard_count(cmp)
    )
    # a record without a title that shares an identifier is always shown to a person
    listed = (priority >= (REVIEW_MIN if REVIEW_MIN is not None else review_min)) | cmp.untitled
    status = np.where(reason == "", "match", np.where(listed, "uncertain", "no"))
    # One identifier and one title: page ranges printed differently do not split them.
    strong = (same_title & ~cmp.vol_ne) | one_record
    return pd.DataFrame(
        {
            "i": i,
            "j": j,
            "double_doi": strong & (status == "match"),
            "how": how,
            "score": np.where(np.isnan(score), 100.0, score),
            "status": status.astype(object),
            "reason": np.where(
                bilingual & (status == "match"), "same id, title differs", reason
            ).astype(object),
            "agree": cmp.agree_bits(),
            "priority": priority,
            "same_place": cmp.range_eq,
        }
    )
