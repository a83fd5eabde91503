"""Time to draw srma's forest, leave-one-out and funnel plots, against srma's own earlier
figure code (a git revision) measured in the same run.

The peer is the figure code of ``--baseline`` (default: the revision before the figures
were made faster for large groups), loaded from git into a temporary package. Both draw
the same synthetic group into SVG + 300-dpi PNG; the model fits (leave-one-out refits,
Egger's test) are computed once, outside the timing. Old and new alternate in every
repeat so that both see the same load on a shared machine.

Prints, for 10, 50, 100 and 150 studies and each plot: the best and median time of the
old and the new code and the ratio old / new of the medians.

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
#: srma's figure code before it was made faster for groups of 100+ studies.
BASELINE = "a05af370e5c37d5b38bd092a2ec58f95c9e4f546"
MODULES = ("common", "forest", "leave1out", "funnel")


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
                "ci_lb": yi - 1.96 * se,
                "ci_ub": yi + 1.96 * se,
                "weight": 100 / k,
                "flags": "reported",
                "usable": True,
            }
        )
    if k >= 2:
        rows.append(
            {
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
            }
        )
    return pd.DataFrame(rows)


def load_revision(rev: str, into: Path) -> dict:
    """srma's figure modules as of git revision ``rev``, importable side by side with the
    current ones (package ``_srma_figures_<rev>``)."""
    name = f"_srma_figures_{rev[:12]}"
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
    """The three drawing calls of one group, as zero-argument functions."""
    from srma.bias import regtest
    from srma.sensitivity import leave1out

    studies = group[group["row_type"] == "study"]
    yi, vi = studies["yi"].to_numpy(float), studies["vi"].to_numpy(float)
    table = leave1out(yi, vi, slab=list(studies["study_id"]), method="REML", test="z", level=95)
    egger = regtest(yi, vi, model="rma", predictor="sei", method="REML", test="z")
    labels = {"instrument_label": "SPARCC SIJ", "timepoint_label": "12 weeks"}
    return {
        "forest": lambda: mods["forest"].forest_plot(group, out / "f.svg", out / "f.png", **labels),
        "leave1out": lambda: mods["leave1out"].leave1out_plot(
            table, out / "l.svg", out / "l.png", estimate=-3.0, ci_lb=-4.0, ci_ub=-2.0, **labels
        ),
        "funnel": lambda: mods["funnel"].funnel_plot(
            yi, vi, out / "u.svg", out / "u.png", estimate=-3.0, egger=egger, title="SPARCC SIJ"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the old code")
    parser.add_argument("--studies", type=int, nargs="*", default=[10, 50, 100, 150])
    args = parser.parse_args()
    repeats = 2 if args.quick else 5

    new = {m: importlib.import_module(f"srma.figures.{m}") for m in MODULES}
    print(f"old: srma figures at {args.baseline[:12]}; new: this checkout")
    print(
        f"{'studies':>7} {'plot':<10} {'old best':>9} {'old med':>8} "
        f"{'new best':>9} {'new med':>8} {'old/new':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = load_revision(args.baseline, tmp / "pkg")
        for k in args.studies:
            group = make_group(k)
            old_calls = plots(old, group, tmp)
            new_calls = plots(new, group, tmp)
            for plot in ("forest", "leave1out", "funnel"):
                old_calls[plot](), new_calls[plot]()  # warm-up (imports, font cache)
                t_old, t_new = [], []
                for _ in range(repeats):
                    for fn, times in ((old_calls[plot], t_old), (new_calls[plot], t_new)):
                        t0 = time.perf_counter()
                        fn()
                        times.append(time.perf_counter() - t0)
                m_old, m_new = statistics.median(t_old), statistics.median(t_new)
                print(
                    f"{k:>7} {plot:<10} {min(t_old):>9.3f} {m_old:>8.3f} "
                    f"{min(t_new):>9.3f} {m_new:>8.3f} {m_old / m_new:>8.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
