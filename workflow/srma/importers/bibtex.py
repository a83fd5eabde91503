"""BibTeX (Zotero, JabRef, Mendeley, Scopus "BibTeX" export), read with bibtexparser 2.

bibtexparser does not stop on a block it cannot read: it returns it among
``library.failed_blocks``. srma checks them: a block whose only fault is a repeated
field that srma does not use (Scopus repeats ``funding_details``) is read from
bibtexparser's ``ignore_error_block``; any other failed block stops the import with its
record number and line. LaTeX in values (``{\\'e}``, ``{Cocker}``) is decoded with
bibtexparser's ``LatexDecodingMiddleware`` (pylatexenc).
"""

from __future__ import annotations

import re

import bibtexparser
from bibtexparser.middlewares import LatexDecodingMiddleware
from bibtexparser.model import DuplicateFieldKeyBlock, Entry

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

_AND_RE = re.compile(r"\s+and\s+", re.I)
_EID_RE = re.compile(r"eid=(2-s2\.0-\d+)")


def _entries(text: str, path: object) -> list[Entry]:
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
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


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every entry of a BibTeX file."""
    return [to_fields(e) for e in _entries(text, path)]
