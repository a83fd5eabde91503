# Stage 7: forest plots, PRISMA flow diagram, correlation heatmap.


rule forest:
    input:
        "results/pooled/{instrument}/{timepoint}.parquet",
    output:
        svg=report(
            "results/figures/forest/{instrument}_{timepoint}.svg",
            caption="../report/forest.rst",
            category="4. Meta-analysis",
            subcategory="Forest plots",
            labels={"instrument": "{instrument}", "timepoint": "{timepoint}"},
        ),
        png="results/figures/forest/{instrument}_{timepoint}.png",
    log:
        "logs/figures/forest_{instrument}_{timepoint}.log",
    params:
        instrument_label=lambda wc: INSTRUMENTS[wc.instrument]["label"],
        timepoint_label=lambda wc: TIMEPOINTS[wc.timepoint].get("label", wc.timepoint),
        intervention=config["review"]["intervention"],
        comparator=config["review"]["comparator"],
        measure=config["pooling"]["measure"],
        code=CODE["figures"],
    run:
        with job_log(log[0]):
            stages.forest(
                input[0],
                svg=output.svg,
                png=output.png,
                instrument_label=params.instrument_label,
                timepoint_label=params.timepoint_label,
                intervention=params.intervention,
                comparator=params.comparator,
                measure=params.measure,
            )


rule prisma_diagram:
    input:
        "results/prisma/counts.json",
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
        with job_log(log[0]):
            stages.prisma(input[0], svg=output.svg, png=output.png)


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
        code=CODE["figures"],
    run:
        with job_log(log[0]):
            stages.heatmap(
                input.table,
                input.pooled,
                svg=output.svg,
                png=output.png,
                clinical_measures=params.clinical_measures,
            )
