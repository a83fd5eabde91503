"""Certainty of evidence per outcome (GRADE): srma's proposals, the reviewer's decisions,
the final rating.

An *outcome* is one instrument x timepoint group (its pooled table, data model section
5). The body of evidence starts at **high** certainty: randomised trials do, and
non-randomised studies do when their risk of bias is assessed with ROBINS-I
(Schünemann HJ et al. GRADE guidelines 18, J Clin Epidemiol 2019;111:105-114), as srma
requires. It is rated down in five domains by 0, 1 or 2 levels; the certainty is
``high``, ``moderate``, ``low`` or ``very low`` (Balshem H et al. GRADE guidelines 3,
J Clin Epidemiol 2011;64:401-406). srma does not rate up (large effect, dose-response,
plausible confounding): those are for observational bodies of evidence and need the
reviewer.

srma proposes a downgrade with its rationale, from the data, in four domains
(:func:`propose`); the thresholds are :class:`GradeSettings` (config ``grade``):

- risk of bias (:func:`propose_risk_of_bias`; Guyatt GH et al. GRADE guidelines 4,
  J Clin Epidemiol 2011;64:407-415, Table 3, = Cochrane Handbook 5.1 Table 12.2.d):
  from the share of the outcome's weight held by studies at each overall risk of bias;
- inconsistency (:func:`propose_inconsistency`; Guyatt GH et al. GRADE guidelines 7,
  J Clin Epidemiol 2011;64:1294-1302): from I² and the prediction interval;
- imprecision (:func:`propose_imprecision`; Guyatt GH et al. GRADE guidelines 6,
  J Clin Epidemiol 2011;64:1283-1293, and Zeng L et al. GRADE guidance 34, J Clin
  Epidemiol 2022;150:216-224): from the CI against the minimal important difference
  (MID), then the optimal information size (OIS);
- publication bias (:func:`propose_publication_bias`; Guyatt GH et al. GRADE guidelines
  5, J Clin Epidemiol 2011;64:1277-1282; Sterne JAC et al. BMJ 2011;343:d4002): from
  Egger's test when the outcome has at least 10 studies, otherwise left to the reviewer.

Indirectness (Guyatt GH et al. GRADE guidelines 8, J Clin Epidemiol 2011;64:1303-1310)
is the reviewer's alone. The reviewer's judgements and overrides are a CSV file
(:func:`load_decisions`); a decision replaces srma's proposal for its domain, and every
final domain judgement says who made it (``decided_by``: ``srma``, ``reviewer``, or
``not judged`` when srma leaves a domain to the reviewer and the reviewer has not
judged it yet: it then counts as no downgrade, and says so).
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from srma.appraisal.tools import HIGH_RISK, LOW_RISK, NO_INFORMATION
from srma.errors import ConfigError, InputError
from srma.io import is_missing

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

#: The five GRADE domains that rate certainty down, in GRADE's order.
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
DOMAIN_NAMES = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}
#: Certainty levels from the lowest; a body of evidence starts at the last.
LEVELS = ("very low", "low", "moderate", "high")
#: Words of a downgrade, as GRADE's evidence profiles print them.
SERIOUSNESS = {0: "not serious", -1: "serious", -2: "very serious"}

SRMA = "srma"
REVIEWER = "reviewer"
NOT_JUDGED = "not judged"


# Settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeSettings:
    """Thresholds of srma's proposals (config ``grade``; defaults and sources in
    ``workflow/schemas/config.schema.yaml``, property ``grade``, and
    docs/risk-of-bias.md)."""

    mid: Mapping[str, float] = field(default_factory=dict)
    ois: Mapping[str, float] = field(default_factory=dict)
    ois_far_below: float = 0.5
    i2_substantial: float = 50.0
    i2_considerable: float = 75.0
    egger_min_studies: int = 10
    egger_alpha: float = 0.10
    majority: float = 50.0

    def mid_for(self, instrument: str | None) -> float | None:
        """The MID of ``instrument`` (else ``default``; None when neither is set)."""
        return _per_instrument(self.mid, instrument)

    def ois_for(self, instrument: str | None) -> float | None:
        """The OIS of ``instrument`` (else ``default``; None when neither is set)."""
        return _per_instrument(self.ois, instrument)

    @classmethod
    def from_config(cls, config: Mapping | None) -> GradeSettings:
        """Settings from a review config (its ``grade`` section; every key optional),
        validated: an unknown key or a bad value raises :class:`ConfigError` naming it."""
        section = dict((config or {}).get("grade") or {})
        errors = sorted(_validator().iter_errors(section), key=lambda e: list(e.absolute_path))
        if errors:
            err = errors[0]
            key = ".".join(["grade", *map(str, err.absolute_path)])
            raise ConfigError(f"config key '{key}': {err.message}")
        section.pop("decisions", None)
        settings = cls(**section)
        if settings.i2_considerable < settings.i2_substantial:
            raise ConfigError(
                "config key 'grade.i2_considerable': must not be below grade.i2_substantial"
            )
        return settings


def _per_instrument(values: Mapping[str, float], instrument: str | None) -> float | None:
    if instrument is not None and instrument in values:
        return float(values[instrument])
    return float(values["default"]) if "default" in values else None


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema
    import yaml

    with open(SCHEMA, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    grade = {**schema["properties"]["grade"], "$defs": schema["$defs"]}
    return jsonschema.validators.validator_for(grade)(grade)


# One outcome ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The body of evidence of one instrument x timepoint group, from its pooled table.

    ``estimate``, ``ci_lb``, ``ci_ub``, ``pval``: the pooled row's; a single usable
    study's effect with its Wald CI when the group has one; None when the group was not
    pooled. ``weights``: percent weight of each usable study: the pooled model's, 100
    for a single study, and inverse-variance (1/vi) weights when the group has several
    usable studies but was not pooled (too few for pooling).
    """

    instrument: str
    timepoint: str
    status: str
    k: int
    n_intervention: float
    n_control: float
    measure: str | None = None
    level: float = 95.0
    estimate: float | None = None
    ci_lb: float | None = None
    ci_ub: float | None = None
    pval: float | None = None
    tau2: float | None = None
    I2: float | None = None
    pi_lb: float | None = None
    pi_ub: float | None = None
    studies: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def participants(self) -> float:
        return (self.n_intervention or 0.0) + (self.n_control or 0.0)

    @classmethod
    def from_group(cls, group: pd.DataFrame) -> Outcome:
        """The outcome of a pooled group table (data model section 5)."""
        from scipy import stats

        first = group.iloc[0]
        studies = group[(group["row_type"] == "study") & group["usable"].astype(bool)]
        pooled = group[group["row_type"] == "pooled"]
        level = _num(first.get("level")) or 95.0
        values: dict = {}
        weights: dict[str, float] = {}
        ids = tuple(str(s) for s in studies["study_id"])
        if len(pooled):
            p = pooled.iloc[0]
            for c in ("estimate", "ci_lb", "ci_ub", "pval", "tau2", "I2", "pi_lb", "pi_ub"):
                values[c] = _num(p.get(c))
            weights = {s: float(w) for s, w in zip(ids, studies["weight"], strict=True)}
        elif len(studies) == 1:
            s = studies.iloc[0]
            yi, se = float(s["yi"]), math.sqrt(float(s["vi"]))
            values = {
                "estimate": yi,
                "ci_lb": _num(s.get("ci_lb")),
                "ci_ub": _num(s.get("ci_ub")),
                "pval": float(2 * stats.norm.sf(abs(yi / se))),
            }
            weights = {ids[0]: 100.0}
        elif len(studies) > 1:
            inv = [1.0 / float(v) for v in studies["vi"]]
            weights = {s: 100.0 * w / sum(inv) for s, w in zip(ids, inv, strict=True)}
        status = first.get("status")
        return cls(
            instrument=str(first["instrument"]),
            timepoint=str(first["timepoint"]),
            status=str(status) if not is_missing(status) else "",
            k=len(studies),
            n_intervention=float(studies["n1i"].sum()) if len(studies) else 0.0,
            n_control=float(studies["n2i"].sum()) if len(studies) else 0.0,
            measure=None if is_missing(first.get("measure")) else str(first["measure"]),
            level=float(level),
            studies=ids,
            weights=weights,
            **values,
        )


