"""Deduplicate records across search exports.

Pipeline (each step in its own module):

1. :mod:`~srma.dedup.keys` - normalised comparison keys of every record;
2. :mod:`~srma.dedup.compare` - exact identifiers (DOI, PMID, accession), then
   fuzzy comparison of the candidate pairs from
3. :mod:`~srma.dedup.blocking` - sorted-neighbourhood blocking (no all-pairs step);
4. :mod:`~srma.dedup.clusters` - clusters grown under conflict guards, ids from the
   anchor record (stable when an update search is appended);
5. :mod:`~srma.dedup.merge` - one merged record per cluster;
6. :mod:`~srma.dedup.ris_out` - RIS for screening tools.

A person's decisions (:mod:`~srma.dedup.decisions`) force or forbid merges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from srma.dedup.blocking import candidate_pairs
from srma.dedup.clusters import build_clusters
from srma.dedup.compare import exact_pairs, score_pairs
from srma.dedup.decisions import check_decisions, read_decisions
from srma.dedup.keys import features
from srma.dedup.merge import merge_clusters
from srma.dedup.ris_out import write_ris

__all__ = [
    "DedupResult",
    "deduplicate",
    "write_outputs",
    "read_decisions",
    "write_ris",
    "UNCERTAIN_COLUMNS",
]

UNCERTAIN_COLUMNS = [
    "record_id_1",
    "record_id_2",
    "cluster_id_1",
    "cluster_id_2",
    "score",
    "reason",
    "title_1",
    "title_2",
]


@dataclass
class DedupResult:
    """Result of :func:`deduplicate`: ``clusters`` (one row per record), ``unique``
    (one row per cluster) and ``uncertain`` (pairs for a person), as in data-model
    section 2; ``stats`` counts the work done."""

    clusters: pd.DataFrame
    unique: pd.DataFrame
    uncertain: pd.DataFrame
    stats: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"DedupResult: {s.get('records', len(self.clusters))} records -> "
            f"{s.get('clusters', len(self.unique))} clusters "
            f"({s.get('duplicates_removed', 0)} duplicates removed; "
            f"{len(self.uncertain)} uncertain pairs)"
        )


def _edges_from(frame: pd.DataFrame, how: str | None, force: bool) -> pd.DataFrame:
    double = frame["double_doi"].to_numpy(dtype=bool) if "double_doi" in frame else False
    return pd.DataFrame(
        {
            "i": frame["i"].to_numpy(dtype=np.int64),
            "j": frame["j"].to_numpy(dtype=np.int64),
            "how": frame["how"].to_numpy(dtype=object) if how is None else how,
            "score": frame["score"].to_numpy(dtype=np.float64),
            "force": force,
            "double_doi": double,
        }
    )


def deduplicate(
    records: pd.DataFrame,
    *,
    decisions: pd.DataFrame | None = None,
    title_threshold: float = 95,
    uncertain_threshold: float = 85,
    window: int = 8,
    progress: bool = False,
) -> DedupResult:
    """Cluster the records of all exports into unique articles.

    Parameters
    ----------
    records:
        Concatenated records tables (data-model section 1), in config export order
        and file position: the first record of a cluster names it.
    decisions:
        A person's decisions from :func:`read_decisions` (``merge`` / ``separate``).
    title_threshold, uncertain_threshold:
        rapidfuzz ``fuzz.ratio`` (0-100) of normalised titles at or above which a
        conflict-free pair is a duplicate, resp. is listed as uncertain.
    window:
        Sorted-neighbourhood window of the blocking passes.
    progress:
        Show a progress bar (tqdm) over the steps.
    """
    if not 0 <= uncertain_threshold <= title_threshold <= 100:
        raise ValueError("need 0 <= uncertain_threshold <= title_threshold <= 100")
    if records["record_id"].duplicated().any():
        dup = records.loc[records["record_id"].duplicated(), "record_id"].iloc[0]
        raise ValueError(f"record_id {dup!r} occurs twice in the records table")
    records = records.reset_index(drop=True)
    ids = records["record_id"].astype(str).to_numpy(dtype=object)
    row_of = {r: k for k, r in enumerate(ids)}

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=5, desc="dedup", unit="step", leave=False)

    def step(name: str) -> None:
        if bar is not None:
            bar.set_postfix_str(name)
            bar.update(1)

    feat = features(records)
    step("keys")
    exact = exact_pairs(feat)
    pairs = candidate_pairs(feat, window=window)
    step("blocking")
    scored = score_pairs(
        feat, pairs, title_threshold=title_threshold, uncertain_threshold=uncertain_threshold
    )
    step("comparing")

    forced = pd.DataFrame(columns=["i", "j", "how", "score", "force", "double_doi"])
    forbidden: dict[int, set[int]] = {}
    decided: set[tuple[int, int]] = set()
    if decisions is not None and len(decisions):
        check_decisions(decisions, ids)
        rows = []
        for r in decisions.itertuples(index=False):
            a, b = row_of[r.record_id_1], row_of[r.record_id_2]
            a, b = min(a, b), max(a, b)
            decided.add((a, b))
            if r.decision == "merge":
                rows.append((a, b, "decision", np.nan, True, False))
            else:
                forbidden.setdefault(a, set()).add(b)
                forbidden.setdefault(b, set()).add(a)
        forced = pd.DataFrame(rows, columns=["i", "j", "how", "score", "force", "double_doi"])

    exact_ok = exact[exact["status"] == "match"]
    fuzzy_ok = scored[scored["status"] == "match"].sort_values(
        ["score", "i", "j"], ascending=[False, True, True], kind="stable"
    )
    edges = pd.concat(
        [
            forced,
            _edges_from(exact_ok.assign(score=100.0), None, False),
            _edges_from(fuzzy_ok, "fuzzy", False),
        ],
        ignore_index=True,
    )
    edges["force"] = edges["force"].astype(bool)
    edges["double_doi"] = edges["double_doi"].astype(bool)
    clusters, refused = build_clusters(ids, feat, edges, forbidden)
    step("clustering")

    unique = merge_clusters(records, clusters)
    step("merging")

    # Uncertain pairs: borderline fuzzy scores, identifiers shared by unlike records,
    # and matches that the cluster guards refused; minus pairs already decided or
    # already in one cluster.
    parts = [
        scored.loc[scored["status"] == "uncertain", ["i", "j", "score", "reason"]],
        exact.loc[exact["status"] == "uncertain", ["i", "j", "score", "reason"]],
    ]
    if len(refused):
        parts.append(refused.loc[refused["how"] != "decision", ["i", "j", "score", "reason"]])
    unc = pd.concat(parts, ignore_index=True)
    cid = clusters["cluster_id"].to_numpy(dtype=object)
    titles = records["title"].to_numpy(dtype=object) if "title" in records else None
    if len(unc):
        lo = np.minimum(unc["i"], unc["j"]).to_numpy(dtype=np.int64)
        hi = np.maximum(unc["i"], unc["j"]).to_numpy(dtype=np.int64)
        unc = unc.assign(i=lo, j=hi)
        unc = unc[cid[lo] != cid[hi]]
        if decided:
            keep = [(a, b) not in decided for a, b in zip(unc["i"], unc["j"], strict=True)]
            unc = unc[np.array(keep, dtype=bool)]
        unc = unc.sort_values(["score", "i", "j"], ascending=[False, True, True], kind="stable")
        unc = unc.drop_duplicates(["i", "j"], keep="first")
    i = unc["i"].to_numpy(dtype=np.int64)
    j = unc["j"].to_numpy(dtype=np.int64)
    uncertain = pd.DataFrame(
        {
            "record_id_1": ids[i],
            "record_id_2": ids[j],
            "cluster_id_1": cid[i],
            "cluster_id_2": cid[j],
            "score": unc["score"].to_numpy(dtype=np.float64).round(1),
            "reason": unc["reason"].to_numpy(dtype=object),
            "title_1": titles[i] if titles is not None else None,
            "title_2": titles[j] if titles is not None else None,
        },
        columns=UNCERTAIN_COLUMNS,
    )
    step("done")
    if bar is not None:
        bar.close()
    stats = {
        "records": len(records),
        "clusters": len(unique),
        "duplicates_removed": len(records) - len(unique),
        "candidate_pairs": len(pairs),
        "exact_pairs": int((exact["status"] == "match").sum()),
        "fuzzy_pairs": int(len(fuzzy_ok)),
        "refused": int(len(refused)),
    }
    return DedupResult(clusters=clusters, unique=unique, uncertain=uncertain, stats=stats)


def write_outputs(result: DedupResult, outdir, *, config_hash: str | None = None) -> list:
    """Write ``clusters.parquet``, ``unique.parquet``, ``unique.ris`` and ``uncertain.csv``
    into ``outdir`` (``results/dedup/`` in the workflow); returns the paths."""
    from pathlib import Path

    from srma.io import write_csv, write_parquet

    out = Path(outdir)
    return [
        write_parquet(result.clusters, out / "clusters.parquet", config_hash=config_hash),
        write_parquet(result.unique, out / "unique.parquet", config_hash=config_hash),
        write_ris(result.unique, out / "unique.ris"),
        write_csv(result.uncertain, out / "uncertain.csv", config_hash=config_hash),
    ]
