"""Screening decisions read back from ASReview LAB, Rayyan and Covidence exports.

srma writes ``results/dedup/unique.ris`` (one record per cluster: ``ID`` = cluster id,
``AN`` = PMID or accession, ``DO``, ``TI``, ``PY``, ``N1`` = ``srma records: <record
ids>``). Reviewers import it into a screening tool, screen there, and export. This
module reads those exports, matches every row back to its cluster and returns the same
decisions table and PRISMA 2020 counts as :func:`srma.screening.screen`.

Formats read (each tool's own export, as the tool writes it; the test fixtures in
``tests/fixtures/screening_tools`` imitate them, their README gives the sources):

- **ASReview LAB** ("Export" > "Dataset"): CSV, TSV, Excel (.xlsx) or RIS. Tables carry
  the imported columns (for srma's RIS: ``id``, ``title``, ``year``, ``doi``,
  ``accession_number``, ``notes``) and the label: ``included`` (LAB 1.x, with
  ``asreview_ranking``) or ``asreview_label`` (LAB 2.x, with ``asreview_time``,
  ``asreview_note`` and one ``asreview_tag_<group>_<tag>`` column per tag), ``1``
  relevant, ``0`` irrelevant, empty not seen. The RIS export keeps the imported tags
  and puts ``ASReview_relevant`` / ``ASReview_irrelevant`` / ``ASReview_not_seen`` in
  ``N1``. Tags set on an irrelevant record are its exclusion reasons. ASReview LAB has
  one stage: listed under ``full_text``, its labels are full-text decisions.
- **Rayyan** (export of the screening or the full-text screening stage): CSV
  (``key,title,year,month,day,journal,issn,volume,issue,pages,authors,url,language,
  publisher,location,abstract,notes,pubmed_id,pmc_id``; ``key`` is the ``AN`` of the
  imported record) or RIS (``AN``, ``TI``, ``N1``). The notes keep the imported ``N1``
  and add ``RAYYAN-INCLUSION: {"Reviewer"=>"Included", ...}``, ``RAYYAN-LABELS: a,b``
  and ``RAYYAN-EXCLUSION-REASONS: x,y``, ``|``-separated. A record is included or
  excluded when every reviewer's decision says so; ``Maybe`` or reviewers who
  disagree leave it undecided. The exclusion reasons (``; ``-joined) are the reasons.
- **Covidence** (export of one list as CSV: ``"Title","Authors","Abstract","Published
  Year","Published Month","Journal","Volume","Issue","Pages","Accession Number","DOI",
  "Ref","Covidence #","Study","Notes","Tags"``). The list is read from the file name
  Covidence gives the export (``review_<id>_<list>_csv_<date>.csv``): ``irrelevant``
  (excluded at title/abstract), ``select`` (full text review: included at
  title/abstract), ``included``, ``excluded`` (excluded at full text; the reason is an
  ``Exclusion reason`` column or ``Exclusion reason: <reason>`` in ``Notes``) and
  ``screen`` (not screened yet).

Matching (:class:`Matcher`): a row's cluster is found by, in turn, the srma ids the tool
carried through (ASReview's ``id``, Covidence's ``Ref``: the RIS ``ID``, a cluster id;
the ``srma records:`` note: record ids), the DOI, the PMID or accession (Rayyan's
``key``, ASReview's ``accession_number``, Covidence's ``Accession Number``: the RIS
``AN``), the normalised title (narrowed by the year). The first of these that finds a
cluster decides; when it finds several, the later ones narrow them down. A row that
still finds none, or several, is reported with its file, line and title: an included
row stops the run (a study would be lost); any other is a warning, listed in a table
in the job's log, and not counted.

Study ids: the tools do not know srma's study ids (the extraction files' stems). An
included report takes its study id from a ``study:<id>`` label (Rayyan) or tag
(Covidence), from Covidence's ``Study`` column (its study ID, spaces removed:
``Smith 2020`` is ``Smith2020``), or from a row of srma's own decisions file.

srma's own decisions file (``screening.decisions``, :mod:`srma.screening`) may be used
beside a tool: its rows are merged with the tool's (ASReview LAB has no full-text
stage: the full-text decisions, reasons and study ids go there). A record decided
differently in two places is an error naming both.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from srma.errors import ConfigError, InputError, decode_utf8

if TYPE_CHECKING:  # imported where used: the workflow checks the exports when it starts
    import pandas as pd

__all__ = [
    "TOOLS",
    "ToolRow",
    "read_export",
    "read_exports",
    "check_screening",
    "screen_exports",
    "Matcher",
]

log = logging.getLogger(__name__)

TOOLS = ("asreview", "rayyan", "covidence")
STAGES = ("title_abstract", "full_text")
#: A study id is an extraction file's stem (extraction schema, ``study_id``).
_STUDY_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_STUDY_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])study:\s*([^\s,;|]+)", re.IGNORECASE)
_SRMA_RECORDS = re.compile(r"srma records:\s*([^'\"\]|\n]+)", re.IGNORECASE)
_PMID = re.compile(r"(?:pmid:?\s*)?(\d{1,9})", re.IGNORECASE)
_YEAR = re.compile(r"(1[89]\d\d|20\d\d|2100)")
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


# Reading the files ---------------------------------------------------------------------


@dataclass
class _Raw:
    """One row or RIS record as read: ``cells`` by lower-cased, stripped column name
    (RIS: tag), each a list of values (several for repeated RIS tags)."""

    line: int
    cells: dict[str, list[str]]

    def get(self, *names: str) -> str | None:
        for name in names:
            for value in self.cells.get(name, ()):
                if value.strip():
                    return value.strip()
        return None

    def all(self, *names: str) -> list[str]:
        return [v.strip() for n in names for v in self.cells.get(n, ()) if v.strip()]


def _decode(path: str, data: bytes) -> str:
    return decode_utf8(
        path,
        data,
        "export the file again from the screening tool (its exports are UTF-8), or save "
        "it as CSV UTF-8",
    )


def _read_ris(path: str, text: str) -> list[_Raw]:
    rows: list[_Raw] = []
    current: _Raw | None = None
    last_tag = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.rstrip()
        m = _RIS_LINE.match(line)
        if m:
            tag, value = m.group(1), (m.group(2) or "").strip()
            if tag == "TY":
                current = _Raw(number, {})
                rows.append(current)
            elif current is None:
                raise InputError(path, f"an RIS tag {tag} before the first TY", line=number)
            if tag == "ER":
                current, last_tag = None, None
                continue
            current.cells.setdefault(tag.lower(), []).append(value)
            last_tag = tag.lower()
        elif line.strip() and current is not None and last_tag is not None:
            values = current.cells[last_tag]  # a value continued on the next line
            values[-1] = f"{values[-1]} {line.strip()}".strip()
    if not rows:
        raise InputError(path, "no RIS records (no 'TY  - ' line)", line=1)
    return rows


def _read_table(path: str, text: str) -> tuple[list[_Raw], list[str]]:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[_Raw] = []
    header: list[str] | None = None
    try:
        while True:
            start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                break
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                continue
            row = _Raw(start, {})
            for name, value in zip(header, cells, strict=False):
                if name:
                    row.cells.setdefault(name, []).append(value)
            rows.append(row)
    except csv.Error as err:
        raise InputError(path, f"not a readable CSV file: {err}", line=reader.line_num) from None
    if header is None:
        raise InputError(path, "the file is empty: expected the screening tool's export", line=1)
    return rows, header


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(path: str, data: bytes) -> tuple[list[_Raw], list[str]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged workbook
        raise InputError(path, f"not a readable Excel workbook: {err}") from None
    try:
        sheet = wb.worksheets[0]
        rows: list[_Raw] = []
        header: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                continue
            row = _Raw(number, {})
            for name, value in zip(header, cells, strict=False):
                if name:
                    row.cells.setdefault(name, []).append(value)
            rows.append(row)
    finally:
        wb.close()
    if header is None:
        raise InputError(path, "the workbook is empty: expected the screening tool's export")
    return rows, header


def _read_rows(path: str) -> tuple[str, list[_Raw], list[str]]:
    """``(kind, rows, header)``: ``kind`` is ``ris`` or ``table``."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read the file: {err.strerror or err}") from None
    if data.startswith(b"PK\x03\x04"):
        rows, header = _read_xlsx(path, data)
        return "table", rows, header
    text = _decode(path, data)
    if not text.strip():
        raise InputError(path, "the file is empty: expected the screening tool's export", line=1)
    head = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if any(ln.startswith("TY  -") for ln in head[:3]):
        return "ris", _read_ris(path, text), []
    rows, header = _read_table(path, text)
    return "table", rows, header


