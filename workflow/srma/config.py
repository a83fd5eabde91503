"""Loading, validating and hashing the review configuration.

The workflow validates ``config/config.yaml`` with ``snakemake.utils.validate``
against ``workflow/schemas/config.schema.yaml``; the command line and the tests use
:func:`load_config`, which applies the same schema with ``jsonschema``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from srma.errors import ConfigError

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def safe_load_yaml(path: str | Path):
    """Parse a YAML file with the safe loader (no arbitrary Python objects)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8-sig") as fh:
        return yaml.load(fh, Loader=loader)  # noqa: S506 - safe loader chosen above


def validate_config(config: Mapping, schema_path: str | Path = SCHEMA) -> dict:
    """Validate ``config`` against the schema, filling defaults; raise ConfigError.

    The error names the offending key as a dotted path, e.g. ``pooling.method``.
    """
    import jsonschema

    schema = safe_load_yaml(schema_path)
    config = json.loads(json.dumps(config))  # plain dict, detached from the caller's
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


def load_config(path: str | Path) -> dict:
    """Read and validate a config file."""
    return validate_config(safe_load_yaml(path) or {})


def config_hash(config: Mapping) -> str:
    """SHA-256 (first 16 hex digits) of the config as canonical JSON.

    Stored in every output table so a result can be matched to its configuration.
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
