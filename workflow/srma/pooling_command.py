"""``srma pool``: pool effect sizes from a CSV file, with metafor's numbers.

The CSV holds one row per study, either with effects (``yi``, ``vi`` or ``sei``) or
with arm-level data (``n1i, m1i, sd1i, n2i, m2i, sd2i``; arm 1 = intervention) or
correlations (``ri, ni``), from which ``--measure`` computes the effects. An optional
``study`` (or ``study_id``, ``slab``) column labels the rows.

The file is checked completely before anything is computed or printed; the first
problem stops the run with one line naming the file, the line and study, and the
column (:class:`srma.errors.InputError`; ``srma`` prints it and exits 1):

- the file: missing, not UTF-8, empty, only a header, a line with more or fewer
  fields than the header, a duplicated column name, a column with values but no name,
  a named column missing (``yi`` without ``vi``/``sei``, an incomplete set of arm or
  correlation columns); blank lines (and lines of empty fields) hold no study and are
  skipped, and line numbers count them;
- every cell used: a decimal number (no ``NA``, ``nan``, ``inf``, empty cell or text),
  whose square is a finite double (``|x| <= 1.3e154``);
- ranges: ``vi > 0``, ``sei > 0`` (and their squares not below the smallest normal
  double, so that ``1/vi`` is finite); ``sd1i, sd2i >= 0``; ``n1i, n2i, ni`` whole
  numbers ``>= 1``; ``-1 < ri < 1``; ``ni >= 4`` for ZCOR (``vi = 1/(ni - 3)``) and
  ``>= 2`` for COR; ``n1i + n2i >= 4`` for SMD (Hedges' correction is 0 at 1 df);
- consistency: ``vi`` and ``sei`` both given must agree (``sqrt(vi)`` within 1 % of
  ``sei``); the computed effect and variance of arm-level data must be finite with
  ``vi > 0`` (not both SDs 0); study labels must be present and unique;
- the data set as a whole: values too large to pool (:func:`srma.pooling.rma_batch`).

Binary outcomes: 2x2 counts in columns ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``
(metafor's names; arm 1 = intervention) with ``--measure OR|RR|RD`` (default OR).
Counts are whole numbers ``>= 0`` with ``ai <= n1i``, ``ci <= n2i`` and ``n1i, n2i >=
1`` (both ``bi`` and ``n1i`` given: ``n1i = ai + bi``). ``--method`` takes every tau^2
estimator (inverse-variance models of metafor's ``escalc`` outcomes: 1/2 added to each
cell of a study with a zero cell, double-zero studies kept) and ``MH`` (Mantel-Haenszel,
OR/RR/RD) and ``PETO`` (OR); the studies with a zero cell, and double-zero studies, are
named in the output (:mod:`srma.binary`).

Meta-regression: ``--mods COL[,COL...]`` (numeric columns; text columns and
``factor(COL)`` are categorical, treatment-coded with the alphabetically first level as
reference; no empty cell) fits the mixed-effects model (:func:`srma.regression.rma_reg`).
Subgroups: ``--subgroup COL`` (no empty cell) pools each subgroup separately and tests
the differences (:func:`srma.sensitivity.subgroup`). ``--pi t-k2`` gives the
prediction interval on t with k - 2 df (Higgins et al. 2009; RevMan 5).

``--json`` prints metafor's names: for one model its fields (``estimate, se, zval,
pval, ci_lb, ci_ub, tau2, se_tau2, I2, H2, QE, QEp, pi_lb, pi_ub, ll``, ...); for
meta-regression ``names, b, se, zval`` (and ``tval`` under t tests), ``pval, ci_lb,
ci_ub`` (lists, intercept first), ``QM, QMp, QMdf, QE, QEp, tau2, se_tau2, I2, H2, R2``;
for subgroups the overall model plus ``subgroups`` (level -> the model's keys) and
``Qb, Qb_df, Qb_pval``; Mantel-Haenszel and Peto fits add ``k_yi, MH, MHp, CO, COp,
BD, BDp, TA, TAp`` and ``exp`` (the ratio scale).

Examples::

    srma pool effects.csv --method REML --test knha
    srma pool arms.csv --measure SMD --json
    srma pool counts.csv --measure RR --method MH
    srma pool effects.csv --mods ablat,alloc --test knha --json
    srma pool effects.csv --subgroup alloc --pi t-k2
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from srma.bias import ranktest, regtest, trimfill
from srma.binary import rma_mh, rma_peto
from srma.effects import MEASURES, SIGN_CONVENTION, escalc, zero_cells
from srma.errors import InputError
from srma.pooling import PI_TYPES, confint, rma
from srma.pooling import TESTS as _TESTS
from srma.regression import rma_reg
from srma.sensitivity import leave1out, subgroup
from srma.tau2 import CANONICAL, METHODS

ARM_COLUMNS = ("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")
COUNT_COLUMNS = ("ai", "bi", "ci", "di")
BINARY = ("OR", "RR", "RD")
#: --method: the tau^2 estimators and the models of 2x2 counts
METHOD_CHOICES = (*METHODS, "MH", "PETO")
FACTOR = re.compile(r"factor\((.+)\)")
COR_COLUMNS = ("ri", "ni")
LABEL_COLUMNS = ("study", "study_id", "slab")
#: a decimal number as written in a CSV (no NA, nan, inf, hex or digit separators)
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: largest magnitude whose square is a finite double
MAX_ABS = math.sqrt(sys.float_info.max)
#: sei and sqrt(vi) given together must agree to this relative difference
SEI_RTOL = 0.01


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"must be in (0, 100), got {text}")
    return value


def _method(text: str) -> str:
    name = {"MH": "MH", "PETO": "PETO"}.get(text.upper()) or CANONICAL.get(text.upper())
    if name is None:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(METHOD_CHOICES)})"
        )
    return name


def _mods(text: str) -> list[str]:
    cols = [c.strip() for c in text.split(",")]
    if not cols or any(not c for c in cols):
        raise argparse.ArgumentTypeError(f"expected COL[,COL...], got {text!r}")
    return cols


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "csv", type=Path, help="CSV with yi,vi (or sei), arm-level data, ri,ni or 2x2 counts"
    )
    parser.add_argument(
        "--method",
        default="REML",
        type=_method,
        metavar="{" + ",".join(METHOD_CHOICES) + "}",
        help="tau^2 estimator, or MH (Mantel-Haenszel) / PETO for 2x2 counts",
    )
    parser.add_argument(
        "--test",
        default="z",
        choices=_TESTS,
        help="z, t, knha (Hartung-Knapp-Sidik-Jonkman) or adhoc (Knapp-Hartung, ad hoc correction)",
    )
    parser.add_argument("--level", type=_level, default=95, help="confidence level in percent")
    parser.add_argument(
        "--measure",
        default=None,
        choices=MEASURES,
        help="effect measure for arm-level (MD, SMD), correlation (COR, ZCOR) or 2x2 count "
        "(OR, RR, RD) input",
    )
    parser.add_argument(
        "--mods",
        type=_mods,
        default=None,
        metavar="COL[,COL...]",
        help="meta-regression on these study-level columns (text or factor(COL): categorical)",
    )
    parser.add_argument(
        "--subgroup", default=None, metavar="COL", help="pool each subgroup of COL separately"
    )
    parser.add_argument(
        "--pi",
        default="default",
        choices=PI_TYPES,
        help="prediction interval: metafor's default, or t on k - 2 df (Higgins 2009)",
    )
    parser.add_argument(
        "--sensitivity",
        action="store_true",
        help="also leave-one-out, Egger's and Begg's tests, trim-and-fill and the Q-profile "
        "CI of tau^2",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON (metafor names)")


class Table:
    """The CSV's header and rows, each row with its line number in the file."""

    def __init__(self, path: Path, header: list[str], rows: list[tuple[int, list[str]]]):
        self.path = path
        self.header = header
        self.rows = rows
        self.index = {name: j for j, name in enumerate(header) if name}
        self.label_column = next((c for c in LABEL_COLUMNS if c in self.index), None)
        self.labels = self._labels()

    def _labels(self) -> list[str]:
        if self.label_column is None:
            return [str(i + 1) for i in range(len(self.rows))]
        labels, seen = [], {}
        for line, cells in self.rows:
            label = cells[self.index[self.label_column]].strip()
            if not label:
                raise InputError(
                    self.path, "missing study label", field=self.label_column, line=line
                )
            if label in seen:
                raise InputError(
                    self.path,
                    f"study label {label!r} is used again (first on line {seen[label]}); "
                    "labels must be unique",
                    record=label,
                    field=self.label_column,
                    line=line,
                )
            seen[label] = line
            labels.append(label)
        return labels

    def error(self, i: int, column: str, message: str) -> InputError:
        """An error at row ``i`` (0-based) in ``column``: file, line, study, column."""
        return InputError(
            self.path, message, record=self.labels[i], field=column, line=self.rows[i][0]
        )

    def cell(self, i: int, column: str) -> str:
        """The text of row ``i``'s cell in ``column``."""
        return self.rows[i][1][self.index[column]].strip()

    def numbers(self, column: str) -> np.ndarray:
        """The column's cells as finite doubles whose squares are finite."""
        j = self.index[column]
        values = np.empty(len(self.rows))
        for i, (_, cells) in enumerate(self.rows):
            raw = cells[j].strip()
            if not raw:
                raise self.error(i, column, "missing value (empty cell)")
            if not NUMBER.fullmatch(raw):
                raise self.error(i, column, f"not a finite number: {raw!r}")
            value = float(raw)
            if not abs(value) <= MAX_ABS:
                raise self.error(
                    i, column, f"value too large: {raw} (its square overflows; |x| <= 1.3e154)"
                )
            values[i] = value
        return values


