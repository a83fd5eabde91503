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
  normalised text;
- ``other:<label>`` - a report found by other methods than the database searches
  (citation searching, websites, organisations, contacts: PRISMA 2020's second column),
  with its route in the optional ``identified_via`` column ("other methods" when empty).
  It is no search record: it resolves to no cluster, is counted under ``other_methods``
  and may name the study it reports like any included report. Such reports are sought
  for retrieval, so ``title_abstract_decision`` is ``include``.

The file is checked in two steps, each stopping with an error naming the file, the
line, the record key and the column:

- :func:`check_decisions_file` (the file alone, and the study files it names; the
  workflow runs it when it starts, before any job; :func:`read_screening` runs the same
  checks): UTF-8, a header holding each required column once, at least one decision,
  every row as many cells as the header, each record key once, decisions from the
  allowed values and consistent (a full-text decision only after a title/abstract
  inclusion, a reason for a full-text exclusion, a ``study_id`` for an included
  report), and the references to the study files (:func:`check_study_references`):
  an included study without an extraction file, or a study file that no included
  report names, is an error (a study with no usable data still has its file, with
  ``outcomes: []`` and ``no_outcomes_reason``; a study found outside the searches has an
  ``other:`` row);
- :func:`screen` (with the deduplicated records): a key that finds no cluster or more
  than one, or two rows on one cluster.

Clusters without a row are ``not_screened`` (new records of an update search): they are
listed for screening and counted apart.

Decisions made in ASReview LAB, Rayyan or Covidence are read from their exports by
:mod:`srma.screening_tools` (``srma screen --tool``), into the same table and counts.

PRISMA 2020 boxes (Page et al. 2021, BMJ 372:n71, Figure 1)::

    identified.total - duplicates_removed = records (unique clusters)
    records = screened + not_screened
    screened = excluded_title_abstract + sought
    sought = not_retrieved + awaiting_full_text + assessed
    assessed = excluded_full_text.total + included_reports
    included_studies = distinct study_id of included reports, both columns

    other_methods (``other:`` rows): identified = sought = not_retrieved + assessed,
    assessed = excluded.total + included_reports
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from srma.errors import InputError, decode_utf8

if TYPE_CHECKING:  # imported where used: the workflow checks the file when it starts
    import pandas as pd

__all__ = [
    "screen",
    "read_screening",
    "check_decisions_file",
    "check_study_references",
    "prisma_counts",
    "add_arguments",
    "run",
]

log = logging.getLogger(__name__)

#: Columns the decisions file must have: without ``full_text_decision`` every report
#: would look unassessed, without ``study_id`` no report would link to its study file.
REQUIRED = ["record_key", "title_abstract_decision", "full_text_decision", "study_id"]
#: Columns read when present (reasons; a full-text exclusion needs its reason).
OPTIONAL = ["title_abstract_reason", "full_text_exclusion_reason", "identified_via"]
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
_KEY = re.compile(r"^(cluster|pmid|doi|nct|eudract|title|other):(.+)$", re.IGNORECASE | re.DOTALL)
#: What ``identified_via`` says when an ``other:`` row leaves it empty.
OTHER_METHODS = "other methods"
#: A study id is an extraction file's stem (extraction schema, ``study_id``).
_STUDY_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def _read_text(path: str) -> str:
    """The decoded text of the decisions file (UTF-8, with or without BOM)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise InputError(path, f"cannot read the file: {err.strerror or err}") from None
    return decode_utf8(path, data, "save the file as UTF-8 (CSV UTF-8)")


def _header(path: str, header: list[str], line: int) -> list[str]:
    """Check the header: each required column present, no column named twice."""
    names = [h.strip() for h in header]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise InputError(path, "column named twice in the header; keep one", line=1, field=name)
        seen.add(name)
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        others = {n.lower(): n for n in names if n and n not in REQUIRED + OPTIONAL}
        hints = []
        for c in missing:
            close = difflib.get_close_matches(c, list(others), n=1, cutoff=0.8)
            if close:
                hints.append(f"is '{others[close[0]]}' meant as '{c}'?")
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)}; the header needs {', '.join(REQUIRED)}{hint}",
            line=line,
            field=missing[0],
        )
    return names


def read_screening(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check the decisions file (the checks of :func:`screen` that need no
    records); returns the rows with a ``line`` column (1-based line in the file).

    Raises :class:`InputError` naming the file, line, record key and column."""
    import pandas as pd

    path = os.fspath(path)
    frame = pd.DataFrame(read_decision_rows(path), columns=REQUIRED + OPTIONAL + ["line"])
    frame.attrs["path"] = path
    return frame


def read_decision_rows(path: str | os.PathLike) -> list[dict]:
    """:func:`read_screening` as a list of rows (dicts), decisions in lower case;
    reads no more than the file (no pandas)."""
    path = os.fspath(path)
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)  # blank lines above the header
        if header is None:
            raise InputError(
                path,
                "the file is empty: expected a header ("
                + ", ".join(REQUIRED + OPTIONAL)
                + ") and one row per screened record",
                line=1,
            )
        header_line = reader.line_num
        names = _header(path, header, header_line)
        width = max(i + 1 for i, name in enumerate(names) if name)
        rows = []
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            # Cells past the last named column may be missing or blank (spreadsheets
            # add empty columns); a named column's cell may not be missing, and no
            # cell beyond the header may hold text: the row's cells would be shifted.
            extra = any(c.strip() for c in cells[len(names) :])
            if len(cells) < width or extra:
                key_at = names.index("record_key")
                raise InputError(
                    path,
                    f"the row has {len(cells)} cells, the header {width}; a cell with a "
                    "comma or a line break needs double quotes",
                    line=line,
                    record=(cells[key_at].strip() or None) if key_at < len(cells) else None,
                )
            row = dict(zip(names, (c.strip() for c in cells), strict=False))
            clean = {c: row.get(c, "") for c in REQUIRED + OPTIONAL}
            clean["line"] = line
            rows.append(clean)
    except csv.Error as err:
        raise InputError(path, f"not a readable CSV file: {err}", line=reader.line_num) from None
    if not rows:
        raise InputError(
            path,
            "no screening decisions: the file has a header but no rows",
            line=header_line + 1,
        )
    first_line: dict[str, int] = {}
    for row in rows:
        _check_row(path, row, first_line)
        row["title_abstract_decision"] = row["title_abstract_decision"].lower()
        row["full_text_decision"] = row["full_text_decision"].lower()
    return rows


