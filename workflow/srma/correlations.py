"""Correlations between outcome measures and clinical measures: table and pooled r.

:func:`tabulate` normalises the extracted correlation rows into
``results/tables/correlations.csv`` (data model section 6); :func:`pool` pools, per
outcome measure x its timing x clinical measure, the correlations of at least ``min_studies``
distinct studies by a random-effects model on Fisher's z (``yi = atanh(r)``,
``vi = 1/(n - 3)``; metafor ``escalc("ZCOR")``), back-transformed with ``r = tanh(z)``
(metafor ``transf.ztor``). Spearman and Pearson coefficients are pooled alike, as is
usual when the coefficient type varies between studies (the ``methods`` column says
which were pooled).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from srma.effects import escalc
from srma.errors import InputError

COLUMNS = [
    "study_id",
    "mri_measure",
    "mri_timing",
    "clinical_measure",
    "clinical_measure_detail",
    "timepoint_weeks",
    "group",
    "method",
    "r",
    "p",
    "n",
    "source",
]
TEXT = [c for c in COLUMNS if c not in ("r", "n")]
SORT = [
    "study_id",
    "mri_measure",
    "mri_timing",
    "clinical_measure",
    "clinical_measure_detail",
    "timepoint_weeks",
    "group",
    "method",
]
TIMINGS = ("baseline", "change")

POOLED_COLUMNS = [
    "mri_measure",
    "mri_timing",
    "clinical_measure",
    "k",
    "n_total",
    "r",
    "ci_lb",
    "ci_ub",
    "pi_lb",
    "pi_ub",
    "pval",
    "tau2",
    "I2",
    "method",
    "methods",
    "studies",
    "status",
    "not_pooled",
]


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        text = text[:-2]  # a week number read as float
    return text or None


def tabulate(rows: pd.DataFrame, *, path: str = "correlations") -> pd.DataFrame:
    """The correlations table: one row per study x outcome measure x clinical measure x
    timepoint x group, sorted by :data:`SORT` (missing values last).

    ``mri_measure`` may carry its timing as a last word (``"sparcc_sij change"``); it is
    then split into ``mri_measure`` and ``mri_timing`` (``baseline`` or ``change``).
    ``r`` must lie in [-1, 1] and ``n`` be a whole number >= 1 where given; ``p`` is kept
    as printed (e.g. ``<0.001``). Rows without ``r`` are kept (reported without a
    value). A bad value raises :class:`srma.errors.InputError` naming ``path``, the
    study and the field.
    """
    out = []
    for i, rec in enumerate(rows.to_dict("records")):
        study = _text(rec.get("study_id"))
        if study is None:
            raise InputError(path, "missing study_id", record=i + 1, field="study_id")
        row = {c: _text(rec.get(c)) for c in TEXT}
        measure = row["mri_measure"]
        if measure is None:
            raise InputError(path, "missing outcome measure", record=study, field="mri_measure")
        timing = row["mri_timing"]
        words = measure.split()
        if len(words) > 1 and words[-1].lower() in TIMINGS:
            if timing is not None and timing.lower() != words[-1].lower():
                raise InputError(
                    path,
                    f"mri_measure says {words[-1]!r} but mri_timing is {timing!r}",
                    record=study,
                    field="mri_timing",
                )
            row["mri_measure"], timing = " ".join(words[:-1]), words[-1]
        if timing is not None:
            timing = timing.lower()
            if timing not in TIMINGS:
                raise InputError(
                    path, f"mri_timing must be baseline or change, not {timing!r}",
                    record=study, field="mri_timing",
                )  # fmt: skip
        row["mri_timing"] = timing
        r = rec.get("r")
        r = None if _text(r) is None else r
        if r is not None:
            try:
                r = float(r)
            except (TypeError, ValueError):
                raise InputError(
                    path, f"r is not a number: {r!r}", record=study, field="r"
                ) from None
            if not -1 <= r <= 1:
                raise InputError(path, f"r = {r} is outside [-1, 1]", record=study, field="r")
        n = rec.get("n")
        n = None if _text(n) is None else n
        if n is not None:
            try:
                nf = float(n)
            except (TypeError, ValueError):
                raise InputError(
                    path, f"n is not a number: {n!r}", record=study, field="n"
                ) from None
            if nf < 1 or nf != int(nf):
                raise InputError(
                    path, f"n = {n} is not a whole number >= 1", record=study, field="n"
                )
            n = int(nf)
        row["r"], row["n"] = r, n
        out.append(row)
    table = pd.DataFrame(out, columns=COLUMNS)
    table = table.sort_values(SORT, na_position="last", kind="stable").reset_index(drop=True)
    for c in TEXT:
        table[c] = table[c].astype("string")
    table["r"] = table["r"].astype("float64")
    table["n"] = table["n"].astype("Int64")
    return table


def _weeks(value) -> float:
    """First number of a timepoint such as ``24`` or ``24;102`` (inf when missing)."""
    text = _text(value)
    if text is None:
        return math.inf
    try:
        return float(text.replace(",", ";").split(";")[0])
    except ValueError:
        return math.inf


def pool(
    table: pd.DataFrame,
    *,
    min_studies: int = 3,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
) -> pd.DataFrame:
    """Pooled correlation per outcome measure x its timing x clinical measure.

    Only rows with ``r`` strictly between -1 and 1 (Fisher's z of +/-1 is infinite) and
    ``n >= 4`` can be pooled (``vi = 1/(n - 3)``); the others are counted in
    ``not_pooled`` with the study id. Within one study, of its
    poolable rows for the pair (several timepoints, groups or clinical-measure
    details), one is used, chosen by this rule: the largest ``n``, then the earliest
    ``timepoint_weeks``, then the first in the table's sort order. Clinical measure
    ``other`` (different measures under one name) is never pooled.

    A pair with at least ``min_studies`` distinct studies is pooled (status
    ``pooled``): Fisher-z random-effects model (``method``, ``test``), back-transformed
    ``r``, CI and prediction interval; ``tau2`` and ``I2`` are on the z scale. Other
    pairs are listed with status ``too few studies`` and empty statistics. Rows sorted
    by outcome measure, timing, clinical measure.
    """
    from srma.pooling import rma

    out = []
    keys = ["mri_measure", "mri_timing", "clinical_measure"]
    t = table.copy()
    for c in keys:
        t[c] = t[c].astype("string").fillna("")
    for key, part in sorted(t.groupby(keys, sort=False), key=lambda x: tuple(x[0])):
        measure, timing, clinical = key
        if clinical == "other":
            continue
        ok = (
            part["r"].notna()
            & (part["r"].abs().fillna(1) < 1)
            & part["n"].notna()
            & (part["n"].fillna(0) >= 4)
        )
        not_pooled = sorted(set(part.loc[~ok, "study_id"].astype(str)))
        chosen = []
        for _, rows in sorted(part[ok].groupby("study_id", sort=False), key=lambda x: str(x[0])):
            rows = rows.assign(_w=[_weeks(x) for x in rows["timepoint_weeks"]],
                               _i=range(len(rows)))  # fmt: skip
            best = rows.sort_values(["n", "_w", "_i"], ascending=[False, True, True]).iloc[0]
            chosen.append(best)
        row = {c: None for c in POOLED_COLUMNS}
        row.update(
            mri_measure=measure,
            mri_timing=timing or None,
            clinical_measure=clinical,
            k=len(chosen),
            method=method,
            studies="; ".join(str(c["study_id"]) for c in chosen),
            not_pooled="; ".join(
                s for s in not_pooled if s not in {str(c["study_id"]) for c in chosen}
            )
            or None,
        )
        if chosen:
            row["n_total"] = int(sum(int(c["n"]) for c in chosen))
            row["methods"] = "; ".join(sorted({str(c["method"]) for c in chosen}))
        if len(chosen) >= min_studies:
            yi, vi = escalc(
                "ZCOR",
                ri=[float(c["r"]) for c in chosen],
                ni=[float(c["n"]) for c in chosen],
            )
            res = rma(yi, vi, method=method, test=test, level=level)
            row.update(
                r=float(np.tanh(res.estimate)),
                ci_lb=float(np.tanh(res.ci_lb)),
                ci_ub=float(np.tanh(res.ci_ub)),
                pi_lb=float(np.tanh(res.pi_lb)),
                pi_ub=float(np.tanh(res.pi_ub)),
                pval=res.pval,
                tau2=res.tau2,
                I2=res.I2,
                status="pooled",
            )
        else:
            row["status"] = "too few studies"
        out.append(row)
    res = pd.DataFrame(out, columns=POOLED_COLUMNS)
    for c in ("r", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "pval", "tau2", "I2"):
        res[c] = res[c].astype("float64")
    res["k"] = res["k"].astype("int64")
    res["n_total"] = res["n_total"].astype("Int64")
    for c in ("mri_measure", "mri_timing", "clinical_measure", "method", "methods", "studies",
              "status", "not_pooled"):  # fmt: skip
        res[c] = res[c].astype("string")
    return res
