"""One function per workflow rule: read the rule's inputs, call the stage's logic,
write the rule's outputs.

The Snakemake rules in ``workflow/rules`` call these functions through
:func:`run_stage`, and the tests call them directly. Each function's keyword arguments
are the rule's named inputs, outputs, params and wildcards (plain paths and values, no
Snakemake objects), so a stage can also be run from Python or a notebook.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from srma import io, workers
from srma.logs import job_log

if TYPE_CHECKING:  # imported by the jobs, not when Snakemake builds the DAG
    import pandas as pd

log = logging.getLogger(__name__)

Paths = Sequence[str | Path]

#: params that only make Snakemake rerun a job (hashes of the srma source a stage
#: runs), not arguments of the stage functions.
TRIGGER_PARAMS = ("code",)


#: Jobs run in threads of one process; two threads importing matplotlib (or another
#: package with circular imports) at once can see a half-initialised module.
_IMPORT_LOCK = threading.Lock()


def needs(*modules: str):
    """Mark a stage function with the modules it imports when it runs; :func:`run_stage`
    imports them first, one thread at a time."""

    def mark(func):
        func.modules = modules
        return func

    return mark


def run_stage(func, *named, log) -> None:
    """Call ``func`` with the items of Snakemake's named lists (input, output, params,
    wildcards) as keyword arguments, with the job's log file open: in a worker process
    when :mod:`srma.workers` has some, else in the calling thread."""
    kwargs = {}
    for items in named:
        kwargs.update((k, v) for k, v in items.items() if k not in TRIGGER_PARAMS)
    if workers.call(func, kwargs, log[0]):
        return
    with _IMPORT_LOCK:
        for module in ("pandas", "pyarrow.parquet", *getattr(func, "modules", ())):
            importlib.import_module(module)
    with job_log(log[0]):
        func(**kwargs)


def read_all(paths: Paths) -> pd.DataFrame:
    """Concatenate Parquet tables in the order given."""
    import pandas as pd

    frames = [f for f in (io.read_parquet(p) for p in paths) if len(f.columns)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_study_tables(paths: Paths) -> pd.DataFrame:
    """Concatenate the per-study extraction or correlation tables, in the order given.

    As :func:`read_all`, but the tables are concatenated by Arrow and converted to
    pandas once: for 1,000 studies, half the time of converting each table first. (The
    records tables keep :func:`read_all`: Arrow's concatenation does not keep pandas'
    string dtype of a column that is all null in the first table.)"""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [t for t in (pq.read_table(p) for p in paths) if t.num_columns]
    if not tables:
        return pd.DataFrame()
    return pa.concat_tables(tables, promote_options="default").to_pandas()


# 1. import -----------------------------------------------------------------------------


@needs("srma.importers")
def import_export(
    *, export_file: str, records: str, export: str, database: str | None, fmt: str | None,
    config_hash: str,
) -> None:  # fmt: skip
    """Read one search export into ``results/records/<export>.parquet``."""
    from srma.importers import RECORDS_SCHEMA, read_export

    table = read_export(export_file, export=export, database=database, fmt=fmt)
    log.info("%s: %d records (%s)", export_file, len(table), table["format"].iat[0])
    io.write_parquet(table, records, config_hash=config_hash, schema=RECORDS_SCHEMA)


@needs("srma.importers")
def import_counts(*, records: Paths, counts: str, config_hash: str) -> None:
    """Records read per export file, for ``results/records/counts.csv``."""
    from srma.importers import count_table

    table = count_table([io.read_parquet(p) for p in records])
    io.write_csv(table, counts, config_hash=config_hash)


# 2. deduplicate ------------------------------------------------------------------------


@needs("srma.dedup")
def deduplicate(
    *, records: Paths, decisions: Paths, clusters: str, unique: str, ris: str,
    uncertain: str, title_threshold: float, uncertain_threshold: float, config_hash: str,
) -> None:  # fmt: skip
    """Cluster duplicate records across all exports; ``decisions`` is the (optional)
    file of merges a person forced or forbade."""
    from srma import dedup

    table = read_all(records)
    forced = (
        dedup.read_decisions(decisions[0], record_ids=table["record_id"]) if decisions else None
    )
    result = dedup.deduplicate(
        table,
        decisions=forced,
        title_threshold=title_threshold,
        uncertain_threshold=uncertain_threshold,
    )
    log.info("%s", result)
    io.write_parquet(result.clusters, clusters, config_hash=config_hash)
    io.write_parquet(result.unique, unique, config_hash=config_hash)
    dedup.write_ris(result.unique, ris)
    io.write_csv(result.uncertain, uncertain, config_hash=config_hash)


# 3. screening --------------------------------------------------------------------------


@needs("srma.screening")
def screen(
    *, unique: str, clusters: str, records: Paths, decisions_file: str,
    decisions: str, counts: str, config_hash: str,
) -> None:  # fmt: skip
    """Apply screening decisions; write the per-cluster status and PRISMA counts."""
    from srma.screening import screen as apply_decisions

    table, prisma = apply_decisions(
        io.read_parquet(unique), io.read_parquet(clusters), read_all(records), decisions_file
    )
    io.write_parquet(table, decisions, config_hash=config_hash)
    io.write_json(prisma, counts)


# 4. extraction -------------------------------------------------------------------------


@needs("srma.extraction", "srma.extraction.study", "srma.extraction.correlations")
def extract_studies(
    *, study_files: Paths, tables: Paths, missing_tables: Paths, correlations: str,
    excluded: str, sources: str, settings: Mapping, config_hash: str,
) -> None:  # fmt: skip
    """Validate and harmonise a batch of study extraction files: ``tables[i]`` is
    written from ``study_files[i]``; the batch's correlation rows (data model 6) go to
    ``correlations``, the rows that cannot be used (data model 4, ``excluded.csv``)
    to ``excluded``, and each file's path and SHA-256 (for ``provenance.json``) to
    ``sources``. ``missing_tables`` are the tables Snakemake was told about (those
    missing when the DAG was built; all of them are written). ``settings`` holds the
    config sections extraction reads (instruments, timepoints, extraction). Every file
    is checked before anything is written, so a bad file leaves no table behind."""
    import pandas as pd

    from srma.extraction import correlation_rows, excluded_table, extract_study_once

    if len(study_files) != len(tables):
        raise ValueError("extract_studies: one table path per study file")
    if not set(missing_tables) <= set(tables):
        raise ValueError("extract_studies: missing_tables must be among tables")
    frames, corr = [], []
    for study_file in study_files:
        frame = extract_study_once(study_file, settings)
        usable = int(frame["usable"].sum()) if len(frame) else 0
        log.info("%s: %d rows, %d usable", study_file, len(frame), usable)
        frames.append(frame)
        corr.append(correlation_rows(study_file, settings))
    corr = [c for c in corr if len(c.columns)]
    for frame, path in zip(frames, tables, strict=True):
        io.write_parquet(frame, path, config_hash=config_hash)
    io.write_parquet(
        pd.concat(corr, ignore_index=True) if corr else pd.DataFrame(),
        correlations,
        config_hash=config_hash,
    )
    io.write_parquet(excluded_table(frames), excluded, config_hash=config_hash)
    io.write_json({Path(f).stem: io.file_entry(f) for f in study_files}, sources)


@needs("srma.extraction", "srma.extraction.study")
def extract_study_table(
    *, study_file: str, table: str, settings: Mapping, config_hash: str
) -> None:
    """One study's table, as its batch writes it (:func:`extract_studies`): for a table
    asked for by name, which the batches declare only while it is missing."""
    from srma.extraction import extract_study_once

    frame = extract_study_once(study_file, settings)
    io.write_parquet(frame, table, config_hash=config_hash)


@needs("srma.extraction", "srma.extraction.study")
def extraction_excluded(*, rows: Paths, excluded: str, config_hash: str) -> None:
    """What could not be used, per study, for ``results/extraction/excluded.csv``, from
    the extraction batches' excluded tables (``rows``)."""
    import pandas as pd

    from srma.extraction import EXCLUDED_COLUMNS, sort_excluded

    table = read_study_tables(rows)
    if not len(table.columns):
        table = pd.DataFrame(columns=EXCLUDED_COLUMNS)
    table = sort_excluded(table)
    io.write_csv(table, excluded, config_hash=config_hash)


