"""Speed of srma's meta-analysis engine, against R's metafor on the same data.

Prints, in one run:

1. 10,000 separate REML meta-analyses of k = 10 with CI, prediction interval and I^2,
   fitted in one vectorised call (target <= 0.1 s);
2. one REML fit with k = 10,000 (target <= 5 ms); metafor's is timed at k = 1,000, as its
   k x k matrices make k = 10,000 take far too long;
3. when ``Rscript`` with metafor is installed: metafor's time for the same work (a loop of
   ``rma()`` + ``predict()``), the ratio, the largest difference between the two sets of
   estimates, and how many of 10,000 small, hard data sets (k = 2..8, sampling variances
   spanning five orders of magnitude) metafor's default Fisher scoring fails on, against
   srma's count.

Timings are the best of several repeats (the machine may be shared). Run from the
checkout:  ``.venv/bin/python benchmarks/pooling.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from srma.pooling import rma, rma_batch  # noqa: E402


def best_of(fn, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time (seconds) of ``repeats`` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def many_sets(seed: int, n: int, k: int):
    rng = np.random.default_rng(seed)
    V = rng.uniform(0.01, 1.0, (n, k))
    tau2 = rng.uniform(0, 0.5, n)
    Y = rng.normal(0.3, np.sqrt(V + tau2[:, None]))
    return Y, V


def hard_sets(seed: int, n: int, kmax: int = 8):
    """Small data sets with extreme spreads of sampling variances (padded with NaN; the
    mask marks the studies, as :func:`srma.pooling.rma_batch` needs)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(2, kmax + 1, n)
    V = 10 ** rng.uniform(-3, 2, (n, kmax))
    tau2 = 10 ** rng.uniform(-3, 2, n) * rng.integers(0, 2, n)
    Y = rng.normal(0, np.sqrt(V + tau2[:, None]))
    mask = np.arange(kmax)[None, :] < k[:, None]
    return np.where(mask, Y, np.nan), np.where(mask, V, np.nan), mask


