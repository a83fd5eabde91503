"""Normalised forms of the fields that deduplication compares.

Every function takes one value as exported (or ``None``) and returns the form that
two exports of the same article share, or ``None`` when nothing usable is left.
The rules come from the ways databases print one article differently (Hair et al.
2023, BMC Biology 21:189, Table 1; Rathbone et al. 2015, Systematic Reviews 4:6):
case, punctuation, diacritics, HTML/MathML markup, Greek letters spelled out or not,
translated-title markers such as ``[Chinese]``, abbreviated page ranges (``123-9``),
journal abbreviations, and page ranges that a spreadsheet turned into dates
(``06-Oct`` for ``6-10``).
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache, lru_cache
from urllib.parse import unquote

__all__ = [
    "fold",
    "norm_title",
    "title_numbers",
    "title_digit_runs",
    "norm_surname",
    "first_author_of",
    "norm_journal_tokens",
    "journals_compatible",
    "parse_pages",
    "is_page_count",
    "norm_volume",
    "norm_doi",
    "norm_pmid",
    "dois_equivalent",
    "record_kind",
]

_TAG = re.compile(r"<[^>]{0,200}>")
# Sub- and superscripts that Web of Science prints in parentheses: "G(M1)" for the
# ganglioside "GM1", "T(H)17" for "TH17", "C(max)" for "Cmax" (PubMed prints them run
# together). A short word of 1-2 letters followed at once by 1-3 letters or digits in
# parentheses is joined up; "(vol 3)" or "disease (CKD)" (a space before) is not.
_SCRIPT = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,2})\(([A-Za-z0-9]{1,3})\)(?![A-Za-z(])")
# "[Chinese]", "[Article in German]", "[in Japanese]", "[abstract]" ... anywhere.
_LANG_NOTE = re.compile(
    r"\[\s*(?:article\s+in\s+|in\s+)?[A-Za-z][A-Za-z ,;-]{1,40}\s*(?:abstract)?\s*\]\s*\.?",
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LANGUAGES = (
    "afrikaans|arabic|bulgarian|chinese|croatian|czech|danish|dutch|english|estonian|"
    "finnish|french|german|greek|hebrew|hungarian|icelandic|italian|japanese|korean|"
    "latvian|lithuanian|norwegian|persian|polish|portuguese|romanian|russian|serbian|"
    "slovak|slovene|slovenian|spanish|swedish|turkish|ukrainian|multiple languages"
)
# Ovid's "English title. German\nOriginal-language title": keep the English title.
_LANG_TAIL = re.compile(r"[.?!]\s*(?:" + _LANGUAGES + r")\s*(?:\n.*)?$", re.IGNORECASE | re.DOTALL)
_DIGITS = re.compile(r"\d+")
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")


def _greek_name(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER ") or name.startswith("GREEK CAPITAL LETTER "):
        word = name.split(" LETTER ", 1)[1].split(" WITH ")[0].lower()
        return {"lamda": "lambda"}.get(word, word)
    if name == "MICRO SIGN":
        return "mu"
    return None


def _unmojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1 (``KÃ¶nig`` -> ``König``), which some exports carry."""
    if not _MOJIBAKE.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    greek = _greek_name(ch)
    if greek is not None:
        return " " + greek + " " if len(greek) > 1 else greek
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits separated by single spaces.

    Greek letters become their names (``α`` -> ``alpha``, so ``TNF-α`` and
    ``TNF-alpha`` agree), other letters lose their diacritics (NFKD, combining marks
    dropped), everything else is a separator.
    """
    if not text.isascii():
        text = _unmojibake(text)
        text = "".join(ch if ch.isascii() else _fold_char(ch) for ch in text)
    return _NON_ALNUM.sub(" ", text.lower()).strip()


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if type(value).__name__ == "NAType":  # pandas' NA (Arrow-backed columns)
        return None
    text = str(value).strip()
    return text or None


def _strip_trailing_notes(text: str) -> str:
    """Remove bracketed notes at the end of a title (MEDLINE/Ovid annotations such as
    ``[Erratum appears in Brain Inj. 2013;27(3):377]``, ``[corrected]``, ``[Chinese]``),
    nested brackets included; a title that is wholly in brackets (MEDLINE's translated
    titles) is unwrapped instead."""
    for _ in range(5):
        stripped = text.rstrip(" .")
        if not stripped.endswith("]"):
            break
        depth = 0
        start = -1
        for k in range(len(stripped) - 1, -1, -1):
            if stripped[k] == "]":
                depth += 1
            elif stripped[k] == "[":
                depth -= 1
                if depth == 0:
                    start = k
                    break
        if start < 0:
            break
        head = stripped[:start].rstrip(" .")
        if sum(c.isalnum() for c in head) < 10:
            if start == 0:  # "[Translated title]."
                text = stripped[1:-1]
            break
        text = head
    return text


def norm_title(value: object) -> str | None:
    """Title for comparison: markup, entities and ``[Chinese]``-style notes removed, then
    :func:`fold`. A title with no letters or digits left gives ``None``."""
    text = _text(value)
    if text is None:
        return None
    text = html.unescape(_TAG.sub(" ", html.unescape(text)))
    text = _SCRIPT.sub(r"\1\2", text)
    text = _strip_trailing_notes(text)
    text = _LANG_NOTE.sub(" ", text)
    text = _LANG_TAIL.sub("", text)
    folded = fold(text)
    return folded or None


# Number words as digits: Web of Science prints "in 2 domestic dogs" where PubMed
# prints "in two domestic dogs" (its style sheet spells small numbers as digits).
_NUMBER_WORDS = {
    w: str(k)
    for k, w in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six")
        + ("seven", "eight", "nine", "ten", "eleven", "twelve")
    )
}


def title_numbers(norm: str | None) -> tuple[str, ...]:
    """The standalone numbers of a normalised title, in order (``48-week results`` vs
    ``12-week``, ``Part 1`` vs ``Part 2`` are different reports). Digits inside a word
    (``Ca2``, ``alpha1a``, ``31P``) are left out: superscripts and formulas are printed
    differently by databases. Leading zeros are dropped. The number words ``zero`` to
    ``twelve`` count as their digits (``two dogs`` = ``2 dogs``)."""
    if not norm:
        return ()
    return tuple(
        w.lstrip("0") or "0" if w.isdigit() else _NUMBER_WORDS[w]
        for w in norm.split()
        if w.isdigit() or w in _NUMBER_WORDS
    )


def title_digit_runs(norm: str | None) -> tuple[str, ...]:
    """Runs of digits of a normalised title once its spaces are removed (``11 C`` and
    ``11C`` agree, ``21 st century`` and ``21st century`` too)."""
    if not norm:
        return ()
    return tuple(n.lstrip("0") or "0" for n in _DIGITS.findall(norm.replace(" ", "")))


def norm_surname(value: object) -> str | None:
    """Surname for comparison: folded, spaces removed (``van der Heijde`` ->
    ``vanderheijde``)."""
    text = _text(value)
    if text is None:
        return None
    folded = fold(text).replace(" ", "")
    return folded or None


# A word that starts with initials: "WP", "A.", "M.Gil" (run-together export), "K.-H."
_INITIALS = re.compile(r"^[A-Z](?:\.|-[A-Z]|[A-Z]{0,3}(?:$|\.))")


def first_author_of(authors: object) -> str | None:
    """Surname of the first author from an author string as exported.

    Handles ``Surname, G.``, ``Surname G.`` (MEDLINE), ``Surname, Given and ...``
    (BibTeX) and the run-together form ``Surname A. B.Other C.`` of some exports.
    """
    text = _text(authors)
    if text is None:
        return None
    first = re.split(r"\s+and\s+|;|\n", text, maxsplit=1)[0].strip()
    if "," in first:
        return first.split(",", 1)[0].strip() or None
    # "Przyklenk K.Kloner R. A." -> "Przyklenk"; "Maksymowych WP" -> "Maksymowych"
    words = first.split()
    keep = []
    for word in words:
        if keep and _INITIALS.match(word):
            break
        keep.append(word)
    return " ".join(keep) or None


# Words that journal names and their ISO 4 abbreviations drop.
_JOURNAL_STOP = frozenset(
    ["the", "of", "and", "for", "in", "on", "a", "an", "de", "la", "le", "les"]
    + ["der", "die", "und", "des", "du", "et", "y"]
)


@lru_cache(maxsize=1 << 14)
def norm_journal_tokens(value: str) -> tuple[str, ...]:
    """Words of a journal name, folded, without stop words (``The Journal of
    rheumatology`` -> ``('journal', 'rheumatology')``)."""
    text = value.split(" = ")[0]  # "Zhonghua Yi Xue Za Zhi = National Medical Journal..."
    return tuple(w for w in fold(text).split() if w not in _JOURNAL_STOP)


def journals_compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether one journal name can be an abbreviation of the other.

    True when every word of one name stands for a word of the other, in order, where
    the other may have words more (ISO 4 abbreviations keep word order and cut words:
    ``Ann Rheum Dis`` = ``Annals of the Rheumatic Diseases``). A word stands for
    another when it starts it, or keeps its first letter and drops others (``Natl`` =
    national; British and American spellings agree, ``Haematol`` = hematology), or
    when it is an acronym of a run of the other's words (``BMJ`` = British Medical
    Journal, ``MIS Quarterly`` = Management Information Systems Quarterly, ``AMCIS
    2017 Proceedings`` = Americas Conference on Information Systems). Also true when
    the words are split or joined differently (``Neuro Endocrinol Lett`` =
    ``Neuroendocrinology Letters``). Both names must start alike: a name is not the
    end of another (``Transplantation`` vs Journal of Heart and Lung
    Transplantation). Numbers, ordinals and words such as ``proceedings`` are left out
    first. Empty names are compatible.
    """
    if not a or not b or a == b:
        return True
    a, b = _spelling(source_words(a)), _spelling(source_words(b))
    if not a or not b or a == b:
        return True
    if _stands_for(a, b) or _stands_for(b, a):
        return True
    # Words split or joined differently ("Neuro Endocrinol Lett" = "Neuroendocrinology
    # Letters"): every word of one must start somewhere in the other's letters, in order.
    for x, y in ((a, b), (b, a)):
        joined = "".join(y)
        if not joined.startswith(x[0]):
            continue
        pos = 0
        for word in x:
            k = joined.find(word, pos)
            if k < 0:
                break
            pos = k + len(word)
        else:
            return True
    return False


