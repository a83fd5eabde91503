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

Examples::

    srma pool effects.csv --method REML --test knha
    srma pool arms.csv --measure SMD --json
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from srma.bias import regtest, trimfill
from srma.effects import MEASURES, SIGN_CONVENTION, escalc
from srma.errors import InputError
from srma.pooling import TESTS as _TESTS
from srma.pooling import confint, rma
from srma.sensitivity import leave1out
from srma.tau2 import METHODS

ARM_COLUMNS = ("n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", type=Path, help="CSV with yi,vi (or sei), arm-level data or ri,ni")
    parser.add_argument("--method", default="REML", choices=METHODS, help="tau^2 estimator")
    parser.add_argument("--test", default="z", choices=_TESTS, help="z, t, knha or adhoc")
    parser.add_argument("--level", type=_level, default=95, help="confidence level in percent")
    parser.add_argument(
        "--measure",
        default=None,
        choices=MEASURES,
        help="effect measure for arm-level (MD, SMD) or correlation (COR, ZCOR) input",
    )
    parser.add_argument(
        "--sensitivity",
        action="store_true",
        help="also leave-one-out, Egger's test, trim-and-fill and the Q-profile CI of tau^2",
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


def read_effects(path: Path, measure: str | None) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """Labels, ``yi``, ``vi`` and the measure from a CSV, every check of the module
    docstring passed (:class:`srma.errors.InputError` at the first that fails)."""
    table = read_table(path)
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
            "need columns yi and vi (or sei), or n1i,m1i,sd1i,n2i,m2i,sd2i, or ri,ni; "
            f"found {', '.join(h for h in table.header if h)}",
        )
    return table.labels, yi, vi, measure


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


def run(args: argparse.Namespace) -> int:
    # everything is read, checked and computed before the first line is printed
    labels, yi, vi, measure = read_effects(args.csv, args.measure)
    try:
        res = rma(yi, vi, method=args.method, test=args.test, level=args.level, slab=labels)
        extra = {}
        if args.sensitivity and len(yi) >= 3:
            extra["confint"] = confint(res)
            extra["leave1out"] = leave1out(res)
            extra["regtest"] = _optional(regtest, res)
            extra["trimfill"] = _optional(_trimfill, res)
    except ValueError as err:
        raise InputError(args.csv, f"cannot pool: {err}") from None
    if args.json:
        out = res.to_dict()
        out["measure"] = measure
        out["sign_convention"] = SIGN_CONVENTION
        for key, value in extra.items():
            out[key] = value.to_dict(orient="list") if isinstance(value, pd.DataFrame) else value
        print(json.dumps(_clean(out), indent=2, sort_keys=True))
        return 0
    z = stats.norm.isf((1 - args.level / 100) / 2)
    table = pd.DataFrame(
        {
            "study": labels,
            "yi": yi,
            "sei": np.sqrt(vi),
            "ci.lb": yi - z * np.sqrt(vi),
            "ci.ub": yi + z * np.sqrt(vi),
            "weight%": res.weights,
        }
    )
    print(f"Measure: {measure} ({SIGN_CONVENTION})")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print()
    print(res)
    if extra:
        ci = extra["confint"]
        print()
        print(
            f"Q-profile {args.level:g}% CI: tau^2 {ci['tau2_lb']:.4f} to {ci['tau2_ub']:.4f}; "
            f"I^2 {ci['I2_lb']:.2f}% to {ci['I2_ub']:.2f}%; "
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
    return 0


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
