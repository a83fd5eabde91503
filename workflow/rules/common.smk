# Shared set-up: config validation, the list of exports and studies, the
# instrument x timepoint groups, and the input functions of every rule.

import os
import sys
from pathlib import Path

from snakemake.persistence import PersistenceBase
from snakemake.utils import validate

# Validate the config before anything reads it: an unknown key or a wrong type stops
# the run here, with the key's name.
validate(config, schema="../schemas/config.schema.yaml")

# The srma package lives beside the rules; make it importable even when it is not
# installed (e.g. a conda environment built from environment.yml).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from srma import stages, workers
from srma.config import config_hash
from srma.extraction.dag import batch_of, groups_of_studies
from srma.provenance import code_hash
from srma.stages import run_stage

# Snakemake compares a job's params with what it stored through a pandas-aware
# serialiser whenever pandas is installed, which imports pandas (~0.5 s, a sixth of a
# no-op rerun of a 1,000-study review) in every command. srma's params are plain
# values, for which that serialiser returns the plain one's text: use the plain one.
if hasattr(PersistenceBase, "_serialize_param_builtin"):
    PersistenceBase._serialize_param = property(
        lambda self: self._serialize_param_builtin
    )

# Jobs run in threads of this process (profiles/default); CPU-bound stage functions go
# to as many worker processes as Snakemake has cores. A job Snakemake started in a
# process of its own (a cluster job) runs its stage in that process.
workers.configure((workflow._cores or 1) if workflow.is_main_process else 1)

EXPORTS = list(config["searches"])
INSTRUMENTS = config["instruments"]
TIMEPOINTS = config["timepoints"]
EXTRACTION_DIR = Path(config["extraction"]["directory"])
# What extraction reads of the config: in the extraction jobs' params, so that changing
# an instrument's range or a timepoint window reruns them, and nothing else does.
EXTRACTION_SETTINGS = {
    key: config[key] for key in ("instruments", "timepoints", "extraction")
}
FIGURES = config["figures"]
STUDY_FILES = {path.stem: path for path in sorted(EXTRACTION_DIR.glob("*.yaml"))}
STUDIES = list(STUDY_FILES)


def _groups():
    """(instrument, timepoint) -> the studies reporting it, read from the extraction
    files (through a cache keyed by file digest) when the DAG is built, so that a
    pooling job depends on its own studies only."""
    groups = {}
    studies = groups_of_studies(
        STUDY_FILES, EXTRACTION_SETTINGS, ".snakemake/srma/study_groups.json"
    )
    for study, study_groups in studies.items():
        for group in study_groups:
            groups.setdefault(group, []).append(study)
    return dict(sorted(groups.items()))


GROUPS = _groups()


def _batches():
    """Extraction batch -> its studies (srma.extraction.dag explains the batches)."""
    batches = {}
    for study in STUDIES:
        batches.setdefault(batch_of(study), []).append(study)
    return dict(sorted(batches.items()))


BATCHES = _batches()


def study_table(study):
    return f"results/extraction/{study}.parquet"


def _missing_study_tables():
    """Extraction batch -> the tables of its studies that are not on disk now.

    A batch job writes the table of each of its studies but declares as outputs (and
    `all` asks for) only those missing when the DAG is built, so that a deleted table
    is written again while, after a complete run, the DAG holds 32 batch jobs with
    three outputs each rather than 1,000 more outputs (Snakemake reads each output's
    metadata on every build: ~0.3 s of a no-op rerun at 1,000 studies). A changed
    study file reruns its batch through the batch's inputs, as before."""
    return {
        batch: [t for t in map(study_table, studies) if not os.path.exists(t)]
        for batch, studies in BATCHES.items()
    }


MISSING_STUDY_TABLES = _missing_study_tables()


wildcard_constraints:
    export="|".join(EXPORTS),
    instrument="|".join(INSTRUMENTS),
    timepoint="|".join(TIMEPOINTS),


def stage_config(*keys):
    """The config sections a stage reads, hashed: in ``params`` so that changing
    them reruns the stage, and stored in its outputs as provenance."""
    return config_hash({key: config.get(key) for key in keys})


CODE = {
    "import": code_hash("importers"),
    "dedup": code_hash("dedup"),
    "screening": code_hash("screening"),
    "extraction": code_hash("extraction"),
    "pooling": code_hash("pooling"),
    "correlations": code_hash("correlations"),
    "figures": code_hash("figures"),
}


# Input functions ------------------------------------------------------------------------


def export_path(wildcards):
    return config["searches"][wildcards.export]["path"]


def records_tables(wildcards=None):
    return expand("results/records/{export}.parquet", export=EXPORTS)


def dedup_decisions(wildcards):
    path = config["dedup"]["decisions"]
    return [path] if Path(path).exists() else []


def excluded_tables(wildcards=None):
    return expand("results/extraction/excluded/{batch}.parquet", batch=BATCHES)


def extraction_sources(wildcards=None):
    return expand("results/extraction/sources/{batch}.json", batch=BATCHES)


def correlation_tables(wildcards=None):
    return expand("results/correlations/batches/{batch}.parquet", batch=BATCHES)


def study_file(wildcards):
    """The extraction file of one study (rule study_table)."""
    if wildcards.study not in STUDY_FILES:
        raise ValueError(
            f"no study {wildcards.study!r}: there is no file "
            f"{EXTRACTION_DIR / wildcards.study}.yaml"
        )
    return STUDY_FILES[wildcards.study]


def group_study_files(wildcards):
    """The extraction files of a group's studies."""
    studies = GROUPS[(wildcards.instrument, wildcards.timepoint)]
    return [STUDY_FILES[study] for study in studies]


def pooled_tables(wildcards=None):
    return [f"results/pooled/{i}/{t}.parquet" for i, t in GROUPS]


def forest_figures(ext):
    return [f"results/figures/forest/{i}_{t}.{ext}" for i, t in GROUPS]


def figure_labels(wildcards):
    """Titles and arm names for the figures of one group."""
    return {
        "instrument_label": INSTRUMENTS[wildcards.instrument]["label"],
        "timepoint_label": TIMEPOINTS[wildcards.timepoint].get(
            "label", wildcards.timepoint
        ),
        "intervention": config["review"]["intervention"],
        "comparator": config["review"]["comparator"],
        "measure": config["pooling"]["measure"],
    }


def group_figures(kind, min_studies):
    """Leave-one-out or funnel plots of the groups with at least ``min_studies`` studies
    reporting them (known when the DAG is built; a group whose studies turn out not to
    be usable gets a figure that says so)."""
    return [
        f"results/figures/{kind}/{i}_{t}.svg"
        for (i, t), studies in GROUPS.items()
        if len(studies) >= min_studies
    ]


def all_outputs():
    return [
        "results/records/counts.csv",
        "results/dedup/unique.ris",
        "results/dedup/uncertain.csv",
        "results/prisma/counts.json",
        "results/extraction/excluded.csv",
        *(t for tables in MISSING_STUDY_TABLES.values() for t in tables),
        "results/tables/pooled.csv",
        "results/tables/correlations.csv",
        "results/tables/correlations_pooled.csv",
        *forest_figures("svg"),
        *group_figures("leave1out", FIGURES["leave1out_min_studies"]),
        *group_figures("funnel", FIGURES["funnel_min_studies"]),
        "results/figures/prisma.svg",
        "results/figures/heatmap.svg",
        "results/provenance.json",
    ]