# One row of a tool's export ---------------------------------------------------------------


@dataclass
class ToolRow:
    """One row of a screening tool's export, with the decisions it carries.

    ``ta`` / ``ft``: the title/abstract and full-text decision (``include``,
    ``exclude`` or ``None``); a full-text row implies inclusion at title/abstract.
    ``undecided``: why a screened row has no decision (reviewers disagree, Maybe).
    ``ids``: srma cluster or record ids the tool carried through; ``pmids``: PMIDs or
    accessions; the rest identify the record for matching and messages."""

    path: str
    line: int
    stage: str
    ta: str | None = None
    ta_reason: str | None = None
    ft: str | None = None
    ft_reason: str | None = None
    study_id: str | None = None
    study_hint: str | None = None
    undecided: str | None = None
    title: str | None = None
    year: int | None = None
    doi: str | None = None
    pmids: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    note_ids: tuple[str, ...] = ()

    @property
    def decision(self) -> str | None:
        """The decision of the row's stage."""
        return self.ft if self.stage == "full_text" else self.ta

    @property
    def includes(self) -> bool:
        """The row includes a record at its stage (losing it would lose a report)."""
        return self.decision == "include"

    def describe(self) -> str:
        if self.decision:
            return f"{self.decision} at {self.stage.replace('_', '/')}"
        return self.undecided or "no decision"


