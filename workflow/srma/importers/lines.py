"""Line tables of an export's bytes, for the tagged formats (MEDLINE, RIS).

A tagged export is read line by line, and a record of PubMed's holds some ninety lines:
looking at each line's first bytes in Python costs more than everything else the
importer does. Here every line's start, end and first eight bytes are found by array
operations (numpy) over the file's bytes, and the texts srma keeps are decoded from
those bytes in one C++ loop (pyarrow), without building one string of the whole file
first. The bytes must be the file's text as UTF-8 with ``\\n`` line ends
(:func:`srma.importers.detect.plain_bytes` makes them).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa

_CHUNK = 1 << 22


class Lines(NamedTuple):
    """Lines of a text: ``start`` and ``end`` (byte offsets, ``end`` exclusive and
    without the ``\\n``), ``word``: the line's first eight bytes as one little-endian
    integer (byte ``k`` is ``(word >> 8 * k) & 0xFF``; bytes past the line's end belong
    to the next lines, so test ``length`` before looking at them), and ``next``: where
    the next line that :func:`scan` was told is a head starts (the length of the text
    plus one after the last)."""

    start: np.ndarray
    end: np.ndarray
    word: np.ndarray
    next: np.ndarray

    @property
    def length(self) -> np.ndarray:
        return self.end - self.start


#: ``classify(length, word) -> (head, keep)``: masks of a chunk's lines (``keep`` a part
#: of ``head``), or ``None`` to give up on the file.
Classify = Callable[[np.ndarray, np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]


def scan(data: bytes | mmap.mmap, classify: Classify) -> Lines | None:
    """The lines of ``data`` that ``classify`` keeps, each with the start of the next
    head line (a value in a tagged format runs to the line before the next tag line);
    ``None`` when ``classify`` gives up.

    Every line counts: a last line without ``\\n``, and after a final ``\\n`` one more,
    empty line. The text is read in chunks of whole lines (about 4 MiB), so that the
    arrays of every line of a chunk stay small and their memory is used again by the
    next chunk: arrays of every line of a 400 MB file took longer to get from the
    system (fresh pages) than to compute.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    size = len(buf)
    rows = None
    if size >= 8:
        # Rows of eight bytes starting at every byte (a view, no copy), taken at the
        # line starts: one gather of eight bytes per line.
        rows = np.lib.stride_tricks.as_strided(
            buf, shape=(size - 7, 8), strides=(1, 1), writeable=False
        )
    parts: list[tuple[np.ndarray, ...]] = []
    pending: np.ndarray | None = None  # last chunk's "next" waiting for a head
    lo = 0
    while True:
        cut = data.find(b"\n", lo + _CHUNK)
        hi = size if cut < 0 else cut + 1
        newlines = np.flatnonzero(buf[lo:hi] == 10)
        newlines += lo
        last = hi == size
        count = len(newlines) + 1 if last else len(newlines)
        start = np.empty(count, dtype=np.int64)
        start[0] = lo
        start[1:] = (newlines + 1)[: count - 1]
        end = np.empty(count, dtype=np.int64)
        end[: len(newlines)] = newlines
        if last:
            end[-1] = size
        word = np.zeros(count, dtype=np.uint64)
        inside = start <= size - 8
        if rows is not None:
            word[inside] = rows[start[inside]].view("<u8").ravel()
        for i in np.flatnonzero(~inside).tolist():
            word[i] = int.from_bytes(data[start[i] : start[i] + 8].ljust(8, b"\0"), "little")
        found = classify(end - start, word)
        if found is None:
            return None
        head, keep = found
        at = np.flatnonzero(head)
        if len(at):
            following = np.empty(len(at), dtype=np.int64)
            following[:-1] = start[at[1:]]
            following[-1] = -1
            if pending is not None:
                pending[-1] = start[at[0]]
            kept = keep[at]
            nxt = following[kept]
            pending = nxt if kept[-1] else None
            chosen = at[kept]
            parts.append((start[chosen], end[chosen], word[chosen], nxt))
        if last:
            break
        lo = hi
    if pending is not None:
        pending[-1] = size + 1
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Lines(empty, empty, np.empty(0, dtype=np.uint64), empty)
    return Lines(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def byte(word: np.ndarray, k: int) -> np.ndarray:
    """Byte ``k`` (0-7) of every line's :attr:`Lines.word`."""
    return ((word >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.uint8)


def is_upper(b: np.ndarray) -> np.ndarray:
    """``[A-Z]``"""
    return (b >= 65) & (b <= 90)


def is_upper_or_digit(b: np.ndarray) -> np.ndarray:
    """``[A-Z0-9]``"""
    return ((b >= 65) & (b <= 90)) | ((b >= 48) & (b <= 57))


def code(tag: str) -> int:
    """The low four bytes of :attr:`Lines.word` of a line that starts with ``tag``
    (padded with spaces to four characters)."""
    return int.from_bytes(tag.ljust(4)[:4].encode("ascii"), "little")


def decode(
    data: bytes | mmap.mmap, lo: np.ndarray, hi: np.ndarray, check: bool = False, near: bool = False
) -> np.ndarray:
    """The texts ``data[lo[i]:hi[i]]`` (in order, not overlapping) decoded from UTF-8, as
    an object array.

    pyarrow decodes them in one C++ loop, three times faster than ``bytes.decode``
    value by value: the spans and the gaps between them make one string array over
    ``data`` (no copy). ``near``: the gaps are short (records' texts with blank lines
    between them): all items are decoded and every other one kept; else the spans are
    first taken into an array of their own (a copy of their bytes). ``check``: raise
    ``pyarrow.ArrowInvalid`` on bytes that are not UTF-8 (spans that start and end next
    to ASCII characters, inside checked text, need no check).
    """
    m = len(lo)
    if m == 0:
        return np.empty(0, dtype=object)
    offsets = np.empty(2 * m, dtype=np.int64)
    offsets[0::2] = lo
    offsets[1::2] = hi
    spans = pa.LargeStringArray.from_buffers(2 * m - 1, pa.py_buffer(offsets), pa.py_buffer(data))
    if not near:
        spans = spans.take(pa.array(np.arange(0, 2 * m - 1, 2)))
    if check:
        spans.validate(full=True)
    texts = spans.to_numpy(zero_copy_only=False)
    return texts[0::2] if near else texts


def first_of_runs(keys: np.ndarray) -> np.ndarray:
    """Mask of the items of a sorted array that differ from the one before."""
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first


def firsts(n: int, rows: np.ndarray, values: np.ndarray) -> list:
    """A column of ``n`` items: for each row, its first value (``rows`` ascending), else
    ``None``."""
    first = first_of_runs(rows)
    column = np.full(n, None, dtype=object)
    column[rows[first]] = values[first]
    return column.tolist()


def groups(rows: np.ndarray, values: np.ndarray) -> tuple[list[int], list[list]]:
    """The rows that have values (``rows`` ascending) and the list of each one's values,
    in order."""
    items = values.tolist()
    if not items:
        return [], []
    first = first_of_runs(rows)
    cuts = np.flatnonzero(first).tolist()
    cuts.append(len(items))
    return rows[first].tolist(), [items[lo:hi] for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]


def lists(n: int, rows: np.ndarray, values: np.ndarray) -> list:
    """A column of ``n`` items: for each row, the list of its values in order (``rows``
    ascending), else ``None``."""
    column: list = [None] * n
    for i, items in zip(*groups(rows, values), strict=True):
        column[i] = items
    return column
