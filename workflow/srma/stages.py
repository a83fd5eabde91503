"""One function per workflow rule: read the rule's inputs, call the stage's logic,
write the rule's outputs.

The Snakemake rules in ``workflow/rules`` call these functions and nothing else, and the
tests call them directly. Each takes paths and plain values (no Snakemake objects), so a
stage can also be run from Python or a notebook.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from srma import io

log = logging.getLogger(__name__)

Paths = Sequence[str | Path]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f.columns)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_all(paths: Paths) -> pd.DataFrame:
    """Concatenate Parquet tables in the order given."""
    return _concat([io.read_parquet(p) for p in paths])


# 1. import -----------------------------------------------------------------------------


def import_export(
    path: str | Path,
    out: str | Path,
    *,
    export: str,
    database: str | None,
    fmt: str | None,
    config_hash: str,
) -> None:
    """Read one search export into ``results/records/<export>.parquet``."""
    from srma.importers import read_export

    records = read_export(path, export=export, database=database, fmt=fmt)
    log.info("%s: %d records (%s)", path, len(records), records["format"].iat[0])
    io.write_parquet(records, out, config_hash=config_hash)


def import_counts(records: Paths, out: str | Path, *, config_hash: str) -> None:
    """Records read per export file, for ``results/records/counts.csv``."""
    from srma.importers import count_table

    io.write_csv(count_table([io.read_parquet(p) for p in records]), out, config_hash=config_hash)


# 2. deduplicate ------------------------------------------------------------------------


def deduplicate(
    records: Paths,
    decisions: str | Path | None,
    *,
    clusters_out: str | Path,
    unique_out: str | Path,
    ris_out: str | Path,
    uncertain_out: str | Path,
    title_threshold: float,
    uncertain_threshold: float,
    config_hash: str,
) -> None:
    """Cluster duplicate records across all exports."""
    from srma import dedup

    table = read_all(records)
    forced = dedup.read_decisions(decisions) if decisions and Path(decisions).exists() else None
    result = dedup.deduplicate(
        table,
        decisions=forced,
        title_threshold=title_threshold,
        uncertain_threshold=uncertain_threshold,
    )
    log.info(
        "%d records -> %d unique (%d borderline pairs)",
        len(table),
        len(result.unique),
        len(result.uncertain),
    )
    io.write_parquet(result.clusters, clusters_out, config_hash=config_hash)
    io.write_parquet(result.unique, unique_out, config_hash=config_hash)
    dedup.write_ris(result.unique, ris_out)
    io.write_csv(result.uncertain, uncertain_out, config_hash=config_hash)


# 3. screening --------------------------------------------------------------------------


def screen(
    unique: str | Path,
    clusters: str | Path,
    records: Paths,
    decisions: str | Path,
    *,
    decisions_out: str | Path,
    counts_out: str | Path,
    config_hash: str,
) -> None:
    """Apply screening decisions; write the per-cluster status and PRISMA counts."""
    from srma.screening import screen as apply_decisions

    table, counts = apply_decisions(
        io.read_parquet(unique), io.read_parquet(clusters), read_all(records), decisions
    )
    io.write_parquet(table, decisions_out, config_hash=config_hash)
    io.write_json(counts, counts_out)


# 4. extraction -------------------------------------------------------------------------


def extract_study(
    path: str | Path,
    config: Mapping,
    *,
    out: str | Path,
    correlations_out: str | Path,
    config_hash: str,
) -> None:
    """Validate and harmonise one study's extraction file."""
    from srma.extraction import correlation_rows, extract_study

    rows = extract_study(path, config)
    log.info(
        "%s: %d rows, %d usable", path, len(rows), int(rows["usable"].sum()) if len(rows) else 0
    )
    io.write_parquet(rows, out, config_hash=config_hash)
    io.write_parquet(correlation_rows(path, config), correlations_out, config_hash=config_hash)


def extraction_excluded(extraction: Paths, out: str | Path, *, config_hash: str) -> None:
    """What could not be used, per study, for ``results/extraction/excluded.csv``."""
    from srma.extraction import excluded_table

    frames = [io.read_parquet(p) for p in extraction]
    io.write_csv(excluded_table(frames), out, config_hash=config_hash)


# 5. pooling ----------------------------------------------------------------------------


def pool_group(
    extraction: Paths,
    out: str | Path,
    *,
    instrument: str,
    timepoint: str,
    pooling: Mapping,
    config_hash: str,
) -> None:
    """Pool one instrument x timepoint group from its studies' extraction tables."""
    from srma.pooling import pool_group as pool

    table = pool(
        read_all(extraction),
        instrument=instrument,
        timepoint=timepoint,
        measure=pooling["measure"],
        method=pooling["method"],
        test=pooling["test"],
        level=pooling["level"],
        min_studies=pooling["min_studies"],
        reported_only=pooling["reported_only"],
    )
    io.write_parquet(table, out, config_hash=config_hash)


def pooled_table(pooled: Paths, out: str | Path, *, config_hash: str) -> None:
    """One row per group, for ``results/tables/pooled.csv``."""
    from srma.pooling import summary_table

    io.write_csv(summary_table([io.read_parquet(p) for p in pooled]), out, config_hash=config_hash)


# 6. correlations -----------------------------------------------------------------------


def correlations(
    rows: Paths,
    *,
    table_out: str | Path,
    pooled_out: str | Path,
    min_studies: int,
    config_hash: str,
) -> None:
    """Tabulate correlations between MRI and clinical measures and pool where enough."""
    from srma import correlations as corr

    table = corr.tabulate(read_all(rows))
    io.write_csv(table, table_out, config_hash=config_hash)
    io.write_csv(corr.pool(table, min_studies=min_studies), pooled_out, config_hash=config_hash)


# 7. figures ----------------------------------------------------------------------------


def forest(
    pooled: str | Path,
    *,
    svg: str | Path,
    png: str | Path,
    instrument_label: str,
    timepoint_label: str,
    intervention: str,
    comparator: str,
    measure: str,
) -> None:
    """Forest plot of one group."""
    from srma.figures.forest import forest_plot

    forest_plot(
        io.read_parquet(pooled),
        svg,
        png,
        instrument_label=instrument_label,
        timepoint_label=timepoint_label,
        intervention=intervention,
        comparator=comparator,
        measure=measure,
    )


def prisma(counts: str | Path, *, svg: str | Path, png: str | Path) -> None:
    """PRISMA 2020 flow diagram."""
    import json

    from srma.figures.prisma import prisma_diagram

    prisma_diagram(json.loads(Path(counts).read_text(encoding="utf-8")), svg, png)


def heatmap(
    table: str | Path,
    pooled: str | Path,
    *,
    svg: str | Path,
    png: str | Path,
    clinical_measures: Sequence[str],
) -> None:
    """Correlation heatmap, clinical x MRI measures."""
    from srma.figures.heatmap import correlation_heatmap

    correlation_heatmap(
        pd.read_csv(table, keep_default_na=True),
        svg,
        png,
        clinical_measures=list(clinical_measures),
        pooled=pd.read_csv(pooled),
    )
