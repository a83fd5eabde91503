"""``results/provenance.json``: where every pooled number comes from.

For each pooled group (instrument x timepoint, data model section 5) and each pooled
correlation (section 6), the map lists the studies that entered the number and, for
each study, the extraction file it was read from (path as configured and SHA-256 of its
bytes) and the search records behind it: the screening decisions (section 3) name the
study on the clusters that were included for it, and the clusters (section 2) list
their records. A record id is ``<export>:<position>``, so it points at a position in a
search export, whose path and SHA-256 are listed under ``search_files``.

Studies that were in a group but did not enter the number are listed with the reason,
and a study that no included screening decision names is reported under ``unlinked``
instead of being dropped.

Layout (keys sorted when written)::

    {
      "srma_version": "0.1.0", "config_hash": "...",
      "search_files": {"pubmed": {"path": "...", "sha256": "..."}, ...},
      "studies": {"Krabbe2018": {"extraction_file": {"path", "sha256"},
                                 "clusters": [...], "records": [...], "exports": [...]}},
      "pooled": [{"instrument", "timepoint", "table", "status",
                  "numbers": {"estimate": ..., "ci_lb": ..., ...},
                  "studies": [{"study_id", "yi", "vi", "weight", ...}],
                  "not_used": [{"study_id", "reason"}]}, ...],
      "correlations": [{"mri_measure", "mri_timing", "clinical_measure", "status",
                        "numbers": {...}, "studies": [...]}],
      "unlinked": ["study ids used in a number but named by no included decision"]
    }
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from srma import __version__, io
from srma.errors import InputError
from srma.io import file_entry
from srma.pooling import RESULT_KEYS

#: Numbers of a pooled row (data model section 5) that pooled.csv reports.
POOLED_NUMBERS = ("k", "n1i", "n2i", *RESULT_KEYS)
#: Numbers of a study row that enter the pooled row (or stand for a single-study group).
STUDY_NUMBERS = ("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i", "yi", "vi", "sei", "ci_lb", "ci_ub")
#: Numbers of a pooled correlation (data model section 6).
CORRELATION_NUMBERS = (
    "k",
    "n_total",
    "r",
    "ci_lb",
    "ci_ub",
    "pi_lb",
    "pi_ub",
    "pval",
    "tau2",
    "I2",
)


def _plain(value: object) -> object:
    """A JSON-safe scalar: NaN/NA -> None, numpy numbers -> Python numbers."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _numbers(row: Mapping, names: Sequence[str]) -> dict[str, object]:
    return {name: _plain(row[name]) for name in names if name in row}


def _split_studies(value: object) -> list[str]:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return []
    return [s.strip() for s in str(value).split(";") if s.strip()]


def study_records(clusters: pd.DataFrame, decisions: pd.DataFrame) -> dict[str, dict]:
    """study_id -> the included clusters that name it and their records.

    ``decisions`` is ``results/screening/decisions.parquet`` (``cluster_id``,
    ``study_id``, ``status``); ``clusters`` is ``results/dedup/clusters.parquet``
    (``record_id``, ``cluster_id``). Record ids and clusters are sorted.
    """
    members: dict[str, list[str]] = {}
    for record_id, cluster_id in zip(clusters["record_id"], clusters["cluster_id"], strict=True):
        members.setdefault(str(cluster_id), []).append(str(record_id))
    included = decisions[(decisions["status"] == "included") & decisions["study_id"].notna()]
    out: dict[str, dict] = {}
    for study_id, cluster_id in zip(included["study_id"], included["cluster_id"], strict=True):
        entry = out.setdefault(str(study_id), {"clusters": [], "records": []})
        entry["clusters"].append(str(cluster_id))
        entry["records"].extend(members.get(str(cluster_id), []))
    for entry in out.values():
        entry["clusters"] = sorted(set(entry["clusters"]))
        entry["records"] = sorted(set(entry["records"]))
        entry["exports"] = sorted({r.split(":", 1)[0] for r in entry["records"]})
    return out


