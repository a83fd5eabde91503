# Stage 4: one extraction file per study -> validated, harmonised arm-level rows.


rule extract_study:
    input:
        EXTRACTION_DIR / "{study}.yaml",
    output:
        rows="results/extraction/{study}.parquet",
        correlations="results/correlations/studies/{study}.parquet",
    log:
        "logs/extraction/{study}.log",
    params:
        config_hash=stage_config("instruments", "timepoints", "extraction"),
        code=CODE["extraction"],
    run:
        with job_log(log[0]):
            stages.extract_study(
                input[0],
                config,
                out=output.rows,
                correlations_out=output.correlations,
                config_hash=params.config_hash,
            )


rule extraction_excluded:
    input:
        extraction_tables,
    output:
        report(
            "results/extraction/excluded.csv",
            caption="../report/excluded.rst",
            category="3. Extraction",
        ),
    log:
        "logs/extraction/excluded.log",
    params:
        config_hash=stage_config("instruments", "timepoints", "extraction"),
        code=CODE["extraction"],
    run:
        with job_log(log[0]):
            stages.extraction_excluded(
                input, output[0], config_hash=params.config_hash
            )
