"""Screening decisions and the PRISMA 2020 flow counts.

Input ``resources/screening/decisions.csv`` holds one row per screened cluster:
``record_key`` (how to find the cluster), the title/abstract decision and reason, the
full-text decision and exclusion reason, and ``study_id`` for included reports. Other
columns (title, notes ...) are kept for people and ignored here.

A ``record_key`` resolves to exactly one cluster of the deduplicated records:

- ``cluster:<id>`` - the cluster holding record ``<id>`` (cluster ids are the ids of
  their anchor records, so this still works after an update search merged clusters);
- ``pmid:<digits>``, ``doi:<doi>`` - the cluster whose records carry that PMID/DOI;
- ``nct:<id>``, ``eudract:<id>`` - the registry record whose accession, journal/URL
  field or title names that registry id;
- ``title:<start of title>`` - the cluster whose normalised title starts with the
  normalised text.

A key that finds no cluster or more than one, two rows on one cluster, or an
inconsistent decision is an error naming the file, line, key and field. Clusters
without a row are ``not_screened`` (new records of an update search): they are listed
for screening and counted apart.

PRISMA 2020 boxes (Page et al. 2021, BMJ 372:n71, Figure 1)::

    identified.total - duplicates_removed = records (unique clusters)
    records = screened + not_screened
    screened = excluded_title_abstract + sought
    sought = not_retrieved + awaiting_full_text + assessed
    assessed = excluded_full_text.total + included_reports
    included_studies = distinct study_id of included reports (a report without one
                       counts as its own study)
"""

from __future__ import annotations

import argparse
import csv
import os
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from srma.dedup.normalise import norm_doi, norm_pmid, norm_title
from srma.errors import InputError

__all__ = ["screen", "read_screening", "prisma_counts", "add_arguments", "run"]

REQUIRED = ["record_key", "title_abstract_decision"]
OPTIONAL = [
    "title_abstract_reason",
    "full_text_decision",
    "full_text_exclusion_reason",
    "study_id",
]
DECISION_COLUMNS = [
    "cluster_id",
    "record_key",
    "title_abstract_decision",
    "title_abstract_reason",
    "full_text_decision",
    "full_text_exclusion_reason",
    "study_id",
    "status",
]
_TA = {"include", "exclude"}
_FT = {"include", "exclude", "not_retrieved", ""}
_KEY = re.compile(r"^(cluster|pmid|doi|nct|eudract|title):(.+)$", re.IGNORECASE | re.DOTALL)