def read_table(path: Path) -> Table:
    """The CSV's header and rows, checked for shape (see the module docstring)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a CSV file") from None
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise InputError(path, f"cannot be read: {err.strerror}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            first, last = last + 1, reader.line_num
            if cells and any(c.strip() for c in cells):
                records.append((first, cells))
    except csv.Error as err:
        raise InputError(path, f"not a readable CSV file: {err}", line=reader.line_num) from None
    if not records:
        raise InputError(path, "empty file: expected a header line and one row per study")
    head_line, header = records[0]
    header = [c.strip() for c in header]
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen and name:
            raise InputError(
                path,
                f"column {name!r} appears twice in the header (columns {seen[name] + 1} and "
                f"{j + 1})",
                field=name,
                line=head_line,
            )
        seen[name] = j
    rows = records[1:]
    if not rows:
        raise InputError(path, "no rows: the file has a header but no studies")
    for line, cells in rows:
        if len(cells) != len(header):
            raise InputError(
                path, f"{len(cells)} fields, but the header has {len(header)}", line=line
            )
    for j, name in enumerate(header):
        if not name:
            used = next((line for line, cells in rows if cells[j].strip()), None)
            if used is not None:
                raise InputError(
                    path, f"column {j + 1} has values but no name in the header", line=used
                )
    return Table(path, header, rows)


def _missing_columns(path: Path, table: Table, needed, what: str) -> None:
    missing = [c for c in needed if c not in table.index]
    if missing:
        raise InputError(
            path,
            f"{what} need the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"found {', '.join(h for h in table.header if h)}",
            field=missing[0],
        )


def _check(table: Table, column: str, values: np.ndarray, ok: np.ndarray, rule: str) -> None:
    """InputError at the first row where ``ok`` is False, quoting the cell as written."""
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = int(bad[0])
        raise table.error(i, column, f"{column} = {table.cell(i, column)}: {rule}")


def _whole(table: Table, column: str, least: int, why: str = "") -> np.ndarray:
    n = table.numbers(column)
    _check(table, column, n, n == np.floor(n), "must be a whole number")
    _check(table, column, n, n >= least, f"must be >= {least}{why}")
    return n


def _positive_variance(table: Table, column: str, values: np.ndarray, squared: bool) -> None:
    _check(table, column, values, values > 0, "must be positive")
    v = values * values if squared else values
    _check(
        table,
        column,
        values,
        v >= sys.float_info.min,
        "too small: the sampling variance would be below the smallest normal double",
    )


@dataclass
class Data:
    """A checked CSV: its table, effects ``yi, vi``, the measure and, for binary
    outcomes, the 2x2 counts (``ai, bi, ci, di``)."""

    table: Table
    yi: np.ndarray
    vi: np.ndarray
    measure: str
    counts: dict[str, np.ndarray] | None = None

    @property
    def labels(self) -> list[str]:
        return self.table.labels

    def zero_cells(self) -> tuple[list[str], list[str]]:
        """Labels of the studies with a zero cell and of the double-zero studies."""
        if self.counts is None:
            return [], []
        id0, id00 = zero_cells(*(self.counts[c] for c in COUNT_COLUMNS))
        labels = self.table.labels
        return [labels[i] for i in np.flatnonzero(id0)], [labels[i] for i in np.flatnonzero(id00)]


def read_input(path: Path, measure: str | None) -> Data:
    """The CSV read and checked (module docstring): effects, arm-level data,
    correlations or 2x2 counts (:class:`srma.errors.InputError` at the first problem)."""
    table = read_table(path)
    cols = table.index
    if "yi" not in cols and (measure in BINARY or any(c in cols for c in COUNT_COLUMNS)):
        return _read_counts(path, table, measure)
    yi, vi, measure = _read_effects(path, table, measure)
    return Data(table, yi, vi, measure)


def read_effects(path: Path, measure: str | None) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """Labels, ``yi``, ``vi`` and the measure from a CSV, every check of the module
    docstring passed (:class:`srma.errors.InputError` at the first that fails)."""
    data = read_input(path, measure)
    return data.labels, data.yi, data.vi, data.measure


def _read_counts(path: Path, table: Table, measure: str | None) -> Data:
    """2x2 counts: whole numbers >= 0, events within the arm, both arms with
    participants; the effects by metafor's escalc defaults."""
    measure = measure or "OR"
    if measure not in BINARY:
        raise InputError(path, f"2x2 counts need --measure OR, RR or RD, not {measure}")
    cols = table.index
    found = ", ".join(h for h in table.header if h)
    what = f"2x2 counts ({measure})"
    if "bi" in cols or "di" in cols:
        _missing_columns(path, table, COUNT_COLUMNS, what)
    elif "n1i" in cols or "n2i" in cols:
        _missing_columns(path, table, ("ai", "n1i", "ci", "n2i"), what)
    else:
        raise InputError(
            path,
            f"{what} need the columns ai, bi, ci, di (or ai, n1i, ci, n2i); found {found}",
            field="bi",
        )
    counts = {c: _whole(table, c, 0) for c in ("ai", "ci")}
    for arm, (a, b, n) in enumerate((("ai", "bi", "n1i"), ("ci", "di", "n2i")), start=1):
        if b in cols:
            counts[b] = _whole(table, b, 0)
            size = counts[a] + counts[b]
            if n in cols:
                given = _whole(table, n, 1)
                bad = np.flatnonzero(given != size)
                if bad.size:
                    i = int(bad[0])
                    raise table.error(
                        i, n, f"{n} = {table.cell(i, n)} but {a} + {b} = {size[i]:.0f}"
                    )
            _check(table, b, counts[b], size >= 1,
                   f"arm {arm} has no participants ({a} + {b} = 0)")  # fmt: skip
        else:
            size = _whole(table, n, 1)
            bad = np.flatnonzero(counts[a] > size)
            if bad.size:
                i = int(bad[0])
                raise table.error(
                    i,
                    a,
                    f"{a} = {table.cell(i, a)} exceeds {n} = {table.cell(i, n)}: more events "
                    "than participants",
                )
            counts[b] = size - counts[a]
    yi, vi = escalc(measure, **counts)
    counts = {c: counts[c] for c in COUNT_COLUMNS}
    return Data(table, yi, vi, measure, counts)


