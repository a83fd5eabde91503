"""Loading, validating and hashing the review configuration.

The workflow validates ``config/config.yaml`` with ``snakemake.utils.validate``
against ``workflow/schemas/config.schema.yaml`` and then calls :func:`check_config`
(checks the schema cannot express: finite numbers, ranges and windows that make sense,
files that exist); the command line and the tests use :func:`load_config`, which
applies the same schema with ``jsonschema`` and the same checks.

:func:`read_yaml_text` and :func:`check_yaml_nodes` are the guarded first steps of
reading a YAML file someone wrote by hand (a config, a study file): a size limit,
decoding errors that name the line, and no tags beyond plain YAML values.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import yaml

from srma.errors import ConfigError, InputError

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"

#: Largest config file read by :func:`load_config` (a config is a few kilobytes).
MAX_CONFIG_BYTES = 1 << 20
#: Values a config may hold after YAML aliases are expanded (an alias "bomb" of nested
#: lists of aliases expands to billions of values from a few lines).
MAX_CONFIG_VALUES = 100_000

#: YAML tags that give plain values (the safe loader's implicit types).
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)

#: The ``<<`` merge key (``<<: *defaults``), allowed where aliases are.
MERGE_TAG = "tag:yaml.org,2002:merge"

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Guarded YAML ------------------------------------------------------------------------------


def read_yaml_text(path: str | Path, *, max_bytes: int, what: str) -> str:
    """The text of a hand-written YAML file, or an :class:`InputError` naming the file
    (and the line): unreadable, larger than ``max_bytes``, not UTF-8, or empty.
    ``what`` names the kind of file in the messages (e.g. "a study file")."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read the file: {getattr(err, 'strerror', err)}") from None
    if len(data) > max_bytes:
        size = path.stat().st_size
        raise InputError(
            path,
            f"the file has {size:,} bytes; {what} may have at most {max_bytes:,} "
            f"({_size(max_bytes)})",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            path,
            f"byte 0x{data[err.start]:02x} (column {col}) is not UTF-8; save the file as UTF-8",
            line=line,
        ) from None
    return text


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n / 1024:g} KiB"


