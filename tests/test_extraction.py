"""Extraction stage: study files -> harmonised rows, errors, and the bundled review.

Expected values are computed by hand (or with R, commands in comments) from the numbers
printed in the seed data (resources/seed/*.csv, copied from ../shared/seed-data).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from srma import cli
from srma.config import load_config
from srma.errors import InputError
from srma.extraction import (
    change_correlation_table,
    correlation_rows,
    excluded_table,
    extract_study,
    study_groups,
)

ROOT = Path(__file__).resolve().parents[1]
STUDY_DIR = ROOT / "resources" / "extraction"
SEED = ROOT / "resources" / "seed"
STUDY_FILES = sorted(STUDY_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config" / "config.yaml")


@pytest.fixture(scope="module")
def bundled(config):
    return {p.stem: extract_study(p, config) for p in STUDY_FILES}


def arms(ctrl_n=22, int_n=25):
    return [
        {"id": "a", "role": "intervention", "label": "drug", "n": int_n},
        {"id": "c", "role": "control", "label": "placebo", "n": ctrl_n},
    ]


def row(arm, stat, weeks=12, instrument="sparcc_sij", **values):
    return {
        "instrument": instrument,
        "timepoint_weeks": weeks,
        "arm": arm,
        "statistic": stat,
        **values,
        "source": "Table 2",
    }


def write(tmp_path, outcomes, *, name="S1", study_arms=None, **top) -> Path:
    data = {
        "study_id": name,
        "design": "rct",
        "reports": [{"id": name, "citation": "J Test 2020;1:1-2"}],
        "arms": study_arms if study_arms is not None else arms(),
        "outcomes": outcomes,
        **top,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one(df, **where) -> pd.Series:
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, sel
    return sel.iloc[0]


# The bundled review --------------------------------------------------------------------


def test_every_seed_publication_is_in_exactly_one_study_file():
    studies = [r["study_id"] for r in read_csv("studies.csv")]
    owner = {}
    for path in STUDY_FILES:
        for report in yaml.safe_load(path.read_text())["reports"]:
            assert report["id"] not in owner, report["id"]
            owner[report["id"]] = path.stem
    # plus two companion reports named in the seed's notes and sources, and the three
    # reports the seed's screening includes at full text without a study row (files
    # with no outcome rows: resources/screening/decisions.csv lines 45, 57, 61)
    included_only = ["PMID12687557", "PMID16208659", "PMID17394179"]
    assert sorted(owner) == sorted([*studies, "EWRR2005-P27", "PMID24574227", *included_only])
    # companion reports share one file (counted once): 24 publications, 21 studies
    assert owner["Maksymowych2016"] == owner["Dougados2014"] == "Dougados2014"
    assert owner["Machado2012"] == owner["PMID17644552"] == owner["Braun2006"] == "Braun2006"
    assert len(STUDY_FILES) == 21 + len(included_only)
    for stem in included_only:
        data = yaml.safe_load((ROOT / "resources/extraction" / f"{stem}.yaml").read_text())
        assert data["outcomes"] == [] and data["correlations"] == []
        assert data["no_outcomes_reason"].startswith("index-validation report")


def read_csv(name: str) -> list[dict]:
    with open(SEED / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _num(x):
    return float(x) if x != "" else None


def test_every_seed_outcome_row_is_copied_as_printed():
    """Each of the 41 rows of outcomes.csv is in its study file with the same numbers."""
    files = {p.stem: yaml.safe_load(p.read_text()) for p in STUDY_FILES}
    by_report = {}
    for data in files.values():
        arm_by_id = {a["id"]: a for a in data["arms"]}
        for r in data.get("outcomes", []):
            by_report.setdefault(r["report"], []).append((r, arm_by_id[r["arm"]]))
    seen = set()
    seed = read_csv("outcomes.csv")
    assert len(seed) == 41
    for s in seed:
        role = "intervention" if s["arm"] == "tnfi" else "control"
        cands = [
            (r, a)
            for r, a in by_report[s["study_id"]]
            if r["instrument"] == s["instrument"]
            and r["timepoint_weeks"] == float(s["timepoint_weeks"])
            and a["role"] == role
            and (a["label"] == s["arm_label"] or (r.get("scoring") or "-") in s["arm_label"])
        ]
        assert len(cands) == 1, s
        r, a = cands[0]
        seen.add(id(r))
        n = r["n"] if "n" in r else a.get("n")
        assert n == _num(s["n"]), s
        assert r.get("baseline_mean") == _num(s["baseline_mean"])
        assert r.get("baseline_sd") == _num(s["baseline_sd"])
        assert r.get("followup_mean") == _num(s["followup_mean"])
        assert r.get("followup_sd") == _num(s["followup_sd"])
        if r["statistic"] == "change_mean_sd":
            assert (r["mean"], r["sd"]) == (_num(s["change_mean"]), _num(s["change_sd"]))
        else:
            assert s["change_mean"] == s["change_sd"] == ""
        value = {"change_median": "median", "improvement_mean": "mean", "pct_change_mean": "pct"}
        if s["value"] and r["statistic"] in value:
            assert r[value[r["statistic"]]] == float(s["value"])
        assert (r.get("between_group_p") or "") == s["between_group_p"]
        assert r["source"] == s["source"]
        assert r.get("notes", "") == s["notes"]
    assert len(seen) == 41


def test_every_seed_correlation_is_copied_as_printed(config):
    seed = read_csv("correlations.csv")
    table = pd.concat([correlation_rows(p, config) for p in STUDY_FILES], ignore_index=True)
    assert len(table) == len(seed) == 35
    for s, (_, t) in zip(
        sorted(
            seed,
            key=lambda s: (
                s["study_id"],
                s["source"],
                s["clinical_measure_detail"],
                s["timepoint_weeks"],
                s["group"],
            ),
        ),
        table.sort_values(
            ["report", "source", "clinical_measure_detail", "timepoint_weeks", "group"],
            na_position="first",
        ).iterrows(),
        strict=True,
    ):
        assert t["report"] == s["study_id"]
        assert f"{t['mri_measure']} {t['mri_timing']}" == s["mri_measure"]
        assert t["clinical_measure"] == s["clinical_measure"]
        assert (t["timepoint_weeks"] if pd.notna(t["timepoint_weeks"]) else "") == s[
            "timepoint_weeks"
        ]
        assert (t["p"] if pd.notna(t["p"]) else "") == s["p"]
        r = _num(s["r"])
        assert (None if pd.isna(t["r"]) else t["r"]) == r
        assert (None if pd.isna(t["n"]) else int(t["n"])) == (_num(s["n"]) and int(s["n"]))
        method = t["method"] if t["method"] != "not_stated" else t["method_detail"]
        assert method == s["method"]


def test_bundled_review_usable_rows(bundled):
    usable = pd.concat(bundled.values())
    usable = usable[usable["usable"]]
    # Krabbe2018 sparcc_spine 6w (change mean/SD) and Song2011 Berlin SIJ/spine 24w, 48w.
    assert sorted(set(zip(usable.study_id, usable.instrument, usable.timepoint, strict=True))) == [
        ("Krabbe2018", "sparcc_spine", "6w"),
        ("Song2011", "berlin_sij", "24w"),
        ("Song2011", "berlin_sij", "48w"),
        ("Song2011", "berlin_spine", "24w"),
        ("Song2011", "berlin_spine", "48w"),
    ]
    k = one(bundled["Krabbe2018"], arm="intervention")
    assert (k.n, k.mean_change, k.sd_change) == (24, -6.3, 10.0)
    assert (k.mean_flag, k.sd_flag) == ("reported", "reported")
    s = one(bundled["Song2011"], instrument="berlin_sij", timepoint="24w", arm="intervention")
    # 3.1 - 7.8 = -4.7; sqrt(6.3^2 + 3.6^2 - 2*0.5*6.3*3.6) = 5.474486277 (R)
    assert s.n == 40
    assert s.mean_change == pytest.approx(-4.7)
    assert s.sd_change == pytest.approx(5.474486277, rel=1e-9)
    assert (s.mean_flag, s.sd_flag) == ("converted", "imputed")
    assert "correlation 0.5" in s.method and "randomised" in s.method
    c = one(bundled["Song2011"], instrument="berlin_sij", timepoint="24w", arm="control")
    # sqrt(5.1^2 + 3.2^2 - 5.1*3.2) = 4.464302857 (R)
    assert c.sd_change == pytest.approx(4.464302857, rel=1e-9)


def test_bundled_review_reasons(bundled):
    b = one(bundled["Braun2012"], arm="intervention")
    assert b.timepoint == "12w" and b.timepoint_weeks == 14  # week 14 counts as 12 weeks
    assert b.arm_label == "golimumab 100 mg + golimumab 50 mg" and b.n == 75
    assert "median change only" in b.reason
    assert len(bundled["Braun2012"]) == 2  # the shared placebo arm appears once
    d = one(bundled["Dougados2014"], instrument="sparcc_sij", arm="intervention")
    # percent change made absolute with the companion report's baseline mean: -46.9% x 8.3
    assert d.mean_change == pytest.approx(-3.8927) and d.mean_flag == "estimated"
    assert "no SD of change" in d.reason
    lam = one(bundled["Lambert2007"], instrument="sparcc_sij", arm="control")
    assert "percent change without a baseline mean" in lam.reason
    br = one(bundled["Braun2006"], arm="intervention")
    assert br.mean_change == -5.02 and br.mean_flag == "converted"
    assert "'<0.001', not an exact value" in br.reason
    r17 = one(bundled["Braun2017"], instrument="sparcc_sij", arm="intervention")
    assert r17.mean_change == -4.8 and r17.reason == "control arm not usable"
    m10 = bundled["Maksymowych2010"]
    assert m10["reason"][m10["scoring"] == "6-DVU"].str.startswith("excluded by the reviewer").all()


def test_excluded_table_lists_every_study_without_usable_rows(bundled):
    ex = excluded_table(list(bundled.values()))
    assert set(ex["study_id"]) == set(bundled) - {"Krabbe2018", "Song2011"}
    assert ex["reason"].notna().all()
    no_rows = ex[ex["instrument"].isna()]
    assert set(no_rows["study_id"]) == {
        "Barkham2009", "Cui2016", "Deodhar2019", "Haibel2008", "Hu2012", "Maksymowych2014",
        "Pedersen2010", "Sieper2013", "Sieper2015", "Weiss2014",
        "PMID12687557", "PMID16208659", "PMID17394179",
    }  # fmt: skip
    assert no_rows["reason"].str.startswith("no outcome rows: ").all()


def test_study_groups_are_the_windows_a_table_reports(bundled):
    # resources/seed/outcomes.csv: Krabbe 2018 reports SPARCC spine at 6 weeks; Song 2011
    # Berlin SIJ and spine at 24 and 48 weeks; Barkham 2009 has no outcome rows.
    assert study_groups(bundled["Krabbe2018"]) == [("sparcc_spine", "6w")]
    assert study_groups(bundled["Song2011"]) == [
        ("berlin_sij", "24w"), ("berlin_sij", "48w"), ("berlin_spine", "24w"),
        ("berlin_spine", "48w"),
    ]  # fmt: skip
    assert study_groups(bundled["Barkham2009"]) == []


def test_correlation_rows_p_parsed(config):
    t = correlation_rows(STUDY_DIR / "Dougados2014.yaml", config)
    assert len(t) == 17
    first = t.iloc[0]
    assert (first.r, first.p, first.p_value, first.p_relation, first.n) == (
        0.35, "<0.001", 0.001, "<", 94,
    )  # fmt: skip
    foot = t[t["p"] == "significant (exact p not given)"]
    assert len(foot) == 3 and foot["p_value"].isna().all() and foot["n"].isna().all()
    m = correlation_rows(STUDY_DIR / "Braun2006.yaml", config)
    assert m.loc[m["report"] == "Machado2012", "timepoint_weeks"].tolist()[:2] == ["24;102"] * 2


# Conversions through a study file --------------------------------------------------------


def test_two_doses_combined_and_control_once(tmp_path, config):
    study_arms = [
        {"id": "d1", "role": "intervention", "label": "50 mg", "n": 10},
        {"id": "d2", "role": "intervention", "label": "100 mg", "n": 20},
        {"id": "c", "role": "control", "label": "placebo", "n": 15},
    ]
    path = write(
        tmp_path,
        [
            row("d1", "change_mean_sd", mean=-11.8, sd=2.4),
            row("d2", "change_mean_sd", mean=-15.3, sd=3.2),
            row("c", "change_mean_sd", mean=-8.4, sd=4.1),
        ],
        study_arms=study_arms,
    )
    df = extract_study(path, config)
    assert len(df) == 2 and df["usable"].all()
    i = one(df, arm="intervention")
    # Table 6.5.a by hand: N = 30, M = (10*-11.8 + 20*-15.3)/30 = -14.1333,
    # SD = sqrt((9*2.4^2 + 19*3.2^2 + 200/30*3.5^2)/29) = sqrt(324.3267/29)
    assert i.n == 30
    assert i.mean_change == pytest.approx(-424 / 30)
    assert i.sd_change == pytest.approx(math.sqrt((9 * 5.76 + 19 * 10.24 + 200 / 30 * 12.25) / 29))
    assert i.arm_label == "50 mg + 100 mg" and "combined" in i.method
    assert one(df, arm="control").n == 15


def test_sd_from_between_group_p(tmp_path, config):
    # Handbook 6.5.2.3 example as a file: MD 3.8, P = 0.008, n 25 and 22 -> SD 4.683469341
    path = write(
        tmp_path,
        [
            row("a", "change_mean", mean=-1.0, between_group_p="0.008"),
            row("c", "change_mean", mean=-4.8, between_group_p="0.008"),
        ],
    )
    df = extract_study(path, config)
    assert df["usable"].all()
    assert df["sd_change"].tolist() == [pytest.approx(4.683469341, rel=1e-8)] * 2
    assert set(df["sd_flag"]) == {"converted"}
    assert "df = 45" in df["method"].iat[0]


def test_sd_from_se_ci_and_median(tmp_path, config):
    path = write(
        tmp_path,
        [
            row("a", "change_mean_ci", mean=32.1, ci_lower=30.0, ci_upper=34.2,
                instrument="asspimri"),
            row("c", "change_mean_se", mean=1.0, se=0.5, instrument="asspimri"),
            row("a", "change_median_iqr", median=-4, q1=-6, q3=-3, n=30),
            row("c", "change_median_range", median=-4, min=-10, max=-1, n=30),
        ],
    )  # fmt: skip
    df = extract_study(path, config)
    ci = one(df, instrument="asspimri", arm="intervention")
    assert ci.sd_change == pytest.approx(5.087459333, rel=1e-9)  # t-based, n = 25
    assert (ci.mean_flag, ci.sd_flag) == ("reported", "converted")
    se = one(df, instrument="asspimri", arm="control")
    assert se.sd_change == pytest.approx(0.5 * math.sqrt(22))
    iqr = one(df, instrument="sparcc_sij", arm="intervention")
    # mirror of the (3, 4, 6) example: mean -4.3565, SD 2.335260656
    assert iqr.mean_change == pytest.approx(-4.3565) and iqr.sd_change == pytest.approx(2.335260656)
    rng = one(df, instrument="sparcc_sij", arm="control")
    # mirror of metaBLUE's (1, 4, 10), n = 30: mean -4.356748, SD 2.205578
    assert rng.mean_change == pytest.approx(-4.356748, abs=1e-6)
    assert rng.sd_change == pytest.approx(2.205578, abs=1e-6)
    assert set(df.loc[df.instrument == "sparcc_sij", "sd_flag"]) == {"estimated"}


def test_change_sd_uses_study_correlation_when_reported(tmp_path, config):
    # intervention reports all three SDs: r = (4^2 + 3^2 - 2.5^2)/(2*4*3) = 0.78125
    path = write(
        tmp_path,
        [
            row("a", "change_mean_sd", mean=-2, sd=2.5, baseline_mean=9, baseline_sd=4,
                followup_mean=7, followup_sd=3),
            row("c", "baseline_followup", baseline_mean=8, baseline_sd=5, followup_mean=7.5,
                followup_sd=4),
        ],
    )  # fmt: skip
    c = one(extract_study(path, config), arm="control")
    assert c.sd_change == pytest.approx(math.sqrt(25 + 16 - 2 * 0.78125 * 20))
    assert c.sd_flag == "imputed" and "computed from this study" in c.method
    table = change_correlation_table([path], config)
    assert table[["arm", "r"]].values.tolist() == [["a", pytest.approx(0.78125)]]


def test_nearest_report_in_window_wins(tmp_path, config):
    path = write(
        tmp_path,
        [
            row("a", "change_mean_sd", weeks=16, mean=-3, sd=2),
            row("c", "change_mean_sd", weeks=16, mean=-1, sd=2),
            row("a", "change_mean_sd", weeks=12, mean=-4, sd=2),
            row("c", "change_mean_sd", weeks=12, mean=-1, sd=2),
            row("a", "change_mean_sd", weeks=60, mean=-4, sd=2),
            row("c", "change_mean_sd", weeks=60, mean=-1, sd=2),
        ],
    )
    df = extract_study(path, config)
    assert df.loc[df.usable, "timepoint_weeks"].tolist() == [12, 12]
    assert one(df, timepoint_weeks=16, arm="control").reason.startswith(
        "another report in window 12w"
    )
    assert (
        one(df, timepoint_weeks=60, arm="control").reason == "week 60 falls in no timepoint window"
    )
    assert study_groups(df) == [("sparcc_sij", "12w")]


def test_uncontrolled_cohort_never_usable(tmp_path, config):
    path = write(
        tmp_path,
        [row("a", "change_mean_sd", mean=-3, sd=2)],
        design="cohort",
        study_arms=[{"id": "a", "role": "intervention", "label": "TNFi", "n": 30}],
    )
    r = one(extract_study(path, config), arm="intervention")
    assert not r.usable and r.reason == "uncontrolled cohort: never pooled"


# Errors ----------------------------------------------------------------------------------

GOOD = """\
study_id: S1
design: rct
reports:
  - id: S1
    citation: J Test 2020;1:1-2
