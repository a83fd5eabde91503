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

    dedup.lean_memory_pool()
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
    io.write_parquet(
        result.unique,
        unique,
        config_hash=config_hash,
        metadata=dedup.parquet_metadata(result.unique),
    )
    dedup.write_ris(result.unique, ris)
    io.write_csv(result.uncertain, uncertain, config_hash=config_hash)
    if untitled is not None:
        io.write_csv(result.untitled, untitled, config_hash=config_hash)


# 3. screening --------------------------------------------------------------------------


@needs("srma.screening", "srma.screening_tools")
def screen(
    *, unique: str, clusters: str, records: Paths, decisions_file: str | Paths,
    decisions: str, counts: str, config_hash: str, study_ids: Sequence[str] | None = None,
    tool: str = "srma", title_abstract: Paths = (), full_text: Paths = (),
    extraction_dir: str = "resources/extraction",
) -> None:  # fmt: skip
    """Apply screening decisions; write the per-cluster status and PRISMA counts.
    ``study_ids`` (the extraction files' stems in ``extraction_dir``): an included
    study without a file, or a file no included report names, stops the job. With a screening
    ``tool`` (``asreview``, ``rayyan``, ``covidence``), the decisions are those of its
    exports (``title_abstract``, ``full_text``) and of srma's ``decisions_file`` when
    one is given (an empty list: none)."""
    if not isinstance(decisions_file, str | Path):
        decisions_file = decisions_file[0] if len(decisions_file) else None
    if tool == "srma":
        from srma.screening import screen as apply_decisions

        table, prisma = apply_decisions(
            io.read_parquet(unique),
            io.read_parquet(clusters),
            read_all(records),
            decisions_file,
            study_ids=study_ids,
            extraction_dir=extraction_dir,
        )
    else:
        from srma.screening_tools import screen_exports

        table, prisma, _ = screen_exports(
            io.read_parquet(unique),
            io.read_parquet(clusters),
            read_all(records),
            tool=tool,
            title_abstract=list(title_abstract),
            full_text=list(full_text),
            decisions_path=decisions_file,
            study_ids=study_ids,
            extraction_dir=extraction_dir,
        )
    io.write_parquet(table, decisions, config_hash=config_hash)
    io.write_json(prisma, counts)


# 4. extraction -------------------------------------------------------------------------


