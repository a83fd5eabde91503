"""Labelled deduplication sets as srma records tables.

The sets in ``shared/datasets/dedup/*.csv.gz`` (ASySD: Hair et al. 2023, BMC Biology
21:189; SRA-DM: Rathbone et al. 2015, Systematic Reviews 4:6) hold real search exports
with the true duplicate group of every record in ``label``. This module maps their
columns onto the records table of the import stage (data-model section 1) so that
:func:`srma.dedup.deduplicate` runs on them as on any import, and scores a clustering
against the labels.

The sets have no accession column; an export's database accession is in its link
instead, as the import stage reads it from the AN/UI/EID fields: an Ovid Embase link
(``ovidweb.cgi?...&D=emed13&AN=70929072``) gives the Embase accession number, a
Scopus link (``record.uri?eid=2-s2.0-84922404737``) the Scopus EID.
"""

from __future__ import annotations

import csv
import gzip
import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa

from srma.dedup.normalise import first_author_of, norm_doi, norm_pmid, parse_pages

__all__ = ["read_labelled", "score_clusters", "score_uncertain", "accession_from_url"]


# Ovid links name the database segment (D=emed13, emexa, emexb: Embase) and its
# accession number (AN=, digits; the exports run the next link straight on).
_OVID_EMBASE_AN = re.compile(r"[?&]D=em[a-z]*\d*&(?:[^&\s]*&)*?AN=(\d+)")
_SCOPUS_EID = re.compile(r"[?&]eid=(2-s2\.0-\d+)")


def accession_from_url(url: str | None) -> str | None:
    """The Embase accession number or Scopus EID in a record's link, else ``None``."""
    if not url:
        return None
    m = _OVID_EMBASE_AN.search(url) or _SCOPUS_EID.search(url)
    return m.group(1) if m else None


def _split_authors(text: str | None) -> list[str] | None:
    if not text:
        return None
    if " and " in text:
        parts = text.split(" and ")
    else:
        # run-together "Przyklenk K.Kloner R. A." -> split after an initial's dot
        # followed by an upper-case letter that starts a surname.
        import re

        parts = re.split(r"(?<=\.)(?=[A-Z][a-z\u00c0-\u024f'-])", text)
    out = [p.strip() for p in parts if p.strip()]
    return out or None


def read_labelled(path: str | os.PathLike, *, export: str | None = None) -> pd.DataFrame:
    """Read one labelled set into a records table plus a ``label`` column.

    ``record_id`` keeps the set's own id; ``export`` is the file stem (or
    ``export``); ``database`` is the set's ``source`` column (else the stem).
    """
    name = export or os.path.basename(str(path)).split(".")[0]
    # Text stays in pandas' Arrow-backed string dtype (as the records tables read from
    # Parquet are): a million records fit in a fraction of the memory of Python strings.
    import pyarrow.csv as pcsv

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        names = next(csv.reader(fh))
    # Every column as text (a column of digits only would be read as numbers), as
    # large_string: pandas holds its strings so, and converts without a copy.
    table = pcsv.read_csv(
        str(path),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types={c: pa.large_string() for c in names},
            strings_can_be_null=True,
            null_values=[""],
        ),
        read_options=pcsv.ReadOptions(block_size=1 << 24),
    )
    raw = table.to_pandas()
    index = raw.index
    del table
    pa.default_memory_pool().release_unused()  # the reader's buffers
    n = len(raw)

    def per_value(col: pd.Series, func, typ=None) -> pd.Series:
        """``func`` of each value, computed once per distinct value and held by Arrow
        (no Python object per row: a million records)."""
        typ = typ or pa.large_string()
        codes, uniques = pd.factorize(col, use_na_sentinel=True, sort=False)
        results = [func(u) for u in uniques] + [None]
        codes = np.where(codes < 0, len(results) - 1, codes)
        arr = pa.array(np.asarray(results + [None], dtype=object)[:-1], type=typ).take(
            pa.array(codes, type=pa.int64())
        )
        if pa.types.is_large_string(typ):
            return pd.Series(arr.to_pandas(), index=index).astype("str")
        return pd.Series(arr, index=index, dtype=pd.ArrowDtype(typ))

    def text(values) -> pd.Series:
        return pd.Series(values, index=index, dtype=object).astype("str")

    def first_page(p: str) -> str | None:
        got = parse_pages(p)
        return got[0] if got else None

    def year_of(y: str) -> float:
        m = re.search(r"\d{4}", y)
        return float(m.group(0)) if m else float("nan")

    year = pd.Series(
        pd.factorize(raw["year"], use_na_sentinel=True)[1].map(year_of).to_numpy(),
        dtype="float64",
    )
    codes = pd.factorize(raw["year"], use_na_sentinel=True)[0]
    year = pd.Series(
        np.where(codes >= 0, year.to_numpy()[np.maximum(codes, 0)], np.nan), index=raw.index
    )
    list_type = pa.list_(pa.string())
    authors = per_value(raw["authors"], _split_authors, list_type)
    source = raw["source"].fillna(name)
    pub_type = per_value(raw["entrytype"], lambda t: [t], list_type)
    records = pd.DataFrame(
        {
            "record_id": raw["record_id"],
            "export": name,
            "position": np.arange(1, n + 1, dtype="int64"),
            "source_file": str(path),
            "format": "csv",
            "database": source,
            "title": raw["title"],
            "authors": authors,
            "first_author": per_value(raw["authors"], first_author_of),
            "year": year.astype("Int32"),
            "journal": raw["journal"].fillna(raw["booktitle"]),
            "journal_abbrev": text([None] * n),
            "volume": raw["volume"],
            "issue": raw["issue"],
            "pages": raw["pages"],
            "first_page": per_value(raw["pages"], first_page),
            "doi": per_value(raw["doi"], norm_doi),
            "pmid": per_value(raw["pmid"], norm_pmid),
            "accession": (
                per_value(raw["url"], accession_from_url) if "url" in raw else text([None] * n)
            ),
            "abstract": raw["abstract"],
            "keywords": pd.Series(
                pa.nulls(n, pa.list_(pa.string())),
                index=raw.index,
                dtype=pd.ArrowDtype(pa.list_(pa.string())),
            ),
            "publication_type": pub_type,
            "language": text([None] * n),
            "raw": text([None] * n),
            "label": raw["label"],
        }
    )
    del raw
    from srma.dedup import _release_memory

    _release_memory()  # the reader's buffers and the per-value garbage
    return records


