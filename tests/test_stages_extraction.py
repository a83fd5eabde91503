"""The extraction stages called directly: one study file in, its table, correlation rows
and excluded rows out (the file's path and SHA-256 in the table's metadata); a bad file
writes nothing; the checkpoint lists which studies report which group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from srma import io, stages
from srma.errors import InputError

FIXTURE = Path(__file__).parent / "fixtures" / "review"
STUDIES = FIXTURE / "resources" / "extraction"


def settings() -> dict:
    config = yaml.safe_load((FIXTURE / "config/config.yaml").read_text())
    return {key: config[key] for key in ("instruments", "timepoints", "extraction")}


def study_args(tmp_path: Path, study_file: Path) -> dict:
    study = study_file.stem
    return {
        "study_file": str(study_file),
        "table": str(tmp_path / f"{study}.parquet"),
        "correlations": str(tmp_path / "correlations" / f"{study}.parquet"),
        "excluded": str(tmp_path / "excluded" / f"{study}.parquet"),
        "settings": settings(),
        "config_hash": "0123456789abcdef",
    }


def test_one_study_in_its_three_tables_out(tmp_path):
    # dat.normand1999: Edinburgh n 155 / 156, mean 55 / 75; Orpington-Mild 31 / 32, 27 / 29.
    for study, n, mean in [
        ("Edinburgh1990", [155, 156], [55, 75]),
        ("OrpingtonMild1991", [31, 32], [27, 29]),
    ]:
        args = study_args(tmp_path, STUDIES / f"{study}.yaml")
        stages.extract_study(**args)
        written = io.read_parquet(args["table"])
        assert sorted(written["n"]) == n
        assert sorted(written["mean_change"]) == mean
        meta = io.parquet_metadata(args["table"])
        assert meta["srma_study_file"] == args["study_file"]
        assert meta["srma_study_sha256"] == io.sha256_file(args["study_file"])
        assert meta["srma_config_hash"] == "0123456789abcdef"
        # both rows usable: nothing excluded
        assert len(io.read_parquet(args["excluded"])) == 0
        io.read_parquet(args["correlations"])


def test_a_bad_study_file_writes_nothing(tmp_path):
    bad = tmp_path / "in" / "Edinburgh1990.yaml"
    bad.parent.mkdir()
    bad.write_text((STUDIES / "Edinburgh1990.yaml").read_text().replace("mean: 55", "mean: x"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError) as err:
        stages.extract_study(**study_args(out, bad))
    assert "Edinburgh1990.yaml" in str(err.value) and "mean" in str(err.value)
    assert list(out.iterdir()) == []


def test_study_groups_lists_the_studies_of_each_group(tmp_path):
    tables = []
    for study in ("Edinburgh1990", "MontrealHome1992", "OrpingtonMild1991"):
        args = study_args(tmp_path, STUDIES / f"{study}.yaml")
        stages.extract_study(**args)
        tables.append(args["table"])
    out = tmp_path / "groups.json"
    stages.study_groups(tables=tables[::-1], groups=str(out))
    # The fixture's expected.R: Edinburgh and Orpington at 12 weeks, Montreal at 24.
    assert json.loads(out.read_text()) == [
        {
            "instrument": "los",
            "timepoint": "12w",
            "studies": ["Edinburgh1990", "OrpingtonMild1991"],
        },
        {"instrument": "los", "timepoint": "24w", "studies": ["MontrealHome1992"]},
    ]
