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


# Checks beyond the schema (check_config) and guarded reading (load_config) ---------------


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (lambda c: c["pooling"].update(level=float("nan")), "pooling.level", "not a finite"),
        (lambda c: c["instruments"]["asspimri"].update(max=float("inf")),
         "instruments.asspimri.max", "inf is not a finite number"),
        (lambda c: c["instruments"]["asspimri"].update(min=138), "instruments.asspimri.min",
         "min = 138 is not below max = 138"),
        (lambda c: c["timepoints"]["24w"].update(min=16), "timepoints.24w.min",
         "window 16-30 weeks overlaps window '12w' (10-16)"),
        (lambda c: c["timepoints"]["12w"].update(target=20), "timepoints.12w.target",
         "target = 20 weeks is outside its own window 10-16"),
        (lambda c: c["timepoints"]["2y"].update(min=120), "timepoints.2y.min",
         "min = 120 weeks is above max = 112"),
        (lambda c: c["dedup"].update(uncertain_threshold=99), "dedup.uncertain_threshold",
         "99 is above dedup.title_threshold = 95"),
    ],
)  # fmt: skip
def test_check_config_names_the_key(bundled, edit, key, message):
    from srma.config import check_config

    cfg = validate_config(copy.deepcopy(bundled))
    check_config(cfg, paths=False)
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        check_config(cfg, paths=False)
    assert str(err.value).startswith(f"config key '{key}': ")
    assert message in str(err.value)


def test_non_finite_number_stops_schema_validation(bundled):
    cfg = copy.deepcopy(bundled)
    cfg["extraction"]["change_score_correlation"] = float("nan")
    with pytest.raises(ConfigError, match=r"'extraction\.change_score_correlation': nan"):
        validate_config(cfg)


def test_check_config_paths(root_dir, bundled, tmp_path, monkeypatch):
    from srma.config import check_config

    monkeypatch.chdir(root_dir)
    check_config(validate_config(copy.deepcopy(bundled)))  # the bundled review's files exist
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.ris").write_text("TY  - JOUR\nER  - \n")
    (tmp_path / "empty.ris").write_bytes(b"")
    (tmp_path / "decisions.csv").write_text("record_key\n")
    (tmp_path / "studies").mkdir()
    base = {
        "searches": {"a": {"path": "a.ris"}},
        "instruments": {"x": {"label": "X", "min": 0, "max": 1}},
        "timepoints": {"t": {"min": 1, "max": 2}},
        "screening": {"decisions": "decisions.csv"},
        "extraction": {"directory": "studies"},
    }
    check_config(validate_config(base))
    for edit, key, message in [
        ({"searches": {"a": {"path": "gone.ris"}}}, "searches.a.path", "gone.ris: no such file"),
        ({"searches": {"a": {"path": "studies"}}}, "searches.a.path", "studies: not a file"),
        ({"searches": {"a": {"path": "empty.ris"}}}, "searches.a.path", "the file is empty"),
        (
            {"searches": {"a": {"path": "a.ris"}, "b": {"path": "./a.ris"}}},
            "searches.b.path",
            "the same file as searches.a",
        ),
        ({"screening": {"decisions": "d.csv"}}, "screening.decisions", "d.csv: no such file"),
        ({"extraction": {"directory": "none"}}, "extraction.directory", "none: no such folder"),
    ]:
        with pytest.raises(ConfigError) as err:
            check_config(validate_config(base | edit))
        assert str(err.value).startswith(f"config key '{key}': ") and message in str(err.value)


def _config_file(tmp_path, text: str | bytes):
    path = tmp_path / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (b"review:\n  title: caf\xe9\n", 2, None, "byte 0xe9 (column 13) is not UTF-8"),
        ("pooling:\n  method: DL\npooling:\n  method: REML\n", 3, "pooling",
         "key given twice (first on line 1)"),
        ("review:\n  title: !!binary c3Ryb2tl\n", 2, "review.title", "YAML tag !!binary"),
        ("review:\n  title: !env HOME\n", 2, "review.title", "YAML tag !env"),
        ("a: [1\n", 2, None, "not valid YAML"),
        ("x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
         + "".join(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)),
         2, "x1", "YAML aliases expand to more than 100,000 values"),
    ],
)  # fmt: skip
def test_config_file_guards_name_file_and_line(tmp_path, text, line, field, message):
    from srma.config import check_config_files
    from srma.errors import InputError

    path = _config_file(tmp_path, text)
    with pytest.raises(InputError) as err:
        check_config_files([path])
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)
    assert message in err.value.message
    with pytest.raises(InputError):
        load_config(path)


def test_config_file_size_limit(tmp_path):
    from srma.config import MAX_CONFIG_BYTES, check_config_files
    from srma.errors import InputError

    path = _config_file(tmp_path, "# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(InputError, match="a config file may have at most 1,048,576"):
        check_config_files([path])


def test_config_aliases_within_the_bound_are_read(root_dir, tmp_path):
    """Anchors and aliases (and merge keys) are YAML's own way to share settings."""
    from srma.config import check_config_files

    text = (root_dir / "config" / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("  12w:\n", "  12w: &window\n", 1) + "x: *window\n"
    path = _config_file(tmp_path, text)
    check_config_files([path])
    with pytest.raises(ConfigError, match="'x' was unexpected"):
        load_config(path)


def test_bundled_config_files_pass_the_guards(root_dir):
    from srma.config import check_config_files

    check_config_files([root_dir / "config" / "config.yaml"])
    check_config_files([root_dir / "tests" / "fixtures" / "review" / "config" / "config.yaml"])