def _year(value: str | None) -> int | None:
    m = _YEAR.search(value or "")
    return int(m.group(1)) if m else None


def _note_ids(texts: Iterable[str]) -> tuple[str, ...]:
    ids: list[str] = []
    for text in texts:
        for m in _SRMA_RECORDS.finditer(text):
            ids += [p.strip() for p in m.group(1).split(";") if p.strip()]
    return tuple(dict.fromkeys(ids))


def _study_tokens(path: str, line: int, texts: Iterable[str], where: str) -> str | None:
    found = []
    for text in texts:
        found += _STUDY_TOKEN.findall(text)
    found = list(dict.fromkeys(found))
    if not found:
        return None
    if len(found) > 1:
        raise InputError(
            path,
            f"two study ids ({', '.join(found)}) in the {where}; an included report belongs "
            "to one study",
            line=line,
            field=where,
        )
    if not _STUDY_ID.match(found[0]):
        raise InputError(
            path,
            f"study id {found[0]!r} is not an extraction file name (letters, digits, _ and -)",
            line=line,
            field=where,
        )
    return found[0]


def _with_decision(row: ToolRow, decision: str | None, reason: str | None) -> ToolRow:
    if row.stage == "full_text":
        row.ta = "include"  # a full-text decision follows an inclusion at title/abstract
        row.ft, row.ft_reason = decision, reason if decision == "exclude" else None
    else:
        row.ta, row.ta_reason = decision, reason if decision == "exclude" else None
    return row


# ASReview LAB -----------------------------------------------------------------------------

#: ASReview's label columns: LAB 2.x, LAB 1.x, and names ASReview reads as labels.
_ASREVIEW_LABELS = ("asreview_label", "included", "label_included", "final_included", "label")
_ASREVIEW_NOTES = {
    "asreview_relevant": "include",
    "asreview_irrelevant": "exclude",
    "asreview_not_seen": None,
}


def _asreview_value(path: str, raw: _Raw, column: str) -> str | None:
    value = raw.get(column) or ""
    v = value.strip().lower()
    if v in ("", "nan", "none", "-1"):
        return None
    if v in ("1", "1.0", "true"):
        return "include"
    if v in ("0", "0.0", "false"):
        return "exclude"
    raise InputError(
        path,
        f"ASReview label {value!r}: expected 1 (relevant), 0 (irrelevant) or empty (not seen)",
        line=raw.line,
        field=column,
    )


def _read_asreview(path: str, stage: str, kind: str, rows: list[_Raw], header: list[str]):
    out = []
    if kind == "table":
        column = next((c for c in _ASREVIEW_LABELS if c in header), None)
        if column is None:
            raise InputError(
                path,
                "no label column: an ASReview LAB export has 'included' (LAB 1) or "
                "'asreview_label' (LAB 2); export the dataset from ASReview LAB",
                line=1,
            )
        tags = [c for c in header if c.startswith("asreview_tag_")]
    for raw in rows:
        notes = raw.all("notes", "n1")
        if kind == "table":
            decision = _asreview_value(path, raw, column)
            tagged = [t for t in tags if (raw.get(t) or "").strip() in ("1", "1.0")]
        else:
            decision, seen = None, False
            for note in notes:
                key = note.strip().lower()
                if key in _ASREVIEW_NOTES:
                    decision, seen = _ASREVIEW_NOTES[key], True
                    break
            if not seen:
                label = next((n for n in notes if n.lower().startswith("asreview_label:")), None)
                if label is not None:
                    value = label.split(":", 1)[1].strip()
                    decision = {"1": "include", "0": "exclude"}.get(value)
            tagged = [
                n.split(":", 1)[0].strip().lower()
                for n in notes
                if n.lower().startswith("asreview_tag_") and n.split(":", 1)[-1].strip() == "1"
            ]
        reason = "; ".join(t.removeprefix("asreview_tag_").replace("_", " ") for t in tagged)
        row = ToolRow(
            path,
            raw.line,
            stage,
            title=raw.get("title", "primary_title", "ti", "t1"),
            year=_year(raw.get("year", "publication_year", "py", "y1")),
            doi=raw.get("doi", "do"),
            pmids=tuple(raw.all("accession_number", "pubmed_id", "pmid", "an")),
            ids=tuple(raw.all("id")),
            note_ids=_note_ids(notes),
        )
        out.append(_with_decision(row, decision, reason or None))
    if kind == "ris" and not any(
        any(n.strip().lower() in _ASREVIEW_NOTES or n.lower().startswith("asreview_label:")
            for n in raw.all("n1"))
        for raw in rows
    ):  # fmt: skip
        raise InputError(
            path,
            "no ASReview labels in the RIS notes (N1 ASReview_relevant / ASReview_irrelevant); "
            "export the dataset from ASReview LAB",
            line=1,
        )
    return out