def _spelling(words: tuple[str, ...]) -> tuple[str, ...]:
    """British spellings as American ones (``haematology``, ``paediatrics``,
    ``oesophagus``, ``anaesthesia``)."""
    return tuple(re.sub(r"^oe", "e", w.replace("ae", "e")) if len(w) > 3 else w for w in words)


def _stands_for(x: tuple[str, ...], y: tuple[str, ...]) -> bool:
    """Every word of ``x``, in order, stands for one word of ``y`` or, as an acronym,
    for a run of them, starting with the first word of ``y``; words of ``y`` after
    the first may be left over (a subtitle, a place, a section: ``Am J Physiol`` =
    American Journal of Physiology - Heart and Circulatory Physiology), but not
    before it (``Transplantation`` is not Journal of Heart and Lung Transplantation).
    """

    @cache
    def fit(i: int, j: int) -> bool:
        if i == len(x):
            return True
        if len(y) - j < 1:
            return False
        word = x[i]
        for k in range(j, len(y) if i else min(1, len(y))):
            if _word_abbrev(word, y[k]) and fit(i + 1, k + 1):
                return True
            for r in range(2, min(len(y) - k, 8) + 1):
                if _acronym_of(word, y[k : k + r]) and fit(i + 1, k + r):
                    return True
        return False

    return fit(0, 0)


