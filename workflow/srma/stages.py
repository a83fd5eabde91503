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
    config_hash: str, sheet: str | None = None,
) -> None:  # fmt: skip
    """Read one search export into ``results/records/<export>.parquet`` (``sheet``: the
    worksheet of an Excel workbook; the first visible one when not given)."""
    from srma.importers import RECORDS_SCHEMA, read_export

    table = read_export(export_file, export=export, database=database, fmt=fmt, sheet=sheet)
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
    untitled: str | None = None,
) -> None:  # fmt: skip
    """Cluster duplicate records across all exports; ``decisions`` is the (optional)
    file of merges a person forced or forbade. ``untitled`` lists the records without
    a title (each its own cluster, for a person to check)."""
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
    if untitled is not None:
        io.write_csv(result.untitled, untitled, config_hash=config_hash)


# 3. screening --------------------------------------------------------------------------


@needs("srma.screening")
def screen(
    *, unique: str, clusters: str, records: Paths, decisions_file: str,
    decisions: str, counts: str, config_hash: str, study_ids: Sequence[str] | None = None,
) -> None:  # fmt: skip
    """Apply screening decisions; write the per-cluster status and PRISMA counts.
    ``study_ids`` (the extraction files' stems): included studies without a file, and
    files no included report names, are warnings in the job's log."""
    from srma.screening import screen as apply_decisions

    table, prisma = apply_decisions(
        io.read_parquet(unique),
        io.read_parquet(clusters),
        read_all(records),
        decisions_file,
        study_ids=study_ids,
    )
    io.write_parquet(table, decisions, config_hash=config_hash)
    io.write_json(prisma, counts)


# 4. extraction -------------------------------------------------------------------------


@needs("srma.extraction", "srma.extraction.study", "srma.extraction.correlations")
def extract_study(
    *, study_file: str, table: str, correlations: str, excluded: str, settings: Mapping,
    config_hash: str,
) -> None:  # fmt: skip
    """Validate and harmonise one study's extraction file, parsed once: its rows (data
    model 4) to ``table``, its correlation rows (data model 6) to ``correlations``, the
    rows that cannot be used (``excluded.csv``) to ``excluded``. ``settings`` holds the
    config sections extraction reads (instruments, timepoints, extraction). The file is
    checked before anything is written; its path and SHA-256 go into the table's
    metadata (``srma_study_file``, ``srma_study_sha256``) for ``provenance.json``."""
    from srma.extraction import extract

    result = extract(study_file, settings)
    usable = int(result.rows["usable"].sum()) if len(result.rows) else 0
    log.info("%s: %d rows, %d usable", study_file, len(result.rows), usable)
    for reason, count in result.excluded["reason"].value_counts(sort=False).items():
        log.warning(
            "%s: %d row(s) not usable (listed in excluded.csv): %s", study_file, count, reason
        )
    entry = io.file_entry(study_file)
    source = {"srma_study_file": entry["path"], "srma_study_sha256": entry["sha256"]}
    io.write_parquet(result.rows, table, config_hash=config_hash, metadata=source)
    io.write_parquet(result.correlations, correlations, config_hash=config_hash)
    io.write_parquet(result.excluded, excluded, config_hash=config_hash)


@needs("srma.extraction")
def study_groups(*, tables: Paths, groups: str) -> None:
    """Which studies report which (instrument, timepoint) group, from the study tables
    (``tables``, one per study, named ``<study>.parquet``): ``groups`` is a JSON list of
    ``{"instrument", "timepoint", "studies"}`` sorted by instrument and timepoint."""
    import pyarrow.parquet as pq

    from srma.extraction import study_groups as groups_of

    members: dict[tuple[str, str], list[str]] = {}
    for path in sorted(tables, key=lambda p: Path(p).stem):
        rows = pq.read_table(path, columns=["instrument", "timepoint"]).to_pandas()
        for group in groups_of(rows):
            members.setdefault(group, []).append(Path(path).stem)
    out = [
        {"instrument": i, "timepoint": t, "studies": studies}
        for (i, t), studies in sorted(members.items())
    ]
    log.info("%d studies in %d groups", len(tables), len(out))
    io.write_json(out, groups)


