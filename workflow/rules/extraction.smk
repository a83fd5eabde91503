# Stage 4: one extraction file per study -> its validated, harmonised rows, its
# correlation rows and its excluded rows; which groups each study reports.


rule extract_study:
    input:
        study_file=EXTRACTION_DIR / "{study}.yaml",
    output:
        table="results/extraction/{study}.parquet",
        correlations="results/extraction/correlations/{study}.parquet",
        excluded="results/extraction/excluded/{study}.parquet",
        per_correlation="results/extraction/per_correlation/{study}.parquet",
    log:
        "logs/extraction/{study}.log",
    params:
        settings=EXTRACTION_SETTINGS,
        sensitivity_correlations=SENSITIVITY_CORRELATIONS,
        config_hash=config_hash(EXTRACTION_SETTINGS),
        code=CODE["extraction"],
    run:
        run_stage(stages.extract_study, input, output, params, log=log)


# The pooling jobs depend on which studies report which group: known once every study
# is extracted (common.smk, groups()).
checkpoint study_groups:
    input:
        tables=study_tables,
    output:
        groups="results/extraction/groups.json",
    log:
        "logs/extraction/study_groups.log",
    params:
        code=CODE["extraction"],
    run:
        run_stage(stages.study_groups, input, output, log=log)


rule extraction_excluded:
    input:
        rows=excluded_tables,
    output:
        excluded=report(
            "results/extraction/excluded.csv",
            caption="../report/excluded.rst",
            category="3. Extraction",
        ),
    log:
        "logs/extraction/excluded.log",
    params:
        config_hash=config_hash(EXTRACTION_SETTINGS),
        code=CODE["extraction"],
    run:
        run_stage(stages.extraction_excluded, input, output, params, log=log)