def _read_effects(path: Path, table: Table, measure: str | None) -> tuple:
    cols = table.index
    if "yi" in cols:
        if not ({"vi", "sei"} & cols.keys()):
            raise InputError(
                path,
                "the effects (yi) need their sampling variances (a column vi) or standard "
                f"errors (a column sei); found {', '.join(h for h in table.header if h)}",
                field="vi",
            )
        yi = table.numbers("yi")
        vi = None
        if "vi" in cols:
            vi = table.numbers("vi")
            _positive_variance(table, "vi", vi, squared=False)
        if "sei" in cols:
            sei = table.numbers("sei")
            _positive_variance(table, "sei", sei, squared=True)
            if vi is None:
                vi = sei * sei
            else:
                agree = np.abs(np.sqrt(vi) - sei) <= SEI_RTOL * sei
                bad = np.flatnonzero(~agree)
                if bad.size:
                    i = int(bad[0])
                    raise table.error(
                        i,
                        "sei",
                        f"sei = {sei[i]:.6g} disagrees with vi = {vi[i]:.6g} "
                        f"(sqrt(vi) = {math.sqrt(vi[i]):.6g}); give one of them, or "
                        "consistent values",
                    )
        measure = measure or "GEN"
    elif measure in ("MD", "SMD") or any(c in cols for c in ARM_COLUMNS):
        measure = measure or "MD"
        if measure not in ("MD", "SMD"):
            raise InputError(path, f"arm-level data need --measure MD or SMD, not {measure}")
        _missing_columns(path, table, ARM_COLUMNS, f"arm-level data ({measure})")
        arms = {}
        for c in ARM_COLUMNS:
            if c.startswith("n"):
                arms[c] = _whole(table, c, 1)
            else:
                arms[c] = table.numbers(c)
                if c.startswith("sd"):
                    _check(
                        table, c, arms[c], arms[c] >= 0, "a standard deviation cannot be negative"
                    )
        if measure == "SMD":
            total = arms["n1i"] + arms["n2i"]
            _check(
                table,
                "n2i",
                arms["n2i"],
                total >= 4,
                "SMD needs n1i + n2i >= 4 (Hedges' correction is 0 at n1i + n2i - 2 = 1 df)",
            )
        yi, vi = escalc(measure, **arms)
        bad = np.flatnonzero(~(np.isfinite(yi) & np.isfinite(vi) & (vi >= sys.float_info.min)))
        if bad.size:
            i = int(bad[0])
            raise table.error(
                i,
                "sd1i",
                f"the {measure} and its sampling variance cannot be computed (yi = {yi[i]:.6g}, "
                f"vi = {vi[i]:.6g}): sd1i and sd2i are both 0 or the values are extreme",
            )
        bad = np.flatnonzero(~(np.abs(yi) <= MAX_ABS))
        if bad.size:
            raise table.error(int(bad[0]), "m1i", f"the effect {yi[bad[0]]:.6g} is too large")
    elif measure in ("COR", "ZCOR") or any(c in cols for c in COR_COLUMNS):
        measure = measure or "ZCOR"
        if measure not in ("COR", "ZCOR"):
            raise InputError(path, f"correlations need --measure COR or ZCOR, not {measure}")
        _missing_columns(path, table, COR_COLUMNS, f"correlations ({measure})")
        ri = table.numbers("ri")
        _check(
            table,
            "ri",
            ri,
            (ri > -1) & (ri < 1),
            "must lie strictly between -1 and 1 (at +-1 the sampling variance is 0)",
        )
        least = 4 if measure == "ZCOR" else 2
        why = " (vi = 1/(ni - 3))" if measure == "ZCOR" else " (vi = (1 - ri^2)^2/(ni - 1))"
        ni = _whole(table, "ni", least, why)
        yi, vi = escalc(measure, ri=ri, ni=ni)
    else:
        raise InputError(
            path,
            "need columns yi and vi (or sei), or n1i,m1i,sd1i,n2i,m2i,sd2i, or ri,ni, or "
            f"ai,bi,ci,di; found {', '.join(h for h in table.header if h)}",
        )
    return yi, vi, measure


