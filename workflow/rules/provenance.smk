# results/provenance.json: every pooled number -> study files -> search records.


rule provenance:
    input:
        pooled=pooled_tables,
        study_tables=study_tables,
        clusters="results/dedup/clusters.parquet",
        decisions="results/screening/decisions.parquet",
        correlations_pooled="results/tables/correlations_pooled.csv",
        searches=[config["searches"][export]["path"] for export in EXPORTS],
    output:
        provenance="results/provenance.json",
    log:
        "logs/provenance.log",
    params:
        search_files={export: config["searches"][export]["path"] for export in EXPORTS},
        config_hash=config_hash(config),
        code=CODE["provenance"],
    run:
        run_stage(stages.provenance, input, output, params, log=log)
