# Stage 5: pool each instrument x timepoint group (metafor-equivalent engine).


rule pool_group:
    input:
        group_extraction,
    output:
        "results/pooled/{instrument}/{timepoint}.parquet",
    log:
        "logs/pooling/{instrument}_{timepoint}.log",
    params:
        pooling=config["pooling"],
        config_hash=stage_config("pooling"),
        code=CODE["pooling"],
    run:
        with job_log(log[0]):
            stages.pool_group(
                input,
                output[0],
                instrument=wildcards.instrument,
                timepoint=wildcards.timepoint,
                pooling=params.pooling,
                config_hash=params.config_hash,
            )


rule pooled_table:
    input:
        pooled_tables,
    output:
        report(
            "results/tables/pooled.csv",
            caption="../report/pooled.rst",
            category="4. Meta-analysis",
        ),
    log:
        "logs/pooling/pooled_table.log",
    params:
        config_hash=stage_config("pooling"),
        code=CODE["pooling"],
    run:
        with job_log(log[0]):
            stages.pooled_table(input, output[0], config_hash=params.config_hash)