@needs("srma.extraction", "srma.extraction.study", "srma.extraction.correlations")
def extract_study(
    *, study_file: str, table: str, correlations: str, excluded: str, settings: Mapping,
    config_hash: str, per_correlation: str | None = None,
    sensitivity_correlations: Sequence[float] = (),
) -> None:  # fmt: skip
    """Validate and harmonise one study's extraction file, parsed once: its rows (data
    model 4) to ``table``, its correlation rows (data model 6) to ``correlations``, the
    rows that cannot be used (``excluded.csv``) to ``excluded``, and to
    ``per_correlation`` its rows harmonised once per change-score correlation of
    ``sensitivity_correlations`` (the config's sensitivity analyses; no rows when there
    are none). ``settings`` holds the
    config sections extraction reads (instruments, timepoints, extraction). The file is
    checked before anything is written; its path and SHA-256 go into the table's
    metadata (``srma_study_file``, ``srma_study_sha256``) for ``provenance.json``."""
    from srma.extraction import extract

    result = extract(study_file, settings, list(sensitivity_correlations))
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
    if per_correlation is not None:
        io.write_parquet(result.per_correlation, per_correlation, config_hash=config_hash)


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
    """Pool one instrument x timepoint group from its studies' extraction tables;
    ``pooling``: the config's ``pooling`` section, with ``outcome: binary`` and the
    instrument's ``measure`` and ``method`` for a binary instrument
    (``prediction_interval`` is pool_group's ``pi_type``)."""
    from srma.group import pool_group as pool

    keys = ("measure", "method", "test", "level", "min_studies", "reported_only")
    table = pool(
        read_study_tables(tables),
        instrument=instrument,
        timepoint=timepoint,
        outcome=pooling.get("outcome", "continuous"),
        pi_type=pooling.get("prediction_interval", "default"),
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


@needs("srma.sensitivity_analyses")
def sensitivity_analyses(
    *, pooled: str, tables: Paths, per_correlation: Paths, leave1out: str, table: str,
    analyses: Sequence[Mapping], pooling: Mapping, correlation: float, instrument: str,
    timepoint: str, config_hash: str,
) -> None:  # fmt: skip
    """The config's sensitivity analyses of one group (``analyses``: config
    ``sensitivity.analyses``), each pooled with the review's model (``pooling``) and
    compared with the main result (``pooled``): :func:`srma.sensitivity_analyses.group_analyses`
    from the group's studies' extraction tables (``tables``), their rows per change-score
    correlation (``per_correlation``) and the group's leave-one-out table."""
    from srma.sensitivity_analyses import group_analyses

    out = group_analyses(
        io.read_parquet(pooled),
        read_study_tables(tables),
        analyses=analyses,
        instrument=instrument,
        timepoint=timepoint,
        pooling=pooling,
        alternatives=read_study_tables(per_correlation),
        leave1out=io.read_parquet(leave1out),
        correlation=correlation,
    )
    for status, count in out["status"].value_counts(sort=False).items():
        log.info("%s %s: %d analysis row(s) %s", instrument, timepoint, count, status)
    io.write_parquet(out, table, config_hash=config_hash)


@needs("srma.sensitivity_analyses")
def sensitivity_analyses_table(*, tables: Paths, table: str, config_hash: str) -> None:
    """Every group's sensitivity analyses, in the order of ``tables`` (the config's),
    for ``results/tables/sensitivity_analyses.csv``."""
    from srma.sensitivity_analyses import empty_table

    out = read_all(tables)
    io.write_csv(out if len(out.columns) else empty_table(), table, config_hash=config_hash)


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


# 5b. subgroup analyses and meta-regression (config analyses) ----------------------------


@needs("srma.group_analyses")
def subgroup_group(
    *, pooled: str, tables: Paths, table: str, analysis: str, spec: Mapping,
    min_studies: int, instrument: str, timepoint: str, config_hash: str,
) -> None:  # fmt: skip
    """The subgroup analysis ``analysis`` (``spec``: its config entry, ``by`` and
    ``label``) of one group, from its pooled table and its studies' extraction tables
    (``tables``, where the field ``by`` is read)."""
    from srma import group_analyses as ga

    by = spec["by"]
    values = ga.study_values(
        read_study_tables(tables), by, instrument=instrument, timepoint=timepoint
    )
    out = ga.subgroup_table(
        io.read_parquet(pooled), values, analysis=analysis, by=by, label=spec.get("label"),
        min_studies=min_studies,
    )  # fmt: skip
    test = out[out["row_type"] == "test"].iloc[0]
    log.info("%s %s %s: %s %s", analysis, instrument, timepoint, test["status"], test["reason"])
    io.write_parquet(out, table, config_hash=config_hash)


@needs("srma.group_analyses")
def meta_regression_group(
    *, pooled: str, tables: Paths, table: str, analysis: str, spec: Mapping,
    instrument: str, timepoint: str, config_hash: str,
) -> None:  # fmt: skip
    """The meta-regression ``analysis`` (``spec``: its config entry, ``moderators``
    and ``label``) of one group, from its pooled table and its studies' extraction
    tables (``tables``, where the moderators are read)."""
    from srma import group_analyses as ga

    studies = read_study_tables(tables)
    mods = list(spec["moderators"])
    values = {
        m: ga.study_values(studies, m, instrument=instrument, timepoint=timepoint) for m in mods
    }
    out = ga.meta_regression_table(
        io.read_parquet(pooled), values, analysis=analysis, moderators=mods,
        label=spec.get("label"),
    )  # fmt: skip
    model = out[out["row_type"] == "model"].iloc[0]
    log.info("%s %s %s: %s %s", analysis, instrument, timepoint, model["status"], model["reason"])
    io.write_parquet(out, table, config_hash=config_hash)


@needs("srma.group_analyses")
def analyses_table(*, tables: Paths, table: str, kind: str, config_hash: str) -> None:
    """Every group's subgroup analyses (``kind`` ``subgroups``: the subgroup and test
    rows) or meta-regressions (``meta_regression``: the coefficient and model rows) in
    one CSV, in the order of ``tables`` (the config's analyses, instruments, timepoints)."""
    import pandas as pd

    from srma import group_analyses as ga

    if kind == "subgroups":
        columns, rows = ga.SUBGROUP_COLUMNS, ("subgroup", "test")
    else:
        columns, rows = ga.REGRESSION_COLUMNS, ("coefficient", "model")
    out = ga.collect([io.read_parquet(p) for p in tables], rows)
    if not len(out.columns):
        out = pd.DataFrame(columns=columns)
    io.write_csv(out, table, config_hash=config_hash)


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


@needs("srma.figures.forest", "srma.appraisal.load")
def forest(
    *, pooled: str, svg: str, png: str, labels: Mapping, judgements: Paths = (),
    instrument: str | None = None, timepoint: str | None = None, **_wildcards,
) -> None:  # fmt: skip
    """Forest plot of one group; ``labels`` as for
    :func:`srma.figures.forest.forest_plot` (instrument and timepoint labels, arms,
    measure). ``judgements``: the tables of :func:`assess_study` of the group's studies
    that have a risk-of-bias file; their judgements for this instrument x timepoint are
    drawn right of the plot, and a study of the group without a file is marked ``no
    information`` (no marks at all when no study of the group has a file)."""
    from srma.figures.forest import forest_plot

    group = io.read_parquet(pooled)
    rob = None
    if len(judgements) and len(group):
        instrument = instrument or str(group["instrument"].iat[0])
        timepoint = timepoint or str(group["timepoint"].iat[0])
        rob = _group_rob(judgements, instrument, timepoint)
        rob = _no_information_rows(rob, group)
    forest_plot(group, svg, png, source=str(pooled), rob=rob, **labels)


def _no_information_rows(rob: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    """``rob`` and, for each study of ``group`` without judgements, ``no information``
    in every domain of the tool the group's assessed studies use (RoB 2 first)."""
    import pandas as pd

    from srma.appraisal.tools import NO_INFORMATION, TOOLS

    studies = [str(s) for s in group.loc[group["row_type"] == "study", "study_id"]]
    missing = [s for s in studies if s not in set(rob["study_id"].dropna())]
    used = [t for t in TOOLS if (rob["tool"] == t).any()]
    if not missing or not used:
        return rob
    tool = TOOLS[used[0]]
    rows = [
        {"study_id": sid, "tool": tool.key, "domain": d, "judgement": NO_INFORMATION}
        for sid in missing
        for d in (*tool.domains, "overall")
    ]
    extra = pd.DataFrame(rows, columns=rob.columns).astype("string")
    return pd.concat([rob, extra], ignore_index=True)


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


@needs("srma.figures.subgroups")
def subgroup_forest(*, table: str, svg: str, png: str, labels: Mapping, **_wildcards) -> None:
    """Forest plot of one group's subgroup analysis, drawn from its table: a block per
    subgroup with its subtotal, and the test for subgroup differences."""
    from srma.figures.subgroups import subgroup_forest_figure

    keys = ("instrument_label", "timepoint_label", "intervention", "comparator", "measure",
            "unit", "measure_label", "favours_negative")  # fmt: skip
    subgroup_forest_figure(
        io.read_parquet(table), svg, png, source=table, **{k: labels.get(k) for k in keys}
    )


@needs("srma.figures.subgroups")
def bubble(*, table: str, svg: str, png: str, labels: Mapping, **_wildcards) -> None:
    """Bubble plot of one group's meta-regression on one numeric moderator, drawn from
    its table (a note figure saying why when there is none to draw)."""
    from srma.figures.subgroups import bubble_figure

    keys = ("instrument_label", "timepoint_label", "measure", "unit", "measure_label")
    bubble_figure(
        io.read_parquet(table), svg, png, source=table, **{k: labels.get(k) for k in keys}
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
def results_page(
    *, table: str, pooled: Paths, html: str, summary: str, labels: Mapping,
    sensitivity: Paths = (), appraisal: str = "", subgroups: Paths = (),
    meta_regression: Paths = (),
) -> None:  # fmt: skip
    """The report's results page (every group's result, and why a group or a study has
    none) and the summary on the report's first page, from ``pooled.csv`` (``table``)
    and the groups' pooled tables; ``labels`` as for
    :func:`srma.figures.results.results_page`; ``sensitivity``: the
    ``sensitivity_analyses.csv`` of the config's sensitivity analyses (none: no such
    section); ``appraisal``: the risk of bias and the certainty in words
    (``results/report/appraisal.html``; empty: no such section); ``subgroups``,
    ``meta_regression``: ``subgroups.csv`` and ``meta_regression.csv`` of the config's
    analyses (none: no such section)."""
    import pandas as pd

    from srma.figures.results import results_page as write

    keys = {"instrument": str, "timepoint": str, "status": str, "studies": str}
    str_keys = {"instrument": str, "timepoint": str, "variant": str, "reason": str}
    text = dict.fromkeys(("instrument", "timepoint", "subgroup", "term", "label", "reason"), str)
    write(
        pd.read_csv(table, dtype=keys, keep_default_na=False, na_values=[""]),
        [io.read_parquet(p) for p in pooled],
        html,
        summary,
        source=str(table),
        sensitivity=pd.read_csv(sensitivity[0], dtype=str_keys) if sensitivity else None,
        appraisal=Path(appraisal).read_text(encoding="utf-8") if appraisal else "",
        subgroups=pd.read_csv(subgroups[0], dtype=text) if subgroups else None,
        meta_regression=pd.read_csv(meta_regression[0], dtype=text) if meta_regression else None,
        **labels,
    )


# provenance ----------------------------------------------------------------------------


@needs("srma.provenance_map")
def provenance(**kwargs) -> None:
    """``results/provenance.json``; arguments as :func:`srma.provenance_map.provenance`."""
    from srma.provenance_map import provenance as write

    write(**kwargs)


# 8. appraisal --------------------------------------------------------------------------

#: Judgement of the one row of a study without a risk-of-bias file in
#: ``risk_of_bias.csv``: appraisal not done yet (a new review fills the files in).
NOT_ASSESSED = "not assessed"


def _designs(studies: Paths) -> dict[str, str]:
    """study id -> the ``design`` of its extraction table (studies without rows left out)."""
    import pyarrow.parquet as pq

    out = {}
    for path in studies:
        table = pq.read_table(path)
        if "design" in table.column_names:
            values = [v for v in table.column("design").to_pylist() if v]
            if values:
                out[Path(path).stem] = str(values[0])
    return out


def _not_assessed_rows(studies: Sequence[str], designs: Mapping[str, str], directory: str):
    """One ``not assessed`` overall row per study without a file (``tool``: the tool its
    design takes, empty when the design is unknown)."""
    import pandas as pd

    from srma.appraisal.load import COLUMNS
    from srma.appraisal.tools import TOOL_FOR_DESIGN

    rows = [
        {
            "study_id": sid,
            "tool": TOOL_FOR_DESIGN.get(designs.get(sid, "")),
            "domain": "overall",
            "domain_name": "Overall",
            "judgement": NOT_ASSESSED,
            "support": f"no risk-of-bias file: write {Path(directory, sid).as_posix()}.yaml",
        }
        for sid in studies
    ]
    return pd.DataFrame(rows, columns=COLUMNS).astype("string")


def read_rob_table(path: str | Path) -> pd.DataFrame:
    """``risk_of_bias.csv`` as :func:`srma.appraisal.load.rob_table` gives it (strings,
    empty cells null), without srma's provenance columns."""
    import pandas as pd

    from srma.appraisal.load import COLUMNS

    table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return table[COLUMNS].astype("string")


@needs("srma.appraisal.load")
def assess_study(
    *, rob_file: str, study_table: str, table: str, settings: Mapping, config_hash: str
) -> None:
    """Check one study's risk-of-bias file (:func:`srma.appraisal.load.load_assessment`:
    against the config's instruments and timepoints in ``settings`` and the ``design``
    of the study's extraction table ``study_table``) and write its rows of the
    risk-of-bias table (:func:`srma.appraisal.load.assessment_rows`, every column a
    string) to ``table``, ``results/appraisal/rob/<study>.parquet``. The file is parsed
    here only: a file with an error stops this job, naming the file, the line, the study
    and the field. The file's path and SHA-256 go into the table's metadata
    (``srma_rob_file``, ``srma_rob_sha256``)."""
    from srma.appraisal.load import load_assessments

    rob = load_assessments([rob_file], config=settings, designs=_designs([study_table]))
    overall = rob.loc[rob["domain"] == "overall", "judgement"]
    log.info("%s: %s, overall %s", rob_file, rob["tool"].iat[0], overall.iat[0])
    entry = io.file_entry(rob_file)
    source = {"srma_rob_file": entry["path"], "srma_rob_sha256": entry["sha256"]}
    io.write_parquet(rob, table, config_hash=config_hash, metadata=source)


def read_rob_tables(paths: Paths) -> pd.DataFrame:
    """The per-study tables of :func:`assess_study` as one risk-of-bias table (the
    columns of :data:`srma.appraisal.load.COLUMNS`, strings, studies sorted by id, as
    :func:`srma.appraisal.load.rob_table` gives it); none: the empty table."""
    import pandas as pd

    from srma.appraisal.load import COLUMNS, rob_table

    frames = [io.read_parquet(p) for p in paths]
    if not frames:
        return rob_table([])
    table = pd.concat(frames, ignore_index=True)[COLUMNS].astype("string")
    return table.sort_values("study_id", kind="stable", ignore_index=True)


@needs("srma.appraisal.load", "srma.appraisal.narrative")
def risk_of_bias_table(
    *, judgements: Paths, studies: Paths, table: str, paragraph: str, directory: str,
    config_hash: str, unmatched: Sequence[str] = (),
) -> None:  # fmt: skip
    """The review's risk-of-bias table, ``results/tables/risk_of_bias.csv``: the
    per-study tables of :func:`assess_study` (``judgements``, checked there) and, for a
    study of the extraction tables ``studies`` without a risk-of-bias file, one row
    judged ``not assessed`` and a warning. ``unmatched``: risk-of-bias files named for
    no extraction study, which stop the job naming the first. ``paragraph``: the table
    in words (:func:`srma.appraisal.narrative.appraisal_html`) for the report's
    captions."""
    import pandas as pd

    from srma.appraisal.load import check_coverage
    from srma.appraisal.narrative import appraisal_html

    designs = _designs(studies)
    ids = sorted(Path(p).stem for p in studies)
    rob = read_rob_tables(judgements)
    if not Path(directory).is_dir():
        log.warning("no risk-of-bias directory %s: every study is %s", directory, NOT_ASSESSED)
    missing = sorted(set(ids) - set(rob["study_id"].dropna()))
    if missing:
        log.warning(
            "%d of %d studies without a risk-of-bias file (%s): %s",
            len(missing),
            len(ids),
            NOT_ASSESSED,
            ", ".join(missing),
        )
        rob = pd.concat([rob, _not_assessed_rows(missing, designs, directory)])
        rob = rob.sort_values("study_id", kind="stable", ignore_index=True)
    # A file named for no extraction study is not read: its name is the error.
    stray = pd.DataFrame({"study_id": [Path(p).stem for p in unmatched]}, dtype="string")
    check_coverage(pd.concat([rob, stray]) if len(stray) else rob, ids, source=directory)
    io.write_csv(rob, table, config_hash=config_hash)
    io.write_bytes_atomic(paragraph, appraisal_html(rob, None).encode("utf-8"))


@needs("srma.figures.rob")
def rob_figures(
    *, table: str, paragraph: str, traffic_light_svg: str, traffic_light_png: str, summary_svg: str,
    summary_png: str, robins_i_traffic_light_svg: str, robins_i_traffic_light_png: str,
    robins_i_summary_svg: str, robins_i_summary_png: str,
) -> None:  # fmt: skip
    """The traffic-light plot and the summary bars of the study-level judgements, for
    RoB 2 and for ROBINS-I (a note figure for a tool no study was assessed with);
    studies ``not assessed`` are left out and counted in the titles. ``paragraph``
    (the table in words) is read by the figures' captions only."""
    from srma.figures.rob import summary_bars, traffic_light

    rob = read_rob_table(table)
    study = rob[rob["instrument"].isna() & rob["timepoint"].isna()]
    pending = study[study["judgement"] == NOT_ASSESSED]
    study = study[study["judgement"] != NOT_ASSESSED]
    figures = {
        "rob2": (traffic_light_svg, traffic_light_png, summary_svg, summary_png),
        "robins_i": (
            robins_i_traffic_light_svg,
            robins_i_traffic_light_png,
            robins_i_summary_svg,
            robins_i_summary_png,
        ),
    }
    names = {"rob2": "RoB 2", "robins_i": "ROBINS-I"}
    for tool, (tl_svg, tl_png, sb_svg, sb_png) in figures.items():
        n = int((pending["tool"] == tool).sum())
        extra = f"; {n} {'study' if n == 1 else 'studies'} not assessed yet" if n else ""
        title = f"Risk of bias ({names[tool]})"
        drawn = traffic_light(
            study, tl_svg, tl_png, tool=tool, source=table, title=f"{title}, study level{extra}"
        )
        summary_bars(
            study, sb_svg, sb_png, tool=tool, source=table, title=f"{title}, studies{extra}"
        )
        log.info("%s: %s", names[tool], "drawn" if drawn else "no study assessed")


def _group_rob(judgements: Paths, instrument: str, timepoint: str):
    """The judgements that hold for one group, from its studies' tables of
    :func:`assess_study` (``judgements``)."""
    from srma.appraisal.load import for_outcome

    return for_outcome(read_rob_tables(judgements), instrument, timepoint)


@needs("srma.appraisal.sensitivity")
def high_risk_sensitivity(
    *, pooled: str, judgements: Paths, high_risk: str, instrument: str, timepoint: str,
    min_studies: int, config_hash: str,
) -> None:  # fmt: skip
    """The group refitted without its usable studies at high risk of bias
    (:func:`srma.appraisal.sensitivity.without_high_risk`), their judgements read from
    the tables of :func:`assess_study` of the group's studies (``judgements``); ``not
    estimated`` with the reason when a usable study has no risk-of-bias file."""
    from srma.appraisal import sensitivity as hr

    group = io.read_parquet(pooled)
    rob = _group_rob(judgements, instrument, timepoint)
    usable = group[(group["row_type"] == "study") & group["usable"].fillna(False).astype(bool)]
    missing = sorted(set(map(str, usable["study_id"])) - set(rob["study_id"].dropna()))
    if missing:
        row = {
            "instrument": instrument,
            "timepoint": timepoint,
            "k_all": len(usable),
            "status": "not estimated",
            "reason": f"{NOT_ASSESSED}: no risk-of-bias file for {', '.join(missing)}",
        }
        table = hr.table_row(row)
    else:
        table = hr.without_high_risk(group, rob, min_studies=min_studies, source=pooled)
    log.info("%s %s: %s", instrument, timepoint, table["status"].iat[0])
    io.write_parquet(table, high_risk, config_hash=config_hash)


@needs("srma.appraisal.sensitivity")
def high_risk_table(*, tables: Paths, table: str, config_hash: str) -> None:
    """Every group's analysis without its studies at high risk of bias, in the order of
    ``tables`` (the config's), for ``results/tables/sensitivity_high_risk.csv``."""
    import pandas as pd

    from srma.appraisal.sensitivity import COLUMNS

    out = read_all(tables)
    if not len(out.columns):
        out = pd.DataFrame(columns=COLUMNS)
    io.write_csv(out, table, config_hash=config_hash)


@needs("srma.appraisal.grade", "srma.appraisal.sof", "srma.appraisal.narrative", "docx")
def summary_of_findings(
    *, pooled: Paths, regtest: Paths, high_risk: Paths, rob: str, decisions: Paths,
    csv: str, docx: str, html: str, paragraph: str, grade: Mapping, settings: Mapping,
    labels: Mapping, config_hash: str,
) -> None:  # fmt: skip
    """GRADE ratings of every group (pooled tables in the config's order, with their
    Egger (``regtest``) and high-risk sensitivity tables in the same order) and the
    summary-of-findings table: CSV, Word, and HTML for the report. ``decisions``: the
    reviewer's decisions file (an empty list: none yet). The risk-of-bias domain of an
    outcome with a usable study ``not assessed`` is left to the reviewer (not judged).
    ``paragraph``: the risk of bias and the certainty of every outcome in words
    (:func:`srma.appraisal.narrative.appraisal_html`), for the results page and the
    report's caption."""
    from html import escape

    from srma.appraisal import grade as g
    from srma.appraisal import sof
    from srma.appraisal.load import for_outcome, overall_judgements
    from srma.appraisal.narrative import appraisal_html
    from srma.appraisal.tools import NO_INFORMATION

    settings_ = g.GradeSettings.from_config({"grade": dict(grade)})
    decisions_ = (
        g.load_decisions(decisions[0], config=settings, missing_ok=False) if decisions else []
    )
    table = read_rob_table(rob)
    ratings = []
    for p, r, s in zip(pooled, regtest, high_risk, strict=True):
        group = io.read_parquet(p)
        if not len(group):
            continue
        outcome = g.Outcome.from_group(group)
        key = (outcome.instrument, outcome.timepoint)
        judgements = overall_judgements(for_outcome(table, *key))
        pending = sorted(
            sid for sid in outcome.weights if judgements.get(sid) in (None, NOT_ASSESSED)
        )
        proposals = g.propose(
            outcome,
            {**judgements, **dict.fromkeys(pending, NO_INFORMATION)},
            regtest=io.read_parquet(r),
            sensitivity=io.read_parquet(s),
            settings=settings_,
        )
        if pending:
            proposals["risk_of_bias"] = g.Judgement(
                "risk_of_bias",
                None,
                f"{NOT_ASSESSED}: no risk-of-bias file for {', '.join(pending)}",
                g.NOT_JUDGED,
            )
        ratings.append(g.rate(outcome, proposals, decisions_))
    for d in g.unmatched(decisions_, ratings):
        log.warning(
            "%s, line %s: the %s decision fits no rated outcome (%s, %s)",
            decisions[0],
            d.line,
            d.domain,
            d.instrument or "every instrument",
            d.timepoint or "every timepoint",
        )
    out = sof.sof_table(
        ratings,
        instrument_labels=labels["instrument_labels"],
        timepoint_labels=labels["timepoint_labels"],
        unit=labels.get("unit", ""),
    )
    notes = list(labels.get("notes", ()))
    if not decisions_:
        notes.append(
            "No GRADE decisions file yet: srma's proposals stand, and the domains it "
            "leaves to the reviewer are not judged."
        )
    title = labels.get("title", "Summary of findings")
    io.write_csv(out, csv, config_hash=config_hash)
    sof.write_docx(out, docx, title=title, notes=notes)
    fragment = sof.sof_html(out, title=title, notes=notes)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>\n"
        "body {font-family: sans-serif; font-size: 14px}\n"
        "table {border-collapse: collapse}\n"
        "td, th {border: 1px solid #999; padding: 4px 6px; vertical-align: top}\n"
        "</style>\n</head>\n<body>\n" + fragment + "</body>\n</html>\n"
    )
    io.write_bytes_atomic(html, page.encode("utf-8"))
    io.write_bytes_atomic(paragraph, appraisal_html(table, out).encode("utf-8"))
    for rating in ratings:
        o = rating.outcome
        log.info("%s %s: %s", o.instrument, o.timepoint, rating.certainty or "not rated")
