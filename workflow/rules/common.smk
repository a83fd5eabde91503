# Shared set-up: config validation, the exports and studies, the instrument x timepoint
# groups, and the input functions of every rule.

import json
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# The srma package lives beside the rules; make it importable even when it is not
# installed (e.g. a conda environment built from environment.yml). The rules' folder, not
# workflow.basedir: that is the folder of the Snakefile being run, which is a review
# folder's own when this workflow is used as a module (srma init).
sys.path.insert(0, str(Path(str(workflow.current_basedir)).parent))

from srma import stages, workers
from srma.config import check_config, check_config_files, config_hash
from srma.errors import SrmaError
from srma.provenance import code_hash
from srma.stages import run_stage

# Validate the config before anything reads it: the files as written (no key given
# twice, no YAML aliases expanding without end), the schema (an unknown key or a wrong
# type stops the run here, with the key's name), then what the schema cannot say
# (finite numbers, ranges and timepoint windows that make sense, input files that exist).
# srma's errors are raised from here, without the frames of srma's code.
try:
    check_config_files(workflow.configfiles)
except SrmaError as err:
    raise err.with_traceback(None) from None
validate(config, schema="../schemas/config.schema.yaml")
# An empty screening.decisions: nothing screened yet (a new review, as srma init writes
# it); the Snakefile then runs import and deduplication only (TO_SCREEN). A path that
# names no file stops the run, as every input that is not there does. With a screening
# tool (screening.tool), its exports hold the decisions and the decisions file may be
# empty (workflow/rules/screening.smk checks the exports).
_DECISIONS_FILE = bool(config["screening"]["decisions"].strip())
SCREENED = _DECISIONS_FILE or config["screening"]["tool"] != "srma"
try:
    check_config(config if _DECISIONS_FILE else {**config, "screening": {}})
except SrmaError as err:
    raise err.with_traceback(None) from None


def _cores():
    """The --cores of this run (1 when none was given, e.g. a dry run)."""
    try:
        return workflow.cores or 1
    except WorkflowError:
        return 1


# Jobs run in threads of this process (profiles/default); CPU-bound stage functions go
# to as many worker processes as Snakemake has cores. Measured with 2 cores, full runs
# timed in turn: a review of 100 studies and 10,000 records 22.4-23.0 s with the worker
# processes, 38.7-44.7 s with every stage in Snakemake's threads (they share one
# interpreter lock); the bundled review 6.6-7.0 s vs 8.6-9.0 s. A job Snakemake started
# in a process of its own (a cluster job) runs its stage there.
workers.configure(_cores() if workflow.is_main_process else 1)

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
# The subgroup analyses and meta-regressions (config analyses), by name; the patterns
# of their names (the {analysis} wildcard of workflow/rules/analyses.smk).
SUBGROUPS = config["analyses"]["subgroups"]
META_REGRESSIONS = config["analyses"]["meta_regression"]
SUBGROUP_PATTERN = "|".join(map(re.escape, SUBGROUPS)) or "(?!)"
REGRESSION_PATTERN = "|".join(map(re.escape, META_REGRESSIONS)) or "(?!)"
# The sensitivity analyses (config sensitivity.analyses) and the change-score
# correlations every study is harmonised with again for them (in the extraction jobs,
# which alone read the study files).
SENSITIVITY = config["sensitivity"]["analyses"]
SENSITIVITY_CORRELATIONS = sorted(
    {
        float(r)
        for entry in SENSITIVITY
        for r in entry.get("change_score_correlation", [])
    }
)
# One extraction job per study file; the files are listed, not read, to build the DAG.
STUDIES = sorted(path.stem for path in EXTRACTION_DIR.glob("*.yaml"))


wildcard_constraints:
    export="|".join(map(re.escape, EXPORTS)),
    instrument="|".join(map(re.escape, INSTRUMENTS)),
    timepoint="|".join(map(re.escape, TIMEPOINTS)),
    study="|".join(map(re.escape, STUDIES)) or "(?!)",


def stage_config(*keys):
    """The config sections a stage reads, hashed: in ``params`` so that changing
    them reruns the stage, and stored in its outputs as provenance."""
    return config_hash({key: config.get(key) for key in keys})


CODE = {
    "import": code_hash("importers"),
    "dedup": code_hash("dedup"),
    "screening": code_hash("screening"),
    "extraction": code_hash("extraction"),
    "pooling": code_hash("group"),
    "sensitivity": code_hash("group_sensitivity"),
    "analyses": code_hash("group_analyses"),
    "sensitivity_analyses": code_hash("sensitivity_analyses"),
    "correlations": code_hash("correlations"),
    "figures": code_hash("figures"),
    "provenance": code_hash("provenance_map"),
    "appraisal": code_hash("appraisal"),
}


