"""Reading and checking risk-of-bias files, and the review's risk-of-bias table.

One YAML file per study, ``resources/risk_of_bias/<study_id>.yaml`` (the format is in
docs/risk-of-bias.md and ``workflow/schemas/risk_of_bias.schema.yaml``). Every problem
stops with an :class:`~srma.errors.InputError` naming the file, the line, the study (and
the outcome entry) and the field, in three layers:

1. reading (:func:`read_assessment`): at most :data:`MAX_BYTES`, UTF-8, one YAML
   document of plain values (no aliases, no tags such as ``!!binary``), no key given
   twice;
2. the JSON schema (types, required fields, allowed values, unknown keys: a typo such
   as ``suport`` is an unknown field);
3. the checks the schema cannot express (:func:`check_assessment`): the file name equals
   ``study_id``; the domains are the tool's (every domain at study level) and the
   judgements on its scale; an overall judgement entered by hand agrees with the tool's
   algorithm (:mod:`srma.appraisal.rob2`, :mod:`srma.appraisal.robins_i`) or carries a
   reason where the tool leaves room for judgement; outcome entries name config
   instruments and timepoints, once each; the tool fits the study's design when the
   designs are given.

:func:`rob_table` turns checked assessments into the long risk-of-bias table
(``results/tables/risk_of_bias.csv``), and :func:`for_outcome` picks, per study, the
judgements that hold for one instrument x timepoint.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from srma.appraisal import rob2, robins_i
from srma.appraisal.tools import NO_INFORMATION, NOT_APPLICABLE, TOOL_FOR_DESIGN, TOOLS
from srma.config import node_line
from srma.errors import InputError, decode_utf8

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "risk_of_bias.schema.yaml"

#: Largest risk-of-bias file read (a file is one or two kilobytes).
MAX_BYTES = 1 << 20

#: Judgement of the one row of a study that no tool applies to.
NOT_APPLICABLE_JUDGEMENT = "not applicable"

#: Columns of the risk-of-bias table, in order.
COLUMNS = [
    "study_id",
    "tool",
    "instrument",
    "timepoint",
    "domain",
    "domain_name",
    "judgement",
    "support",
    "source",
    "origin",
    "algorithm",
    "rule",
    "reason",
    "file",
]

ALGORITHMS = {"rob2": rob2.overall, "robins_i": robins_i.overall}

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


# Reading -----------------------------------------------------------------------------------


def read_assessment(path: str | Path) -> tuple[dict, yaml.Node]:
    """Parse one risk-of-bias file (no validation): the data and the YAML node tree they
    were built from (for line numbers). Refuses, naming the file and the line: more than
    :data:`MAX_BYTES`, bytes that are not UTF-8, an empty file, YAML syntax errors,
    several documents, aliases, tags that do not give plain values, a key given twice.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as err:
        raise InputError(path, f"cannot read the file: {err.strerror or err}") from None
    if len(raw) > MAX_BYTES:
        raise InputError(path, f"a risk-of-bias file may have at most {MAX_BYTES:,} bytes")
    text = decode_utf8(path, raw)
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise InputError(path, "the file is empty: expected study_id, tool and judgements")
        study = _scalar(root, "study_id")
        _check_nodes(path, root, study)
        data = loader.construct_document(root)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(
            path,
            f"not valid YAML: {problem}",
            line=mark.line + 1 if mark is not None else None,
        ) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise InputError(
            path,
            "expected a mapping (study_id, tool, judgements ...)",
            line=root.start_mark.line + 1,
        )
    return data, root


def _scalar(root: yaml.Node, key: str) -> str | None:
    if isinstance(root, yaml.MappingNode):
        for knode, vnode in root.value:
            if knode.value == key and isinstance(vnode, yaml.ScalarNode):
                return vnode.value
    return None


