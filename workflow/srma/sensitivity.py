"""Sensitivity analyses of a fitted model: leave-one-out, cumulative, and subgroups.

Each takes the fitted model, as metafor's ``leave1out(res)`` and ``cumul(res)`` do: an
inverse-variance :class:`srma.pooling.RMAResult` or a Mantel-Haenszel/Peto
:class:`srma.binary.BinaryResult`. It builds one padded batch of meta-analyses with the
model's studies and fits them all with a single call (:func:`srma.pooling.rma_batch`,
or :func:`srma.binary.rma_mh_batch` / :func:`srma.binary.rma_peto_batch` on the 2x2
counts), with the model's settings (``method``, ``test``, ``level``, prediction
interval, and its tau^2 when that was fixed, as metafor does). Columns follow metafor's
``leave1out`` and ``cumul`` output: ``slab, k, estimate, se, zval, pval, ci_lb, ci_ub,
Q, Qp, tau2, I2, H2, pi_lb, pi_ub`` (``zval`` holds t under t tests; ``Q, Qp`` are
Cochran's Q and its p-value; the prediction interval as :mod:`srma.pooling`; for
Mantel-Haenszel and Peto fits tau^2 is 0 and there is no prediction interval, NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from srma.binary import BinaryResult, refit_batch
from srma.pooling import RMAResult, rma_batch, subgroup_test

#: statistics of each refit, under metafor's names
STATS = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2"]
#: columns of :func:`leave1out` and :func:`cumul`
COLUMNS = ["slab", "k", *STATS, "pi_lb", "pi_ub"]


def _fit(res, name: str) -> RMAResult | BinaryResult:
    if not isinstance(res, RMAResult | BinaryResult):
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
        pi_type=res.pi_type,
    )


def _refit(res, idx, mask) -> dict:
    """The model refitted to ``len(idx)`` padded copies of its studies (rows of
    ``idx``: the study order) with ``mask``; binary fits from their counts."""
    n = mask.shape[0]
    if isinstance(res, BinaryResult):
        cells = [np.tile(getattr(res, c)[idx], (n, 1)) for c in ("ai", "bi", "ci", "di")]
        out = refit_batch(res, *cells, mask)
        out["tau2"] = np.where(out["k"] > 0, 0.0, np.nan)
        out["pi_lb"] = out["pi_ub"] = np.full(n, np.nan)
        return out
    return _batch(res, np.tile(res.yi[idx], (n, 1)), np.tile(res.vi[idx], (n, 1)), mask)


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
    out = _refit(res, np.arange(k), ~np.eye(k, dtype=bool))
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
    out = _refit(res, idx, np.tri(k, dtype=bool))
    return _frame(out, [res.slab[i] for i in idx])


def subgroup(res, groups) -> tuple[pd.DataFrame, dict[str, float]]:
    """Separate models per subgroup of the fit's studies and the test for subgroup
    differences (metafor: ``rma(yi, vi, subset = groups == g)`` per group, then
    ``rma(estimates, sei = se, method = "EE")``; R's meta package and RevMan report the
    same test).

    ``groups`` holds one label per study of the fit. Each subgroup gets its own tau^2
    (Borenstein et al. 2009, ch. 19 "separate estimates of tau^2"; Cochrane Handbook
    10.11.3.1), with the model's ``method``, ``test``, ``level`` and prediction
    interval; a Mantel-Haenszel or Peto fit is refitted per subgroup from its counts.
    All subgroups are fitted in one batch. The test for subgroup differences is
    Cochran's Q across the subgroup estimates (:func:`srma.pooling.subgroup_test`),
    ``Qb = sum (mu_g - mu)^2 / se_g^2`` with ``mu`` their inverse-variance mean, on
    ``G - 1`` df.

    Returns the per-subgroup table (column ``group`` instead of ``slab``, sorted by
    group label) and ``{"Qb", "Qb_df", "Qb_pval"}`` (also under the names
    ``"Q_between", "df", "pval"``).
    """
    res = _fit(res, "subgroup")
    groups = np.asarray([str(g) for g in groups])
    if groups.shape != (res.k,):
        raise ValueError(f"groups needs one label per study of the fit ({res.k})")
    labels = sorted(set(groups.tolist()))
    members = [np.flatnonzero(groups == g) for g in labels]
    kmax = max(m.size for m in members)
    idx = np.zeros((len(labels), kmax), dtype=np.int64)
    mask = np.zeros((len(labels), kmax), dtype=bool)
    for row, m in enumerate(members):
        idx[row, : m.size] = m
        mask[row, : m.size] = True
    if isinstance(res, BinaryResult):
        cells = [np.where(mask, getattr(res, c)[idx], 0.0) for c in ("ai", "bi", "ci", "di")]
        out = refit_batch(res, *cells, mask)
        out["tau2"] = np.zeros(len(labels))
        out["pi_lb"] = out["pi_ub"] = np.full(len(labels), np.nan)
    else:
        out = _batch(res, np.where(mask, res.yi[idx], np.nan), np.where(mask, res.vi[idx], np.nan),
                     mask)  # fmt: skip
    table = _frame(out, labels).rename(columns={"slab": "group"})
    return table, subgroup_test(out["estimate"], out["se"])