def _num(value) -> float | None:
    return None if is_missing(value) else float(value)


def fmt(x: float | None, digits: int = 2) -> str:
    """A number in a rationale: fixed decimals, a true minus sign."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    s = f"{x:.{digits}f}"
    if s.startswith("-"):
        s = s[1:] if float(s) == 0 else "\u2212" + s[1:]
    return s


# Judgements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """One GRADE domain of one outcome: ``downgrade`` 0, -1 or -2 (None: not judged),
    ``rationale`` in a sentence, ``source`` ``srma`` / ``reviewer`` / ``not judged``."""

    domain: str
    downgrade: int | None
    rationale: str
    source: str
    reviewer: str | None = None

    @property
    def words(self) -> str:
        """``serious (-1)``, ``not serious``, ``not judged``."""
        if self.downgrade is None:
            return NOT_JUDGED
        words = SERIOUSNESS[self.downgrade]
        return f"{words} ({self.downgrade})" if self.downgrade else words


def propose_risk_of_bias(
    weights: Mapping[str, float],
    judgements: Mapping[str, str],
    settings: GradeSettings = GradeSettings(),
    sensitivity: pd.DataFrame | None = None,
    main: tuple[float | None, float | None, float | None] | None = None,
) -> Judgement:
    """Risk of bias, from the share of the weight at each overall judgement.

    Guyatt et al. J Clin Epidemiol 2011;64:407-415, Table 3 (Cochrane Handbook 5.1
    Table 12.2.d): no downgrade when *most information is from studies at low risk of
    bias*; serious (-1) when potential limitations are likely to lower confidence, or
    when *the proportion of information from studies at high risk of bias is sufficient
    to affect the interpretation of results*; very serious (-2) for crucial limitations
    that substantially lower confidence. GRADE rates down only when confident that
    there is substantial risk of bias *across most of the body of evidence* (ibid.). So
    srma proposes, with the shares of the weight (``weights``, percent) at high risk
    (RoB 2 high; ROBINS-I serious, critical), at low risk and in between (some
    concerns, moderate, no information):

    - -2 when studies at high risk hold more than ``majority`` (50) percent;
    - -1 when studies at low risk hold no more than ``majority`` percent;
    - -1 when studies at high risk hold some weight and leaving them out changes the
      conclusion (``sensitivity``: :func:`srma.appraisal.sensitivity.without_high_risk`
      against ``main`` = (estimate, ci_lb, ci_ub): the CI then includes no effect where
      it did not, or the other way round, or the estimate changes sign);
    - 0 otherwise.
    """
    if not weights:
        return Judgement("risk_of_bias", None, "no usable study", NOT_JUDGED)
    missing = [s for s in weights if s not in judgements]
    if missing:
        raise ValueError(f"no risk-of-bias judgement for {', '.join(missing)}")
    total = sum(weights.values())
    share = {"high": 0.0, "low": 0.0, "other": 0.0, NO_INFORMATION: 0.0}
    for sid, w in weights.items():
        j = judgements[sid]
        key = "high" if j in HIGH_RISK else "low" if j in LOW_RISK else "other"
        share[key] += 100.0 * w / total
        if j == NO_INFORMATION:
            share[NO_INFORMATION] += 100.0 * w / total
    parts = (
        f"{share['low']:.0f}% of the weight from studies at low risk of bias, "
        f"{share['other']:.0f}% with some concerns, moderate risk or no information"
        + (f" ({share[NO_INFORMATION]:.0f}% no information)" if share[NO_INFORMATION] else "")
        + f", {share['high']:.0f}% at high risk"
    )
    m = settings.majority
    if share["high"] > m:
        return Judgement(
            "risk_of_bias",
            -2,
            f"most information from studies at high risk of bias: {parts} (GRADE 4, "
            "Guyatt 2011, 64:407, Table 3: very serious limitations)",
            SRMA,
        )
    if share["low"] <= m:
        return Judgement(
            "risk_of_bias",
            -1,
            f"most information not from studies at low risk of bias: {parts} (GRADE 4, "
            "Guyatt 2011, 64:407, Table 3: serious limitations)",
            SRMA,
        )
    if share["high"] > 0 and sensitivity is not None and main is not None and len(sensitivity):
        s = sensitivity.iloc[0]
        after = (_num(s.get("estimate")), _num(s.get("ci_lb")), _num(s.get("ci_ub")))
        if _changes_conclusion(main, after):
            return Judgement(
                "risk_of_bias",
                -1,
                f"{parts}; without the studies at high risk the result changes "
                f"({fmt(main[0])} [{fmt(main[1])}, {fmt(main[2])}] -> {fmt(after[0])} "
                f"[{fmt(after[1])}, {fmt(after[2])}]): the information at high risk is "
                "sufficient to affect the interpretation (GRADE 4, Guyatt 2011, 64:407)",
                SRMA,
            )
    return Judgement(
        "risk_of_bias",
        0,
        f"most information from studies at low risk of bias: {parts} (GRADE 4, "
        "Guyatt 2011, 64:407)",
        SRMA,
    )


def _changes_conclusion(before, after) -> bool:
    if any(v is None for v in (*before, *after)):
        return False
    excludes = [not (lb <= 0 <= ub) for _, lb, ub in (before, after)]
    return excludes[0] != excludes[1] or (before[0] * after[0] < 0)


def propose_inconsistency(
    outcome: Outcome, settings: GradeSettings = GradeSettings(), mid: float | None = None
) -> Judgement:
    """Inconsistency, from I² and the prediction interval.

    Guyatt et al. J Clin Epidemiol 2011;64:1294-1302: rate down for unexplained
    heterogeneity: point estimates that vary widely, CIs with little overlap, a small
    P of the test of heterogeneity, a large I²; differences matter less when all
    effects lie on the same side of the decision threshold. I² thresholds: Cochrane
    Handbook 10.10.2 (50-90% substantial, 75-100% considerable). srma proposes:

    - not assessable with one study (no downgrade);
    - -1 when I² >= ``i2_considerable`` (75%), or when I² >= ``i2_substantial`` (50%)
      and the prediction interval includes no effect (the true effect may lie on
      either side of it in some settings);
    - -2 when I² >= ``i2_considerable`` and, with a MID, the prediction interval
      reaches important effects in both directions (below -MID and above +MID);
    - 0 otherwise (I² below 50%, or 50-75% with a prediction interval on one side of no
      effect: the effects differ in size, not direction).
    """
    if outcome.k < 2:
        why = "one study" if outcome.k == 1 else "no usable study"
        return Judgement(
            "inconsistency",
            0 if outcome.k == 1 else None,
            f"{why}: inconsistency cannot be assessed (GRADE 7, Guyatt 2011, 64:1294)",
            SRMA if outcome.k == 1 else NOT_JUDGED,
        )
    if outcome.I2 is None:
        return Judgement(
            "inconsistency",
            None,
            f"{outcome.k} studies, not pooled: no I² (status {outcome.status or 'unknown'})",
            NOT_JUDGED,
        )
    i2, lb, ub = outcome.I2, outcome.pi_lb, outcome.pi_ub
    has_pi = lb is not None and ub is not None
    pi = f"prediction interval [{fmt(lb)}, {fmt(ub)}]" if has_pi else "no prediction interval"
    crosses = (not has_pi) or lb < 0 < ub
    sub, con = settings.i2_substantial, settings.i2_considerable
    source = "(GRADE 7, Guyatt 2011, 64:1294; Cochrane Handbook 10.10.2)"
    if i2 >= con and has_pi and mid is not None and lb < -mid and ub > mid:
        return Judgement(
            "inconsistency",
            -2,
            f"I² = {i2:.0f}% (considerable, >= {con:g}%) and the {pi} reaches important "
            f"effects in both directions (beyond \u00b1{fmt(mid)}, the MID) {source}",
            SRMA,
        )
    if i2 >= con:
        return Judgement(
            "inconsistency",
            -1,
            f"I² = {i2:.0f}% (considerable, >= {con:g}%); {pi} {source}",
            SRMA,
        )
    if i2 >= sub and crosses:
        return Judgement(
            "inconsistency",
            -1,
            f"I² = {i2:.0f}% (substantial, >= {sub:g}%) and the {pi} includes no effect {source}",
            SRMA,
        )
    if i2 >= sub:
        return Judgement(
            "inconsistency",
            0,
            f"I² = {i2:.0f}% (substantial) but the {pi} excludes no effect: the effects "
            f"differ in size, not direction {source}",
            SRMA,
        )
    return Judgement("inconsistency", 0, f"I² = {i2:.0f}% (< {sub:g}%); {pi} {source}", SRMA)


def propose_imprecision(
    outcome: Outcome,
    settings: GradeSettings = GradeSettings(),
    mid: float | None = None,
    ois: float | None = None,
) -> Judgement:
    """Imprecision, from the CI against the MID and the optimal information size.

    Guyatt et al. J Clin Epidemiol 2011;64:1283-1293 and GRADE guidance 34 (Zeng et al.
    J Clin Epidemiol 2022;150:216-224, the minimally contextualised approach for
    systematic reviews): the CI is the primary criterion, judged against the
    threshold(s) of an important effect; rate down one level when it crosses one
    threshold, two when it crosses both (important benefit and important harm are both
    plausible). Precision is adequate only when the OIS (the participants of one
    adequately powered trial; rule of thumb for continuous outcomes 400, GRADE 6) is met
    too: not met, one level; *far less* than the OIS, more than one. srma proposes the
    more severe of:

    - the CI: with a MID, -2 when it includes both -MID and +MID, -1 when it includes
      one; without a MID, -1 when it includes no effect (the threshold is then the null);
    - the OIS: -1 when the participants are fewer than the OIS, -2 when fewer than
      ``ois_far_below`` (0.5) times the OIS (srma's reading of "far less"); not judged
      when no OIS is set (the rationale says so).
    """
    if outcome.k == 0 or outcome.estimate is None or outcome.ci_lb is None:
        why = "no usable study" if outcome.k == 0 else f"{outcome.k} studies, not pooled"
        return Judgement("imprecision", None, f"{why}: no effect estimate", NOT_JUDGED)
    lb, ub = outcome.ci_lb, outcome.ci_ub
    ci = f"the {outcome.level:g}% CI [{fmt(lb)}, {fmt(ub)}]"
    n = outcome.participants
    source = "(GRADE 6, Guyatt 2011, 64:1283; GRADE 34, Zeng 2022)"
    if mid is not None:
        low_edge, high_edge = lb < -mid < ub, lb < mid < ub
        if low_edge and high_edge:
            ci_down = -2
            ci_text = (
                f"{ci} includes important effects in both directions (crosses "
                f"\u2212{fmt(mid)} and +{fmt(mid)}, the MID)"
            )
        elif low_edge or high_edge:
            ci_down = -1
            edge = -mid if low_edge else mid
            ci_text = f"{ci} crosses {fmt(edge)} (the MID): important and unimportant effects"
        else:
            ci_down, ci_text = 0, f"{ci} crosses neither \u00b1{fmt(mid)} (the MID)"
    elif lb < 0 < ub:
        ci_down, ci_text = -1, f"{ci} includes no effect (no MID set: judged against the null)"
    else:
        ci_down, ci_text = 0, f"{ci} excludes no effect (no MID set)"
    if ois is None:
        ois_down, ois_text = 0, "no OIS set, so the sample size was not judged"
    elif n < settings.ois_far_below * ois:
        ois_down = -2
        ois_text = (
            f"{n:.0f} participants are far below the OIS of {ois:g} (fewer than "
            f"{settings.ois_far_below:g} x OIS)"
        )
    elif n < ois:
        ois_down, ois_text = -1, f"{n:.0f} participants do not reach the OIS of {ois:g}"
    else:
        ois_down, ois_text = 0, f"{n:.0f} participants reach the OIS of {ois:g}"
    down = min(ci_down, ois_down)
    return Judgement(
        "imprecision", down, f"{ci_text}; {ois_text}" + (f" {source}" if down else ""), SRMA
    )


def propose_publication_bias(
    outcome: Outcome, regtest: pd.DataFrame | None, settings: GradeSettings = GradeSettings()
) -> Judgement:
    """Publication bias, from Egger's regression test (the ``regtest`` table of the
    group, data model section 5).

    Guyatt et al. J Clin Epidemiol 2011;64:1277-1282: rate down when publication bias
    is strongly suspected, e.g. from funnel-plot asymmetry. Tests for asymmetry should
    be used only with at least 10 studies (Sterne et al. BMJ 2011;343:d4002; Cochrane
    Handbook, chapter 13), and Egger's test uses P < 0.10 (Egger et al. BMJ
    1997;315:629-634). srma proposes, with at least ``egger_min_studies`` (10) studies:
    -1 when Egger's P < ``egger_alpha`` (0.10), else 0 (undetected, not ruled out). With
    fewer studies, or no test, it proposes nothing: the reviewer judges (e.g. from the
    search, registries, industry funding, small positive studies).
    """
    k = outcome.k
    source = "(GRADE 5, Guyatt 2011, 64:1277; Sterne 2011, BMJ 343:d4002)"
    if k < settings.egger_min_studies:
        return Judgement(
            "publication_bias",
            None,
            f"{k} stud{'y' if k == 1 else 'ies'}, fewer than {settings.egger_min_studies}: "
            f"funnel-plot tests are not informative; the reviewer's judgement {source}",
            NOT_JUDGED,
        )
    row = regtest.iloc[0] if regtest is not None and len(regtest) else None
    if row is None or str(row.get("status")) != "tested" or _num(row.get("pval")) is None:
        why = "" if row is None or is_missing(row.get("reason")) else f" ({row.get('reason')})"
        return Judgement(
            "publication_bias",
            None,
            f"{k} studies but no Egger's test{why}: the reviewer's judgement",
            NOT_JUDGED,
        )
    p = float(row["pval"])
    ptext = "P < 0.001" if p < 0.001 else f"P = {p:.3f}"
    if p < settings.egger_alpha:
        return Judgement(
            "publication_bias",
            -1,
            f"Egger's test {ptext} (< {settings.egger_alpha:g}, {k} studies): funnel-plot "
            f"asymmetry, small-study effects suspected {source}",
            SRMA,
        )
    return Judgement(
        "publication_bias",
        0,
        f"Egger's test {ptext} (>= {settings.egger_alpha:g}, {k} studies): no evidence of "
        f"asymmetry, which does not rule publication bias out {source}",
        SRMA,
    )


def propose_indirectness() -> Judgement:
    """Indirectness: always the reviewer's (population, intervention, comparator and
    outcome against the review question; Guyatt et al. J Clin Epidemiol
    2011;64:1303-1310). srma has no data to judge it."""
    return Judgement(
        "indirectness",
        None,
        "the reviewer's judgement (population, intervention, comparator, outcome against "
        "the review question; GRADE 8, Guyatt 2011, 64:1303)",
        NOT_JUDGED,
    )


def propose(
    outcome: Outcome,
    rob_judgements: Mapping[str, str],
    *,
    regtest: pd.DataFrame | None = None,
    sensitivity: pd.DataFrame | None = None,
    settings: GradeSettings = GradeSettings(),
) -> dict[str, Judgement]:
    """srma's proposal for every domain of ``outcome`` (domain -> :class:`Judgement`).
    ``rob_judgements``: study id -> overall risk of bias for this outcome
    (:func:`srma.appraisal.load.overall_judgements` of
    :func:`srma.appraisal.load.for_outcome`); ``regtest``: the group's Egger table;
    ``sensitivity``: the group without its studies at high risk."""
    mid = settings.mid_for(outcome.instrument)
    ois = settings.ois_for(outcome.instrument)
    main = (outcome.estimate, outcome.ci_lb, outcome.ci_ub)
    return {
        "risk_of_bias": propose_risk_of_bias(
            outcome.weights, rob_judgements, settings, sensitivity, main
        ),
        "inconsistency": propose_inconsistency(outcome, settings, mid),
        "indirectness": propose_indirectness(),
        "imprecision": propose_imprecision(outcome, settings, mid, ois),
        "publication_bias": propose_publication_bias(outcome, regtest, settings),
    }


# The reviewer's decisions -----------------------------------------------------------------

#: Columns of the decisions file (``reviewer`` optional).
DECISION_COLUMNS = ("instrument", "timepoint", "domain", "downgrade", "reason", "reviewer")
REQUIRED_COLUMNS = DECISION_COLUMNS[:5]
#: Accepted spellings of a downgrade.
DOWNGRADE_WORDS = {
    "0": 0,
    "-1": -1,
    "-2": -2,
    "\u22121": -1,
    "\u22122": -2,
    "not serious": 0,
    "none": 0,
    "serious": -1,
    "very serious": -2,
}


@dataclass(frozen=True)
class Decision:
    """One row of the decisions file: the reviewer's downgrade for one domain of the
    outcomes it names (``instrument`` / ``timepoint`` None: every one)."""

    instrument: str | None
    timepoint: str | None
    domain: str
    downgrade: int
    reason: str
    reviewer: str | None = None
    line: int | None = None

    def applies(self, instrument: str, timepoint: str) -> bool:
        return self.instrument in (None, instrument) and self.timepoint in (None, timepoint)

    @property
    def specificity(self) -> int:
        return (self.instrument is not None) * 2 + (self.timepoint is not None)


def load_decisions(
    path: str | Path, *, config: Mapping | None = None, missing_ok: bool = True
) -> list[Decision]:
    """The reviewer's GRADE decisions (CSV, UTF-8, header row; docs/risk-of-bias.md).

    Columns ``instrument, timepoint, domain, downgrade, reason`` and optional
    ``reviewer``. An empty ``instrument`` or ``timepoint`` means every one (a decision
    for one outcome wins over one for the instrument, which wins over one for every
    outcome). ``domain``: one of :data:`DOMAINS`; ``downgrade``: 0, -1, -2 (or ``not
    serious``, ``serious``, ``very serious``); ``reason`` is required. Errors name the
    file, the line and the column: an unknown column, domain, instrument or timepoint
    (``config`` given), a bad downgrade, a missing reason, two decisions for the same
    outcome and domain. A missing file is no decisions (``missing_ok``)."""
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return []
        raise InputError(path, "file not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 (byte {err.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    header = [h.strip() for h in header]
    line = reader.line_num
    for h in header:
        if h not in DECISION_COLUMNS:
            raise InputError(
                path,
                f"unknown column {h!r}; expected: {', '.join(DECISION_COLUMNS)}",
                line=1,
                field=h,
            )
    for h in REQUIRED_COLUMNS:
        if h not in header:
            raise InputError(path, "required column is missing", line=1, field=h)
    instruments = (config or {}).get("instruments")
    timepoints = (config or {}).get("timepoints")
    out: list[Decision] = []
    seen: dict[tuple, int] = {}
    for cells in reader:
        start = line + 1
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(path, f"{len(cells)} cells, the header has {len(header)}", line=start)
        row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        record = ", ".join(x for x in (row["instrument"], row["timepoint"]) if x) or None

        def fail(message: str, column: str, record=record, start=start):
            raise InputError(path, message, line=start, record=record, field=column)

        if row["domain"] not in DOMAINS:
            fail(
                f"{row['domain']!r} is not a GRADE domain; expected: {', '.join(DOMAINS)}", "domain"
            )
        if instruments is not None and row["instrument"] and row["instrument"] not in instruments:
            fail(
                f"unknown instrument {row['instrument']!r}; expected one of: "
                f"{', '.join(instruments)}",
                "instrument",
            )
        if timepoints is not None and row["timepoint"] and row["timepoint"] not in timepoints:
            fail(
                f"unknown timepoint {row['timepoint']!r}; expected one of: {', '.join(timepoints)}",
                "timepoint",
            )
        down = DOWNGRADE_WORDS.get(row["downgrade"].lower())
        if down is None:
            fail(
                f"{row['downgrade']!r} is not a downgrade; expected 0, -1, -2 (or not "
                "serious, serious, very serious)",
                "downgrade",
            )
        if not row["reason"]:
            fail("every decision needs its reason", "reason")
        key = (row["instrument"] or None, row["timepoint"] or None, row["domain"])
        if key in seen:
            fail(f"line {seen[key]} already decides {row['domain']} here; keep one", "domain")
        seen[key] = start
        out.append(
            Decision(
                instrument=key[0],
                timepoint=key[1],
                domain=row["domain"],
                downgrade=down,
                reason=row["reason"],
                reviewer=row.get("reviewer") or None,
                line=start,
            )
        )
    return out


def decision_for(
    decisions: Iterable[Decision], instrument: str, timepoint: str, domain: str
) -> Decision | None:
    """The most specific decision for this outcome and domain (None if none)."""
    fitting = [d for d in decisions if d.domain == domain and d.applies(instrument, timepoint)]
    return max(fitting, key=lambda d: d.specificity) if fitting else None


# The rating -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    """The GRADE rating of one outcome: srma's proposals, the final judgement of each
    domain (the reviewer's decision where there is one) and the certainty."""

    outcome: Outcome
    proposals: Mapping[str, Judgement]
    final: Mapping[str, Judgement]

    @property
    def downgrade(self) -> int:
        """Levels rated down in all (not-judged domains count 0)."""
        return sum(j.downgrade or 0 for j in self.final.values())

    @property
    def certainty(self) -> str | None:
        """``high`` ... ``very low``; None for an outcome without usable data."""
        if self.outcome.k == 0:
            return None
        return LEVELS[max(0, len(LEVELS) - 1 + self.downgrade)]

    @property
    def not_judged(self) -> list[str]:
        return [d for d in DOMAINS if self.final[d].source == NOT_JUDGED]

    @property
    def decided_by(self) -> str:
        """Who decided each domain, e.g. ``risk of bias: srma; indirectness: reviewer
        (srma: not judged); ...``."""
        parts = []
        for d in DOMAINS:
            j, p = self.final[d], self.proposals[d]
            text = f"{DOMAIN_NAMES[d].lower()}: {j.source}"
            if j.source == REVIEWER and p.downgrade != j.downgrade:
                text += f" (srma proposed {p.words})"
            parts.append(text)
        return "; ".join(parts)


def rate(
    outcome: Outcome, proposals: Mapping[str, Judgement], decisions: Iterable[Decision] = ()
) -> Rating:
    """Combine srma's ``proposals`` with the reviewer's ``decisions``: a decision for a
    domain replaces the proposal (``source`` ``reviewer``, its reason as rationale)."""
    decisions = list(decisions)
    final = {}
    for d in DOMAINS:
        decision = decision_for(decisions, outcome.instrument, outcome.timepoint, d)
        if decision is None:
            final[d] = proposals[d]
        else:
            final[d] = Judgement(
                d, decision.downgrade, decision.reason, REVIEWER, reviewer=decision.reviewer
            )
    return Rating(outcome, dict(proposals), final)


def rate_outcomes(
    groups: Iterable[pd.DataFrame],
    rob: pd.DataFrame,
    *,
    regtests: Mapping[tuple[str, str], pd.DataFrame] | None = None,
    sensitivity: Mapping[tuple[str, str], pd.DataFrame] | None = None,
    decisions: Iterable[Decision] = (),
    settings: GradeSettings = GradeSettings(),
) -> list[Rating]:
    """Rate every group (pooled tables, in the order given: e.g. the config's order of
    instruments and timepoints; ``regtests`` and ``sensitivity`` keyed by
    (instrument, timepoint))."""
    from srma.appraisal.load import for_outcome, overall_judgements

    decisions = list(decisions)
    ratings = []
    for group in groups:
        if group is None or not len(group):
            continue
        outcome = Outcome.from_group(group)
        key = (outcome.instrument, outcome.timepoint)
        judgements = overall_judgements(for_outcome(rob, *key)) if len(rob) else {}
        proposals = propose(
            outcome,
            judgements,
            regtest=(regtests or {}).get(key),
            sensitivity=(sensitivity or {}).get(key),
            settings=settings,
        )
        ratings.append(rate(outcome, proposals, decisions))
    return ratings


#: Columns of :func:`grade_table`.
GRADE_COLUMNS = [
    "instrument",
    "timepoint",
    "domain",
    "proposed",
    "proposed_by",
    "proposal",
    "downgrade",
    "decided_by",
    "rationale",
    "reviewer",
    "certainty",
]


def grade_table(ratings: Iterable[Rating]) -> pd.DataFrame:
    """One row per outcome x domain: srma's proposal (``proposed`` levels, ``proposed_by``
    ``srma``/``not judged``, its ``proposal`` rationale), the final ``downgrade``,
    ``decided_by`` (``srma``, ``reviewer``, ``not judged``) and its ``rationale``, the
    ``reviewer`` named in the decisions file, and the outcome's ``certainty``."""
    rows = []
    for r in ratings:
        for d in DOMAINS:
            p, f = r.proposals[d], r.final[d]
            rows.append(
                {
                    "instrument": r.outcome.instrument,
                    "timepoint": r.outcome.timepoint,
                    "domain": d,
                    "proposed": p.downgrade,
                    "proposed_by": p.source,
                    "proposal": p.rationale,
                    "downgrade": f.downgrade,
                    "decided_by": f.source,
                    "rationale": f.rationale,
                    "reviewer": f.reviewer,
                    "certainty": r.certainty,
                }
            )
    table = pd.DataFrame(rows, columns=GRADE_COLUMNS)
    for c in GRADE_COLUMNS:
        table[c] = table[c].astype("Int64" if c in ("proposed", "downgrade") else "string")
    return table


def unmatched(decisions: Iterable[Decision], ratings: Iterable[Rating]) -> list[Decision]:
    """Decisions that apply to none of the rated outcomes (a typo in an instrument or
    timepoint key, or an outcome without data): the workflow should name them."""
    outcomes = [(r.outcome.instrument, r.outcome.timepoint) for r in ratings]
    return [d for d in decisions if not any(d.applies(i, t) for i, t in outcomes)]
