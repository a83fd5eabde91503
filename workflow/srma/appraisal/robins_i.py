"""ROBINS-I's overall risk-of-bias judgement from its seven domain judgements.

Sterne JAC, Hernán MA, Reeves BC, et al. ROBINS-I: a tool for assessing risk of bias in
non-randomised studies of interventions. BMJ 2016;355:i4919, table "Interpretation of
domain level and overall risk of bias judgements in ROBINS-I", overall judgement:

- **low**: the study is judged to be at low risk of bias for all domains;
- **moderate**: the study is judged to be at low or moderate risk of bias for all
  domains;
- **serious**: the study is judged to be at serious risk of bias in at least one domain,
  but not at critical risk of bias in any domain;
- **critical**: the study is judged to be at critical risk of bias in at least one
  domain;
- **no information**: there is no clear indication that the study is at serious or
  critical risk of bias and there is a lack of information in one or more key domains
  of bias (a judgement is required for this).

So the overall judgement is the most severe domain judgement, and a domain at serious or
critical risk decides it whatever the others lack. With a domain without information and
none at serious or critical risk, srma proposes ``no information`` (every domain is
treated as key); the reviewer, who decides which domains are key, may enter the
judgement of the domains with information instead (or a more severe one), with a reason.
Nothing else may differ from the table.
"""

from __future__ import annotations

from collections.abc import Mapping

from srma.appraisal.tools import NO_INFORMATION, ROBINS_I, Overall

TOOL = ROBINS_I
SOURCE = "Sterne et al. BMJ 2016;355:i4919"


def overall(domains: Mapping[str, str]) -> Overall:
    """The overall judgement for ``domains`` (``{"D1": ..., ..., "D7": ...}``, all
    seven), by the table above. Raises ValueError on a missing domain or an unknown
    judgement."""
    values = _values(domains)
    for level in ("critical", "serious"):
        if level in values:
            n = values.count(level)
            extra = "" if level == "critical" else ", none at critical risk"
            return Overall(
                level,
                f"{level} risk of bias in {n} domain{'s' if n > 1 else ''}{extra} ({SOURCE})",
            )
    if NO_INFORMATION in values:
        worst = TOOL.severest(values) or "low"
        return Overall(
            NO_INFORMATION,
            f"no domain at serious or critical risk and {values.count(NO_INFORMATION)} "
            "domain(s) without information: 'no information' when they are key domains, "
            f"a judgement ({SOURCE})",
            tuple(level for level in TOOL.levels if TOOL.rank(level) >= TOOL.rank(worst)),
        )
    if "moderate" in values:
        return Overall("moderate", f"low or moderate risk of bias for all domains ({SOURCE})")
    return Overall("low", f"low risk of bias for all domains ({SOURCE})")


def _values(domains: Mapping[str, str]) -> list[str]:
    missing = [d for d in TOOL.domains if d not in domains]
    if missing:
        raise ValueError(f"ROBINS-I needs every domain: {', '.join(missing)} missing")
    values = [domains[d] for d in TOOL.domains]
    for d, v in zip(TOOL.domains, values, strict=True):
        if v not in TOOL.judgements:
            raise ValueError(
                f"{d}: {v!r} is not a ROBINS-I judgement ({', '.join(TOOL.judgements)})"
            )
    return values
