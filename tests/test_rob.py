"""Risk of bias: the RoB 2 and ROBINS-I overall algorithms checked against the published
decision tables, the risk-of-bias file loader and its errors, the table and the
judgements of one outcome, the sensitivity analysis without studies at high risk, and
the bundled review's files.

Decision tables: Sterne JAC et al. BMJ 2019;366:l4898 (RoB 2, "Reaching an overall
risk-of-bias judgement for a specific outcome"); Sterne JAC et al. BMJ 2016;355:i4919
(ROBINS-I, "Interpretation of domain-level and overall risk of bias judgements").
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from srma.appraisal import rob2, robins_i
from srma.appraisal.load import (
    COLUMNS,
    check_coverage,
    for_outcome,
    load_assessment,
    load_assessments,
    overall_judgements,
    rob_table,
    summary,
)
from srma.appraisal.sensitivity import without_high_risk
from srma.appraisal.tools import NO_INFORMATION, ROB2, ROBINS_I
from srma.errors import InputError
from srma.pooling import rma

ROOT = Path(__file__).resolve().parents[1]
NI = NO_INFORMATION
CONFIG = {
    "instruments": {"sparcc_sij": {}, "sparcc_spine": {}},
    "timepoints": {"12w": {}, "24w": {}},
}

# ---- RoB 2: the decision table ---------------------------------------------------------


def rob2_table(values: tuple[str, ...]) -> tuple[str, set[str]]:
    """The RoB 2 table, written out: (overall, judgements a reviewer may enter instead
    with a reason)."""
    if "high" in values:  # "high risk of bias in at least one domain"
        return "high", set()
    if NI in values:  # srma: nothing established; the reviewer may judge
        return NI, {"some concerns", "high"}
    if all(v == "low" for v in values):  # "low risk of bias for all domains"
        return "low", set()
    # "some concerns in at least one domain, but not at high risk for any domain";
    # "some concerns for multiple domains in a way that substantially lowers confidence"
    # is high: a judgement, open only with some concerns in more than one domain.
    return "some concerns", ({"high"} if values.count("some concerns") > 1 else set())


def test_rob2_every_combination_follows_the_decision_table():
    combos = list(itertools.product(ROB2.judgements, repeat=5))
    assert len(combos) == 4**5
    for values in combos:
        got = rob2.overall(dict(zip(ROB2.domains, values, strict=True)))
        want, alternatives = rob2_table(values)
        assert got.judgement == want, values
        assert set(got.alternatives) == alternatives, values
        assert "Sterne" in got.rule


@pytest.mark.parametrize("domain", list(ROB2.domains))
@pytest.mark.parametrize(
    "judgement, overall",
    [("low", "low"), ("some concerns", "some concerns"), ("high", "high"), (NI, NI)],
)
def test_rob2_domain_by_domain(domain, judgement, overall):
    """Each domain alone decides the result the same way: the others low."""
    domains = {d: "low" for d in ROB2.domains} | {domain: judgement}
    assert rob2.overall(domains).judgement == overall
    # The same judgement in this domain and a high one elsewhere: always high.
    other = next(d for d in ROB2.domains if d != domain)
    assert rob2.overall(domains | {other: "high"}).judgement == "high"


def test_rob2_override_needs_a_reason_and_room_in_the_table():
    two = {d: "low" for d in ROB2.domains} | {"D2": "some concerns", "D4": "some concerns"}
    proposal = rob2.overall(two)
    assert proposal.judgement == "some concerns"
    assert proposal.check("some concerns", None) is None
    assert "give the reason" in proposal.check("high", None)
    assert proposal.check("high", "blinding and missing data together") is None
    assert "no room" in rob2.overall({**two, "D4": "low"}).check("high", "because")
    # Never below the most severe domain, reason or not.
    high = {d: "low" for d in ROB2.domains} | {"D1": "high"}
    assert "no room" in rob2.overall(high).check("some concerns", "small imbalance")
    assert "no room" in rob2.overall({d: "low" for d in ROB2.domains}).check("some concerns", "x")
    # Without information: 'low' is impossible, a judgement needs a reason.
    ni = {d: "low" for d in ROB2.domains} | {"D5": NI}
    assert rob2.overall(ni).check("low", "protocol not needed") is not None
    assert rob2.overall(ni).check("some concerns", "no protocol found") is None


def test_rob2_rejects_missing_domains_and_foreign_judgements():
    with pytest.raises(ValueError, match="D5 missing"):
        rob2.overall({d: "low" for d in list(ROB2.domains)[:4]})
    with pytest.raises(ValueError, match="'moderate' is not a RoB 2 judgement"):
        rob2.overall({d: "low" for d in ROB2.domains} | {"D3": "moderate"})


# ---- ROBINS-I: the decision table -------------------------------------------------------


def robins_table(values: tuple[str, ...]) -> tuple[str, set[str]]:
    """The ROBINS-I table, written out."""
    if "critical" in values:  # "critical risk of bias in at least one domain"
        return "critical", set()
    if "serious" in values:  # "serious ... in at least one domain, not critical in any"
        return "serious", set()
    if NI in values:  # "no clear indication of serious or critical ... lack of information"
        informed = [v for v in values if v != NI]
        floor = "moderate" if "moderate" in informed else "low"
        allowed = ("low", "moderate", "serious", "critical")
        return NI, set(allowed[allowed.index(floor) :])
    if "moderate" in values:  # "low or moderate risk of bias for all domains"
        return "moderate", set()
    return "low", set()  # "low risk of bias for all domains"


def test_robins_i_every_combination_follows_the_decision_table():
    combos = itertools.product(ROBINS_I.judgements, repeat=7)
    n = 0
    for values in combos:
        got = robins_i.overall(dict(zip(ROBINS_I.domains, values, strict=True)))
        want, alternatives = robins_table(values)
        assert got.judgement == want, values
        assert set(got.alternatives) == alternatives, values
        # Where every domain is informed, the overall judgement is the most severe one.
        if NI not in values:
            assert got.judgement == max(values, key=ROBINS_I.rank)
        n += 1
    assert n == 5**7


@pytest.mark.parametrize("domain", list(ROBINS_I.domains))
@pytest.mark.parametrize("judgement", ROBINS_I.judgements)
def test_robins_i_domain_by_domain(domain, judgement):
    domains = {d: "low" for d in ROBINS_I.domains} | {domain: judgement}
    assert robins_i.overall(domains).judgement == judgement
    other = next(d for d in ROBINS_I.domains if d != domain)
    # A serious domain elsewhere decides unless this one is critical.
    want = "critical" if judgement == "critical" else "serious"
    assert robins_i.overall(domains | {other: "serious"}).judgement == want


def test_robins_i_no_information_is_a_judgement():
    domains = {d: "moderate" for d in ROBINS_I.domains} | {"D5": NI}
    proposal = robins_i.overall(domains)
    assert proposal.judgement == NI
    assert proposal.check("moderate", "D5 is not a key domain here") is None
    assert proposal.check("low", "D5 is not a key domain here") is not None
    assert "give the reason" in proposal.check("moderate", "  ")
    full = {d: "moderate" for d in ROBINS_I.domains}
    assert "no room" in robins_i.overall(full).check("serious", "feels worse")


# ---- files -------------------------------------------------------------------------------

GOOD = """\
study_id: Trial2020
tool: rob2
effect: assignment
judgements:
  D1:
    judgement: low
    support: "computer-generated sequence, central allocation"
    source: "p. 3"
  D2: {judgement: some concerns, support: "open label"}
  D3: {judgement: low, support: "98% analysed"}
  D4: {judgement: some concerns, support: "assessors aware"}
  D5: {judgement: low, support: "registered protocol"}
