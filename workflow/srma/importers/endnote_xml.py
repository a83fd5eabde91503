"""EndNote XML (``File > Export > XML``, also written by Mendeley and Zotero).

The file is untrusted: it is parsed with ``xml.etree`` on an expat parser whose
document-type and entity-declaration handlers stop the import, so no entity is ever
expanded (no "billion laughs", no external entities). Text may be wrapped in
``<style>`` elements; all text inside an element is joined.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from srma.errors import InputError

from .normalise import first

DATABASE = "EndNote"

_PMID_RE = re.compile(r"^\d{1,8}$")


class _Forbidden(Exception):
    pass


def _reject(*_args: object) -> None:
    raise _Forbidden


def safe_parse(text: str, path: object = "<text>") -> ET.Element:
    """Parse XML text into an element tree, refusing any DOCTYPE or ENTITY declaration
    (expat's handlers are set to stop the parse before anything is expanded)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _reject
    parser.EntityDeclHandler = _reject
    parser.UnparsedEntityDeclHandler = _reject
    parser.ExternalEntityRefHandler = _reject
    try:
        parser.Parse(text, True)
        return builder.close()
    except _Forbidden:
        raise InputError(
            path,
            "XML with a DOCTYPE or ENTITY declaration is refused (untrusted input)",
            line=parser.CurrentLineNumber,
        ) from None
    except expat.ExpatError as err:
        raise InputError(
            path, f"not well-formed XML: {expat.errors.messages[err.code]}", line=err.lineno
        ) from None


def _text(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    return "".join(elem.itertext()).strip() or None


def to_fields(rec: ET.Element) -> dict:
    """Normalised fields of one ``<record>``."""

    def get(path: str) -> str | None:
        return _text(rec.find(path))

    def many(path: str) -> list[str]:
        return [t for t in (_text(e) for e in rec.findall(path)) if t]

    ref_type = rec.find("ref-type")
    accession = get("accession-num")
    pmid = None
    if accession and _PMID_RE.match(accession):
        pmid, accession = accession, None
    keywords = [k.strip() for kw in many("keywords/keyword") for k in kw.split("\n") if k.strip()]
    return {
        "title": first(get("titles/title"), get("titles/translated-title")),
        "authors": many("contributors/authors/author"),
        "year": first(get("dates/year"), get("dates/pub-dates/date")),
        "journal": first(get("periodical/full-title"), get("titles/secondary-title")),
        "journal_abbrev": first(get("periodical/abbr-1"), get("titles/alt-title")),
        "volume": get("volume"),
        "issue": first(get("number"), get("issue")),
        "pages": get("pages"),
        "first_page": None,
        "doi": get("electronic-resource-num"),
        "pmid": pmid,
        "accession": accession,
        "abstract": get("abstract"),
        "keywords": keywords,
        "publication_type": [ref_type.get("name")]
        if ref_type is not None and ref_type.get("name")
        else [],
        "language": get("language"),
        "database": first(get("remote-database-name")),
        "raw": ET.tostring(rec, encoding="unicode"),
    }


def read(text: str, path: object = "<text>", fmt: str | None = None) -> list[dict]:
    """Normalised fields of every ``<record>`` of an EndNote XML export."""
    # The XML declaration names an encoding; the text is already decoded.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    root = safe_parse(text, path)
    return [to_fields(rec) for rec in root.iter("record")]