arms:
  - id: a
    role: intervention
    label: drug
    n: 25
  - id: c
    role: control
    label: placebo
    n: 22
outcomes:
  - instrument: sparcc_sij
    timepoint_weeks: 12
    arm: a
    statistic: change_mean_sd
    mean: -4.0
    sd: 3.0
    source: Table 2
  - instrument: sparcc_sij
    timepoint_weeks: 12
    arm: c
    statistic: change_mean_sd
    mean: -1.0
    sd: 3.0
    source: Table 2
"""


def error_for(tmp_path, config, text, name="S1"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        extract_study(path, config)
    return info.value


def test_good_file_passes(tmp_path, config):
    path = tmp_path / "S1.yaml"
    path.write_text(GOOD)
    assert extract_study(path, config)["usable"].all()


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "record", "message"),
    [
        ("    sd: 3.0\n    source: Table 2\n  - instrument",
         "    sdd: 3.0\n    source: Table 2\n  - instrument", 21, "sdd", "S1, outcome 1",
         "unknown field; expected one of"),
        ("    mean: -4.0\n    sd: 3.0\n", "    mean: -4.0\n", 16, "sd", "S1, outcome 1",
         "required field is missing (statistic 'change_mean_sd' needs mean, sd)"),
        ("statistic: change_mean_sd\n    mean: -4.0", "statistic: mean_sd\n    mean: -4.0", 19,
         "statistic", "S1, outcome 1", "'mean_sd' is not allowed; expected one of"),
        ("    mean: -4.0", "    mean: four", 20, "mean", "S1, outcome 1", "expected number"),
        ("design: rct", "design: trial", 2, "design", "S1", "'trial' is not allowed"),
        ("instrument: sparcc_sij\n    timepoint_weeks: 12\n    arm: a",
         "instrument: sparcc\n    timepoint_weeks: 12\n    arm: a", 16, "instrument",
         "S1, outcome 1", "unknown instrument 'sparcc'; expected one of the config's"),
        ("    arm: c\n", "    arm: b\n", 25, "arm", "S1, outcome 2", "unknown arm 'b'"),
        ("    mean: -1.0", "    mean: -80", 27, "mean", "S1, outcome 2",
         "mean = -80 is not a possible change on SPARCC SIJ (range 0-72"),
        ("    sd: 3.0\n    source: Table 2\n", "    sd: -3.0\n    source: Table 2\n", 21, "sd",
         "S1, outcome 1", "sd = -3.0 is negative"),
        ("    n: 22", "    n: 1", 14, "n", "S1, arm 2", "n = 1: an arm needs n >= 2"),
        ("study_id: S1", "study_id: S2", 1, "study_id", "S2", "must equal the file name 'S1'"),
    ],
)  # fmt: skip
def test_error_names_file_line_record_field(
    tmp_path, config, old, new, line, field, record, message
):
    assert old in GOOD
    err = error_for(tmp_path, config, GOOD.replace(old, new, 1))
    assert err.path.endswith("S1.yaml")
    assert (err.line, err.field, err.record) == (line, field, record)
    assert message in err.message
    assert str(err).startswith(f"{err.path}, line {line}, record {record}, field '{field}': ")


def test_intervention_without_control_stops(tmp_path, config):
    text = GOOD[: GOOD.index("  - instrument: sparcc_sij\n    timepoint_weeks: 12\n    arm: c")]
    err = error_for(tmp_path, config, text)
    assert err.record == "S1, outcome 1" and err.field == "arm" and err.line == 16
    assert "intervention row for sparcc_sij at week 12 has no control row" in err.message


def test_duplicate_row_needs_scoring(tmp_path, config):
    second = GOOD[GOOD.index("  - instrument: sparcc_sij\n    timepoint_weeks: 12\n    arm: c") :]
    err = error_for(tmp_path, config, GOOD + second)
    assert err.record == "S1, outcome 3" and err.field == "scoring"
    assert "outcome 2 already gives values for arm 'c'" in err.message


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"statistic": "change_mean_ci", "mean": 1, "ci_lower": 3, "ci_upper": 2}, "ci_lower",
         "ci_lower is above ci_upper"),
        ({"statistic": "change_median_iqr", "median": 1, "q1": 2, "q3": 3}, "median",
         "median = 1 is below q1 = 2"),
        ({"statistic": "pct_change_mean", "pct": -120}, "pct", "cannot fall by more than 100%"),
        ({"statistic": "baseline_followup", "baseline_mean": 80, "followup_mean": 2},
         "baseline_mean", "baseline_mean = 80 is outside the SPARCC SIJ range 0-72"),
        ({"statistic": "change_median", "median": 1, "sd": 2}, "sd",
         "not a value of statistic 'change_median'"),
        ({"statistic": "change_mean_sd", "mean": 1, "sd": 2, "n": 1}, "n", "n = 1"),
    ],
)  # fmt: skip
def test_value_errors(tmp_path, config, values, field, message):
    stat = values.pop("statistic")
    path = write(tmp_path, [row("a", stat, **values), row("c", "not_reported")])
    with pytest.raises(InputError) as info:
        extract_study(path, config)
    err = info.value
    assert (err.field, err.record) == (field, "S1, outcome 1") and err.line is not None
    assert message in err.message


def test_no_outcomes_needs_a_reason(tmp_path, config):
    path = write(tmp_path, [])
    with pytest.raises(InputError, match="no_outcomes_reason"):
        extract_study(path, config)
    path = write(tmp_path, [], no_outcomes_reason="numbers not retrieved")
    r = one(extract_study(path, config), study_id="S1")
    assert r.reason == "no outcome rows: numbers not retrieved" and not r.usable


def test_yaml_syntax_error_names_line(tmp_path, config):
    err = error_for(tmp_path, config, GOOD.replace("    mean: -1.0", "    mean: [-1.0"))
    assert err.line is not None and "not valid YAML" in err.message


# Command line and determinism ------------------------------------------------------------


def test_srma_extract_command(tmp_path, capsys):
    files = [str(STUDY_DIR / "Song2011.yaml"), str(STUDY_DIR / "Lambert2007.yaml")]
    out = tmp_path / "out"
    argv = ["extract", *files, "-o", str(out), "-c", str(ROOT / "config" / "config.yaml")]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Song2011: 8 rows, 8 usable, 0 not usable" in printed
    assert "Lambert2007: 4 rows, 0 usable, 4 not usable" in printed
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == [
        "Lambert2007.parquet",
        "Song2011.parquet",
        "change_correlations.csv",
        "excluded.csv",
    ]
    excluded = pd.read_csv(out / "excluded.csv")
    assert excluded["study_id"].tolist() == ["Lambert2007"] * 4
    assert cli.main(argv) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_srma_extract_reports_bad_file(tmp_path, capsys):
    bad = tmp_path / "S1.yaml"
    bad.write_text(GOOD.replace("design: rct", "design: trial"))
    argv = [
        "extract",
        str(bad),
        "-o",
        str(tmp_path / "o"),
        "-c",
        str(ROOT / "config" / "config.yaml"),
    ]
    assert cli.main(argv) == 1
    assert "line 2, record S1, field 'design'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_template_is_a_valid_study_file(tmp_path, config):
    path = tmp_path / "Author2020.yaml"
    path.write_text((ROOT / "docs" / "extraction-template.yaml").read_text())
    df = extract_study(path, config)
    assert df["usable"].all() and len(df) == 2
    # CI -2.9 to 0.7 with n = 24: SD = sqrt(24) * 3.6 / (2 * qt(0.975, 23)) = 4.262747 (R)
    assert one(df, arm="control").sd_change == pytest.approx(4.262747, abs=1e-6)
    assert study_groups(df) == [("sparcc_sij", "12w")]


def test_bundled_seed_copy_matches_shared_seed(shared_dir):
    """The faithfulness tests read resources/seed; it must be the shared seed data."""
    for name in ("studies.csv", "outcomes.csv", "correlations.csv"):
        assert (SEED / name).read_bytes() == (shared_dir / "seed-data" / name).read_bytes()


def test_duplicate_key_is_an_error(tmp_path, config):
    err = error_for(
        tmp_path, config, GOOD.replace("    sd: 3.0\n", "    sd: 3.0\n    sd: 2.0\n", 1)
    )
    assert (err.line, err.field, err.record) == (22, "sd", "S1, outcome 1")
    assert "key given twice (first on line 21)" in err.message


def test_sd_from_between_group_t(tmp_path, config):
    # t = qt(1 - 0.004, 45) = 2.775545369 gives the same SD as P = 0.008 (4.683469341)
    path = write(
        tmp_path,
        [
            row("a", "change_mean", mean=-1.0, between_group_t=2.775545369),
            row("c", "change_mean", mean=-4.8),
        ],
    )
    df = extract_study(path, config)
    assert df["sd_change"].tolist() == [pytest.approx(4.683469341, rel=1e-8)] * 2
    assert "t = 2.776" in df["method"].iat[0]


# Non-finite numbers, P values, untrusted YAML ---------------------------------------------

CORRELATION = """\
correlations:
  - mri_measure: sparcc_sij
    mri_timing: change
    clinical_measure: crp
    timepoint_weeks: 12
    method: spearman
    r: 0.4
    n: 25
    source: Table 4
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "record"),
    [
        ("    sd: 3.0\n", "    sd: .nan\n", 21, "sd", "S1, outcome 1"),
        ("    mean: -4.0", "    mean: .inf", 20, "mean", "S1, outcome 1"),
        ("    mean: -1.0", "    mean: -.Inf", 27, "mean", "S1, outcome 2"),
        ("timepoint_weeks: 12\n    arm: c", "timepoint_weeks: .inf\n    arm: c", 24,
         "timepoint_weeks", "S1, outcome 2"),
        ("    n: 22", "    n: .nan", 14, "n", "S1, arm 2"),
        ("    r: 0.4", "    r: .NAN", 36, "r", "S1, correlation 1"),
        ("    timepoint_weeks: 12\n    method", "    timepoint_weeks: [12, .inf]\n    method", 34,
         "timepoint_weeks", "S1, correlation 1"),
    ],
)  # fmt: skip
def test_non_finite_numbers_are_refused(tmp_path, config, old, new, line, field, record):
    """.nan and .inf are numbers to the schema and pass every range: refused first."""
    text = GOOD + CORRELATION
    assert old in text
    err = error_for(tmp_path, config, text.replace(old, new, 1))
    assert (err.line, err.field, err.record) == (line, field, record)
    assert "is not a finite number" in err.message