# 5. pooling ----------------------------------------------------------------------------


@needs("srma.pooling", "srma.extraction", "srma.extraction.study")
def pool_group(
    *, study_files: Paths, pooled: str, instrument: str, timepoint: str, pooling: Mapping,
    settings: Mapping, config_hash: str,
) -> None:  # fmt: skip
    """Pool one instrument x timepoint group of its studies' extraction files.

    The files are extracted here, with the function (and ``settings``) that writes
    ``results/extraction/<study>.parquet``, rather than read from those tables: a
    pooling job then depends on its own studies' files only, while the tables are
    written in batches of studies (see ``srma.extraction.dag``)."""
    import pandas as pd

    from srma.extraction import extract_study_once
    from srma.pooling import pool_group as pool

    keys = ("measure", "method", "test", "level", "min_studies", "reported_only")
    frames = [extract_study_once(path, settings) for path in study_files]
    table = pool(
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        instrument=instrument,
        timepoint=timepoint,
        **{k: pooling[k] for k in keys},
    )
    io.write_parquet(table, pooled, config_hash=config_hash)


@needs("srma.pooling")
def pooled_table(
    *, pooled: Paths, table: str, order: Mapping[str, Sequence[str]], config_hash: str
) -> None:
    """One row per group, for ``results/tables/pooled.csv``, in the config's order of
    instruments and timepoints (``order``: ``{"instrument": [...], "timepoint": [...]}``)."""
    from srma.pooling import summary_table

    summary = summary_table([io.read_parquet(p) for p in pooled])
    rank = {col: {v: i for i, v in enumerate(vals)} for col, vals in order.items()}
    summary = summary.sort_values(
        list(rank), key=lambda s: s.map(rank[s.name]), kind="stable", ignore_index=True
    )
    io.write_csv(summary, table, config_hash=config_hash)


