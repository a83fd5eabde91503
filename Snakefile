# srma: from systematic-review search exports to pooled meta-analyses and figures.
#
#   snakemake --cores 4                              run the review in config/config.yaml
#   snakemake --cores 4 --configfile my/config.yaml  run another review
#   snakemake --report results/report.html           gather figures and tables in one page
#
# Stages, one file each in workflow/rules/: import, deduplicate, screening, extraction,
# pooling, correlations, figures. All logic is in the srma package (workflow/srma).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/deduplicate.smk"
include: "workflow/rules/screening.smk"
include: "workflow/rules/extraction.smk"
include: "workflow/rules/pooling.smk"
include: "workflow/rules/correlations.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/provenance.smk"


# Light jobs that read many small files run where Snakemake runs, also on a cluster.
localrules:
    all,
    import_counts,
    study_groups,
    extraction_excluded,
    pooled_table,
    sensitivity_table,
    results_page,
    correlations,
    prisma_diagram,
    heatmap,
    provenance,


rule all:
    default_target: True
    input:
        review_outputs,
        group_outputs,