@pytest.mark.parametrize(
    ("p", "message"),
    [
        ("1.7", "1.7 is not a P value: 1.7 is outside 0 to 1"),
        ('"p = 1.7"', "'p = 1.7' is not a P value"),
        ("-0.2", "-0.2 is not a P value"),
        ("0", "a P value cannot be exactly 0"),
        ('"0.000"', "a P value cannot be exactly 0"),
    ],
)
def test_p_value_outside_0_1_is_refused(tmp_path, config, p, message):
    text = GOOD + CORRELATION.replace("    r: 0.4\n", f"    r: 0.4\n    p: {p}\n")
    err = error_for(tmp_path, config, text)
    assert (err.field, err.record, err.line) == ("p", "S1, correlation 1", 37)
    assert message in err.message


def test_between_group_p_outside_0_1_is_refused(tmp_path, config):
    path = write(
        tmp_path,
        [row("a", "change_mean", mean=-1.0, between_group_p=1.2), row("c", "change_mean", mean=0)],
    )
    with pytest.raises(InputError) as info:
        extract_study(path, config)
    assert (info.value.field, info.value.record) == ("between_group_p", "S1, outcome 1")


def test_printed_p_values_within_0_1_pass(tmp_path, config):
    for p in ('"<0.001"', "0.047", '"NS"', '">0.05"', "1"):
        path = tmp_path / "S1.yaml"
        path.write_text(GOOD + CORRELATION.replace("    r: 0.4\n", f"    r: 0.4\n    p: {p}\n"))
        extract_study(path, config)


