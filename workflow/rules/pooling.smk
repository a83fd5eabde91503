# Stage 5: pool each instrument x timepoint group (metafor-equivalent engine).


rule pool_group:
    input:
        study_files=group_study_files,
    output:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
    log:
        "logs/pooling/{instrument}_{timepoint}.log",
    params:
        pooling=config["pooling"],
        settings=EXTRACTION_SETTINGS,
        config_hash=stage_config("pooling", *EXTRACTION_SETTINGS),
        code=CODE["pooling"] + CODE["extraction"],
    run:
        run_stage(stages.pool_group, input, output, params, wildcards, log=log)


rule pooled_table:
    input:
        pooled=pooled_tables,
    output:
        table=report(
            "results/tables/pooled.csv",
            caption="../report/pooled.rst",
            category="4. Meta-analysis",
        ),
    log:
        "logs/pooling/pooled_table.log",
    params:
        order={"instrument": list(INSTRUMENTS), "timepoint": list(TIMEPOINTS)},
        config_hash=stage_config("pooling"),
        code=CODE["pooling"],
    run:
        run_stage(stages.pooled_table, input, output, params, log=log)
