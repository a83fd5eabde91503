# Stage 5b: the config's subgroup analyses and meta-regressions (analyses.subgroups,
# analyses.meta_regression) of every instrument x timepoint group: a table per analysis
# and group (each subgroup pooled separately and the test for subgroup differences; the
# meta-regression's coefficients and model), all groups in one CSV per kind, a subgroup
# forest plot and a bubble plot per analysis and group. "not estimable" with the reason
# where the data are too thin.


rule subgroup_group:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        tables=group_study_tables,
    output:
        table="results/subgroups/{analysis}/{instrument}/{timepoint}.parquet",
    log:
        "logs/subgroups/{analysis}_{instrument}_{timepoint}.log",
    wildcard_constraints:
        analysis=SUBGROUP_PATTERN,
    params:
        spec=lambda wildcards: SUBGROUPS[wildcards.analysis],
        min_studies=config["pooling"]["min_studies"],
        config_hash=stage_config("pooling", "analyses"),
        code=CODE["analyses"],
    run:
        run_stage(stages.subgroup_group, input, output, params, wildcards, log=log)


rule meta_regression_group:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        tables=group_study_tables,
    output:
        table="results/meta_regression/{analysis}/{instrument}/{timepoint}.parquet",
    log:
        "logs/meta_regression/{analysis}_{instrument}_{timepoint}.log",
    wildcard_constraints:
        analysis=REGRESSION_PATTERN,
    params:
        spec=lambda wildcards: META_REGRESSIONS[wildcards.analysis],
        config_hash=stage_config("pooling", "analyses"),
        code=CODE["analyses"],
    run:
        run_stage(
            stages.meta_regression_group, input, output, params, wildcards, log=log
        )


rule subgroups_table:
    input:
        tables=analysis_tables("subgroups", SUBGROUPS),
    output:
        table=report(
            "results/tables/subgroups.csv",
            caption="../report/subgroups.rst",
            category="4. Meta-analysis",
            subcategory="6. Subgroups and meta-regression",
            labels={"table": "subgroups.csv: subgroup analyses"},
        ),
    log:
        "logs/subgroups/subgroups_table.log",
    params:
        kind="subgroups",
        config_hash=stage_config("pooling", "analyses"),
        code=CODE["analyses"],
    run:
        run_stage(stages.analyses_table, input, output, params, log=log)


rule meta_regression_table:
    input:
        tables=analysis_tables("meta_regression", META_REGRESSIONS),
    output:
        table=report(
            "results/tables/meta_regression.csv",
            caption="../report/meta_regression.rst",
            category="4. Meta-analysis",
            subcategory="6. Subgroups and meta-regression",
            labels={"table": "meta_regression.csv: meta-regressions"},
        ),
    log:
        "logs/meta_regression/meta_regression_table.log",
    params:
        kind="meta_regression",
        config_hash=stage_config("pooling", "analyses"),
        code=CODE["analyses"],
    run:
        run_stage(stages.analyses_table, input, output, params, log=log)


rule subgroup_forest:
    input:
        table="results/subgroups/{analysis}/{instrument}/{timepoint}.parquet",
    output:
        svg=report(
            "results/figures/subgroups/{analysis}/{instrument}_{timepoint}.svg",
            caption="../report/subgroup_forest.rst",
            category="4. Meta-analysis",
            subcategory="6. Subgroups and meta-regression",
            labels=analysis_report_labels(SUBGROUPS),
        ),
        png="results/figures/subgroups/{analysis}/{instrument}_{timepoint}.png",
    log:
        "logs/figures/subgroups_{analysis}_{instrument}_{timepoint}.log",
    wildcard_constraints:
        analysis=SUBGROUP_PATTERN,
    params:
        labels=figure_labels,
        code=CODE["figures"],
    run:
        run_stage(stages.subgroup_forest, input, output, params, wildcards, log=log)


rule bubble:
    input:
        table="results/meta_regression/{analysis}/{instrument}/{timepoint}.parquet",
    output:
        svg=report(
            "results/figures/bubble/{analysis}/{instrument}_{timepoint}.svg",
            caption="../report/bubble.rst",
            category="4. Meta-analysis",
            subcategory="6. Subgroups and meta-regression",
            labels=analysis_report_labels(META_REGRESSIONS),
        ),
        png="results/figures/bubble/{analysis}/{instrument}_{timepoint}.png",
    log:
        "logs/figures/bubble_{analysis}_{instrument}_{timepoint}.log",
    wildcard_constraints:
        analysis=REGRESSION_PATTERN,
    params:
        labels=figure_labels,
        code=CODE["figures"],
    run:
        run_stage(stages.bubble, input, output, params, wildcards, log=log)
