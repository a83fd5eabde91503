"""benchmarks/synthetic_review.py writes a review srma reads: exports with exactly M
records, extraction files that pass srma's own validation, screening rows for every
study, and the same bytes for the same seed."""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import synthetic_review  # noqa: E402


@pytest.fixture(scope="module")
def review(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic")
    return out, synthetic_review.generate(out, n_studies=12, n_records=400, seed=3)


def test_exports_hold_exactly_m_records(review):
    out, counts = review
    searches = out / "resources" / "searches"
    pubmed = (searches / "pubmed.nbib").read_text(encoding="utf-8")
    n_medline = sum(line.startswith("PMID- ") for line in pubmed.splitlines())
    n_ris = sum(
        line.startswith("TY  - ")
        for name in ("embase.ris", "central.ris")
        for line in (searches / name).read_text(encoding="utf-8").splitlines()
    )
    assert n_medline + n_ris == 400 == counts["records"]


def test_exports_are_read_by_the_importers(review):
    from srma.importers import read_export

    out, counts = review
    config = yaml.safe_load((out / "config" / "config.yaml").read_text(encoding="utf-8"))
    total = 0
    for name, search in config["searches"].items():
        table = read_export(out / search["path"], export=name, database=search["database"])
        assert table["title"].notna().all()
        total += len(table)
    assert total == 400


def test_every_study_file_passes_validation_and_is_screened_in(review):
    from srma.extraction import extract_study

    out, counts = review
    config = yaml.safe_load((out / "config" / "config.yaml").read_text(encoding="utf-8"))
    files = sorted((out / "resources" / "extraction").glob("*.yaml"))
    assert len(files) == counts["studies"] == 12
    for path in files:
        rows = extract_study(path, config)  # raises InputError on any invalid value
        assert set(rows["study_id"]) == {path.stem}
    with (out / "resources" / "screening" / "decisions.csv").open(encoding="utf-8") as handle:
        included = {r["study_id"] for r in csv.DictReader(handle) if r["study_id"]}
    assert included == {p.stem for p in files}


def test_same_seed_same_bytes(review, tmp_path):
    out, _ = review
    again = tmp_path / "again"
    synthetic_review.generate(again, n_studies=12, n_records=400, seed=3)

    def digests(base: Path) -> dict[str, str]:
        return {
            p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    assert digests(out) == digests(again)