def read_moderators(table: Table, specs: list[str]) -> tuple[dict, dict]:
    """``--mods`` columns as ``({name: values}, {name: levels})`` for
    :func:`srma.regression.design_matrix`: numeric columns as numbers, text columns and
    ``factor(COL)`` as categories (levels in alphabetical, for numbers numeric, order).
    Every cell must hold a value; a column mixing numbers and text, or a categorical
    moderator with one level, is an error."""
    mods, levels, seen = {}, {}, set()
    path = table.path
    for spec in specs:
        m = FACTOR.fullmatch(spec)
        col = m.group(1).strip() if m else spec
        if col in seen:
            raise InputError(path, f"--mods names the column {col!r} twice", field=col)
        seen.add(col)
        if col not in table.index:
            raise InputError(
                path,
                f"--mods: no column {col!r}; found {', '.join(h for h in table.header if h)}",
                field=col,
            )
        cells = [table.cell(i, col) for i in range(len(table.rows))]
        for i, c in enumerate(cells):
            if not c:
                raise table.error(
                    i, col, "missing value (empty cell): every study needs its moderators"
                )
        numeric = [NUMBER.fullmatch(c) is not None for c in cells]
        name = f"factor({col})" if m else col
        if m:
            values = cells
            order = sorted(set(cells), key=float) if all(numeric) else sorted(set(cells))
            levels[name] = order
        elif all(numeric):
            values = table.numbers(col)
        elif not any(numeric):
            values = cells
            order = sorted(set(cells))
        else:
            most = sum(numeric) * 2 >= len(cells)
            i = next(j for j, ok in enumerate(numeric) if ok != most)
            raise table.error(
                i,
                col,
                f"{cells[i]!r}: the column mixes numbers and text; a numeric moderator needs "
                f"a number in every cell, a categorical one text (or write factor({col}))",
            )
        if (m or not all(numeric)) and len(order) < 2:
            raise InputError(
                path,
                f"moderator {col!r} has the same value ({order[0]!r}) for every study: "
                "nothing to compare",
                field=col,
            )
        mods[name] = values
    return mods, levels


