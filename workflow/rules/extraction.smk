# Stage 4: one extraction file per study -> validated, harmonised arm-level rows.


rule extract_study:
    input:
        study_file=EXTRACTION_DIR / "{study}.yaml",
    output:
        rows="results/extraction/{study}.parquet",
        correlations="results/correlations/studies/{study}.parquet",
    log:
        "logs/extraction/{study}.log",
    params:
        settings=EXTRACTION_SETTINGS,
        config_hash=config_hash(EXTRACTION_SETTINGS),
        code=CODE["extraction"],
    run:
        run_stage(stages.extract_study, input, output, params, wildcards, log=log)


rule extraction_excluded:
    input:
        rows=extraction_tables,
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
