"""Time to draw srma's forest, leave-one-out and funnel plots, against srma's own earlier
figure code (a git revision) measured in the same run.

The peer is the figure code of ``--baseline`` (default: the last revision that drew text
and wrote PNGs with matplotlib's internals, before the figures kept to its public API),
loaded from git into a temporary package. Both draw the same synthetic group into SVG +
300-dpi PNG; the leave-one-out and Egger's test tables are built once, outside the
timing (common-effect refits and Egger's weighted regression, by hand with numpy: the
figure code draws tables, it computes no statistics). Old and new alternate in every
repeat so that both see the same load on a shared machine. Each revision is called
through the API it has (``leave1out_plot`` / ``funnel_plot`` before, ``leave1out_figure``
/ ``funnel_figure`` after).

Prints, for 10, 50, 100 and 150 studies and each plot: the best and median time of the
old and the new code and the ratio old / new of the medians. ``--baseline none`` times
the new code only.

Run from the checkout:  ``.venv/bin/python benchmarks/figures.py [--quick] [--baseline REV]``
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
#: srma's figure code before it kept to matplotlib's public API (its own line-at-a-time
#: text renderer, FreeType calls and PNG encoder).
BASELINE = "b7c6a7868676fb12c3cd2db75d0e06921d23d16d"
MODULES = ("common", "forest", "leave1out", "funnel")
LABELS = {"instrument_label": "SPARCC SIJ", "timepoint_label": "12 weeks"}
ARMS = {"intervention": "Intervention", "comparator": "Control"}
Z975 = 1.959963984540054


def make_group(k: int, seed: int = 7) -> pd.DataFrame:
    """A pooled group table (data-model section 5) of ``k`` synthetic studies."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(k):
        n1, n2 = int(rng.integers(20, 120)), int(rng.integers(20, 120))
        m1, m2 = -rng.uniform(2, 9), -rng.uniform(0, 3)
        sd1, sd2 = rng.uniform(3, 10), rng.uniform(3, 10)
        yi, vi = m1 - m2, sd1**2 / n1 + sd2**2 / n2
        se = math.sqrt(vi)
        rows.append(
            {
                "instrument": "sparcc_sij",
                "timepoint": "12w",
                "row_type": "study",
                "study_id": f"Author{i:03d}{2000 + i % 25}",
                "n1i": n1,
                "m1i": m1,
                "sd1i": sd1,
                "n2i": n2,
                "m2i": m2,
                "sd2i": sd2,
                "yi": yi,
                "vi": vi,
                "sei": se,
                "ci_lb": yi - Z975 * se,
                "ci_ub": yi + Z975 * se,
                "weight": 100 / k,
                "flags": "reported",
                "usable": True,
            }
        )
    if k >= 2:
        rows.append(
            {
                "instrument": "sparcc_sij",
                "timepoint": "12w",
                "row_type": "pooled",
                "estimate": -3.0,
                "ci_lb": -4.0,
                "ci_ub": -2.0,
                "tau2": 1.0,
                "I2": 40.0,
                "QE": float(k),
                "QEp": 0.3,
                "zval": -6.0,
                "pval": 1e-9,
                "pi_lb": -6.0,
                "pi_ub": 0.0,
                "k": k,
                "method": "REML",
                "test": "z",
                "level": 95.0,
                "status": "pooled",
            }
        )
    return pd.DataFrame(rows)


def leave1out_table(group: pd.DataFrame) -> pd.DataFrame:
    """Common-effect leave-one-out refits of the group's studies (inverse-variance means),
    in the columns of the sensitivity stage's leave-one-out table (and ``slab``, which the
    old code read)."""
    studies = group[group["row_type"] == "study"]
    yi, vi = studies["yi"].to_numpy(float), studies["vi"].to_numpy(float)
    w = 1 / vi
    rows = []
    for i, sid in enumerate(studies["study_id"]):
        keep = np.arange(len(yi)) != i
        est = float((w[keep] * yi[keep]).sum() / w[keep].sum())
        se = math.sqrt(1 / w[keep].sum())
        q = float((w[keep] * (yi[keep] - est) ** 2).sum())
        df = int(keep.sum()) - 1
        rows.append(
            {
                "instrument": "sparcc_sij",
                "timepoint": "12w",
                "study_id": sid,
                "slab": sid,
                "k": int(keep.sum()),
                "estimate": est,
                "se": se,
                "ci_lb": est - Z975 * se,
                "ci_ub": est + Z975 * se,
                "Q": q,
                "I2": max(0.0, (q - df) / q) * 100 if q > 0 else 0.0,
                "method": "EE",
                "test": "z",
                "level": 95.0,
                "status": "estimated",
                "reason": None,
            }
        )
    return pd.DataFrame(rows)


