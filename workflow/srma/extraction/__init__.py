"""Extraction stage: one YAML file per study -> validated, harmonised arm-level rows.

The workflow calls:

- :func:`study_groups` (fast; when the DAG is built) - the (instrument, timepoint window)
  groups a study's outcome rows fall into;
- :func:`extract_study` - validate, harmonise, return the rows of data-model section 4;
- :func:`excluded_table` - what could not be used, per study, and why;
- :func:`correlation_rows` - the study's MRI-clinical correlations (data-model section 6).

Modules: :mod:`.load` (parsing, schema and semantic checks, line numbers),
:mod:`.harmonise` (the statistical conversions), :mod:`.windows` (timepoint windows),
:mod:`.study` (one study's rows), :mod:`.correlations`, :mod:`.command` (``srma extract``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from srma.config import safe_load_yaml
from srma.extraction.windows import window_for

if TYPE_CHECKING:  # pandas is imported when a study is extracted, not to build the DAG
    import pandas as pd

__all__ = [
    "change_correlation_table",
    "correlation_rows",
    "excluded_table",
    "extract_study",
    "extract_study_once",
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


#: The block-style ``outcomes:`` section of a study file: its key at column 0, then every
#: line that is indented, a list item at column 0, a comment or blank.
_OUTCOMES_SECTION = re.compile(r"^outcomes:[ \t]*(?:#.*)?\n((?:(?:[ \t#-].*)?\n)*)", re.M)


def _outcome_rows(path: str | Path):
    """The ``outcomes`` list of a study file, parsed with the C safe loader.

    Only the ``outcomes:`` section is parsed when the file is in block style (as the
    template is), which halves the time on files with long reports or correlation
    lists; otherwise the whole file is.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    m = _OUTCOMES_SECTION.search(text + "\n")
    try:
        data = yaml.load("outcomes:\n" + m.group(1) if m else text, Loader=loader)  # noqa: S506
    except yaml.YAMLError:
        data = safe_load_yaml(path) if m else None  # a slice may cut a string; retry whole
    return data.get("outcomes") if isinstance(data, dict) else None


def study_groups(path: str | Path, config: Mapping) -> list[tuple[str, str]]:
    """The (instrument, timepoint-window key) groups of a study's outcome rows, sorted.

    Fast on purpose (called for every study file whenever Snakemake builds its DAG): the
    ``outcomes`` section is parsed with the C safe loader and nothing is validated. Rows
    with an unknown instrument or a week outside every window are left out here; the
    study's extraction job reports them.
    """
    instruments, timepoints = config["instruments"], config["timepoints"]
    groups = set()
    for row in _outcome_rows(path) or []:
        if not isinstance(row, dict):
            continue
        instrument, weeks = row.get("instrument"), row.get("timepoint_weeks")
        if instrument not in instruments or not isinstance(weeks, int | float):
            continue
        window = window_for(weeks, timepoints)
        if window is not None:
            groups.add((instrument, window))
    return sorted(groups)


def extract_study(path: str | Path, config: Mapping) -> pd.DataFrame:
    """Validate one study file and return its harmonised rows (data model, section 4)."""
    from srma.extraction.study import extract_study as _extract

    return _extract(path, config)


#: (file digest, config hash) -> rows, for :func:`extract_study_once`
_ONCE: dict[tuple[str, str], pd.DataFrame] = {}
_ONCE_LOCK = threading.Lock()
_ONCE_MAX = 5000


def extract_study_once(path: str | Path, config: Mapping) -> pd.DataFrame:
    """:func:`extract_study`, remembered for the life of the process by the digest of
    the file's bytes and the config: a worker process that pools several groups
    extracts a study once, however many of its groups report it. Returns a copy."""
    from srma.config import config_hash
    from srma.extraction.dag import study_digest

    key = (study_digest(path), config_hash(config))
    with _ONCE_LOCK:
        rows = _ONCE.get(key)
    if rows is None:
        rows = extract_study(path, config)
        with _ONCE_LOCK:
            if len(_ONCE) >= _ONCE_MAX:
                _ONCE.pop(next(iter(_ONCE)))
            _ONCE[key] = rows
    return rows.copy()


def change_correlation_table(paths, config: Mapping) -> pd.DataFrame:
    """Baseline/follow-up correlations of the arms that report all three SDs, across
    study files (to choose ``extraction.change_score_correlation``)."""
    from srma.extraction.study import change_correlation_table as _table

    return _table(paths, config)


def correlation_rows(path: str | Path, config: Mapping) -> pd.DataFrame:
    """The study's MRI-clinical correlation rows (data model, section 6)."""
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
