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


def merge_clusters(records: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """The unique table: columns of ``records`` except :data:`UNIQUE_DROP`, then
    ``cluster_id, record_ids, databases, n_records``; one row per cluster in order of
    its anchor."""
    fields = [c for c in records.columns if c not in UNIQUE_DROP and c != "label"]
    data = pd.DataFrame({c: _clean(records[c]) for c in fields})
    filled = data.notna().sum(axis=1).to_numpy()
    # clusters numbered by their anchor (first member in record order)
    codes, anchors = pd.factorize(clusters["cluster_id"].to_numpy(dtype=object), sort=False)
    n = len(data)
    # members ordered by cluster, then most complete first, then record order
    rank = np.lexsort((np.arange(n), -filled, codes))
    ranked = data.iloc[rank]
    ranked.index = codes[rank]
    merged = ranked.groupby(level=0, sort=True).first()
    merged = merged.reindex(np.arange(len(anchors)))
    out = merged.reset_index(drop=True)
    # every member, in record order
    by_cluster = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(anchors))
    ids = records["record_id"].astype(str).to_numpy(dtype=object)[by_cluster]
    dbs = (
        records["database"].astype(object).to_numpy()[by_cluster]
        if "database" in records
        else np.full(n, None, dtype=object)
    )
    bounds = np.cumsum(counts)[:-1]
    id_groups = np.split(ids, bounds) if len(anchors) else []
    db_groups = np.split(dbs, bounds) if len(anchors) else []
    out["cluster_id"] = anchors.astype(object)
    out["record_ids"] = [list(x) for x in id_groups]
    out["databases"] = [sorted({str(d) for d in x if isinstance(d, str) and d}) for x in db_groups]
    out["n_records"] = counts.astype("int64")
    cols = fields + ["cluster_id", "record_ids", "databases", "n_records"]
    out = out[cols]
    if "year" in out:
        out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int32")
    if "position" in out:
        out = out.drop(columns="position")
    return out
