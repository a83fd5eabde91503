"""What the workflow reads of the study files when it builds the DAG: batches, digests,
and the cache of each study's groups."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from srma.config import load_config
from srma.extraction import study_groups
from srma.extraction.dag import BATCHES, batch_of, groups_of_studies, study_digest

ROOT = Path(__file__).resolve().parents[1]
STUDY_DIR = ROOT / "resources" / "extraction"


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config" / "config.yaml")


def test_batch_is_crc32_of_the_id_modulo_the_batch_count():
    # CRC-32 check value of "123456789" is 0xCBF43926 (the standard test vector);
    # 0xCBF43926 mod 32 = 0x26 mod 32 = 6.
    assert batch_of("123456789", 32) == "06"
    assert batch_of("123456789", 1000) == f"{0xCBF43926 % 1000:03d}"
    assert BATCHES == 32


def test_adding_studies_never_moves_a_study_to_another_batch():
    before = {s: batch_of(s) for s in ("Braun2006", "Lambert2007", "Lambert2007")}
    more = [f"New{i}" for i in range(200)]
    after = {s: batch_of(s) for s in [*before, *more]}
    assert {s: after[s] for s in before} == before
    assert len(set(after.values())) == BATCHES  # 203 ids fill every batch


def test_digest_is_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"study_id: S\n")
    assert study_digest(path) == hashlib.sha256(b"study_id: S\n").hexdigest()[:16]


def test_groups_equal_reading_every_file_and_come_from_the_cache(tmp_path, config):
    files = {p.stem: p for p in sorted(STUDY_DIR.glob("*.yaml"))}
    cache = tmp_path / "cache" / "groups.json"
    first = groups_of_studies(files, config, cache)
    assert first == {s: study_groups(p, config) for s, p in files.items()}
    assert first["Lambert2007"], "Lambert2007 reports SPARCC at 12 weeks"

    # Second call: the groups come from the cache file (planted value proves it).
    stored = json.loads(cache.read_text())
    digest = study_digest(files["Lambert2007"])
    stored["groups"][digest] = [["asspimri", "6w"]]
    cache.write_text(json.dumps(stored))
    again = groups_of_studies(files, config, cache)
    assert again["Lambert2007"] == [("asspimri", "6w")]


def test_an_edited_file_or_other_settings_are_read_again(tmp_path, config):
    work = tmp_path / "studies"
    shutil.copytree(STUDY_DIR, work)
    files = {p.stem: p for p in sorted(work.glob("*.yaml"))}
    cache = tmp_path / "groups.json"
    groups_of_studies(files, config, cache)
    stored = json.loads(cache.read_text())
    for digest in stored["groups"]:
        stored["groups"][digest] = [["planted", "6w"]]
    cache.write_text(json.dumps(stored))

    # An edited file has a new digest: read again; the others still come from the cache.
    path = files["Lambert2007"]
    path.write_text(path.read_text() + "\n# edited\n")
    out = groups_of_studies(files, config, cache)
    assert out["Lambert2007"] == study_groups(path, config)
    assert out["Braun2006"] == [("planted", "6w")]

    # Other timepoint windows: the whole cache is ignored.
    other = dict(config, timepoints={**config["timepoints"]})
    other["timepoints"]["12w"] = {**other["timepoints"]["12w"], "max": 13}
    out = groups_of_studies(files, other, cache)
    assert out["Braun2006"] == study_groups(files["Braun2006"], other)


def test_an_unreadable_cache_is_not_used(tmp_path, config):
    files = {p.stem: p for p in sorted(STUDY_DIR.glob("*.yaml"))[:3]}
    cache = tmp_path / "groups.json"
    cache.write_text("{not json")
    out = groups_of_studies(files, config, cache)
    assert out == {s: study_groups(p, config) for s, p in files.items()}
    assert json.loads(cache.read_text())["version"] == 1  # rewritten


def test_extract_study_once_is_extract_study_remembered_by_content(tmp_path, config):
    import pandas as pd

    from srma.extraction import extract_study, extract_study_once

    path = tmp_path / "Lambert2007.yaml"
    shutil.copy(STUDY_DIR / "Lambert2007.yaml", path)
    first = extract_study_once(path, config)
    pd.testing.assert_frame_equal(first, extract_study(path, config))
    first.loc[:, "arm_label"] = (
        "changed"  # a copy: the remembered rows are not changed by the caller
    )
    pd.testing.assert_frame_equal(extract_study_once(path, config), extract_study(path, config))

    # An edited file is a new digest: extracted again.
    path.write_text(path.read_text().replace("label: placebo", "label: saline placebo", 1))
    edited = extract_study_once(path, config)
    assert set(edited.query("arm == 'control'")["arm_label"]) == {"saline placebo"}
