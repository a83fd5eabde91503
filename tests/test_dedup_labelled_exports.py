"""The held-out labelled deduplication sets built from real exports
(benchmarks/data/dedup/, benchmarks/label_exports.py): their integrity, not srma's
score (the score is the benchmark's, benchmarks/dedup.py).

- every file has the shared sets' columns, one row per record id, and every label is
  the smallest record id of its group (so a label names a record of its own group);
- the hand decisions hold in the labels (``yes`` pairs share a label, ``no`` pairs do
  not) and name records of their set;
- with ../shared: the files' record ids are exactly those srma's importer gives the
  exports (each once, titles unchanged), and each export's record count is the number
  of records counted in the raw file by its own record marker.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "dedup"
sys.path.insert(0, str(ROOT / "benchmarks"))

import label_exports  # noqa: E402

SHARED_COLUMNS = [
    "record_id",
    "label",
    "title",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "isbn",
    "abstract",
    "source",
    "entrytype",
    "booktitle",
    "url",
]

#: records and true groups of each set (benchmarks/data/dedup/README.md)
COUNTS = {
    "restoration": (637, 490),
    "spaniels": (2233, 1555),
    "cff_baseline": (112, 106),
    "woodpecker": (226, 157),
    "synthesisr_ex": (7, 5),
}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv.gz", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_labels_are_groups_of_record_ids(name):
    df = _read(name)
    assert list(df.columns) == SHARED_COLUMNS  # the shared sets' README format
    assert df["record_id"].is_unique
    assert (df["record_id"] != "").all() and (df["label"] != "").all()
    ids = set(df["record_id"])
    assert set(df["label"]) <= ids  # every label is a record of the set
    # the label of a group is its smallest record id, and that record is in the group
    smallest = df.groupby("label")["record_id"].transform("min")
    assert (smallest == df["label"]).all()
    own = dict(zip(df["record_id"], df["label"], strict=True))
    assert all(own[lab] == lab for lab in df["label"])
    assert (len(df), df["label"].nunique()) == COUNTS[name]


def test_hand_decisions_hold_in_the_labels():
    with open(DATA / "decisions.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # every set but synthesisr_ex (2 candidate pairs, both decided by rule) has some
    assert {r["set"] for r in rows} == set(COUNTS) - {"synthesisr_ex"}
    labels = {}
    for name in COUNTS:
        df = _read(name)
        labels[name] = dict(zip(df["record_id"], df["label"], strict=True))
    seen = set()
    for r in rows:
        lab = labels[r["set"]]
        a, b = r["record_id_1"], r["record_id_2"]
        assert a in lab and b in lab, r
        assert r["same"] in ("yes", "no") and r["reason"].strip(), r
        assert (lab[a] == lab[b]) == (r["same"] == "yes"), r
        key = (r["set"], *sorted((a, b)))
        assert key not in seen, f"pair decided twice: {key}"
        seen.add(key)


def _marker_count(path: Path) -> int:
    """Records in a raw export, counted by its record marker (not by srma's readers)."""
    text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n")
    text = text.lstrip("\ufeff")
    first = text.lstrip()[:6]
    if path.suffix == ".bib":
        return len(re.findall(r"^@\w+\{", text, re.M))
    if path.suffix == ".xml":
        return text.count("<record>")
    if path.suffix == ".ciw" or first.startswith("FN "):  # Web of Science tagged format
        return len(re.findall(r"^PT ", text, re.M))
    if first.startswith("PMID-"):  # MEDLINE format, whatever the file's extension
        return len(re.findall(r"^PMID- ", text, re.M))
    if path.suffix == ".csv":
        rows = list(csv.reader(text.splitlines(keepends=True)))
        header = next(i for i, row in enumerate(rows) if len(row) > 5)  # after a preamble
        return sum(1 for row in rows[header + 1 :] if any(cell.strip() for cell in row))
    return len(re.findall(r"^\ufeff?TY  - ", text, re.M))  # RIS


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_every_imported_record_appears_once(shared_dir, name):
    df = _read(name)
    records = label_exports.read_set(shared_dir, name)
    assert sorted(records["record_id"]) == sorted(df["record_id"])
    titles = dict(zip(df["record_id"], df["title"], strict=True))
    for rid, title in zip(records["record_id"], records["title"], strict=True):
        assert titles[rid] == ("" if title is None or pd.isna(title) else title), rid
    exports = df["record_id"].str.rsplit(":", n=1).str[0].value_counts()
    for rel, _database in label_exports.SETS[name]:
        path = shared_dir / "datasets" / "exports" / rel
        assert exports[path.stem] == _marker_count(path), rel
