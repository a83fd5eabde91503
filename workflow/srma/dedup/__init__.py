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
from srma.dedup.compare import evidence, exact_pairs, score_pairs
from srma.dedup.decisions import check_decisions, read_decisions
from srma.dedup.keys import features
from srma.dedup.merge import merge_clusters
from srma.dedup.ris_out import write_ris

__all__ = [
    "DedupResult",
    "lean_memory_pool",
    "parquet_metadata",
    "deduplicate",
    "write_outputs",
    "read_decisions",
    "write_ris",
    "UNCERTAIN_COLUMNS",
    "UNTITLED_COLUMNS",
]

UNCERTAIN_COLUMNS = [
    "record_id_1",
    "record_id_2",
    "cluster_id_1",
    "cluster_id_2",
    "score",
    "reason",
    "evidence",
    "title_1",
    "title_2",
]

UNTITLED_COLUMNS = [
    "record_id",
    "cluster_id",
    "export",
    "position",
    "source_file",
    "first_author",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "accession",
    "candidates",
]


@dataclass
class DedupResult:
    """Result of :func:`deduplicate`: ``clusters`` (one row per record), ``unique``
    (one row per cluster), ``uncertain`` (pairs for a person) and ``untitled``
    (records without a title, kept as their own clusters), as in data-model section
    2; ``stats`` counts the work done."""

    clusters: pd.DataFrame
    unique: pd.DataFrame
    uncertain: pd.DataFrame
    stats: dict = field(default_factory=dict)
    untitled: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNTITLED_COLUMNS))

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"DedupResult: {s.get('records', len(self.clusters))} records -> "
            f"{s.get('clusters', len(self.unique))} clusters "
            f"({s.get('duplicates_removed', 0)} duplicates removed; "
            f"{len(self.uncertain)} uncertain pairs; "
            f"{len(self.untitled)} records without a title)"
        )


_EDGE_COLUMNS = ["i", "j", "how", "score", "force", "double_doi", "same_place"]


def _edges_from(frame: pd.DataFrame, how: str | None, force: bool) -> pd.DataFrame:
    def flag(name: str) -> np.ndarray | bool:
        return frame[name].to_numpy(dtype=bool) if name in frame else False

    return pd.DataFrame(
        {
            "i": frame["i"].to_numpy(dtype=np.int64),
            "j": frame["j"].to_numpy(dtype=np.int64),
            "how": frame["how"].to_numpy(dtype=object) if how is None else how,
            "score": frame["score"].to_numpy(dtype=np.float64),
            "force": force,
            "double_doi": flag("double_doi"),
            "same_place": flag("same_place"),
        }
    )