# Rayyan -----------------------------------------------------------------------------------

_RAYYAN_PART = re.compile(r"(RAYYAN-INCLUSION|RAYYAN-LABELS|RAYYAN-EXCLUSION-REASONS|USER-NOTES):")
_RAYYAN_VOTE = re.compile(r'"([^"]*)"\s*=>\s*"([^"]*)"')


def _rayyan_parts(notes: str) -> dict[str, str]:
    """The Rayyan sections of a notes field, by prefix, and the text before them
    (``""``: the notes the record had when it was imported)."""
    parts: dict[str, str] = {}
    pieces = _RAYYAN_PART.split(notes)
    parts[""] = pieces[0]
    for name, value in zip(pieces[1::2], pieces[2::2], strict=True):
        parts[name] = value.strip().strip("|").strip()
    return parts


def _rayyan_decision(path: str, raw: _Raw, votes: str) -> tuple[str | None, str | None]:
    pairs = _RAYYAN_VOTE.findall(votes)
    if not pairs:
        raise InputError(
            path,
            f'RAYYAN-INCLUSION {votes!r}: expected {{"reviewer"=>"Included", ...}}',
            line=raw.line,
            field="notes",
        )
    kinds = {v.strip().lower() for _, v in pairs}
    unknown = kinds - {"included", "excluded", "maybe"}
    if unknown:
        raise InputError(
            path,
            f"RAYYAN-INCLUSION decision {sorted(unknown)[0]!r}: expected Included, Excluded "
            "or Maybe",
            line=raw.line,
            field="notes",
        )
    if kinds == {"included"}:
        return "include", None
    if kinds == {"excluded"}:
        return "exclude", None
    listed = ", ".join(f"{name}: {v}" for name, v in pairs)
    if "maybe" in kinds and len(kinds) == 1:
        return None, f"undecided (Maybe: {listed})"
    return None, f"undecided (reviewers disagree: {listed})"


def _read_rayyan(path: str, stage: str, kind: str, rows: list[_Raw], header: list[str]):
    if kind == "table" and "notes" not in header:
        raise InputError(
            path,
            "no 'notes' column: Rayyan writes its decisions into the notes; export the "
            "review from Rayyan (CSV or RIS) with its decisions",
            line=1,
        )
    out = []
    any_votes = False
    for raw in rows:
        notes = " | ".join(raw.all("notes", "n1"))
        parts = _rayyan_parts(notes)
        key = raw.get("key", "an")
        pmids = [p for p in (key, *raw.all("pubmed_id")) if p and not p.startswith("rayyan-")]
        row = ToolRow(
            path,
            raw.line,
            stage,
            title=raw.get("title", "ti", "t1"),
            year=_year(raw.get("year", "py", "y1", "da")),
            doi=raw.get("doi", "do"),
            pmids=tuple(pmids),
            note_ids=_note_ids([parts[""]]),
        )
        if "RAYYAN-INCLUSION" not in parts:
            out.append(_with_decision(row, None, None))  # not screened (yet) at this stage
            continue
        any_votes = True
        decision, undecided = _rayyan_decision(path, raw, parts["RAYYAN-INCLUSION"])
        row.undecided = undecided
        reasons = [
            r.strip() for r in parts.get("RAYYAN-EXCLUSION-REASONS", "").split(",") if r.strip()
        ]
        labels = [x.strip() for x in parts.get("RAYYAN-LABELS", "").split(",") if x.strip()]
        row.study_id = _study_tokens(path, raw.line, labels, "notes (RAYYAN-LABELS)")
        out.append(_with_decision(row, decision, "; ".join(reasons) or None))
    if rows and not any_votes:
        raise InputError(
            path,
            "no RAYYAN-INCLUSION in the notes: no record has a decision; export the review "
            "from Rayyan with its decisions",
            line=1,
        )
    return out


# Covidence --------------------------------------------------------------------------------

