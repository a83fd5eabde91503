"""GRADE: srma's proposals on hand-made outcomes whose downgrades are known, the
reviewer's decisions file, and the final rating with who decided each domain.

Rules (cited in srma.appraisal.grade):
- risk of bias: Guyatt et al. J Clin Epidemiol 2011;64:407-415, Table 3;
- inconsistency: Guyatt et al. J Clin Epidemiol 2011;64:1294-1302 (I² thresholds:
  Cochrane Handbook 10.10.2);
- imprecision: Guyatt et al. J Clin Epidemiol 2011;64:1283-1293; Zeng et al. J Clin
  Epidemiol 2022;150:216-224;
- publication bias: Guyatt et al. J Clin Epidemiol 2011;64:1277-1282; Sterne et al.
  BMJ 2011;343:d4002.
"""

from __future__ import annotations

import pandas as pd
import pytest

from srma.appraisal.grade import (
    DOMAINS,
    GradeSettings,
    Outcome,
    grade_table,
    load_decisions,
    propose,
    propose_imprecision,
    propose_inconsistency,
    propose_publication_bias,
    propose_risk_of_bias,
    rate,
    rate_outcomes,
)
from srma.errors import ConfigError, InputError
from srma.group import pool_group

CONFIG = {"instruments": {"sparcc_sij": {}, "asspimri": {}}, "timepoints": {"12w": {}, "24w": {}}}


def outcome(**kw) -> Outcome:
    base = dict(
        instrument="sparcc_sij",
        timepoint="12w",
        status="pooled",
        k=4,
        n_intervention=300.0,
        n_control=300.0,
        measure="MD",
        estimate=-3.0,
        ci_lb=-4.0,
        ci_ub=-2.0,
        I2=10.0,
        pi_lb=-4.5,
        pi_ub=-1.5,
        studies=("A", "B", "C", "D"),
        weights={"A": 25.0, "B": 25.0, "C": 25.0, "D": 25.0},
    )
    return Outcome(**(base | kw))


# ---- risk of bias --------------------------------------------------------------------------

W = {"A": 40.0, "B": 30.0, "C": 20.0, "D": 10.0}


@pytest.mark.parametrize(
    "judgements, downgrade, words",
    [
        (
            {"A": "low", "B": "low", "C": "high", "D": "high"},
            0,
            "most information from studies at low",
        ),
        ({"A": "low", "B": "some concerns", "C": "low", "D": "high"}, 0, "60% of the weight"),
        ({"A": "some concerns", "B": "low", "C": "low", "D": "low"}, 0, "60%"),
        ({"A": "low", "B": "some concerns", "C": "some concerns", "D": "low"}, -1, "not from"),
        ({"A": "no information", "B": "low", "C": "low", "D": "high"}, -1, "40% no information"),
        ({"A": "high", "B": "high", "C": "low", "D": "low"}, -2, "at high risk"),
        ({"A": "serious", "B": "critical", "C": "low", "D": "low"}, -2, "at high risk"),
        ({"A": "moderate", "B": "low", "C": "low", "D": "low"}, 0, "low risk"),
    ],
)
def test_risk_of_bias_from_the_weight_of_each_judgement(judgements, downgrade, words):
    j = propose_risk_of_bias(W, judgements)
    assert j.downgrade == downgrade, j.rationale
    assert words in j.rationale and "Guyatt 2011, 64:407" in j.rationale
    assert j.source == "srma"


def test_risk_of_bias_sensitivity_changes_the_conclusion():
    judgements = {"A": "low", "B": "low", "C": "high", "D": "low"}
    after = pd.DataFrame([{"estimate": -0.8, "ci_lb": -2.0, "ci_ub": 0.4}])
    j = propose_risk_of_bias(W, judgements, sensitivity=after, main=(-1.5, -2.5, -0.5))
    assert j.downgrade == -1 and "changes" in j.rationale
    same = pd.DataFrame([{"estimate": -1.4, "ci_lb": -2.6, "ci_ub": -0.2}])
    assert (
        propose_risk_of_bias(W, judgements, sensitivity=same, main=(-1.5, -2.5, -0.5)).downgrade
        == 0
    )


