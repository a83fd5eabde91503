"""The text a published review gives around its risk-of-bias figures and its summary of
findings, generated from srma's two appraisal tables.

PRISMA 2020 items 18 (risk of bias in studies) and 22 (certainty of evidence) ask for
the judgements in words: how many studies were assessed with which tool and how many are
at low, some concerns and high risk overall (Cochrane Handbook 6.4, chapter 7.8 and
14.2: a summary of the risk-of-bias assessment per outcome; the certainty of each
outcome with the reasons for downgrading). srma adds who made each judgement (the tools'
algorithm or srma's GRADE proposal vs the reviewer) and what is still open (studies
``not assessed``, domains with ``no information``, GRADE domains ``not judged``).

- :func:`rob_sentences`: from ``results/tables/risk_of_bias.csv``
  (:func:`srma.appraisal.load.rob_table`, plus the workflow's ``not assessed`` rows);
- :func:`certainty_sentences`: from ``results/tables/summary_of_findings.csv``
  (:func:`srma.appraisal.sof.sof_table`): the certainty of each outcome, each domain
  rated down with its level, who decided it and its reason (the table's footnotes),
  the reviewer's decisions that rate nothing down, and the domains not judged;
- :func:`appraisal_html`: both as an HTML fragment (the results page and the report's
  captions include it).

Nothing here names a domain of the review: outcomes are the SoF table's ``outcome``
labels (from the config), studies their ids. Same tables, same text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import pandas as pd

from srma.appraisal.grade import DOMAIN_NAMES, DOMAINS, NOT_JUDGED, REVIEWER, SERIOUSNESS, SRMA
from srma.appraisal.tools import NO_INFORMATION, NOT_APPLICABLE, TOOLS

#: Judgement of the one row of a study without a risk-of-bias file (the workflow's).
NOT_ASSESSED = "not assessed"
#: Judgement of the one row of a study no tool applies to (``tool: none``).
NOT_APPLICABLE_JUDGEMENT = "not applicable"

#: How a tool's levels read in a count ("5 at low risk").
LEVEL_WORDS = {
    "low": "at low risk",
    "some concerns": "with some concerns",
    "high": "at high risk",
    "moderate": "at moderate risk",
    "serious": "at serious risk",
    "critical": "at critical risk",
    NO_INFORMATION: "with no information",
}
#: What each tool is used for (docs/risk-of-bias.md, section 1).
TOOL_DESIGNS = {
    "rob2": ("randomised trial", "randomised trials"),
    "robins_i": ("non-randomised controlled study", "non-randomised controlled studies"),
}
LEVELS_DOWN = {-1: "one level", -2: "two levels"}

_DOMAIN = "|".join(re.escape(n) for n in DOMAIN_NAMES.values())
#: A footnote of the SoF table: ``a: Risk of bias, serious (-1), srma: why`` ...
_NOTE = re.compile(
    rf"^(?P<letter>[a-z]+): (?P<domain>{_DOMAIN}), (?P<words>[^,]+), "
    r"(?P<who>srma|reviewer(?: \([^)]*\))?): (?P<why>.*)$"
)
#: ... or ``b: Publication bias: not judged yet (why)``.
_OPEN = re.compile(rf"^(?P<letter>[a-z]+): (?P<domain>{_DOMAIN}): not judged yet \((?P<why>.*)\)$")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _names(ids: Sequence[str], most: int = 8) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _study_level(rob: pd.DataFrame) -> pd.DataFrame:
    for col in ("study_id", "tool", "domain", "judgement"):
        if col not in rob.columns:
            raise ValueError(f"risk-of-bias table: column {col!r} missing")
    inst = rob["instrument"] if "instrument" in rob.columns else pd.Series(pd.NA, rob.index)
    return rob[inst.isna()]


def rob_sentences(rob: pd.DataFrame) -> list[str]:
    """Sentences on the study-level risk of bias (one scope per study).

    1. How many studies were assessed, with which tool; those no tool applies to; those
       not assessed yet (no file).
    2. Per tool, the overall judgements counted by level (every level of the tool, and
       ``no information`` when any).
    3. Who decided the overall judgements: the algorithm's, and each reviewer's judgement
       that differs from it with the algorithm's and the reason.
    4. The domain judgements without information; outcome entries that differ.
    """
    study = _study_level(rob)
    overall = study[study["domain"] == "overall"]
    studies = list(dict.fromkeys(overall["study_id"].astype(str)))
    pending = overall[overall["judgement"] == NOT_ASSESSED]
    excluded = overall[overall["tool"] == NOT_APPLICABLE]
    assessed = overall[(overall["judgement"] != NOT_ASSESSED) & (overall["tool"] != NOT_APPLICABLE)]
    out = []
    if not len(overall):
        return ["No study was assessed for risk of bias."]
    by_tool = [
        f"{_count(int((assessed['tool'] == key).sum()), *TOOL_DESIGNS[key])} with {tool.name}"
        for key, tool in TOOLS.items()
        if (assessed["tool"] == key).any()
    ]
    first = f"Risk of bias was assessed for {len(assessed)} of {len(studies)} studies"
    first += (": " + " and ".join(by_tool)) if by_tool else ""
    out.append(first + ".")
    if len(excluded):
        out.append(
            f"{_count(len(excluded), 'study compares', 'studies compare')} no interventions, "
            f"so no tool applies: {_names(excluded['study_id'].astype(str))}."
        )
    if len(pending):
        out.append(
            f"{_count(len(pending), 'study was', 'studies were')} not assessed (no "
            f"risk-of-bias file yet): {_names(pending['study_id'].astype(str))}."
        )
    for key, tool in TOOLS.items():
        rows = assessed[assessed["tool"] == key]
        if not len(rows):
            continue
        judgements = list(rows["judgement"].astype(str))
        levels = [*tool.levels] + ([NO_INFORMATION] if NO_INFORMATION in judgements else [])
        counts = ", ".join(f"{judgements.count(j)} {LEVEL_WORDS[j]}" for j in levels)
        out.append(f"Overall ({tool.name}): {counts}.")
    if len(assessed) and "origin" in assessed.columns:
        own = assessed[assessed["origin"] == "reviewer"]
        n_algo = len(assessed) - len(own)
        sentence = (
            f"The overall judgements of {_count(n_algo, 'study', 'studies')} are the tools' "
            "algorithm's"
        )
        if len(own):
            changes = "; ".join(
                f"{r.study_id}: {r.judgement} instead of {r.algorithm}"
                + (f" ({str(r.reason).rstrip('.')})" if not pd.isna(r.reason) else "")
                for r in own.itertuples()
            )
            sentence += f"; the reviewers' for {len(own)} ({changes})"
        out.append(sentence + ".")
    domains = study[~study["domain"].isin(["overall"])]
    domains = domains[domains["study_id"].isin(assessed["study_id"])]
    if len(domains):
        noinfo = domains[domains["judgement"] == NO_INFORMATION]
        out.append(
            f"{len(noinfo)} of {len(domains)} domain judgements are \u201cno information\u201d"
            + (
                f" ({_count(noinfo['study_id'].nunique(), 'study', 'studies')})."
                if len(noinfo)
                else "."
            )
        )
    inst = rob["instrument"] if "instrument" in rob.columns else pd.Series(pd.NA, rob.index)
    entries = rob[inst.notna() & (rob["domain"] == "overall")]
    if len(entries):
        out.append(
            f"{_count(len(entries), 'outcome entry gives', 'outcome entries give')} "
            "judgements for one outcome that differ from the study level "
            f"({_names(sorted(set(entries['study_id'].astype(str))))})."
        )
    return out


def footnotes(text: object) -> dict[str, dict[str, str]]:
    """domain key -> the SoF footnote's parts (``letter``, ``words``, ``who``, ``why``)
    from a row's ``footnotes`` cell (:func:`srma.appraisal.sof.sof_table`)."""
    if text is None or pd.isna(text):
        return {}
    keys = {name: key for key, name in DOMAIN_NAMES.items()}
    out = {}
    for note in re.split(r" \| (?=[a-z]+: )", str(text)):
        m = _NOTE.match(note) or _OPEN.match(note)
        if m:
            parts = m.groupdict()
            out[keys[parts["domain"]]] = {
                k: parts.get(k) or "" for k in ("letter", "words", "who", "why")
            }
    return out


