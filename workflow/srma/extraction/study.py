"""One study file -> analysis-ready rows (data model, section 4).

For every instrument x scoring x reported week, each arm's printed values become an
n, a mean change and an SD of change, each flagged ``reported``, ``converted``,
``estimated`` or ``imputed``, with a ``method`` text that says how. A binary outcome
(``statistic: events``) gives its n and number of events as printed (``events``). Then:

- arms of the same role (e.g. two doses of one drug) are combined into one with the
  Handbook's formula (Table 6.5.a), so a shared control is never counted twice;
- the report nearest a timepoint window's target is kept; other reports in the window,
  reports outside every window, rows the reviewer excluded and rows of an uncontrolled
  cohort stay in the table with ``usable = False`` and the reason;
- an arm is usable only when its comparison arm is too (pooling needs both).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from srma.extraction import harmonise as hm
from srma.extraction.load import load_and_check
from srma.extraction.windows import nearest_week, window_for

#: Flags from the most to the least direct.
FLAGS = ("reported", "converted", "estimated", "imputed")
ROLES = ("intervention", "control")

COLUMNS = {
    "study_id": "str",
    "trial": "str",
    "design": "str",
    "instrument": "str",
    "scoring": "str",
    "timepoint": "str",
    "timepoint_weeks": "float64",
    "arm": "str",
    "arm_label": "str",
    "n": "Int64",
    "mean_change": "float64",
    "sd_change": "float64",
    "events": "Int64",
    "mean_flag": "str",
    "sd_flag": "str",
    "statistic": "str",
    "method": "str",
    "usable": "bool",
    "reason": "str",
    "report": "str",
    "source": "str",
    # study-level fields, the same on every row of a study (subgroups, meta-regression)
    "population": "str",
    "year": "Int64",
    "drug": "str",
    "characteristics": "str",
}


def least_direct(*flags: str | None) -> str | None:
    """The least direct of some flags (``imputed`` > ``estimated`` > ``converted`` >
    ``reported``); None when all are None."""
    present = [f for f in flags if f is not None]
    return max(present, key=FLAGS.index) if present else None


def _g(x: float) -> str:
    return f"{x:.4g}"


@dataclass
class ArmValues:
    """One arm's harmonised values at one instrument x scoring x week."""

    arm_ids: list[str]
    role: str
    label: str
    statistic: str
    n: int | None
    events: int | None = None
    mean: float | None = None
    sd: float | None = None
    mean_flag: str | None = None
    sd_flag: str | None = None
    methods: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    sd_reason: str | None = None
    mean_reason: str | None = None
    p: hm.PValue = field(default_factory=lambda: hm.PValue(None, None, None))
    t: float | None = None
    exclude: str | None = None
    reports: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def finish(self) -> None:
        """Turn what is missing into reasons."""
        if self.statistic == "events":
            if self.n is None:
                self._add("arm n not reported (events of an unknown total)")
            return
        if self.mean is None and self.mean_reason:
            self._add(self.mean_reason)
        if self.sd is None and self.sd_reason:
            self._add(self.sd_reason)
        if self.n is None:
            self._add("arm n not reported")
        elif self.n < 2:
            self._add(f"arm n = {self.n}: a variance needs n >= 2")
        if self.sd is not None and self.sd <= 0:
            # A score that stayed the same in every patient: valid, but the study has
            # no sampling variance and cannot be weighted (listed, never dropped).
            self._add(f"SD of change is {self.sd:g}: the study's variance cannot be computed")
        if (self.mean is None or self.sd is None) and not self.reasons:
            self._add("mean or SD of change not available")

    def _add(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    @property
    def usable(self) -> bool:
        if self.statistic == "events":
            return not self.reasons and None not in (self.n, self.events)
        return not self.reasons and None not in (self.n, self.mean, self.sd)


# Merging the rows of one arm x instrument x scoring x week ---------------------------------


def merge_rows(data: Mapping) -> dict[tuple, dict]:
    """Outcome rows keyed by (instrument, scoring, week, arm): a ``baseline`` row (e.g.
    from a companion report) lends its values to the row with the follow-up values."""
    merged: dict[tuple, dict] = {}
    for row in data.get("outcomes") or []:
        key = (row["instrument"], row.get("scoring"), float(row["timepoint_weeks"]), row["arm"])
        entry = merged.setdefault(key, {"values": None, "baseline": None})
        entry["baseline" if row["statistic"] == "baseline" else "values"] = row
    out = {}
    for key, entry in merged.items():
        values, base = entry["values"], entry["baseline"]
        if values is None:
            out[key] = dict(base)
            continue
        row = dict(values)
        row["_sources"] = [values["source"]]
        row["_reports"] = [values.get("report")]
        if base is not None:
            for f in ("baseline_mean", "baseline_sd", "baseline_n"):
                if row.get(f) is None and base.get(f) is not None:
                    row[f] = base[f]
            if "n" not in row and base.get("n") is not None:
                row["n"] = base["n"]
                row["n_basis"] = base.get("n_basis") or f"n of the baseline row ({base['source']})"
            if base.get("exclude") and not row.get("exclude"):
                row["exclude"] = base["exclude"]
            row["_sources"].append(base["source"])
            row["_reports"].append(base.get("report"))
        out[key] = row
    for row in out.values():
        row.setdefault("_sources", [row["source"]])
        row.setdefault("_reports", [row.get("report")])
    return out


def study_change_correlations(rows: Mapping[tuple, dict]) -> dict[str, float]:
    """Per instrument, the mean baseline/follow-up correlation of the arms of this study
    that report all three SDs (Cochrane Handbook 6.5.2.8); correlations outside [-1, 1]
    (inconsistent SDs) are ignored."""
    found: dict[str, list[float]] = {}
    for (instrument, *_), row in rows.items():
        b, f, c = row.get("baseline_sd"), row.get("followup_sd"), row.get("sd")
        if row["statistic"] == "change_mean_sd" and None not in (b, f, c) and b > 0 and f > 0:
            r = hm.change_correlation(b, f, c)
            if -1.0 <= r <= 1.0:
                found.setdefault(instrument, []).append(r)
    return {k: sum(v) / len(v) for k, v in found.items()}


def change_correlation_table(paths, config: Mapping) -> pd.DataFrame:
    """Baseline/follow-up correlations of every arm that reports the baseline, follow-up
    and change SDs (Cochrane Handbook 6.5.2.8), across study files: what a reviewer
    looks at before choosing ``extraction.change_score_correlation``.

    Columns: ``study_id, instrument, timepoint_weeks, arm, baseline_sd, followup_sd,
    sd_change, r`` (``r`` outside [-1, 1] means the three SDs are inconsistent).
    """
    out = []
    for path in paths:
        data = load_and_check(path, config)
        for (instrument, _scoring, weeks, arm), row in merge_rows(data).items():
            b, f, c = row.get("baseline_sd"), row.get("followup_sd"), row.get("sd")
            if row["statistic"] == "change_mean_sd" and None not in (b, f, c) and b > 0 < f:
                out.append(
                    {
                        "study_id": data["study_id"],
                        "instrument": instrument,
                        "timepoint_weeks": weeks,
                        "arm": arm,
                        "baseline_sd": b,
                        "followup_sd": f,
                        "sd_change": c,
                        "r": hm.change_correlation(b, f, c),
                    }
                )
    columns = [
        "study_id", "instrument", "timepoint_weeks", "arm", "baseline_sd", "followup_sd",
        "sd_change", "r",
    ]  # fmt: skip
    return pd.DataFrame(out, columns=columns)


# One arm ---------------------------------------------------------------------------------


def harmonise_arm(row: Mapping, arm: Mapping, *, corr: float, corr_source: str) -> ArmValues:
    """Turn one arm's printed values into n, mean change and SD of change (flagged)."""
    # A row's own n (even an explicit null: "not stated for this row") overrides the arm's.
    own = "n" in row
    n = row["n"] if own else arm.get("n")
    n_basis = row.get("n_basis") if own else arm.get("n_basis")
    stat = row["statistic"]
    v = ArmValues(
        arm_ids=[arm["id"]],
        role=arm["role"],
        label=arm["label"],
        statistic=stat,
        n=n,
        p=hm.parse_p(row.get("between_group_p")),
        t=row.get("between_group_t"),
        exclude=row.get("exclude"),
        reports=[r for r in row["_reports"] if r],
        sources=list(row["_sources"]),
    )
    if n is not None and n_basis:
        v.methods.append(f"n = {n} ({n_basis})")
    mean, sd = row.get("mean"), row.get("sd")
    no_sd = "no SD, SE or CI of the change reported"

    if stat == "change_mean_sd":
        v.mean, v.sd, v.mean_flag, v.sd_flag = mean, sd, "reported", "reported"
        v.methods.append("mean and SD of change as reported")
    elif stat == "change_mean_se":
        v.mean, v.mean_flag = mean, "reported"
        if n is not None:
            v.sd, v.sd_flag = hm.sd_from_se(row["se"], n), "converted"
            v.methods.append(f"SD = SE x sqrt(n) = {_g(row['se'])} x sqrt({n}) (Handbook 6.5.2.2)")
        else:
            v.sd_reason = "SE of the change cannot be converted to an SD without n"
    elif stat == "change_mean_ci":
        v.mean, v.mean_flag = mean, "reported"
        level = float(row.get("ci_level", 95))
        if n is not None:
            divisor, how = hm.ci_divisor(n, level)
            v.sd = hm.sd_from_ci(row["ci_lower"], row["ci_upper"], n, level)
            v.sd_flag = "converted"
            v.methods.append(
                f"SD from {level:g}% CI {_g(row['ci_lower'])} to {_g(row['ci_upper'])} "
                f"({how}, divisor {divisor:.4f}; Handbook 6.5.2.2)"
            )
        else:
            v.sd_reason = "CI of the change cannot be converted to an SD without n"
    elif stat in ("change_mean", "improvement_mean"):
        if stat == "improvement_mean":
            v.mean, v.mean_flag = -mean, "converted"
            v.methods.append("mean change = -(mean improvement), improvement printed as positive")
        else:
            v.mean, v.mean_flag = mean, "reported"
        if sd is not None:
            v.sd, v.sd_flag = sd, "reported"
        v.sd_reason = no_sd
    elif stat.startswith("change_median"):
        _from_median(v, row, n)
    elif stat == "baseline_followup":
        v.mean = row["followup_mean"] - row["baseline_mean"]
        v.mean_flag = "converted"
        v.methods.append(
            f"mean change = follow-up - baseline = {_g(row['followup_mean'])} - "
            f"{_g(row['baseline_mean'])}"
        )
        b, f = row.get("baseline_sd"), row.get("followup_sd")
        if b is not None and f is not None:
            v.sd, v.sd_flag = hm.sd_change(b, f, corr), "imputed"
            v.methods.append(
                f"SD of change from baseline SD {_g(b)} and follow-up SD {_g(f)} with "
                f"correlation {corr:g} ({corr_source}; Handbook 6.5.2.8)"
            )
        else:
            v.sd_reason = "no SDs of the baseline and follow-up scores (SD of change unknown)"
    elif stat == "pct_change_mean":
        base = row.get("baseline_mean")
        if base is not None:
            v.mean = hm.absolute_from_percent(row["pct"], base)
            v.mean_flag = "estimated"
            v.methods.append(
                f"mean change = {_g(row['pct'])}% x baseline mean {_g(base)} (percent change "
                "made absolute)"
            )
        else:
            v.mean_reason = "percent change without a baseline mean: not in the instrument's units"
        v.sd_reason = "only a mean percent change reported (no SD of change)"
    elif stat == "events":
        v.events = int(row["events"])
        of = f" of {n}" if n is not None else ""
        v.methods.append(f"{v.events}{of} with the event, as reported")
    elif stat == "baseline":
        v.reasons.append("only baseline values reported (no follow-up or change values)")
    elif stat == "not_reported":
        v.reasons.append("values not reported (not retrieved from the report)")
    return v


def _from_median(v: ArmValues, row: Mapping, n: int | None) -> None:
    """Median (with IQR and/or range) -> mean and SD, flagged estimated."""
    stat = row["statistic"]
    if stat == "change_median":
        v.reasons.append("median change only (no IQR or range): mean and SD cannot be estimated")
        return
    if n is None:
        v.reasons.append("median with IQR/range: the estimators need n, which is not reported")
        return
    m = row["median"]
    if stat == "change_median_iqr":
        v.mean = hm.mean_from_median_iqr(m, row["q1"], row["q3"], n)
        v.sd = hm.sd_from_iqr(row["q1"], row["q3"], n)
        v.methods.append("mean from median and IQR (Luo 2018); SD from IQR (Wan 2014)")
    elif stat == "change_median_range":
        v.mean = hm.mean_from_median_range(m, row["min"], row["max"], n)
        v.sd = hm.sd_from_range(row["min"], row["max"], n)
        v.methods.append("mean from median and range (Luo 2018); SD from range (Wan 2014)")
    else:
        v.mean = hm.mean_from_five_numbers(m, row["q1"], row["q3"], row["min"], row["max"], n)
        v.sd = hm.sd_from_five_numbers(row["q1"], row["q3"], row["min"], row["max"], n)
        v.methods.append(
            "mean from median, IQR and range (Luo 2018); SD from IQR and range (Shi 2020)"
        )
    v.mean_flag = v.sd_flag = "estimated"


# A comparison ------------------------------------------------------------------------------


def sd_from_comparison(arms: list[ArmValues]) -> None:
    """When one intervention and one control arm have means and n but no SD, derive the
    common SD from the between-group t or exact P value (Handbook 6.5.2.3)."""
    by_role = {r: [a for a in arms if a.role == r] for r in ROLES}
    if any(len(by_role[r]) != 1 for r in ROLES):
        return
    (a,), (c,) = by_role["intervention"], by_role["control"]
    if a.sd is not None or c.sd is not None or None in (a.mean, c.mean, a.n, c.n):
        return
    md = a.mean - c.mean
    t = a.t if a.t is not None else c.t
    p = a.p if a.p.text is not None else c.p
    if t:  # a t of 0 carries no information on the SD
        sd, how = hm.sd_from_t(md, t, a.n, c.n), f"t = {_g(t)}"
    elif p.exact and 0 < p.value < 1:
        sd = hm.sd_from_p(md, p.value, a.n, c.n)
        how = f"P = {p.text} (t = {_g(hm.t_from_p(p.value, a.n, c.n))}, df = {a.n + c.n - 2})"
    else:
        if p.text is not None:
            reason = (
                f"no SD of the change; the between-group P is printed as '{p.text}', not an "
                "exact value, so no SD can be derived from it"
            )
            a.sd_reason = c.sd_reason = reason
        return
    if md == 0:
        return
    for arm in (a, c):
        arm.sd, arm.sd_flag = sd, "converted"
        arm.methods.append(
            f"SD = {_g(sd)} from the difference in means {_g(md)} and {how}, same SD in both "
            "arms (Handbook 6.5.2.3)"
        )


def combine_role(arms: list[ArmValues]) -> ArmValues:
    """Several arms of one role (e.g. two doses) as one arm (Handbook Table 6.5.a)."""
    if len(arms) == 1:
        return arms[0]
    first = arms[0]
    out = ArmValues(
        arm_ids=[i for a in arms for i in a.arm_ids],
        role=first.role,
        label=" + ".join(a.label for a in arms),
        statistic=" + ".join(dict.fromkeys(a.statistic for a in arms)),
        n=sum(a.n for a in arms) if all(a.n is not None for a in arms) else None,
        exclude=next((a.exclude for a in arms if a.exclude), None),
        reports=list(dict.fromkeys(r for a in arms for r in a.reports)),
        sources=list(dict.fromkeys(s for a in arms for s in a.sources)),
    )
    if all(a.usable for a in arms) and first.statistic == "events":
        # Binary: the arms' events and totals add up (Cochrane Handbook 23.3.4:
        # combining groups of a dichotomous outcome).
        out.events = sum(a.events for a in arms)
        out.methods = [f"{a.label}: {'; '.join(a.methods)}" for a in arms]
        out.methods.append(f"{len(arms)} {first.role} arms combined (events and totals added)")
    elif all(a.usable for a in arms):
        n, mean, sd = arms[0].n, arms[0].mean, arms[0].sd
        for a in arms[1:]:
            n, mean, sd = hm.combine_groups(n, mean, sd, a.n, a.mean, a.sd)
        out.mean, out.sd = mean, sd
        out.mean_flag = least_direct(*(a.mean_flag for a in arms))
        out.sd_flag = least_direct(*(a.sd_flag for a in arms))
        out.methods = [f"{a.label}: {'; '.join(a.methods)}" for a in arms]
        out.methods.append(f"{len(arms)} {first.role} arms combined (Handbook Table 6.5.a)")
    else:
        out.reasons = [f"{a.label}: {'; '.join(a.reasons)}" for a in arms if a.reasons] + [
            f"{len(arms)} {first.role} arms cannot be combined until each is usable"
        ]
    return out


# The study ---------------------------------------------------------------------------------


def extract_study(path: str | Path, config: Mapping) -> pd.DataFrame:
    """Validate one extraction file and return its harmonised rows (data model 4)."""
    return study_rows(load_and_check(path, config), config)


def study_rows(data: Mapping, config: Mapping) -> pd.DataFrame:
    """The harmonised rows (data model 4) of a study file already parsed and checked
    by :func:`srma.extraction.load.load_and_check`."""
    study, design = data["study_id"], data["design"]
    trial = data.get("trial") or study
    fields = study_fields(data)
    timepoints = config["timepoints"]
    rows = merge_rows(data)
    if not rows:
        return _frame(
            [
                {
                    "study_id": study,
                    "trial": trial,
                    "design": design,
                    "usable": False,
                    "reason": f"no outcome rows: {data['no_outcomes_reason']}",
                    "report": ", ".join(r["id"] for r in data["reports"]),
                    **fields,
                }
            ]
        )
    extraction = config.get("extraction") or {}
    default_corr = float(extraction.get("change_score_correlation", 0.5))
    study_corr = study_change_correlations(rows)
    arms_by_id = {a["id"]: a for a in data["arms"]}

    groups: dict[tuple, list[dict]] = {}
    for (instrument, scoring, weeks, _arm), row in rows.items():
        groups.setdefault((instrument, scoring, weeks), []).append(row)
    windows = {key: window_for(key[2], timepoints) for key in groups}
    chosen: dict[tuple, float] = {}
    for (instrument, scoring, weeks), window in windows.items():
        if window is not None:
            chosen.setdefault((instrument, scoring, window), []).append(weeks)
    chosen = {k: nearest_week(v, timepoints[k[2]]) for k, v in chosen.items()}

    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[2], k[1] or "")):
        instrument, scoring, weeks = key
        window = windows[key]
        if instrument in study_corr:
            corr, corr_source = study_corr[instrument], "computed from this study"
        else:
            corr, corr_source = default_corr, "config extraction.change_score_correlation"
        arms = [
            harmonise_arm(row, arms_by_id[row["arm"]], corr=corr, corr_source=corr_source)
            for row in sorted(groups[key], key=lambda r: r["arm"])
        ]
        sd_from_comparison(arms)
        for a in arms:
            a.finish()
        combined = {
            r: combine_role([a for a in arms if a.role == r])
            for r in ROLES
            if any(a.role == r for a in arms)
        }
        shared = []
        if design == "cohort":
            shared.append("uncontrolled cohort: never pooled")
        excluded = next((a.exclude for a in arms if a.exclude), None)
        if excluded:
            shared.append(f"excluded by the reviewer: {excluded}")
        if window is None:
            shared.append(f"week {weeks:g} falls in no timepoint window")
        elif chosen[(instrument, scoring, window)] != weeks:
            shared.append(
                f"another report in window {window} (week "
                f"{chosen[(instrument, scoring, window)]:g}) is nearer its target"
            )
        for role, a in combined.items():
            reasons = shared + a.reasons
            other = combined.get("control" if role == "intervention" else "intervention")
            if other is not None and not other.usable and not shared:
                reasons.append(f"{other.role} arm not usable")
            elif other is None and design != "cohort":
                reasons.append(f"no {'control' if role == 'intervention' else 'intervention'} arm")
            usable = not reasons and a.usable
            out.append(
                {
                    "study_id": study,
                    "trial": trial,
                    "design": design,
                    "instrument": instrument,
                    "scoring": scoring,
                    "timepoint": window,
                    "timepoint_weeks": weeks,
                    "arm": role,
                    "arm_label": a.label,
                    "n": a.n,
                    "mean_change": a.mean,
                    "sd_change": a.sd,
                    "events": a.events,
                    "mean_flag": a.mean_flag if a.mean is not None else None,
                    "sd_flag": a.sd_flag if a.sd is not None else None,
                    "statistic": a.statistic,
                    "method": "; ".join(a.methods) or None,
                    "usable": usable,
                    "reason": "; ".join(reasons) or None,
                    "report": ", ".join(a.reports) or None,
                    "source": "; ".join(a.sources) or None,
                    **fields,
                    "drug": _drug(a, arms_by_id),
                }
            )
    return _frame(out)


