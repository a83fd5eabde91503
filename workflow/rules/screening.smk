# Stage 3: screening decisions -> status of every cluster and PRISMA 2020 counts.


rule screening:
    input:
        unique="results/dedup/unique.parquet",
        clusters="results/dedup/clusters.parquet",
        records=records_tables,
        decisions=config["screening"]["decisions"],
    output:
        decisions="results/screening/decisions.parquet",
        counts="results/prisma/counts.json",
    log:
        "logs/screening/screening.log",
    params:
        config_hash=stage_config("searches", "dedup", "screening"),
        code=CODE["screening"],
    run:
        with job_log(log[0]):
            stages.screen(
                input.unique,
                input.clusters,
                input.records,
                input.decisions,
                decisions_out=output.decisions,
                counts_out=output.counts,
                config_hash=params.config_hash,
            )
