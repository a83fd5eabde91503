"""The ``srma pool`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


# ------------------------------------------------------------------ fail closed
ARMS = "n1i,m1i,sd1i,n2i,m2i,sd2i"

#: (file text, exit code, fragments of the one-line error: line, study, column, cause)
BAD_FILES = {
    "empty": ("", ["empty file"]),
    "blank": ("\n  \n\n", ["empty file"]),
    "header only": ("study,yi,vi\n", ["no rows"]),
    "duplicated column": (
        "study,yi,vi,yi\nA,0.1,0.2,0.3\n",
        ["line 1", "field 'yi'", "appears twice", "columns 2 and 4"],
    ),
    "yi without vi": ("study,yi\nA,0.1\n", ["field 'vi'", "column vi", "column sei"]),
    "arm column missing": (
        "n1i,m1i,sd1i,n2i,m2i\n10,1,1,10,2\n",
        ["field 'sd2i'", "need the column sd2i"],
    ),
    "ni missing": ("study,ri\nA,0.3\n", ["field 'ni'", "need the column ni"]),
    "nothing usable": ("a,b\n1,2\n", ["need columns yi and vi"]),
    "text": ("study,yi,vi\nA,0.1,0.2\nB,0.3,abc\n", ["line 3", "record B", "field 'vi'", "abc"]),
    "nan": ("study,yi,vi\nA,0.1,0.2\nB,nan,0.1\n", ["line 3", "record B", "field 'yi'", "'nan'"]),
    "NA": ("study,yi,vi\nA,NA,0.2\nB,0.1,0.1\n", ["line 2", "record A", "field 'yi'", "'NA'"]),
    "inf": ("study,yi,vi\nA,0.1,inf\nB,0.1,0.1\n", ["line 2", "record A", "field 'vi'", "'inf'"]),
    "-Infinity": ("yi,vi\n0.1,0.2\n-Infinity,0.1\n", ["line 3", "record 2", "field 'yi'"]),
    "overflowing literal": ("yi,vi\n1e400,0.2\n0.1,0.1\n", ["line 2", "field 'yi'", "1e400"]),
    "empty cell": (
        "study,yi,vi\nA,0.1,0.2\nB,,0.1\n",
        ["line 3", "record B", "field 'yi'", "empty"],
    ),
    "digit separator": ("yi,vi\n1_000,0.2\n0.1,0.1\n", ["line 2", "field 'yi'", "1_000"]),
    "vi zero": (
        "study,yi,vi\nA,0.1,0.2\nB,0.2,0\n",
        ["line 3", "record B", "field 'vi'", "positive"],
    ),
    "vi negative": ("study,yi,vi\nA,0.1,-0.2\nB,0.2,0.1\n", ["line 2", "record A", "field 'vi'"]),
    "vi subnormal": ("study,yi,vi\nA,0.1,1e-310\nB,0.2,0.1\n", ["record A", "field 'vi'", "small"]),
    "sei negative": (
        "study,yi,sei\nA,0.1,0.2\nB,0.2,-0.1\n",
        ["line 3", "record B", "field 'sei'", "sei = -0.1", "positive"],
    ),
    "sei zero": ("study,yi,sei\nA,0.1,0\nB,0.2,0.1\n", ["line 2", "record A", "field 'sei'"]),
    "sei square underflows": ("study,yi,sei\nA,0.1,1e-160\nB,0.2,0.1\n", ["field 'sei'", "small"]),
    "vi and sei disagree": (
        "study,yi,vi,sei\nA,0.1,0.04,0.2\nB,0.2,0.04,0.3\n",
        ["line 3", "record B", "field 'sei'", "disagrees with vi"],
    ),
    "square overflows": (
        "study,yi,vi\nA,1e308,0.2\nB,0.2,0.1\nC,0.3,0.1\n",
        ["line 2", "record A", "field 'yi'", "too large"],
    ),
    "too large to pool": (
        "study,yi,vi\nA,1e100,0.2\nB,0.2,0.1\nC,0.3,1e-100\n",
        ["values too large to pool", "yi from 0.2 to 1e+100"],
    ),
    "negative SD": (
        f"{ARMS}\n10,1,1,10,2,1\n10,1,-1,10,2,1\n",
        ["line 3", "field 'sd1i'", "negative"],
    ),
    "n zero": (f"{ARMS}\n0,1,1,10,2,1\n10,1,1,10,2,1\n", ["line 2", "field 'n1i'", ">= 1"]),
    "n not whole": (f"{ARMS}\n10,1,1,10.5,2,1\n", ["line 2", "field 'n2i'", "whole number"]),
    "both SDs zero": (
        f"{ARMS}\n10,1,0,10,2,0\n10,1,1,10,2,1\n",
        ["line 2", "field 'sd1i'", "both 0"],
    ),
    "ri at 1": (
        "study,ri,ni\nA,0.3,20\nB,1,20\n",
        ["line 3", "record B", "field 'ri'", "between -1"],
    ),
    "ri outside": ("study,ri,ni\nA,1.5,20\n", ["line 2", "record A", "field 'ri'"]),
    "ni too small for ZCOR": ("study,ri,ni\nA,0.3,3\n", ["line 2", "field 'ni'", ">= 4"]),
    "duplicate label": (
        "study,yi,vi\nA,0.1,0.2\nA,0.2,0.1\n",
        ["line 3", "record A", "field 'study'", "first on line 2"],
    ),
    "empty label": ("study,yi,vi\nA,0.1,0.2\n,0.2,0.1\n", ["line 3", "field 'study'", "missing"]),
    "short row": ("study,yi,vi\nA,0.1,0.2\n\nB,0.2\n", ["line 4", "2 fields", "header has 3"]),
    "unnamed column with values": ("yi,vi,\n0.1,0.2,\n0.2,0.1,x\n", ["line 3", "no name"]),
}


def _pool_fails(path, capsys, *extra) -> str:
    """Run ``srma pool`` on ``path``; it must fail with one line on stderr and print
    nothing on stdout (no result is written). Returns the error line."""
    assert main(["pool", str(path), *extra]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"srma pool: error: {path}")
    return lines[0]


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_csv_stops_with_one_clear_line(case, tmp_path, capsys):
    text, fragments = BAD_FILES[case]
    csv = tmp_path / "effects.csv"
    csv.write_text(text)
    err = _pool_fails(csv, capsys, "--sensitivity", "--json")
    for fragment in fragments:
        assert fragment in err, (case, err)


def test_bad_measure_and_unreadable_files(tmp_path, capsys):
    assert "file not found" in _pool_fails(tmp_path / "missing.csv", capsys)
    assert "is a directory" in _pool_fails(tmp_path, capsys)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("study,yi,vi\nM\xfcller,0.1,0.2\n".encode("latin-1"))
    assert "not UTF-8" in _pool_fails(latin, capsys)
    arms = tmp_path / "arms.csv"
    arms.write_text(f"{ARMS}\n2,1,1,1,2,1\n10,1,1,10,2,1\n")
    assert "n1i + n2i >= 4" in _pool_fails(arms, capsys, "--measure", "SMD")
    assert "--measure MD or SMD" in _pool_fails(arms, capsys, "--measure", "ZCOR")
    cor = tmp_path / "cor.csv"
    cor.write_text("ri,ni\n0.3,20\n0.2,1\n")
    assert "field 'ni'" in _pool_fails(cor, capsys, "--measure", "COR")


def test_bad_level_is_a_usage_error(tmp_path, capsys):
    csv = tmp_path / "e.csv"
    csv.write_text("yi,vi\n0.1,0.2\n0.3,0.1\n")
    with pytest.raises(SystemExit) as exc:
        main(["pool", str(csv), "--level", "100"])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "--level" in err and "Traceback" not in err


def test_blank_lines_bom_and_consistent_sei_are_read(tmp_path, capsys):
    """Blank lines are skipped (line numbers still count them), a UTF-8 byte-order mark
    is ignored, and vi beside a consistent (rounded) sei is accepted."""
    d = REF["datasets"]["bcg"]
    lines = ["study,yi,vi,sei", ""] + [
        f"S{i},{y!r},{v!r},{np.sqrt(v):.4f}"
        for i, (y, v) in enumerate(zip(d["yi"], d["vi"], strict=True))
    ]
    csv = tmp_path / "bcg.csv"
    csv.write_bytes(("\ufeff" + "\n".join(lines) + "\n\n").encode())
    assert main(["pool", str(csv), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["k"] == 13 and out["estimate"] == pytest.approx(_ref("bcg", "REML", "z")["estimate"])
    bad = csv.read_text(encoding="utf-8-sig").replace("S3,", "S3,x", 1)
    csv.write_text(bad)
    # header on line 1, a blank line 2, S0 on line 3: S3 is on line 6
    assert "line 6, record S3, field 'yi'" in _pool_fails(csv, capsys)


def test_equal_standard_errors_leave_egger_unavailable(tmp_path, capsys):
    csv = tmp_path / "equal.csv"
    csv.write_text("yi,vi\n0.1,0.04\n0.5,0.04\n0.2,0.04\n0.9,0.04\n")
    assert main(["pool", str(csv), "--sensitivity"]) == 0
    out = capsys.readouterr().out
    assert "Egger's regression test: not available" in out and "not of full rank" in out


def test_command_line_prints_one_line_and_no_warning(tmp_path):
    """In a separate process: stderr holds exactly the error line (no traceback, no
    overflow RuntimeWarning) and stdout is empty, for the issue's examples."""
    cases = {
        "nan.csv": BAD_FILES["nan"][0],
        "big.csv": BAD_FILES["square overflows"][0],
        "huge.csv": BAD_FILES["too large to pool"][0],
        "empty.csv": "",
        "dup.csv": BAD_FILES["duplicated column"][0],
        "negse.csv": BAD_FILES["sei negative"][0],
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    code = (
        "import sys\nfrom srma.cli import main\n"
        "for f in sys.argv[1:]:\n"
        "    rc = main(['pool', f, '--sensitivity'])\n"
        "    assert rc == 1, (f, rc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code, *(str(tmp_path / n) for n in cases)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(cases), done.stderr
    for line, name in zip(lines, cases, strict=True):
        assert line.startswith(f"srma pool: error: {tmp_path / name}")


# ------------------------------------------------------------- issue 17: new models
MODELS = json.loads((Path(__file__).parent / "fixtures/metafor/reference_models.json").read_text())
COUNTS = MODELS["counts"]


def _counts_csv(tmp_path, name, *, sizes=False, extra=None):
    """A data set's 2x2 counts as ``study,ai,bi,ci,di`` (or ``ai,n1i,ci,n2i``)."""
    d = COUNTS[name]
    cols = ["ai", "n1i", "ci", "n2i"] if sizes else ["ai", "bi", "ci", "di"]
    head = ["study", *cols, *(extra or {})]
    lines = [",".join(head)]
    for i in range(len(d["ai"])):
        row = {"ai": d["ai"][i], "bi": d["bi"][i], "ci": d["ci"][i], "di": d["di"][i]}
        row["n1i"], row["n2i"] = row["ai"] + row["bi"], row["ci"] + row["di"]
        cells = [f"S{i}", *(str(row[c]) for c in cols)]
        cells += [str(v[i]) for v in (extra or {}).values()]
        lines.append(",".join(cells))
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _json(capsys, *argv):
    assert main(["pool", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _close(actual, expected, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.array([np.nan if x is None else x for x in np.atleast_1d(expected)], dtype=float),
        rtol=1e-6,
        atol=1e-10,
        err_msg=what,
    )


def _pclose(actual, expected, what=""):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-8, err_msg=what)


@pytest.mark.parametrize("measure", ["OR", "RR", "RD"])
@pytest.mark.parametrize("method", ["REML", "DL", "PMM", "HSk"])
def test_counts_inverse_variance_json(tmp_path, capsys, measure, method):
    csv = _counts_csv(tmp_path, "nielweise2007", sizes=True)
    out = _json(capsys, csv, "--measure", measure, "--method", method)
    ref = next(
        r for r in MODELS["binary_iv"]
        if (r["dataset"], r["measure"], r["method"], r["test"])
        == ("nielweise2007", measure, method, "z")
    )  # fmt: skip
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "tau2", "se_tau2", "I2", "H2", "QE",
                "pi_lb", "pi_ub", "ll"):  # fmt: skip
        _close(out[key], ref[key], key)
    _pclose(out["pval"], ref["pval"])
    assert out["k"] == 18 and out["measure"] == measure
    assert out["zero_cells"]["double_zero"] == ["S14"] and len(out["zero_cells"]["studies"]) == 6


@pytest.mark.parametrize("measure", ["OR", "RR", "RD", "PETO"])
def test_mantel_haenszel_and_peto_json(tmp_path, capsys, measure):
    csv = _counts_csv(tmp_path, "hahn2001")
    if measure == "PETO":
        out = _json(capsys, csv, "--method", "PETO")
        ref = next(r for r in MODELS["peto"] if r["dataset"] == "hahn2001" and r["level"] == 95)
    else:
        out = _json(capsys, csv, "--method", "MH", "--measure", measure)
        ref = next(
            r for r in MODELS["mh"]
            if (r["dataset"], r["measure"], r["level"]) == ("hahn2001", measure, 95)
        )  # fmt: skip
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "QE", "I2", "H2", "weights"):
        _close(out[key], ref[key], key)
    for key in ("pval", "QEp"):
        _pclose(out[key], ref[key], key)
    if measure == "OR":
        for key in ("MH", "TA", "CO", "BD"):
            _close(out[key], ref[key], key)
    assert (out["k"], out["k_yi"]) == (ref["k"], ref["k_yi"]) == (12, 9)
    assert out["method"] == ("PETO" if measure == "PETO" else "MH")


def test_meta_regression_json(tmp_path, capsys):
    d = MODELS["regression_data"]["bcg"]
    csv = tmp_path / "bcg.csv"
    lines = ["study,yi,vi,ablat,alloc"] + [
        f"T{i},{d['yi'][i]!r},{d['vi'][i]!r},{d['mods']['ablat'][i]},{d['mods']['alloc'][i]}"
        for i in range(13)
    ]
    csv.write_text("\n".join(lines) + "\n")
    for method, test in (("REML", "knha"), ("DL", "z"), ("PMM", "t")):
        out = _json(capsys, csv, "--mods", "ablat,alloc", "--method", method, "--test", test)
        ref = next(
            r for r in MODELS["regressions"]
            if (r["dataset"], r["mods"], r["method"], r["test"])
            == ("bcg", ["ablat", "alloc"], method, test)
        )  # fmt: skip
        assert out["names"] == ref["names"]
        for key in ("b", "se", "zval", "ci_lb", "ci_ub", "QM", "QE", "tau2", "I2", "R2"):
            _close(out[key], ref[key], f"{method} {test} {key}")
        for key in ("pval", "QMp", "QEp"):
            _pclose(out[key], ref[key], f"{method} {test} {key}")
        assert out["QMdf"] == ref["QMdf"]
        assert ("tval" in out) == (test != "z")
    text_out = main(["pool", str(csv), "--mods", "ablat,alloc"])
    assert text_out == 0
    assert "Test of Moderators (coefficients 2:4)" in capsys.readouterr().out


def test_subgroups_json(tmp_path, capsys):
    d = MODELS["regression_data"]["bcg"]
    csv = tmp_path / "bcg.csv"
    lines = ["study,yi,vi,alloc"] + [
        f"T{i},{d['yi'][i]!r},{d['vi'][i]!r},{d['mods']['alloc'][i]}" for i in range(13)
    ]
    csv.write_text("\n".join(lines) + "\n")
    for method, test in (("REML", "z"), ("DL", "knha")):
        out = _json(capsys, csv, "--subgroup", "alloc", "--method", method, "--test", test)
        ref = next(
            r for r in MODELS["subgroups"]
            if (r["dataset"], r["by"], r["method"], r["test"]) == ("bcg", "alloc", method, test)
        )  # fmt: skip
        assert sorted(out["subgroups"]) == ref["levels"]
        for g in ref["levels"]:
            for key in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "QE", "pi_lb", "pi_ub"):
                _close(out["subgroups"][g][key], ref["subgroups"][g][key], f"{g} {key}")
        _close(out["Qb"], ref["Qb"])
        _pclose(out["Qb_pval"], ref["Qb_pval"])
        assert out["Qb_df"] == ref["Qb_df"] == 2
    assert main(["pool", str(csv), "--subgroup", "alloc"]) == 0
    assert "Test for subgroup differences: Q(df = 2)" in capsys.readouterr().out