def _word_abbrev(short: str, long_: str) -> bool:
    if long_.startswith(short):
        return True
    return len(short) >= 3 and _subsequence(short, long_)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_PAGE_RANGE = re.compile(r"^\s*([A-Za-z]{0,3})(\d+)\s*[-\u2010-\u2015]+\s*([A-Za-z]{0,3})(\d+)")
_SECTION_RANGE = re.compile(r"^\s*([A-Za-z]+\d+)-(\d+)\s*-\s*\1-(\d+)\s*$")
_PAGE_ONE = re.compile(r"^\s*([A-Za-z]{0,3})(\d+)")
_EXCEL_DATE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})\s*$|^\s*([A-Za-z]{3})-(\d{1,2})\s*$")
# A count of pages, not a place: "215 p", "215 p.", "94 pp", "62 pages" (theses and
# books: ProQuest, PsycInfo). A page with a letter run on ("551P") is a page.
_PAGE_COUNT = re.compile(r"^\s*\d+\s+(?:p|pp|pages?)\.?\s*$", re.IGNORECASE)
# The length of an online article that has an article number instead of pages, run
# together: Zoological Record's "14pp." where Scopus gives the article number ("7").
# Not a place either, but no sign of a thesis (unlike "215 p" above): an article of a
# numbered volume and issue.
_PAGE_LENGTH = re.compile(r"^\s*\d+\s*pp\.?\s*$", re.IGNORECASE)
# Front matter numbered in roman before the pages (Zoological Record's "i-iv, 1-74" for
# a report that Scopus gives as "1-74"): the roman part is left out.
_ROMAN_FRONT = re.compile(
    r"^\s*[ivxlc]+\s*(?:[-\u2010-\u2015]+\s*[ivxlc]+\s*)?[,;]\s*(?=\d)", re.IGNORECASE
)


