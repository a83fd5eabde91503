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
        untitled="results/dedup/untitled.csv",
    log:
        "logs/dedup/deduplicate.log",
    params:
        title_threshold=config["dedup"]["title_threshold"],
        uncertain_threshold=config["dedup"]["uncertain_threshold"],
        config_hash=stage_config("searches", "dedup"),
        code=CODE["dedup"],
    run:
        run_stage(stages.deduplicate, input, output, params, log=log)