@needs("srma.extraction", "srma.extraction.study")
def extraction_excluded(*, rows: Paths, excluded: str, config_hash: str) -> None:
    """What could not be used, per study, for ``results/extraction/excluded.csv``, from
    the studies' excluded tables (``rows``)."""
    import pandas as pd

    from srma.extraction import EXCLUDED_COLUMNS, sort_excluded

    table = read_study_tables(rows)
    if not len(table.columns):
        table = pd.DataFrame(columns=EXCLUDED_COLUMNS)
    table = sort_excluded(table)
    io.write_csv(table, excluded, config_hash=config_hash)


# 5. pooling ----------------------------------------------------------------------------


@needs("srma.group")
def pool_group(
    *, tables: Paths, pooled: str, instrument: str, timepoint: str, pooling: Mapping,
    config_hash: str,
) -> None:  # fmt: skip
    """Pool one instrument x timepoint group from its studies' extraction tables."""
    from srma.group import pool_group as pool

    keys = ("measure", "method", "test", "level", "min_studies", "reported_only")
    table = pool(
        read_study_tables(tables),
        instrument=instrument,
        timepoint=timepoint,
        **{k: pooling[k] for k in keys},
    )
    status = table["status"].iat[0] if len(table) else "no studies"
    log.info("%s %s: %s", instrument, timepoint, status)
    io.write_parquet(table, pooled, config_hash=config_hash)


@needs("srma.group_sensitivity")
def sensitivity_group(
    *, pooled: str, leave1out: str, regtest: str, trimfill: str, leave1out_min_studies: int,
    small_study_min_studies: int, config_hash: str, **_wildcards,
) -> None:  # fmt: skip
    """Leave-one-out, Egger's regression test and trim-and-fill of one pooled group,
    each a table (a one-row "not estimated" table with the reason when the group has
    too few usable studies)."""
    from srma import group_sensitivity as gs

    group = io.read_parquet(pooled)
    tables = {
        leave1out: gs.leave1out_table(group, min_studies=leave1out_min_studies),
        regtest: gs.regtest_table(group, min_studies=small_study_min_studies),
        trimfill: gs.trimfill_table(group, min_studies=small_study_min_studies),
    }
    for path, table in tables.items():
        log.info("%s: %s", path, table["status"].iat[0])
        io.write_parquet(table, path, config_hash=config_hash)


@needs("srma.group")
def pooled_table(
    *, groups: str, pooled: Paths, table: str, order: Mapping[str, Sequence[str]],
    config_hash: str,
) -> None:  # fmt: skip
    """One row per group, for ``results/tables/pooled.csv``, in the config's order of
    instruments and timepoints (``order``: ``{"instrument": [...], "timepoint": [...]}``).
    ``groups`` is the checkpoint's list of groups (``groups.json``): every group in it
    must have its pooled table among ``pooled``, and no other."""
    from srma.group import summary_table

    tables = [io.read_parquet(p) for p in pooled]
    listed = {(g["instrument"], g["timepoint"]) for g in io.read_json(groups)}
    found = {(t["instrument"].iat[0], t["timepoint"].iat[0]) for t in tables if len(t)}
    if listed != found:
        raise ValueError(
            f"{groups}: groups without a pooled table {sorted(listed - found)}, "
            f"pooled tables of no listed group {sorted(found - listed)}"
        )
    summary = summary_table(tables)
    rank = {col: {v: i for i, v in enumerate(vals)} for col, vals in order.items()}
    summary = summary.sort_values(
        list(rank), key=lambda s: s.map(rank[s.name]), kind="stable", ignore_index=True
    )
    io.write_csv(summary, table, config_hash=config_hash)


@needs("srma.sensitivity_table")
def sensitivity_table(
    *, leave1out: Paths, regtest: Paths, trimfill: Paths, table: str, config_hash: str
) -> None:
    """The sensitivity analyses of every group in one table, for
    ``results/tables/sensitivity.csv``, in the order of ``leave1out`` (the config's)."""
    from srma.sensitivity_table import summary_table

    summary = summary_table(
        [io.read_parquet(p) for p in leave1out],
        [io.read_parquet(p) for p in regtest],
        [io.read_parquet(p) for p in trimfill],
    )
    io.write_csv(summary, table, config_hash=config_hash)


