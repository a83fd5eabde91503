# Stage 1: every search export -> one normalised records table.


rule import_export:
    input:
        export_file=export_path,
    output:
        records="results/records/{export}.parquet",
    log:
        "logs/import/{export}.log",
    params:
        database=lambda wc: config["searches"][wc.export].get("database"),
        fmt=lambda wc: config["searches"][wc.export].get("format"),
        sheet=lambda wc: config["searches"][wc.export].get("sheet"),
        config_hash=lambda wc: config_hash(config["searches"][wc.export]),
        code=CODE["import"],
    run:
        run_stage(stages.import_export, input, output, params, wildcards, log=log)


rule import_counts:
    input:
        records=records_tables,
    output:
        counts=report(
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
        run_stage(stages.import_counts, input, output, params, log=log)
