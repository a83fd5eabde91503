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

import os
import re

import numpy as np
import pandas as pd

from srma.dedup.normalise import first_author_of, norm_doi, norm_pmid, parse_pages

__all__ = ["read_labelled", "score_clusters", "accession_from_url"]


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
    raw = pd.read_csv(path, dtype=str, keep_default_na=False).astype(object)
    raw = raw.where(raw != "", None)
    n = len(raw)
    pages = raw["pages"].map(parse_pages)
    year = pd.to_numeric(raw["year"].str.extract(r"(\d{4})")[0], errors="coerce")
    authors = raw["authors"].map(_split_authors)
    source = raw["source"].fillna(name)
    pub_type = raw["entrytype"].map(lambda t: [t] if t else None)
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
            "first_author": raw["authors"].map(first_author_of),
            "year": year.astype("Int32"),
            "journal": raw["journal"].fillna(raw["booktitle"]),
            "journal_abbrev": None,
            "volume": raw["volume"],
            "issue": raw["issue"],
            "pages": raw["pages"],
            "first_page": pages.map(lambda p: p[0] if p else None),
            "doi": raw["doi"].map(norm_doi),
            "pmid": raw["pmid"].map(norm_pmid),
            "accession": (
                raw["url"].map(accession_from_url) if "url" in raw else pd.Series([None] * n)
            ),
            "abstract": raw["abstract"],
            "keywords": None,
            "publication_type": pub_type,
            "language": None,
            "raw": None,
            "label": raw["label"],
        }
    )
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
