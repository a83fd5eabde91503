"""RoB 2's overall risk-of-bias judgement from its five domain judgements.

Sterne JAC, Savović J, Page MJ, et al. RoB 2: a revised tool for assessing risk of bias
in randomised trials. BMJ 2019;366:l4898 (table "Reaching an overall risk-of-bias
judgement for a specific outcome"; the same rules in the RoB 2 full guidance document,
riskofbias.info, version of 22 August 2019):

- **low risk of bias**: the trial is judged to be at low risk of bias for all domains
  for this result;
- **some concerns**: the trial is judged to raise some concerns in at least one domain
  for this result, but not to be at high risk of bias for any domain;
- **high risk of bias**: the trial is judged to be at high risk of bias in at least one
  domain for this result, *or* the trial is judged to have some concerns for multiple
  domains in a way that substantially lowers confidence in the result.

The last clause is a judgement, not a rule: with some concerns in two or more domains
(and no domain at high risk) srma proposes ``some concerns``, the table's mechanical
reading, and the reviewer may raise it to ``high`` with a reason. Nowhere else does the
tool leave room: an overall judgement below the most severe domain, or ``high`` with some
concerns in one domain only, is an error.

Domains without information (``no information``, srma's addition for reports that could
not be assessed; not a RoB 2 domain judgement): a domain at high risk still makes the
result high; otherwise the overall judgement is ``no information``, because neither
"low for all domains" nor "some concerns in at least one domain" can be established. The
reviewer may enter ``some concerns`` or ``high`` instead, with a reason, if it is not
below the most severe domain with information (``low`` is impossible while a domain has
no information).
"""

from __future__ import annotations

from collections.abc import Mapping

from srma.appraisal.tools import NO_INFORMATION, ROB2, Overall

TOOL = ROB2
SOURCE = "Sterne et al. BMJ 2019;366:l4898"


def overall(domains: Mapping[str, str]) -> Overall:
    """The overall judgement for ``domains`` (``{"D1": "low", ..., "D5": ...}``, all
    five), by the table above. Raises ValueError on a missing domain or an unknown
    judgement."""
    values = _values(domains)
    if "high" in values:
        n = values.count("high")
        return Overall(
            "high",
            f"high risk of bias in {n} domain{'s' if n > 1 else ''}: high overall ({SOURCE})",
        )
    if NO_INFORMATION in values:
        worst = TOOL.severest(values)
        floor = max(TOOL.rank(worst) if worst else 0, TOOL.rank("some concerns"))
        return Overall(
            NO_INFORMATION,
            f"{values.count(NO_INFORMATION)} domain(s) without information and none at "
            "high risk: neither 'low for all domains' nor 'some concerns' can be "
            f"established (srma's reading of {SOURCE})",
            tuple(level for level in TOOL.levels if TOOL.rank(level) >= floor),
        )
    concerns = values.count("some concerns")
    if concerns == 0:
        return Overall("low", f"low risk of bias for all domains ({SOURCE})")
    if concerns == 1:
        return Overall(
            "some concerns",
            f"some concerns in one domain, none at high risk ({SOURCE})",
        )
    return Overall(
        "some concerns",
        f"some concerns in {concerns} domains, none at high risk: 'some concerns', or "
        "'high' when they substantially lower confidence in the result, a judgement "
        f"({SOURCE})",
        ("high",),
    )


def _values(domains: Mapping[str, str]) -> list[str]:
    missing = [d for d in TOOL.domains if d not in domains]
    if missing:
        raise ValueError(f"RoB 2 needs every domain: {', '.join(missing)} missing")
    values = [domains[d] for d in TOOL.domains]
    for d, v in zip(TOOL.domains, values, strict=True):
        if v not in TOOL.judgements:
            raise ValueError(f"{d}: {v!r} is not a RoB 2 judgement ({', '.join(TOOL.judgements)})")
    return values