R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
Y <- as.matrix(read.csv(args[1], header = FALSE))
V <- as.matrix(read.csv(args[2], header = FALSE))
big <- read.csv(args[3], header = FALSE)
H <- as.matrix(read.csv(args[4], header = FALSE))
HV <- as.matrix(read.csv(args[5], header = FALSE))
n <- nrow(Y)
est <- rep(NA_real_, n); tau2 <- rep(NA_real_, n); pil <- rep(NA_real_, n)
many_fails <- 0
tm <- system.time(for (i in seq_len(n)) {
  r <- tryCatch(rma(Y[i, ], V[i, ], method = "REML"), error = function(e) NULL)
  if (is.null(r)) { many_fails <- many_fails + 1; next }
  p <- predict(r)
  est[i] <- r$b; tau2[i] <- r$tau2; pil[i] <- p$pi.lb
})
t_many <- tm[["elapsed"]]; c_many <- tm[["user.self"]] + tm[["sys.self"]]
# once, at k = 1,000: metafor builds k x k matrices (cubic time; k = 2,000 already
# takes minutes on a shared 2-core machine), so k = 10,000 is not run
tb <- system.time({
  r <- rma(big[[1]], big[[2]], method = "REML"); predict(r)
})
t_big <- tb[["elapsed"]]; c_big <- tb[["user.self"]] + tb[["sys.self"]]
fails <- 0; hard_tau2 <- rep(NA_real_, nrow(H))
for (i in seq_len(nrow(H))) {
  y <- H[i, !is.na(H[i, ])]; v <- HV[i, !is.na(HV[i, ])]
  r <- tryCatch(rma(y, v, method = "REML"), error = function(e) NULL)
  if (is.null(r)) fails <- fails + 1 else hard_tau2[i] <- r$tau2
}
write.csv(data.frame(est = est, tau2 = tau2, pi_lb = pil), args[6], row.names = FALSE)
write.csv(data.frame(tau2 = hard_tau2), args[7], row.names = FALSE)
cat(sprintf("%.6f %.6f %d %d %.6f %.6f\n", t_many, t_big, fails, many_fails, c_many, c_big))
"""


def reml_loglik(Y, V, tau2):
    """Restricted log-likelihood (up to a constant) per row at the given tau^2."""
    ok = np.isfinite(Y)
    y, v = np.where(ok, Y, 0.0), np.where(ok, V, 1.0)
    w = ok / (v + tau2[:, None])
    sw = w.sum(axis=1)
    mu = (w * y).sum(axis=1) / sw
    q = (w * (y - mu[:, None]) ** 2).sum(axis=1)
    return -0.5 * ((ok * np.log(v + tau2[:, None])).sum(axis=1) + q + np.log(sw))


def compare(name, Y, V, ours, theirs, fails_r, fails_s):
    """How srma's and metafor's tau^2 differ, judged by the restricted likelihood."""
    fine = np.isfinite(theirs)
    diff = fine & (np.abs(theirs - ours) > 1e-4 * np.maximum(1.0, np.abs(theirs)))
    t_r = np.where(fine, theirs, 0.0)
    gain = reml_loglik(Y, V, ours) - reml_loglik(Y, V, t_r)
    better = int((diff & (gain > 1e-9)).sum())
    worse = int((diff & (gain < -1e-9)).sum())
    print(
        f"  {name}: metafor failed on {fails_r}, srma on {fails_s}; tau2 differs "
        f"(> 1e-4) in {int(diff.sum())} sets: srma's restricted likelihood higher in "
        f"{better}, lower in {worse}"
    )


def metafor_available() -> bool:
    if not shutil.which("Rscript"):
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "suppressPackageStartupMessages(library(metafor))"],
        capture_output=True,
    )
    return probe.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no metafor")
    args = ap.parse_args()
    repeats = 2 if args.quick else 7

    Y, V = many_sets(1, 10_000, 10)
    rng = np.random.default_rng(2)
    bv = rng.uniform(0.01, 1.0, 10_000)
    by = rng.normal(0.3, np.sqrt(bv + 0.1))
    HY, HV, HM = hard_sets(3, 10_000)

    rma_batch(Y[:100], V[:100])  # warm-up (imports, caches)
    t_many, c_many = best_of(lambda: rma_batch(Y, V, method="REML"), repeats)
    t_big, c_big = best_of(lambda: rma(by, bv, method="REML"), repeats * 3)
    t_1k, c_1k = best_of(lambda: rma(by[:1000], bv[:1000], method="REML"), repeats * 3)
    out = rma_batch(Y, V, method="REML")
    hard = rma_batch(HY, HV, HM, method="REML")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores; times: best wall (best CPU)")
    print("srma meta-analysis engine (REML, Wald z; estimate, CI, PI, tau2, I2, H2, Q)")
    print(
        f"  10,000 meta-analyses of k = 10, one call:  {t_many * 1e3:8.1f} ms "
        f"({c_many * 1e3:.1f} ms CPU)  target <= 100"
    )
    print(
        f"  one meta-analysis of k = 10,000:           {t_big * 1e3:8.2f} ms "
        f"({c_big * 1e3:.2f} ms CPU)  target <= 5"
    )
    print(
        f"  10,000 hard small data sets: {int((~hard['converged']).sum())} not converged "
        f"(max iterations {int(hard['iterations'].max())})"
    )
    if args.quick or not metafor_available():
        print("metafor: not run (" + ("--quick" if args.quick else "Rscript/metafor missing") + ")")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.savetxt(tmp / "y.csv", Y, delimiter=",", fmt="%.17g")
        np.savetxt(tmp / "v.csv", V, delimiter=",", fmt="%.17g")
        np.savetxt(
            tmp / "big.csv", np.column_stack([by[:1000], bv[:1000]]), delimiter=",", fmt="%.17g"
        )
        np.savetxt(tmp / "hy.csv", HY, delimiter=",", fmt="%.17g")
        np.savetxt(tmp / "hv.csv", HV, delimiter=",", fmt="%.17g")
        (tmp / "bench.R").write_text(R_SCRIPT)
        files = [str(tmp / f) for f in ("y.csv", "v.csv", "big.csv", "hy.csv", "hv.csv")]
        res = subprocess.run(
            ["Rscript", str(tmp / "bench.R"), *files, str(tmp / "r.csv"), str(tmp / "rh.csv")],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        if res.returncode != 0:
            print("metafor run failed:\n" + res.stderr)
            return 1
        r_many, r_big, r_fails, r_many_fails, rc_many, rc_big = res.stdout.split()
        r_many, r_big, rc_many, rc_big = map(float, (r_many, r_big, rc_many, rc_big))
        r_fails, r_many_fails = int(r_fails), int(r_many_fails)
        ref = np.genfromtxt(tmp / "r.csv", delimiter=",", skip_header=1)
        ref_hard = np.genfromtxt(tmp / "rh.csv", delimiter=",", skip_header=1)
    print(f"metafor {_metafor_version()} (rma + predict in an R loop, default settings)")
    print(
        f"  10,000 meta-analyses of k = 10:            {r_many * 1e3:8.1f} ms "
        f"({rc_many * 1e3:.1f} ms CPU)  ratio metafor/srma {r_many / t_many:.1f} "
        f"(CPU {rc_many / c_many:.1f})"
    )
    print(
        f"  one meta-analysis of k = 1,000:            {r_big * 1e3:8.1f} ms "
        f"({rc_big * 1e3:.1f} ms CPU)  srma {t_1k * 1e3:.2f} ms; ratio metafor/srma "
        f"{r_big / t_1k:.0f} (CPU {rc_big / max(c_1k, 1e-9):.0f})"
    )
    print("  one meta-analysis of k = 10,000:           not run (k x k matrices, cubic time)")
    compare("10,000 sets of k = 10", Y, V, out["tau2"], ref[:, 1], r_many_fails,
            int((~out["converged"]).sum()))  # fmt: skip
    compare("10,000 hard small sets", HY, HV, hard["tau2"], ref_hard, r_fails,
            int((~hard["converged"]).sum()))  # fmt: skip
    print(
        "  (metafor stops Fisher scoring at |delta tau2| < 1e-5; srma solves to "
        "1e-10 * max(min vi, tau2))"
    )
    return 0


def _metafor_version() -> str:
    res = subprocess.run(
        ["Rscript", "-e", 'cat(as.character(packageVersion("metafor")))'],
        capture_output=True,
        text=True,
    )
    return res.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
