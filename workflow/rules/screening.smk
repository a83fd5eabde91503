# Stage 3: screening decisions -> status of every cluster and PRISMA 2020 counts.

from srma.errors import SrmaError
from srma.screening_tools import check_screening

# The decisions come from srma's decisions file (screening.tool: srma) or from the
# exports of a screening tool (asreview, rayyan, covidence: screening.title_abstract,
# screening.full_text), with srma's file beside them when it is named. The files are
# small: they are checked when the workflow starts (columns, values, duplicates, and the
# study files their included reports name), so that a bad file stops the run before any
# job runs (a job that fails loses its earlier outputs). An included study without an
# extraction file, or a study file no included report names, stops the run there too.
# Matching the exports' rows to the deduplicated records needs those records: the
# screening job does it.
try:
    check_screening(config["screening"], STUDIES, config["extraction"]["directory"])
except SrmaError as err:
    raise err.with_traceback(None) from None


rule screening:
    input:
        unique="results/dedup/unique.parquet",
        clusters="results/dedup/clusters.parquet",
        records=records_tables,
        decisions_file=screening_files("decisions"),
        title_abstract=screening_files("title_abstract"),
        full_text=screening_files("full_text"),
    output:
        decisions="results/screening/decisions.parquet",
        counts="results/prisma/counts.json",
    log:
        "logs/screening/screening.log",
    params:
        config_hash=stage_config("searches", "dedup", "screening"),
        code=CODE["screening"],
        tool=config["screening"]["tool"],
    run:
        # The study ids (not a param: adding a study file does not rerun screening).
        run_stage(
            stages.screen,
            input,
            output,
            params,
            {
                "study_ids": STUDIES,
                "extraction_dir": config["extraction"]["directory"],
            },
            log=log,
        )