def _check_row(path: str, row: Mapping, first_line: dict[str, int]) -> None:
    key, line = row["record_key"], row["line"]
    m = _KEY.match(key)
    if not m:
        raise InputError(
            path,
            "record_key must be cluster:, pmid:, doi:, nct:, eudract:, title: or other: "
            f"followed by a value, not {key!r}",
            line=line,
            field="record_key",
        )
    norm = f"{m.group(1).lower()}:{m.group(2).strip().lower()}"
    if norm in first_line:
        raise InputError(
            path,
            f"record_key {key!r} is given twice (first on line {first_line[norm]}); keep "
            "one decision per record",
            line=line,
            record=key,
            field="record_key",
        )
    first_line[norm] = line
    ta, ft = row["title_abstract_decision"].lower(), row["full_text_decision"].lower()
    if ta not in _TA:
        raise InputError(
            path,
            f"title_abstract_decision must be include or exclude, not {ta!r}",
            line=line,
            record=key,
            field="title_abstract_decision",
        )
    if m.group(1).lower() == "other" and ta != "include":
        raise InputError(
            path,
            "a report found by other methods (other:) is sought for retrieval: its "
            f"title_abstract_decision is include, not {ta!r} (PRISMA 2020 screens only "
            "database records)",
            line=line,
            record=key,
            field="title_abstract_decision",
        )
    if row.get("identified_via") and m.group(1).lower() != "other":
        raise InputError(
            path,
            "identified_via is for reports found by other methods (record_key other:...); "
            "a search record's database is known from its export",
            line=line,
            record=key,
            field="identified_via",
        )
    if ft not in _FT:
        raise InputError(
            path,
            f"full_text_decision must be include, exclude, not_retrieved or empty, not {ft!r}",
            line=line,
            record=key,
            field="full_text_decision",
        )
    if ta == "exclude" and ft:
        raise InputError(
            path,
            "a record excluded at title/abstract has a full-text decision",
            line=line,
            record=key,
            field="full_text_decision",
        )
    if ft == "exclude" and not row["full_text_exclusion_reason"]:
        raise InputError(
            path,
            "a full-text exclusion needs a reason (PRISMA reports them)",
            line=line,
            record=key,
            field="full_text_exclusion_reason",
        )
    if row["study_id"] and not _STUDY_ID.match(row["study_id"]):
        raise InputError(
            path,
            f"study_id {row['study_id']!r} is not an extraction file name (letters, "
            "digits, _ and -)",
            line=line,
            record=key,
            field="study_id",
        )
    if ft == "include" and not row["study_id"]:
        raise InputError(
            path,
            "an included report needs the study_id of its extraction file "
            "(resources/extraction/<study_id>.yaml; companion reports share it)",
            line=line,
            record=key,
            field="study_id",
        )


