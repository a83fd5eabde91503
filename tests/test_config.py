"""Config validation: unknown keys and wrong types stop with the key's name."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from srma.config import config_hash, load_config, safe_load_yaml, validate_config
from srma.errors import ConfigError


@pytest.fixture(scope="module")
def bundled(root_dir):
    return safe_load_yaml(root_dir / "config" / "config.yaml")


def test_bundled_config_is_valid_and_defaults_are_filled(root_dir, bundled):
    cfg = load_config(root_dir / "config" / "config.yaml")
    assert cfg["pooling"]["method"] == "REML"
    assert cfg["instruments"]["sparcc_sij"] == {"label": "SPARCC SIJ", "min": 0, "max": 72}
    assert cfg["timepoints"]["12w"]["min"] == 10 and cfg["timepoints"]["12w"]["max"] == 16
    # a section left out gets its defaults
    del bundled["correlations"]
    cfg = validate_config(bundled)
    assert cfg["correlations"]["min_studies"] == 3


def test_unknown_key_is_named(bundled):
    cfg = copy.deepcopy(bundled)
    cfg["pooling"]["metod"] = "DL"
    with pytest.raises(ConfigError, match=r"'pooling'.*'metod' was unexpected"):
        validate_config(cfg)


def test_unknown_top_level_key_is_named(bundled):
    cfg = copy.deepcopy(bundled)
    cfg["poling"] = {}
    with pytest.raises(ConfigError, match="poling"):
        validate_config(cfg)


def test_wrong_type_is_named(bundled):
    cfg = copy.deepcopy(bundled)
    cfg["pooling"]["min_studies"] = "two"
    with pytest.raises(ConfigError, match=r"config key 'pooling\.min_studies'"):
        validate_config(cfg)
    cfg = copy.deepcopy(bundled)
    cfg["instruments"]["sparcc_sij"]["max"] = "72 points"
    with pytest.raises(ConfigError, match=r"'instruments\.sparcc_sij\.max'"):
        validate_config(cfg)


def test_unknown_estimator_is_rejected(bundled):
    cfg = copy.deepcopy(bundled)
    cfg["pooling"]["method"] = "BAYES"
    with pytest.raises(ConfigError, match=r"'pooling\.method'.*'BAYES' is not one of"):
        validate_config(cfg)


def test_config_hash_is_stable_and_sensitive(bundled):
    assert config_hash(bundled) == config_hash(copy.deepcopy(bundled))
    changed = copy.deepcopy(bundled)
    changed["pooling"]["method"] = "DL"
    assert config_hash(changed) != config_hash(bundled)
    assert len(config_hash(bundled)) == 16


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("pooling", "metod", "DL"), ("pooling", "level", "high"), ("dedup", "title_threshold", [])],
)
def test_snakemake_stops_at_parse_time_naming_the_key(
    root_dir, tmp_path, bundled, section, key, value
):
    """The workflow validates the config with snakemake.utils.validate at start-up."""
    import yaml

    cfg = copy.deepcopy(bundled)
    cfg[section][key] = value
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "--cores", "1"],
        cwd=root_dir,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert key in proc.stderr + proc.stdout
    assert "ModuleNotFoundError" not in proc.stderr + proc.stdout
