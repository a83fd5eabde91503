# Stage 8: appraisal. Risk of bias per study (one file per study in the config's
# risk_of_bias.directory, docs/risk-of-bias.md), its figures, each group without its
# studies at high risk, and the certainty of evidence per group (GRADE) in the
# summary-of-findings table.

# A review without risk-of-bias files yet (a new review: srma init leaves the folder
# empty) still runs: its studies are "not assessed" in risk_of_bias.csv, the figures
# and the summary of findings. Said here, on every run, not only in a job's log.
_ROB_DIR = Path(config["risk_of_bias"]["directory"])
_NOT_ASSESSED = [s for s in STUDIES if not (_ROB_DIR / f"{s}.yaml").exists()]
if _NOT_ASSESSED:
    print(
        f"srma: {len(_NOT_ASSESSED)} of {len(STUDIES)} studies have no risk-of-bias file "
        f"in {_ROB_DIR.as_posix()}/ (not assessed): {', '.join(_NOT_ASSESSED[:5])}"
        + (", ..." if len(_NOT_ASSESSED) > 5 else "")
        + ". Write one file per study (how: "
        + (
            f"{_ROB_DIR.as_posix()}/README.md"
            if (_ROB_DIR / "README.md").exists()
            else "docs/risk-of-bias.md of srma"
        )
        + "); until then GRADE's risk of bias is not judged for the outcomes they "
        "report.",
        file=sys.stderr,
    )

# What the risk-of-bias files are checked against: the config's instruments and
# timepoints (outcome entries name them).
ROB_SETTINGS = {"instruments": list(INSTRUMENTS), "timepoints": list(TIMEPOINTS)}


# One job per risk-of-bias file, the only one that reads it: its rows of the
# risk-of-bias table, checked against the config and the study's design.
rule assess_study:
    input:
        rob_file=rob_file,
        study_table="results/extraction/{study}.parquet",
    output:
        table="results/appraisal/rob/{study}.parquet",
    log:
        "logs/appraisal/rob/{study}.log",
    params:
        settings=ROB_SETTINGS,
        config_hash=config_hash(ROB_SETTINGS),
        code=CODE["appraisal"],
    run:
        run_stage(stages.assess_study, input, output, params, log=log)


rule risk_of_bias_table:
    input:
        judgements=rob_tables,
        studies=study_tables,
    output:
        table=report(
            "results/tables/risk_of_bias.csv",
            caption="../report/risk_of_bias.rst",
            category="6. Appraisal",
            subcategory="1. Risk of bias",
            labels={"table": "risk_of_bias.csv: every judgement (download)"},
        ),
        paragraph="results/report/risk_of_bias.html",
    log:
        "logs/appraisal/risk_of_bias_table.log",
    params:
        directory=config["risk_of_bias"]["directory"],
        unmatched=unmatched_rob_files(),
        config_hash=stage_config("risk_of_bias"),
        code=CODE["appraisal"],
    run:
        run_stage(stages.risk_of_bias_table, input, output, params, log=log)


rule rob_figures:
    input:
        table="results/tables/risk_of_bias.csv",
        paragraph="results/report/risk_of_bias.html",
    output:
        traffic_light_svg=report(
            "results/figures/rob/traffic_light.svg",
            caption="../report/rob_traffic_light.rst",
            category="6. Appraisal",
            subcategory="1. Risk of bias",
            labels={"table": "RoB 2: traffic-light plot"},
        ),
        traffic_light_png="results/figures/rob/traffic_light.png",
        summary_svg=report(
            "results/figures/rob/summary.svg",
            caption="../report/rob_summary.rst",
            category="6. Appraisal",
            subcategory="1. Risk of bias",
            labels={"table": "RoB 2: summary"},
        ),
        summary_png="results/figures/rob/summary.png",
        robins_i_traffic_light_svg=report(
            "results/figures/rob/traffic_light_robins_i.svg",
            caption="../report/rob_traffic_light.rst",
            category="6. Appraisal",
            subcategory="1. Risk of bias",
            labels={"table": "ROBINS-I: traffic-light plot"},
        ),
        robins_i_traffic_light_png="results/figures/rob/traffic_light_robins_i.png",
        robins_i_summary_svg=report(
            "results/figures/rob/summary_robins_i.svg",
            caption="../report/rob_summary.rst",
            category="6. Appraisal",
            subcategory="1. Risk of bias",
            labels={"table": "ROBINS-I: summary"},
        ),
        robins_i_summary_png="results/figures/rob/summary_robins_i.png",
    log:
        "logs/appraisal/rob_figures.log",
    params:
        code=[CODE["appraisal"], CODE["figures"]],
    run:
        run_stage(stages.rob_figures, input, output, params, log=log)


rule high_risk_sensitivity:
    input:
        pooled="results/pooled/{instrument}/{timepoint}.parquet",
        judgements=group_rob_tables,
    output:
        high_risk="results/sensitivity/high_risk/{instrument}/{timepoint}.parquet",
    log:
        "logs/appraisal/high_risk_{instrument}_{timepoint}.log",
    params:
        min_studies=config["pooling"]["min_studies"],
        config_hash=stage_config("pooling", "risk_of_bias"),
        code=CODE["appraisal"],
    run:
        run_stage(
            stages.high_risk_sensitivity, input, output, params, wildcards, log=log
        )


rule high_risk_table:
    input:
        tables=sensitivity_tables("high_risk"),
    output:
        table=report(
            "results/tables/sensitivity_high_risk.csv",
            caption="../report/sensitivity_high_risk.rst",
            category="4. Meta-analysis",
            subcategory="5. Sensitivity analyses",
            labels={
                "table": "sensitivity_high_risk.csv: without studies at high risk of bias"
            },
        ),
    log:
        "logs/appraisal/high_risk_table.log",
    params:
        config_hash=stage_config("pooling", "risk_of_bias"),
        code=CODE["appraisal"],
    run:
        run_stage(stages.high_risk_table, input, output, params, log=log)


rule summary_of_findings:
    input:
        pooled=ordered_pooled_tables,
        regtest=sensitivity_tables("regtest"),
        high_risk=sensitivity_tables("high_risk"),
        rob="results/tables/risk_of_bias.csv",
        decisions=grade_decisions,
    output:
        csv=report(
            "results/tables/summary_of_findings.csv",
            caption="../report/summary_of_findings.rst",
            category="6. Appraisal",
            subcategory="2. Certainty of evidence",
            labels={"table": "summary_of_findings.csv (download)"},
        ),
        docx=report(
            "results/tables/summary_of_findings.docx",
            caption="../report/summary_of_findings.rst",
            category="6. Appraisal",
            subcategory="2. Certainty of evidence",
            labels={"table": "summary_of_findings.docx: Word (download)"},
        ),
        html=report(
            "results/report/summary_of_findings.html",
            caption="../report/summary_of_findings.rst",
            category="6. Appraisal",
            subcategory="2. Certainty of evidence",
            labels={"table": "Summary of findings (GRADE)"},
        ),
        paragraph="results/report/appraisal.html",
    log:
        "logs/appraisal/summary_of_findings.log",
    params:
        grade=config["grade"],
        settings=ROB_SETTINGS,
        labels=sof_labels(),
        config_hash=stage_config("pooling", "risk_of_bias", "grade"),
        code=CODE["appraisal"],
    run:
        run_stage(stages.summary_of_findings, input, output, params, log=log)
