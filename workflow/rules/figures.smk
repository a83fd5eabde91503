# Stage 7: forest, leave-one-out and funnel plots, PRISMA flow diagram, heatmap, and the
# report's results page. Every word naming the review's domain comes from the config
# (review, instruments, timepoints, correlations: see common.smk review_labels).


rule forest:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        # The group's studies' checked risk-of-bias judgements, not risk_of_bias.csv:
        # that table is rewritten whenever any study table is, which would redraw every
        # forest plot.
        judgements=group_rob_tables,
    output:
        svg=report(
            "results/figures/forest/{instrument}_{timepoint}.svg",
            caption="../report/forest.rst",
            category="4. Meta-analysis",
            subcategory="2. Forest plots",
            labels=forest_report_labels,
        ),
        png="results/figures/forest/{instrument}_{timepoint}.png",
    log:
        "logs/figures/forest_{instrument}_{timepoint}.log",
    params:
        labels=figure_labels,
        code=[CODE["figures"], CODE["appraisal"]],
    run:
        run_stage(stages.forest, input, output, params, wildcards, log=log)


rule leave1out:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        leave1out="results/sensitivity/leave1out/{instrument}/{timepoint}.parquet",
    output:
        svg=report(
            "results/figures/leave1out/{instrument}_{timepoint}.svg",
            caption="../report/leave1out.rst",
            category="4. Meta-analysis",
            subcategory="3. Leave-one-out",
            labels=figure_report_labels,
        ),
        png="results/figures/leave1out/{instrument}_{timepoint}.png",
    log:
        "logs/figures/leave1out_{instrument}_{timepoint}.log",
    params:
        labels=figure_labels,
        code=CODE["figures"],
    run:
        run_stage(stages.leave1out, input, output, params, wildcards, log=log)


rule funnel:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        regtest="results/sensitivity/regtest/{instrument}/{timepoint}.parquet",
        trimfill="results/sensitivity/trimfill/{instrument}/{timepoint}.parquet",
    output:
        svg=report(
            "results/figures/funnel/{instrument}_{timepoint}.svg",
            caption="../report/funnel.rst",
            category="4. Meta-analysis",
            subcategory="4. Funnel plots",
            labels=figure_report_labels,
        ),
        png="results/figures/funnel/{instrument}_{timepoint}.png",
    log:
        "logs/figures/funnel_{instrument}_{timepoint}.log",
    params:
        labels=figure_labels,
        code=CODE["figures"],
    run:
        run_stage(stages.funnel, input, output, params, wildcards, log=log)


rule prisma_diagram:
    input:
        counts="results/prisma/counts.json",
    output:
        svg=report(
            "results/figures/prisma.svg",
            caption="../report/prisma.rst",
            category="2. Screening",
        ),
        png="results/figures/prisma.png",
    log:
        "logs/figures/prisma.log",
    params:
        code=CODE["figures"],
    run:
        run_stage(stages.prisma, input, output, log=log)


rule heatmap:
    input:
        table="results/tables/correlations.csv",
        pooled="results/tables/correlations_pooled.csv",
    output:
        svg=report(
            "results/figures/heatmap.svg",
            caption="../report/heatmap.rst",
            category="5. Correlations",
        ),
        png="results/figures/heatmap.png",
    log:
        "logs/figures/heatmap.log",
    params:
        clinical_measures=config["correlations"]["clinical_measures"],
        clinical_labels=config["correlations"].get("clinical_labels", {}),
        measure_labels={key: spec["label"] for key, spec in INSTRUMENTS.items()},
        measure_label=config["correlations"].get("measure_label", "Outcome measure"),
        clinical_label=config["correlations"].get("clinical_label", "Clinical measure"),
        code=CODE["figures"],
    run:
        run_stage(stages.heatmap, input, output, params, log=log)


# The results of every group on one page of the report (Snakemake's report shows an HTML
# output in the page; a CSV is only a download), and its summary, which the report's
# first page (workflow/report/workflow.rst) includes.
rule results_page:
    input:
        table="results/tables/pooled.csv",
        pooled=pooled_tables,
        appraisal="results/report/appraisal.html",
        sensitivity=(["results/tables/sensitivity_analyses.csv"] if SENSITIVITY else []),
        subgroups=["results/tables/subgroups.csv"] if SUBGROUPS else [],
        meta_regression=(
            ["results/tables/meta_regression.csv"] if META_REGRESSIONS else []
        ),
    output:
        html=report(
            "results/report/results.html",
            caption="../report/results.rst",
            category="4. Meta-analysis",
            subcategory="1. Results",
            labels={"table": "Results of every outcome and time point"},
        ),
        summary="results/report/summary.html",
    log:
        "logs/figures/results_page.log",
    params:
        labels=results_labels(),
        code=CODE["figures"],
    run:
        run_stage(stages.results_page, input, output, params, log=log)