def test_mh_subgroups_json(tmp_path, capsys):
    csv = _counts_csv(tmp_path, "bcg", extra={"alloc": MODELS["subgroup_groups"]["alloc"]})
    out = _json(capsys, csv, "--method", "MH", "--subgroup", "alloc")
    ref = MODELS["subgroups_mh"]["MH-OR"]
    for g in ref["levels"]:
        _close(out["subgroups"][g]["estimate"], ref["subgroups"][g]["estimate"])
    _close(out["Qb"], ref["Qb"])
    _pclose(out["Qb_pval"], ref["Qb_pval"])


def test_prediction_interval_t_k2_and_begg(tmp_path, capsys):
    d = REF["datasets"]["bcg"]
    csv = tmp_path / "bcg.csv"
    csv.write_text(
        "yi,vi\n" + "".join(f"{y!r},{v!r}\n" for y, v in zip(d["yi"], d["vi"], strict=True))
    )
    out = _json(capsys, csv, "--pi", "t-k2", "--method", "DL", "--sensitivity")
    ref = _ref("bcg", "DL", "z")
    _close([out["pi_lb"], out["pi_ub"]], [ref["pi_lb_tk2"], ref["pi_ub_tk2"]])
    _close(out["se_tau2"], ref["se_tau2"])
    _close(out["ll"], ref["ll"])
    rank = MODELS["ranktest"]["bcg"]
    _close(out["ranktest"]["tau"], rank["tau"])
    _pclose(out["ranktest"]["pval"], rank["pval"])
    assert out["pi_type"] == "t-k2"
    assert main(["pool", str(csv), "--pi", "t-k2", "--sensitivity"]) == 0
    text = capsys.readouterr().out
    assert "prediction interval (t on k - 2 df)" in text and "Begg's rank correlation" in text