def alias_bomb(levels: int = 14) -> str:
    nine = lambda x: ", ".join([x] * 9)  # noqa: E731
    lines = [f"  - &a0 [{nine('lol')}]"]
    lines += [f"  - &a{i} [{nine(f'*a{i - 1}')}]" for i in range(1, levels)]
    return "notes:\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "field", "record", "message"),
    [
        # 9**14 values once expanded: refused before anything walks it
        (GOOD + alias_bomb(), 32, "notes", "S1", "YAML alias *a0: anchors and aliases are not"),
        (GOOD.replace("label: drug", "label: &d drug").replace("label: placebo", "label: *d"),
         13, "label", "S1, arm 2", "YAML alias *d"),
        (GOOD.replace("label: drug", "label: !!binary ZHJ1Zw=="), 9, "label", "S1, arm 1",
         "YAML tag !!binary is not allowed"),
        (GOOD.replace("label: drug", "label: !!python/object/apply:os.system [id]"), 9, "label",
         "S1, arm 1", "YAML tag !!python/object/apply:os.system"),
        (GOOD.replace("label: drug", "label: !drug x"), 9, "label", "S1, arm 1",
         "YAML tag !drug is not allowed"),
        (GOOD.replace("label: drug", "label: !!set {a, b}"), 9, "label", "S1, arm 1",
         "YAML tag !!set"),
        (GOOD + "---\nstudy_id: S2\n", 30, None, None,
         "not valid YAML: expected a single document in the stream, but found another"),
        (GOOD.replace("label: drug", "label: dr\x07ug"), 9, None, None,
         "character U+0007 is not allowed in YAML"),
        ("- S1\n- rct\n", 1, None, None, "expected a mapping of study fields"),
        ("", None, None, None, "the file is empty"),
        ("# to do\n", None, None, None, "the file is empty"),
    ],
)  # fmt: skip
def test_untrusted_yaml_is_refused(tmp_path, config, text, line, field, record, message):
    import time

    start = time.monotonic()
    err = error_for(tmp_path, config, text)
    assert time.monotonic() - start < 5
    assert (err.line, err.field, err.record) == (line, field, record)
    assert message in err.message


