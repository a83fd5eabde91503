"""The summary-of-findings table: its rows, the HTML for the report, and the Word
document (content read back with python-docx; the same input gives the same bytes)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from srma.appraisal.grade import GradeSettings, Judgement, Outcome, propose, rate
from srma.appraisal.sof import FIXED_TIME, ZIP_TIME, docx_bytes, sof_html, sof_table, write_docx

docx = pytest.importorskip("docx")

MINUS = "\u2212"


def ratings():
    pooled = Outcome(
        instrument="sparcc_sij",
        timepoint="12w",
        status="pooled",
        k=3,
        n_intervention=235.0,
        n_control=247.0,
        measure="MD",
        estimate=-3.1,
        ci_lb=-4.2,
        ci_ub=-2.0,
        I2=28.4,
        pi_lb=-5.6,
        pi_ub=-0.6,
        studies=("A2001", "B2002", "C2003"),
        weights={"A2001": 50.0, "B2002": 30.0, "C2003": 20.0},
    )
    single = Outcome(
        instrument="sparcc_spine",
        timepoint="6w",
        status="single study",
        k=1,
        n_intervention=24.0,
        n_control=23.0,
        measure="MD",
        estimate=-4.8,
        ci_lb=-9.08,
        ci_ub=-0.52,
        studies=("Krabbe2018",),
        weights={"Krabbe2018": 100.0},
    )
    empty = Outcome(
        instrument="asspimri",
        timepoint="24w",
        status="no usable data",
        k=0,
        n_intervention=0.0,
        n_control=0.0,
    )
    settings = GradeSettings(ois={"default": 400})
    judgements = {"A2001": "low", "B2002": "low", "C2003": "high", "Krabbe2018": "no information"}
    out = []
    for o in (pooled, single, empty):
        proposals = propose(o, judgements, settings=settings)
        out.append(rate(o, proposals))
    # The reviewer judged indirectness of the first outcome.
    first = out[0]
    final = dict(first.final)
    final["indirectness"] = Judgement(
        "indirectness", -1, "population <mixed> & AS", "reviewer", reviewer="AB"
    )
    out[0] = type(first)(first.outcome, first.proposals, final)
    return out


LABELS = {
    "instrument_labels": {"sparcc_sij": "SPARCC SIJ", "sparcc_spine": "SPARCC spine"},
    "timepoint_labels": {"12w": "12 weeks", "6w": "6 weeks"},
    "unit": "points",
}


def test_sof_table_rows():
    table = sof_table(ratings(), **LABELS)
    assert list(table["outcome"]) == [
        "SPARCC SIJ, 12 weeks",
        "SPARCC spine, 6 weeks",
        "asspimri, 24w",
    ]
    first, single, empty = (table.iloc[i] for i in range(3))
    assert first["effect"] == f"MD {MINUS}3.10 points (95% CI {MINUS}4.20 to {MINUS}2.00)"
    assert (first["studies"], first["participants"]) == (3, 482.0)
    # Only the reviewer rated down (indirectness): 80% of the weight at low risk, I² 28%,
    # a CI excluding no effect and 482 participants (OIS 400) give srma nothing to rate down.
    assert first["indirectness"] == -1 and first["indirectness_by"] == "reviewer"
    assert (
        first["certainty"] == "moderate"
        and first["certainty_symbols"] == "\u2295\u2295\u2295\u25ef"
    )
    assert (
        "Indirectness, serious (-1), reviewer (AB): population <mixed> & AS" in first["footnotes"]
    )
    assert "Publication bias: not judged yet" in first["footnotes"]
    assert "indirectness: reviewer" in first["decided_by"]
    assert single["effect"].endswith("from one study")
    assert single["certainty"] == "very low"  # no information -1, 47 participants -2
    assert pd.isna(empty["certainty"]) and empty["effect"] == "no usable data"
    assert empty["footnotes"] == "no usable data: not rated"


def test_sof_html_escapes_and_lists_every_outcome():
    text = sof_html(sof_table(ratings(), **LABELS), title="Summary <of> findings")
    assert "Summary &lt;of&gt; findings" in text
    assert "population &lt;mixed&gt; &amp; AS" in text
    assert text.count("<tr>") == 4 and "not rated" in text  # the header and 3 outcomes
    assert "482 (3 studies)" in text and "47 (1 study)" in text
    assert "&lt;NA&gt;" not in text and "None" not in text


def test_docx_content_reads_back(tmp_path):
    path = write_docx(sof_table(ratings(), **LABELS), tmp_path / "sof.docx", title="SoF")
    doc = docx.Document(str(path))
    [table] = doc.tables
    cells = [[c.text for c in row.cells] for row in table.rows]
    assert cells[0] == [
        "Outcome",
        "Participants (studies)",
        "Effect",
        "Certainty (GRADE)",
        "Reasons",
    ]
    assert cells[1][0] == "SPARCC SIJ, 12 weeks"
    assert cells[1][1] == "482 (3 studies)"
    assert cells[1][2] == f"MD {MINUS}3.10 points (95% CI {MINUS}4.20 to {MINUS}2.00)"
    assert cells[1][3] == "\u2295\u2295\u2295\u25ef moderate"
    assert "reviewer (AB)" in cells[1][4]
    assert cells[3][3] == "not rated"
    assert doc.paragraphs[0].text == "SoF"
    props = doc.core_properties
    assert props.created == FIXED_TIME and props.modified == FIXED_TIME
    assert props.author == "srma"
    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {ZIP_TIME}


def test_docx_same_input_same_bytes(tmp_path):
    table = sof_table(ratings(), **LABELS)
    first = docx_bytes(table)
    assert docx_bytes(table) == first
    # ... also in another process, started at another time.
    path = tmp_path / "other.docx"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_sof import ratings, LABELS\n"
        "from srma.appraisal.sof import sof_table, write_docx\n"
        f"write_docx(sof_table(ratings(), **LABELS), {str(path)!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(first).hexdigest()
    # A different table gives different bytes.
    assert docx_bytes(table.iloc[:1]) != first
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert z.testzip() is None
