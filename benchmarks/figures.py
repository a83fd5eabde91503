"""Time to draw srma's forest plot, against a bare matplotlib forest plot in the same run.

The peer draws the same studies with the same outputs (SVG + 300-dpi PNG) but none of
srma's work: no measured column layout, no table text, no wrapping, no lock. The ratio
says what the publication layout costs; both are dominated by rasterising the PNG.

Prints, for 1, 10, 25 and 100 studies: srma's time, the peer's time (best of several
repeats: the machine may be shared) and the ratio srma / peer.

Run from the checkout:  ``.venv/bin/python benchmarks/figures.py [--quick]``
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from srma.figures.forest import forest_plot


def make_group(k: int, seed: int = 7) -> pd.DataFrame:
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


def peer(group: pd.DataFrame, svg: Path, png: Path) -> None:
    """A bare forest plot: points, error bars, labels as y tick labels."""
    studies = group[group["row_type"] == "study"]
    k = len(studies)
    fig = Figure(figsize=(8, 1.5 + 0.23 * k))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.3, 0.1, 0.65, 0.85))
    y = np.arange(k)[::-1]
    ax.errorbar(
        studies["yi"],
        y,
        xerr=[studies["yi"] - studies["ci_lb"], studies["ci_ub"] - studies["yi"]],
        fmt="s",
    )
    ax.set_yticks(y, labels=list(studies["study_id"]))
    ax.axvline(0)
    fig.savefig(svg, format="svg")
    fig.savefig(png, format="png", dpi=300)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    print(f"{'studies':>8} {'srma s':>9} {'peer s':>9} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for k in (1, 10, 25, 100):
            group = make_group(k)
            t_srma = best_of(
                lambda g=group: forest_plot(
                    g, d / "s.svg", d / "s.png", instrument_label="X", timepoint_label="12 weeks"
                ),
                repeats,
            )
            t_peer = best_of(lambda g=group: peer(g, d / "p.svg", d / "p.png"), repeats)
            print(f"{k:>8} {t_srma:>9.3f} {t_peer:>9.3f} {t_srma / t_peer:>7.2f}")


if __name__ == "__main__":
    main()
