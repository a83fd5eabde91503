"""Sensitivity analyses: leave-one-out, cumulative, and subgroup analysis.

Each analysis builds one padded batch of meta-analyses and fits them with a single
:func:`srma.pooling.rma_batch` call. Column names follow metafor's ``leave1out`` and
``cumul`` output (``estimate, se, zval, pval, ci_lb, ci_ub, Q, Qp, tau2, I2, H2``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2"]


def _frame(out: dict, labels) -> pd.DataFrame:
    from srma.pooling import BATCH_KEYS  # noqa: F401  (documented names)

    df = pd.DataFrame(
        {
            "slab": list(labels),
            "k": out["k"],
            **{c: out[c] for c in COLUMNS if c not in ("Q", "Qp")},
            "Q": out["QE"],
            "Qp": out["QEp"],
            "pi_lb": out["pi_lb"],
            "pi_ub": out["pi_ub"],
        }
    )
    return df[["slab", "k", *COLUMNS, "pi_lb", "pi_ub"]]


def _vectors(yi, vi, slab):
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.shape != vi.shape:
        raise ValueError("yi and vi differ in length")
    if slab is None:
        slab = [str(i + 1) for i in range(yi.size)]
    slab = list(slab)
    if len(slab) != yi.size:
        raise ValueError("slab differs in length from yi")
    return yi, vi, slab


def leave1out(yi, vi, *, slab=None, method="REML", test="z", level=95) -> pd.DataFrame:
    """Refit the model leaving out each study in turn (metafor ``leave1out``).

    Row ``i`` is the model without study ``i`` (``slab`` gives its label).
    """
    from srma.pooling import rma_batch

    yi, vi, slab = _vectors(yi, vi, slab)
    k = yi.size
    mask = ~np.eye(k, dtype=bool)
    out = rma_batch(
        np.tile(yi, (k, 1)), np.tile(vi, (k, 1)), mask, method=method, test=test, level=level
    )
    return _frame(out, slab)


def cumul(yi, vi, *, order=None, slab=None, method="REML", test="z", level=95) -> pd.DataFrame:
    """Cumulative meta-analysis (metafor ``cumul``): studies added one at a time in the
    order of ``order`` (e.g. publication year; stable sort, so ties keep input order).

    Row ``j`` is the model with the first ``j`` studies; ``slab`` is the study added.
    """
    from srma.pooling import rma_batch

    yi, vi, slab = _vectors(yi, vi, slab)
    idx = np.arange(yi.size) if order is None else np.argsort(np.asarray(order), kind="stable")
    yi, vi = yi[idx], vi[idx]
    k = yi.size
    mask = np.tri(k, dtype=bool)
    out = rma_batch(
        np.tile(yi, (k, 1)), np.tile(vi, (k, 1)), mask, method=method, test=test, level=level
    )
    return _frame(out, [slab[i] for i in idx])


def subgroup(
    yi, vi, groups, *, method="REML", test="z", level=95
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Separate models per subgroup and the test for subgroup differences.

    Each subgroup gets its own tau^2 (Borenstein et al. 2009, ch. 19 "separate estimates
    of tau^2"; Cochrane Handbook 10.11.3.1). The test for subgroup differences is
    Cochran's Q across the subgroup estimates, ``Q_between = sum (mu_g - mu)^2 / se_g^2``
    with ``mu`` their inverse-variance mean, on ``G - 1`` df; this equals metafor's
    ``QE`` of ``rma(estimates, sei=se, method="EE")`` fitted to the subgroup results.

    Returns the per-subgroup table (sorted by group label) and
    ``{"Q_between", "df", "pval"}``.
    """
    from srma.pooling import rma_batch

    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    groups = np.asarray([str(g) for g in groups])
    labels = sorted(set(groups.tolist()))
    kmax = max(int((groups == g).sum()) for g in labels)
    Y = np.full((len(labels), kmax), np.nan)
    V = np.full((len(labels), kmax), np.nan)
    for row, g in enumerate(labels):
        sel = groups == g
        Y[row, : sel.sum()] = yi[sel]
        V[row, : sel.sum()] = vi[sel]
    out = rma_batch(Y, V, method=method, test=test, level=level)
    table = _frame(out, labels).rename(columns={"slab": "group"})
    est, se = out["estimate"], out["se"]
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    w = 1 / se[ok] ** 2
    mu = (w * est[ok]).sum() / w.sum()
    qb = float((w * (est[ok] - mu) ** 2).sum())
    df = int(ok.sum() - 1)
    p = float(stats.chi2.sf(qb, df)) if df > 0 else float("nan")
    return table, {"Q_between": qb, "df": df, "pval": p}
