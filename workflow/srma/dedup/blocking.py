"""Candidate pairs without comparing all pairs.

Each pass sorts the records by a block key and then by a sort key, and pairs every
record with the next ``window - 1`` records of the same block (the sorted
neighbourhood method: Hernández & Stolfo 1995, Data Min Knowl Disc 2:9-37). Small
blocks are thus compared in full and large ones only between near neighbours, so the
number of pairs is at most ``n * (window - 1)`` per pass: cost grows linearly with the
number of records.

Passes (keys from :mod:`srma.dedup.keys`):

1. all records by normalised title (catches every variant that keeps the title's
   start);
2. all records by reversed title (variants that differ at the start: prefixes such as
   congress codes, "[Chinese]" or a lost first word);
3. first-author surname + year, by title (title changed more than a few characters);
4. volume + first page, by title (translated or re-worded titles).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from srma.dedup.keys import Features

__all__ = ["candidate_pairs", "sorted_neighbourhood"]


def _rank(values: np.ndarray) -> np.ndarray:
    """Dense rank of each string in sorted order (Arrow's sort, in C++)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.large_string())
    return np.asarray(pc.rank(arr, sort_keys="ascending", tiebreaker="dense"), dtype=np.int64)


def _neighbour_codes(block: np.ndarray, rank: np.ndarray, window: int) -> np.ndarray:
    """Pairs of :func:`sorted_neighbourhood` as int64 codes ``i * n + j``; ``block``
    holds int codes (-1: no block), ``rank`` the sort order within a block."""
    n = len(block)
    if n < 2 or window < 2:
        return np.empty(0, dtype=np.int64)
    rows = np.flatnonzero(block >= 0)
    order = rows[np.lexsort((rows, rank[rows], block[rows]))]
    codes = block[order]
    out = []
    for d in range(1, window):
        if d >= len(order):
            break
        same = codes[:-d] == codes[d:]
        a = order[:-d][same]
        b = order[d:][same]
        out.append(np.minimum(a, b) * np.int64(n) + np.maximum(a, b))
    if not out:
        return np.empty(0, dtype=np.int64)
    return np.concatenate(out)


def _block_codes(keys: np.ndarray) -> np.ndarray:
    """Int codes of block keys, -1 for the empty key (no block)."""
    codes, uniques = pd.factorize(keys, sort=False)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes


def sorted_neighbourhood(block: np.ndarray, sort: np.ndarray, window: int) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of rows in the same non-empty ``block`` that lie
    within ``window`` places of each other once sorted by ``(block, sort)``.

    Returns an int64 array of shape ``(k, 2)``.
    """
    n = max(len(block), 1)
    code = _neighbour_codes(
        _block_codes(np.asarray(block, dtype=object)), _rank(np.asarray(sort, dtype=object)), window
    )
    return np.stack([code // n, code % n], axis=1)


def candidate_pairs(feat: Features, *, window: int = 8) -> np.ndarray:
    """Unique candidate pairs ``(i, j)``, ``i < j``, over all blocking passes, sorted
    (an int32 array of shape ``(k, 2)``; int64 from 2**31 records)."""
    n = len(feat)
    everyone = np.where(feat.title != "", 0, -1).astype(np.int64)
    author_year = _block_codes(
        np.array(
            [
                f"{s}|{y}" if s and y > 0 else ""
                for s, y in zip(feat.surname, feat.year, strict=True)
            ],
            dtype=object,
        )
    )
    vol_page = _block_codes(
        np.array(
            [
                f"{v}|{p}" if v and p else ""
                for v, p in zip(feat.volume, feat.first_page, strict=True)
            ],
            dtype=object,
        )
    )
    title_rank = _rank(feat.title)
    codes = [
        _neighbour_codes(everyone, title_rank, window),
        _neighbour_codes(everyone, _rank(feat.title_rev), window),
        _neighbour_codes(author_year, title_rank, window),
        _neighbour_codes(vol_page, title_rank, window),
    ]
    del author_year, vol_page, title_rank
    code = np.concatenate(codes)
    del codes
    if len(code) == 0:
        return np.empty((0, 2), dtype=np.int64)
    code.sort()  # sorted, each pair once (np.unique hashes first: slower)
    code = code[np.concatenate(([True], code[1:] != code[:-1]))]
    dtype = np.int32 if n < 2**31 else np.int64
    return np.stack([(code // n).astype(dtype), (code % n).astype(dtype)], axis=1)