def parse_pages(value: object) -> tuple[str, str] | None:
    """First and last page as digit strings, the last expanded in full.

    ``123-9`` -> ``('123', '129')``; ``H887-94`` -> ``('887', '894')`` (letter prefixes
    of supplement or section pages are dropped: databases print them or not);
    ``e000430`` -> ``('430', '430')``; ``S4-76-S4-101`` -> ``('76', '101')``; a
    spreadsheet-made date ``06-Oct`` -> ``('6', '10')`` and ``Nov-20`` -> ``('11',
    '20')``; a page list ``351, 366-8`` -> ``('351', '368')`` (see
    :func:`_discontinued`); front matter in roman numerals is left out: ``i-iv,
    1-74`` -> ``('1', '74')``. ``None`` when no page number is found, or when the
    field is a count of pages (``215 p``: the length of a thesis or book, ``14pp.``:
    the length of an online article; neither says where it is printed).
    """
    text = _text(value)
    if text is None or _PAGE_COUNT.match(text) or _PAGE_LENGTH.match(text):
        return None
    text = _ROMAN_FRONT.sub("", text, count=1)
    m = _EXCEL_DATE.match(text)
    if m:
        if m.group(1):
            first, month = m.group(1), m.group(2).lower()
            if month in _MONTHS:
                return str(int(first)), str(_MONTHS[month])
        else:
            month, last = m.group(3).lower(), m.group(4)
            if month in _MONTHS:
                return str(_MONTHS[month]), str(int(last))
    m = _SECTION_RANGE.match(text)
    if m:  # "S4-76-S4-101": supplement 4, pages 76 to 101
        return m.group(2).lstrip("0") or "0", m.group(3).lstrip("0") or "0"
    m = _PAGE_RANGE.match(text)
    if m:
        first = m.group(2).lstrip("0") or "0"
        last = m.group(4).lstrip("0") or "0"
        if len(last) < len(first):
            last = first[: len(first) - len(last)] + last
        return first, _discontinued(text, first, last)
    m = _PAGE_ONE.match(text)
    if m:
        first = m.group(2).lstrip("0") or "0"
        return first, _discontinued(text, first, first)
    return None


# A further piece of a page list: ", 366-368" or "; 370" (digits only, not "author
# reply 222").
_PAGE_PIECE = re.compile(r"[,;]\s*(\d+)(?:\s*[-\u2010-\u2015]+\s*(\d+))?\s*(?=[,;]|$)")


def _discontinued(text: str, first: str, last: str) -> str:
    """The last page of a page list that an article continues on (MEDLINE's ``351,
    366-368``: page 351, then 366 to 368; another database prints ``366``): the last
    page of its last piece, when later in the issue than ``last``. Else ``last``."""
    if "," not in text and ";" not in text:
        return last
    end = int(last)
    for a, b in _PAGE_PIECE.findall(text):
        lo, hi = a.lstrip("0") or "0", (b.lstrip("0") or "0") if b else ""
        if hi and len(hi) < len(lo):
            hi = lo[: len(lo) - len(hi)] + hi
        end = max(end, int(hi or lo))
    return str(end) if end > int(first) else last


def is_page_count(value: object) -> bool:
    """Whether a pages field holds a count of pages (``215 p``) rather than a place."""
    text = _text(value)
    return text is not None and _PAGE_COUNT.match(text) is not None


_VOLUME = re.compile(r"\d+")


def norm_volume(value: object) -> str | None:
    """The volume number (first run of digits, no leading zeros): ``88 Suppl 1`` ->
    ``88``. ``None`` when it has no digits, or when it is a fragment cut from a longer
    field (``1)`` from ``31 (Supplement 1)``: an unbalanced bracket)."""
    text = _text(value)
    if text is None:
        return None
    if text.count("(") != text.count(")"):
        return None
    m = _VOLUME.search(text)
    if not m:
        return None
    return m.group(0).lstrip("0") or "0"


_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+")


def norm_doi(value: object) -> str | None:
    """DOI in lower case without resolver prefix or trailing punctuation; ``None``
    when the value holds no ``10.xxxx/...`` DOI."""
    text = _text(value)
    if text is None:
        return None
    if "%" in text:  # DOIs copied from URLs: 10.1016/s0022-5223%2895%2970228-8
        text = unquote(text)
    text = _DOI_PREFIX.sub("", text)
    m = _DOI.search(text)
    if not m:
        return None
    return m.group(0).rstrip(".,;").lower()


_NON_ALNUM_RAW = re.compile(r"[^0-9a-z]+")


def dois_equivalent(a: str, b: str) -> bool:
    """Whether two normalised DOIs are one DOI as printed differently.

    True when they are equal ignoring punctuation (``10.1160/th09-03-0165`` =
    ``10.1160/th-09-03-0165``), when one is the other cut short (a truncated export,
    at least 12 characters kept), or when their suffixes agree over at least 8
    characters under different registrant prefixes (``10.1080/ac.65.6.2059860`` =
    ``10.2143/ac.65.6.2059860``).
    """
    if a == b:
        return True
    x, y = _NON_ALNUM_RAW.sub("", a), _NON_ALNUM_RAW.sub("", b)
    if x == y:
        return True
    short, long_ = (x, y) if len(x) <= len(y) else (y, x)
    if len(short) >= 12 and long_.startswith(short):
        return True
    sa, sb = a.partition("/")[2], b.partition("/")[2]
    return len(sa) >= 8 and sa == sb


def norm_pmid(value: object) -> str | None:
    """PubMed id as digits without leading zeros."""
    text = _text(value)
    if text is None:
        return None
    digits = re.sub(r"\D", "", text)
    return (digits.lstrip("0") or None) if digits else None