def read_groups(table: Table, col: str) -> list[str]:
    """The ``--subgroup`` column's labels (text; every cell must hold one, and there
    must be two subgroups at least)."""
    if col not in table.index:
        raise InputError(
            table.path,
            f"--subgroup: no column {col!r}; found {', '.join(h for h in table.header if h)}",
            field=col,
        )
    groups = [table.cell(i, col) for i in range(len(table.rows))]
    for i, g in enumerate(groups):
        if not g:
            raise table.error(i, col, "missing value (empty cell): every study needs a subgroup")
    if len(set(groups)) < 2:
        raise InputError(
            table.path,
            f"--subgroup: every study has {col} = {groups[0]!r}: no subgroups to compare",
            field=col,
        )
    return groups


def _optional(fn, *args):
    """``fn(*args)``, or ``{"available": False, "reason": ...}`` when the data do not
    allow it (e.g. Egger's test with equal standard errors)."""
    try:
        return fn(*args)
    except ValueError as err:
        return {"available": False, "reason": str(err)}


def _trimfill(res) -> dict:
    tf = trimfill(res)
    return {
        "k0": tf["k0"],
        "side": tf["side"],
        "estimate": tf["fit"].estimate,
        "ci_lb": tf["fit"].ci_lb,
        "ci_ub": tf["fit"].ci_ub,
    }


