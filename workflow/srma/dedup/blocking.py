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


def sorted_neighbourhood(block: np.ndarray, sort: np.ndarray, window: int) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of rows in the same non-empty ``block`` that lie
    within ``window`` places of each other once sorted by ``(block, sort)``.

    Returns an int64 array of shape ``(k, 2)``.
    """
    n = len(block)
    if n < 2 or window < 2:
        return np.empty((0, 2), dtype=np.int64)
    frame = pd.DataFrame({"b": block, "s": sort, "i": np.arange(n)})
    frame = frame[frame["b"] != ""]
    frame = frame.sort_values(["b", "s", "i"], kind="stable")
    order = frame["i"].to_numpy(dtype=np.int64)
    codes = pd.factorize(frame["b"])[0]
    out = []
    for d in range(1, window):
        if d >= len(order):
            break
        same = codes[:-d] == codes[d:]
        a = order[:-d][same]
        b = order[d:][same]
        out.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    if not out:
        return np.empty((0, 2), dtype=np.int64)
    return np.concatenate(out)


def candidate_pairs(feat: Features, *, window: int = 8) -> np.ndarray:
    """Unique candidate pairs ``(i, j)``, ``i < j``, over all blocking passes, sorted."""
    n = len(feat)
    has_title = np.array([bool(t) for t in feat.title])
    everyone = np.where(has_title, "t", "")
    author_year = np.array(
        [f"{s}|{y}" if s and y > 0 else "" for s, y in zip(feat.surname, feat.year, strict=True)],
        dtype=object,
    )
    vol_page = np.array(
        [f"{v}|{p}" if v and p else "" for v, p in zip(feat.volume, feat.first_page, strict=True)],
        dtype=object,
    )
    passes = [
        sorted_neighbourhood(everyone, feat.title, window),
        sorted_neighbourhood(everyone, feat.title_rev, window),
        sorted_neighbourhood(author_year, feat.title, window),
        sorted_neighbourhood(vol_page, feat.title, window),
    ]
    pairs = np.concatenate(passes) if passes else np.empty((0, 2), dtype=np.int64)
    if len(pairs) == 0:
        return pairs
    code = np.sort(pairs[:, 0] * np.int64(n) + pairs[:, 1])
    code = code[np.concatenate(([True], code[1:] != code[:-1]))]
    return np.stack([code // n, code % n], axis=1)