_ERRATUM = re.compile(
    r"^(?:erratum|errata|correction|corrigendum|corrigenda|published erratum)\b"
    r"|\b(?:erratum|correction|corrigendum) (?:to|for|in|on|of)\b"
    # Web of Science titles a correction as the article it corrects followed by the
    # article's citation: "<title> (vol 104, pg 150, 2017)", "(vol 16, e0251071, 2021)"
    r"|" + r"\bvol \d+ (?:pg |p )?[a-z]?\d+ (?:1[89]|20)\d\d$"
)
# What a correction's title adds to the title of the article it corrects: a prefix
# ("Corrigendum to", "Erratum for", "Correction:") or Web of Science's citation suffix
# "(vol 104, pg 150, 2017)" (Scopus's "(Journal (2017) 104(PA) (150-159) ...)" is left:
# compare the cores by words, ``fuzz.token_set_ratio``).
_CORRECTION_PREFIX = re.compile(
    r"^(?:published )?(?:erratum|errata|correction|corrigendum|corrigenda)"
    r"(?: (?:to|for|in|on|of))?(?: the (?:article|paper))? "
)
_CORRECTION_SUFFIX = re.compile(r" vol \d+ (?:pg |p )?[a-z]?\d+ (?:1[89]|20)\d\d$")
_COMMENT = re.compile(
    r"^(?:comment|comments|commentary|reply|response|author reply|authors reply|re|"
    r"letter|in reply|editorial comment)\b(?: (?:on|to|re|by))?"
    r"|\b(?:comment on|reply to|response to|in response to)\b"
)
_RETRACTION = re.compile(r"^(?:retraction|retraction notice|notice of retraction|withdrawn)\b")
# Congress abstract numbers printed before the title: AB0870, SAT0307, FRI0270, OP0045,
# THU0123, P123, 1234 (ACR abstract numbers are digits only and are not used here).
_ABSTRACT_CODE = re.compile(r"^(?:[A-Z]{1,4}\d{2,5}[A-Z]?)\s+\S")
_CONFERENCE_TYPES = ("conference", "congress", "meeting", "proceeding", "abstract")
_REGISTRY = re.compile(
    r"clinicaltrials\.gov|clinicaltrialsregister|\bnct\d{8}\b|who\.int/trial|isrctn"
)
# A thesis record (RIS TY THES, PsycInfo "Dissertation"; volume "Ph.D." or "M.A."
# where a journal would have its volume) and the abstract journals that announce
# theses (Dissertation Abstracts International, Masters Abstracts International).
_THESIS_TYPE = re.compile(r"\b(?:thes|thesis|theses|dissertations?)\b")
_DEGREE = re.compile(
    r"^\s*(?:ph\.?\s?d|d\.?\s?phil|m\.?\s?phil|ed\.?\s?d|psy\.?\s?d|m\.?\s?sc|m\.\s?[as])\.?\s*$"
)
_THESIS_JOURNAL = re.compile(r"\b(?:dissertation|masters) abstracts\b")


def record_kind(
    title: object,
    publication_type: object = None,
    journal: object = None,
    volume: object = None,
    *,
    pages: object = None,
    folded_title: str | None = None,
) -> str:
    """What a record is, for the rule that records of different kinds are never one
    article: ``erratum``, ``comment`` (comments, letters in reply), ``retraction``,
    ``abstract`` (congress abstract), ``registry`` (trial registry entry), ``thesis``
    (a thesis, or its entry in Dissertation Abstracts International: a degree such as
    ``Ph.D.`` as volume, a count of pages such as ``215 p`` as pages, a thesis
    publication type) or ``article`` (anything else). ``abstract?`` marks a record
    whose journal or volume names a congress or meeting but that has no stronger sign
    of being an abstract.

    Publication types are read when the export has them (MEDLINE ``PT``, RIS ``TY``
    and keywords); otherwise the title, journal and volume are read.
    """
    raw_title = _text(title) or ""
    t = folded_title if folded_title is not None else fold(raw_title)
    types = " ".join(str(x) for x in publication_type) if _is_listlike(publication_type) else ""
    return combine_kinds(
        title_kind(raw_title, t),
        source_kind(types, _text(journal) or "", _text(volume) or "", is_page_count(pages)),
    )


def title_kind(raw_title: str, folded_title: str) -> str:
    """The part of :func:`record_kind` read from the title alone: ``erratum``,
    ``retraction``, ``comment``, ``abstract`` (a congress abstract number before the
    title) or ``""``."""
    t = folded_title
    if _ERRATUM.search(t):
        return "erratum"
    if _RETRACTION.search(t):
        return "retraction"
    # Title only: MEDLINE's "Comment" type marks letters that other databases file as
    # articles, so the type would split true duplicates.
    if _COMMENT.match(t):
        return "comment"
    if _ABSTRACT_CODE.match(raw_title):
        return "abstract"
    return ""