#: Covidence's lists, as named in its export files, in the order they are looked for.
_COVIDENCE_LISTS = ("irrelevant", "excluded", "included", "select", "screen")
_EXCLUSION_REASON = re.compile(r"exclusion reason:\s*([^;\n|]+)", re.IGNORECASE)


def covidence_list(path: str) -> str:
    """The Covidence list an export holds, from its file name
    (``review_<id>_<list>_csv_<date>.csv``)."""
    name = Path(path).name.lower()
    for word in _COVIDENCE_LISTS:
        if re.search(rf"(?<![a-z]){word}(?![a-z])", name):
            return word
    raise InputError(
        path,
        "the file name does not say which Covidence list it holds: keep the name "
        "Covidence gave it (review_<id>_<list>_csv_<date>.csv) or put the list in it: "
        + ", ".join(_COVIDENCE_LISTS),
    )


def _read_covidence(path: str, stage: str, kind: str, rows: list[_Raw], header: list[str]):
    if kind != "table" or "covidence #" not in header:
        raise InputError(
            path,
            "not a Covidence CSV export (no 'Covidence #' column); export the list from "
            "Covidence as CSV",
            line=1,
        )
    which = covidence_list(path)
    out = []
    for raw in rows:
        tags = raw.all("tags")
        notes = raw.all("notes")
        row = ToolRow(
            path,
            raw.line,
            stage,
            title=raw.get("title"),
            year=_year(raw.get("published year", "year")),
            doi=raw.get("doi"),
            pmids=tuple(raw.all("accession number", "pmid")),
            ids=tuple(raw.all("ref")),
            note_ids=_note_ids(notes),
        )
        row.stage = "full_text" if which in ("included", "excluded") else "title_abstract"
        if which == "irrelevant":
            row.ta = "exclude"
        elif which == "select":
            row.ta = "include"
        elif which in ("included", "excluded"):
            row.ta = "include"
            if which == "included":
                row.ft = "include"
                row.study_id = _study_tokens(path, raw.line, tags, "Tags")
                study = raw.get("study")
                if row.study_id is None and study:
                    compact = re.sub(r"\s+", "", study)
                    if _STUDY_ID.match(compact):
                        row.study_id = compact
                    else:
                        row.study_hint = (
                            f"Covidence's Study {study!r} is not an extraction file name"
                        )
            else:
                row.ft = "exclude"
                reason = raw.get("exclusion reason")
                if reason is None:
                    m = next((m for n in notes if (m := _EXCLUSION_REASON.search(n))), None)
                    reason = m.group(1).strip() if m else None
                row.ft_reason = reason
        out.append(row)
    return out


_READERS = {"asreview": _read_asreview, "rayyan": _read_rayyan, "covidence": _read_covidence}


def read_export(path: str | os.PathLike, tool: str, stage: str) -> list[ToolRow]:
    """The rows of one export of ``tool`` (``asreview``, ``rayyan``, ``covidence``),
    listed under ``stage`` (``title_abstract`` or ``full_text``); raises
    :class:`InputError` naming the file, the line and the field."""
    path = os.fspath(path)
    if tool not in _READERS:
        raise ValueError(f"unknown screening tool {tool!r}")
    kind, rows, header = _read_rows(path)
    return _READERS[tool](path, stage, kind, rows, header)


def read_exports(
    tool: str, title_abstract: Sequence[str | os.PathLike], full_text: Sequence[str | os.PathLike]
) -> list[ToolRow]:
    """The rows of every export, title/abstract exports first, in the order given."""
    rows: list[ToolRow] = []
    for stage, paths in (("title_abstract", title_abstract), ("full_text", full_text)):
        for path in paths:
            rows += read_export(path, tool, stage)
    return rows


# Checks when the workflow starts ----------------------------------------------------------