# 6. correlations -----------------------------------------------------------------------


@needs("srma.correlations")
def correlations(
    *, rows: Paths, table: str, pooled: str, min_studies: int, config_hash: str
) -> None:
    """Tabulate correlations between outcome and clinical measures; pool where enough."""
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


@needs("srma.figures.leave1out")
def leave1out(
    *, pooled: str, leave1out: str, svg: str, png: str, labels: Mapping, **_wildcards
) -> None:
    """Leave-one-out plot of one group, drawn from its leave-one-out table (a note
    saying why when the analysis was not estimated)."""
    from srma.figures.leave1out import leave1out_figure

    leave1out_figure(
        io.read_parquet(pooled), io.read_parquet(leave1out), svg, png, source=leave1out, **labels
    )


@needs("srma.figures.funnel")
def funnel(
    *, pooled: str, regtest: str, trimfill: str, svg: str, png: str, labels: Mapping,
    **_wildcards,
) -> None:  # fmt: skip
    """Funnel plot of one group with Egger's test and trim-and-fill, drawn from their
    tables (a note saying why when the test was not done)."""
    from srma.figures.funnel import funnel_figure

    funnel_figure(
        io.read_parquet(pooled),
        io.read_parquet(regtest),
        io.read_parquet(trimfill),
        svg,
        png,
        source=regtest,
        instrument_label=labels["instrument_label"],
        timepoint_label=labels["timepoint_label"],
        measure=labels["measure"],
        unit=labels.get("unit", ""),
        measure_label=labels.get("measure_label"),
    )


@needs("srma.figures.prisma")
def prisma(*, counts: str, svg: str, png: str) -> None:
    """PRISMA 2020 flow diagram."""
    from srma.figures.prisma import prisma_diagram

    data = json.loads(Path(counts).read_text(encoding="utf-8"))
    prisma_diagram(data, svg, png, source=str(counts))


@needs("srma.figures.heatmap")
def heatmap(
    *, table: str, pooled: str, svg: str, png: str, clinical_measures: Sequence[str],
    measure_labels: Mapping[str, str], clinical_labels: Mapping[str, str],
    measure_label: str, clinical_label: str,
) -> None:  # fmt: skip
    """Correlation heatmap, clinical x outcome measures (a note figure when the review
    has no correlations)."""
    from srma.figures.heatmap import correlation_heatmap

    correlation_heatmap(
        _read_table(table),
        svg,
        png,
        clinical_measures=list(clinical_measures),
        pooled=_read_table(pooled),
        measure_labels=dict(measure_labels),
        clinical_labels=dict(clinical_labels),
        measure_label=measure_label,
        clinical_label=clinical_label,
        source=str(table),
    )


def _read_table(path: str | Path) -> pd.DataFrame:
    """A CSV table of srma's; an empty file (a table without rows or columns) is an
    empty DataFrame."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@needs("srma.figures.results")
def results_page(*, table: str, pooled: Paths, html: str, summary: str, labels: Mapping) -> None:
    """The report's results page (every group's result, and why a group or a study has
    none) and the summary on the report's first page, from ``pooled.csv`` (``table``)
    and the groups' pooled tables; ``labels`` as for
    :func:`srma.figures.results.results_page`."""
    import pandas as pd

    from srma.figures.results import results_page as write

    keys = {"instrument": str, "timepoint": str, "status": str, "studies": str}
    write(
        pd.read_csv(table, dtype=keys, keep_default_na=False, na_values=[""]),
        [io.read_parquet(p) for p in pooled],
        html,
        summary,
        source=str(table),
        **labels,
    )


# provenance ----------------------------------------------------------------------------


@needs("srma.provenance_map")
def provenance(**kwargs) -> None:
    """``results/provenance.json``; arguments as :func:`srma.provenance_map.provenance`."""
    from srma.provenance_map import provenance as write

    write(**kwargs)