def correction_core(norm: str) -> str:
    """The title of the article a correction corrects, from the correction's
    normalised title: its prefix (``corrigendum to``, ``erratum for``, ``correction``)
    and its citation of the article (``vol 104 pg 150 2017``) removed. Two databases'
    records of one correction title it in these different ways."""
    core = _CORRECTION_PREFIX.sub("", norm, count=1)
    return _CORRECTION_SUFFIX.sub("", core, count=1) or norm


def combine_kinds(from_title: str, from_source: str) -> str:
    """:func:`record_kind` from its title part and its source part."""
    for kind in ("erratum", "retraction"):
        if kind in (from_title, from_source):
            return kind
    if from_title == "comment":
        return "comment"
    if from_title == "abstract" and from_source in ("article", "abstract?"):
        return "abstract"
    return from_source


@lru_cache(maxsize=1 << 16)
def source_kind(types: str, journal: str, volume: str, page_count: bool) -> str:
    """The part of :func:`record_kind` read from the publication types (joined by
    spaces), journal, volume and pages (values that repeat across records: cached)."""
    types = types.lower()
    if "erratum" in types:
        return "erratum"
    if "retraction of publication" in types:
        return "retraction"
    return _kind_of_source(types, journal, volume, page_count)


@lru_cache(maxsize=1 << 16)
def _kind_of_source(types: str, journal: str, volume: str, page_count: bool) -> str:
    """The part of :func:`record_kind` read from the publication types, journal,
    volume and pages (values that repeat across records: cached)."""
    where = journal.lower()
    if _REGISTRY.search(where):
        return "registry"
    vol = volume.lower()
    if (
        _THESIS_TYPE.search(types)
        or _THESIS_JOURNAL.search(where)
        or _DEGREE.match(vol)
        or page_count
    ):
        return "thesis"
    if any(k in types for k in _CONFERENCE_TYPES):
        return "abstract"
    if re.search(r"\b(abstracts?|congress|meeting|conference)\b", where + " " + vol):
        # Weak evidence: one database names the congress in the journal field, another
        # files the same abstract under the bare journal name.
        return "abstract?"
    return "article"


def _is_listlike(value: object) -> bool:
    return isinstance(value, list | tuple) or (
        hasattr(value, "__len__") and hasattr(value, "__iter__") and not isinstance(value, str)
    )


# --- field repair -------------------------------------------------------------------
#
# Exports put fields where they do not belong. Each repair below reads one such shape
# and is applied to the comparison keys only (the records table is left as exported).

#: Years outside this range are not publication years (an issue number, a page or a
#: typing error in the year field) and are treated as missing.
YEAR_MIN, YEAR_MAX = 1800, 2100


def plausible_year(value: object) -> int:
    """The year as an int when it can be a publication year, else ``-1``."""
    try:
        y = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1
    return y if YEAR_MIN <= y <= YEAR_MAX else -1


# Ovid/Embase "SO" citation strings exported into the journal field, e.g.
#   "Journal Name.178 (2-3) ()(pp 125-132) 2005.Date of Publication: March 2005."
#   "BMC Proceedings. Conference: ... Spain. 12 (Supplement 3) (no pagination), 2018. ..."
#   "J Clin Oncol. Conference: ... Conference Start: 20120601 ... 30 (15 SUPPL. 1) (pp 234), 2012."
# Embase CSV "Source": "Endoscopic Ultrasound (2014) 3:3 (152-160). Date of Publication: 2014"
# PubMed "Citation": "Eur J Med Genet. 2020 Feb;63(2):103640."
_CIT_SIGNAL = re.compile(
    r"date of publication|conference start|conference:|\(pp\b|no pagination|var\.?\s?pagings"
    r"|\.\s*\d+[A-Za-z]?\s*\([^()]*\)\s*(?:\(\s*\))?\s*\("
    r"|\(\d{4}\)\s*\d+\s*:\s*\S+\s*\(|\b\d{4}(?:\s+[A-Z][a-z]{2}(?:\s+\d{1,2})?)?\s*;\s*\d+\s*\(",
    re.IGNORECASE,
)
_CIT_OVID = re.compile(
    r"(?:^|\.)\s*(?P<volume>\d+(?:-\d+)?[A-Za-z]?)\s*"
    r"(?:\((?P<a>[^()]*(?:\([^()]*\)[^()]*)?)\))?\s*(?:\(\s*\))?\s*"
    r"(?:\((?P<b>[^()]*)\))?\s*,?\s*(?P<year>\d{4})\s*(?:\.|$)"
)
_CIT_EMBASE_CSV = re.compile(
    r"\((?P<year>\d{4})\)\s*(?P<volume>\d+[A-Za-z]?)(?:\s*:\s*(?P<issue>[^\s(]+))?"
    r"\s*(?:\((?P<pages>[^)]*)\))?"
)
_CIT_PUBMED = re.compile(
    r"\.\s*(?P<year>\d{4})[^;]{0,20};\s*(?P<volume>\d+[A-Za-z]?)\s*(?:\((?P<issue>[^)]*)\))?"
    r"\s*(?::\s*(?P<pages>[^.;\s]+))?"
)
_CIT_DATE_YEAR = re.compile(r"date of publication:[^.]*?(\d{4})", re.IGNORECASE)
_NO_PAGES = re.compile(r"^\s*(?:no pagination|var\.?\s?pagings?|n\.?\s?p\.?)\s*$", re.IGNORECASE)