def egger_row(group: pd.DataFrame) -> dict:
    """Egger's regression of yi on sei with weights 1/vi (its intercept and slope)."""
    studies = group[group["row_type"] == "study"]
    yi, vi = studies["yi"].to_numpy(float), studies["vi"].to_numpy(float)
    sei = np.sqrt(vi)
    X = np.column_stack([np.ones_like(sei), sei]) / sei[:, None]
    (b0, b1), *_ = np.linalg.lstsq(X, yi / sei, rcond=None)
    return {
        "instrument": "sparcc_sij",
        "timepoint": "12w",
        "k": len(yi),
        "model": "lm",
        "predictor": "sei",
        "method": "EE",
        "test": "z",
        "zval": 1.1,
        "pval": 0.27,
        "dfs": None,
        "est": float(b0),
        "ci_lb": float(b0) - 1.0,
        "ci_ub": float(b0) + 1.0,
        "slope": float(b1),
        "status": "tested",
        "reason": None,
    }


def load_revision(rev: str, into: Path) -> dict:
    """srma's figure modules as of git revision ``rev``, importable side by side with the
    current ones (package ``srma_figures_<rev>``)."""
    name = f"srma_figures_{rev[:12]}"
    pkg = into / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for module in MODULES:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:workflow/srma/figures/{module}.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (pkg / f"{module}.py").write_text(source.replace("srma.figures.", f"{name}."))
    sys.path.insert(0, str(into))
    return {module: importlib.import_module(f"{name}.{module}") for module in MODULES}


def plots(mods: dict, group: pd.DataFrame, out: Path) -> dict:
    """The three drawing calls of one group, as zero-argument functions, through the API
    of the code in ``mods``."""
    studies = group[group["row_type"] == "study"]
    yi, vi = studies["yi"].to_numpy(float), studies["vi"].to_numpy(float)
    table = leave1out_table(group)
    egger = egger_row(group)
    forest, l1o, funnel = mods["forest"], mods["leave1out"], mods["funnel"]
    calls = {
        "forest": lambda: forest.forest_plot(group, out / "f.svg", out / "f.png", **LABELS, **ARMS)
    }
    if hasattr(l1o, "leave1out_figure"):
        calls["leave1out"] = lambda: l1o.leave1out_figure(
            group, table, out / "l.svg", out / "l.png", **LABELS, **ARMS, measure="MD"
        )
    else:
        calls["leave1out"] = lambda: l1o.leave1out_plot(
            table, out / "l.svg", out / "l.png", estimate=-3.0, ci_lb=-4.0, ci_ub=-2.0, **LABELS
        )
    if hasattr(funnel, "funnel_figure"):
        regtest = pd.DataFrame([egger])
        calls["funnel"] = lambda: funnel.funnel_figure(
            group, regtest, None, out / "u.svg", out / "u.png", **LABELS, measure="MD"
        )
    else:
        calls["funnel"] = lambda: funnel.funnel_plot(
            yi, vi, out / "u.svg", out / "u.png", estimate=-3.0, egger=egger, title="SPARCC SIJ"
        )
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--baseline", default=BASELINE, help="git revision of the old code, or 'none'"
    )
    parser.add_argument("--studies", type=int, nargs="*", default=[10, 50, 100, 150])
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    compare = args.baseline.lower() != "none"

    new = {m: importlib.import_module(f"srma.figures.{m}") for m in MODULES}
    if compare:
        print(f"old: srma figures at {args.baseline[:12]}; new: this checkout")
        print(
            f"{'studies':>7} {'plot':<10} {'old best':>9} {'old med':>8} "
            f"{'new best':>9} {'new med':>8} {'old/new':>8}"
        )
    else:
        print(f"{'studies':>7} {'plot':<10} {'new best':>9} {'new med':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = load_revision(args.baseline, tmp / "pkg") if compare else None
        for k in args.studies:
            group = make_group(k)
            new_calls = plots(new, group, tmp)
            old_calls = plots(old, group, tmp) if compare else {}
            for plot in ("forest", "leave1out", "funnel"):
                runs = [(new_calls[plot], [])]
                if compare:
                    runs.insert(0, (old_calls[plot], []))
                for fn, _ in runs:
                    fn()  # warm-up (imports, font cache)
                for _ in range(repeats):
                    for fn, times in runs:
                        t0 = time.perf_counter()
                        fn()
                        times.append(time.perf_counter() - t0)
                t_new = runs[-1][1]
                m_new = statistics.median(t_new)
                if not compare:
                    print(f"{k:>7} {plot:<10} {min(t_new):>9.3f} {m_new:>8.3f}", flush=True)
                    continue
                t_old = runs[0][1]
                m_old = statistics.median(t_old)
                print(
                    f"{k:>7} {plot:<10} {min(t_old):>9.3f} {m_old:>8.3f} "
                    f"{min(t_new):>9.3f} {m_new:>8.3f} {m_old / m_new:>8.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
