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

import pandas as pd

from srma import stages
from srma.config import config_hash
from srma.extraction import study_groups
from srma.provenance import code_hash
from srma.stages import run_stage

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
STUDIES = sorted(p.stem for p in EXTRACTION_DIR.glob("*.yaml"))


def _groups():
    """(instrument, timepoint) -> studies reporting it, read from the extraction
    files when the DAG is built, so a pooling job depends only on its own studies."""
    groups = {}
    for study in STUDIES:
        for group in study_groups(
            EXTRACTION_DIR / f"{study}.yaml", EXTRACTION_SETTINGS
        ):
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


LABEL_KEYS = ("instrument_label", "timepoint_label")


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


def pooled_groups(min_studies):
    """Groups that were pooled from at least ``min_studies`` studies (read from the
    pooled_table checkpoint's output)."""
    table = pd.read_csv(checkpoints.pooled_table.get().output.table)
    rows = table[(table["status"] == "pooled") & (table["k"] >= min_studies)]
    return list(zip(rows["instrument"], rows["timepoint"]))


def sensitivity_figures(wildcards):
    """Leave-one-out plots of pooled groups, funnel plots of the large ones."""
    loo = pooled_groups(FIGURES["leave1out_min_studies"])
    funnel = pooled_groups(FIGURES["funnel_min_studies"])
    return [f"results/figures/leave1out/{i}_{t}.svg" for i, t in loo] + [
        f"results/figures/funnel/{i}_{t}.svg" for i, t in funnel
    ]


def all_outputs(wildcards):
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
        *sensitivity_figures(wildcards),
        "results/figures/prisma.svg",
        "results/figures/heatmap.svg",
    ]
