"""``srma pool``: pool effect sizes from a CSV file, with metafor's numbers.

The CSV holds one row per study, either with effects (``yi``, ``vi`` or ``sei``) or
with arm-level data (``n1i, m1i, sd1i, n2i, m2i, sd2i``; arm 1 = intervention) or
correlations (``ri, ni``), from which ``--measure`` computes the effects. An optional
``study`` (or ``study_id``, ``slab``) column labels the rows.

Examples::

    srma pool effects.csv --method REML --test knha
    srma pool arms.csv --measure SMD --json
"""

from __future__ import annotations

import argparse
import json
import math
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
LABEL_COLUMNS = ("study", "study_id", "slab")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", type=Path, help="CSV with yi,vi (or sei), arm-level data or ri,ni")
    parser.add_argument("--method", default="REML", choices=METHODS, help="tau^2 estimator")
    parser.add_argument("--test", default="z", choices=_TESTS, help="z, t, knha or adhoc")
    parser.add_argument("--level", type=float, default=95, help="confidence level in percent")
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


def _numeric(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    values = []
    for i, raw in enumerate(df[col].tolist()):
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
            raise InputError(path, "missing value", record=i + 1, field=col, line=i + 2)
        try:
            values.append(float(raw))
        except ValueError:
            raise InputError(
                path, f"not a number: {raw!r}", record=i + 1, field=col, line=i + 2
            ) from None
    return np.array(values)


def read_effects(path: Path, measure: str | None) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """Labels, ``yi``, ``vi`` and the measure from a CSV (see the module docstring)."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable CSV file: {err}") from None
    df.columns = [c.strip() for c in df.columns]
    if df.empty:
        raise InputError(path, "no rows")
    label = next((c for c in LABEL_COLUMNS if c in df.columns), None)
    labels = [str(x) for x in df[label]] if label else [str(i + 1) for i in range(len(df))]
    cols = set(df.columns)
    if "yi" in cols and ({"vi", "sei"} & cols):
        yi = _numeric(df, "yi", path)
        vi = _numeric(df, "vi", path) if "vi" in cols else _numeric(df, "sei", path) ** 2
        measure = measure or "GEN"
    elif set(ARM_COLUMNS) <= cols:
        measure = measure or "MD"
        if measure not in ("MD", "SMD"):
            raise InputError(path, f"arm-level data need --measure MD or SMD, not {measure}")
        arms = {c: _numeric(df, c, path) for c in ARM_COLUMNS}
        yi, vi = escalc(measure, **arms)
    elif {"ri", "ni"} <= cols:
        measure = measure or "ZCOR"
        if measure not in ("COR", "ZCOR"):
            raise InputError(path, f"correlations need --measure COR or ZCOR, not {measure}")
        yi, vi = escalc(measure, ri=_numeric(df, "ri", path), ni=_numeric(df, "ni", path))
    else:
        raise InputError(
            path,
            "need columns yi and vi (or sei), or n1i,m1i,sd1i,n2i,m2i,sd2i, or ri,ni; "
            f"found {', '.join(df.columns)}",
        )
    for i, v in enumerate(vi):
        if not (np.isfinite(v) and v > 0):
            raise InputError(
                path, "sampling variance is not positive", record=labels[i], line=i + 2
            )
    return labels, yi, vi, measure


def run(args: argparse.Namespace) -> int:
    labels, yi, vi, measure = read_effects(args.csv, args.measure)
    res = rma(yi, vi, method=args.method, test=args.test, level=args.level, slab=labels)
    extra = {}
    if args.sensitivity and len(yi) >= 3:
        extra["confint"] = confint(res)
        extra["leave1out"] = leave1out(res)
        extra["regtest"] = regtest(res)
        tf = trimfill(res)
        extra["trimfill"] = {
            "k0": tf["k0"],
            "side": tf["side"],
            "estimate": tf["fit"].estimate,
            "ci_lb": tf["fit"].ci_lb,
            "ci_ub": tf["fit"].ci_ub,
        }
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
        print(
            f"Egger's regression test: {'z' if args.test == 'z' else 't'} = {rt['zval']:.4f}, "
            f"p = {rt['pval']:.4f}; limit estimate {rt['est']:.4f}"
        )
        tf = extra["trimfill"]
        print(
            f"Trim-and-fill (L0): {tf['k0']} studies filled on the {tf['side']}; "
            f"estimate {tf['estimate']:.4f} ({tf['ci_lb']:.4f} to {tf['ci_ub']:.4f})"
        )
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
