"""Deterministic table writing, spreadsheet-safe CSV, provenance hashes."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from srma import __version__, io
from srma.provenance import code_hash


def _frame():
    return pd.DataFrame(
        {
            "record_id": ["a:000001", "a:000002"],
            "authors": [["Braun, J", "Sieper, J"], []],
            "year": pd.array([2006, None], dtype="Int32"),
            "yi": [-1.25, 0.5],
        }
    )


def test_parquet_same_bytes_twice_with_provenance(tmp_path):
    a = io.write_parquet(_frame(), tmp_path / "a.parquet", config_hash="abc")
    b = io.write_parquet(_frame(), tmp_path / "b.parquet", config_hash="abc")
    assert a.read_bytes() == b.read_bytes()
    assert io.parquet_metadata(a) == {"srma_version": __version__, "srma_config_hash": "abc"}
    back = io.read_parquet(a)
    assert back["authors"].iloc[0].tolist() == ["Braun, J", "Sieper, J"]
    assert back["year"].isna().tolist() == [False, True]
    schema = pa.parquet.read_schema(a)
    assert schema.field("authors").type == pa.list_(pa.large_string()) or str(
        schema.field("authors").type
    ).startswith("list<")


def test_no_partial_file_left_on_failure(tmp_path):
    class Boom(Exception):
        pass

    def bad(tmp):
        tmp.write_text("half")
        raise Boom

    with pytest.raises(Boom):
        io._atomic_write_bytes(tmp_path / "out.csv", bad)
    assert list(tmp_path.iterdir()) == []


def test_csv_neutralises_formulas_but_not_numbers(tmp_path):
    df = pd.DataFrame(
        {
            "title": ['=HYPERLINK("x")', "+cmd", "@SUM(A1)", "-2+3", "plain", "-0.5"],
            "value": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    path = io.write_csv(df, tmp_path / "t.csv", config_hash="h1")
    lines = path.read_text().splitlines()
    assert lines[0] == "title,value,srma_version,config_hash"
    assert lines[1] == f'"\'=HYPERLINK(""x"")",-1.5,{__version__},h1'
    assert lines[2].startswith("'+cmd,2,")
    assert lines[3].startswith("'@SUM(A1),3,")
    assert lines[4].startswith("'-2+3,4,")
    assert lines[5].startswith("plain,5,")
    assert lines[6].startswith("-0.5,6,")


def test_json_is_sorted_and_stable(tmp_path):
    path = io.write_json({"b": 1, "a": {"z": 2, "y": 3}}, tmp_path / "c.json")
    assert path.read_text() == '{\n  "a": {\n    "y": 3,\n    "z": 2\n  },\n  "b": 1\n}\n'


def test_code_hash_covers_shared_modules_and_differs_by_stage():
    assert code_hash("provenance") == code_hash("provenance")
    assert code_hash("provenance") != code_hash("logs")
    assert len(code_hash("logs")) == 16


def test_code_hash_follows_imports_and_sees_edits(tmp_path, monkeypatch):
    """A stage's hash covers the srma modules it imports, directly or not, so that
    editing any of them reruns the stage's jobs."""
    from srma import provenance

    pkg = tmp_path / "srma"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "stages.py").write_text("")
    (pkg / "io.py").write_text("")
    (pkg / "a.py").write_text("from srma.b import f\n")
    (pkg / "b.py").write_text("from .c import g\n")
    (pkg / "c.py").write_text("x = 1\n")
    (pkg / "unrelated.py").write_text("y = 1\n")
    (pkg / "sub" / "__init__.py").write_text("from . import m\n")
    (pkg / "sub" / "m.py").write_text("def h():\n    from srma import a\n")
    monkeypatch.setattr(provenance, "PACKAGE_DIR", pkg)
    names = sorted(p.name for p in provenance.module_closure(["sub"]))
    assert names == ["__init__.py", "a.py", "b.py", "c.py", "m.py"]
    before = provenance.code_hash.__wrapped__("a")
    (pkg / "unrelated.py").write_text("y = 2\n")
    assert provenance.code_hash.__wrapped__("a") == before
    (pkg / "c.py").write_text("x = 2\n")
    assert provenance.code_hash.__wrapped__("a") != before