# Input functions ------------------------------------------------------------------------


def export_path(wildcards):
    return config["searches"][wildcards.export]["path"]


def records_tables(wildcards=None):
    return expand("results/records/{export}.parquet", export=EXPORTS)


def dedup_decisions(wildcards):
    path = config["dedup"]["decisions"]
    return [path] if Path(path).exists() else []


def rob_file(wildcards):
    """A study's risk-of-bias file (config ``risk_of_bias.directory``), read by its
    ``assess_study`` job only."""
    folder = Path(config["risk_of_bias"]["directory"])
    return (folder / f"{wildcards.study}.yaml").as_posix()


def assessed_studies(studies):
    """The studies of ``studies`` that have a risk-of-bias file (none when the folder
    is missing: every study is then ``not assessed``)."""
    folder = Path(config["risk_of_bias"]["directory"])
    return [s for s in studies if (folder / f"{s}.yaml").exists()]


def rob_tables(wildcards=None):
    """The checked judgements of every study with a risk-of-bias file."""
    return expand(
        "results/appraisal/rob/{study}.parquet", study=assessed_studies(STUDIES)
    )


def unmatched_rob_files():
    """Risk-of-bias files named for no extraction study (an error of the table job)."""
    folder = Path(config["risk_of_bias"]["directory"])
    return sorted(p.as_posix() for p in folder.glob("*.yaml") if p.stem not in STUDIES)


def group_rob_tables(wildcards):
    """The checked judgements of a group's studies (those with a risk-of-bias file)."""
    studies = groups()[(wildcards.instrument, wildcards.timepoint)]
    return expand(
        "results/appraisal/rob/{study}.parquet", study=assessed_studies(studies)
    )


def grade_decisions(wildcards):
    path = config["grade"]["decisions"]
    return [path] if Path(path).exists() else []


def screening_files(key):
    """The files of ``screening.<key>`` the screening job reads: srma's decisions file
    (when named), the exports of the screening tool (when screening.tool names one)."""
    screening = config["screening"]
    if key == "decisions":
        path = screening["decisions"].strip()
        return [path] if path else []
    return list(screening[key]) if screening["tool"] != "srma" else []


def study_tables(wildcards=None):
    return expand("results/extraction/{study}.parquet", study=STUDIES)


def excluded_tables(wildcards=None):
    return expand("results/extraction/excluded/{study}.parquet", study=STUDIES)


def correlation_tables(wildcards=None):
    return expand("results/extraction/correlations/{study}.parquet", study=STUDIES)


def groups():
    """(instrument, timepoint) -> the studies whose tables report it, as the checkpoint
    ``study_groups`` wrote them after every study was extracted. Which pooling jobs
    exist depends on what the study files hold, and only the extraction job reads a
    study file: the checkpoint hands its result to the DAG (Snakemake re-evaluates the
    input functions below once it has run), so a study file is parsed once, and a file
    that fails extraction stops the run before any pooling job is scheduled."""
    path = checkpoints.study_groups.get().output.groups
    with open(path, encoding="utf-8") as f:
        return {(g["instrument"], g["timepoint"]): g["studies"] for g in json.load(f)}


def group_study_tables(wildcards):
    """The extraction tables of a group's studies."""
    studies = groups()[(wildcards.instrument, wildcards.timepoint)]
    return expand("results/extraction/{study}.parquet", study=studies)


def group_per_correlation_tables(wildcards):
    """The extraction rows of a group's studies harmonised per change-score
    correlation of the sensitivity analyses."""
    studies = groups()[(wildcards.instrument, wildcards.timepoint)]
    return expand("results/extraction/per_correlation/{study}.parquet", study=studies)


def binary_pooling(instrument):
    """What a binary instrument changes of the ``pooling`` section: ``outcome:
    binary``, its ``measure`` (default OR) and ``method`` (default pooling.method);
    nothing for a continuous one."""
    spec = INSTRUMENTS[instrument]
    if spec.get("type", "continuous") != "binary":
        return {}
    return {
        "outcome": "binary",
        "measure": spec.get("measure", "OR"),
        "method": spec.get("method", config["pooling"]["method"]),
    }


def group_pooling(wildcards):
    """The pooling settings of a group: the config's ``pooling`` section, as it is for
    a continuous instrument (:func:`binary_pooling` otherwise)."""
    return {**config["pooling"], **binary_pooling(wildcards.instrument)}