def _text_or_none(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def _check_forced(decisions: pd.DataFrame, feat, row_of: dict) -> None:
    """A forced merge of two records whose DOIs or PMIDs conflict is refused unless
    its row gives a ``reason``: two identifiers that differ almost always mean two
    papers, and a merge by mistake loses a study."""
    from srma.dedup.compare import doi_conflict
    from srma.errors import InputError

    path = decisions.attrs.get("path", "decisions")
    has_reason = "reason" in decisions.columns
    for r in decisions.itertuples(index=False):
        if r.decision != "merge":
            continue
        if has_reason and isinstance(r.reason, str) and r.reason.strip():
            continue
        a, b = row_of[r.record_id_1], row_of[r.record_id_2]
        ia, ib = np.array([a]), np.array([b])
        line = int(r.line) if hasattr(r, "line") and pd.notna(r.line) else None
        if doi_conflict(feat, ia, ib)[0]:
            what, x, y = "DOIs", feat.doi[a], feat.doi[b]
        elif feat.pmid[a] and feat.pmid[b] and feat.pmid[a] != feat.pmid[b]:
            what, x, y = "PMIDs", feat.pmid[a], feat.pmid[b]
        else:
            continue
        raise InputError(
            path,
            f"forced merge of {r.record_id_1} and {r.record_id_2}: their {what} differ "
            f"({x} vs {y}), so they look like two papers; to merge them anyway, say why "
            "in the 'reason' column",
            line=line,
            record=r.record_id_1,
            field="doi" if what == "DOIs" else "pmid",
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
        A person's decisions from :func:`read_decisions` (``merge`` / ``separate``;
        a ``merge`` of two records whose DOIs or PMIDs differ needs a ``reason``).
    title_threshold, uncertain_threshold:
        rapidfuzz ``fuzz.ratio`` (0-100) of normalised titles at or above which a
        conflict-free, corroborated pair is a duplicate, resp. is listed as uncertain.
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
    ids = records["record_id"]

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=5, desc="dedup", unit="step", leave=False)

    def step(name: str) -> None:
        if bar is not None:
            bar.set_postfix_str(name)
            bar.update(1)

    feat = features(records)
    _release_memory()
    step("keys")
    exact = exact_pairs(feat, review_min=uncertain_threshold)
    pairs = candidate_pairs(feat, window=window)
    step("blocking")
    scored = score_pairs(
        feat, pairs, title_threshold=title_threshold, uncertain_threshold=uncertain_threshold
    )
    del pairs
    step("comparing")

    forced = pd.DataFrame(columns=_EDGE_COLUMNS)
    forbidden: dict[int, set[int]] = {}
    decided: set[tuple[int, int]] = set()
    if decisions is not None and len(decisions):
        check_decisions(decisions, ids.astype(str))
        named = set(decisions["record_id_1"]) | set(decisions["record_id_2"])
        row_of = {r: k for k, r in enumerate(ids.astype(str)) if r in named}
        _check_forced(decisions, feat, row_of)
        rows = []
        for r in decisions.itertuples(index=False):
            a, b = row_of[r.record_id_1], row_of[r.record_id_2]
            a, b = min(a, b), max(a, b)
            decided.add((a, b))
            if r.decision == "merge":
                rows.append((a, b, "decision", np.nan, True, False, False))
            else:
                forbidden.setdefault(a, set()).add(b)
                forbidden.setdefault(b, set()).add(a)
        forced = pd.DataFrame(rows, columns=_EDGE_COLUMNS)

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
    for col in ("force", "double_doi", "same_place"):
        edges[col] = edges[col].astype(bool)
    clusters, refused, anchor = build_clusters(ids, feat, edges, forbidden)
    untitled_rows = np.flatnonzero(feat.title == "")
    step("clustering")
    uncertain = _uncertain(records, anchor, scored, exact, refused, decided)
    untitled = _untitled(records, clusters, untitled_rows, uncertain)
    stats = {
        "records": len(records),
        "exact_pairs": int((exact["status"] == "match").sum()),
        "fuzzy_pairs": int(len(fuzzy_ok)),
        "refused": int(len(refused)),
        "untitled": int(len(untitled)),
    }
    # the keys and pairs are not needed for merging: free their memory first
    del feat, edges, scored, exact, exact_ok, fuzzy_ok, refused
    _release_memory()

    unique = merge_clusters(records, clusters)
    _release_memory()
    step("merging")
    step("done")
    if bar is not None:
        bar.close()
    stats.update(clusters=len(unique), duplicates_removed=len(records) - len(unique))
    return DedupResult(
        clusters=clusters, unique=unique, uncertain=uncertain, stats=stats, untitled=untitled
    )


