# Stage 5: pool each instrument x timepoint group (metafor-equivalent engine), then its
# sensitivity analyses: leave-one-out, Egger's test, trim-and-fill.


rule pool_group:
    input:
        tables=group_study_tables,
    output:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
    log:
        "logs/pooling/{instrument}_{timepoint}.log",
    params:
        pooling=group_pooling,
        config_hash=stage_config("pooling"),
        code=CODE["pooling"],
    run:
        run_stage(stages.pool_group, input, output, params, wildcards, log=log)


rule sensitivity_group:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
    output:
        leave1out="results/sensitivity/leave1out/{instrument}/{timepoint}.parquet",
        regtest="results/sensitivity/regtest/{instrument}/{timepoint}.parquet",
        trimfill="results/sensitivity/trimfill/{instrument}/{timepoint}.parquet",
    log:
        "logs/sensitivity/{instrument}_{timepoint}.log",
    params:
        leave1out_min_studies=FIGURES["leave1out_min_studies"],
        small_study_min_studies=FIGURES["funnel_min_studies"],
        config_hash=stage_config("pooling", "figures"),
        code=CODE["sensitivity"],
    run:
        run_stage(stages.sensitivity_group, input, output, params, wildcards, log=log)


rule pooled_table:
    input:
        groups="results/extraction/groups.json",
        pooled=pooled_tables,
    output:
        table=report(
            "results/tables/pooled.csv",
            caption="../report/pooled.rst",
            category="4. Meta-analysis",
            subcategory="1. Results",
            labels={"table": "The same as a table: pooled.csv (download)"},
        ),
    log:
        "logs/pooling/pooled_table.log",
    params:
        order={"instrument": list(INSTRUMENTS), "timepoint": list(TIMEPOINTS)},
        config_hash=stage_config("pooling"),
        code=CODE["pooling"],
    run:
        run_stage(stages.pooled_table, input, output, params, log=log)


rule sensitivity_table:
    input:
        leave1out=sensitivity_tables("leave1out"),
        regtest=sensitivity_tables("regtest"),
        trimfill=sensitivity_tables("trimfill"),
    output:
        table=report(
            "results/tables/sensitivity.csv",
            caption="../report/sensitivity.rst",
            category="4. Meta-analysis",
            subcategory="5. Sensitivity analyses",
            labels={"table": "sensitivity.csv: leave-one-out, Egger, trim-and-fill"},
        ),
    log:
        "logs/sensitivity/sensitivity_table.log",
    params:
        config_hash=stage_config("pooling", "figures"),
        code=code_hash("sensitivity_table"),
    run:
        run_stage(stages.sensitivity_table, input, output, params, log=log)


# The config's sensitivity analyses (sensitivity.analyses: reported values only,
# other change-score correlations, studies excluded by a study-level field,
# leave-one-out), each pooled with the review's model and compared with the main
# result: one table per group, then all groups in one.
rule sensitivity_analyses:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        tables=group_study_tables,
        per_correlation=group_per_correlation_tables,
        leave1out="results/sensitivity/leave1out/{instrument}/{timepoint}.parquet",
    output:
        table="results/sensitivity/analyses/{instrument}/{timepoint}.parquet",
    log:
        "logs/sensitivity/analyses_{instrument}_{timepoint}.log",
    params:
        analyses=SENSITIVITY,
        pooling=group_pooling,
        correlation=config["extraction"]["change_score_correlation"],
        config_hash=stage_config("pooling", "sensitivity", "extraction", "figures"),
        code=CODE["sensitivity_analyses"],
    run:
        run_stage(
            stages.sensitivity_analyses, input, output, params, wildcards, log=log
        )


rule sensitivity_analyses_table:
    input:
        tables=sensitivity_tables("analyses"),
    output:
        table=report(
            "results/tables/sensitivity_analyses.csv",
            caption="../report/sensitivity_analyses.rst",
            category="4. Meta-analysis",
            subcategory="5. Sensitivity analyses",
            labels={
                "table": "sensitivity_analyses.csv: the config's sensitivity analyses"
            },
        ),
    log:
        "logs/sensitivity/sensitivity_analyses_table.log",
    params:
        config_hash=stage_config("pooling", "sensitivity", "extraction", "figures"),
        code=CODE["sensitivity_analyses"],
    run:
        run_stage(stages.sensitivity_analyses_table, input, output, params, log=log)
