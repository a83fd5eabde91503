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


def _empty_to_none(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, list | tuple | np.ndarray):
        return list(value) if len(value) else None
    return value


def merge_clusters(records: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """The unique table: columns of ``records`` except :data:`UNIQUE_DROP`, then
    ``cluster_id, record_ids, databases, n_records``; one row per cluster in order of
    its anchor."""
    fields = [c for c in records.columns if c not in UNIQUE_DROP and c != "label"]
    data = records[fields].copy()
    for col in data.columns:
        if data[col].dtype == object or pd.api.types.is_string_dtype(data[col]):
            data[col] = data[col].map(_empty_to_none).astype(object)
    filled = data.notna().sum(axis=1).to_numpy()
    data["cluster_id"] = clusters["cluster_id"].to_numpy()
    data["_order"] = np.arange(len(data))
    data["_filled"] = filled
    anchor_order = (
        data.groupby("cluster_id", sort=False)["_order"].min().sort_values().index.tolist()
    )
    ranked = data.sort_values(["cluster_id", "_filled", "_order"], ascending=[True, False, True])
    merged = ranked.groupby("cluster_id", sort=False)[fields].first()
    ids = records["record_id"].to_numpy()
    dbs = records["database"].to_numpy() if "database" in records else np.full(len(ids), None)
    members = data.groupby("cluster_id", sort=False)["_order"].agg(list)
    out = merged.reindex(anchor_order).reset_index()
    rows = members.reindex(anchor_order)
    out["record_ids"] = [[str(ids[k]) for k in m] for m in rows]
    out["databases"] = [
        sorted({str(dbs[k]) for k in m if dbs[k] is not None and dbs[k] == dbs[k]}) for m in rows
    ]
    out["n_records"] = np.array([len(m) for m in rows], dtype="int64")
    cols = fields + ["cluster_id", "record_ids", "databases", "n_records"]
    out = out[cols]
    if "year" in out:
        out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int32")
    if "position" in records:
        pass
    return out