def check_screening(
    settings: Mapping,
    study_ids: Iterable[str],
    extraction_dir: str | os.PathLike = "resources/extraction",
) -> None:
    """Check the ``screening`` section of the config and the files it names, alone (no
    deduplicated records needed): the workflow runs this when it starts, so that a bad
    file stops the run before any job. Raises :class:`ConfigError` or
    :class:`InputError`, also for broken references between the decisions and the
    study files in ``extraction_dir`` (:func:`srma.screening.study_file_error`)."""
    from srma.screening import check_decisions_file, read_decision_rows

    tool = settings.get("tool") or "srma"
    decisions = (settings.get("decisions") or "").strip() or None  # "": no srma file
    exports = {stage: list(settings.get(stage) or ()) for stage in STAGES}
    if tool == "srma":
        for stage in STAGES:
            if exports[stage]:
                raise ConfigError(
                    f"config key 'screening.{stage}': the exports of a screening tool are "
                    "read when screening.tool names it (asreview, rayyan or covidence)"
                )
        if decisions is None:
            raise ConfigError(
                "config key 'screening.decisions': srma's decisions file is needed when "
                "screening.tool is srma (or name the screening tool whose exports you have)"
            )
        check_decisions_file(decisions, study_ids, extraction_dir)
        return
    if decisions is not None and not Path(decisions).is_file():
        raise ConfigError(f"config key 'screening.decisions': {decisions}: no such file")
    if not any(exports.values()):
        raise ConfigError(
            "config key 'screening.title_abstract': list the exports of "
            f"{tool} (screening.title_abstract, screening.full_text)"
        )
    for stage in STAGES:
        for path in exports[stage]:
            if not Path(path).is_file():
                raise ConfigError(f"config key 'screening.{stage}': {path}: no such file")
    rows = read_exports(tool, exports["title_abstract"], exports["full_text"])
    if decisions is None:  # nothing else can give a reason or a study id
        for row in rows:
            if row.ft == "exclude" and not row.ft_reason:
                raise _needs_reason(tool, row.path, row.line, None)
            if row.ft == "include" and not row.study_id:
                raise _needs_study(row.path, row.line, None, row.study_hint)
    srma_rows = read_decision_rows(decisions) if decisions is not None else []
    error = _study_error(rows, srma_rows, decisions, study_ids, extraction_dir)
    if error is not None:
        raise error


def _needs_reason(tool: str, path: str, line: int, cid: str | None) -> InputError:
    return InputError(
        path,
        "a full-text exclusion needs a reason (PRISMA reports them): give it in "
        f"{tool} or in srma's decisions file (full_text_exclusion_reason)",
        line=line,
        record=cid,
        field="full_text_exclusion_reason",
    )


def _needs_study(path: str, line: int, cid: str | None, hint: str | None) -> InputError:
    key = f"cluster:{cid}" if cid else "the record"
    return InputError(
        path,
        "an included report needs the study_id of its extraction file "
        f"(resources/extraction/<study_id>.yaml){f' ({hint})' if hint else ''}: label it "
        "study:<study_id> in Rayyan, tag it study:<study_id> or give the study that ID in "
        f"Covidence, or add a row for {key} to srma's decisions file (screening.decisions)",
        line=line,
        record=cid,
        field="study_id",
    )


def _study_error(rows, srma_rows, decisions, study_ids, extraction_dir) -> InputError | None:
    """:func:`srma.screening.study_file_error` for the tool's rows and srma's rows."""
    from srma.screening import study_file_error

    studies = set(study_ids)
    first: dict[str, tuple[str, int, str]] = {}
    for row in rows:
        if row.ft == "include" and row.study_id:
            first.setdefault(row.study_id, (row.path, row.line, row.title or ""))
    for row in srma_rows:
        if row["full_text_decision"] == "include" and row["study_id"]:
            first.setdefault(row["study_id"], (decisions, row["line"], row["record_key"]))
    missing = [(s, where) for s, where in first.items() if s not in studies]
    unnamed = sorted(studies - set(first))
    if missing:
        path = missing[0][1][0]
        listed = [(s, line, key) for s, (_p, line, key) in missing]
        return study_file_error(path, listed, [], extraction_dir)
    where = decisions or "the screening tool's exports"
    return study_file_error(where, [], unnamed, extraction_dir)


# Matching rows to clusters ----------------------------------------------------------------