outcomes:
- instrument: sparcc_sij
  timepoint: 24w
  judgements:
    D3: {judgement: high, support: "40% missing at week 24"}
"""


def write(tmp_path: Path, text: str, name: str = "Trial2020") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_a_good_file_gives_study_and_outcome_rows(tmp_path):
    path = write(tmp_path, GOOD)
    data = load_assessment(path, config=CONFIG, design="rct")
    table = rob_table([(path, data)])
    assert list(table.columns) == COLUMNS
    study = table[table["instrument"].isna()]
    assert list(study["domain"]) == ["D1", "D2", "D3", "D4", "D5", "overall"]
    overall = study[study["domain"] == "overall"].iloc[0]
    assert overall["judgement"] == "some concerns" and overall["origin"] == "algorithm"
    assert set(overall.index) >= {"algorithm", "rule"} and "2 domains" in overall["rule"]
    out = table[table["instrument"] == "sparcc_sij"]
    assert list(out["origin"]) == ["study", "study", "outcome", "study", "study", "algorithm"]
    assert out[out["domain"] == "overall"]["judgement"].item() == "high"
    # The judgements of each outcome: the outcome entry where there is one.
    assert overall_judgements(for_outcome(table, "sparcc_sij", "24w")) == {"Trial2020": "high"}
    assert overall_judgements(for_outcome(table, "sparcc_sij", "12w")) == {
        "Trial2020": "some concerns"
    }
    assert overall_judgements(for_outcome(table, "sparcc_spine", "24w")) == {
        "Trial2020": "some concerns"
    }


def test_instrument_entry_without_timepoint_applies_to_every_timepoint(tmp_path):
    text = GOOD.replace("  timepoint: 24w\n", "") + (
        "- instrument: sparcc_sij\n  timepoint: 12w\n  judgements:\n"
        "    D3: {judgement: low, support: all analysed}\n"
    )
    path = write(tmp_path, text)
    table = rob_table([(path, load_assessment(path, config=CONFIG))])
    assert overall_judgements(for_outcome(table, "sparcc_sij", "24w"))["Trial2020"] == "high"
    assert overall_judgements(for_outcome(table, "sparcc_sij", "12w"))["Trial2020"] == (
        "some concerns"
    )


def test_reviewer_raises_overall_with_a_reason(tmp_path):
    text = GOOD + ""
    text = text.replace(
        "outcomes:",
        "  overall: {judgement: high, reason: open label and unblinded assessors together}\n"
        "outcomes:",
    )
    path = write(tmp_path, text)
    table = rob_table([(path, load_assessment(path))])
    row = table[table["instrument"].isna() & (table["domain"] == "overall")].iloc[0]
    assert (row["judgement"], row["algorithm"], row["origin"]) == (
        "high",
        "some concerns",
        "reviewer",
    )
    assert row["reason"].startswith("open label")


def error(tmp_path, text, name="Trial2020", **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        load_assessment(write(tmp_path, text, name), **kwargs)
    return info.value


@pytest.mark.parametrize(
    "change, line, field, words",
    [
        (('support: "open label"', 'suport: "open label"'), 9, "D2.suport", "unknown field"),
        (("D5: {judgement: low", "D5: {judgement: moderate"), 12, "D5.judgement", "not a RoB 2"),
        (('  D5: {judgement: low, support: "registered protocol"}\n', ""), 4, "D5", "D5 missing"),
        (("tool: rob2", "tool: rob3"), 2, "tool", "not allowed"),
        (("    D3: {judgement: high", "    D6: {judgement: high"), 17, "D6", "not D6"),
        (("instrument: sparcc_sij", "instrument: basdai"), 14, "instrument", "unknown instrument"),
        (("timepoint: 24w", "timepoint: 36w"), 15, "timepoint", "unknown timepoint"),
        (("study_id: Trial2020", "study_id: Other2020"), 1, "study_id", "file name"),
        (("effect: assignment", "effect: itt"), 3, "effect", "not allowed"),
    ],
)
def test_errors_name_file_line_study_and_field(tmp_path, change, line, field, words):
    err = error(tmp_path, GOOD.replace(*change), config=CONFIG)
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    assert words in err.message, str(err)
    assert str(err).startswith(str(tmp_path / "Trial2020.yaml"))
    assert err.record is not None and err.record.split(",")[0] in ("Trial2020", "Other2020")


def test_outcome_errors_name_the_outcome(tmp_path):
    err = error(
        tmp_path, GOOD.replace("instrument: sparcc_sij", "instrument: basdai"), config=CONFIG
    )
    assert err.record == "Trial2020, outcome 1"


def test_overall_that_differs_without_a_reason_is_an_error(tmp_path):
    text = GOOD.replace("outcomes:", "  overall: {judgement: high}\noutcomes:")
    err = error(tmp_path, text)
    assert err.field == "overall.judgement" and err.line == 13
    assert "give the reason" in err.message
    low = GOOD.replace("outcomes:", "  overall: {judgement: low, reason: x}\noutcomes:")
    assert "with a reason it may be: 'high'" in error(tmp_path, low).message
    # An outcome entry's overall is checked against its merged domains.
    ok = GOOD + "    overall: {judgement: high}\n"
    load_assessment(write(tmp_path, ok))
    bad = GOOD + "    overall: {judgement: some concerns, reason: x}\n"
    err = error(tmp_path, bad)
    assert err.record == "Trial2020, outcome 1" and "no room" in err.message


def test_reading_errors(tmp_path):
    assert error(tmp_path, "").message.startswith("the file is empty")
    assert error(tmp_path, b"study_id: T\xff\n").line == 1
    dup = GOOD.replace("tool: rob2\n", "tool: rob2\ntool: rob2\n")
    err = error(tmp_path, dup)
    assert (err.line, err.field) == (3, "tool") and "twice" in err.message
    alias = GOOD.replace(
        '  D3: {judgement: low, support: "98% analysed"}', "  D3: &x {judgement: low, support: a}"
    ).replace('  D5: {judgement: low, support: "registered protocol"}', "  D5: *x")
    assert "alias" in error(tmp_path, alias).message
    assert "!!binary" in error(tmp_path, GOOD.replace('"p. 3"', "!!binary aGk=")).message
    assert "not valid YAML" in error(tmp_path, "study_id: [\n").message
    assert "mapping" in error(tmp_path, "- a\n").message


def test_tool_fits_the_design_and_none_has_no_judgements(tmp_path):
    err = error(tmp_path, GOOD, design="controlled_cohort")
    assert err.field == "tool" and "robins_i" in err.message
    none = "study_id: Trial2020\ntool: none\nnot_applicable: uncontrolled cohort\n"
    load_assessment(write(tmp_path, none), design="cohort")
    assert "has no judgements" in error(tmp_path, none + GOOD.split("\n", 3)[3]).message
    assert error(tmp_path, "study_id: Trial2020\ntool: none\n").field == "not_applicable"
    robins = GOOD.replace("tool: rob2", "tool: robins_i")
    assert "RoB 2 field" in error(tmp_path, robins).message


def test_two_entries_for_one_outcome_are_an_error(tmp_path):
    text = GOOD + (
        "- instrument: sparcc_sij\n  timepoint: 24w\n  judgements:\n"
        "    D4: {judgement: low, support: blinded}\n"
    )
    err = error(tmp_path, text)
    assert err.record == "Trial2020, outcome 2" and "merge" in err.message


def test_load_assessments_and_coverage(tmp_path):
    a = write(tmp_path, GOOD)
    b = write(tmp_path, GOOD.replace("Trial2020", "Other2021"), "Other2021")
    table = load_assessments([b, a], config=CONFIG, designs={"Trial2020": "rct"})
    assert list(table["study_id"].unique()) == ["Other2021", "Trial2020"]
    check_coverage(table, ["Other2021", "Trial2020"])
    with pytest.raises(InputError, match="no risk-of-bias file for New2022"):
        check_coverage(table, ["Other2021", "Trial2020", "New2022"])
    with pytest.raises(InputError, match="which no extraction file has"):
        check_coverage(table, ["Trial2020"])


# ---- sensitivity analysis without studies at high risk ------------------------------------


def group_table(effects: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """A pooled group table (data model section 5) of studies {id: (yi, vi, weight)},
    pooled with srma's REML model."""
    ids = list(effects)
    res = rma([effects[s][0] for s in ids], [effects[s][1] for s in ids], slab=ids)
    rows = [
        {
            "instrument": "sparcc_sij",
            "timepoint": "12w",
            "row_type": "study",
            "study_id": s,
            "usable": True,
            "yi": y,
            "vi": v,
            "weight": w,
            "n1i": 20.0,
            "n2i": 20.0,
            "method": "REML",
            "test": "z",
            "level": 95.0,
        }
        for s, (y, v, w) in zip(ids, effects.values(), strict=True)
    ]
    pooled = {c: getattr(res, c) for c in ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub")}
    pooled |= {c: getattr(res, c) for c in ("tau2", "I2", "pi_lb", "pi_ub")}
    rows.append(
        {
            "instrument": "sparcc_sij",
            "timepoint": "12w",
            "row_type": "pooled",
            "usable": True,
            "method": "REML",
            "test": "z",
            "level": 95.0,
            **pooled,
        }
    )
    return pd.DataFrame(rows)


def rob_rows(judgements: dict[str, str]) -> pd.DataFrame:
    rows = []
    for sid, overall in judgements.items():
        for d in ROB2.domains:
            rows.append({"study_id": sid, "tool": "rob2", "domain": d, "judgement": overall})
        rows.append({"study_id": sid, "tool": "rob2", "domain": "overall", "judgement": overall})
    table = pd.DataFrame(rows)
    table["instrument"] = pd.array([None] * len(table), dtype="string")
    table["timepoint"] = pd.array([None] * len(table), dtype="string")
    return table


EFFECTS = {"A2001": (-3.0, 1.0, 40.0), "B2002": (-1.0, 0.5, 35.0), "C2003": (-4.0, 2.0, 25.0)}


def test_without_high_risk_refits_the_rest():
    group = group_table(EFFECTS)
    rob = rob_rows({"A2001": "low", "B2002": "high", "C2003": NI})
    out = without_high_risk(group, rob).iloc[0]
    ref = rma([-3.0, -4.0], [1.0, 2.0])
    assert out["status"] == "estimated" and (out["k_all"], out["k"]) == (3, 2)
    assert out["left_out"] == "B2002" and out["no_information"] == "C2003"
    assert math.isclose(out["estimate"], ref.estimate, rel_tol=1e-12)
    assert math.isclose(out["ci_ub"], ref.ci_ub, rel_tol=1e-12)


def test_without_high_risk_edge_cases():
    group = group_table(EFFECTS)
    same = without_high_risk(group, rob_rows(dict.fromkeys(EFFECTS, "low"))).iloc[0]
    pooled = group[group["row_type"] == "pooled"].iloc[0]
    assert same["status"] == "same as main analysis" and same["estimate"] == pooled["estimate"]
    single = without_high_risk(group, rob_rows({"A2001": "low", "B2002": "high", "C2003": "high"}))
    row = single.iloc[0]
    assert row["status"] == "single study" and row["estimate"] == -3.0
    assert np.isclose(row["ci_lb"], -3.0 - 1.959963984540054)
    none = without_high_risk(group, rob_rows(dict.fromkeys(EFFECTS, "high"))).iloc[0]
    assert none["status"] == "not estimated" and math.isnan(none["estimate"])
    assert "every usable study" in none["reason"]
    unusable = group.assign(usable=False).iloc[:3]
    row = without_high_risk(unusable, rob_rows({})).iloc[0]
    assert (row["status"], row["reason"], row["k_all"]) == ("not estimated", "no usable study", 0)
    with pytest.raises(InputError, match="C2003 has no risk-of-bias judgement"):
        without_high_risk(group, rob_rows({"A2001": "low", "B2002": "low"}))


# ---- the bundled review --------------------------------------------------------------------


def bundled() -> tuple[pd.DataFrame, dict[str, str]]:
    designs = {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))["design"]
        for p in (ROOT / "resources" / "extraction").glob("*.yaml")
    }
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    paths = sorted((ROOT / "resources" / "risk_of_bias").glob("*.yaml"))
    return load_assessments(paths, config=config, designs=designs), designs


def test_bundled_review_files_load_and_cover_every_study():
    table, designs = bundled()
    check_coverage(table, designs)
    counts = summary(table)
    assert counts == {"studies": 24, "assessed": 22, "domains": 114, "no_information": 108}
    informed = table[(table["domain"] != "overall") & (table["judgement"] != NI)]
    cells = zip(informed["study_id"], informed["domain"], informed["judgement"], strict=True)
    assert sorted(cells) == [
        ("Braun2006", "D4", "low"),
        ("Braun2012", "D4", "low"),
        ("Krabbe2018", "D3", "low"),
        ("Maksymowych2010", "D4", "low"),
        ("Pedersen2016", "D4", "low"),
        ("Song2011", "D4", "low"),
    ]
    domains = table[table["domain"] != "overall"]
    assert domains["support"].notna().all() and domains["source"].notna().all()
    overall = table[table["domain"] == "overall"]
    assert set(overall["judgement"]) == {NI, "not applicable"}
    assert set(overall.loc[overall["tool"] == "none", "study_id"]) == {"Pedersen2010", "Weiss2014"}