def test_not_utf8_names_the_line(tmp_path, config):
    path = tmp_path / "S1.yaml"
    path.write_bytes(GOOD.replace("label: placebo", "label: plac\xe9bo").encode("latin-1"))
    with pytest.raises(InputError) as info:
        extract_study(path, config)
    err = info.value
    assert (err.line, err.path) == (13, str(path))
    assert "byte 0xe9 (column 16) is not UTF-8" in err.message
    # UTF-16 is not UTF-8 either; a UTF-8 byte-order mark is fine
    path.write_bytes(GOOD.encode("utf-16"))
    with pytest.raises(InputError, match="line 1: byte 0xff"):
        extract_study(path, config)
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert extract_study(path, config)["usable"].all()


def test_oversized_file_is_refused(tmp_path, config):
    from srma.extraction.load import MAX_BYTES

    err = error_for(tmp_path, config, GOOD + "# " + "x" * MAX_BYTES + "\n")
    assert "a study file may have at most 1,048,576 (1 MiB)" in err.message


def test_srma_extract_bad_bytes_one_line_no_traceback(tmp_path, capsys):
    bad = tmp_path / "S1.yaml"
    bad.write_bytes(GOOD.replace("label: drug", "label: dr\xfcg").encode("latin-1"))
    argv = ["extract", str(bad), "-o", str(tmp_path / "o"), "-c", str(ROOT / "config/config.yaml")]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}, line 9: byte 0xfc (column 14) is not UTF-8" in err
    assert not (tmp_path / "o").exists()
    missing = ["extract", str(tmp_path / "None.yaml"), "-c", str(ROOT / "config/config.yaml")]
    assert cli.main(missing) == 1
    assert "None.yaml: cannot read the file: No such file or directory" in capsys.readouterr().err
