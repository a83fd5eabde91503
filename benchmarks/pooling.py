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
   srma's count;
4. 10,000 Mantel-Haenszel (OR), 10,000 Peto and 10,000 REML meta-regressions (one
   numeric moderator, with QM, QE, R^2) of k = 10, each set in one vectorised call
   (:func:`srma.binary.rma_mh_batch`, :func:`srma.binary.rma_peto_batch`,
   :func:`srma.regression.rma_mods_batch`), against a metafor loop of ``rma.mh()``,
   ``rma.peto()`` and ``rma(yi, vi, mods = ~ x)`` on the same data (target: ratio >= 300),
   with the largest relative difference of the estimates.

Timings are the best of several repeats (the machine may be shared: the CPU times are
the steadier measure). Run from the checkout:
``.venv/bin/python benchmarks/pooling.py [--quick] [--models]``
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

from srma.binary import rma_mh_batch, rma_peto_batch  # noqa: E402
from srma.pooling import rma, rma_batch  # noqa: E402
from srma.regression import rma_mods_batch  # noqa: E402


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


R_MODELS = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
rd <- function(f) as.matrix(read.csv(f, header = FALSE))
A <- rd(args[1]); B <- rd(args[2]); C <- rd(args[3]); D <- rd(args[4])
Y <- rd(args[5]); V <- rd(args[6]); X <- rd(args[7])
n <- nrow(A)
mh <- rep(NA_real_, n); pe <- rep(NA_real_, n); b1 <- rep(NA_real_, n)
tau <- rep(NA_real_, n); fails <- 0
t1 <- system.time(for (i in seq_len(n)) {
  mh[i] <- rma.mh(ai = A[i, ], bi = B[i, ], ci = C[i, ], di = D[i, ], measure = "OR")$b
})
t2 <- system.time(for (i in seq_len(n)) {
  pe[i] <- rma.peto(ai = A[i, ], bi = B[i, ], ci = C[i, ], di = D[i, ])$b
})
t3 <- system.time(for (i in seq_len(n)) {
  r <- tryCatch(rma(Y[i, ], V[i, ], mods = ~ X[i, ], method = "REML"), error = function(e) NULL)
  if (is.null(r)) fails <- fails + 1 else { b1[i] <- r$b[2]; tau[i] <- r$tau2 }
})
write.csv(data.frame(mh = mh, peto = pe, slope = b1, tau2 = tau), args[8], row.names = FALSE)
cpu <- function(t) t[["user.self"]] + t[["sys.self"]]
cat(sprintf("%.6f %.6f %.6f %d %.6f %.6f %.6f\n", t1[["elapsed"]], t2[["elapsed"]],
            t3[["elapsed"]], fails, cpu(t1), cpu(t2), cpu(t3)))