def _release_memory() -> None:
    """Hand freed memory back to the system: Python's garbage, Arrow's pool (which keeps
    freed blocks for reuse) and the C heap (glibc keeps freed memory unless trimmed).
    A million records' comparison keys are freed before the merged table is built:
    without this the process would keep both."""
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def lean_memory_pool() -> None:
    """Let Arrow allocate with jemalloc when pyarrow has it: it hands freed memory
    back to the system where mimalloc (pyarrow's default) keeps it, which at a million
    records is half a gigabyte. Called by ``srma dedup`` and the workflow's
    deduplicate job before they read the records; arrays allocated before stay valid."""
    import contextlib

    import pyarrow as pa

    with contextlib.suppress(NotImplementedError, AttributeError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def _strings_at(col: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``col`` at ``rows`` as Python objects (``None`` for missing)."""
    return col.iloc[rows].to_numpy(dtype=object, na_value=None)


def _uncertain(records, anchor, scored, exact, refused, decided) -> pd.DataFrame:
    """Pairs for a person: every pair worth a decision that the rules did not merge
    (see :mod:`srma.dedup.compare`), the identifiers shared by unlike records and the
    matches that the cluster guards refused; minus pairs already decided or already
    in one cluster; one row per pair, most likely duplicates first."""
    cols = ["i", "j", "score", "reason", "agree", "priority"]
    parts = [  # on a tie, the reason given by a shared identifier is shown
        exact.loc[exact["status"] == "uncertain", cols],
        scored.loc[scored["status"] == "uncertain", cols],
    ]
    if len(refused):
        # a refused match keeps the priority and evidence of its pair
        known = pd.concat(
            [
                scored.loc[scored["status"] == "match", ["i", "j", "agree", "priority"]],
                exact.loc[exact["status"] == "match", ["i", "j", "agree", "priority"]],
            ],
            ignore_index=True,
        ).drop_duplicates(["i", "j"])
        ref = refused.loc[refused["how"] != "decision", ["i", "j", "score", "reason"]]
        ref = ref.merge(known, on=["i", "j"], how="left")
        ref["priority"] = ref["priority"].fillna(ref["score"]) - 10.0
        parts.append(ref[cols])
    unc = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    )
    if len(unc):
        lo = np.minimum(unc["i"], unc["j"]).to_numpy(dtype=np.int64)
        hi = np.maximum(unc["i"], unc["j"]).to_numpy(dtype=np.int64)
        unc = unc.assign(i=lo, j=hi)
        unc = unc[anchor[lo] != anchor[hi]]
        if decided:
            keep = [(a, b) not in decided for a, b in zip(unc["i"], unc["j"], strict=True)]
            unc = unc[np.array(keep, dtype=bool)]
        unc = unc.assign(priority=unc["priority"].astype(np.float64))
        unc = unc.sort_values(
            ["priority", "score", "i", "j"], ascending=[False, False, True, True], kind="stable"
        )
        unc = unc.drop_duplicates(["i", "j"], keep="first")
    i = unc["i"].to_numpy(dtype=np.int64)
    j = unc["j"].to_numpy(dtype=np.int64)
    ids = records["record_id"].astype(str)
    has_title = "title" in records
    return pd.DataFrame(
        {
            "record_id_1": _strings_at(ids, i),
            "record_id_2": _strings_at(ids, j),
            "cluster_id_1": _strings_at(ids, anchor[i]),
            "cluster_id_2": _strings_at(ids, anchor[j]),
            "score": unc["score"].to_numpy(dtype=np.float64).round(1),
            "reason": unc["reason"].to_numpy(dtype=object),
            "evidence": evidence(unc["agree"].fillna(0).to_numpy(dtype=np.int64)),
            "title_1": _strings_at(records["title"], i) if has_title else None,
            "title_2": _strings_at(records["title"], j) if has_title else None,
        },
        columns=UNCERTAIN_COLUMNS,
    )


def _untitled(records, clusters, rows, uncertain) -> pd.DataFrame:
    """Records without a title (at ``rows``): each is its own cluster (no rule merges
    it), listed with the records that may be the same article (``candidates``: those
    paired with it in ``uncertain``)."""
    if not len(rows):
        return pd.DataFrame(columns=UNTITLED_COLUMNS)
    partners: dict[str, list[str]] = {}
    for a, b in zip(uncertain["record_id_1"], uncertain["record_id_2"], strict=True):
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    ids = _strings_at(records["record_id"].astype(str), rows)
    out = {}
    for name in UNTITLED_COLUMNS:
        if name == "record_id":
            out[name] = ids
        elif name == "cluster_id":
            out[name] = _strings_at(clusters["cluster_id"], rows)
        elif name == "candidates":
            out[name] = ["; ".join(partners.get(r, [])) or None for r in ids]
        elif name in records.columns:
            out[name] = [_text_or_none(v) for v in _strings_at(records[name], rows)]
        else:
            out[name] = [None] * len(rows)
    frame = pd.DataFrame(out, columns=UNTITLED_COLUMNS)
    frame["position"] = pd.array(frame["position"], dtype="Int64")
    frame["year"] = pd.array(frame["year"], dtype="Int64")
    return frame


def parquet_metadata(frame: pd.DataFrame) -> dict[str, str]:
    """Parquet key-value metadata for ``frame`` (pass to :func:`srma.io.write_parquet`)
    whose pandas part names Arrow-backed list columns as plain object columns of
    lists: pandas cannot parse the name of an Arrow list type when it reads the file
    back, and the column reads back as a list column all the same."""
    import json

    import pyarrow as pa

    lists = [
        c
        for c in frame.columns
        if isinstance(frame[c].dtype, pd.ArrowDtype)
        and (
            pa.types.is_list(frame[c].dtype.pyarrow_dtype)
            or pa.types.is_large_list(frame[c].dtype.pyarrow_dtype)
        )
    ]
    if not lists:
        return {}
    table = pa.Table.from_pandas(frame.iloc[:0].reset_index(drop=True), preserve_index=False)
    meta = json.loads(table.schema.metadata[b"pandas"])
    for col in meta["columns"]:
        if col["name"] in lists:
            col["pandas_type"] = "list[unicode]"
            col["numpy_type"] = "object"
    return {"pandas": json.dumps(meta)}


def write_outputs(result: DedupResult, outdir, *, config_hash: str | None = None) -> list:
    """Write ``clusters.parquet``, ``unique.parquet``, ``unique.ris``, ``uncertain.csv``
    and ``untitled.csv`` into ``outdir`` (``results/dedup/`` in the workflow); returns
    the paths."""
    from pathlib import Path

    from srma.io import write_csv, write_parquet

    out = Path(outdir)
    return [
        write_parquet(result.clusters, out / "clusters.parquet", config_hash=config_hash),
        write_parquet(
            result.unique,
            out / "unique.parquet",
            config_hash=config_hash,
            metadata=parquet_metadata(result.unique),
        ),
        write_ris(result.unique, out / "unique.ris"),
        write_csv(result.uncertain, out / "uncertain.csv", config_hash=config_hash),
        write_csv(result.untitled, out / "untitled.csv", config_hash=config_hash),
    ]
