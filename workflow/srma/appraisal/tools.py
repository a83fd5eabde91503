"""The two risk-of-bias tools srma knows: their domains and judgement scales.

- ``rob2``: the revised Cochrane risk-of-bias tool for randomised trials, RoB 2
  (Sterne JAC et al. BMJ 2019;366:l4898), five domains;
- ``robins_i``: Risk Of Bias In Non-randomised Studies - of Interventions, ROBINS-I
  (Sterne JAC et al. BMJ 2016;355:i4919), seven domains.

Judgements are the tools' own words, in lower case. ``no information`` is a judgement of
ROBINS-I; RoB 2 reaches its domain judgements from answers that may be "no information",
but has no such domain judgement itself: srma allows it for RoB 2 domains too (as robvis
draws it), for domains whose report could not be read, and says so wherever it is used
(see :mod:`srma.appraisal.rob2`).

A third value of ``tool``, ``none``, marks a study neither tool applies to (an
uncontrolled cohort, which compares no interventions): it has no domains.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_INFORMATION = "no information"


@dataclass(frozen=True)
class Tool:
    """One risk-of-bias tool."""

    key: str
    name: str
    reference: str
    #: domain key (``D1`` ...) -> domain name, in the tool's order
    domains: dict[str, str]
    #: judgements from the least to the most severe (``no information`` not included)
    levels: tuple[str, ...]

    @property
    def judgements(self) -> tuple[str, ...]:
        """Every judgement a domain may take: the levels, then ``no information``."""
        return (*self.levels, NO_INFORMATION)

    def rank(self, judgement: str) -> int:
        """0 for the least severe level; ``no information`` has no rank (ValueError)."""
        return self.levels.index(judgement)

    def severest(self, judgements) -> str | None:
        """The most severe of ``judgements`` (``no information`` ignored); None if none."""
        ranked = [j for j in judgements if j in self.levels]
        return max(ranked, key=self.rank) if ranked else None


ROB2 = Tool(
    key="rob2",
    name="RoB 2",
    reference="Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in "
    "randomised trials. BMJ 2019;366:l4898",
    domains={
        "D1": "Randomisation process",
        "D2": "Deviations from intended interventions",
        "D3": "Missing outcome data",
        "D4": "Measurement of the outcome",
        "D5": "Selection of the reported result",
    },
    levels=("low", "some concerns", "high"),
)

ROBINS_I = Tool(
    key="robins_i",
    name="ROBINS-I",
    reference="Sterne JAC et al. ROBINS-I: a tool for assessing risk of bias in "
    "non-randomised studies of interventions. BMJ 2016;355:i4919",
    domains={
        "D1": "Confounding",
        "D2": "Selection of participants",
        "D3": "Classification of interventions",
        "D4": "Deviations from intended interventions",
        "D5": "Missing data",
        "D6": "Measurement of outcomes",
        "D7": "Selection of the reported result",
    },
    levels=("low", "moderate", "serious", "critical"),
)

TOOLS: dict[str, Tool] = {ROB2.key: ROB2, ROBINS_I.key: ROBINS_I}

#: ``tool`` of a study that neither tool applies to (no comparison of interventions).
NOT_APPLICABLE = "none"

#: The design of an extraction file (``design``) -> the tool for it.
TOOL_FOR_DESIGN = {"rct": "rob2", "controlled_cohort": "robins_i", "cohort": NOT_APPLICABLE}

#: Judgements that count as "high risk" for GRADE's risk-of-bias domain and for the
#: sensitivity analysis without studies at high risk.
HIGH_RISK = frozenset({"high", "serious", "critical"})
#: Judgements that count as "low risk".
LOW_RISK = frozenset({"low"})


@dataclass(frozen=True)
class Overall:
    """The overall judgement a tool's published algorithm gives for a set of domain
    judgements.

    ``judgement`` is the tool's (or srma's, where the tool leaves it to judgement)
    proposal; ``rule`` the sentence of the decision table that applies, with its
    source; ``alternatives`` the other overall judgements a reviewer may enter instead,
    each only with a reason (empty where the tool's rule is mechanical, and a differing
    judgement is an error).
    """

    judgement: str
    rule: str
    alternatives: tuple[str, ...] = ()

    def check(self, given: str, reason: str | None) -> str | None:
        """None when ``given`` (a reviewer's overall judgement) may stand, else why not."""
        if given == self.judgement:
            return None
        if given not in self.alternatives:
            allowed = (
                f"; with a reason it may be: {', '.join(repr(a) for a in self.alternatives)}"
                if self.alternatives
                else "; the tool leaves no room for judgement here"
            )
            return (
                f"overall {given!r} differs from the tool's algorithm, which gives "
                f"{self.judgement!r} ({self.rule}){allowed}"
            )
        if not (reason or "").strip():
            return (
                f"overall {given!r} differs from the algorithm's {self.judgement!r} "
                f"({self.rule}): give the reason in 'reason'"
            )
        return None
