"""The summary-of-findings table: one row per outcome, as a CSV table, HTML and Word.

Layout of a GRADE summary-of-findings table for continuous outcomes (Schünemann HJ et
al. Cochrane Handbook version 6.4, chapter 14; Guyatt GH et al. GRADE guidelines 13,
J Clin Epidemiol 2013;66:173-183): the outcome (instrument and timepoint), the number of
participants and studies, the effect with its confidence interval, the certainty of the
evidence (with GRADE's symbols) and footnotes giving the reason of every downgrade. srma
adds, per outcome, who decided each domain (srma's proposal or the reviewer), so that the
reader sees which parts of a rating are computed and which are judged.

:func:`sof_table` builds the table (``results/tables/summary_of_findings.csv``),
:func:`sof_html` the HTML for the report, :func:`write_docx` the Word document
(``results/tables/summary_of_findings.docx``, python-docx), byte-identical for the same
table: python-docx stamps the core properties with the time and writes zip entries with
the current date, so both are fixed here (:data:`FIXED_TIME`) and the package is
rewritten with fixed zip dates and attributes.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import math
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from srma.appraisal.grade import DOMAIN_NAMES, DOMAINS, NOT_JUDGED, REVIEWER, Rating, fmt
from srma.io import write_bytes_atomic

#: Date and time stamped into the Word document's properties (and zip entries).
FIXED_TIME = dt.datetime(2000, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: GRADE's certainty symbols.
SYMBOLS = {
    "high": "\u2295\u2295\u2295\u2295",
    "moderate": "\u2295\u2295\u2295\u25ef",
    "low": "\u2295\u2295\u25ef\u25ef",
    "very low": "\u2295\u25ef\u25ef\u25ef",
}

#: What each certainty level means (Balshem et al. J Clin Epidemiol 2011;64:401-406).
MEANINGS = {
    "high": "We are very confident that the true effect lies close to that of the estimate.",
    "moderate": "We are moderately confident in the effect estimate: the true effect is "
    "likely to be close to it, but may be substantially different.",
    "low": "Our confidence in the effect estimate is limited: the true effect may be "
    "substantially different from it.",
    "very low": "We have very little confidence in the effect estimate: the true effect is "
    "likely to be substantially different from it.",
}

COLUMNS = [
    "instrument",
    "timepoint",
    "outcome",
    "studies",
    "participants",
    "n_intervention",
    "n_control",
    "measure",
    "estimate",
    "ci_lb",
    "ci_ub",
    "level",
    "effect",
    "certainty",
    "certainty_symbols",
    *DOMAINS,
    *(f"{d}_by" for d in DOMAINS),
    "footnotes",
    "decided_by",
    "status",
    "study_ids",
]


def _letters():
    n = 0
    while True:
        s, m = "", n
        while True:
            s = chr(ord("a") + m % 26) + s
            m = m // 26 - 1
            if m < 0:
                break
        yield s
        n += 1


def sof_table(
    ratings: Sequence[Rating],
    *,
    instrument_labels: Mapping[str, str] | None = None,
    timepoint_labels: Mapping[str, str] | None = None,
    unit: str = "",
) -> pd.DataFrame:
    """One row per rated outcome, in the order of ``ratings``.

    ``effect`` reads e.g. ``MD −3.10 points (95% CI −4.20 to −2.00)``; an outcome of one
    study says so, and one without a pooled estimate says why. Each domain column is the
    final downgrade (0, -1, -2; empty when not judged) and ``<domain>_by`` who decided
    it. ``footnotes`` numbers the reasons of every downgrade, every reviewer decision
    and every domain not judged (``a: Risk of bias, serious (-1), srma: ...``); the
    ``certainty`` cell of an outcome without usable data is empty.
    """
    rows = []
    for r in ratings:
        o = r.outcome
        inst = (instrument_labels or {}).get(o.instrument, o.instrument)
        tp = (timepoint_labels or {}).get(o.timepoint, o.timepoint)
        notes = []
        letters = _letters()
        for d in DOMAINS if o.k else ():  # an outcome without data is not rated
            j, p = r.final[d], r.proposals[d]
            if j.source == NOT_JUDGED:
                notes.append(f"{next(letters)}: {DOMAIN_NAMES[d]}: not judged yet ({j.rationale})")
            elif j.downgrade or j.source == REVIEWER:
                who = j.source + (f" ({j.reviewer})" if j.reviewer else "")
                extra = ""
                if j.source == REVIEWER and p.downgrade != j.downgrade:
                    extra = f" [srma proposed {p.words}: {p.rationale}]"
                letter = next(letters)
                notes.append(f"{letter}: {DOMAIN_NAMES[d]}, {j.words}, {who}: {j.rationale}{extra}")
        rows.append(
            {
                "instrument": o.instrument,
                "timepoint": o.timepoint,
                "outcome": f"{inst}, {tp}",
                "studies": o.k,
                "participants": o.participants if o.k else None,
                "n_intervention": o.n_intervention if o.k else None,
                "n_control": o.n_control if o.k else None,
                "measure": o.measure,
                "estimate": o.estimate,
                "ci_lb": o.ci_lb,
                "ci_ub": o.ci_ub,
                "level": o.level,
                "effect": effect_text(r, unit),
                "certainty": r.certainty,
                "certainty_symbols": SYMBOLS.get(r.certainty or "", ""),
                **{d: r.final[d].downgrade for d in DOMAINS},
                **{f"{d}_by": r.final[d].source for d in DOMAINS},
                "footnotes": " | ".join(notes) if o.k else "no usable data: not rated",
                "decided_by": r.decided_by if o.k else None,
                "status": o.status,
                "study_ids": "; ".join(o.studies) or None,
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    for c in COLUMNS:
        if c in DOMAINS or c == "studies":
            table[c] = table[c].astype("Int64")
        elif c in (
            "participants",
            "n_intervention",
            "n_control",
            "estimate",
            "ci_lb",
            "ci_ub",
            "level",
        ):
            table[c] = table[c].astype("float64")
        else:
            table[c] = table[c].astype("string")
    return table


def effect_text(rating: Rating, unit: str = "") -> str:
    """The effect cell: ``MD −3.10 points (95% CI −4.20 to −2.00)``; an odds or risk
    ratio (pooled on the log scale) as the ratio: ``OR 0.47 (95% CI 0.33 to 0.68)``."""
    o = rating.outcome
    if o.k == 0:
        return "no usable data"
    if o.estimate is None or o.ci_lb is None:
        return f"not pooled ({o.k} studies; {o.status or 'no pooled estimate'})"
    u = f" {unit}" if unit and (o.measure or "MD") == "MD" else ""
    est, lb, ub = o.estimate, o.ci_lb, o.ci_ub
    if o.measure in ("OR", "RR"):
        est, lb, ub = (math.exp(x) for x in (est, lb, ub))
    text = f"{o.measure or 'MD'} {fmt(est)}{u} ({o.level:g}% CI {fmt(lb)} to {fmt(ub)})"
    return text + (" from one study" if o.k == 1 else "")


def _participants(row) -> str:
    if pd.isna(row["participants"]):
        return f"{row['studies']} studies"
    k = int(row["studies"])
    return f"{row['participants']:.0f} ({k} {'study' if k == 1 else 'studies'})"


# HTML -------------------------------------------------------------------------------------


def sof_html(
    table: pd.DataFrame, *, title: str = "Summary of findings", notes: Iterable[str] = ()
) -> str:
    """The table as a self-contained HTML fragment (a ``<table>`` with a caption and its
    footnotes; text escaped), for the report."""
    e = html.escape
    out = [
        '<table class="srma-sof">',
        f"<caption>{e(title)}</caption>",
        "<thead><tr><th>Outcome</th><th>Participants (studies)</th><th>Effect</th>"
        "<th>Certainty of the evidence (GRADE)</th><th>Reasons</th>"
        "<th>Decided by</th></tr></thead>",
        "<tbody>",
    ]
    for _, row in table.iterrows():
        cert = row["certainty"]
        cert_text = "not rated" if pd.isna(cert) else f"{row['certainty_symbols']} {cert}"
        notes_cell = "" if pd.isna(row["footnotes"]) else row["footnotes"]
        out.append(
            "<tr>"
            f"<td>{e(str(row['outcome']))}</td>"
            f"<td>{e(_participants(row))}</td>"
            f"<td>{e(str(row['effect']))}</td>"
            f"<td>{e(cert_text)}</td>"
            f"<td>{'<br>'.join(e(n) for n in notes_cell.split(' | ') if n)}</td>"
            f"<td>{'' if pd.isna(row['decided_by']) else e(str(row['decided_by']))}</td>"
            "</tr>"
        )
    out.append("</tbody></table>")
    extra = list(notes) + [f"{k}: {v}" for k, v in MEANINGS.items()]
    out.append('<ul class="srma-sof-notes">' + "".join(f"<li>{e(n)}</li>" for n in extra) + "</ul>")
    return "\n".join(out) + "\n"


# Word -------------------------------------------------------------------------------------

DOCX_HEADER = (
    "Outcome",
    "Participants (studies)",
    "Effect",
    "Certainty (GRADE)",
    "Reasons",
)


def docx_bytes(
    table: pd.DataFrame, *, title: str = "Summary of findings", notes: Iterable[str] = ()
) -> bytes:
    """The table as a Word document (landscape A4, one table, footnotes under it), the
    same bytes for the same arguments."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(15))
    doc.add_heading(title, level=1)
    grid = doc.add_table(rows=1, cols=len(DOCX_HEADER))
    grid.style = "Table Grid"
    for cell, text in zip(grid.rows[0].cells, DOCX_HEADER, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
    for _, row in table.iterrows():
        cert = row["certainty"]
        cells = grid.add_row().cells
        values = (
            str(row["outcome"]),
            _participants(row),
            str(row["effect"]),
            "not rated" if pd.isna(cert) else f"{row['certainty_symbols']} {cert}",
            "" if pd.isna(row["footnotes"]) else "\n".join(str(row["footnotes"]).split(" | ")),
        )
        for cell, text in zip(cells, values, strict=True):
            cell.text = text
    for row in grid.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(8)
    for note in [*notes, *(f"{k}: {v}" for k, v in MEANINGS.items())]:
        p = doc.add_paragraph(note)
        for run in p.runs:
            run.font.size = Pt(8)
    props = doc.core_properties
    props.author = "srma"
    props.last_modified_by = "srma"
    props.title = title
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    return fixed_zip(buf.getvalue())


def fixed_zip(data: bytes) -> bytes:
    """``data`` (a zip archive) rewritten with the same members in the same order, each
    dated :data:`ZIP_TIME` with fixed attributes and deflate level, so that equal
    contents give equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 0
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename), compresslevel=6)
    return out.getvalue()


def write_docx(
    table: pd.DataFrame,
    path: str | os.PathLike,
    *,
    title: str = "Summary of findings",
    notes: Iterable[str] = (),
) -> Path:
    """Write :func:`docx_bytes` to ``path`` atomically."""
    return write_bytes_atomic(Path(path), docx_bytes(table, title=title, notes=notes))