def test_risk_of_bias_needs_every_study_judged():
    with pytest.raises(ValueError, match="D"):
        propose_risk_of_bias(W, {"A": "low", "B": "low", "C": "low"})
    assert propose_risk_of_bias({}, {}).source == "not judged"


# ---- inconsistency -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "i2, pi, mid, downgrade, words",
    [
        (80.0, (-6.0, 0.5), None, -1, "considerable"),  # I² 80%: -1
        (80.0, (-6.0, -0.5), None, -1, "considerable"),  # whatever the PI
        (80.0, (-6.0, 3.0), 2.0, -2, "both directions"),  # PI beyond -MID and +MID
        (80.0, (-6.0, 1.0), 2.0, -1, "considerable"),  # PI reaches -MID only
        (60.0, (-5.0, 0.5), None, -1, "includes no effect"),
        (60.0, (-5.0, -0.5), None, 0, "differ in size, not direction"),
        (30.0, (-5.0, 0.5), None, 0, "< 50%"),
        (49.9, (-5.0, 0.5), None, 0, "< 50%"),
        (50.0, (-5.0, 0.5), None, -1, "substantial"),
    ],
)
def test_inconsistency_from_i2_and_the_prediction_interval(i2, pi, mid, downgrade, words):
    o = outcome(I2=i2, pi_lb=pi[0], pi_ub=pi[1])
    j = propose_inconsistency(o, GradeSettings(), mid)
    assert j.downgrade == downgrade, j.rationale
    assert words in j.rationale and "Guyatt 2011, 64:1294" in j.rationale


def test_inconsistency_of_one_study_or_no_pool():
    one = propose_inconsistency(outcome(k=1, I2=None, pi_lb=None, pi_ub=None))
    assert one.downgrade == 0 and "one study" in one.rationale
    unpooled = propose_inconsistency(outcome(k=2, I2=None, status="too few studies"))
    assert unpooled.downgrade is None and unpooled.source == "not judged"


def test_inconsistency_thresholds_from_the_config():
    s = GradeSettings(i2_substantial=40, i2_considerable=60)
    assert propose_inconsistency(outcome(I2=45.0, pi_lb=-5.0, pi_ub=0.5), s).downgrade == -1
    assert propose_inconsistency(outcome(I2=65.0, pi_lb=-5.0, pi_ub=-0.5), s).downgrade == -1


# ---- imprecision ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ci, mid, n, ois, downgrade, words",
    [
        ((-4.0, -2.0), 1.0, 600, 400, 0, "reach the OIS"),  # below -MID, OIS met
        ((-4.0, -0.5), 1.0, 600, 400, -1, "crosses \u22121.00"),  # CI crosses one MID
        ((-3.0, 1.5), 1.0, 600, 400, -2, "both directions"),  # crosses -MID and +MID
        ((-0.5, 0.5), 1.0, 600, 400, 0, "crosses neither"),  # precise: no important effect
        ((-4.0, -2.0), 1.0, 300, 400, -1, "do not reach the OIS"),  # OIS not met: -1
        ((-4.0, -2.0), 1.0, 150, 400, -2, "far below the OIS"),  # far below: -2
        ((-4.0, 0.5), None, 600, 400, -1, "includes no effect"),  # no MID: the null
        ((-4.0, 0.5), None, 150, 400, -2, "far below"),  # the more severe criterion
        ((-4.0, -0.5), 1.0, 300, 400, -1, "do not reach the OIS"),  # both -1: still -1
        ((-4.0, -2.0), None, 600, None, 0, "no OIS set"),
        ((-4.0, -2.0), None, 399, 400, -1, "do not reach"),
        ((-4.0, -2.0), None, 200, 400, -1, "do not reach"),  # exactly half: not far below
        ((-4.0, -2.0), None, 199, 400, -2, "far below"),
    ],
)
def test_imprecision_from_the_ci_the_mid_and_the_ois(ci, mid, n, ois, downgrade, words):
    o = outcome(ci_lb=ci[0], ci_ub=ci[1], n_intervention=n / 2, n_control=n / 2)
    j = propose_imprecision(o, GradeSettings(), mid, ois)
    assert j.downgrade == downgrade, j.rationale
    assert words in j.rationale


