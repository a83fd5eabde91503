"""Excel workbooks (.xlsx): one sheet read as a table, columns mapped as in
:mod:`.generic`.

The workbook is opened with openpyxl read-only and ``data_only``: each cell gives the
value Excel last computed and stored with it; srma never evaluates a formula and never
runs a macro (openpyxl reads neither). A formula stored without a computed value (a
workbook written by a script) is kept as its text, e.g. ``=A1+1``. The sheet is the
first visible worksheet, or the one named by the search's ``sheet`` in the config.
Cells Excel turned into dates are refused in the volume, issue and page columns (``3-5``
typed into a Pages cell becomes 5 March); elsewhere a date is written as ISO text.

:func:`sniff` tells a workbook from text by its bytes; other spreadsheets (Excel
97-2003 ``.xls``, binary ``.xlsb``, OpenDocument ``.ods``) and other ZIP archives are
refused with what to save them as.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from srma.errors import InputError

from .generic import HEADER_SEARCH, Plan, has_title, no_title_error, to_fields

log = logging.getLogger(__name__)

#: Rows from which a progress bar is shown (when asked for and stderr is a terminal).
PROGRESS_ROWS = 5000

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAVE_AS = "open it in Excel (or LibreOffice) and save it as .xlsx (Excel Workbook) or CSV UTF-8"
_FORMULA_RE = re.compile(rb"<(?:\w+:)?f[\s>/]")
#: Fields whose cells Excel may have turned into dates ("3-5" -> 5 March).
_NO_DATES = ("volume", "issue", "pages", "first_page", "last_page")


def sniff(data: bytes, path: object) -> str | None:
    """``"xlsx"`` for an Excel workbook (.xlsx, .xlsm), ``None`` for anything that is not
    a ZIP or OLE file (text exports); :class:`InputError` for other spreadsheets and
    archives."""
    if data.startswith(_OLE):
        raise InputError(path, f"an Excel 97-2003 workbook (.xls) or other OLE file: {_SAVE_AS}")
    if not data.startswith(_ZIP):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            mimetype = zf.read("mimetype")[:200] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise InputError(
            path,
            f"a damaged ZIP file ({err}); an .xlsx workbook is a ZIP file: this one may be "
            "cut short, download or save it again",
        ) from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        raise InputError(path, f"an Excel binary workbook (.xlsb): {_SAVE_AS}")
    if b"opendocument.spreadsheet" in mimetype:
        raise InputError(path, f"an OpenDocument spreadsheet (.ods): {_SAVE_AS}")
    raise InputError(
        path, "a ZIP archive, not a search export or an Excel workbook: unzip it first"
    )


def _open(data: bytes, path: object, *, data_only: bool):
    import openpyxl

    try:
        return openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=data_only, keep_links=False
        )
    except Exception as err:  # noqa: BLE001 - any failure to parse is the file's
        raise InputError(
            path, f"cannot read the Excel workbook ({type(err).__name__}: {err}); {_SAVE_AS}"
        ) from None


def _sheet(wb, path: object, sheet: str | None):
    sheets = wb.worksheets
    names = [ws.title for ws in sheets]
    if not sheets:
        raise InputError(path, "the workbook has no worksheet")
    if sheet is None:
        visible = [ws for ws in sheets if getattr(ws, "sheet_state", "visible") == "visible"]
        return (visible or sheets)[0]
    for ws in sheets:
        if ws.title == sheet:
            return ws
    folded = [ws for ws in sheets if ws.title.casefold() == str(sheet).casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InputError(
        path, f"no sheet named {sheet!r}; the sheets are {', '.join(map(repr, names))}"
    )


def _has_formulas(data: bytes) -> bool:
    """Whether any worksheet of the workbook holds a formula (an ``<f>`` element)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with zf.open(name) as fh:
                    tail = b""
                    while chunk := fh.read(1 << 20):
                        if _FORMULA_RE.search(tail + chunk):
                            return True
                        tail = chunk[-16:]
    return False


