"""Reading and checking one study extraction file.

Three layers of checks, each stopping with an :class:`~srma.errors.InputError` that
names the file, the line, the study (and the outcome/arm/correlation number) and the
field:

1. reading (:func:`load_study`): at most :data:`MAX_BYTES`, UTF-8 (a bad byte is named
   with its line), one YAML document of plain values: no YAML aliases (a study file
   never needs them, and an alias "bomb" would make every later check walk billions of
   values) and no tags such as ``!!binary`` or ``!custom``; no key given twice
   (:func:`check_duplicate_keys`); every number finite (:func:`check_finite`: YAML's
   ``.nan`` and ``.inf`` are numbers to the schema);
2. the JSON schema ``workflow/schemas/extraction.schema.yaml`` (types, required fields,
   allowed values, unknown keys);
3. checks that need the config or several fields at once (:func:`check_study`): the file
   name equals ``study_id``; arms, reports and instruments exist; values lie in the
   instrument's range; SDs and SEs are not negative; ``n >= 2``; P values between 0
   and 1; ``ci_lower <= mean <= ci_upper`` and ``min <= q1 <= median <= q3 <= max``;
   every intervention row has its control row (and the other way round).

The file is parsed once (the C safe loader composes the node tree, which keeps line
marks, and the data are constructed from it); line numbers of later errors are looked
up in the node tree when an error is raised.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from srma.config import check_yaml_nodes, node_line, read_yaml_text, safe_load_yaml, yaml_error
from srma.errors import InputError

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "extraction.schema.yaml"

#: Largest study file read: a study file is a few kilobytes (the largest bundled one,
#: Dougados2014.yaml with 6 outcome rows and 17 correlations, is 11 KB).
MAX_BYTES = 1 << 20

#: Fields each statistic needs (the schema says the same) and may also use.
STATISTICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "change_mean_sd": (("mean", "sd"), ("followup_mean", "followup_sd")),
    "change_mean_se": (("mean", "se"), ("followup_mean", "followup_sd")),
    "change_mean_ci": (("mean", "ci_lower", "ci_upper"), ("ci_level",)),
    "change_mean": (("mean",), ("between_group_t",)),
    "improvement_mean": (("mean",), ("sd", "between_group_t")),
    "change_median_iqr": (("median", "q1", "q3"), ()),
    "change_median_range": (("median", "min", "max"), ()),
    "change_median_iqr_range": (("median", "q1", "q3", "min", "max"), ()),
    "change_median": (("median",), ()),
    "baseline_followup": (("baseline_mean", "followup_mean"), ("followup_sd",)),
    "pct_change_mean": (("pct",), ()),
    "baseline": (("baseline_mean",), ()),
    "events": (("events",), ()),
    "not_reported": ((), ()),
}

#: Statistics of a binary instrument (config ``instruments.<key>.type: binary``); every
#: other statistic but ``not_reported`` belongs to a continuous one.
BINARY_STATISTICS = ("events", "not_reported")

#: Fields allowed with every statistic.
COMMON_FIELDS = {
    "report",
    "instrument",
    "region",
    "scoring",
    "timepoint_weeks",
    "arm",
    "statistic",
    "n",
    "n_basis",
    "baseline_mean",
    "baseline_sd",
    "baseline_n",
    "between_group_p",
    "exclude",
    "source",
    "notes",
}

#: Values that are change scores (checked against +/- the instrument's span).
CHANGE_VALUES = ("mean", "ci_lower", "ci_upper", "median", "q1", "q3", "min", "max")
#: Values that are scores (checked against the instrument's range).
SCORE_VALUES = ("baseline_mean", "followup_mean")
#: Values that must not be negative.
NONNEGATIVE = ("sd", "se", "baseline_sd", "followup_sd", "events")


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = safe_load_yaml(SCHEMA)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def load_study(path: str | Path) -> tuple[dict, yaml.Node]:
    """Parse one extraction file once (C safe loader); no validation. Returns the data
    and the YAML node tree it was built from (for duplicate keys and line numbers).

    Refuses, naming the file and the line: a file larger than :data:`MAX_BYTES`, bytes
    that are not UTF-8, an empty file, YAML syntax errors, several documents, YAML
    aliases and tags that do not give plain values."""
    path = Path(path)
    text = read_yaml_text(path, max_bytes=MAX_BYTES, what="a study file")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            study = _study_id_of(root)
            check_yaml_nodes(
                path, text, root, aliases=False, record=lambda keys: _record(study, keys)
            )
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as err:
        raise yaml_error(path, err, text) from None
    finally:
        loader.dispose()
    if data is None:
        raise InputError(
            path, "the file is empty: expected a study's fields (study_id, design, reports, ...)"
        )
    if not isinstance(data, dict):
        raise InputError(
            path,
            "expected a mapping of study fields (study_id, design, ...)",
            line=root.start_mark.line + 1,
        )
    return data, root


def _study_id_of(root: yaml.Node) -> str | None:
    """The ``study_id`` scalar of a study file's node tree (before construction)."""
    if isinstance(root, yaml.MappingNode):
        for knode, vnode in root.value:
            if knode.value == "study_id" and isinstance(vnode, yaml.ScalarNode):
                return vnode.value
    return None


