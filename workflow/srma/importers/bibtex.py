"""BibTeX (Zotero, JabRef, Mendeley, Scopus "BibTeX" export), read with bibtexparser 2.

bibtexparser does not stop on a block it cannot read: it returns it among
``library.failed_blocks``. srma checks them: a block whose only fault is a repeated
field that srma does not use (Scopus repeats ``funding_details``) is read from
bibtexparser's ``ignore_error_block``; any other failed block stops the import with its
record number and line. LaTeX in values (``{\\'e}``, ``{Cocker}``) is decoded with
bibtexparser's ``LatexDecodingMiddleware`` (pylatexenc), in the fields srma reads and
only in values that hold LaTeX syntax: decoding is most of the reading time (a Zotero
export of 1,000 entries: 37 s when every field of every entry went through it, most of
it in abstracts and in fields srma never reads), and a value without LaTeX syntax
decodes to itself (checked on the real exports by tests/test_import_real.py).
"""

from __future__ import annotations

import logging
import re

import bibtexparser
from bibtexparser.middlewares import LatexDecodingMiddleware
from bibtexparser.model import DuplicateFieldKeyBlock, Entry, Field

from srma.errors import InputError

from .normalise import first

DATABASE = "BibTeX"

#: Fields srma reads; a duplicate of any of them is an error (which one is meant?).
USED = {
    "title", "author", "year", "date", "journal", "journaltitle", "booktitle",
    "abbrev_source_title", "shortjournal", "journalabbreviation", "volume", "number",
    "issue", "pages", "doi", "pmid", "abstract", "keywords", "author_keywords", "language",
    "langid", "document_type", "url", "eid", "eprint", "art_number",
}  # fmt: skip

#: Fields kept as written: identifiers and links are verbatim text (a URL's ``%2f`` is no
#: LaTeX comment).
VERBATIM = {"doi", "pmid", "url", "eid", "eprint"}
#: A ``%`` or ``&`` without a backslash: Scopus writes them unescaped ("95% CI", "Taylor
#: & Francis"). LaTeX would read a comment (the rest of the value lost) and an alignment
#: tab; in a reference they are the characters themselves.
_BARE_RE = re.compile(r"(?<!\\)([%&])")
#: What LaTeX decoding can change: commands and escapes, groups, math, special
#: characters, and the ligatures ``--``, ``\`\``` and ``''``.
_LATEX_RE = re.compile(r"[\\{}$~%&^_#]|--|``|''")
#: Entries from which a terminal shows a progress bar.
PROGRESS_ENTRIES = 200

log = logging.getLogger(__name__)

_AND_RE = re.compile(r"\s+and\s+", re.I)
_EID_RE = re.compile(r"eid=(2-s2\.0-\d+)")


def decode_latex(entries: list[Entry], *, progress: bool = False) -> int:
    """Decode LaTeX in place in the fields srma reads (:data:`USED`) whose value holds
    LaTeX syntax, with bibtexparser's ``LatexDecodingMiddleware``; returns how many
    values were decoded. ``progress``: a progress bar over the entries (a terminal)."""
    decoder = LatexDecodingMiddleware()
    bar = None
    if progress and len(entries) >= PROGRESS_ENTRIES:
        from tqdm import tqdm

        bar = tqdm(total=len(entries), unit="entry", desc="BibTeX", leave=False)
    decoded = 0
    try:
        for entry in entries:
            fields = [
                f
                for f in entry.fields
                if f.key.lower() in USED - VERBATIM
                and isinstance(f.value, str)
                and _LATEX_RE.search(f.value)
            ]
            if fields:
                # Only these fields go through the decoder: a copy of the entry holding them.
                copy = Entry(
                    entry.entry_type,
                    entry.key,
                    [Field(f.key, _BARE_RE.sub(r"\\\1", f.value)) for f in fields],
                )
                library = decoder.transform(bibtexparser.Library([copy]))
                for f, new in zip(fields, library.entries[0].fields, strict=True):
                    f.value = new.value
                decoded += len(fields)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return decoded


def _entries(text: str, path: object, progress: bool = False) -> list[Entry]:
    library = bibtexparser.parse_string(text)
    failed = {id(b) for b in library.failed_blocks}
    blocks = [b for b in library.blocks if isinstance(b, Entry) or id(b) in failed]
    out: list[Entry] = []
    for number, block in enumerate(blocks, start=1):
        if isinstance(block, Entry) and id(block) not in failed:
            out.append(block)
            continue
        if isinstance(block, DuplicateFieldKeyBlock):
            dupes = set(block.duplicate_keys) & USED
            if not dupes:
                out.append(block.ignore_error_block)
                continue
            raise InputError(
                path,
                "field given more than once in one entry",
                record=number,
                field=sorted(dupes)[0],
                line=block.start_line + 1,
            )
        error = getattr(block, "error", None)
        raise InputError(
            path,
            f"BibTeX entry cannot be read ({type(block).__name__}: {error})",
            record=number,
            line=block.start_line + 1,
        )
    decoded = decode_latex(out, progress=progress)
    log.info("%s: %d BibTeX entries, LaTeX decoded in %d values", path, len(out), decoded)
    return out


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.replace("{", "").replace("}", "")
    return value.strip() or None


def to_fields(entry: Entry) -> dict:
    """Normalised fields of one BibTeX entry."""
    fields = {k.lower(): f.value for k, f in entry.fields_dict.items()}

    def one(key: str) -> str | None:
        value = fields.get(key)
        return _clean(value) if isinstance(value, str) else None

    authors = [a.strip() for a in _AND_RE.split(one("author") or "") if a.strip()]
    kw_text = one("keywords") or one("author_keywords") or ""
    sep = ";" if ";" in kw_text else ","
    keywords = [k.strip() for k in kw_text.split(sep) if k.strip()]
    url = one("url") or ""
    eid = _EID_RE.search(url)
    pages = one("pages")
    if pages:
        pages = pages.replace("--", "-")
    ptypes = [entry.entry_type] + ([one("document_type")] if one("document_type") else [])
    return {
        "title": one("title"),
        "authors": authors,
        "year": first(one("year"), one("date")),
        "journal": first(one("journal"), one("journaltitle"), one("booktitle")),
        "journal_abbrev": first(
            one("abbrev_source_title"), one("shortjournal"), one("journalabbreviation")
        ),
        "volume": one("volume"),
        "issue": first(one("number"), one("issue")),
        "pages": pages or one("art_number"),
        "first_page": None,
        "doi": one("doi"),
        "pmid": one("pmid"),
        "accession": first(one("eid"), eid.group(1) if eid else None),
        "abstract": one("abstract"),
        "keywords": keywords,
        "publication_type": ptypes,
        "language": first(one("language"), one("langid")),
        "database": "Scopus" if "scopus.com" in url else None,
        "raw": entry.raw,
    }


def read(
    text: str, path: object = "<text>", fmt: str | None = None, *, progress: bool = False
) -> list[dict]:
    """Normalised fields of every entry of a BibTeX file (``progress``: a progress bar
    over the entries, for a terminal)."""
    return [to_fields(e) for e in _entries(text, path, progress)]
