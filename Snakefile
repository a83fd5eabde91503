# srma: from systematic-review search exports to pooled meta-analyses and figures.
#
# This file is the workflow. Run here, it runs the bundled review (config/config.yaml,
# resources/):
#
#   snakemake --cores 4                              run the review
#   snakemake --report results/report.html           gather figures and tables in one page
#
# A review of your own lives in a folder of its own, made by `srma init DIR`: DIR holds
# its config, its inputs and what its runs write, and DIR/Snakefile uses this workflow as
# a Snakemake module (see README, "Your own review").
#
# Stages, one file each in workflow/rules/: import, deduplicate, screening, extraction,
# pooling, analyses (subgroups, meta-regression), correlations, figures, appraisal. All logic is in the srma package (workflow/srma).

import os
import sys
from pathlib import Path

from snakemake.utils import min_version

# The srma package beside this file first (as in workflow/rules/common.smk), so that
# the code a run records and runs is this checkout's, installed or not.
sys.path.insert(0, str(Path(str(workflow.current_basedir)) / "workflow"))

from srma.config import check_config_files
from srma.errors import SrmaError

min_version("9.0")


# Snakemake's own reader stops on a config file that is not UTF-8 or holds a custom
# YAML tag without naming the file or the line: srma's check of the file comes first.
try:
    check_config_files([p for p in ["config/config.yaml"] if os.path.isfile(p)])
except SrmaError as err:
    raise err.with_traceback(None) from None


# Read when this file is run itself; a review folder's Snakefile passes its own config
# to the module (`config: config`), and Snakemake then skips this line.
configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/deduplicate.smk"


# Until the config names a screening decisions file (a new review: srma init leaves
# screening.decisions empty), a run imports and deduplicates the searches only:
# results/dedup/unique.ris is what to screen.
if SCREENED:

    include: "workflow/rules/screening.smk"
    include: "workflow/rules/extraction.smk"
    include: "workflow/rules/pooling.smk"
    include: "workflow/rules/analyses.smk"
    include: "workflow/rules/correlations.smk"
    include: "workflow/rules/figures.smk"
    include: "workflow/rules/appraisal.smk"
    include: "workflow/rules/provenance.smk"

    # Light jobs that read many small files run where Snakemake runs, also on a cluster.
    localrules:
        all,
        import_counts,
        study_groups,
        extraction_excluded,
        pooled_table,
        sensitivity_table,
        subgroups_table,
        meta_regression_table,
        sensitivity_analyses_table,
        risk_of_bias_table,
        high_risk_table,
        summary_of_findings,
        results_page,
        correlations,
        prisma_diagram,
        heatmap,
        provenance,

else:

    localrules:
        all,
        import_counts,

    print(
        "srma: no screening decisions yet (screening.decisions is empty in the config): "
        "this run imports and deduplicates the searches only. Screen the records in "
        "results/dedup/unique.ris, write the decisions to a file (e.g. "
        "resources/screening/decisions.csv), name it in screening.decisions and run again.",
        file=sys.stderr,
    )


rule all:
    default_target: True
    input:
        review_outputs if SCREENED else TO_SCREEN,
        group_outputs if SCREENED else [],