def _check_options(args: argparse.Namespace, data: Data) -> None:
    """Combinations of options the data and models allow (InputError otherwise)."""
    path, method = args.csv, args.method
    if method in ("MH", "PETO"):
        if data.counts is None:
            raise InputError(
                path,
                f"--method {method} needs 2x2 counts: columns ai, bi, ci, di (or ai, n1i, ci, n2i)",
            )
        if method == "PETO" and data.measure != "OR":
            raise InputError(
                path, f"--method PETO gives odds ratios: use --measure OR, not {data.measure}"
            )
        if args.test != "z":
            raise InputError(
                path,
                f"--method {method} is tested with Wald z (metafor's rma.mh/rma.peto): --test z",
            )
        if args.mods:
            raise InputError(path, f"--mods needs an inverse-variance model, not --method {method}")
        if args.pi != "default":
            raise InputError(path, f"--pi: a {method} model has no prediction interval (tau^2 = 0)")
    if args.mods and args.subgroup:
        raise InputError(path, "give --mods or --subgroup, not both")
    if args.mods and args.pi != "default":
        raise InputError(path, "--pi applies to models without moderators")
    if args.mods and args.sensitivity:
        raise InputError(path, "--sensitivity applies to models without moderators")


def _not_available(reason: str) -> dict:
    return {"available": False, "reason": reason}


