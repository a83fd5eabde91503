"""A person's merge decisions: ``resources/dedup/decisions.csv``.

Columns ``record_id_1, record_id_2, decision, note`` and, optionally, ``reason``:
``merge`` forces the two records into one cluster, ``separate`` forbids them (and
their clusters) from being joined. A ``merge`` of two records whose DOIs or PMIDs
differ is refused (checked by :func:`srma.dedup.deduplicate`, which knows the records)
unless its ``reason`` says why they are one paper. Pairs from
``results/dedup/uncertain.csv`` can be copied in as they are. Decisions are applied
on every run, so they survive reruns and update searches.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable

import pandas as pd

from srma.errors import InputError, decode_utf8

__all__ = ["read_decisions", "check_decisions", "DECISION_COLUMNS"]

DECISION_COLUMNS = ["record_id_1", "record_id_2", "decision", "note", "reason"]
_DECISIONS = {"merge", "separate"}


def _read_text(path: str) -> str:
    """The decoded text of the decisions file (UTF-8, with or without BOM)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise InputError(path, f"cannot read the file: {err.strerror or err}") from None
    return decode_utf8(path, data, "save the file as UTF-8 (CSV UTF-8)")


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    frame["line"] = pd.Series(dtype="int64")
    return frame


def read_decisions(
    path: str | os.PathLike, *, record_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Read and check a decisions file.

    Returns a frame with the columns above plus ``line`` (line number in the file);
    an empty frame when the file has only its header. Raises :class:`InputError`
    naming the file, line, record and field for a missing column, an empty record
    id, a decision other than ``merge``/``separate``, a record paired with itself,
    two rows on one pair, or (when ``record_ids`` is given) a record id that is not
    among the records.
    """
    path = os.fspath(path)
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        for name in header:
            if name and header.count(name) > 1:
                raise InputError(path, "column named twice in the header", line=1, field=name)
        missing = [c for c in DECISION_COLUMNS[:3] if c not in header]
        if missing:
            raise InputError(
                path,
                f"missing column(s) {', '.join(missing)}; the header needs "
                + ", ".join(DECISION_COLUMNS[:3]),
                line=1,
                field=missing[0],
            )
        rows = []
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if any(c.strip() for c in cells[len(header) :]):
                raise InputError(
                    path,
                    f"the row has {len(cells)} cells, the header {len(header)}; a cell with "
                    "a comma needs double quotes",
                    line=line,
                )
            row = dict(zip(header, (c.strip() for c in cells), strict=False))
            rows.append({c: row.get(c, "") for c in DECISION_COLUMNS} | {"line": line})
    except csv.Error as err:
        raise InputError(path, f"not a readable CSV file: {err}", line=reader.line_num) from None
    frame = pd.DataFrame(rows) if rows else _empty()
    frame.attrs["path"] = path
    check_decisions(frame, record_ids)
    return frame


def check_decisions(frame: pd.DataFrame, record_ids: Iterable[str] | None = None) -> None:
    """Raise :class:`InputError` on the first bad row of a decisions frame."""
    path = frame.attrs.get("path", "decisions")
    known = set(record_ids) if record_ids is not None else None
    seen: dict[tuple[str, str], int] = {}
    for row in frame.itertuples(index=False):
        line = int(row.line) if hasattr(row, "line") and pd.notna(row.line) else None
        for field in ("record_id_1", "record_id_2"):
            value = getattr(row, field)
            if not value:
                raise InputError(path, "record id is empty", line=line, field=field)
            if known is not None and value not in known:
                raise InputError(
                    path,
                    f"record id {value!r} is not among the imported records",
                    line=line,
                    record=value,
                    field=field,
                )
        if row.decision not in _DECISIONS:
            raise InputError(
                path,
                f"decision must be 'merge' or 'separate', not {row.decision!r}",
                line=line,
                record=row.record_id_1,
                field="decision",
            )
        if row.record_id_1 == row.record_id_2:
            raise InputError(
                path, "a record is paired with itself", line=line, record=row.record_id_1
            )
        key = tuple(sorted((row.record_id_1, row.record_id_2)))
        if key in seen:
            raise InputError(
                path,
                f"pair {key[0]} / {key[1]} already decided on line {seen[key]}",
                line=line,
                record=row.record_id_1,
            )
        seen[key] = line
