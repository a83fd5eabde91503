"""Extraction stage: one YAML file per study -> validated, harmonised arm-level rows.

The workflow's extraction job calls :func:`extract` once per study file (one parse, one
validation) and writes the study's table, its correlation rows and its excluded rows;
every later stage reads those tables, never the YAML:

- :func:`extract` - validate, harmonise; the rows of data-model section 4 and the
  correlation rows of section 6;
- :func:`study_groups` - the (instrument, timepoint) groups a study's table reports,
  which decide the pooling jobs it feeds;
- :func:`excluded_table` - what could not be used, per study, and why.

Modules: :mod:`.load` (parsing, schema and semantic checks, line numbers),
:mod:`.harmonise` (the statistical conversions), :mod:`.windows` (timepoint windows),
:mod:`.study` (one study's rows), :mod:`.correlations`, :mod:`.command` (``srma extract``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # pandas is imported when a study is extracted
    import pandas as pd

__all__ = [
    "Extraction",
    "change_correlation_table",
    "correlation_rows",
    "excluded_table",
    "extract",
    "extract_study",
    "study_groups",
]

EXCLUDED_COLUMNS = [
    "study_id",
    "trial",
    "instrument",
    "scoring",
    "timepoint",
    "timepoint_weeks",
    "arm",
    "arm_label",
    "statistic",
    "reason",
    "report",
    "source",
]


class Extraction(NamedTuple):
    """One study file, extracted: its rows (data model 4) and correlations (model 6);
    ``per_correlation``: its rows harmonised once per alternative change-score
    correlation (:func:`srma.extraction.study.rows_per_correlation`; None when none
    was asked for)."""

    rows: pd.DataFrame
    correlations: pd.DataFrame
    per_correlation: pd.DataFrame | None = None

    @property
    def excluded(self) -> pd.DataFrame:
        """The rows that cannot enter pooling, with the reason (``excluded.csv``)."""
        return excluded_table([self.rows])


def extract(path: str | Path, config: Mapping, correlations=None) -> Extraction:
    """Parse and validate one study file once; return its rows and correlations, and
    with ``correlations`` (a list of ``r``) its rows harmonised once per ``r`` (the
    change-score correlation sensitivity analysis).

    ``config`` holds the sections extraction reads (instruments, timepoints, extraction).
    Raises :class:`srma.errors.InputError` naming the file, record and field."""
    from srma.extraction.correlations import correlations_of
    from srma.extraction.load import load_and_check
    from srma.extraction.study import rows_per_correlation, study_rows

    data = load_and_check(path, config)
    per_r = None if correlations is None else rows_per_correlation(data, config, correlations)
    return Extraction(study_rows(data, config), correlations_of(data), per_r)


def extract_study(path: str | Path, config: Mapping) -> pd.DataFrame:
    """Validate one study file and return its harmonised rows (data model, section 4)."""
    return extract(path, config).rows


def study_groups(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """The (instrument, timepoint window) groups of a study's rows, sorted: every row
    that falls in a timepoint window, usable or not (a study that reports a group but
    cannot enter it is listed in the group's forest plot with the reason)."""
    if not len(rows):
        return []
    keys = rows.loc[rows["timepoint"].notna(), ["instrument", "timepoint"]]
    return sorted({(str(i), str(t)) for i, t in keys.itertuples(index=False)})


def change_correlation_table(paths, config: Mapping) -> pd.DataFrame:
    """Baseline/follow-up correlations of the arms that report all three SDs, across
    study files (to choose ``extraction.change_score_correlation``)."""
    from srma.extraction.study import change_correlation_table as _table

    return _table(paths, config)


def correlation_rows(path: str | Path, config: Mapping) -> pd.DataFrame:
    """The study's outcome-clinical correlation rows (data model, section 6)."""
    from srma.extraction.correlations import correlation_rows as _rows

    return _rows(path, config)


def excluded_table(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every row that cannot enter pooling, with its reason, for all studies (including
    studies without outcome rows), sorted by study, instrument, week and arm."""
    import pandas as pd

    parts = [f.loc[~f["usable"].astype(bool), EXCLUDED_COLUMNS] for f in frames if len(f)]
    if not parts:
        return pd.DataFrame(columns=EXCLUDED_COLUMNS)
    return sort_excluded(pd.concat(parts, ignore_index=True))


def sort_excluded(out: pd.DataFrame) -> pd.DataFrame:
    """Excluded rows in the order of ``excluded.csv``: by study, instrument, week,
    scoring, then intervention before control."""
    order = out.assign(_arm=out["arm"].map({"intervention": 0, "control": 1}))
    order = order.sort_values(
        ["study_id", "instrument", "timepoint_weeks", "scoring", "_arm"],
        na_position="first",
        kind="stable",
    )
    return order.drop(columns="_arm").reset_index(drop=True)