def _sensitivity(res) -> dict:
    extra = {"leave1out": leave1out(res), "ranktest": _optional(ranktest, res)}
    if res.method in ("MH", "PETO"):
        why = f"for inverse-variance models, not --method {res.method}"
        extra["confint"] = _not_available(f"the Q-profile interval of tau^2 is {why}")
        extra["regtest"] = _not_available(f"Egger's test is {why}")
        extra["trimfill"] = _not_available(f"trim-and-fill is {why}")
    else:
        extra["confint"] = confint(res)
        extra["regtest"] = _optional(regtest, res)
        extra["trimfill"] = _optional(_trimfill, res)
    return extra


def _subgroups(args, res, groups, labels) -> tuple[pd.DataFrame, dict]:
    if args.test != "z":
        counts = pd.Series(groups).value_counts()
        single = sorted(counts[counts < 2].index)
        if single:
            raise InputError(
                args.csv,
                f"--subgroup: subgroup {single[0]!r} has one study; --test {args.test} needs at "
                "least 2 per subgroup (t on k - 1 df)",
                field=args.subgroup,
            )
    return subgroup(res, groups)


SUBGROUP_KEYS = {"Q": "QE", "Qp": "QEp"}


def run(args: argparse.Namespace) -> int:
    # everything is read, checked and computed before the first line is printed
    data = read_input(args.csv, args.measure)
    _check_options(args, data)
    labels, yi, vi = data.labels, data.yi, data.vi
    mods = read_moderators(data.table, args.mods) if args.mods else None
    groups = read_groups(data.table, args.subgroup) if args.subgroup else None
    extra: dict = {}
    sub = None
    try:
        if mods is not None:
            res = rma_reg(yi, vi, mods[0], levels=mods[1], method=args.method, test=args.test,
                          level=args.level, slab=labels)  # fmt: skip
        elif args.method in ("MH", "PETO"):
            c = data.counts
            if args.method == "MH":
                res = rma_mh(**c, measure=data.measure, level=args.level, slab=labels)
            else:
                res = rma_peto(**c, level=args.level, slab=labels)
        else:
            res = rma(yi, vi, method=args.method, test=args.test, level=args.level, slab=labels,
                      pi_type=args.pi)  # fmt: skip
        if groups is not None:
            sub = _subgroups(args, res, groups, labels)
        if args.sensitivity and res.k >= 3:
            extra = _sensitivity(res)
    except ValueError as err:
        what = "fit the meta-regression" if mods is not None else "pool"
        raise InputError(args.csv, f"cannot {what}: {err}") from None
    zero, double = data.zero_cells()
    if args.json:
        out = res.to_dict()
        out["measure"] = data.measure
        out["sign_convention"] = SIGN_CONVENTION
        if data.counts is not None:
            out["zero_cells"] = {"studies": zero, "double_zero": double, "add": 0.5,
                                 "to": "only0"}  # fmt: skip
        if mods is not None:
            out["mods"] = args.mods
        if sub is not None:
            table, test = sub
            out["subgroup"] = args.subgroup
            out["subgroups"] = {
                row["group"]: {SUBGROUP_KEYS.get(k, k): v for k, v in row.items() if k != "group"}
                for row in table.to_dict("records")
            }
            out.update({k: test[k] for k in ("Qb", "Qb_df", "Qb_pval")})
        for key, value in extra.items():
            out[key] = value.to_dict(orient="list") if isinstance(value, pd.DataFrame) else value
        print(json.dumps(_clean(out), indent=2, sort_keys=True))
        return 0
    _print_text(args, data, res, sub, extra, zero, double)
    return 0