def test_imprecision_without_an_estimate_is_not_judged():
    j = propose_imprecision(outcome(k=2, estimate=None, ci_lb=None, ci_ub=None))
    assert j.downgrade is None and j.source == "not judged"


# ---- publication bias ----------------------------------------------------------------------


def egger(p: float | None, status="tested", reason=None) -> pd.DataFrame:
    return pd.DataFrame([{"status": status, "pval": p, "reason": reason}])


def test_publication_bias_from_egger_with_ten_studies():
    few = propose_publication_bias(outcome(k=9), egger(0.01))
    assert few.downgrade is None and few.source == "not judged" and "fewer than 10" in few.rationale
    assert propose_publication_bias(outcome(k=10), egger(0.04)).downgrade == -1
    j = propose_publication_bias(outcome(k=12), egger(0.4))
    assert j.downgrade == 0 and "does not rule publication bias out" in j.rationale
    assert propose_publication_bias(outcome(k=12), egger(0.0999)).downgrade == -1
    assert propose_publication_bias(outcome(k=12), egger(0.1)).downgrade == 0
    untested = propose_publication_bias(outcome(k=12), egger(None, "not tested", "equal SEs"))
    assert untested.downgrade is None and "equal SEs" in untested.rationale
    assert propose_publication_bias(outcome(k=12), None).downgrade is None


# ---- the rating ----------------------------------------------------------------------------


def test_rating_adds_downgrades_and_marks_who_decided(tmp_path):
    o = outcome(k=12, I2=80.0, pi_lb=-6.0, pi_ub=0.5, ci_lb=-4.0, ci_ub=-0.5)
    o = Outcome(**{**o.__dict__, "weights": {s: 100 / 12 for s in "ABCDEFGHIJKL"}})
    judgements = {s: "low" for s in "ABCDEFGHIJKL"}
    settings = GradeSettings(mid={"sparcc_sij": 1.0}, ois={"default": 400})
    proposals = propose(o, judgements, regtest=egger(0.3), settings=settings)
    assert {d: p.downgrade for d, p in proposals.items()} == {
        "risk_of_bias": 0,
        "inconsistency": -1,
        "indirectness": None,
        "imprecision": -1,
        "publication_bias": 0,
    }
    r = rate(o, proposals)
    assert r.certainty == "low" and r.not_judged == ["indirectness"]
    assert "indirectness: not judged" in r.decided_by
    path = tmp_path / "decisions.csv"
    path.write_text(
        "instrument,timepoint,domain,downgrade,reason,reviewer\n"
        ",,indirectness,-1,population mixes AS and nr-axSpA,AB\n"
        "sparcc_sij,12w,imprecision,0,the CI excludes any effect that matters here,CD\n",
        encoding="utf-8",
    )
    r = rate(o, proposals, load_decisions(path, config=CONFIG))
    assert r.final["indirectness"].source == "reviewer" and r.final["indirectness"].reviewer == "AB"
    assert r.final["imprecision"].downgrade == 0
    assert r.final["inconsistency"].source == "srma"
    assert r.certainty == "low"  # -1 inconsistency, -1 indirectness
    assert "imprecision: reviewer (srma proposed serious (-1))" in r.decided_by
    table = grade_table([r])
    assert list(table["domain"]) == list(DOMAINS)
    row = table[table["domain"] == "imprecision"].iloc[0]
    assert (row["proposed"], row["downgrade"], row["decided_by"]) == (-1, 0, "reviewer")


def test_certainty_floor_and_no_data():
    o = outcome()
    down = {d: -2 for d in DOMAINS}
    proposals = propose(o, dict.fromkeys("ABCD", "high"))
    r = rate(o, proposals)
    assert r.certainty in ("low", "very low")
    from srma.appraisal.grade import Judgement

    worst = {d: Judgement(d, v, "x", "srma") for d, v in down.items()}
    assert rate(o, worst).certainty == "very low"
    empty = outcome(k=0, estimate=None, ci_lb=None, ci_ub=None, weights={}, studies=())
    assert rate(empty, propose(empty, {})).certainty is None