def yaml_error(path: str | Path, err: yaml.YAMLError, text: str) -> InputError:
    """An :class:`InputError` for a YAML syntax error, with the line."""
    mark = getattr(err, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(err, yaml.reader.ReaderError):
        position = getattr(err, "position", None)
        if isinstance(position, int):
            line = text.count("\n", 0, position) + 1
        char = getattr(err, "character", None)
        code = ord(char) if isinstance(char, str) else char
        what = f"character U+{code:04X}" if isinstance(code, int) else "a character"
        return InputError(path, f"{what} is not allowed in YAML (control character)", line=line)
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    detail = ", ".join(str(p) for p in parts if p) or str(err).splitlines()[0]
    return InputError(path, f"not valid YAML: {detail}", line=line)


def tag_name(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` -> ``!!binary``."""
    return tag.replace("tag:yaml.org,2002:", "!!")


def walk_nodes(root: yaml.Node) -> Iterator[tuple[yaml.Node, list, bool]]:
    """Every node of a composed YAML tree in document order, with its keys (mapping keys
    and list indices) and whether it was met before (it is then the target of an alias).
    A node met before is not entered again, so a recursive alias ends the walk there."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, list]] = [(root, [])]
    while stack:
        node, keys = stack.pop()
        again = id(node) in seen
        yield node, keys, again
        if again:
            continue
        seen.add(id(node))
        children: list[tuple[yaml.Node, list]] = []
        if isinstance(node, yaml.SequenceNode):
            children = [(child, [*keys, i]) for i, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            for knode, vnode in node.value:
                key = knode.value if isinstance(knode, yaml.ScalarNode) else "?"
                children.append((knode, [*keys, key, "(key)"]))
                children.append((vnode, [*keys, key]))
        stack.extend(reversed(children))


def first_alias(text: str) -> tuple[str | None, int | None]:
    """The name and 1-based line of the first YAML alias (``*name``) in ``text``."""
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                return event.anchor, event.start_mark.line + 1
    except yaml.YAMLError:
        pass
    return None, None


def node_line(root: yaml.Node | None, keys: Sequence[object]) -> int | None:
    """1-based line of the node at ``keys`` (mapping keys and list indices) in a composed
    YAML tree; the nearest existing parent's line when the node itself is missing."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for key in keys:
        child = None
        if isinstance(node, yaml.MappingNode):
            for knode, vnode in node.value:
                if knode.value == key:
                    child, line = vnode, knode.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(key, int)
            and 0 <= key < len(node.value)
        ):
            child = node.value[key]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def check_yaml_nodes(
    path: str | Path,
    text: str,
    root: yaml.Node,
    *,
    aliases: bool | int = False,
    record: Callable[[list], object] | None = None,
) -> None:
    """Refuse tags that do not give plain values (``!!binary``, ``!!set``, a custom
    ``!tag`` ...) and YAML aliases: every alias (``aliases=False``), or aliases that
    expand to more than ``aliases`` values (an int), so that an alias "bomb" (nested
    lists of aliases: billions of values from a few lines) is refused before anything
    walks its expansion. ``aliases=True`` allows them. ``record(keys)`` names the record
    of a node in the errors (e.g. "Song2011, outcome 3")."""

    def where(keys: list) -> dict:
        if record is None:  # the field as a dotted key, e.g. timepoints.12w.min
            return {"field": _field(keys)}
        field = _field(keys)
        return {"field": field.rsplit(".", 1)[-1] if field else None, "record": record(keys)}

    alias_keys = None
    for node, keys, again in walk_nodes(root):
        if again:
            if aliases is False:
                name, line = first_alias(text)
                label = f"*{name}" if name else "an alias"
                raise InputError(
                    path,
                    f"YAML alias {label}: anchors and aliases are not allowed here; "
                    "write the values out",
                    line=line,
                    **where(keys),
                )
            alias_keys = alias_keys or keys
            continue
        if node.tag not in PLAIN_TAGS and (aliases is False or node.tag != MERGE_TAG):
            raise InputError(
                path,
                f"YAML tag {tag_name(node.tag)} is not allowed: only plain values "
                "(text, numbers, true/false, null, lists and mappings)",
                line=node.start_mark.line + 1,
                **where(keys),
            )
    limit = None if isinstance(aliases, bool) else aliases
    if alias_keys is not None and limit is not None and _expanded_size(root, limit) > limit:
        _, line = first_alias(text)
        raise InputError(
            path,
            f"YAML aliases expand to more than {limit:,} values; write the values out",
            line=line,
            **where(alias_keys),
        )


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Number of values the tree holds once its aliases are expanded, counted up to
    ``limit + 1`` (a recursive alias counts as endless)."""
    count = 0
    stack = [root]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        stack.extend(_children(node))
    return count


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _field(keys: Sequence[object]) -> str | None:
    """The last mapping key of a node's keys (its field), dotted from the top."""
    names = [str(k) for k in keys if isinstance(k, str) and k != "(key)"]
    return ".".join(names) if names else None


def check_duplicate_keys(path: str | Path, root: yaml.Node) -> None:
    """A key given twice in one mapping (YAML loaders keep the last one silently)."""
    for node, keys, again in walk_nodes(root):
        if again or not isinstance(node, yaml.MappingNode):
            continue
        seen: dict[object, int] = {}
        for knode, _ in node.value:
            if not isinstance(knode, yaml.ScalarNode) or knode.tag.endswith(":merge"):
                continue
            line = knode.start_mark.line + 1
            if knode.value in seen:
                raise InputError(
                    path,
                    f"key given twice (first on line {seen[knode.value]}); keep one",
                    field=_field([*keys, knode.value]),
                    line=line,
                )
            seen[knode.value] = line


def load_yaml(
    path: str | Path, *, max_bytes: int, what: str, aliases: bool | int = False
) -> object:
    """Parse a hand-written YAML file with the safe loader and the guards of
    :func:`read_yaml_text`, :func:`check_yaml_nodes` and :func:`check_duplicate_keys`;
    one document, or None when the file holds none."""
    text = read_yaml_text(path, max_bytes=max_bytes, what=what)
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        check_yaml_nodes(path, text, root, aliases=aliases)
        check_duplicate_keys(path, root)
        return loader.construct_document(root)
    except yaml.YAMLError as err:
        raise yaml_error(path, err, text) from None
    finally:
        loader.dispose()


def check_config_files(paths: Iterable[str | Path]) -> None:
    """The config files as written, before anything walks the config Snakemake built
    from them: at most :data:`MAX_CONFIG_BYTES`, UTF-8, plain YAML values, no key given
    twice (Snakemake keeps the last one silently), aliases expanding to at most
    :data:`MAX_CONFIG_VALUES` values. Raises :class:`InputError` naming file and line."""
    for path in paths:
        load_yaml(path, max_bytes=MAX_CONFIG_BYTES, what="a config file", aliases=MAX_CONFIG_VALUES)


def safe_load_yaml(path: str | Path):
    """Parse a YAML file of srma's own (a schema) with the safe loader."""
    with open(path, encoding="utf-8-sig") as fh:
        return yaml.load(fh, Loader=_LOADER)  # noqa: S506 - safe loader chosen above


# Validation --------------------------------------------------------------------------------


def validate_config(config: Mapping, schema_path: str | Path = SCHEMA) -> dict:
    """Validate ``config`` against the schema, filling defaults; raise ConfigError.

    The error names the offending key as a dotted path, e.g. ``pooling.method``.
    """
    import jsonschema

    schema = safe_load_yaml(schema_path)
    _check_finite(config)  # json.dumps below writes NaN as a bare word
    config = json.loads(json.dumps(config, default=str))  # plain dict, detached
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = _extend_with_default(validator_cls)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"config key '{key}': {err.message}")
    return config


def _extend_with_default(validator_class):
    """A validator that also sets ``default`` values from the schema (as Snakemake does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(prop, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    import jsonschema

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _fail(keys: Sequence[object], message: str):
    raise ConfigError(f"config key '{'.'.join(map(str, keys))}': {message}")


def _check_finite(config: object) -> None:
    """No NaN or infinity anywhere (YAML ``.nan``, ``.inf``; the schema's number type
    and bounds let them through)."""
    stack: list[tuple[list, object]] = [([], config)]
    seen: set[int] = set()
    while stack:
        keys, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            _fail(keys, f"{value} is not a finite number")
        if isinstance(value, dict | list):
            if id(value) in seen:  # a YAML alias: its values were checked
                continue
            seen.add(id(value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(reversed([([*keys, k], v) for k, v in items]))


def check_config(config: Mapping, *, paths: bool = True) -> None:
    """Checks of a config that passed the schema, which the schema cannot express; raise
    :class:`ConfigError` naming the key:

    - every number finite (no ``.nan``, ``.inf``);
    - each instrument's ``min`` below its ``max``; a binary instrument has no ``min``
      and ``max``, a continuous one no ``measure`` and ``method``; ``method: PETO``
      only with ``measure: OR``;
    - each timepoint window's ``min <= target <= max``, and no two windows sharing a
      week (a report would fall in both);
    - ``dedup.uncertain_threshold`` not above ``dedup.title_threshold``;
    - every ``sensitivity.analyses`` entry named differently;
    - with ``paths``: every search export is an existing, non-empty file and no export
      is listed twice; the screening decisions file and the extraction folder exist.
      Paths are relative to the working directory, as Snakemake reads them. (Checked
      when the workflow starts: a run never reuses the records of an export that is
      gone.)
    """
    _check_finite(config)
    for key, inst in (config.get("instruments") or {}).items():
        _check_instrument_type(key, inst)
        if _is_num(inst.get("min")) and _is_num(inst.get("max")) and inst["min"] >= inst["max"]:
            _fail(
                ["instruments", key, "min"],
                f"min = {inst['min']:g} is not below max = {inst['max']:g}",
            )
    windows = []
    for key, tp in (config.get("timepoints") or {}).items():
        lo, hi, target = tp.get("min"), tp.get("max"), tp.get("target")
        if not (_is_num(lo) and _is_num(hi)):
            continue
        if lo > hi:
            _fail(["timepoints", key, "min"], f"min = {lo:g} weeks is above max = {hi:g}")
        if _is_num(target) and not lo <= target <= hi:
            _fail(
                ["timepoints", key, "target"],
                f"target = {target:g} weeks is outside its own window {lo:g}-{hi:g}",
            )
        windows.append((lo, hi, key))
    windows.sort()
    for (lo1, hi1, k1), (lo2, hi2, k2) in zip(windows, windows[1:], strict=False):
        if lo2 <= hi1:
            _fail(
                ["timepoints", k2, "min"],
                f"window {lo2:g}-{hi2:g} weeks overlaps window '{k1}' ({lo1:g}-{hi1:g}); "
                "a report would fall in both",
            )
    dedup = config.get("dedup") or {}
    title, uncertain = dedup.get("title_threshold"), dedup.get("uncertain_threshold")
    if _is_num(title) and _is_num(uncertain) and uncertain > title:
        _fail(
            ["dedup", "uncertain_threshold"],
            f"{uncertain:g} is above dedup.title_threshold = {title:g} (pairs scoring "
            "between the two are listed for a person)",
        )
    names: dict[str, int] = {}
    for i, entry in enumerate((config.get("sensitivity") or {}).get("analyses") or []):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name in names:
            _fail(
                ["sensitivity", "analyses", str(i), "name"],
                f"'{name}' names analysis {names[name]} too; each analysis needs its own name",
            )
        names.setdefault(name, i)
    if paths:
        _check_paths(config)


def _check_instrument_type(key: str, inst: Mapping) -> None:
    """The keys of an instrument that fit its type (continuous or binary)."""
    if inst.get("type", "continuous") == "binary":
        for field in ("min", "max"):
            if field in inst:
                _fail(
                    ["instruments", key, field],
                    "a binary instrument has no score range (events of n per arm); remove it",
                )
        if inst.get("method") == "PETO" and inst.get("measure", "OR") != "OR":
            _fail(
                ["instruments", key, "method"],
                f"PETO pools odds ratios only; measure is {inst['measure']} (use MH or an "
                "inverse-variance method)",
            )
        return
    for field in ("measure", "method"):
        if field in inst:
            _fail(
                ["instruments", key, field],
                "only a binary instrument (type: binary) has its own measure and method; a "
                "continuous one uses pooling.measure and pooling.method",
            )


def _check_paths(config: Mapping) -> None:
    seen: dict[Path, str] = {}
    for key, search in (config.get("searches") or {}).items():
        raw = search.get("path")
        if not isinstance(raw, str):
            continue
        path = Path(raw)
        if not path.exists():
            _fail(["searches", key, "path"], f"{raw}: no such file")
        if not path.is_file():
            _fail(["searches", key, "path"], f"{raw}: not a file")
        if path.stat().st_size == 0:
            _fail(["searches", key, "path"], f"{raw}: the file is empty")
        real = path.resolve()
        if real in seen:
            _fail(["searches", key, "path"], f"{raw}: the same file as searches.{seen[real]}")
        seen[real] = key
    screening = (config.get("screening") or {}).get("decisions")
    if isinstance(screening, str) and not Path(screening).is_file():
        _fail(["screening", "decisions"], f"{screening}: no such file")
    directory = (config.get("extraction") or {}).get("directory")
    if isinstance(directory, str) and not Path(directory).is_dir():
        _fail(["extraction", "directory"], f"{directory}: no such folder")


def _is_num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def load_config(path: str | Path, *, paths: bool = False) -> dict:
    """Read, validate (schema) and check (:func:`check_config`; file paths only with
    ``paths``) a config file."""
    data = load_yaml(
        path, max_bytes=MAX_CONFIG_BYTES, what="a config file", aliases=MAX_CONFIG_VALUES
    )
    if data is not None and not isinstance(data, dict):
        raise InputError(path, "expected a mapping of config sections (searches, ...)")
    config = validate_config(data or {})
    check_config(config, paths=paths)
    return config


def config_hash(config: Mapping) -> str:
    """SHA-256 (first 16 hex digits) of the config as canonical JSON.

    Stored in every output table so a result can be matched to its configuration.
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