def study_fields(data: Mapping) -> dict:
    """The study-level fields of a parsed study file that its rows carry for subgroup
    analyses and meta-regression: ``population``, ``year`` (of the main report: the
    first with ``role: main``, else the first report), and ``characteristics`` (the
    review's own fields, as JSON text with sorted keys; None when the file has none)."""
    import json

    reports = data.get("reports") or []
    main = next((r for r in reports if r.get("role", "main") == "main"), None)
    main = main or (reports[0] if reports else {})
    chars = data.get("characteristics") or None
    return {
        "population": data.get("population"),
        "year": main.get("year"),
        "characteristics": None if chars is None else json.dumps(chars, sort_keys=True),
    }


def _drug(arm: ArmValues, arms_by_id: Mapping) -> str | None:
    """The ``drug`` of an arm (its arms' drugs, ``" + "``-joined, when arms of one role
    were combined; None when none names one)."""
    drugs = [arms_by_id[i].get("drug") for i in arm.arm_ids if i in arms_by_id]
    drugs = list(dict.fromkeys(d for d in drugs if d))
    return " + ".join(drugs) or None


def _frame(records: list[dict]) -> pd.DataFrame:
    """Records as a table with the column types of data-model section 4 (string columns
    stay strings in Parquet even when all null)."""
    # pd.array, not pd.Series: the same columns in half the time (extraction runs for
    # every study of every pooling job).
    return pd.DataFrame(
        {
            col: pd.array(
                [r.get(col) for r in records], dtype="string" if dtype == "str" else dtype
            )
            for col, dtype in COLUMNS.items()
        }
    )


def rows_per_correlation(data: Mapping, config: Mapping, correlations) -> pd.DataFrame:
    """The study's rows (:func:`study_rows`) harmonised once per correlation ``r`` of
    ``correlations``, as if ``extraction.change_score_correlation`` were ``r``, with a
    first column ``change_score_correlation`` (the sensitivity analysis of the imputed
    change-score SDs, Cochrane Handbook 6.5.2.8; :mod:`srma.sensitivity_analyses`).

    Only SDs imputed with the config's correlation change; a study that reports its
    baseline, follow-up and change SDs keeps the correlation computed from them. No
    correlations: a table without rows.
    """
    extraction = dict(config.get("extraction") or {})
    frames = []
    for r in correlations or [None]:
        settings = {**config, "extraction": {**extraction, "change_score_correlation": r}}
        rows = study_rows(data, settings) if r is not None else _frame([])
        rows.insert(0, "change_score_correlation", pd.array([r] * len(rows), dtype="float64"))
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
