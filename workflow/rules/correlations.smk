# Stage 6: correlations between MRI change and clinical measures, tabulated and pooled.


rule correlations:
    input:
        correlation_tables,
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
        with job_log(log[0]):
            stages.correlations(
                input,
                table_out=output.table,
                pooled_out=output.pooled,
                min_studies=params.min_studies,
                config_hash=params.config_hash,
            )