def pooled_tables(wildcards=None):
    return [f"results/pooled/{i}/{t}.parquet" for i, t in groups()]


def ordered_pooled_tables(wildcards=None):
    """The pooled tables of every group, in the config's order of instruments and
    timepoints (the order of :func:`sensitivity_tables`)."""
    return [f"results/pooled/{i}/{t}.parquet" for i, t in ordered_groups()]


def sensitivity_tables(kind):
    """An input function: the ``kind`` tables (leave1out, regtest, trimfill) of every
    group, in the config's order of instruments and timepoints."""

    def tables(wildcards=None):
        order = sorted(
            groups(),
            key=lambda g: (list(INSTRUMENTS).index(g[0]), list(TIMEPOINTS).index(g[1])),
        )
        return [f"results/sensitivity/{kind}/{i}/{t}.parquet" for i, t in order]

    return tables


def analysis_tables(kind, analyses):
    """An input function: the ``kind`` tables (subgroups, meta_regression) of every
    analysis (in the config's order) and group (in the config's order of instruments
    and timepoints)."""

    def tables(wildcards=None):
        return [
            f"results/{kind}/{a}/{i}/{t}.parquet"
            for a in analyses
            for i, t in ordered_groups()
        ]

    return tables


def analysis_report_labels(analyses):
    """``report(labels=...)`` of a subgroup forest or bubble plot (``analyses``: the
    config's subgroup analyses or meta-regressions): the analysis's label and the
    group."""

    def labels(wildcards):
        spec = analyses[wildcards.analysis]
        name = (
            spec.get("label")
            or spec.get("by")
            or " + ".join(spec.get("moderators", []))
        )
        return {"analysis": f"{name}: {group_report_label(wildcards)}"}

    return labels


def analysis_outputs():
    """The tables and figures of the config's subgroup analyses and meta-regressions
    (none when the config has none)."""
    out = []
    if SUBGROUPS:
        out.append("results/tables/subgroups.csv")
    if META_REGRESSIONS:
        out.append("results/tables/meta_regression.csv")
    for kind, analyses in (("subgroups", SUBGROUPS), ("bubble", META_REGRESSIONS)):
        out += [
            f"results/figures/{kind}/{a}/{i}_{t}.svg"
            for a in analyses
            for i, t in ordered_groups()
        ]
    return out


def review_labels():
    """What the review calls its arms, its outcome's unit and its effect (config
    ``review`` and ``pooling.measure``): figures take every domain word from here."""
    review = config.get("review", {})
    return {
        "intervention": review.get("intervention", "intervention"),
        "comparator": review.get("comparator", "control"),
        "measure": config["pooling"]["measure"],
        "unit": review.get("unit", ""),
        "measure_label": review.get("measure_label"),
        "favours_negative": review.get("lower_is_better", True),
    }


def figure_labels(wildcards):
    """Titles, arm names, unit and effect axis for the figures of one group."""
    return {
        "instrument_label": INSTRUMENTS[wildcards.instrument]["label"],
        "timepoint_label": TIMEPOINTS[wildcards.timepoint].get(
            "label", wildcards.timepoint
        ),
        **review_labels(),
        **binary_labels(wildcards.instrument),
    }


#: Axis labels of the binary measures on the scale they are pooled on (leave-one-out
#: and funnel plots; the forest plot draws ratios back-transformed on a log axis).
POOLED_SCALE = {"OR": "Log odds ratio", "RR": "Log risk ratio", "RD": "Risk difference"}


def binary_labels(instrument):
    """A binary instrument's effect for its figures: its own measure, the axis named
    after it (review.measure_label names the continuous instruments' effect)."""
    binary = binary_pooling(instrument)
    if not binary:
        return {}
    return {
        "measure": binary["measure"],
        "measure_label": POOLED_SCALE[binary["measure"]],
    }


def results_labels():
    """What the results page says (:func:`srma.figures.results.results_page`): the
    figures' words, the labels of every instrument and timepoint, the review's title
    and outcome, the confidence level and the fewest studies pooled."""
    review = config.get("review", {})
    return {
        **review_labels(),
        "instrument_labels": {key: spec["label"] for key, spec in INSTRUMENTS.items()},
        "timepoint_labels": {
            key: spec.get("label", key) for key, spec in TIMEPOINTS.items()
        },
        "outcome_label": review.get("outcome_label", "the outcome"),
        "title": review.get("title", "Systematic review and meta-analysis"),
        "level": config["pooling"]["level"],
        "min_studies": config["pooling"]["min_studies"],
    }


