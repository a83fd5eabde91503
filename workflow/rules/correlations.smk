# Stage 6: correlations between outcome and clinical measures, tabulated and pooled.


rule correlations:
    input:
        rows=correlation_tables,
    output:
        table=report(
            "results/tables/correlations.csv",
            caption="../report/correlations.rst",
            category="5. Correlations",
        ),
        pooled=report(
            "results/tables/correlations_pooled.csv",
            caption="../report/correlations_pooled.rst",
            category="5. Correlations",
        ),
    log:
        "logs/correlations/correlations.log",
    params:
        min_studies=config["correlations"]["min_studies"],
        config_hash=stage_config("correlations"),
        code=CODE["correlations"],
    run:
        run_stage(stages.correlations, input, output, params, log=log)
