"""The ``srma pool`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srma.cli import main

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference.json").read_text())


def _ref(dataset, method, test):
    return next(
        f for f in REF["fits"]
        if f["dataset"] == dataset and f["method"] == method and f["test"] == test
    )  # fmt: skip


def test_json_from_yi_vi(tmp_path, capsys):
    d = REF["datasets"]["bcg"]
    csv = tmp_path / "bcg.csv"
    lines = ["study,yi,vi"] + [
        f"S{i},{y!r},{v!r}" for i, (y, v) in enumerate(zip(d["yi"], d["vi"], strict=True))
    ]
    csv.write_text("\n".join(lines) + "\n")
    assert main(["pool", str(csv), "--method", "PM", "--test", "knha", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = _ref("bcg", "PM", "knha")
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "tau2", "I2", "H2", "QE", "pi_lb"):
        assert out[key] == pytest.approx(ref[key], rel=1e-6)
    assert out["pval"] == pytest.approx(ref["pval"], abs=1e-8)
    assert out["slab"][0] == "S0" and "intervention minus control" in out["sign_convention"]


def test_table_from_arm_level_data(tmp_path, capsys):
    e = REF["escalc"]["normand_md"]
    csv = tmp_path / "arms.csv"
    cols = ["n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i"]
    rows = [",".join(cols)] + [",".join(repr(e[c][i]) for c in cols) for i in range(len(e["yi"]))]
    csv.write_text("\n".join(rows) + "\n")
    assert main(["pool", str(csv), "--sensitivity"]) == 0
    text = capsys.readouterr().out
    ref = _ref("normand_md", "REML", "z")
    assert "Random-Effects Model (k = 9; tau^2 estimator: REML)" in text
    assert f"{ref['estimate']:.4f}" in text and f"{ref['ci_lb']:.4f}" in text
    assert "Leave-one-out" in text and "Egger" in text and "Trim-and-fill" in text


def test_bad_cell_names_line_and_field(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("yi,vi\n0.1,0.2\n0.3,abc\n")
    assert main(["pool", str(csv)]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "field 'vi'" in err and "abc" in err
    csv.write_text("a,b\n1,2\n")
    assert main(["pool", str(csv)]) == 1
    assert "need columns yi and vi" in capsys.readouterr().err
