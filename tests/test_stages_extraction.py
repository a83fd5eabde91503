"""The extraction batch stage called directly: every study's table written (not only
those Snakemake was told were missing), bad arguments refused before anything is
written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from srma import io, stages
from srma.extraction import extract_study_once

FIXTURE = Path(__file__).parent / "fixtures" / "review"


def settings() -> dict:
    config = yaml.safe_load((FIXTURE / "config/config.yaml").read_text())
    return {key: config[key] for key in ("instruments", "timepoints", "extraction")}


def batch_args(tmp_path: Path, studies: list[str], missing: list[str]) -> dict:
    files = [str(FIXTURE / "resources/extraction" / f"{s}.yaml") for s in studies]
    tables = [str(tmp_path / f"{s}.parquet") for s in studies]
    return {
        "study_files": files,
        "tables": tables,
        "missing_tables": [str(tmp_path / f"{s}.parquet") for s in missing],
        "correlations": str(tmp_path / "correlations.parquet"),
        "excluded": str(tmp_path / "excluded.parquet"),
        "sources": str(tmp_path / "sources.json"),
        "settings": settings(),
        "config_hash": "0123456789abcdef",
    }


def test_every_table_of_the_batch_is_written(tmp_path):
    studies = ["Edinburgh1990", "OrpingtonMild1991"]
    args = batch_args(tmp_path, studies, missing=["OrpingtonMild1991"])
    stages.extract_studies(**args)
    for study_file, table in zip(args["study_files"], args["tables"], strict=True):
        written = io.read_parquet(table)
        pd.testing.assert_frame_equal(written, extract_study_once(study_file, args["settings"]))
    # dat.normand1999: Edinburgh n 155 / 156, mean 55 / 75; Orpington-Mild 31 / 32, 27 / 29.
    for study, n, mean in [
        ("Edinburgh1990", [155, 156], [55, 75]),
        ("OrpingtonMild1991", [31, 32], [27, 29]),
    ]:
        written = io.read_parquet(tmp_path / f"{study}.parquet")
        assert sorted(written["n"]) == n
        assert sorted(written["mean_change"]) == mean
    sources = json.loads(Path(args["sources"]).read_text())
    assert sorted(sources) == studies
    assert sources["Edinburgh1990"]["sha256"] == io.sha256_file(args["study_files"][0])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(tables=a["tables"][:1]), "one table path per study file"),
        (
            lambda a: a.update(missing_tables=["elsewhere/Edinburgh1990.parquet"]),
            "missing_tables must be among tables",
        ),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, change, message):
    args = batch_args(tmp_path, ["Edinburgh1990", "OrpingtonMild1991"], missing=[])
    change(args)
    with pytest.raises(ValueError, match=message):
        stages.extract_studies(**args)
    assert list(tmp_path.iterdir()) == []