def sof_labels():
    """The summary of findings' words: outcome labels, unit, title and the review's
    question (population, arms) as its first note."""
    review = config.get("review", {})
    labels = results_labels()
    question = [
        f"{name}: {review[key]}"
        for key, name in (
            ("population", "Population"),
            ("intervention", "Intervention"),
            ("comparator", "Comparison"),
        )
        if review.get(key)
    ]
    return {
        "instrument_labels": labels["instrument_labels"],
        "timepoint_labels": labels["timepoint_labels"],
        "unit": labels["unit"],
        "title": f"Summary of findings: {labels['title']}",
        "notes": ["; ".join(question)] if question else [],
    }


def ordered_groups():
    """The groups in the config's order of instruments and timepoints: the order of
    ``pooled.csv`` and of the results page, whose numbers the report's figures carry."""
    return sorted(
        groups(),
        key=lambda g: (list(INSTRUMENTS).index(g[0]), list(TIMEPOINTS).index(g[1])),
    )


def group_report_label(wildcards):
    """How the report lists a group's figure: its number on the results page, then the
    config's labels of its instrument and timepoint, e.g. ``03. Length of stay, 12
    weeks``. One label only: Snakemake's report turns a second label whose two values
    split the figures in halves into a toggle switch."""
    order = ordered_groups()
    key = (wildcards.instrument, wildcards.timepoint)
    number = f"{order.index(key) + 1:0{len(str(len(order)))}d}"
    instrument = INSTRUMENTS[key[0]]["label"]
    timepoint = TIMEPOINTS[key[1]].get("label", key[1])
    return f"{number}. {instrument}, {timepoint}"


def figure_report_labels(wildcards):
    """``report(labels=...)`` of a leave-one-out or funnel plot."""
    return {"outcome, time point": group_report_label(wildcards)}


def forest_report_labels(wildcards, input):
    """``report(labels=...)`` of a forest plot: the group and its result (read from the
    pooled table when the report is made), e.g. ``... 12 weeks: pooled, 3 studies`` or
    ``...: no usable data``."""
    import pyarrow.parquet as pq

    from srma.figures.results import status_text

    table = pq.read_table(input.pooled, columns=["row_type", "usable", "status"])
    rows = table.to_pandas()
    studies = rows[rows["row_type"] == "study"]
    k = int(studies["usable"].fillna(False).astype(bool).sum())
    status = str(rows["status"].iat[0]) if len(rows) else "no usable data"
    result = status_text(status, k, config["pooling"]["min_studies"])
    return {"outcome, time point": f"{group_report_label(wildcards)}: {result}"}


def group_figures(kind, min_studies=0):
    """Figures of ``kind`` for the groups reported by at least ``min_studies`` studies
    (a group whose studies turn out not to be usable gets a figure that says so)."""
    return [
        f"results/figures/{kind}/{i}_{t}.svg"
        for (i, t), studies in groups().items()
        if len(studies) >= min_studies
    ]


#: What a run gives before screening: the records to screen and what needs a person.
TO_SCREEN = [
    "results/records/counts.csv",
    "results/dedup/unique.ris",
    "results/dedup/uncertain.csv",
    "results/dedup/untitled.csv",
]

#: What a run gives that does not depend on which groups the studies report.
REVIEW_OUTPUTS = [
    *TO_SCREEN,
    "results/prisma/counts.json",
    "results/extraction/excluded.csv",
    "results/tables/correlations.csv",
    "results/tables/correlations_pooled.csv",
    "results/figures/prisma.svg",
    "results/figures/heatmap.svg",
    "results/tables/risk_of_bias.csv",
    "results/figures/rob/traffic_light.svg",
    "results/figures/rob/summary.svg",
]


def review_outputs(wildcards):
    """What a run gives that does not depend on which groups the studies report (the
    study tables by name, so that a deleted one is written again)."""
    return [*REVIEW_OUTPUTS, *study_tables()]


def group_outputs(wildcards):
    """What a run gives per instrument x timepoint group, and what reads every group."""
    return [
        "results/tables/pooled.csv",
        "results/tables/sensitivity.csv",
        "results/tables/sensitivity_high_risk.csv",
        *(["results/tables/sensitivity_analyses.csv"] if SENSITIVITY else []),
        "results/tables/summary_of_findings.csv",
        "results/report/results.html",
        *group_figures("forest"),
        *group_figures("leave1out", FIGURES["leave1out_min_studies"]),
        *group_figures("funnel", FIGURES["funnel_min_studies"]),
        "results/provenance.json",
        *analysis_outputs(),
    ]
