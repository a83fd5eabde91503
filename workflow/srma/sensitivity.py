"""Sensitivity analyses of a fitted model: leave-one-out, cumulative, and subgroups.

Each takes the :class:`srma.pooling.RMAResult` of the main model (as metafor's
``leave1out(res)`` and ``cumul(res)``), builds one padded batch of meta-analyses with
its studies and fits them all with a single :func:`srma.pooling.rma_batch` call, with
the model's ``method``, ``test`` and ``level`` (and its tau^2, when that was fixed, as
metafor does). Columns follow metafor's ``leave1out`` and ``cumul`` output:
``slab, k, estimate, se, zval, pval, ci_lb, ci_ub, Q, Qp, tau2, I2, H2, pi_lb, pi_ub``
(``zval`` holds t under t tests; ``Q, Qp`` are Cochran's Q and its p-value; the
prediction interval as :mod:`srma.pooling`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from srma.pooling import RMAResult, rma_batch

#: statistics of each refit, under metafor's names
STATS = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2"]
#: columns of :func:`leave1out` and :func:`cumul`
COLUMNS = ["slab", "k", *STATS, "pi_lb", "pi_ub"]


def _fit(res, name: str) -> RMAResult:
    if not isinstance(res, RMAResult):
        raise TypeError(f"{name} takes a fitted model: {name}(rma(yi, vi, ...))")
    return res


def _batch(res: RMAResult, Y, V, mask=None) -> dict:
    """``rma_batch`` with the model's settings (its tau^2 when fixed)."""
    return rma_batch(
        Y,
        V,
        mask,
        method=res.method,
        test=res.test,
        level=res.level,
        tau2=res.tau2 if res.tau2_fix else None,
    )


def _frame(out: dict, labels) -> pd.DataFrame:
    renamed = {"Q": "QE", "Qp": "QEp"}
    data = {"slab": [str(s) for s in labels], "k": out["k"]}
    for c in (*STATS, "pi_lb", "pi_ub"):
        data[c] = np.asarray(out[renamed.get(c, c)], dtype=float)
    return pd.DataFrame(data, columns=COLUMNS)


def leave1out(res: RMAResult) -> pd.DataFrame:
    """Refit the model leaving out each study in turn (metafor ``leave1out(res)``).

    Row ``i`` is the model without study ``i``; ``slab`` is the omitted study and ``k``
    the number of studies in the refit (``res.k - 1``).
    """
    res = _fit(res, "leave1out")
    k = res.k
    if k < 2:
        raise ValueError("leave-one-out needs at least 2 studies (k = 1)")
    mask = ~np.eye(k, dtype=bool)
    out = _batch(res, np.tile(res.yi, (k, 1)), np.tile(res.vi, (k, 1)), mask)
    return _frame(out, res.slab)


def cumul(res: RMAResult, order=None) -> pd.DataFrame:
    """Cumulative meta-analysis (metafor ``cumul(res, order)``): the studies added one
    at a time, in the order of ``order`` (one value per study of the fit, e.g.
    publication year; stable sort, so ties keep the fit's order), or in the fit's order.

    Row ``j`` is the model with the first ``j`` studies; ``slab`` is the study added.
    """
    res = _fit(res, "cumul")
    k = res.k
    if order is None:
        idx = np.arange(k)
    else:
        order = np.asarray(order)
        if order.shape != (k,):
            raise ValueError(f"order needs one value per study of the fit ({k})")
        idx = np.argsort(order, kind="stable")
    yi, vi = res.yi[idx], res.vi[idx]
    out = _batch(res, np.tile(yi, (k, 1)), np.tile(vi, (k, 1)), np.tri(k, dtype=bool))
    return _frame(out, [res.slab[i] for i in idx])


def subgroup(res: RMAResult, groups) -> tuple[pd.DataFrame, dict[str, float]]:
    """Separate models per subgroup of the fit's studies and the test for subgroup
    differences (metafor: ``rma(yi, vi, subset = groups == g)`` per group, then
    ``rma(estimates, sei = se, method = "EE")``).

    ``groups`` holds one label per study of the fit. Each subgroup gets its own tau^2
    (Borenstein et al. 2009, ch. 19 "separate estimates of tau^2"; Cochrane Handbook
    10.11.3.1), with the model's ``method``, ``test`` and ``level``. The test for
    subgroup differences is Cochran's Q across the subgroup estimates,
    ``Q_between = sum (mu_g - mu)^2 / se_g^2`` with ``mu`` their inverse-variance mean,
    on ``G - 1`` df; this equals metafor's ``QE`` of ``rma(estimates, sei = se,
    method = "EE")`` fitted to the subgroup results.

    Returns the per-subgroup table (column ``group`` instead of ``slab``, sorted by
    group label) and ``{"Q_between", "df", "pval"}``.
    """
    res = _fit(res, "subgroup")
    groups = np.asarray([str(g) for g in groups])
    if groups.shape != (res.k,):
        raise ValueError(f"groups needs one label per study of the fit ({res.k})")
    labels = sorted(set(groups.tolist()))
    kmax = max(int((groups == g).sum()) for g in labels)
    Y = np.full((len(labels), kmax), np.nan)
    V = np.full((len(labels), kmax), np.nan)
    mask = np.zeros((len(labels), kmax), dtype=bool)
    for row, g in enumerate(labels):
        sel = groups == g
        Y[row, : sel.sum()] = res.yi[sel]
        V[row, : sel.sum()] = res.vi[sel]
        mask[row, : sel.sum()] = True
    out = _batch(res, Y, V, mask)
    table = _frame(out, labels).rename(columns={"slab": "group"})
    est, se = out["estimate"], out["se"]
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    w = 1 / se[ok] ** 2
    mu = (w * est[ok]).sum() / w.sum()
    qb = float((w * (est[ok] - mu) ** 2).sum())
    df = int(ok.sum() - 1)
    p = float(stats.chi2.sf(qb, df)) if df > 0 else float("nan")
    return table, {"Q_between": qb, "df": df, "pval": p}