def read_screening(path: str | os.PathLike) -> pd.DataFrame:
    """Read the decisions file; returns the rows with a ``line`` column (1-based line
    in the file). Checks the columns and the decision vocabulary."""
    path = os.fspath(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
        rows = []
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            clean = {c: (row.get(c) or "").strip() for c in REQUIRED + OPTIONAL}
            clean["line"] = line
            rows.append(clean)
    frame = pd.DataFrame(rows, columns=REQUIRED + OPTIONAL + ["line"])
    for row in frame.itertuples(index=False):
        key = row.record_key
        if not _KEY.match(key):
            raise InputError(
                path,
                "record_key must be cluster:, pmid:, doi:, nct:, eudract: or title: "
                f"followed by a value, not {key!r}",
                line=row.line,
                field="record_key",
            )
        ta, ft = row.title_abstract_decision.lower(), row.full_text_decision.lower()
        if ta not in _TA:
            raise InputError(
                path,
                f"title_abstract_decision must be include or exclude, not {ta!r}",
                line=row.line,
                record=key,
                field="title_abstract_decision",
            )
        if ft not in _FT:
            raise InputError(
                path,
                f"full_text_decision must be include, exclude, not_retrieved or empty, not {ft!r}",
                line=row.line,
                record=key,
                field="full_text_decision",
            )
        if ta == "exclude" and ft:
            raise InputError(
                path,
                "a record excluded at title/abstract has a full-text decision",
                line=row.line,
                record=key,
                field="full_text_decision",
            )
        if ft == "exclude" and not row.full_text_exclusion_reason:
            raise InputError(
                path,
                "a full-text exclusion needs a reason (PRISMA reports them)",
                line=row.line,
                record=key,
                field="full_text_exclusion_reason",
            )
    frame["title_abstract_decision"] = frame["title_abstract_decision"].str.lower()
    frame["full_text_decision"] = frame["full_text_decision"].str.lower()
    frame.attrs["path"] = path
    return frame


class _Index:
    """Look-ups from identifiers to clusters."""

    def __init__(self, unique: pd.DataFrame, clusters: pd.DataFrame, records: pd.DataFrame):
        cluster_of = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
        self.cluster_of = cluster_of
        self.pmid: dict[str, set[str]] = {}
        self.doi: dict[str, set[str]] = {}
        self.titles: list[tuple[str, str]] = []
        self.registry_text: list[tuple[str, str]] = []
        for rec in records.itertuples(index=False):
            cid = cluster_of[rec.record_id]
            p = norm_pmid(getattr(rec, "pmid", None))
            if p:
                self.pmid.setdefault(p, set()).add(cid)
            d = norm_doi(getattr(rec, "doi", None))
            if d:
                self.doi.setdefault(d, set()).add(cid)
            t = norm_title(getattr(rec, "title", None))
            if t:
                self.titles.append((t.replace(" ", ""), cid))
            parts = [
                getattr(rec, "accession", None),
                getattr(rec, "journal", None),
                getattr(rec, "title", None),
            ]
            text = " ".join(str(x) for x in parts if isinstance(x, str)).upper()
            if text:
                self.registry_text.append((text, cid))

    def resolve(self, key: str) -> set[str]:
        m = _KEY.match(key)
        kind, value = m.group(1).lower(), m.group(2).strip()
        if kind == "cluster":
            cid = self.cluster_of.get(value)
            return {cid} if cid else set()
        if kind == "pmid":
            return set(self.pmid.get(norm_pmid(value) or "", ()))
        if kind == "doi":
            return set(self.doi.get(norm_doi(value) or value.lower(), ()))
        if kind in ("nct", "eudract"):
            needle = value.upper()
            pattern = re.compile(r"(?<![0-9A-Z-])" + re.escape(needle) + r"(?![0-9A-Z-])")
            return {cid for text, cid in self.registry_text if pattern.search(text)}
        start = (norm_title(value) or "").replace(" ", "")
        if not start:
            return set()
        return {cid for t, cid in self.titles if t.startswith(start)}


def screen(
    unique: pd.DataFrame,
    clusters: pd.DataFrame,
    records: pd.DataFrame,
    decisions_path: str | os.PathLike,
) -> tuple[pd.DataFrame, dict]:
    """Attach the screening decisions to the clusters and count the PRISMA boxes.

    Returns ``(decisions, counts)``: one row per cluster of ``unique`` (data-model
    section 3, in ``unique`` order) and the PRISMA 2020 counts dict.
    """
    frame = read_screening(decisions_path)
    path = frame.attrs["path"]
    index = _Index(unique, clusters, records)
    by_cluster: dict[str, dict] = {}
    for row in frame.to_dict("records"):
        found = index.resolve(row["record_key"])
        if not found:
            raise InputError(
                path,
                f"record_key {row['record_key']!r} matches no deduplicated record",
                line=row["line"],
                record=row["record_key"],
                field="record_key",
            )
        if len(found) > 1:
            raise InputError(
                path,
                f"record_key {row['record_key']!r} matches {len(found)} clusters "
                f"({', '.join(sorted(found))}); use cluster:<id>",
                line=row["line"],
                record=row["record_key"],
                field="record_key",
            )
        cid = found.pop()
        if cid in by_cluster:
            raise InputError(
                path,
                f"record_key {row['record_key']!r} is cluster {cid}, already decided on "
                f"line {by_cluster[cid]['line']} ({by_cluster[cid]['record_key']})",
                line=row["line"],
                record=row["record_key"],
                field="record_key",
            )
        by_cluster[cid] = row
    rows = []
    for cid in unique["cluster_id"]:
        row = by_cluster.get(cid)
        if row is None:
            rows.append({"cluster_id": cid, "status": "not_screened"})
            continue
        ta, ft = row["title_abstract_decision"], row["full_text_decision"]
        if ta == "exclude":
            status = "excluded_title_abstract"
        elif ft == "include":
            status = "included"
        elif ft == "exclude":
            status = "excluded_full_text"
        elif ft == "not_retrieved":
            status = "not_retrieved"
        else:
            status = "awaiting_full_text"
        rows.append(
            {
                "cluster_id": cid,
                "record_key": row["record_key"],
                "title_abstract_decision": ta,
                "title_abstract_reason": row["title_abstract_reason"] or None,
                "full_text_decision": ft or None,
                "full_text_exclusion_reason": row["full_text_exclusion_reason"] or None,
                "study_id": row["study_id"] or None,
                "status": status,
            }
        )
    decisions = pd.DataFrame(rows, columns=DECISION_COLUMNS).astype(object)
    decisions = decisions.where(decisions.notna(), None)
    return decisions, prisma_counts(records, unique, decisions)


def prisma_counts(records: pd.DataFrame, unique: pd.DataFrame, decisions: pd.DataFrame) -> dict:
    """PRISMA 2020 counts from the records, the clusters and the per-cluster decisions;
    checks that they reconcile (see the module docstring)."""
    db = records["database"].fillna("unknown") if "database" in records else None
    per_db = dict(sorted(Counter(db).items())) if db is not None else {}
    status = Counter(decisions["status"])
    ft_ex = decisions.loc[decisions["status"] == "excluded_full_text"]
    reasons = dict(sorted(Counter(ft_ex["full_text_exclusion_reason"]).items()))
    included = decisions.loc[decisions["status"] == "included"]
    studies = set()
    for k, sid in enumerate(included["study_id"]):
        studies.add(sid if sid else f"\0report{k}")
    n_records = len(records)
    counts = {
        "identified": {**{str(k): int(v) for k, v in per_db.items()}, "total": n_records},
        "duplicates_removed": n_records - len(unique),
        "records_after_duplicates": len(unique),
        "screened": len(unique) - status["not_screened"],
        "not_screened": status["not_screened"],
        "excluded_title_abstract": status["excluded_title_abstract"],
        "sought": status["included"]
        + status["excluded_full_text"]
        + status["not_retrieved"]
        + status["awaiting_full_text"],
        "not_retrieved": status["not_retrieved"],
        "awaiting_full_text": status["awaiting_full_text"],
        "assessed": status["included"] + status["excluded_full_text"],
        "excluded_full_text": {**{str(k): int(v) for k, v in reasons.items()}, "total": len(ft_ex)},
        "included_reports": status["included"],
        "included_studies": len(studies),
    }
    c = counts
    checks = [
        c["identified"]["total"] - c["duplicates_removed"] == c["screened"] + c["not_screened"],
        c["identified"]["total"] == sum(v for k, v in c["identified"].items() if k != "total"),
        c["screened"] == c["excluded_title_abstract"] + c["sought"],
        c["sought"] == c["not_retrieved"] + c["awaiting_full_text"] + c["assessed"],
        c["assessed"] == c["excluded_full_text"]["total"] + c["included_reports"],
    ]
    if not all(checks):  # cannot happen by construction; guards later edits
        raise RuntimeError(f"PRISMA counts do not reconcile: {counts}")
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", nargs="+", required=True, help="records Parquet files")
    parser.add_argument("--dedup", required=True, metavar="DIR", help="dedup output folder")
    parser.add_argument("--decisions", required=True, metavar="CSV")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="folder for decisions.parquet and to_screen.csv",
    )
    parser.add_argument(
        "--counts", metavar="JSON", help="PRISMA counts file (default: DIR/counts.json)"
    )


def run(args: argparse.Namespace) -> int:
    from srma.io import read_parquet, write_csv, write_json, write_parquet

    records = pd.concat([read_parquet(p) for p in args.records], ignore_index=True)
    dedup = Path(args.dedup)
    unique = read_parquet(dedup / "unique.parquet")
    clusters = read_parquet(dedup / "clusters.parquet")
    decisions, counts = screen(unique, clusters, records, args.decisions)
    out = Path(args.output)
    write_parquet(decisions, out / "decisions.parquet")
    write_json(counts, Path(args.counts) if args.counts else out / "counts.json")
    todo = unique.loc[decisions["status"].to_numpy() == "not_screened"]
    write_csv(
        todo[["cluster_id", "title", "year", "journal", "doi", "pmid"]], out / "to_screen.csv"
    )
    print(
        f"{counts['identified']['total']} records, {counts['records_after_duplicates']} unique, "
        f"{counts['screened']} screened, {counts['included_reports']} reports / "
        f"{counts['included_studies']} studies included; {counts['not_screened']} to screen"
    )
    return 0
