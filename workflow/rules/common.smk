# Shared set-up: config validation, the list of exports and studies, the
# instrument x timepoint groups, and the input functions of every rule.

import sys
from pathlib import Path

from snakemake.utils import validate

# Validate the config before anything reads it: an unknown key or a wrong type stops
# the run here, with the key's name.
validate(config, schema="../schemas/config.schema.yaml")

# The srma package lives beside the rules; make it importable even when it is not
# installed (e.g. a conda environment built from environment.yml).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from srma import stages
from srma.config import config_hash
from srma.extraction import study_groups
from srma.logs import job_log
from srma.provenance import code_hash

EXPORTS = list(config["searches"])
INSTRUMENTS = config["instruments"]
TIMEPOINTS = config["timepoints"]
EXTRACTION_DIR = Path(config["extraction"]["directory"])
STUDIES = sorted(p.stem for p in EXTRACTION_DIR.glob("*.yaml"))


def _groups():
    """(instrument, timepoint) -> studies reporting it, read from the extraction
    files when the DAG is built, so a pooling job depends only on its own studies."""
    groups = {}
    for study in STUDIES:
        for group in study_groups(EXTRACTION_DIR / f"{study}.yaml", config):
            groups.setdefault(group, []).append(study)
    return dict(sorted(groups.items()))


GROUPS = _groups()


wildcard_constraints:
    export="|".join(EXPORTS),
    study="[A-Za-z0-9_-]+",
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


def extraction_tables(wildcards=None):
    return expand("results/extraction/{study}.parquet", study=STUDIES)


def correlation_tables(wildcards=None):
    return expand("results/correlations/studies/{study}.parquet", study=STUDIES)


def group_extraction(wildcards):
    studies = GROUPS[(wildcards.instrument, wildcards.timepoint)]
    return expand("results/extraction/{study}.parquet", study=studies)


def pooled_tables(wildcards=None):
    return [f"results/pooled/{i}/{t}.parquet" for i, t in GROUPS]


def forest_figures(ext):
    return [f"results/figures/forest/{i}_{t}.{ext}" for i, t in GROUPS]


def all_outputs():
    return [
        "results/records/counts.csv",
        "results/dedup/unique.ris",
        "results/dedup/uncertain.csv",
        "results/prisma/counts.json",
        "results/extraction/excluded.csv",
        "results/tables/pooled.csv",
        "results/tables/correlations.csv",
        "results/tables/correlations_pooled.csv",
        *forest_figures("svg"),
        "results/figures/prisma.svg",
        "results/figures/heatmap.svg",
    ]
