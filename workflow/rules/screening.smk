# Stage 3: screening decisions -> status of every cluster and PRISMA 2020 counts.


rule screening:
    input:
        unique="results/dedup/unique.parquet",
        clusters="results/dedup/clusters.parquet",
        records=records_tables,
        decisions_file=config["screening"]["decisions"],
    output:
        decisions="results/screening/decisions.parquet",
        counts="results/prisma/counts.json",
    log:
        "logs/screening/screening.log",
    params:
        config_hash=stage_config("searches", "dedup", "screening"),
        code=CODE["screening"],
    run:
        run_stage(stages.screen, input, output, params, log=log)