def check_study_references(
    rows: Iterable[Mapping] | pd.DataFrame, study_ids: Iterable[str]
) -> tuple[list[tuple[str, int, str]], list[str]]:
    """The references between the decisions (from :func:`read_screening` or
    :func:`read_decision_rows`) and the study files (``study_ids``: the extraction
    files' stems): ``(missing, unnamed)``, the included studies without an extraction
    file (study id, the line and record key of its first report) and the study files
    that no included report names."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    studies = set(study_ids)
    first: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row["full_text_decision"] == "include" and row["study_id"]:
            first.setdefault(row["study_id"], (int(row["line"]), row["record_key"]))
    missing = [(s, line, key) for s, (line, key) in first.items() if s not in studies]
    return missing, sorted(studies - set(first))


def study_file_error(
    path: str | os.PathLike,
    missing: list[tuple[str, int, str]],
    unnamed: list[str],
    extraction_dir: str | os.PathLike,
) -> InputError | None:
    """The error for broken references between decisions and study files (or None).

    An included study without an extraction file would be counted in PRISMA but never
    analysed; a study file that no included report names would be analysed without
    being counted. Both stop the run, naming the file, the line and the study."""
    folder = os.fspath(extraction_dir).rstrip("/")
    if missing:
        study, line, key = missing[0]
        more = (
            f" (and {len(missing) - 1} more: {', '.join(s for s, _, _ in missing[1:])})"
            if len(missing) > 1
            else ""
        )
        return InputError(
            path,
            f"included study {study} has no extraction file {folder}/{study}.yaml{more}: "
            "write it (a study without usable data has 'outcomes: []' and its "
            "'no_outcomes_reason'), or correct the study_id",
            line=line,
            record=key,
            field="study_id",
        )
    if unnamed:
        study = unnamed[0]
        more = (
            f" (and {len(unnamed) - 1} more: {', '.join(unnamed[1:])})" if len(unnamed) > 1 else ""
        )
        return InputError(
            f"{folder}/{study}.yaml",
            f"no included report in {os.fspath(path)} names study {study}{more}: give its "
            f"report's row study_id {study} and full_text_decision include; a report found "
            "outside the database searches gets a row with record_key other:<label> and "
            "identified_via (e.g. citation searching)",
            record=study,
            field="study_id",
        )
    return None


def check_decisions_file(
    path: str | os.PathLike,
    study_ids: Iterable[str],
    extraction_dir: str | os.PathLike = "resources/extraction",
) -> None:
    """Check the decisions file alone (:func:`read_decision_rows`) and its references to
    the study files; raises :class:`InputError`. The workflow calls this when it
    starts, so a bad file stops the run before any job."""
    missing, unnamed = check_study_references(read_decision_rows(path), study_ids)
    error = study_file_error(path, missing, unnamed, extraction_dir)
    if error is not None:
        raise error


class _Index:
    """Look-ups from identifiers to clusters."""

    def __init__(self, unique: pd.DataFrame, clusters: pd.DataFrame, records: pd.DataFrame):
        from srma.dedup.normalise import norm_doi, norm_pmid, norm_title

        self.norm_doi, self.norm_pmid, self.norm_title = norm_doi, norm_pmid, norm_title
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
            return set(self.pmid.get(self.norm_pmid(value) or "", ()))
        if kind == "doi":
            return set(self.doi.get(self.norm_doi(value) or value.lower(), ()))
        if kind in ("nct", "eudract"):
            needle = value.upper()
            pattern = re.compile(r"(?<![0-9A-Z-])" + re.escape(needle) + r"(?![0-9A-Z-])")
            return {cid for text, cid in self.registry_text if pattern.search(text)}
        start = (self.norm_title(value) or "").replace(" ", "")
        if not start:
            return set()
        return {cid for t, cid in self.titles if t.startswith(start)}


def screen(
    unique: pd.DataFrame,
    clusters: pd.DataFrame,
    records: pd.DataFrame,
    decisions_path: str | os.PathLike,
    *,
    study_ids: Iterable[str] | None = None,
    extraction_dir: str | os.PathLike = "resources/extraction",
) -> tuple[pd.DataFrame, dict]:
    """Attach the screening decisions to the clusters and count the PRISMA boxes.

    Returns ``(decisions, counts)``: one row per cluster of ``unique`` (data-model
    section 3, in ``unique`` order) and the PRISMA 2020 counts dict. With ``study_ids``
    (the extraction files' stems), an included study without a file, or a file no
    included report names, is an :class:`InputError` (:func:`study_file_error`).
    """
    frame = read_screening(decisions_path)
    if study_ids is not None:
        error = study_file_error(
            decisions_path, *check_study_references(frame, study_ids), extraction_dir
        )
        if error is not None:
            raise error
    by_cluster = attach_rows(frame, _Index(unique, clusters, records))
    decisions = decision_table(unique, by_cluster)
    return decisions, prisma_counts(records, unique, decisions, other_rows(frame))


def attach_rows(frame: pd.DataFrame, index: _Index) -> dict[str, dict]:
    """The rows of a decisions file (:func:`read_screening`) by the cluster their
    record key resolves to; a key that finds no cluster or several, or two rows on one
    cluster, is an :class:`InputError` naming the file and the line."""
    path = frame.attrs["path"]
    by_cluster: dict[str, dict] = {}
    for row in frame.to_dict("records"):
        if is_other(row["record_key"]):
            continue  # found by other methods: no search record (other_rows)
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
    return by_cluster


def decision_table(unique: pd.DataFrame, by_cluster: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per cluster of ``unique`` (data-model section 3, in ``unique`` order)
    from the decisions by cluster id (rows with ``record_key``, the two decisions, the
    two reasons and ``study_id``); a cluster without one is ``not_screened``."""
    import pandas as pd

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
    return decisions.where(decisions.notna(), None)


def is_other(record_key: str) -> bool:
    """Whether a record key names a report found by other methods (``other:...``)."""
    return record_key[:6].lower() == "other:"


def other_rows(frame: pd.DataFrame | Iterable[Mapping]) -> list[dict]:
    """The rows of a decisions file (:func:`read_screening`) that are reports found by
    other methods (``other:`` record keys)."""
    rows = frame.to_dict("records") if hasattr(frame, "to_dict") else list(frame)
    return [row for row in rows if is_other(row["record_key"])]


def other_methods_counts(rows: Iterable[Mapping]) -> tuple[dict, set[str]]:
    """PRISMA 2020's second column from the ``other:`` rows: reports identified (per
    ``identified_via``), sought, not retrieved, awaiting assessment, assessed, excluded
    (per reason) and included; and the study ids of the included ones."""
    rows = list(rows)
    via = Counter((row.get("identified_via") or OTHER_METHODS) for row in rows)
    ft = Counter(row["full_text_decision"] for row in rows)
    reasons = Counter(
        row["full_text_exclusion_reason"] for row in rows if row["full_text_decision"] == "exclude"
    )
    studies = {row["study_id"] for row in rows if row["full_text_decision"] == "include"}
    counts = {
        "identified": {**dict(sorted(via.items())), "total": len(rows)},
        "sought": len(rows),
        "not_retrieved": ft["not_retrieved"],
        "awaiting_full_text": ft[""],
        "assessed": ft["include"] + ft["exclude"],
        "excluded": {**dict(sorted(reasons.items())), "total": ft["exclude"]},
        "included_reports": ft["include"],
    }
    return counts, studies


def prisma_counts(
    records: pd.DataFrame,
    unique: pd.DataFrame,
    decisions: pd.DataFrame,
    other: Iterable[Mapping] = (),
) -> dict:
    """PRISMA 2020 counts from the records, the clusters and the per-cluster decisions,
    and the reports found by other methods (``other``: :func:`other_rows`); checks that
    they reconcile (see the module docstring). ``included_studies`` counts the distinct
    studies of both columns."""
    db = records["database"].fillna("unknown") if "database" in records else None
    per_db = dict(sorted(Counter(db).items())) if db is not None else {}
    status = Counter(decisions["status"])
    ft_ex = decisions.loc[decisions["status"] == "excluded_full_text"]
    reasons = dict(sorted(Counter(ft_ex["full_text_exclusion_reason"]).items()))
    included = decisions.loc[decisions["status"] == "included"]
    studies = set()
    for k, sid in enumerate(included["study_id"]):
        studies.add(sid if sid else f"\0report{k}")
    other_counts, other_studies = other_methods_counts(other)
    studies |= other_studies
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
        "other_methods": other_counts,
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
    parser.add_argument(
        "--decisions", metavar="CSV", help="srma's decisions file (needed without --tool)"
    )
    parser.add_argument(
        "--tool",
        choices=["srma", "asreview", "rayyan", "covidence"],
        default="srma",
        help="read the decisions from this screening tool's exports (default: srma's file)",
    )
    parser.add_argument(
        "--title-abstract",
        nargs="+",
        default=[],
        metavar="FILE",
        help="the tool's exports of the title/abstract stage",
    )
    parser.add_argument(
        "--full-text",
        nargs="+",
        default=[],
        metavar="FILE",
        help="the tool's exports of the full-text stage",
    )
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
    import pandas as pd

    from srma.io import read_parquet, write_csv, write_json, write_parquet

    records = pd.concat([read_parquet(p) for p in args.records], ignore_index=True)
    dedup = Path(args.dedup)
    unique = read_parquet(dedup / "unique.parquet")
    clusters = read_parquet(dedup / "clusters.parquet")
    out = Path(args.output)
    if args.tool == "srma":
        if not args.decisions:
            raise SystemExit("srma screen: --decisions is needed without --tool")
        decisions, counts = screen(unique, clusters, records, args.decisions)
    else:
        from srma.screening_tools import not_counted_records, screen_exports

        decisions, counts, not_counted = screen_exports(
            unique,
            clusters,
            records,
            tool=args.tool,
            title_abstract=args.title_abstract,
            full_text=args.full_text,
            decisions_path=args.decisions,
        )
        columns = ["file", "line", "decision", "problem", "title"]
        write_csv(
            pd.DataFrame(not_counted_records(not_counted), columns=columns), out / "not_counted.csv"
        )
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
