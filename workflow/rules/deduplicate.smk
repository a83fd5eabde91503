# Stage 2: duplicates across databases -> clusters and one record per cluster.


rule deduplicate:
    input:
        records=records_tables,
        decisions=dedup_decisions,
    output:
        clusters="results/dedup/clusters.parquet",
        unique="results/dedup/unique.parquet",
        ris="results/dedup/unique.ris",
        uncertain=report(
            "results/dedup/uncertain.csv",
            caption="../report/uncertain.rst",
            category="1. Searches",
        ),
    log:
        "logs/dedup/deduplicate.log",
    params:
        title_threshold=config["dedup"]["title_threshold"],
        uncertain_threshold=config["dedup"]["uncertain_threshold"],
        config_hash=stage_config("searches", "dedup"),
        code=CODE["dedup"],
    run:
        with job_log(log[0]):
            stages.deduplicate(
                input.records,
                input.decisions[0] if input.decisions else None,
                clusters_out=output.clusters,
                unique_out=output.unique,
                ris_out=output.ris,
                uncertain_out=output.uncertain,
                title_threshold=params.title_threshold,
                uncertain_threshold=params.uncertain_threshold,
                config_hash=params.config_hash,
            )
