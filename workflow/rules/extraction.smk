# Stage 4: one extraction file per study -> validated, harmonised arm-level rows.
#
# Studies are extracted in fixed batches (srma.extraction.dag: a study's batch follows
# from its id), each batch a rule of its own because a rule's outputs cannot vary with a
# wildcard's value. Every study gets its own table, results/extraction/<study>.parquet,
# declared as an output only while it is missing (common.smk says why); a batch's
# correlation rows, excluded rows and extraction files (path, SHA-256) go to one file
# each per batch, which stage 6, excluded.csv and provenance.json read (32 files, not
# 1,000 each).

for batch, batch_studies in BATCHES.items():

    rule:
        name:
            f"extract_batch_{batch}"
        input:
            study_files=[STUDY_FILES[study] for study in batch_studies],
        output:
            correlations=f"results/correlations/batches/{batch}.parquet",
            excluded=f"results/extraction/excluded/{batch}.parquet",
            sources=f"results/extraction/sources/{batch}.json",
            # Those of the batch's study tables that are missing now (common.smk);
            # the job writes them all (params.tables).
            missing_tables=MISSING_STUDY_TABLES[batch],
        log:
            f"logs/extraction/batch_{batch}.log",
        group:
            "extraction"
        params:
            tables=[study_table(study) for study in batch_studies],
            settings=EXTRACTION_SETTINGS,
            config_hash=config_hash(EXTRACTION_SETTINGS),
            code=CODE["extraction"],
        run:
            run_stage(stages.extract_studies, input, output, params, log=log)


# One study's table on request (`snakemake results/extraction/<study>.parquet`, with -f
# to extract it again): a batch declares a table only while it is missing, and for
# those Snakemake prefers the batch (a rule without wildcards) to this one.
rule study_table:
    input:
        study_file=study_file,
    output:
        table=study_table("{study}"),
    log:
        "logs/extraction/study_{study}.log",
    wildcard_constraints:
        study="[^/]+",
    params:
        settings=EXTRACTION_SETTINGS,
        config_hash=config_hash(EXTRACTION_SETTINGS),
        code=CODE["extraction"],
    run:
        run_stage(stages.extract_study_table, input, output, params, log=log)


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
