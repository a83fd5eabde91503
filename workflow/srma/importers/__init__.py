"""Import stage: search exports -> one normalised records table per export.

``read_export`` reads one file in any supported format (detected from its content) into
the records table of ``docs/data-model.md`` section 1; ``count_table`` gives the rows of
``results/records/counts.csv``. Each format lives in its own module.
"""

from __future__ import annotations

import gc
import importlib
import os

import pandas as pd

from srma.errors import InputError

from .detect import FORMATS, decode_checked, detect_format, detect_text, read_bytes, read_text
from .normalise import COLUMNS, RECORDS_SCHEMA, build_table
from .spreadsheet import read_workbook, sniff

__all__ = [
    "COLUMNS",
    "FORMATS",
    "RECORDS_SCHEMA",
    "count_table",
    "detect_format",
    "read_export",
    "read_text",
]


#: format -> (module, database used when neither the config nor the record names one)
READERS: dict[str, tuple[str, str]] = {
    "medline": ("medline", "PubMed"),
    "ris": ("ris", "RIS"),
    "wos": ("wos", "Web of Science"),
    "wos_tab": ("wos", "Web of Science"),
    "ovid": ("ovid", "Ovid"),
    "cochrane_txt": ("cochrane_txt", "CENTRAL"),
    "endnote_xml": ("endnote_xml", "EndNote"),
    "endnote_tagged": ("endnote_tagged", "EndNote"),
    "bibtex": ("bibtex", "BibTeX"),
    "csv_pubmed": ("csv_exports", "PubMed"),
    "csv_scopus": ("csv_exports", "Scopus"),
    "csv_embase": ("csv_exports", "Embase"),
    "csv_cochrane": ("csv_exports", "CENTRAL"),
    "csv_generic": ("generic", "CSV"),
    "xlsx": ("spreadsheet", "Excel"),
}


def read_export(
    path: str | os.PathLike,
    *,
    export: str,
    database: str | None = None,
    fmt: str | None = None,
    sheet: str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Read one search export into the records table (docs/data-model.md section 1).

    Parameters
    ----------
    path:
        The export file.
    export:
        Export name; records are ``<export>:<position>`` (position zero-padded to 6).
    database:
        Source database; when ``None``, taken from each record (e.g. RIS ``DB``), else
        from the format.
    fmt:
        Format (one of :data:`FORMATS`); detected from the content when ``None``.
    sheet:
        Worksheet of an Excel workbook (default: the first); an error for other files.
    progress:
        Show a progress bar over the rows of a large workbook or the entries of a large
        BibTeX file (command line, in a terminal).

    Raises
    ------
    srma.errors.InputError
        Empty, unknown, truncated or undecodable file, or a record that cannot be
        traced; the message names the file, the record number and the field.
    """
    data = read_bytes(path)
    if fmt is not None and fmt not in READERS:
        raise InputError(path, f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    if fmt == "xlsx" or (fmt is None and sniff(data, path)):  # a workbook: no text to decode
        records = read_workbook(data, path, sheet=sheet, progress=progress)
        return build_table(
            records,
            path=path,
            export=export,
            fmt="xlsx",
            database=database,
            default_database=READERS["xlsx"][1],
            check_encoding=False,
        )
    if sheet is not None:
        raise InputError(path, f"sheet {sheet!r} is given, but the file is not an Excel workbook")
    # Reading creates millions of small lists and tuples; CPython's cyclic garbage
    # collector would walk all live containers again and again while they pile up
    # (none of them form cycles). It is paused for the read and restored after.
    collect = gc.isenabled()
    gc.disable()
    try:
        # One parser per format, on the decoded text (UTF-8 or UTF-16, byte-order mark
        # dropped, line ends made "\n"): it names the line, record and field of a fault.
        text, valid = decode_checked(data, path)
        del data
        fmt = fmt or detect_text(text, path)
        if fmt == "bibtex":  # the one text format slow enough for a progress bar
            records = _module(fmt).read(text, path, fmt, progress=progress)
        else:
            records = _module(fmt).read(text, path, fmt)
        del text
        return build_table(
            records,
            path=path,
            export=export,
            fmt=fmt,
            database=database,
            default_database=READERS[fmt][1],
            check_encoding=not valid,
        )
    finally:
        if collect:
            gc.enable()


def _module(fmt: str):
    """The module that reads ``fmt``."""
    return importlib.import_module(f"{__name__}.{READERS[fmt][0]}")


def count_table(records: list[pd.DataFrame]) -> pd.DataFrame:
    """Records read per export: ``export, path, format, database, records``.

    ``database`` is the export's databases joined by ``; `` when its records name
    several (e.g. an Ovid search of Embase and MEDLINE).
    """
    rows = []
    for table in records:
        if table.empty:
            continue
        dbs = list(dict.fromkeys(table["database"].dropna().astype(str)))
        rows.append(
            {
                "export": str(table["export"].iloc[0]),
                "path": str(table["source_file"].iloc[0]),
                "format": str(table["format"].iloc[0]),
                "database": "; ".join(dbs),
                "records": int(len(table)),
            }
        )
    out = pd.DataFrame(rows, columns=["export", "path", "format", "database", "records"])
    out["records"] = out["records"].astype("int64")
    return out