def _check_nodes(path: Path, root: yaml.Node, study: str | None) -> None:
    """No alias (a node met twice), no tag beyond plain values, no key given twice."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, list]] = [(root, [])]
    while stack:
        node, keys = stack.pop()
        line = node.start_mark.line + 1
        if id(node) in seen:
            raise InputError(
                path,
                "YAML aliases are not allowed here; write the values out",
                record=_record(study, keys),
                field=_field(keys),
                line=line,
            )
        seen.add(id(node))
        if node.tag not in _PLAIN_TAGS:
            raise InputError(
                path,
                f"YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed: "
                "only plain values (text, numbers, true/false, null, lists and mappings)",
                record=_record(study, keys),
                field=_field(keys),
                line=line,
            )
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, [*keys, i]) for i, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for knode, vnode in node.value:
                key = knode.value if isinstance(knode, yaml.ScalarNode) else "?"
                kline = knode.start_mark.line + 1
                if key in first:
                    raise InputError(
                        path,
                        f"key given twice (first on line {first[key]}); keep one",
                        record=_record(study, keys),
                        field=_field([*keys, key]),
                        line=kline,
                    )
                first[key] = kline
                stack.append((vnode, [*keys, key]))


# Where an error is --------------------------------------------------------------------------


def _record(study: object, keys: Sequence[object]) -> str | None:
    record = str(study) if study is not None else None
    if len(keys) >= 2 and keys[0] == "outcomes" and isinstance(keys[1], int):
        item = f"outcome {keys[1] + 1}"
        record = f"{record}, {item}" if record else item
    return record


def _field(keys: Sequence[object]) -> str | None:
    """``D3.judgement`` for ``[..., "judgements", "D3", "judgement"]``; the last key else."""
    names = [k for k in keys if isinstance(k, str)]
    if "judgements" in names:
        tail = names[names.index("judgements") + 1 :]
        return ".".join(tail) if tail else "judgements"
    return names[-1] if names else None


def _fail(path, data, root, keys: Sequence[object], message: str, field: str | None = None):
    study = data.get("study_id") if isinstance(data, Mapping) else None
    raise InputError(
        path,
        message,
        record=_record(study, keys),
        field=field if field is not None else _field(keys),
        line=node_line(root, keys),
    )


# Schema ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    with open(SCHEMA, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    return jsonschema.validators.validator_for(schema)(schema)


def _describe(err) -> tuple[list, str, str | None]:
    keys = list(err.absolute_path)
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else None
        return keys, "required field is missing", missing
    if v == "additionalProperties":
        props = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in props and not _pattern_ok(err, k))
        allowed = sorted(props) + (["D1 ... D7"] if "patternProperties" in err.schema else [])
        key = extra[0] if extra else None
        return (
            keys + ([key] if key else []),
            f"unknown field; expected one of: {', '.join(allowed)}",
            None,
        )
    if v == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return keys, f"{err.instance!r} is not allowed; expected one of: {allowed}", None
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return keys, f"expected {want}, got {err.instance!r}", None
    if v == "not" and isinstance(err.instance, Mapping):
        tool = err.instance.get("tool")
        if tool == NOT_APPLICABLE:
            return keys, "a study with tool 'none' has no judgements, outcomes or effect", None
        if tool == "robins_i" and "effect" in err.instance:
            return keys + ["effect"], "'effect' is a RoB 2 field; ROBINS-I has none", None
        return keys, "'not_applicable' is only for tool 'none'", "not_applicable"
    if v == "minLength":
        return keys, "must not be empty", None
    if v == "minProperties":
        return keys, "give at least one domain judgement", None
    if v == "pattern":
        return keys, f"{err.instance!r} does not match {err.validator_value}", None
    return keys, err.message, None


def _pattern_ok(err, key: str) -> bool:
    import re

    return any(re.search(p, key) for p in err.schema.get("patternProperties", {}))


def validate_schema(path: str | Path, data: Mapping, root: yaml.Node | None = None) -> None:
    """Validate against the JSON schema; raise on the first error in file order."""
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    ranked = []
    for err in errors:
        # jsonschema reports the errors inside if/then/else and not under the parent:
        # the most specific (deepest, then unknown keys first) in file order wins.
        keys, message, field = _describe(err)
        first = 0 if err.validator == "additionalProperties" else 1
        ranked.append(((node_line(root, keys) or 0, -len(keys), first, message), keys, field))
    (_, _, _, message), keys, field = min(ranked, key=lambda x: x[0])
    _fail(path, data, root, keys, message, field)


# Checks beyond the schema -----------------------------------------------------------------


def check_assessment(
    path: str | Path,
    data: Mapping,
    root: yaml.Node | None = None,
    *,
    config: Mapping | None = None,
    design: str | None = None,
) -> None:
    """The checks of layer 3 (module docstring). ``config``: the review's config
    (``instruments``, ``timepoints``) to check the outcome entries against; ``design``:
    the study's design in its extraction file (``rct``, ``controlled_cohort``,
    ``cohort``) to check the tool against."""
    path = Path(path)
    if data["study_id"] != path.stem:
        _fail(path, data, root, ["study_id"], f"must equal the file name '{path.stem}'")
    tool_key = data["tool"]
    if design is not None and design in TOOL_FOR_DESIGN and TOOL_FOR_DESIGN[design] != tool_key:
        _fail(
            path,
            data,
            root,
            ["tool"],
            f"the study's design is {design!r} (extraction file), which takes tool "
            f"{TOOL_FOR_DESIGN[design]!r}, not {tool_key!r}",
        )
    if tool_key == NOT_APPLICABLE:
        return
    tool = TOOLS[tool_key]
    study = data["judgements"]
    _check_judgements(path, data, root, ["judgements"], study, tool)
    missing = [d for d in tool.domains if d not in study]
    if missing:
        _fail(
            path,
            data,
            root,
            ["judgements"],
            f"{tool.name} needs a study-level judgement for every domain: "
            f"{', '.join(missing)} missing (write 'no information' when the reports say "
            "nothing)",
            field=missing[0],
        )
    _check_overall(path, data, root, ["judgements"], _domains(study, tool), study, tool)
    instruments = (config or {}).get("instruments")
    timepoints = (config or {}).get("timepoints")
    seen: dict[tuple, int] = {}
    for i, entry in enumerate(data.get("outcomes") or []):
        keys = ["outcomes", i]
        inst, tp = entry["instrument"], entry.get("timepoint")
        if instruments is not None and inst not in instruments:
            _fail(
                path,
                data,
                root,
                keys + ["instrument"],
                f"unknown instrument {inst!r}; expected one of the config's instruments: "
                f"{', '.join(instruments)}",
            )
        if tp is not None and timepoints is not None and tp not in timepoints:
            _fail(
                path,
                data,
                root,
                keys + ["timepoint"],
                f"unknown timepoint {tp!r}; expected one of the config's timepoints: "
                f"{', '.join(timepoints)}",
            )
        if (inst, tp) in seen:
            _fail(
                path,
                data,
                root,
                keys + ["instrument"],
                f"outcome {seen[(inst, tp)] + 1} already gives judgements for {inst}"
                + (f" at {tp}" if tp else " (every timepoint)")
                + "; merge the two entries",
            )
        seen[(inst, tp)] = i
        own = entry["judgements"]
        _check_judgements(path, data, root, keys + ["judgements"], own, tool)
        merged = {**_domains(study, tool), **_domains(own, tool)}
        _check_overall(path, data, root, keys + ["judgements"], merged, own, tool)


def _domains(judgements: Mapping, tool) -> dict[str, str]:
    return {d: judgements[d]["judgement"] for d in tool.domains if d in judgements}


def _check_judgements(path, data, root, keys: list, judgements: Mapping, tool) -> None:
    for key, value in judgements.items():
        if key == "overall":
            allowed = (*tool.judgements,)
        elif key not in tool.domains:
            _fail(
                path,
                data,
                root,
                keys + [key],
                f"{tool.name} has domains {', '.join(tool.domains)}, not {key}",
                field=key,
            )
        else:
            allowed = tool.judgements
        if value["judgement"] not in allowed:
            _fail(
                path,
                data,
                root,
                keys + [key, "judgement"],
                f"{value['judgement']!r} is not a {tool.name} judgement; expected one of: "
                f"{', '.join(allowed)}",
            )


def _check_overall(path, data, root, keys: list, domains: Mapping, judgements: Mapping, tool):
    given = judgements.get("overall")
    if given is None:
        return
    proposal = ALGORITHMS[tool.key](domains)
    problem = proposal.check(given["judgement"], given.get("reason"))
    if problem is not None:
        _fail(path, data, root, keys + ["overall", "judgement"], problem)


def load_assessment(
    path: str | Path, *, config: Mapping | None = None, design: str | None = None
) -> dict:
    """Read (:func:`read_assessment`), validate against the schema and check
    (:func:`check_assessment`) one risk-of-bias file; the checked data."""
    data, root = read_assessment(path)
    _check_finite(path, data, root)
    validate_schema(path, data, root)
    check_assessment(path, data, root, config=config, design=design)
    return data


def _check_finite(path, data, root) -> None:
    stack: list[tuple[list, object]] = [([], data)]
    while stack:
        keys, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            _fail(path, data, root, keys, f"{value} is not a finite number")
        if isinstance(value, dict):
            stack.extend(([*keys, k], v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(([*keys, i], v) for i, v in enumerate(value))


# The table --------------------------------------------------------------------------------


def assessment_rows(path: str | Path, data: Mapping) -> list[dict]:
    """The rows of one checked assessment in the risk-of-bias table (:data:`COLUMNS`):
    every domain and the overall judgement at study level (``instrument`` and
    ``timepoint`` null), then the same for each outcome entry, its domains merged over
    the study-level ones (``origin`` says which: ``study`` or ``outcome``). The overall
    row's ``algorithm`` is the tool's proposal and ``rule`` the decision-table sentence
    behind it; ``origin`` is ``algorithm`` when the overall judgement is the proposal,
    ``reviewer`` when the reviewer entered another one (its ``reason`` beside it)."""
    file = Path(path).as_posix()
    base = {"study_id": data["study_id"], "tool": data["tool"], "file": file}
    if data["tool"] == NOT_APPLICABLE:
        return [
            _row(
                base,
                None,
                None,
                domain="overall",
                domain_name="Overall",
                judgement=NOT_APPLICABLE_JUDGEMENT,
                support=data["not_applicable"],
                origin="study",
            )
        ]
    tool = TOOLS[data["tool"]]
    study = data["judgements"]
    rows = _scope_rows(base, None, None, tool, study, {})
    for entry in data.get("outcomes") or []:
        rows += _scope_rows(
            base, entry["instrument"], entry.get("timepoint"), tool, study, entry["judgements"]
        )
    return rows


def _scope_rows(base, instrument, timepoint, tool, study: Mapping, own: Mapping) -> list[dict]:
    rows, domains = [], {}
    for d, name in tool.domains.items():
        entry, origin = (own[d], "outcome") if d in own else (study[d], "study")
        domains[d] = entry["judgement"]
        rows.append(
            _row(
                base,
                instrument,
                timepoint,
                domain=d,
                domain_name=name,
                judgement=entry["judgement"],
                support=entry["support"],
                source=entry.get("source"),
                origin=origin,
            )
        )
    proposal = ALGORITHMS[tool.key](domains)
    # An outcome entry without its own overall judgement gets the algorithm's.
    given = (own if own else study).get("overall")
    final = given["judgement"] if given else proposal.judgement
    rows.append(
        _row(
            base,
            instrument,
            timepoint,
            domain="overall",
            domain_name="Overall",
            judgement=final,
            support=(given or {}).get("support"),
            origin="algorithm" if final == proposal.judgement else "reviewer",
            algorithm=proposal.judgement,
            rule=proposal.rule,
            reason=(given or {}).get("reason") if final != proposal.judgement else None,
        )
    )
    return rows


def _row(base, instrument, timepoint, **values) -> dict:
    row = {c: None for c in COLUMNS}
    row.update(base, instrument=instrument, timepoint=timepoint, **values)
    return row


def rob_table(assessments: Iterable[tuple[str | Path, Mapping]]) -> pd.DataFrame:
    """The review's risk-of-bias table from checked ``(path, data)`` pairs: the rows of
    :func:`assessment_rows`, studies sorted by id, every column a string."""
    rows: list[dict] = []
    for path, data in sorted(assessments, key=lambda pd_: str(pd_[1]["study_id"])):
        rows += assessment_rows(path, data)
    table = pd.DataFrame(rows, columns=COLUMNS)
    for c in COLUMNS:
        table[c] = table[c].astype("string")
    return table.reset_index(drop=True)


def load_assessments(
    paths: Iterable[str | Path],
    *,
    config: Mapping | None = None,
    designs: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Load and check every file (:func:`load_assessment`; ``designs``: study id ->
    extraction design) and return :func:`rob_table`. Two files of one study are an
    error."""
    loaded, seen = [], {}
    for path in sorted(Path(p) for p in paths):
        design = (designs or {}).get(path.stem)
        data = load_assessment(path, config=config, design=design)
        if data["study_id"] in seen:
            raise InputError(path, f"{seen[data['study_id']]} is already this study's file")
        seen[data["study_id"]] = path
        loaded.append((path, data))
    return rob_table(loaded)