"""


def model_sets(seed: int, n: int, k: int):
    """2x2 counts and a meta-regression data set (one numeric moderator) per row."""
    rng = np.random.default_rng(seed)
    n1 = rng.integers(20, 200, (n, k))
    n2 = rng.integers(20, 200, (n, k))
    base = rng.uniform(0.05, 0.4, (n, 1))
    A = rng.binomial(n1, base * 0.7)
    C = rng.binomial(n2, base)
    V = rng.uniform(0.01, 1.0, (n, k))
    x = rng.uniform(0, 10, (n, k))
    Y = rng.normal(0.3 + 0.05 * x, np.sqrt(V + 0.1))
    return (A, n1 - A, C, n2 - C), (Y, V, x)


def models(repeats: int, with_metafor: bool) -> None:
    """Mantel-Haenszel, Peto and meta-regression: 10,000 fits each, against metafor."""
    cells, (Y, V, x) = model_sets(4, 10_000, 10)
    X = np.stack([np.ones_like(x), x], axis=2)
    rma_mh_batch(*(c[:100] for c in cells))  # warm-up
    rma_mods_batch(Y[:100], V[:100], X[:100])
    t_mh, c_mh = best_of(lambda: rma_mh_batch(*cells, measure="OR"), repeats)
    t_pe, c_pe = best_of(lambda: rma_peto_batch(*cells), repeats)
    t_mr, c_mr = best_of(lambda: rma_mods_batch(Y, V, X, method="REML"), repeats)
    print("srma models of 2x2 counts and meta-regression (10,000 fits of k = 10, one call each)")
    for label, t, c in (
        ("Mantel-Haenszel OR (with CMH, Breslow-Day, Tarone)", t_mh, c_mh),
        ("Peto OR", t_pe, c_pe),
        ("REML meta-regression, 1 moderator (QM, QE, R^2)", t_mr, c_mr),
    ):
        print(f"  {label + ':':52s} {t * 1e3:7.1f} ms ({c * 1e3:.1f} ms CPU)")
    if not with_metafor:
        return
    mh = rma_mh_batch(*cells, measure="OR")["estimate"]
    pe = rma_peto_batch(*cells)["estimate"]
    mr = rma_mods_batch(Y, V, X, method="REML")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = []
        for name, arr in zip("ABCD", cells, strict=True):
            files.append(tmp / f"{name}.csv")
            np.savetxt(files[-1], arr, delimiter=",", fmt="%d")
        for name, arr in (("Y", Y), ("V", V), ("X", x)):
            files.append(tmp / f"{name}.csv")
            np.savetxt(files[-1], arr, delimiter=",", fmt="%.17g")
        (tmp / "models.R").write_text(R_MODELS)
        res = subprocess.run(
            ["Rscript", str(tmp / "models.R"), *map(str, files), str(tmp / "r.csv")],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        if res.returncode != 0:
            print("metafor run failed:\n" + res.stderr)
            return
        r_mh, r_pe, r_mr, fails, rc_mh, rc_pe, rc_mr = res.stdout.split()
        r_mh, r_pe, r_mr, rc_mh, rc_pe, rc_mr = map(float, (r_mh, r_pe, r_mr, rc_mh, rc_pe, rc_mr))
        ref = np.genfromtxt(tmp / "r.csv", delimiter=",", skip_header=1)

    def diff(ours, theirs):
        ok = np.isfinite(theirs) & np.isfinite(ours)
        return np.max(np.abs(ours[ok] - theirs[ok]) / np.maximum(np.abs(theirs[ok]), 1e-12))

    print(f"metafor {_metafor_version()} (a loop of 10,000 fits, default settings)")
    for label, r, rc, t, c in (
        ('rma.mh(measure = "OR")', r_mh, rc_mh, t_mh, c_mh),
        ("rma.peto()", r_pe, rc_pe, t_pe, c_pe),
        ("rma(mods = ~ x, REML)", r_mr, rc_mr, t_mr, c_mr),
    ):
        print(
            f"  {label + ':':24s} {r:6.1f} s ({rc:.1f} s CPU)  ratio metafor/srma {r / t:5.0f} "
            f"(CPU {rc / c:.0f})"
        )
    print(f"  largest relative difference of the estimates: MH {diff(mh, ref[:, 0]):.1e}, "
          f"Peto {diff(pe, ref[:, 1]):.1e}")  # fmt: skip
    print(f"  meta-regression: metafor failed on {fails}, srma on "
          f"{int((~mr['converged']).sum())}")  # fmt: skip
    # where the fits differ, whose restricted likelihood is higher
    theirs = ref[:, 3]
    fine = np.isfinite(theirs)
    ours = mr["tau2"]
    differ = fine & (np.abs(theirs - ours) > 1e-4 * np.maximum(1.0, np.abs(theirs)))
    at = rma_mods_batch(Y, V, X, method="REML", tau2=np.where(fine, theirs, 0.0), r2=False)
    gain = mr["ll_REML"] - at["ll_REML"]
    same = fine & ~differ
    print(
        f"    tau2 differs (> 1e-4) in {int(differ.sum())} sets: srma's restricted likelihood "
        f"higher in {int((differ & (gain > 1e-9)).sum())}, lower in "
        f"{int((differ & (gain < -1e-9)).sum())}; elsewhere the slopes differ by at most "
        f"{np.max(np.abs(mr['b'][same, 1] - ref[same, 2]) / mr['se'][same, 1]):.1e} standard "
        "errors (metafor's threshold on tau2 is 1e-5)"
    )
    print("  target: ratio >= 300 for each")


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
    ap.add_argument("--models", action="store_true", help="only part 4 (MH, Peto, meta-regression)")
    args = ap.parse_args()
    repeats = 2 if args.quick else 7
    if args.models:
        models(repeats, not args.quick and metafor_available())
        return 0

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
    with_metafor = not args.quick and metafor_available()
    if not with_metafor:
        print("metafor: not run (" + ("--quick" if args.quick else "Rscript/metafor missing") + ")")
        models(repeats, with_metafor)
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
    models(repeats, with_metafor)
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