def _text(value: object) -> str | None:
    """A cell's value as text (``None`` when empty)."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value) if isinstance(value, dt.timedelta) else value.isoformat()
    return str(value)


def _rows(data: bytes, path: object, sheet: str | None) -> Iterator[tuple]:
    """The sheet's rows (tuples of values); the first yielded item is ``(title, max_row)``.

    With formulas in the workbook it is opened twice, cached values first, and a
    formula without a cached value gives its text (never evaluated).
    """
    wb = _open(data, path, data_only=True)
    formulas = None
    try:
        ws = _sheet(wb, path, sheet)
        yield ws.title, ws.max_row
        rows = ws.iter_rows(values_only=True)
        if _has_formulas(data):
            formulas = _open(data, path, data_only=False)
            texts = _sheet(formulas, path, ws.title).iter_rows(values_only=True)
            for row, text in zip(rows, texts, strict=False):
                if None in row:
                    row = tuple(
                        t if v is None and isinstance(t, str) and t.startswith("=") else v
                        for v, t in zip(row, text, strict=False)
                    )
                yield row
        else:
            yield from rows
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - a broken sheet part is the file's fault
        raise InputError(
            path, f"cannot read the Excel workbook ({type(err).__name__}: {err}); {_SAVE_AS}"
        ) from None
    finally:
        wb.close()
        if formulas is not None:
            formulas.close()


def read_workbook(
    data: bytes, path: object, *, sheet: str | None = None, progress: bool = False
) -> list[dict]:
    """Every row below the header of one sheet as record fields (:func:`.generic.to_fields`).

    ``progress``: show a progress bar over the rows (from :data:`PROGRESS_ROWS` rows).
    """
    with warnings.catch_warnings():
        # openpyxl warns about workbook features it does not read (data validation,
        # conditional formatting, a missing default style): none of them are data.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl")
        return _read(data, path, sheet, progress)


def _read(data: bytes, path: object, sheet: str | None, progress: bool) -> list[dict]:
    rows = _rows(data, path, sheet)
    title, max_row = next(rows)
    where = f" in the first {HEADER_SEARCH} rows of sheet {title!r}"
    first: Sequence[object] | None = None
    header: list[object] | None = None
    header_row = 0
    for number, row in enumerate(rows, start=1):
        if not any(v is not None and str(v).strip() for v in row):
            continue
        if first is None:
            first = row
        if has_title(row):
            header, header_row = [_text(v) for v in row], number
            break
        if number >= HEADER_SEARCH:
            break
    if header is None:
        raise no_title_error(path, list(first or ()), where)
    while header and not header[-1]:
        header.pop()
    plan = Plan(header)
    no_dates = {i for f in _NO_DATES for i in plan.columns[f]}
    bar = None
    if progress and (max_row or 0) >= PROGRESS_ROWS:
        from tqdm import tqdm

        bar = tqdm(total=max_row, unit="row", desc=Path(str(path)).name, leave=False)
        bar.update(header_row)
    records: list[dict] = []
    try:
        for number, row in enumerate(rows, start=header_row + 1):
            if bar is not None and number % 1000 == 0:
                bar.update(1000)
            cells = [_text(v) for v in row]
            while cells and not (cells[-1] and cells[-1].strip()):
                cells.pop()
            if not cells:
                continue
            plan.name_columns(len(cells))  # a value in a column without a name: raw only
            for i in no_dates:
                if i < len(row) and isinstance(row[i], dt.date | dt.datetime):
                    raise InputError(
                        path,
                        f"row {number} of sheet {title!r}: Excel stored this cell as a date "
                        f"({cells[i]}), so what was typed (e.g. a page range 3-5) is lost; "
                        "format the column as Text, type the value again and save",
                        record=len(records) + 1,
                        field=plan.names[i],
                    )
            if plan.is_reference(cells):
                records.append(to_fields(cells, plan))
    finally:
        if bar is not None:
            bar.close()
    log.info(
        "%s: %d rows from sheet %r (header on row %d); %s",
        path,
        len(records),
        title,
        header_row,
        plan.describe(),
    )
    return records