def check_coverage(table: pd.DataFrame, studies: Iterable[str], source: str = "") -> None:
    """Every study (e.g. of the extraction files) has a risk-of-bias file, and every
    file a study: an :class:`InputError` names the first study without its file."""
    have = set(table["study_id"].dropna().astype(str))
    want = set(map(str, studies))
    missing = sorted(want - have)
    if missing:
        raise InputError(
            source or "risk-of-bias files",
            f"no risk-of-bias file for {', '.join(missing)}: write "
            f"resources/risk_of_bias/{missing[0]}.yaml (tool 'none' with a reason when no "
            "tool applies)",
            record=missing[0],
        )
    extra = sorted(have - want)
    if extra:
        raise InputError(
            source or "risk-of-bias files",
            f"risk-of-bias file for {', '.join(extra)}, which no extraction file has",
            record=extra[0],
        )


# One outcome ------------------------------------------------------------------------------


def for_outcome(table: pd.DataFrame, instrument: str, timepoint: str) -> pd.DataFrame:
    """The judgements that hold for ``instrument`` x ``timepoint``, one scope per study:
    the outcome entry for this instrument and timepoint, else the one for the
    instrument (every timepoint), else the study level. Rows keep the table's columns
    and order (studies without a tool keep their ``not applicable`` row)."""
    if not len(table):
        return table
    inst = table["instrument"]
    tp = table["timepoint"]
    exact = (inst == instrument).fillna(False) & (tp == timepoint).fillna(False)
    by_inst = (inst == instrument).fillna(False) & tp.isna()
    study = inst.isna() & tp.isna()
    parts = []
    for _, rows in table.groupby("study_id", sort=True):
        for mask in (exact, by_inst, study):
            chosen = rows[mask.loc[rows.index]]
            if len(chosen):
                parts.append(chosen)
                break
    if not parts:
        return table.iloc[:0]
    return pd.concat(parts).reset_index(drop=True)


def overall_judgements(table: pd.DataFrame) -> dict[str, str]:
    """study id -> overall judgement, from a table with one scope per study (e.g.
    :func:`for_outcome`'s)."""
    if not len(table):
        return {}
    rows = table[table["domain"] == "overall"]
    out: dict[str, str] = {}
    for sid, judgement in zip(rows["study_id"], rows["judgement"], strict=True):
        if sid in out:
            raise ValueError(f"{sid}: more than one overall judgement; use for_outcome first")
        out[str(sid)] = str(judgement)
    return out


def summary(table: pd.DataFrame) -> dict[str, int]:
    """Counts for the report: studies assessed, domain judgements entered, of which
    ``no information`` (study level)."""
    study = table[table["instrument"].isna() & (table["domain"] != "overall")]
    return {
        "studies": int(table["study_id"].nunique()),
        "assessed": int(table.loc[table["tool"] != NOT_APPLICABLE, "study_id"].nunique()),
        "domains": int(len(study)),
        "no_information": int((study["judgement"] == NO_INFORMATION).sum()),
    }
