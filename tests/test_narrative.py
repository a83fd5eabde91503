"""The risk of bias and the certainty of the evidence in words
(``srma.appraisal.narrative``), from the tables srma writes.

The bundled review's risk-of-bias files give the counts of docs/risk-of-bias.md,
section 8 (21 studies: 17 RoB 2, 2 ROBINS-I, 2 without a tool; 93 of 99 domain
judgements without information). The certainty sentences are checked on a
summary-of-findings table made by ``srma.appraisal.sof.sof_table`` from ratings built by
hand, so that the footnotes are parsed as sof_table writes them. The end-to-end checks
(a review made with srma init, and the bundled review's run and report) are in
``tests/test_own_review_appraisal.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from srma.appraisal.grade import (
    NOT_JUDGED,
    SRMA,
    Decision,
    Judgement,
    Outcome,
    propose,
    propose_indirectness,
    rate,
)
from srma.appraisal.load import COLUMNS, load_assessments
from srma.appraisal.narrative import (
    appraisal_html,
    certainty_sentences,
    footnotes,
    rob_sentences,
)
from srma.appraisal.sof import sof_table

ROOT = Path(__file__).resolve().parents[1]
OWN = Path(__file__).resolve().parent / "fixtures" / "own_review_appraisal"


def test_the_bundled_reviews_risk_of_bias_in_words():
    rob = load_assessments(sorted((ROOT / "resources/risk_of_bias").glob("*.yaml")))
    assert rob_sentences(rob) == [
        "Risk of bias was assessed for 22 of 24 studies: 20 randomised trials with RoB 2 "
        "and 2 non-randomised controlled studies with ROBINS-I.",
        "2 studies compare no interventions, so no tool applies: Pedersen2010, Weiss2014.",
        "Overall (RoB 2): 0 at low risk, 0 with some concerns, 0 at high risk, 20 with no "
        "information.",
        "Overall (ROBINS-I): 0 at low risk, 0 at moderate risk, 0 at serious risk, 0 at "
        "critical risk, 2 with no information.",
        "The overall judgements of 22 studies are the tools' algorithm's.",
        "108 of 114 domain judgements are \u201cno information\u201d (22 studies).",
    ]


def _not_assessed(study: str) -> pd.DataFrame:
    """The workflow's row of a study without a file (srma.stages.risk_of_bias_table)."""
    row = dict.fromkeys(COLUMNS)
    row.update(study_id=study, tool="rob2", domain="overall", judgement="not assessed")
    return pd.DataFrame([row], columns=COLUMNS).astype("string")


def test_not_assessed_studies_reviewer_judgements_and_outcome_entries():
    """The own-review fixture's files without Umea (not assessed) and with an outcome
    entry for Edinburgh: 8 of 9 assessed; RoB 2 overall 4 low (Edinburgh, the three
    Orpington centres), 2 high, 1 no information; the outcome entry is counted."""
    files = sorted(p for p in (OWN / "resources/risk_of_bias").glob("*.yaml"))
    paths = [p for p in files if p.stem != "Umea"]
    rob = load_assessments(paths)
    entry = rob[(rob["study_id"] == "Edinburgh") & (rob["domain"] == "overall")].copy()
    entry["instrument"] = "los"
    table = pd.concat([rob, entry, _not_assessed("Umea")], ignore_index=True)
    sentences = rob_sentences(table)
    assert sentences[0] == (
        "Risk of bias was assessed for 8 of 9 studies: 7 randomised trials with RoB 2 and "
        "1 non-randomised controlled study with ROBINS-I."
    )
    assert sentences[1] == "1 study was not assessed (no risk-of-bias file yet): Umea."
    assert sentences[2] == (
        "Overall (RoB 2): 4 at low risk, 0 with some concerns, 2 at high risk, 1 with no "
        "information."
    )
    assert sentences[4].startswith(
        "The overall judgements of 7 studies are the tools' algorithm's; the reviewers' for "
        "1 (Newcastle: high instead of some concerns (Unclear concealment"
    )
    assert sentences[5] == "1 of 42 domain judgements are \u201cno information\u201d (1 study)."
    assert sentences[6] == (
        "1 outcome entry gives judgements for one outcome that differ from the study level "
        "(Edinburgh)."
    )


def _outcome(instrument: str, k: int, **values) -> Outcome:
    return Outcome(instrument, "t1", "pooled" if k else "no usable data", k, 60.0, 40.0, **values)


@pytest.fixture
def sof() -> pd.DataFrame:
    """Two outcomes: one rated (risk of bias -2 by srma, imprecision -1 by srma replaced
    by the reviewer's 0, indirectness and publication bias not judged), one without
    usable data."""
    rated = _outcome("a", 3, measure="MD", estimate=-1.0, ci_lb=-2.0, ci_ub=-0.1)
    proposals = {
        "risk_of_bias": Judgement("risk_of_bias", -2, "most weight at high risk", SRMA),
        "inconsistency": Judgement("inconsistency", 0, "I² = 10% (< 50%)", SRMA),
        "indirectness": propose_indirectness(),
        "imprecision": Judgement("imprecision", -1, "the CI crosses 1 (the MID)", SRMA),
        "publication_bias": Judgement("publication_bias", None, "3 studies", NOT_JUDGED),
    }
    decision = Decision(None, None, "imprecision", 0, "A CI this narrow is precise enough")
    empty = _outcome("b", 0)
    ratings = [rate(rated, proposals, [decision]), rate(empty, propose(empty, {}))]
    labels = {"instrument_labels": {"a": "Outcome A", "b": "Outcome B"}}
    return sof_table(ratings, **labels, timepoint_labels={"t1": "week 1"})


def test_certainty_in_words(sof):
    assert certainty_sentences(sof) == [
        "Outcome A, week 1 (3 studies, 100 participants; MD \u22121.00 (95% CI \u22122.00 to "
        "\u22120.10)): low certainty "
        "(\u2295\u2295\u25ef\u25ef), rated down for risk of bias by two levels (very "
        "serious; srma's proposal: most weight at high risk); imprecision not serious (the "
        "reviewer's judgement: A CI this narrow is precise enough [srma proposed serious "
        "(-1): the CI crosses 1 (the MID)]); not judged yet (no downgrade): indirectness, "
        "publication bias.",
        "Outcome B, week 1: not rated (no usable data).",
        "Of the 5 GRADE domain judgements, 2 are srma's proposals, 1 the reviewers' and 2 "
        "not judged yet.",
    ]


def test_footnotes_are_read_per_domain(sof):
    notes = footnotes(sof["footnotes"].iloc[0])
    assert set(notes) == {"risk_of_bias", "indirectness", "imprecision", "publication_bias"}
    assert notes["risk_of_bias"] == {
        "letter": "a",
        "words": "very serious (-2)",
        "who": "srma",
        "why": "most weight at high risk",
    }
    assert notes["publication_bias"]["why"] == "3 studies"
    assert footnotes(None) == {}


def test_the_fragment_escapes_and_holds_both_parts(sof):
    rob = load_assessments(sorted((OWN / "resources/risk_of_bias").glob("*.yaml")))
    fragment = appraisal_html(rob, sof)
    assert fragment.startswith('<div class="srma-appraisal">')
    assert "<strong>Risk of bias.</strong> Risk of bias was assessed for 9 of 9" in fragment
    assert fragment.count("<li>") == 2 and "srma&#x27;s proposal" in fragment
    assert "<li>" not in appraisal_html(rob, None)