# ---- decisions file ------------------------------------------------------------------------

HEADER = "instrument,timepoint,domain,downgrade,reason\n"


@pytest.mark.parametrize(
    "row, line, field, words",
    [
        ("sparcc_sij,12w,bias,-1,x\n", 2, "domain", "not a GRADE domain"),
        ("sparcc_sij,12w,imprecision,-3,x\n", 2, "downgrade", "not a downgrade"),
        ("sparcc_sij,12w,imprecision,-1,\n", 2, "reason", "needs its reason"),
        ("basdai,12w,imprecision,-1,x\n", 2, "instrument", "unknown instrument"),
        ("sparcc_sij,36w,imprecision,-1,x\n", 2, "timepoint", "unknown timepoint"),
        (
            "sparcc_sij,12w,imprecision,-1,x\nsparcc_sij,12w,imprecision,0,y\n",
            3,
            "domain",
            "line 2",
        ),
        ('sparcc_sij,12w,imprecision,-1,"two\nlines"\nsparcc_sij,,bad,0,y\n', 4, "domain", "bad"),
    ],
)
def test_decision_errors_name_line_and_column(tmp_path, row, line, field, words):
    path = tmp_path / "decisions.csv"
    path.write_text(HEADER + row, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_decisions(path, config=CONFIG)
    err = info.value
    assert (err.line, err.field) == (line, field), str(err)
    assert words in err.message


def test_decision_header_and_words(tmp_path):
    path = tmp_path / "decisions.csv"
    path.write_text("instrument,timepoint,domain,downgrade,reason,comment\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown column 'comment'"):
        load_decisions(path)
    path.write_text("instrument,domain,downgrade,reason\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_decisions(path)
    assert info.value.field == "timepoint"
    path.write_text(
        "\ufeff" + HEADER + ",,publication_bias,very serious,industry trials only\n\n"
        "asspimri,,publication_bias,not serious,registry searched\n",
        encoding="utf-8",
    )
    decisions = load_decisions(path, config=CONFIG)
    assert [d.downgrade for d in decisions] == [-2, 0]
    from srma.appraisal.grade import decision_for

    assert decision_for(decisions, "asspimri", "24w", "publication_bias").downgrade == 0
    assert decision_for(decisions, "sparcc_sij", "24w", "publication_bias").downgrade == -2
    assert decision_for(decisions, "sparcc_sij", "24w", "imprecision") is None
    from srma.appraisal.grade import unmatched

    low = {s: "low" for s in "ABCD"}
    ratings = [rate(outcome(instrument="asspimri", timepoint="24w"), propose(outcome(), low))]
    assert unmatched(decisions, ratings) == []
    ratings = [rate(outcome(), propose(outcome(), low))]
    assert [d.instrument for d in unmatched(decisions, ratings)] == ["asspimri"]
    assert load_decisions(tmp_path / "none.csv") == []
    with pytest.raises(InputError, match="not found"):
        load_decisions(tmp_path / "none.csv", missing_ok=False)


# ---- settings ------------------------------------------------------------------------------


def test_settings_from_config():
    s = GradeSettings.from_config(
        {"grade": {"mid": {"default": 2, "asspimri": 5}, "ois": {"default": 400}}}
    )
    assert (s.mid_for("asspimri"), s.mid_for("sparcc_sij"), s.ois_for("x")) == (5.0, 2.0, 400.0)
    assert GradeSettings.from_config({}).mid_for("x") is None
    assert GradeSettings.from_config({"grade": {"decisions": "x.csv"}}).egger_min_studies == 10
    with pytest.raises(ConfigError, match="grade.mid.asspimri"):
        GradeSettings.from_config({"grade": {"mid": {"asspimri": -1}}})
    with pytest.raises(ConfigError, match="grade"):
        GradeSettings.from_config({"grade": {"mdi": {}}})
    with pytest.raises(ConfigError, match="i2_considerable"):
        GradeSettings.from_config({"grade": {"i2_considerable": 40}})


# ---- from the pooling stage's tables -------------------------------------------------------


def extraction(arms: dict) -> pd.DataFrame:
    rows = []
    for sid, (n1, m1, s1, n2, m2, s2) in arms.items():
        for arm, n, m, s in (("intervention", n1, m1, s1), ("control", n2, m2, s2)):
            rows.append(
                {
                    "study_id": sid,
                    "trial": sid,
                    "instrument": "sparcc_sij",
                    "timepoint": "12w",
                    "timepoint_weeks": 12.0,
                    "arm": arm,
                    "n": n,
                    "mean_change": m,
                    "sd_change": s,
                    "mean_flag": "reported",
                    "sd_flag": "reported",
                    "usable": True,
                    "reason": None,
                }
            )
    return pd.DataFrame(rows)


ARMS = {
    "Lambert2007": (38, -5.0, 4.0, 44, -1.0, 5.0),
    "Maksymowych2016": (106, -3.5, 6.2, 109, -1.2, 5.9),
    "Sieper2013": (91, -4.1, 7.5, 94, -0.3, 6.8),
}


def rob(judgements: dict[str, str]) -> pd.DataFrame:
    rows = [
        {"study_id": s, "tool": "rob2", "domain": "overall", "judgement": j}
        for s, j in judgements.items()
    ]
    table = pd.DataFrame(rows)
    table["instrument"] = pd.array([None] * len(rows), dtype="string")
    table["timepoint"] = pd.array([None] * len(rows), dtype="string")
    return table


def test_rate_outcomes_from_a_pooled_group():
    group = pool_group(extraction(ARMS), instrument="sparcc_sij", timepoint="12w")
    o = Outcome.from_group(group)
    pooled = group[group["row_type"] == "pooled"].iloc[0]
    assert (o.k, o.participants) == (3, 482.0)
    assert o.estimate == pooled["estimate"] and pooled["I2"] == o.I2
    assert abs(sum(o.weights.values()) - 100) < 1e-9
    judgements = {"Lambert2007": "low", "Maksymowych2016": "high", "Sieper2013": "low"}
    settings = GradeSettings(mid={"default": 1.0}, ois={"default": 400})
    [r] = rate_outcomes([group], rob(judgements), settings=settings)
    high_share = o.weights["Maksymowych2016"]
    expected = -2 if high_share > 50 else (0 if 100 - high_share > 50 else -1)
    assert r.proposals["risk_of_bias"].downgrade == expected
    assert r.proposals["publication_bias"].source == "not judged"
    assert r.certainty is not None


def test_single_study_outcome():
    group = pool_group(
        extraction({"Krabbe2018": (24, -6.3, 10, 23, -1.5, 3.7)}),
        instrument="sparcc_sij",
        timepoint="12w",
    )
    o = Outcome.from_group(group)
    s = group.iloc[0]
    assert (o.k, o.estimate, o.ci_lb, o.weights) == (1, s["yi"], s["ci_lb"], {"Krabbe2018": 100.0})
    r = rate(
        o,
        propose(o, {"Krabbe2018": "no information"}, settings=GradeSettings(ois={"default": 400})),
    )
    assert r.final["risk_of_bias"].downgrade == -1  # no information is not low risk
    assert r.final["inconsistency"].downgrade == 0  # one study: not assessable
    # The CI excludes no effect (no MID set), but 47 participants are far below 400.
    assert r.final["imprecision"].downgrade == -2
    assert r.certainty == "very low"


def test_not_pooled_group_weights_by_inverse_variance():
    group = pool_group(extraction(ARMS), instrument="sparcc_sij", timepoint="12w", min_studies=5)
    o = Outcome.from_group(group)
    assert o.estimate is None and o.status == "too few studies"
    vi = group.set_index("study_id")["vi"]
    total = sum(1 / vi)
    for sid, w in o.weights.items():
        assert abs(w - 100 / vi[sid] / total) < 1e-9