def _by(who: str) -> str:
    """``srma``/``reviewer (CD)`` -> "srma's proposal" / "the reviewer's (CD)"."""
    if who.startswith(REVIEWER):
        return "the reviewer's judgement" + who[len(REVIEWER) :]
    return "srma's proposal"


def certainty_sentences(sof: pd.DataFrame) -> list[str]:
    """One sentence per outcome of the summary-of-findings table: studies,
    participants and the effect (the table's ``effect`` text), the certainty, the
    domains rated down (levels, who decided, the reason), the reviewer's judgements
    that rate nothing down, the domains not judged yet; then one sentence counting the
    domain judgements by who made them."""
    for col in ("outcome", "certainty", "footnotes", *DOMAINS, *(f"{d}_by" for d in DOMAINS)):
        if col not in sof.columns:
            raise ValueError(f"summary-of-findings table: column {col!r} missing")
    out = []
    who_counts = {SRMA: 0, REVIEWER: 0, NOT_JUDGED: 0}
    for _, row in sof.iterrows():
        name = str(row["outcome"])
        k = 0 if pd.isna(row.get("studies")) else int(row["studies"])
        if pd.isna(row["certainty"]) or not k:
            out.append(f"{name}: not rated (no usable data).")
            continue
        notes = footnotes(row["footnotes"])
        n = row.get("participants")
        size = _count(k, "study", "studies") + (
            "" if n is None or pd.isna(n) else f", {float(n):.0f} participants"
        )
        effect = row.get("effect")
        if effect is not None and not pd.isna(effect):
            size += f"; {effect}"
        symbols = row.get("certainty_symbols")
        symbols = "" if symbols is None or pd.isna(symbols) else f" ({symbols})"
        down, kept, open_ = [], [], []
        for d in DOMAINS:
            by = str(row[f"{d}_by"])
            who_counts[by] = who_counts.get(by, 0) + 1
            note = notes.get(d, {})
            if by == NOT_JUDGED:
                open_.append(DOMAIN_NAMES[d].lower())
                continue
            level = int(row[d])
            if level:
                who = _by(note.get("who", by))
                why = note.get("why", "")
                down.append(
                    f"{DOMAIN_NAMES[d].lower()} by {LEVELS_DOWN[level]} "
                    f"({SERIOUSNESS[level]}; {who}" + (f": {why}" if why else "") + ")"
                )
            elif by == REVIEWER:
                why = note.get("why", "")
                kept.append(
                    f"{DOMAIN_NAMES[d].lower()} not serious ({_by(note.get('who', by))}"
                    + (f": {why}" if why else "")
                    + ")"
                )
        sentence = f"{name} ({size}): {row['certainty']} certainty{symbols}"
        sentence += (", rated down for " + "; ".join(down)) if down else ", not rated down"
        if kept:
            sentence += "; " + "; ".join(kept)
        if open_:
            sentence += "; not judged yet (no downgrade): " + ", ".join(open_)
        out.append(sentence + ".")
    total = sum(who_counts.values())
    if total:
        out.append(
            f"Of the {total} GRADE domain judgements, {who_counts[SRMA]} are srma's "
            f"proposals, {who_counts[REVIEWER]} the reviewers' and "
            f"{who_counts[NOT_JUDGED]} not judged yet."
        )
    return out


def appraisal_html(rob: pd.DataFrame | None, sof: pd.DataFrame | None) -> str:
    """The risk-of-bias paragraph and the certainty list as an HTML fragment (a
    ``<div class="srma-appraisal">``); an absent table leaves its part out."""
    e = html.escape
    out = ['<div class="srma-appraisal">']
    if rob is not None:
        out.append(f"<p><strong>Risk of bias.</strong> {e(' '.join(rob_sentences(rob)))}</p>")
    if sof is not None and len(sof):
        sentences = certainty_sentences(sof)
        out.append("<p><strong>Certainty of the evidence (GRADE).</strong></p>")
        out.append("<ul>")
        out += [f"<li>{e(s)}</li>" for s in sentences[:-1]]
        out.append("</ul>")
        out.append(f"<p>{e(sentences[-1])}</p>")
    out.append("</div>")
    return "\n".join(out) + "\n"