class Matcher:
    """Finds the cluster of an export row (see the module docstring for the order)."""

    def __init__(self, clusters: pd.DataFrame, records: pd.DataFrame):
        from srma.dedup.normalise import norm_doi, norm_pmid, norm_title

        self.norm_doi, self.norm_pmid, self.norm_title = norm_doi, norm_pmid, norm_title
        self.cluster_of = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
        self.doi: dict[str, set[str]] = {}
        self.pmid: dict[str, set[str]] = {}
        self.accession: dict[str, set[str]] = {}
        self.title: dict[str, set[str]] = {}
        self.years: dict[str, set[int]] = {}
        for rec in records.itertuples(index=False):
            cid = self.cluster_of[rec.record_id]
            for key, table in (
                (norm_doi(getattr(rec, "doi", None)), self.doi),
                (norm_pmid(getattr(rec, "pmid", None)), self.pmid),
                (_text(getattr(rec, "accession", None)).upper() or None, self.accession),
                (self._title_key(getattr(rec, "title", None)), self.title),
            ):
                if key:
                    table.setdefault(key, set()).add(cid)
            year = _int_year(getattr(rec, "year", None))
            if year is not None:
                self.years.setdefault(cid, set()).add(year)

    def _title_key(self, title: object) -> str | None:
        norm = self.norm_title(title)
        return norm.replace(" ", "") if norm else None

    def _ids(self, values: Iterable[str]) -> set[str]:
        return {self.cluster_of[v] for v in values if v in self.cluster_of}

    def _pmids(self, values: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for value in values:
            m = _PMID.fullmatch(value.strip())
            if m:
                found |= self.pmid.get(self.norm_pmid(m.group(1)) or "", set())
            else:
                found |= self.accession.get(value.strip().upper(), set())
        return found

    def _title(self, row: ToolRow) -> set[str]:
        found = set(self.title.get(self._title_key(row.title) or "", ()))
        if len(found) > 1 and row.year is not None:
            same_year = {c for c in found if row.year in self.years.get(c, ())}
            found = same_year or found
        return found

    def match(self, row: ToolRow) -> tuple[set[str], str | None]:
        """``(clusters, how)``: the clusters the row may be (one when it matched) and
        the step that found them (``srma id``, ``srma records note``, ``doi``,
        ``pmid/accession``, ``title``)."""
        steps = (
            ("srma id", lambda: self._ids(row.ids)),
            ("srma records note", lambda: self._ids(row.note_ids)),
            ("doi", lambda: set(self.doi.get(self.norm_doi(row.doi) or "", ()))),
            ("pmid/accession", lambda: self._pmids(row.pmids)),
            ("title", lambda: self._title(row)),
        )
        found: set[str] | None = None
        how = None
        for name, step in steps:
            got = step()
            if not got:
                continue
            if found is None:
                found, how = got, name
            elif found & got:
                found = found & got
            if len(found) == 1:
                break
        return found or set(), how


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int_year(value: object) -> int | None:
    try:
        year = int(value)  # int, numpy integer or float; NA and None raise
    except (TypeError, ValueError):
        return None
    return year if 1000 <= year <= 2999 else None


# Decisions --------------------------------------------------------------------------------

_FIELDS = (
    "title_abstract_decision",
    "title_abstract_reason",
    "full_text_decision",
    "full_text_exclusion_reason",
    "study_id",
)


@dataclass
class _Merged:
    """The decisions gathered for one cluster, with where each came from."""

    values: dict[str, str] = field(default_factory=dict)
    origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    study_hint: str | None = None

    def add(
        self, path: str, line: int, cid: str, values: Mapping[str, str | None], source: str
    ) -> None:
        for name in _FIELDS:
            value = values.get(name)
            if not value:
                continue
            old = self.values.get(name)
            if old is None:
                self.values[name], self.origin[name] = value, (path, line)
            elif name in ("title_abstract_decision", "full_text_decision", "study_id") and (
                old.lower() != value.lower()
            ):
                where = self.origin[name]
                raise InputError(
                    path,
                    f"{name} {value!r} here but {old!r} in {where[0]}, line {where[1]}: the "
                    f"same record (cluster {cid}) decided twice; keep one decision",
                    line=line,
                    record=cid,
                    field=name,
                )
        if source not in self.sources:
            self.sources.append(source)


def _tool_values(row: ToolRow) -> dict[str, str | None]:
    return {
        "title_abstract_decision": row.ta,
        "title_abstract_reason": row.ta_reason,
        "full_text_decision": row.ft,
        "full_text_exclusion_reason": row.ft_reason,
        "study_id": row.study_id,
    }


def _short(title: str | None, width: int = 70) -> str:
    if not title:
        return "(no title)"
    title = " ".join(title.split())
    return title if len(title) <= width else title[: width - 3] + "..."


def _problem(found: set[str]) -> str:
    if not found:
        return "matches no record (no srma id, DOI, PMID, accession or title in common)"
    return f"matches {len(found)} clusters ({', '.join(sorted(found))})"


def problem_table(problems: Sequence[tuple[ToolRow, str]]) -> str:
    """The rows that were not counted, as a text table (file, line, decision,
    problem, title)."""
    head = ("file", "line", "decision", "problem", "title")
    body = [
        (r.path, str(r.line), r.describe(), problem, _short(r.title)) for r, problem in problems
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    lines = []
    for cells in [head, *body]:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + "  " + cells[-1]
        )
    return "\n".join(lines)


def screen_exports(
    unique: pd.DataFrame,
    clusters: pd.DataFrame,
    records: pd.DataFrame,
    *,
    tool: str,
    title_abstract: Sequence[str | os.PathLike] = (),
    full_text: Sequence[str | os.PathLike] = (),
    decisions_path: str | os.PathLike | None = None,
    study_ids: Iterable[str] | None = None,
    extraction_dir: str | os.PathLike = "resources/extraction",
) -> tuple[pd.DataFrame, dict, list[tuple[ToolRow, str]]]:
    """The decisions of a screening tool's exports (and of srma's decisions file, when
    given), attached to the clusters.

    Returns ``(decisions, counts, not_counted)``: the decisions table and PRISMA counts
    of :func:`srma.screening.screen`, and the rows whose decision is not counted (no
    cluster or several; undecided), with the problem. An included row that matches no
    cluster, or several, is an :class:`InputError` listing every such row; the other
    rows not counted are logged as a warning table."""
    from srma.screening import (
        _Index,
        attach_rows,
        decision_table,
        other_rows,
        prisma_counts,
        read_screening,
    )

    rows = read_exports(tool, title_abstract, full_text)
    matcher = Matcher(clusters, records)
    merged: dict[str, _Merged] = {}
    not_counted: list[tuple[ToolRow, str]] = []
    lost: list[tuple[ToolRow, str]] = []
    for row in rows:
        if row.ta is None and row.ft is None and row.undecided is None:
            continue  # not screened in the tool
        found, _how = matcher.match(row)
        if len(found) != 1:
            (lost if row.includes else not_counted).append((row, _problem(found)))
            continue
        cid = next(iter(found))
        if row.undecided:
            not_counted.append((row, f"{row.undecided} (cluster {cid})"))
        source = f"{row.path}:{row.line}"
        merged.setdefault(cid, _Merged()).add(row.path, row.line, cid, _tool_values(row), source)
        if row.study_hint and not merged[cid].study_hint:
            merged[cid].study_hint = row.study_hint
    if lost:
        first = lost[0][0]
        listed = "; ".join(f"{r.path}, line {r.line} ({_short(r.title, 60)}): {p}" for r, p in lost)
        raise InputError(
            first.path,
            f"{len(lost)} included row(s) of the {tool} exports not found among the "
            f"deduplicated records, a study would be lost: {listed}. Import srma's "
            "results/dedup/unique.ris into the tool, or add the record to a search export",
            line=first.line,
            field="title",
        )
    srma_path = os.fspath(decisions_path) if decisions_path is not None else None
    srma_rows: list[dict] = []
    if srma_path is not None:
        frame = read_screening(srma_path)
        srma_rows = frame.to_dict("records")
        for cid, srma_row in attach_rows(frame, _Index(unique, clusters, records)).items():
            merged.setdefault(cid, _Merged()).add(
                srma_path, srma_row["line"], cid, srma_row, srma_row["record_key"]
            )
    by_cluster = {}
    for cid, m in merged.items():
        row = _cluster_row(tool, cid, m)
        if row is not None:
            by_cluster[cid] = row
    decisions = decision_table(unique, by_cluster)
    counts = prisma_counts(records, unique, decisions, other_rows(srma_rows))
    if study_ids is not None:
        error = _study_error(rows, srma_rows, srma_path, study_ids, extraction_dir)
        if error is not None:
            raise error
    if not_counted:
        log.warning(
            "%d row(s) of the %s exports not counted (no decision attached to a record):\n%s",
            len(not_counted),
            tool,
            problem_table(not_counted),
        )
    return decisions, counts, not_counted


def _cluster_row(tool: str, cid: str, m: _Merged) -> dict | None:
    v, origin = m.values, m.origin
    ta, ft = v.get("title_abstract_decision"), v.get("full_text_decision")
    if ta is None and ft is None:
        return None
    if ft and ta is None:
        ta = "include"
    if ta == "exclude" and ft:
        (p1, l1), (p2, l2) = origin["title_abstract_decision"], origin["full_text_decision"]
        raise InputError(
            p2,
            f"cluster {cid} has a full-text decision here but was excluded at "
            f"title/abstract in {p1}, line {l1}",
            line=l2,
            record=cid,
            field="full_text_decision",
        )
    if ft == "exclude" and not v.get("full_text_exclusion_reason"):
        raise _needs_reason(tool, *origin["full_text_decision"], cid)
    if ft == "include" and not v.get("study_id"):
        raise _needs_study(*origin["full_text_decision"], cid, m.study_hint)
    return {
        "record_key": "; ".join(m.sources),
        "title_abstract_decision": ta,
        "title_abstract_reason": v.get("title_abstract_reason"),
        "full_text_decision": ft,
        "full_text_exclusion_reason": v.get("full_text_exclusion_reason") if ft else None,
        "study_id": v.get("study_id") if ft == "include" else None,
    }


def not_counted_records(not_counted: Sequence[tuple[ToolRow, str]]) -> list[dict]:
    """The rows not counted as plain dicts (for a CSV or JSON report)."""
    return [
        {
            "file": r.path,
            "line": r.line,
            "decision": r.describe(),
            "problem": p,
            "title": r.title,
        }
        for r, p in not_counted
    ]
