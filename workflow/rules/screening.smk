# Stage 3: screening decisions -> status of every cluster and PRISMA 2020 counts.

from srma.errors import InputError
from srma.screening import check_decisions_file

# The decisions file is small: it is checked when the workflow starts (columns, values,
# duplicates, and the study files its included reports name), so that a bad file stops
# the run before any job runs (a job that fails loses its earlier outputs). Included
# studies without an extraction file, and study files no included report names, are
# warnings, here and in the screening job's log.
try:
    _warnings = check_decisions_file(config["screening"]["decisions"], STUDIES)
except InputError as err:
    raise err.with_traceback(None) from None
for _warning in _warnings:
    print(f"srma: warning: {_warning}", file=sys.stderr)


rule screening:
    input:
        unique="results/dedup/unique.parquet",
        clusters="results/dedup/clusters.parquet",
        records=records_tables,
        decisions_file=config["screening"]["decisions"],
    output:
        decisions="results/screening/decisions.parquet",
        counts="results/prisma/counts.json",
    log:
        "logs/screening/screening.log",
    params:
        config_hash=stage_config("searches", "dedup", "screening"),
        code=CODE["screening"],
    run:
        # The study ids (not a param: adding a study file does not rerun screening).
        run_stage(
            stages.screen, input, output, params, {"study_ids": STUDIES}, log=log
        )