COUNTS_HEAD = "study,ai,bi,ci,di\n"
#: (file text, extra arguments, fragments of the error line)
BAD_MODELS = {
    "negative count": (COUNTS_HEAD + "A,1,10,2,9\nB,-1,10,2,9\n", [],
                       ["line 3", "record B", "field 'ai'", ">= 0"]),
    "count not whole": (COUNTS_HEAD + "A,1,10.5,2,9\n", [],
                        ["line 2", "field 'bi'", "whole number"]),
    "count text": (COUNTS_HEAD + "A,1,10,x,9\n", [], ["line 2", "field 'ci'", "'x'"]),
    "count empty": (COUNTS_HEAD + "A,1,10,2,\n", [], ["line 2", "field 'di'", "empty"]),
    "arm without participants": (COUNTS_HEAD + "A,0,0,2,9\n", [],
                                 ["line 2", "field 'bi'", "no participants"]),
    "events exceed n": ("study,ai,n1i,ci,n2i\nA,1,10,2,9\nB,12,10,2,9\n", [],
                        ["line 3", "record B", "field 'ai'", "exceeds n1i = 10"]),
    "n1i disagrees": ("study,ai,bi,ci,di,n1i\nA,1,9,2,9,11\n", [],
                      ["line 2", "field 'n1i'", "ai + bi = 10"]),
    "counts column missing": ("study,ai,bi,ci\nA,1,9,2\n", [],
                              ["field 'di'", "need the column di"]),
    "counts with MD": (COUNTS_HEAD + "A,1,9,2,9\n", ["--measure", "MD"],
                       ["--measure OR, RR or RD"]),
    "MH without counts": ("yi,vi\n0.1,0.2\n0.3,0.1\n", ["--method", "MH"], ["needs 2x2 counts"]),
    "Peto with RR": (COUNTS_HEAD + "A,1,9,2,9\nB,2,8,3,7\n",
                     ["--method", "PETO", "--measure", "RR"], ["--measure OR"]),
    "MH with knha": (COUNTS_HEAD + "A,1,9,2,9\nB,2,8,3,7\n", ["--method", "MH", "--test", "knha"],
                     ["--test z"]),
    "mods column missing": ("study,yi,vi\nA,0.1,0.2\nB,0.3,0.1\n", ["--mods", "x"],
                            ["field 'x'", "--mods: no column 'x'"]),
    "mods empty cell": ("study,yi,vi,x\nA,0.1,0.2,1\nB,0.3,0.1,\nC,0.2,0.1,3\n", ["--mods", "x"],
                        ["line 3", "record B", "field 'x'", "empty"]),
    "mods mixed": ("study,yi,vi,x\nA,0.1,0.2,1\nB,0.3,0.1,two\nC,0.2,0.1,3\n", ["--mods", "x"],
                   ["line 3", "record B", "field 'x'", "mixes numbers and text"]),
    "mods one level": ("study,yi,vi,g\nA,0.1,0.2,a\nB,0.3,0.1,a\nC,0.2,0.1,a\n", ["--mods", "g"],
                       ["field 'g'", "same value ('a')"]),
    "mods collinear": ("study,yi,vi,x,z\nA,0.1,0.2,1,2\nB,0.3,0.1,2,4\nC,0.2,0.1,3,6\n"
                       "D,0.5,0.3,4,8\n", ["--mods", "x,z"],
                       ["cannot fit the meta-regression", "not of full rank"]),
    "mods too few studies": ("study,yi,vi,x\nA,0.1,0.2,1\nB,0.3,0.1,2\n", ["--mods", "x"],
                             ["2 studies for 2 coefficients"]),
    "mods and subgroup": ("study,yi,vi,x\nA,0.1,0.2,1\nB,0.3,0.1,2\n",
                          ["--mods", "x", "--subgroup", "x"], ["not both"]),
    "mods with pi": ("study,yi,vi,x\nA,0.1,0.2,1\nB,0.3,0.1,2\n",
                     ["--mods", "x", "--pi", "t-k2"], ["--pi applies"]),
    "subgroup column missing": ("study,yi,vi\nA,0.1,0.2\n", ["--subgroup", "g"],
                                ["field 'g'", "no column 'g'"]),
    "subgroup empty cell": ("study,yi,vi,g\nA,0.1,0.2,a\nB,0.3,0.1,\n", ["--subgroup", "g"],
                            ["line 3", "record B", "field 'g'", "empty"]),
    "subgroup single level": ("study,yi,vi,g\nA,0.1,0.2,a\nB,0.3,0.1,a\n", ["--subgroup", "g"],
                              ["field 'g'", "no subgroups to compare"]),
    "knha with a one-study subgroup": (
        "study,yi,vi,g\nA,0.1,0.2,a\nB,0.3,0.1,b\nC,0.2,0.1,b\n",
        ["--subgroup", "g", "--test", "knha"], ["subgroup 'a' has one study"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_bad_input_for_new_models_stops_with_one_clear_line(case, tmp_path, capsys):
    text, extra, fragments = BAD_MODELS[case]
    csv = tmp_path / "data.csv"
    csv.write_text(text)
    err = _pool_fails(csv, capsys, *extra, "--json")
    for fragment in fragments:
        assert fragment in err, (case, err)


def test_unknown_method_is_a_usage_error(tmp_path, capsys):
    csv = tmp_path / "e.csv"
    csv.write_text("yi,vi\n0.1,0.2\n0.3,0.1\n")
    with pytest.raises(SystemExit) as exc:
        main(["pool", str(csv), "--method", "XYZ"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["pool", str(csv), "--method", "hsk", "--json"]) == 0  # case-insensitive
    assert json.loads(capsys.readouterr().out)["method"] == "HSk"