# 6. correlations -----------------------------------------------------------------------


@needs("srma.correlations")
def correlations(
    *, rows: Paths, table: str, pooled: str, min_studies: int, config_hash: str
) -> None:
    """Tabulate correlations between MRI and clinical measures and pool where enough."""
    from srma import correlations as corr

    tab = corr.tabulate(read_study_tables(rows))
    io.write_csv(tab, table, config_hash=config_hash)
    io.write_csv(corr.pool(tab, min_studies=min_studies), pooled, config_hash=config_hash)


# 7. figures ----------------------------------------------------------------------------


@needs("srma.figures.forest")
def forest(*, pooled: str, svg: str, png: str, labels: Mapping, **_wildcards) -> None:
    """Forest plot of one group; ``labels`` as for
    :func:`srma.figures.forest.forest_plot` (instrument and timepoint labels, arms,
    measure)."""
    from srma.figures.forest import forest_plot

    forest_plot(io.read_parquet(pooled), svg, png, source=str(pooled), **labels)


@needs("srma.figures.leave1out", "srma.sensitivity")
def leave1out(*, pooled: str, svg: str, png: str, labels: Mapping, **_wildcards) -> None:
    """Leave-one-out plot of one group; a note saying why when the group was not pooled."""
    from srma.figures.common import note_figure
    from srma.figures.leave1out import leave1out_group

    group = io.read_parquet(pooled)
    if not leave1out_group(group, svg, png, **labels):
        reason = f"not pooled ({_status(group)}): no leave-one-out analysis"
        log.info("%s: %s", pooled, reason)
        note_figure(svg, png, _title(labels), reason)


@needs("srma.figures.funnel", "srma.bias")
def funnel(*, pooled: str, svg: str, png: str, labels: Mapping, min_studies: int, **_wc) -> None:
    """Funnel plot with Egger's test of one group, drawn from ``min_studies`` usable
    studies; below that, a note saying why it was not drawn."""
    from srma.figures.common import note_figure
    from srma.figures.funnel import funnel_group

    group = io.read_parquet(pooled)
    status = funnel_group(
        group, svg, png, title=_title(labels), min_studies=min_studies, measure=labels["measure"]
    )
    if status["drawn"]:
        log.info("Egger's test: z = %s, p = %s", status["zval"], status["pval"])
    else:
        reason = f"{status['reason']}: no funnel plot and no Egger's test"
        log.info("%s: %s", pooled, reason)
        note_figure(svg, png, _title(labels), reason)


def _title(labels: Mapping) -> str:
    return f"{labels['instrument_label']}, {labels['timepoint_label']}"


def _status(group: pd.DataFrame) -> str:
    usable = int(group.loc[group["row_type"] == "study", "usable"].fillna(False).sum())
    return f"{usable} usable {'study' if usable == 1 else 'studies'}"


@needs("srma.figures.prisma")
def prisma(*, counts: str, svg: str, png: str) -> None:
    """PRISMA 2020 flow diagram."""
    from srma.figures.prisma import prisma_diagram

    data = json.loads(Path(counts).read_text(encoding="utf-8"))
    prisma_diagram(data, svg, png, source=str(counts))


@needs("srma.figures.heatmap")
def heatmap(
    *, table: str, pooled: str, svg: str, png: str, clinical_measures: Sequence[str],
    mri_labels: Mapping[str, str],
) -> None:  # fmt: skip
    """Correlation heatmap, clinical x MRI measures."""
    import pandas as pd

    from srma.figures.heatmap import correlation_heatmap

    correlation_heatmap(
        pd.read_csv(table),
        svg,
        png,
        clinical_measures=list(clinical_measures),
        pooled=pd.read_csv(pooled),
        mri_labels=dict(mri_labels),
        source=str(table),
    )


# provenance ----------------------------------------------------------------------------


@needs("srma.provenance_map")
def provenance(**kwargs) -> None:
    """``results/provenance.json``; arguments as :func:`srma.provenance_map.provenance`."""
    from srma.provenance_map import provenance as write

    write(**kwargs)