def _cit_pages(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"^\s*pp?\.?\s*", "", text.strip(), flags=re.IGNORECASE)
    if not text or _NO_PAGES.match(text) or not re.search(r"\d", text):
        return None
    return text


def split_citation(value: object) -> dict | None:
    """Journal, volume, issue, pages and year of a whole citation exported into the
    journal field (Ovid/Embase ``SO``, Embase CSV ``Source``, PubMed ``Citation``);
    ``None`` when the field is a plain journal name. Values that cannot be read are
    left out of the dict."""
    text = _text(value)
    if text is None or not _CIT_SIGNAL.search(text):
        return None
    out: dict[str, str] = {}
    conf = re.search(r"\.\s*Conference\s*:", text, re.IGNORECASE)
    m = _CIT_PUBMED.search(text)
    if m and not conf and "date of publication" not in text.lower():
        name = text[: m.start()]
        out.update(
            volume=m.group("volume"),
            issue=m.group("issue"),
            pages=_cit_pages(m.group("pages")),
            year=m.group("year"),
        )
    else:
        m = _CIT_EMBASE_CSV.search(text)
        if m and not conf:
            name = text[: m.start()]
            out.update(
                volume=m.group("volume"),
                issue=m.group("issue"),
                pages=_cit_pages(m.group("pages")),
                year=m.group("year"),
            )
        else:
            tail_from = conf.end() if conf else 0
            # the last "volume (issue) (pages), year" of the string
            found = list(_CIT_OVID.finditer(text, tail_from))
            best = found[-1] if found else None
            if conf:
                name = text[: conf.start()]
            elif best is not None:
                name = text[: best.start()]
            else:
                name = re.split(r"\.\s*(?=[\d(])", text, maxsplit=1)[0]
            if best is None:  # a garbled volume ("1) (5)"): read what can be read
                pp = re.search(r"\(\s*pp\.?\s*([^()]*)\)", text[tail_from:], re.IGNORECASE)
                if pp:
                    out["pages"] = _cit_pages(pp.group(1))
                yr = re.search(r"\)\s*,?\s*(\d{4})\s*(?:\.|$)", text[tail_from:])
                if yr:
                    out["year"] = yr.group(1)
                vol = re.search(r"\.\s*(\d+(?:-\d+)?)\b", text[tail_from:])
                if vol:
                    out["volume"] = vol.group(1)
            if best is not None:
                a, b = best.group("a"), best.group("b")
                if (
                    b is None
                    and a is not None
                    and (re.match(r"\s*pp?\b", a, re.IGNORECASE) or _NO_PAGES.match(a))
                ):
                    a, b = None, a
                out.update(volume=best.group("volume"), issue=a, pages=_cit_pages(b))
                out["year"] = best.group("year")
    if "year" not in out or not out.get("year"):
        d = _CIT_DATE_YEAR.search(text)
        if d:
            out["year"] = d.group(1)
    out["journal"] = name.strip(" .,;")
    return {k: v.strip() for k, v in out.items() if v and v.strip()}


_EXCEL_MONTH_ISSUE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})\s*$")
_ISSUE = re.compile(r"^\s*(\d+)(?:\s*[-/\u2010-\u2015]\s*(\d+))?(?![\d.])")
_SUPPLEMENT = re.compile(r"\bsup|\bs\d|\bsp?l\b|\bpt\b|\bpart\b", re.IGNORECASE)


def norm_issue(value: object) -> str | None:
    """The issue as ``n`` or ``n-m`` (a double issue), for telling issues apart.

    ``01-Feb`` (a spreadsheet's date for ``1-2``) -> ``1-2``; ``13/14`` -> ``13-14``;
    ``3-B`` and ``6 46-6`` (pages run into the issue) -> ``3``, ``6``. Supplements and
    parts (``Suppl 1``, ``4 Suppl``, ``S1``, ``6 Pt 2``) give ``None``: databases print
    them as the issue or not at all, so they cannot tell two articles apart.
    """
    text = _text(value)
    if text is None:
        return None
    if _SUPPLEMENT.search(text):
        return None
    m = _EXCEL_MONTH_ISSUE.match(text)
    if m and m.group(2).lower() in _MONTHS:
        return f"{int(m.group(1))}-{_MONTHS[m.group(2).lower()]}"
    m = _ISSUE.match(text)
    if not m:
        return None
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) else a
    if b < a and len(m.group(2)) < len(m.group(1)):  # "1314-5"? keep the first only
        b = a
    if not a < b <= a + 3:
        return str(a)
    return f"{a}-{b}"