def _print_text(args, data, res, sub, extra, zero, double) -> None:
    labels, yi, vi = data.labels, data.yi, data.vi
    if data.counts is not None and args.method in ("MH", "PETO"):
        yi, vi = res.yi, res.vi  # the per-study outcomes of the model (drop00)
    z = stats.norm.isf((1 - args.level / 100) / 2)
    cols = {"study": labels}
    if data.counts is not None:
        c = data.counts
        cols |= {"ai": c["ai"], "n1i": c["ai"] + c["bi"], "ci": c["ci"], "n2i": c["ci"] + c["di"]}
    cols |= {
        "yi": yi,
        "sei": np.sqrt(vi),
        "ci.lb": yi - z * np.sqrt(vi),
        "ci.ub": yi + z * np.sqrt(vi),
    }
    if hasattr(res, "weights"):
        cols["weight%"] = res.weights
    table = pd.DataFrame(cols)
    fmt = {c: (lambda x: f"{x:.0f}") for c in ("ai", "n1i", "ci", "n2i")}
    print(f"Measure: {data.measure} ({SIGN_CONVENTION})")
    print(table.to_string(index=False, formatters=fmt, float_format=lambda x: f"{x:.4f}"))
    if zero:
        print(
            f"Zero cells: 1/2 added to every cell of {', '.join(zero)} for their study-level "
            'outcomes (metafor\'s escalc: add = 1/2, to = "only0")'
        )
    if double:
        where = (
            "kept (metafor's default drop00 = FALSE)"
            if args.method not in ("MH", "PETO")
            else f"without a study-level outcome (drop00 = TRUE), kept in the {args.method} sums"
        )
        print(f"Double-zero studies: {', '.join(double)}, {where}")
    print()
    print(res)
    if sub is not None:
        table, test = sub
        show = table.drop(columns=["zval"]).rename(columns={"ci_lb": "ci.lb", "ci_ub": "ci.ub"})
        if args.method in ("MH", "PETO"):
            show = show.drop(columns=["tau2", "pi_lb", "pi_ub"])
        print(f"\nSubgroups ({args.subgroup}), each pooled separately:")
        print(show.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print(
            f"Test for subgroup differences: Q(df = {test['Qb_df']}) = {test['Qb']:.4f}, "
            f"p-val {_fmt_p(test['Qb_pval'])}"
        )
    if extra:
        ci = extra["confint"]
        print()
        if ci.get("available", True):
            print(
                f"Q-profile {args.level:g}% CI: tau^2 {ci['tau2_lb']:.4f} to "
                f"{ci['tau2_ub']:.4f}; I^2 {ci['I2_lb']:.2f}% to {ci['I2_ub']:.2f}%; "
                f"H^2 {ci['H2_lb']:.2f} to {ci['H2_ub']:.2f}"
            )
        rt = extra["regtest"]
        if rt.get("available", True):
            print(
                f"Egger's regression test: {'z' if args.test == 'z' else 't'} = "
                f"{rt['zval']:.4f}, p = {rt['pval']:.4f}; limit estimate {rt['est']:.4f}"
            )
        else:
            print(f"Egger's regression test: not available ({rt['reason']})")
        rk = extra["ranktest"]
        if rk.get("available", True):
            print(
                f"Begg's rank correlation test: Kendall's tau = {rk['tau']:.4f}, "
                f"p = {rk['pval']:.4f}"
            )
        else:
            print(f"Begg's rank correlation test: not available ({rk['reason']})")
        tf = extra["trimfill"]
        if tf.get("available", True):
            print(
                f"Trim-and-fill (L0): {tf['k0']} studies filled on the {tf['side']}; "
                f"estimate {tf['estimate']:.4f} ({tf['ci_lb']:.4f} to {tf['ci_ub']:.4f})"
            )
        else:
            print(f"Trim-and-fill: not available ({tf['reason']})")
        print("\nLeave-one-out:")
        print(
            extra["leave1out"]
            .drop(columns=["k"])
            .to_string(index=False, float_format=lambda x: f"{x:.4f}")
        )


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "NA"
    return "< .0001" if p < 1e-4 else f"= {p:.4f}"


def _clean(obj):
    """JSON-safe: NaN -> null, numpy scalars -> Python numbers."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