def build_provenance(
    pooled: Sequence[pd.DataFrame] | Mapping[str, pd.DataFrame],
    *,
    extraction_files: Mapping[str, str | Path],
    clusters: pd.DataFrame,
    decisions: pd.DataFrame,
    search_files: Mapping[str, str | Path],
    correlations_pooled: pd.DataFrame | None = None,
    config_hash: str | None = None,
) -> dict:
    """The provenance map of a run (layout in the module docstring).

    ``pooled``: the group tables ``results/pooled/<instrument>/<timepoint>.parquet``, as
    a list or as a mapping path -> table (the path is then recorded as ``table``).
    ``extraction_files``: study_id -> its extraction YAML file, or the file's
    :func:`file_entry` as the extraction job recorded it. ``search_files``:
    export name (config ``searches`` key) -> export file. ``correlations_pooled``: the
    table ``results/tables/correlations_pooled.csv`` (its ``studies`` column lists the
    studies pooled, ``; ``-separated).
    """
    tables = pooled.items() if isinstance(pooled, Mapping) else ((None, t) for t in pooled)
    linked = study_records(clusters, decisions)
    used: set[str] = set()

    groups = []
    for path, table in tables:
        if not len(table):
            continue
        first = table.iloc[0]
        studies = table[table["row_type"] == "study"]
        pooled_rows = table[table["row_type"] == "pooled"]
        usable = studies[studies["usable"].fillna(False).astype(bool)]
        entry = {
            "instrument": str(first["instrument"]),
            "timepoint": str(first["timepoint"]),
            "status": _plain(first.get("status")),
            "numbers": (
                _numbers(pooled_rows.iloc[0], POOLED_NUMBERS) if len(pooled_rows) else None
            ),
            "studies": [
                {
                    "study_id": str(row["study_id"]),
                    **_numbers(row, STUDY_NUMBERS),
                    "weight": _plain(row.get("weight")),
                    "flags": _plain(row.get("flags")),
                }
                for _, row in usable.iterrows()
            ],
            "not_used": [
                {"study_id": str(row["study_id"]), "reason": _plain(row.get("reason"))}
                for _, row in studies.drop(usable.index).iterrows()
            ],
        }
        if path is not None:
            entry["table"] = Path(path).as_posix()
        used.update(s["study_id"] for s in entry["studies"])
        groups.append(entry)
    groups.sort(key=lambda g: (g["instrument"], g["timepoint"]))

    correlations = []
    if correlations_pooled is not None:
        for _, row in correlations_pooled.iterrows():
            ids = _split_studies(row.get("studies"))
            used.update(ids)
            correlations.append(
                {
                    "mri_measure": str(row["mri_measure"]),
                    "mri_timing": str(row["mri_timing"]),
                    "clinical_measure": str(row["clinical_measure"]),
                    "status": _plain(row.get("status")),
                    "numbers": _numbers(row, CORRELATION_NUMBERS),
                    "studies": ids,
                }
            )

    studies = {}
    for study_id in sorted(used):
        if study_id not in extraction_files:
            raise InputError(
                "results/provenance.json",
                "a pooled number uses a study without an extraction file",
                record=study_id,
                field="study_id",
            )
        link = linked.get(study_id, {"clusters": [], "records": [], "exports": []})
        source = extraction_files[study_id]
        entry = dict(source) if isinstance(source, Mapping) else file_entry(source)
        studies[study_id] = {"extraction_file": entry, **link}

    return {
        "srma_version": __version__,
        "config_hash": config_hash,
        "search_files": {name: file_entry(path) for name, path in sorted(search_files.items())},
        "studies": studies,
        "pooled": groups,
        "correlations": correlations,
        "unlinked": sorted(s for s in used if not linked.get(s, {}).get("records")),
    }


def write_provenance(
    pooled: Sequence[str | Path],
    *,
    extraction: Sequence[str | Path] = (),
    study_tables: Sequence[str | Path] = (),
    clusters: str | Path,
    decisions: str | Path,
    search_files: Mapping[str, str | Path],
    out: str | Path,
    correlations_pooled: str | Path | None = None,
    config_hash: str | None = None,
) -> dict:
    """Read a run's tables, build the map and write it to ``out`` (stable JSON).

    ``extraction``: the ``<study_id>.yaml`` extraction files (the study id is the stem);
    ``study_tables``: the extraction job's ``<study_id>.parquet`` tables, whose metadata
    name the file each was extracted from and its SHA-256 (what the workflow uses).
    """
    files: dict[str, str | Path | Mapping] = {Path(p).stem: p for p in extraction}
    for path in study_tables:
        meta = io.parquet_metadata(path)
        files[Path(path).stem] = {
            "path": meta["srma_study_file"],
            "sha256": meta["srma_study_sha256"],
        }
    provenance = build_provenance(
        {str(p): io.read_parquet(p) for p in pooled},
        extraction_files=files,
        clusters=io.read_parquet(clusters),
        decisions=io.read_parquet(decisions),
        search_files=search_files,
        correlations_pooled=(
            pd.read_csv(correlations_pooled, keep_default_na=True) if correlations_pooled else None
        ),
        config_hash=config_hash,
    )
    io.write_json(provenance, out)
    return provenance


def provenance(
    *,
    pooled: Sequence[str | Path],
    study_tables: Sequence[str | Path],
    clusters: str | Path,
    decisions: str | Path,
    correlations_pooled: str | Path,
    provenance: str | Path,
    search_files: Mapping[str, str | Path],
    config_hash: str,
    searches: Sequence[str | Path] = (),
) -> None:
    """The workflow rule's stage function (named inputs, output and params of the rule
    ``provenance``, called through :func:`srma.stages.run_stage`). ``searches`` (the
    export files) is an input only so that a changed export reruns the rule; the files
    are read through ``search_files``."""
    write_provenance(
        pooled,
        study_tables=study_tables,
        clusters=clusters,
        decisions=decisions,
        search_files=search_files,
        out=provenance,
        correlations_pooled=correlations_pooled,
        config_hash=config_hash,
    )
