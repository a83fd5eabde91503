# Stage 1: every search export -> one normalised records table.


rule import_export:
    input:
        export_path,
    output:
        "results/records/{export}.parquet",
    log:
        "logs/import/{export}.log",
    params:
        database=lambda wc: config["searches"][wc.export].get("database"),
        fmt=lambda wc: config["searches"][wc.export].get("format"),
        config_hash=lambda wc: config_hash(config["searches"][wc.export]),
        code=CODE["import"],
    run:
        with job_log(log[0]):
            stages.import_export(
                input[0],
                output[0],
                export=wildcards.export,
                database=params.database,
                fmt=params.fmt,
                config_hash=params.config_hash,
            )


rule import_counts:
    input:
        records_tables,
    output:
        report(
            "results/records/counts.csv",
            caption="../report/import_counts.rst",
            category="1. Searches",
        ),
    log:
        "logs/import/counts.log",
    params:
        config_hash=stage_config("searches"),
        code=CODE["import"],
    run:
        with job_log(log[0]):
            stages.import_counts(input, output[0], config_hash=params.config_hash)