# Line numbers ------------------------------------------------------------------------------


def _compose(path: str | Path):
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return yaml.compose(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError):
        return None


def line_of(path: str | Path, keys: Sequence[object]) -> int | None:
    """1-based line of the node at ``keys`` (mapping keys and list indices) in a YAML
    file; the nearest existing parent when the node itself is missing."""
    return node_line(_compose(path), keys)


def _record(study_id: object, keys: Sequence[object]) -> str:
    names = {
        "outcomes": "outcome",
        "arms": "arm",
        "reports": "report",
        "correlations": "correlation",
    }
    record = str(study_id) if study_id is not None else None
    if len(keys) >= 2 and keys[0] in names and isinstance(keys[1], int):
        item = f"{names[keys[0]]} {keys[1] + 1}"
        record = f"{record}, {item}" if record else item
    return record


def fail(path, data: Mapping, keys: Sequence[object], message: str, field: str | None = None):
    """Raise an InputError for the node at ``keys`` (line looked up now)."""
    study = data.get("study_id") if isinstance(data, Mapping) else None
    if field is None and keys and isinstance(keys[-1], str):
        field = keys[-1]  # the key at fault; none when the path ends at a list item
    raise InputError(
        path, message, record=_record(study, keys), field=field, line=line_of(path, keys)
    )


# Schema ------------------------------------------------------------------------------------


def _describe(err) -> tuple[list[object], str, str | None]:
    """(keys, message, field) for one jsonschema error, in reviewer's words."""
    keys = list(err.absolute_path)
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else None
        stat = err.instance.get("statistic") if isinstance(err.instance, dict) else None
        need = ""
        if stat in STATISTICS and missing in STATISTICS[stat][0]:
            need = f" (statistic '{stat}' needs {', '.join(STATISTICS[stat][0])})"
        return keys, f"required field is missing{need}", missing
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        field = extra[0] if extra else None
        return (
            keys + ([field] if field else []),
            f"unknown field; expected one of: {allowed}",
            field,
        )
    if v == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return keys, f"{err.instance!r} is not allowed; expected one of: {allowed}", None
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return keys, f"expected {want}, got {err.instance!r}", None
    if v == "pattern":
        return keys, f"{err.instance!r} does not match the pattern {err.validator_value}", None
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return keys, f"{err.instance!r} is out of bounds ({v} {err.validator_value})", None
    if v == "minItems":
        return keys, f"expected at least {err.validator_value} item(s)", None
    return keys, err.message, None


def validate_schema(path: str | Path, data: Mapping) -> None:
    """Validate against the JSON schema; raise on the first error (in file order)."""
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    # Report the first error in the file, the most specific one on that line.
    root = _compose(path)
    # An unknown key (often a typo) is reported before the missing field it hides.
    ranked = []
    for err in errors:
        keys, message, field = _describe(err)
        first = 0 if err.validator == "additionalProperties" else 1
        ranked.append(
            ((node_line(root, list(err.absolute_path)) or 0, first, message), keys, field)
        )
    (_, _, message), keys, field = min(ranked, key=lambda x: x[0])
    fail(path, data, keys, message, field=field)


# Semantic checks ---------------------------------------------------------------------------


def _num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_study(path: str | Path, data: Mapping, config: Mapping) -> None:
    """Checks beyond the schema (see the module docstring); raise on the first problem."""
    path = Path(path)
    study = data["study_id"]
    if study != path.stem:
        fail(path, data, ["study_id"], f"must equal the file name '{path.stem}'")
    report_ids = [r["id"] for r in data["reports"]]
    _unique(path, data, "reports", report_ids)
    arms = data.get("arms") or []
    _unique(path, data, "arms", [a["id"] for a in arms])
    arm_by_id = {a["id"]: a for a in arms}
    for i, arm in enumerate(arms):
        if arm.get("n") is not None and arm["n"] < 2:
            fail(path, data, ["arms", i, "n"], f"n = {arm['n']}: an arm needs n >= 2")
    outcomes = data.get("outcomes") or []
    if not outcomes and not data.get("no_outcomes_reason"):
        fail(
            path,
            data,
            ["study_id"],
            "a study without outcome rows must say why in 'no_outcomes_reason'",
            field="no_outcomes_reason",
        )
    instruments = config["instruments"]
    for i, row in enumerate(outcomes):
        keys = ["outcomes", i]
        if row["instrument"] not in instruments:
            fail(
                path,
                data,
                keys + ["instrument"],
                f"unknown instrument {row['instrument']!r}; expected one of the config's "
                f"instruments: {', '.join(instruments)}",
            )
        if row["arm"] not in arm_by_id:
            fail(
                path,
                data,
                keys + ["arm"],
                f"unknown arm {row['arm']!r}; expected one of: {', '.join(arm_by_id)}",
            )
        if row.get("report") is not None and row["report"] not in report_ids:
            fail(
                path,
                data,
                keys + ["report"],
                f"unknown report {row['report']!r}; expected one of: {', '.join(report_ids)}",
            )
        _check_values(path, data, i, row, instruments[row["instrument"]])
        _check_events(path, data, i, row, arm_by_id[row["arm"]])
    for i, row in enumerate(data.get("correlations") or []):
        _check_p(path, data, ["correlations", i, "p"], row.get("p"))
        if row.get("report") is not None and row["report"] not in report_ids:
            fail(
                path,
                data,
                ["correlations", i, "report"],
                f"unknown report {row['report']!r}; expected one of: {', '.join(report_ids)}",
            )
    _check_rows_and_pairs(path, data, outcomes, arm_by_id)