def issues_overlap(a: str, b: str) -> bool:
    """Whether two issues from :func:`norm_issue` can be one (``3`` and ``3-4`` can)."""
    if a == b:
        return True
    lo_a, _, hi_a = a.partition("-")
    lo_b, _, hi_b = b.partition("-")
    return int(lo_a) <= int(hi_b or lo_b) and int(lo_b) <= int(hi_a or lo_a)


# Titles that many different articles carry: an editorial column, a reply, an erratum
# notice, a journal's front matter. Such a title says nothing about which article a
# record is; its place (volume, issue, pages) or an identifier must agree.
_GENERIC_TITLE = re.compile(
    r"^(?:the\s+)?(?:"
    r"editorials?|editor s (?:comments?|notes?|introduction|letter|note|choice|corner|page)"
    r"|editors? (?:comments?|notes?|introduction|letter|note|choice|corner|page)"
    r"|editorial (?:introduction|comments?|notes?|board|statement|overview|preface)"
    r"|guest editorial|from the editors?|letter from the editors?|note from the editors?"
    r"|message from the (?:editors?|president|chair)|president s (?:message|column|page)"
    r"|introduction(?: to (?:the )?(?:special )?(?:issue|section|volume|supplement))?"
    r"|preface|foreword|prologue|epilogue|afterword|overview|commentary|comments?"
    r"|invited commentary|reply|replies|response|author s reply|authors reply|in reply"
    r"|reply to the letter|letters?(?: to the editor)?|correspondence|discussion"
    r"|erratum|errata|correction|corrections|corrigendum|corrigenda|retraction|addendum"
    r"|in this issue|this issue|highlights|news|research highlights|news and views"
    r"|book reviews?|reviews?|reviewers?|acknowledg(?:e)?ments?|thanks? to (?:our )?reviewers"
    r"|(?:annual )?index|author index|subject index|contents|table of contents"
    r"|abstracts?|(?:conference |meeting )?abstracts|poster(?: session)?s?|oral presentations?"
    r"|announcements?|call for papers|obituary|in memoriam|calendar|errors?"
    r"|untitled|no title|title not available|no title available|not available"
    r")(?: \d+)?$"
)
#: Titles of at most this many words are generic too ("Reperfusion injury").
GENERIC_WORDS = 2


def is_generic_title(norm: str | None) -> bool:
    """Whether a normalised title (:func:`norm_title`) is one that different articles
    carry: an editorial or front-matter heading, or a title of at most
    :data:`GENERIC_WORDS` words."""
    if not norm:
        return False
    if len(norm.split()) <= GENERIC_WORDS:
        return True
    return _GENERIC_TITLE.match(norm) is not None


# Words that name an event; a source holding one is a conference's proceedings, whose
# name databases print in many ways ("AMCIS 2017 Proceedings", "Americas Conference on
# Information Systems"), so two such names that do not match are not a conflict.
_EVENT = re.compile(
    r"\b(?:conference|conf|proceedings|proc|symposium|symp|congress|meeting|workshop"
    r"|colloquium|summit|convention|forum)\b"
)
# Words dropped before two source names are compared: numbers, ordinals, the words
# that only one printing of a proceedings' name carries.
_SOURCE_DROP = frozenset(
    ["proceedings", "proc", "annual", "electronic", "resource", "online", "print"]
)
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)?$")


def source_is_event(tokens: tuple[str, ...]) -> bool:
    """Whether folded source-name words name a conference or similar event."""
    return _EVENT.search(" ".join(tokens)) is not None


def _acronym_of(acr: str, words: tuple[str, ...]) -> bool:
    """Whether ``acr`` is made of non-empty starts of every word of ``words`` in
    order (``amcis`` = **Am**ericas **C**onference **I**nformation **S**ystems,
    ``bmj`` = **B**ritish **M**edical **J**ournal)."""
    if not words or len(acr) < len(words) or len(acr) > 3 * len(words):
        return False

    @cache
    def fit(pos: int, k: int) -> bool:
        if k == len(words):
            return pos == len(acr)
        word = words[k]
        for n in range(1, min(len(word), len(acr) - pos) + 1):
            if acr[pos : pos + n] != word[:n]:
                break
            if fit(pos + n, k + 1):
                return True
        return False

    return fit(0, 0)


def source_words(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """Journal-name words for comparison: numbers, ordinals and words such as
    ``proceedings`` or ``annual`` dropped."""
    return tuple(t for t in tokens if t not in _SOURCE_DROP and not _ORDINAL.match(t))


def _subsequence(short: str, long_: str) -> bool:
    """``short`` is an abbreviation of ``long_`` that keeps its first letter and drops
    letters (``natl`` = national, ``haematol`` or ``hematol`` = haematology)."""
    if not short or not long_ or short[0] != long_[0]:
        return False
    it = iter(long_)
    return all(c in it for c in short)
