"""Binary outcomes in the workflow: events of n per arm in the extraction files, the
instrument's ``type: binary``, ``measure`` and ``method`` in the config, pooling by
:func:`srma.group.pool_group`, the forest plot, and a whole review made with
``srma init`` and run end to end.

Reference values: ``tests/fixtures/metafor/binary_workflow.json``, written by
``make_fixtures_binary_workflow.R`` beside it (metafor 3.8.1): metafor's dat.bcg (13 BCG
vaccine trials) and five small trials with a zero cell (Z1) and a double-zero trial
(Z2), pooled as OR, RR, RD (REML), Mantel-Haenszel OR and Peto OR.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_figures import Capture, svg_text

from srma import io
from srma.cli import main as srma_main
from srma.config import check_config, validate_config
from srma.errors import ConfigError, InputError
from srma.extraction import extract
from srma.figures import forest as forest_mod
from srma.figures.forest import forest_plot, log_ticks
from srma.group import pool_group, summary_table

REF = json.loads(
    (Path(__file__).parent / "fixtures/metafor/binary_workflow.json").read_text(encoding="utf-8")
)
#: model key of the fixture -> (measure, method)
MODELS = {
    "OR": ("OR", "REML"),
    "RR": ("RR", "REML"),
    "RD": ("RD", "REML"),
    "MH_OR": ("OR", "MH"),
    "PETO_OR": ("OR", "PETO"),
}
CONFIG = {
    "instruments": {"event": {"label": "Participants with the event", "type": "binary"}},
    "timepoints": {"end": {"label": "End of follow-up", "min": 0, "max": 2000, "target": 52}},
    "extraction": {},
}


def study_file(folder: Path, study: str, ai, n1i, ci, n2i, instruments=("event",)) -> Path:
    """One extraction file: events of n per arm, as a reviewer copies a 2x2 table."""
    outcomes = []
    for inst in instruments:
        for arm, events in (("vaccine", ai), ("control", ci)):
            outcomes.append(
                {
                    "instrument": inst,
                    "timepoint_weeks": 52,
                    "arm": arm,
                    "statistic": "events",
                    "events": int(events),
                    "source": f"test data, row {study}",
                }
            )
    data = {
        "study_id": study,
        "trial": study,
        "design": "rct",
        "reports": [{"id": study, "citation": f"test data, row {study}"}],
        "arms": [
            {"id": "vaccine", "role": "intervention", "label": "vaccine", "n": int(n1i)},
            {"id": "control", "role": "control", "label": "no vaccine", "n": int(n2i)},
        ],
        "outcomes": outcomes,
    }
    path = folder / f"{study}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def dataset_rows(folder: Path, name: str) -> pd.DataFrame:
    d = REF[name]["data"]
    frames = []
    for row in zip(d["study"], d["ai"], d["n1i"], d["ci"], d["n2i"], strict=True):
        frames.append(extract(study_file(folder, *row), CONFIG).rows)
    return pd.concat(frames, ignore_index=True)


def pooled(rows: pd.DataFrame, model: str) -> pd.DataFrame:
    measure, method = MODELS[model]
    return pool_group(
        rows, instrument="event", timepoint="end", measure=measure, method=method, outcome="binary"
    )


def in_fixture_order(table: pd.DataFrame, name: str) -> pd.DataFrame:
    studies = table[table["row_type"] == "study"].set_index("study_id")
    return studies.loc[REF[name]["data"]["study"]]


# ---- extraction -----------------------------------------------------------------------


def test_events_rows_are_extracted_as_printed(tmp_path):
    rows = dataset_rows(tmp_path, "bcg")
    first = rows[rows["study_id"] == "Aronson1948"].set_index("arm")
    # dat.bcg row 1: tpos 4, tneg 119, cpos 11, cneg 128
    assert first.loc["intervention", ["n", "events"]].tolist() == [123, 4]
    assert first.loc["control", ["n", "events"]].tolist() == [139, 11]
    assert rows["usable"].all() and rows["mean_change"].isna().all()
    assert first.loc["intervention", "method"] == "4 of 123 with the event, as reported"


def test_two_arms_of_one_role_add_their_events(tmp_path):
    data = yaml.safe_load(study_file(tmp_path, "Two2000", 3, 20, 8, 25).read_text())
    data["arms"].insert(1, {"id": "v2", "role": "intervention", "label": "high dose", "n": 22})
    data["outcomes"].insert(1, {**data["outcomes"][0], "arm": "v2", "events": 5})
    (tmp_path / "Two2000.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    rows = extract(tmp_path / "Two2000.yaml", CONFIG).rows.set_index("arm")
    assert rows.loc["intervention", ["n", "events"]].tolist() == [42, 8]
    assert rows.loc["intervention", "arm_label"] == "high dose + vaccine"  # by arm id


DROP = object()  # a field taken out of the row


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"events": 124}, "events", "events = 124 is more than the arm's n = 123"),
        ({"events": 30, "n": 25}, "events", "events = 30 is more than the row's n = 25"),
        ({"events": -1}, "events", "events = -1 is negative"),
        ({"events": 2.5}, "events", "expected integer or null, got 2.5"),
        ({"events": float("nan")}, "events", "is not a finite number"),
        (
            {"statistic": "change_mean_sd", "mean": 1, "sd": 1, "events": DROP},
            "statistic",
            "'change_mean_sd' does not fit Participants with the event, a binary outcome",
        ),
        ({"statistic": "events", "events": None, "mean": 2}, "mean", "not a value of statistic"),
    ],
)
def test_bad_binary_rows_fail_with_file_study_and_field(tmp_path, change, field, message):
    path = study_file(tmp_path, "Aronson1948", 4, 123, 11, 139)
    data = yaml.safe_load(path.read_text())
    data["outcomes"][0].update(change)
    data["outcomes"][0] = {k: v for k, v in data["outcomes"][0].items() if v is not DROP}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputError) as err:
        extract(path, CONFIG)
    text = str(err.value)
    assert str(path) in text and "Aronson1948, outcome 1" in text, text
    assert f"field '{field}'" in text and message in text, text


def test_events_on_a_continuous_instrument_is_an_error(tmp_path):
    path = study_file(tmp_path, "Aronson1948", 4, 123, 11, 139)
    config = {**CONFIG, "instruments": {"event": {"label": "Score", "min": 0, "max": 10}}}
    with pytest.raises(InputError, match="statistic 'events' does not fit Score, a continuous"):
        extract(path, config)


# ---- config -----------------------------------------------------------------------------


def minimal_config(instrument: dict) -> dict:
    return {
        "searches": {"s": {"path": "x.ris"}},
        "instruments": {"event": instrument},
        "timepoints": {"end": {"min": 0, "max": 60}},
    }


def test_config_binary_instrument_needs_no_range_and_continuous_stays_default():
    config = validate_config(minimal_config({"label": "Deaths", "type": "binary"}))
    check_config(config, paths=False)
    assert config["instruments"]["event"] == {"label": "Deaths", "type": "binary"}  # no defaults
    config = validate_config(minimal_config({"label": "Score", "min": 0, "max": 10}))
    assert config["instruments"]["event"] == {"label": "Score", "min": 0, "max": 10}


@pytest.mark.parametrize(
    ("instrument", "message"),
    [
        ({"label": "Score", "min": 0}, "'max' is a required property"),
        ({"label": "Deaths", "type": "binary", "measure": "HR"}, "'HR' is not one of"),
        ({"label": "Deaths", "type": "binary", "method": "GLMM"}, "'GLMM' is not one of"),
        (
            {"label": "Deaths", "type": "binary", "measure": "RR", "method": "PETO"},
            "instruments.event.method': PETO pools odds ratios only",
        ),
        ({"label": "Deaths", "type": "binary", "min": 0}, "has no score range"),
        ({"label": "Score", "min": 0, "max": 9, "measure": "OR"}, "only a binary instrument"),
    ],
)
def test_config_errors_of_binary_instruments(instrument, message):
    with pytest.raises(ConfigError, match=None) as err:
        check_config(validate_config(minimal_config(instrument)), paths=False)
    assert message in str(err.value)


# ---- pooling ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", list(MODELS))
def test_bcg_pooled_equals_metafor(tmp_path, model):
    ref = REF["bcg"][model]
    table = pooled(dataset_rows(tmp_path, "bcg"), model)
    row = table[table["row_type"] == "pooled"].iloc[0]
    for key in ("estimate", "se", "ci_lb", "ci_ub", "pval", "QE", "I2"):
        assert row[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-12), key
    assert row["k"] == 13 and row["measure"] == MODELS[model][0]
    assert row["method"] == MODELS[model][1]
    studies = in_fixture_order(table, "bcg")
    assert studies["yi"].tolist() == pytest.approx(ref["yi"], rel=1e-9)
    assert studies["vi"].tolist() == pytest.approx(ref["vi"], rel=1e-9)
    assert studies["ai"].sum() == sum(REF["bcg"]["data"]["ai"])
    if "tau2" in ref:  # random-effects: tau2, PI, weights
        assert row["tau2"] == pytest.approx(ref["tau2"], rel=1e-6)
        assert row["pi_lb"] == pytest.approx(ref["pi_lb"], rel=1e-6)
        assert studies["weight"].tolist() == pytest.approx(ref["weights"], rel=1e-6)
    else:  # common effect from the counts
        assert row["tau2"] == 0 and math.isnan(row["pi_lb"])
    if MODELS[model][0] == "RD":
        assert "estimate_exp" in table and table["estimate_exp"].isna().all()
    else:  # the ratio: exp of the log-scale estimate (metafor's predict(transf = exp))
        assert row["estimate_exp"] == pytest.approx(math.exp(ref["estimate"]), rel=1e-9)
        assert row["ci_ub_exp"] == pytest.approx(math.exp(ref["ci_ub"]), rel=1e-9)


@pytest.mark.parametrize("model", list(MODELS))
def test_zero_cell_and_double_zero_as_metafor(tmp_path, model):
    ref = REF["zero"][model]
    table = pooled(dataset_rows(tmp_path, "zero"), model)
    row = table[table["row_type"] == "pooled"].iloc[0]
    assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert row["se"] == pytest.approx(ref["se"], rel=1e-6)
    studies = in_fixture_order(table, "zero")
    # Z1 (0/20 vs 5/20): 1/2 added to its four cells; OR by hand:
    # log((0.5/20)/(5.5/15.5)... = log(0.5*15.5/(20.5*5.5)) for OR
    if model == "OR":
        assert studies.loc["Z1", "yi"] == pytest.approx(math.log(0.5 * 15.5 / (20.5 * 5.5)))
    z2 = studies.loc["Z2"]
    if MODELS[model][0] == "RD":  # a risk difference of 0/15 vs 0/15 is 0: kept
        assert z2["usable"] and row["k"] == 5 and z2["yi"] == 0
    else:  # no information on a ratio: listed with the reason, left out
        assert not z2["usable"] and np.isnan(z2["yi"])
        assert z2["reason"].startswith("no events in either arm")
        assert row["k"] == 4
        # metafor: rma with drop00 leaves k = 4; rma.mh and rma.peto count Z2 in k but
        # not in k.yi, and it adds nothing to their estimates
        assert row["k"] == ref.get("k_yi", ref["k"])
    usable = studies[studies["usable"]]
    ref_yi = [y for y in ref["yi"] if y is not None]
    assert usable["yi"].tolist() == pytest.approx(ref_yi, rel=1e-9)


def test_pooled_csv_shows_measure_and_the_ratio(tmp_path):
    rows = dataset_rows(tmp_path, "bcg")
    groups = [pooled(rows, "OR"), pooled(rows, "RD")]
    groups[1]["instrument"] = "event_rd"
    table = summary_table(groups)
    assert table["measure"].tolist() == ["OR", "RD"]
    ref = REF["bcg"]["OR"]
    assert table["estimate"].iat[0] == pytest.approx(ref["estimate"], rel=1e-6)
    assert table["estimate_exp"].iat[0] == pytest.approx(math.exp(ref["estimate"]), rel=1e-6)
    assert table["pi_ub_exp"].iat[0] == pytest.approx(math.exp(ref["pi_ub"]), rel=1e-6)
    assert np.isnan(table["estimate_exp"].iat[1])
    # a review without ratios: pooled.csv keeps its columns
    assert "estimate_exp" not in summary_table(groups[1:]).columns


# ---- forest plot -----------------------------------------------------------------------


def test_log_ticks():
    assert log_ticks(0.18, 1.4) == [0.1, 0.2, 0.5, 1, 2]
    assert log_ticks(0.9, 1.05) == [0.5, 1, 2]
    assert log_ticks(0.004, 30) == [0.002, 0.01, 0.1, 1, 10, 50]


def test_forest_plot_of_a_binary_group(tmp_path, monkeypatch):
    cap = Capture(forest_mod.save_figure)
    monkeypatch.setattr(forest_mod, "save_figure", cap)
    table = pooled(dataset_rows(tmp_path, "zero"), "OR")
    svg = tmp_path / "f.svg"
    forest_plot(
        table, svg, tmp_path / "f.png", instrument_label="Deaths", timepoint_label="1 year",
        intervention="vaccine", comparator="no vaccine", measure="OR",
    )  # fmt: skip
    text = svg_text(svg)
    lines = text.split("\n")
    d = REF["zero"]["data"]
    for ai, n1, ci, n2 in zip(d["ai"], d["n1i"], d["ci"], d["n2i"], strict=True):
        assert f"{ai:.0f}/{n1:.0f}" in lines and f"{ci:.0f}/{n2:.0f}" in lines
    assert lines.count("Events/Total") == 2
    # pooled totals of the 4 usable trials: 11/115 and 30/115
    assert "11/115" in lines and "30/115" in lines
    assert "Odds ratio (log scale)" in lines
    ref = REF["zero"]["OR"]
    shown = [math.exp(ref[k]) for k in ("estimate", "ci_lb", "ci_ub")]
    assert f"{shown[0]:.2f} [{shown[1]:.2f}, {shown[2]:.2f}]" in lines
    assert "not estimable (a)" in lines  # Z2, with its reason in the footnote
    assert "no events in either arm" in text.replace("\n", " ")
    (fig,) = cap.figs
    panel = [ax for ax in fig.axes if ax.get_xscale() == "log"]
    assert len(panel) == 1
    (ax,) = panel
    nulls = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [1.0, 1.0]]
    assert nulls, "no null line at 1"
    # the squares sit at the odds ratios of the usable trials
    squares = [c for c in ax.collections if len(c.get_offsets()) == 4]
    studies = in_fixture_order(table, "zero")
    expected = np.exp(studies.loc[studies["usable"], "yi"].to_numpy())
    assert squares[0].get_offsets()[:, 0].tolist() == pytest.approx(expected.tolist())


# ---- a binary review of its own, end to end ------------------------------------------------

#: instrument -> (data set, fixture model, config entry)
REVIEW_INSTRUMENTS = {
    "tb_or": ("bcg", "OR", {"label": "Tuberculosis, odds", "type": "binary"}),
    "tb_rr": ("bcg", "RR", {"label": "Tuberculosis, risk", "type": "binary", "measure": "RR"}),
    "tb_rd": ("bcg", "RD", {"label": "Tuberculosis, difference", "type": "binary",
                            "measure": "RD"}),
    "tb_mh": ("bcg", "MH_OR", {"label": "Tuberculosis, MH", "type": "binary", "method": "MH"}),
    "tb_peto": ("bcg", "PETO_OR", {"label": "Tuberculosis, Peto", "type": "binary",
                                   "method": "PETO"}),
    "small_or": ("zero", "OR", {"label": "Small trials", "type": "binary", "measure": "OR"}),
}  # fmt: skip


def write_binary_review(review: Path) -> None:
    """Fill a folder made by srma init: config, one search export, the screening
    decisions, one extraction file per trial."""
    extraction = review / "resources/extraction"
    records, decisions = [], ["record_key,title_abstract_decision,title_abstract_reason,"
                              "full_text_decision,full_text_exclusion_reason,study_id"]  # fmt: skip
    for name in ("bcg", "zero"):
        d = REF[name]["data"]
        insts = [k for k, v in REVIEW_INSTRUMENTS.items() if v[0] == name]
        for i, row in enumerate(zip(d["study"], d["ai"], d["n1i"], d["ci"], d["n2i"], strict=True)):
            study_file(extraction, *row, instruments=insts)
            title = f"Vaccination trial number {name} {i + 1} of the test review"
            records.append(f"TY  - JOUR\nTI  - {title}\nAU  - Author, A\nPY  - 1990\nER  - \n")
            decisions.append(f"title:{title},include,,include,,{row[0]}")
    (review / "resources/searches/trials.ris").write_text("\n".join(records), encoding="utf-8")
    (review / "resources/screening/decisions.csv").write_text(
        "\n".join(decisions) + "\n", encoding="utf-8"
    )
    path = review / "config/config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config.update(
        review={"title": "Vaccination and infection", "intervention": "vaccine",
                "comparator": "no vaccine", "outcome_label": "infection"},
        searches={"trials": {"path": "resources/searches/trials.ris", "database": "Register"}},
        instruments={k: v[2] for k, v in REVIEW_INSTRUMENTS.items()},
        timepoints={"end": {"label": "End of follow-up", "min": 0, "max": 2000, "target": 52}},
        screening={"decisions": "resources/screening/decisions.csv"},
    )  # fmt: skip
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def binary_review(tmp_path_factory):
    review = tmp_path_factory.mktemp("reviews") / "vaccination"
    assert srma_main(["init", str(review)]) == 0
    write_binary_review(review)
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=review, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    report = subprocess.run(
        [sys.executable, "-m", "snakemake", "--report", "results/report.html"],
        cwd=review, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    return review


@pytest.mark.slow
@pytest.mark.parametrize("instrument", list(REVIEW_INSTRUMENTS))
def test_binary_review_pools_as_metafor(binary_review, instrument):
    name, model, _ = REVIEW_INSTRUMENTS[instrument]
    ref = REF[name][model]
    table = io.read_parquet(binary_review / f"results/pooled/{instrument}/end.parquet")
    row = table[table["row_type"] == "pooled"].iloc[0]
    assert (row["measure"], row["method"]) == MODELS[model]
    for key in ("estimate", "se", "ci_lb", "ci_ub", "pval", "QE"):
        assert row[key] == pytest.approx(ref[key], rel=1e-6), key
    if "tau2" in ref:
        assert row["tau2"] == pytest.approx(ref["tau2"], rel=1e-6)
    summary = pd.read_csv(binary_review / "results/tables/pooled.csv").set_index("instrument")
    line = summary.loc[instrument]
    assert line["measure"] == MODELS[model][0] and line["method"] == MODELS[model][1]
    assert line["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    if model != "RD":
        assert line["estimate_exp"] == pytest.approx(math.exp(ref["estimate"]), rel=1e-6)
    forest = svg_text(binary_review / f"results/figures/forest/{instrument}_end.svg")
    d = REF[name]["data"]
    lines = forest.split("\n")
    assert all(f"{a:.0f}/{n:.0f}" in lines for a, n in zip(d["ai"], d["n1i"], strict=True))
    # Mantel-Haenszel and Peto are common-effect models: the footer shows no tau^2
    het = next(line for line in lines if line.startswith("Heterogeneity: "))
    assert ("\u03c4\u00b2" in het) == (MODELS[model][1] not in ("MH", "PETO")), het
    assert f"Q = {ref['QE']:.2f}" in het


@pytest.mark.slow
def test_binary_review_lists_the_double_zero_trial_and_shows_ratios(binary_review):
    table = io.read_parquet(binary_review / "results/pooled/small_or/end.parquet")
    z2 = table[table["study_id"] == "Z2"].iloc[0]
    assert not z2["usable"] and z2["reason"].startswith("no events in either arm")
    page = (binary_review / "results/report/results.html").read_text(encoding="utf-8")
    ref = REF["bcg"]["OR"]
    ratio = [math.exp(ref[k]) for k in ("estimate", "ci_lb", "ci_ub")]
    assert f"OR {ratio[0]:.2f} [{ratio[1]:.2f}, {ratio[2]:.2f}]" in page
    assert "Z2 (no events in either arm" in page
    # the report's methods name the binary outcomes' measures and methods
    report = (binary_review / "results/report.html").read_text(encoding="utf-8")
    assert "Tuberculosis, MH: OR, MH" in report and "Tuberculosis, risk: RR, REML" in report
    # the summary of findings shows the ratio too
    sof = pd.read_csv(binary_review / "results/tables/summary_of_findings.csv")
    assert f"OR {ratio[0]:.2f} (95% CI {ratio[1]:.2f} to {ratio[2]:.2f})" in set(sof["effect"])
    sens = pd.read_csv(binary_review / "results/tables/sensitivity.csv")
    assert len(sens)  # the inverse-variance groups have theirs; MH/Peto say why not