def _unique(path, data, section: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            fail(path, data, [section, i, "id"], f"id {x!r} is used twice")
        seen.add(x)


def _check_values(path, data, i: int, row: Mapping, inst: Mapping) -> None:
    keys = ["outcomes", i]
    stat = row["statistic"]
    required, optional = STATISTICS[stat]
    allowed = COMMON_FIELDS | set(required) | set(optional)
    for field in row:
        if field not in allowed:
            fail(
                path,
                data,
                keys + [field],
                f"not a value of statistic '{stat}' (it takes: "
                f"{', '.join(required + optional) or 'no values'}); use another statistic "
                "or put the number in notes",
            )
    label = inst.get("label", row["instrument"])
    binary = inst.get("type", "continuous") == "binary"
    if binary != (stat in BINARY_STATISTICS) and stat != "not_reported":
        kind, stats = (
            ("binary", "events or not_reported")
            if binary
            else ("continuous", "a mean, median or baseline statistic")
        )
        fail(
            path,
            data,
            keys + ["statistic"],
            f"statistic '{stat}' does not fit {label}, a {kind} outcome in the config "
            f"(instruments.{row['instrument']}.type); expected {stats}",
        )
    for field in ("n", "baseline_n"):
        if row.get(field) is not None and row[field] < 2:
            fail(path, data, keys + [field], f"{field} = {row[field]}: an arm needs n >= 2")
    for field in NONNEGATIVE:
        if _num(row.get(field)) and row[field] < 0:
            fail(path, data, keys + [field], f"{field} = {row[field]} is negative; expected >= 0")
    if binary:
        return  # counts: no score range
    lo, hi = float(inst["min"]), float(inst["max"])
    span = hi - lo
    for field in SCORE_VALUES:
        v = row.get(field)
        if _num(v) and not lo <= v <= hi:
            fail(
                path,
                data,
                keys + [field],
                f"{field} = {v} is outside the {label} range {inst['min']}-{inst['max']}",
            )
    sign = -1.0 if stat == "improvement_mean" else 1.0
    for field in CHANGE_VALUES:
        v = row.get(field)
        if _num(v) and not -span <= sign * v <= span:
            fail(
                path,
                data,
                keys + [field],
                f"{field} = {v} is not a possible change on {label} "
                f"(range {inst['min']}-{inst['max']}, so a change lies within +/-{span:g})",
            )
    _check_p(path, data, keys + ["between_group_p"], row.get("between_group_p"))
    if _num(row.get("pct")) and row["pct"] < -100:
        fail(
            path, data, keys + ["pct"], f"pct = {row['pct']}: a score cannot fall by more than 100%"
        )
    if _num(row.get("ci_lower")) and _num(row.get("ci_upper")):
        if row["ci_lower"] > row["ci_upper"]:
            fail(path, data, keys + ["ci_lower"], "ci_lower is above ci_upper")
        if _num(row.get("mean")) and not row["ci_lower"] <= row["mean"] <= row["ci_upper"]:
            fail(path, data, keys + ["mean"], "mean lies outside its confidence interval")
    order = [f for f in ("min", "q1", "median", "q3", "max") if _num(row.get(f))]
    for a, b in zip(order, order[1:], strict=False):
        if row[a] > row[b]:
            fail(path, data, keys + [b], f"{b} = {row[b]} is below {a} = {row[a]}")


def _check_events(path, data, i: int, row: Mapping, arm: Mapping) -> None:
    """The events of a binary row are a whole number not above the row's n (the arm's
    n when the row gives none)."""
    events = row.get("events")
    if row["statistic"] != "events" or events is None:
        return
    keys = ["outcomes", i, "events"]
    if isinstance(events, float) and not events.is_integer():  # 12.0 passes the schema
        fail(path, data, keys, f"events = {events:g} is not a whole number of participants")
    n, whose = (row["n"], "the row's n") if "n" in row else (arm.get("n"), "the arm's n")
    if n is not None and events > n:
        fail(
            path,
            data,
            keys,
            f"events = {events:g} is more than {whose} = {n}: events count participants of the arm",
        )


def _check_p(path, data, keys: list, printed: object) -> None:
    """A P value as printed (``0.047``, ``"<0.001"``, ``"p = 0.02"``) lies in [0, 1];
    an exact P of 0 is a rounded one: write it as printed with its bound (``"<0.001"``)."""
    if printed is None:
        return
    from srma.extraction.harmonise import parse_p

    p = parse_p(printed)
    if p.value is None:
        return
    if not 0 <= p.value <= 1:
        fail(path, data, keys, f"{printed!r} is not a P value: {p.value:g} is outside 0 to 1")
    if p.value == 0 and p.relation == "=":
        fail(
            path,
            data,
            keys,
            f"{printed!r}: a P value cannot be exactly 0; write it as printed with its "
            'bound, e.g. "<0.001"',
        )


def _check_rows_and_pairs(path, data, outcomes: list, arm_by_id: Mapping) -> None:
    """No two rows of one kind for the same arm x instrument x scoring x week; every
    intervention row has a control row and the other way round (controlled designs)."""
    seen: dict[tuple, int] = {}
    roles: dict[tuple, dict[str, int]] = {}
    for i, row in enumerate(outcomes):
        base = (row["instrument"], row.get("scoring"), float(row["timepoint_weeks"]))
        kind = "baseline" if row["statistic"] == "baseline" else "values"
        key = (row["arm"], *base, kind)
        if key in seen:
            fail(
                path,
                data,
                ["outcomes", i],
                f"outcome {seen[key] + 1} already gives {kind} for arm {row['arm']!r}, "
                f"{row['instrument']}, week {row['timepoint_weeks']:g}; give the other "
                "scoring or reading a distinct 'scoring' label",
                field="scoring",
            )
        seen[key] = i
        roles.setdefault(base, {}).setdefault(arm_by_id[row["arm"]]["role"], i)
    if data["design"] == "cohort":
        return
    for (instrument, scoring, weeks), present in roles.items():
        for have, need in (("intervention", "control"), ("control", "intervention")):
            if have in present and need not in present:
                i = present[have]
                label = f" ({scoring})" if scoring else ""
                fail(
                    path,
                    data,
                    ["outcomes", i],
                    f"{have} row for {instrument}{label} at week {weeks:g} has no {need} row; "
                    f"add the {need} arm's row (statistic 'not_reported' when the paper "
                    "gives no numbers for it)",
                    field="arm",
                )


def check_duplicate_keys(path: str | Path, data: Mapping, root: yaml.Node | None = None) -> None:
    """A key given twice in one mapping (YAML loaders keep the last silently) is an error.
    ``root``: the file's node tree (composed again from ``path`` when not given)."""
    if root is None:
        root = _compose(path)
    stack = [(root, [])]
    while stack:
        node, keys = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for knode, vnode in node.value:
                line = knode.start_mark.line + 1
                if knode.value in seen:
                    raise InputError(
                        path,
                        f"key given twice (first on line {seen[knode.value]}); keep one",
                        record=_record(data.get("study_id"), keys),
                        field=str(knode.value),
                        line=line,
                    )
                seen[knode.value] = line
                stack.append((vnode, [*keys, knode.value]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, [*keys, i]) for i, child in enumerate(node.value))


def check_finite(path: str | Path, data: Mapping) -> None:
    """No NaN or infinity anywhere in the file (YAML ``.nan``, ``.inf``, ``-.inf``): the
    JSON schema takes them for numbers and no range holds them, so they would pass
    every check and then drop the study from its group silently."""
    stack: list[tuple[list, object]] = [([], data)]
    while stack:
        keys, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            field = next((k for k in reversed(keys) if isinstance(k, str)), None)
            fail(
                path,
                data,
                keys,
                f"{field or 'value'} = {value} is not a finite number; write the value as "
                "printed (null when the paper gives none)",
                field=field,
            )
        if isinstance(value, dict):
            stack.extend(reversed([([*keys, k], v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([([*keys, i], v) for i, v in enumerate(value)]))


def load_and_check(path: str | Path, config: Mapping) -> dict:
    """Parse (:func:`load_study`), check for duplicate keys and non-finite numbers,
    validate against the schema, and run :func:`check_study`."""
    data, root = load_study(path)
    check_duplicate_keys(path, data, root)
    check_finite(path, data)
    validate_schema(path, data)
    check_study(path, data, config)
    return data
