"""One merged record per cluster (``results/dedup/unique.parquet``).

Each field is taken from the cluster's most complete member (the member with the most
non-empty fields; ties go to the earlier record), and a field that member lacks is
filled from the next most complete member that has it. Every source record id and
database is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["merge_clusters", "UNIQUE_DROP"]

#: Record columns that describe one source record and are not carried to the cluster.
UNIQUE_DROP = ("record_id", "position", "raw")


def _clean_value(v: object) -> object:
    if v is None:
        return None
    if isinstance(v, str):
        return v if v.strip() else None
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, list | tuple | np.ndarray):
        return list(v) if len(v) else None
    return v


def _clean(col: pd.Series) -> pd.Series:
    """Empty strings and empty lists become missing (object column)."""
    if not (pd.api.types.is_string_dtype(col) or col.dtype == object):
        return col
    values = col.to_numpy(dtype=object, na_value=None)
    return pd.Series([_clean_value(v) for v in values], index=col.index, dtype=object)


def _present(col: pd.Series) -> np.ndarray:
    """Whether each value counts as given: not missing, not blank text, not an empty
    list. Arrow-backed columns are checked by Arrow, without a Python object per
    value."""
    dtype = col.dtype
    arrow = getattr(col.array, "_pa_array", None)
    if arrow is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        typ = arrow.type
        if pa.types.is_list(typ) or pa.types.is_large_list(typ):
            given = pc.greater(pc.list_value_length(arrow), 0)
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            # (not blank: no copy of the text is made, abstracts are long)
            given = pc.and_(
                pc.greater(pc.utf8_length(arrow), 0), pc.invert(pc.utf8_is_space(arrow))
            )
        else:
            given = pc.is_valid(arrow)
        return np.asarray(pc.fill_null(given, False).to_numpy(zero_copy_only=False), dtype=bool)
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        values = col.to_numpy(dtype=object, na_value=None)
        return np.fromiter((_clean_value(v) is not None for v in values), bool, len(values))
    return col.notna().to_numpy(dtype=bool)


#: Clusters whose values are taken from an Arrow column at a time.
BLOCK = 1 << 14


def _arrow_take(arrow, rows: np.ndarray, found: np.ndarray):
    """``arrow[rows]`` (a chunked Arrow array), null where not ``found``. Taken chunk
    by chunk: Arrow's take on a chunked array first joins its chunks, a copy of the
    whole column (abstracts: most of the records' memory)."""
    import pyarrow as pa

    if arrow.num_chunks <= 1:
        return arrow.take(pa.array(rows, type=pa.int64(), mask=~found))
    bounds = np.cumsum([0] + [len(c) for c in arrow.chunks])
    wanted = np.flatnonzero(found)
    which = np.searchsorted(bounds, rows[wanted], side="right") - 1
    order = np.argsort(which, kind="stable")  # positions of `wanted`, chunk by chunk
    parts = []
    edges = np.searchsorted(which[order], np.arange(arrow.num_chunks + 1))
    for c in range(arrow.num_chunks):
        sel = order[edges[c] : edges[c + 1]]
        if len(sel):
            local = rows[wanted[sel]] - bounds[c]
            parts.append(arrow.chunk(c).take(pa.array(local, type=pa.int64())))
    grouped = pa.concat_arrays(parts) if parts else pa.array([], type=arrow.type)
    # where each output row's value sits in `grouped`
    place = np.zeros(len(rows), dtype=np.int64)
    place[wanted[order]] = np.arange(len(order), dtype=np.int64)
    return grouped.take(pa.array(place, type=pa.int64(), mask=~found))


def _take(col: pd.Series, rows: np.ndarray, found: np.ndarray) -> pd.Series:
    """``col`` at ``rows``, missing where not ``found``. Arrow-backed columns are taken
    by Arrow (one copy of the values taken, none of the rest); other object columns
    are cleaned value by value (empty lists become missing)."""
    arrow = getattr(col.array, "_pa_array", None)
    if arrow is not None:
        import pyarrow as pa

        # block by block: only one block of values is ever held twice
        blocks = [
            _arrow_take(arrow, rows[b : b + BLOCK], found[b : b + BLOCK])
            for b in range(0, len(rows), BLOCK)
        ]
        taken = pa.chunked_array(
            [c for blk in blocks for c in getattr(blk, "chunks", [blk])], type=arrow.type
        )
        return pd.Series(pd.arrays.ArrowExtensionArray(taken))
    taken = col.iloc[rows].reset_index(drop=True)
    if pd.api.types.is_object_dtype(col.dtype):
        values = taken.to_numpy(dtype=object)
        return pd.Series(
            [_clean_value(v) if ok else None for v, ok in zip(values, found, strict=True)],
            dtype=object,
        )
    return taken.where(pd.Series(found, dtype=bool)) if len(taken) else taken


def merge_clusters(records: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """The unique table: columns of ``records`` except :data:`UNIQUE_DROP`, then
    ``cluster_id, record_ids, databases, n_records``; one row per cluster in order of
    its anchor.

    Works column by column on the records as they are (no copy of the table): a
    field's value is taken from the first member, in order of completeness, that
    has it. Arrow-backed columns stay Arrow-backed (lists too: write the table with
    :func:`srma.dedup.parquet_metadata`, pandas cannot read back the name of an
    Arrow list type)."""
    import pyarrow as pa

    fields = [c for c in records.columns if c not in UNIQUE_DROP and c != "label"]
    n = len(records)
    present = {c: _present(records[c]) for c in fields}
    filled = np.zeros(n, dtype=np.int64)
    for mask in present.values():
        filled += mask
    # clusters numbered by their anchor (first member in record order)
    codes, anchors = pd.factorize(clusters["cluster_id"], sort=False)
    k = len(anchors)
    # members ordered by cluster, then most complete first, then record order
    rank = np.lexsort((np.arange(n), -filled, codes))
    counts = np.bincount(codes, minlength=k) if n else np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if k else np.zeros(0, dtype=np.int64)
    out = {}
    position = np.arange(n, dtype=np.int64)
    for c in fields:
        # per cluster, the first member (in rank order) that has the field
        pos = np.where(present[c][rank], position, n)
        first = np.minimum.reduceat(pos, starts) if k else np.zeros(0, dtype=np.int64)
        found = first < n
        rows = rank[np.where(found, first, 0)] if n else np.zeros(0, dtype=np.int64)
        out[c] = _take(records[c], rows, found)
        pa.default_memory_pool().release_unused()  # the column's transient blocks
    result = pd.DataFrame(out, index=pd.RangeIndex(k))
    # every member, in record order; as Arrow lists (no Python list per cluster)
    by_cluster = np.argsort(codes, kind="stable")
    offsets = pa.array(np.concatenate(([0], np.cumsum(counts))).astype(np.int32))
    ids = getattr(records["record_id"].array, "_pa_array", None)
    if ids is None or not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        ids = pa.array(records["record_id"].astype(str).to_numpy(dtype=object), type=pa.string())
    else:
        ids = ids.combine_chunks()
    result["cluster_id"] = pd.Series(
        anchors, dtype=object if not hasattr(anchors, "_pa_array") else anchors.dtype
    )
    result["record_ids"] = pd.Series(
        pd.arrays.ArrowExtensionArray(
            pa.ListArray.from_arrays(offsets, ids.take(pa.array(by_cluster)))
        )
    )
    # databases: the sorted distinct names of the members' databases
    db_codes, db_names = (
        pd.factorize(records["database"], use_na_sentinel=True, sort=True)
        if "database" in records
        else (np.full(n, -1), [])
    )
    db_names = [str(d) for d in db_names]
    member_db = np.asarray(db_codes, dtype=np.int64)[by_cluster]
    sets: dict[tuple, list[str]] = {}
    databases = []
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        key = tuple(sorted({int(c) for c in member_db[start : start + count] if c >= 0}))
        got = sets.get(key)
        if got is None:
            got = sets[key] = [db_names[c] for c in key if db_names[c]]
        databases.append(got)
    result["databases"] = pd.Series(databases, dtype=object)  # lists shared by value
    result["n_records"] = counts.astype("int64")
    cols = fields + ["cluster_id", "record_ids", "databases", "n_records"]
    result = result[cols]
    if "year" in result:
        result["year"] = pd.to_numeric(result["year"], errors="coerce").astype("Int32")
    if "position" in result:
        result = result.drop(columns="position")
    return result