def score_clusters(records: pd.DataFrame, clusters: pd.DataFrame) -> dict[str, float]:
    """Score a clustering against the true groups in ``records['label']``.

    - ``duplicates_true``: records that are removable duplicates (records minus true
      groups);
    - ``duplicates_found``: records minus clusters;
    - ``false_merges``: records that sit in a cluster with a record of another true
      group, counted as the records outside the cluster's largest true group;
    - ``sensitivity``: record-level share of removable duplicates removed without a
      false merge: sum over true groups of (largest share of the group kept in one
      cluster - 1), over ``duplicates_true``.
    """
    df = records[["record_id", "label"]].merge(
        clusters[["record_id", "cluster_id"]], on="record_id", how="left", validate="1:1"
    )
    if df["cluster_id"].isna().any():
        raise ValueError("clusters do not cover every record")
    n = len(df)
    n_groups = df["label"].nunique()
    n_clusters = df["cluster_id"].nunique()
    pair = df.groupby(["cluster_id", "label"]).size().rename("k").reset_index()
    # false merges: in each cluster, records not in the cluster's largest label
    per_cluster = pair.groupby("cluster_id")["k"].agg(["sum", "max"])
    false_merges = int((per_cluster["sum"] - per_cluster["max"]).sum())
    # found duplicates within a true group: records of the group that share a cluster
    # with another record of the same group, minus one per such cluster
    found = int((pair["k"] - 1).clip(lower=0).sum())
    dup_true = n - n_groups
    return {
        "records": n,
        "true_groups": n_groups,
        "clusters": n_clusters,
        "duplicates_true": dup_true,
        "duplicates_found": n - n_clusters,
        "true_duplicates_found": found,
        "false_merges": false_merges,
        "sensitivity": found / dup_true if dup_true else 1.0,
    }


def score_uncertain(
    records: pd.DataFrame, clusters: pd.DataFrame, uncertain: pd.DataFrame
) -> dict[str, float]:
    """How much of what the rules missed the list for a person holds.

    Every listed pair whose two records are of one true group is decided ``merge``
    (a person deciding every pair correctly), their clusters joined, and the clustering
    scored again:

    - ``missed``: removable duplicates the rules left unmerged;
    - ``recovered``: of those, the ones the decisions recover;
    - ``coverage``: ``recovered / missed`` (1 when nothing was missed);
    - ``pairs``, ``pairs_pct``: rows of the list, and as a percentage of the records;
    - ``listed``, ``listed_pct``: distinct records named in the list, and as a
      percentage of the records.
    """
    before = score_clusters(records, clusters)
    label = dict(zip(records["record_id"], records["label"], strict=True))
    cid = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in zip(uncertain["record_id_1"], uncertain["record_id_2"], strict=True):
        if label[a] == label[b]:
            ra, rb = find(cid[a]), find(cid[b])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    joined = clusters.assign(cluster_id=[find(c) for c in clusters["cluster_id"]])
    after = score_clusters(records, joined)
    missed = before["duplicates_true"] - before["true_duplicates_found"]
    recovered = after["true_duplicates_found"] - before["true_duplicates_found"]
    n = max(len(records), 1)
    listed = len(set(uncertain["record_id_1"]) | set(uncertain["record_id_2"]))
    return {
        "missed": int(missed),
        "recovered": int(recovered),
        "coverage": recovered / missed if missed else 1.0,
        "pairs": int(len(uncertain)),
        "pairs_pct": 100.0 * len(uncertain) / n,
        "listed": int(listed),
        "listed_pct": 100.0 * listed / n,
    }
