"""Outcome-clinical correlation rows of a study file (data model, section 6)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from srma.extraction.harmonise import parse_p
from srma.extraction.load import load_and_check

COLUMNS = {
    "study_id": "string",
    "trial": "string",
    "design": "string",
    "report": "string",
    "mri_measure": "string",
    "mri_timing": "string",
    "clinical_measure": "string",
    "clinical_measure_detail": "string",
    "timepoint_weeks": "string",
    "group": "string",
    "method": "string",
    "method_detail": "string",
    "r": "float64",
    "p": "string",
    "p_value": "float64",
    "p_relation": "string",
    "n": "Int64",
    "source": "string",
    "notes": "string",
}


def _weeks(value) -> str | None:
    """Week(s) as text: ``12``, ``24;102`` (several weeks printed together), or null."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    return ";".join(f"{float(w):g}" for w in values)


def correlation_rows(path: str | Path, config: Mapping) -> pd.DataFrame:
    """One row per correlation of the study file, in file order.

    ``p`` is the P value as printed; ``p_value`` its number and ``p_relation`` whether it
    is exact (``=``) or a bound (``<``, ``<=``, ``>``, ``>=``); both null when the text
    holds no number (e.g. "significant").
    """
    return correlations_of(load_and_check(path, config))


def correlations_of(data: Mapping) -> pd.DataFrame:
    """:func:`correlation_rows` of a study file already parsed and checked."""
    out = []
    for row in data.get("correlations") or []:
        p = parse_p(row.get("p"))
        out.append(
            {
                "study_id": data["study_id"],
                "trial": data.get("trial") or data["study_id"],
                "design": data["design"],
                "report": row.get("report"),
                "mri_measure": row["mri_measure"],
                "mri_timing": row["mri_timing"],
                "clinical_measure": row["clinical_measure"],
                "clinical_measure_detail": row.get("clinical_measure_detail"),
                "timepoint_weeks": _weeks(row.get("timepoint_weeks")),
                "group": row.get("group"),
                "method": row["method"],
                "method_detail": row.get("method_detail"),
                "r": row.get("r"),
                "p": p.text,
                "p_value": p.value,
                "p_relation": p.relation,
                "n": row.get("n"),
                "source": row["source"],
                "notes": row.get("notes"),
            }
        )
    df = pd.DataFrame.from_records(out, columns=list(COLUMNS))
    return df.astype(COLUMNS)
