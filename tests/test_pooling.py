"""srma's meta-analysis engine against reference values from R's metafor.

The reference values come from ``tests/fixtures/metafor/make_fixtures.R`` (real data
sets from metadat plus edge cases: k = 2, tau^2 on the boundary, Q below its df),
committed as ``reference.json``. Tolerances: relative error <= 1e-6 for every
statistic, absolute error <= 1e-8 for p-values.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from srma.bias import kendall, ranktest, regtest, trimfill
from srma.pooling import RMAResult, confint, fitstats, rma, rma_batch
from srma.sensitivity import cumul, leave1out, subgroup

REF = json.loads((Path(__file__).parent / "fixtures/metafor/reference.json").read_text())
DATA = REF["datasets"]
STATS = ["estimate", "se", "zval", "ci_lb", "ci_ub", "tau2", "I2", "H2", "QE", "pi_lb", "pi_ub"]
PVALS = ["pval", "QEp"]


def close(actual, expected, *, what=""):
    """Relative error <= 1e-6 (absolute 1e-10 for values that are 0 in metafor)."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=1e-6,
        atol=1e-10,
        err_msg=what,
    )


def pclose(actual, expected, *, what=""):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=0,
        atol=1e-8,
        err_msg=what,
    )


def fit_id(fit):
    return f"{fit['dataset']}-{fit['method']}-{fit['test']}"


@pytest.mark.parametrize("fit", REF["fits"], ids=fit_id)
def test_rma_matches_metafor(fit):
    d = DATA[fit["dataset"]]
    res = rma(d["yi"], d["vi"], method=fit["method"], test=fit["test"])
    assert res.converged
    for key in STATS:
        close(getattr(res, key), fit[key], what=f"{fit_id(fit)} {key}")
    for key in PVALS:
        pclose(getattr(res, key), fit[key], what=f"{fit_id(fit)} {key}")
    close(res.weights, fit["weights"], what=f"{fit_id(fit)} weights")
    assert res.k == fit["k"]


@pytest.mark.parametrize("fit", REF["fits"], ids=fit_id)
def test_se_tau2_loglik_and_t_k2_interval_match_metafor(fit):
    """metafor's ``se.tau2``, ``logLik``, ``fit.stats`` and ``predict(res,
    pi.type = "riley")`` (t on k - 2 df) for every estimator and test."""
    d = DATA[fit["dataset"]]
    res = rma(d["yi"], d["vi"], method=fit["method"], test=fit["test"], pi_type="t-k2")
    if fit["se_tau2"] is None:
        assert np.isnan(res.se_tau2)
    else:
        close(res.se_tau2, fit["se_tau2"], what=f"{fit_id(fit)} se_tau2")
    close(res.ll, fit["ll"], what=f"{fit_id(fit)} ll")
    if fit["pi_lb_tk2"] != []:  # metafor gives no PI for EE models (it is the CI)
        close([res.pi_lb, res.pi_ub], [fit["pi_lb_tk2"], fit["pi_ub_tk2"]], what=fit_id(fit))
    stats = fitstats(res)
    for est in ("ML", "REML"):
        for key in ("ll", "dev", "AIC", "BIC", "AICc"):
            close(stats[est][key], fit["fit_stats"][est][key], what=f"{fit_id(fit)} {est} {key}")


@pytest.mark.parametrize(
    "method", ["EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM"]
)
@pytest.mark.parametrize("test", ["z", "t", "knha", "adhoc"])
def test_rma_batch_matches_metafor_all_data_sets_in_one_call(method, test):
    """Every data set of the fixtures in one padded batch gives metafor's numbers."""
    names = list(DATA)
    kmax = max(len(DATA[n]["yi"]) for n in names)
    Y = np.full((len(names), kmax), np.nan)
    V = np.full((len(names), kmax), np.nan)
    mask = np.zeros((len(names), kmax), dtype=bool)
    for i, n in enumerate(names):
        Y[i, : len(DATA[n]["yi"])] = DATA[n]["yi"]
        V[i, : len(DATA[n]["vi"])] = DATA[n]["vi"]
        mask[i, : len(DATA[n]["yi"])] = True
    out = rma_batch(Y, V, mask, method=method, test=test)
    refs = {f["dataset"]: f for f in REF["fits"] if f["method"] == method and f["test"] == test}
    for i, n in enumerate(names):
        for key in STATS:
            close(out[key][i], refs[n][key], what=f"{n} {method} {test} {key}")
        for key in PVALS:
            pclose(out[key][i], refs[n][key], what=f"{n} {method} {test} {key}")
        close(out["weights"][i, : len(DATA[n]["yi"])], refs[n]["weights"])
        assert np.all(out["weights"][i, len(DATA[n]["yi"]) :] == 0)


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_level_90(method):
    d = DATA["bcg"]
    ref = REF["level90"][method]
    res = rma(d["yi"], d["vi"], method=method, level=90)
    for key in STATS:
        close(getattr(res, key), ref[key], what=key)


@pytest.mark.parametrize("name", list(DATA))
def test_q_profile_confint(name):
    d = DATA[name]
    ref = REF["confint"][name]
    ci = confint(rma(d["yi"], d["vi"]))
    for key in ("tau2_lb", "tau2_ub", "I2_lb", "I2_ub", "H2_lb", "H2_ub"):
        close(ci[key], ref[key], what=f"{name} {key}")


@pytest.mark.parametrize(
    "ref", REF["regtest"], ids=lambda r: f"{r['dataset']}-{r['method']}-{r['test']}-{r['model']}"
)
def test_regtest(ref):
    d = DATA[ref["dataset"]]
    res = rma(d["yi"], d["vi"], method=ref["method"], test=ref["test"])
    out = regtest(res, model=ref["model"])
    for key in ("zval", "est", "ci_lb", "ci_ub"):
        close(out[key], ref[key], what=key)
    pclose(out["pval"], ref["pval"])


@pytest.mark.parametrize(
    "ref",
    REF["trimfill"],
    ids=lambda r: f"{r['dataset']}-{r['method']}-{r['estimator']}",
)
def test_trimfill(ref):
    d = DATA[ref["dataset"]]
    out = trimfill(rma(d["yi"], d["vi"], method=ref["method"]), estimator=ref["estimator"])
    assert out["k0"] == ref["k0"]
    assert out["side"] == ref["side"]
    for key in ("estimate", "se", "tau2", "ci_lb", "ci_ub"):
        close(getattr(out["fit"], key), ref[key], what=key)
    # metafor's own trimfill estimate, centred with its default threshold 1e-5
    assert out["fit"].estimate == pytest.approx(ref["estimate_default"], rel=1e-4, abs=1e-6)


MODELS = json.loads((Path(__file__).parent / "fixtures/metafor/reference_models.json").read_text())


@pytest.mark.parametrize("name", list(MODELS["ranktest"]))
def test_ranktest_matches_metafor(name):
    """Begg's rank correlation test (metafor ``ranktest(res)``): exact p-value without
    ties (bcg, k = 60, ...), the normal approximation with ties."""
    ref = MODELS["ranktest"][name]
    for method in ("REML", "DL"):  # the test uses the common-effect estimate only
        out = ranktest(rma(ref["yi"], ref["vi"], method=method))
        close(out["tau"], ref["tau"], what="tau")
        pclose(out["pval"], ref["pval"], what="pval")
        assert out["k"] == len(ref["yi"])


def test_kendall_exact_distribution_and_ties():
    from scipy import stats

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=9), rng.normal(size=9)
    tau, p = kendall(x, y)
    ref = stats.kendalltau(x, y, method="exact")
    assert tau == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-10)
    with pytest.raises(ValueError, match="at least 3 studies"):
        ranktest(rma([0.1, 0.2], [0.1, 0.2]))


def test_leave1out():
    d = DATA["bcg"]
    ref = REF["leave1out"]
    out = leave1out(rma(d["yi"], d["vi"], method="REML", test="knha"))
    for key in ("estimate", "se", "zval", "ci_lb", "ci_ub", "Q", "tau2", "I2", "H2"):
        close(out[key], ref[key], what=key)
    for key in ("pval", "Qp"):
        pclose(out[key], ref[key], what=key)


def test_cumul_by_year():
    d = DATA["bcg"]
    ref = REF["cumul"]
    out = cumul(rma(d["yi"], d["vi"], method="DL"), order=ref["order"])
    for key in ("estimate", "se", "ci_lb", "ci_ub", "Q", "tau2"):
        # metafor's first row (k = 1) has no Q/tau2 (NA); compare from the second on
        exp = np.array([np.nan if x is None else x for x in ref[key]], dtype=float)
        got = out[key].to_numpy()
        sel = np.isfinite(exp)
        close(got[sel], exp[sel], what=key)
    exp = np.array([np.nan if x is None else x for x in ref["pval"]], dtype=float)
    pclose(out["pval"].to_numpy(), exp)
    assert out["k"].tolist() == list(range(1, 14))


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_subgroup_differences(method):
    d = DATA["bcg"]
    ref = REF["subgroup"][method]
    alloc = ref["alloc"]  # dat.bcg$alloc
    table, test = subgroup(rma(d["yi"], d["vi"], method=method), alloc)
    assert table["group"].tolist() == ref["groups"]
    close(table["estimate"], ref["estimate"])
    close(table["se"], ref["se"])
    close(table["tau2"], ref["tau2"])
    close(test["Q_between"], ref["Q_between"])
    assert test["df"] == ref["df"]
    pclose(test["pval"], ref["pval"])


def test_print_and_to_dict_use_metafor_names():
    d = DATA["bcg"]
    res = rma(d["yi"], d["vi"], method="REML", test="knha")
    text = str(res)
    assert "Random-Effects Model (k = 13; tau^2 estimator: REML)" in text
    assert "tval" in text and "-0.7145" in text and "-1.9960" in text
    dd = res.to_dict()
    for key in ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "I2", "H2"):
        assert key in dd
    for key in ("QE", "QEp", "pi_lb", "pi_ub", "weights"):
        assert key in dd
    assert dd["method"] == "REML" and dd["test"] == "knha" and dd["dfs"] == 12
    json.dumps(dd)


def test_fixed_tau2_and_masked_cells_match_unpadded_fit():
    d = DATA["normand_md"]
    y = np.array(d["yi"])
    v = np.array(d["vi"])
    res = rma(y, v, tau2=50.0)
    w = 1 / (v + 50.0)
    assert res.estimate == pytest.approx((w * y).sum() / w.sum(), rel=1e-12)
    Y = np.vstack([y, y])
    M = np.ones_like(Y, dtype=bool)
    M[1, 0] = False
    out = rma_batch(Y, np.vstack([v, v]), M)
    single = rma(y[1:], v[1:])
    assert out["estimate"][1] == pytest.approx(single.estimate, rel=1e-12)
    assert out["k"].tolist() == [9, 8]


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        rma([1, 2], [1, 1], method="XX")
    with pytest.raises(ValueError, match="test"):
        rma([1, 2], [1, 1], test="q")
    with pytest.raises(ValueError, match="positive"):
        rma([1, 2], [1, 0])


def test_result_keeps_what_a_refit_needs_and_prints():
    d = DATA["bcg"]
    yi = list(d["yi"])
    yi[2] = float("nan")  # not left out silently: an error names the study and field
    with pytest.raises(ValueError, match=r"study 3 \('3'\): yi is nan"):
        rma(yi, d["vi"], method="DL", test="t", level=90)
    keep = [i for i in range(13) if i != 2]
    res = rma(
        [yi[i] for i in keep],
        [d["vi"][i] for i in keep],
        method="DL",
        test="t",
        level=90,
        slab=[str(i + 1) for i in keep],
    )
    assert isinstance(res, RMAResult) and res.k == 12
    assert res.slab == tuple(str(i) for i in range(1, 14) if i != 3)
    assert (res.method, res.test, res.level, res.tau2_fix) == ("DL", "t", 90, False)
    assert res.yi.size == res.vi.size == 12
    short = repr(res)
    assert short.startswith("<RMAResult k=12 method=DL test=t estimate=") and "\n" not in short
    assert str(res).startswith("Random-Effects Model (k = 12; tau^2 estimator: DL)")
    labels = [f"T{i}" for i in range(13)]
    res = rma(d["yi"], d["vi"], slab=labels)
    assert leave1out(res)["slab"].tolist() == labels
    assert cumul(res, order=REF["cumul"]["order"])["slab"].iloc[0] == "T0"
    assert res.to_dict()["slab"] == labels
    with pytest.raises(ValueError, match="slab"):
        rma(d["yi"], d["vi"], slab=labels[:3])


@pytest.mark.parametrize("func", [leave1out, cumul, regtest, ranktest, trimfill, confint])
def test_analyses_take_the_fitted_model(func):
    d = DATA["bcg"]
    with pytest.raises(TypeError, match="fitted model"):
        func(np.array(d["yi"]))


def test_confint_of_the_fit():
    d = DATA["bcg"]
    ref = REF["confint"]["bcg"]
    res = rma(d["yi"], d["vi"], test="knha")
    ci = confint(res)
    assert (ci["estimate"], ci["ci_lb"], ci["ci_ub"]) == (res.estimate, res.ci_lb, res.ci_ub)
    assert (ci["tau2"], ci["I2"], ci["H2"], ci["level"]) == (res.tau2, res.I2, res.H2, 95.0)
    close([ci["tau2_lb"], ci["tau2_ub"]], [ref["tau2_lb"], ref["tau2_ub"]])
    close([ci["tau_lb"] ** 2, ci["tau_ub"] ** 2], [ref["tau2_lb"], ref["tau2_ub"]])
    assert ci["tau_lb"] <= res.tau <= ci["tau_ub"]
    json.dumps(ci)


def test_fixed_tau2_is_kept_by_leave1out_and_cumul():
    d = DATA["normand_md"]
    res = rma(d["yi"], d["vi"], tau2=50.0)
    assert res.tau2_fix and "user-specified tau^2 value" in str(res)
    assert (leave1out(res)["tau2"] == 50.0).all()
    assert (cumul(res)["tau2"] == 50.0).all()


def test_regtest_lm_is_eggers_weighted_least_squares():
    """metafor's regtest(model="lm"): lm(yi ~ sei, weights = 1/vi), t on k - 2 df."""
    d = DATA["hackshaw"]
    y, v = np.array(d["yi"]), np.array(d["vi"])
    out = regtest(rma(y, v), model="lm")
    X = np.column_stack([np.ones_like(y), np.sqrt(v)])
    sw = 1 / np.sqrt(v)
    b, rss, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    cov = rss[0] / (y.size - 2) * np.linalg.inv((X * sw[:, None]).T @ (X * sw[:, None]))
    assert out["dfs"] == y.size - 2 and (out["model"], out["predictor"]) == ("lm", "sei")
    close([out["est"], out["slope"]], b)
    close(out["zval"], b[1] / np.sqrt(cov[1, 1]))


def test_trimfill_labels_the_filled_studies():
    d = DATA["bcg"]
    res = rma(d["yi"], d["vi"], slab=[f"T{i}" for i in range(13)])
    out = trimfill(res)
    assert out["k0"] == 1 and out["estimator"] == "L0" and out["fit"].k == 14
    assert out["fit"].slab[-2:] == ("T12", "Filled 1")
    assert trimfill(res, side="left", estimator="R0")["side"] == "left"


STATISTICS = (
    "tau2", "pooling", "regression", "bias", "sensitivity", "group", "effects", "binary",
)  # fmt: skip


def _srma_imports(path: Path) -> set[str]:
    """srma modules imported anywhere in a file (function-level imports included)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "srma":
                names |= {a.name for a in node.names}
            elif node.module.startswith("srma."):
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("srma.")}
    return names


def test_statistics_modules_import_each_other_without_a_circle():
    pkg = Path(__file__).parents[1] / "workflow" / "srma"
    mods = (*STATISTICS, "group_sensitivity")
    graph = {m: _srma_imports(pkg / f"{m}.py") - {"errors", "io"} for m in mods}
    assert graph["tau2"] == set() and graph["pooling"] == {"tau2"}
    assert graph["regression"] == {"tau2", "pooling"} and graph["effects"] == set()
    assert graph["binary"] == {"effects", "pooling", "tau2"}
    assert graph["bias"] == {"pooling", "regression"}
    assert graph["sensitivity"] == {"pooling", "binary"}
    assert graph["group"] == {"pooling", "effects", "binary"}
    assert graph["group_sensitivity"] == {"pooling", "bias", "sensitivity"}
    done: set[str] = set()

    def visit(m, path):
        assert m not in path, f"import circle: {' -> '.join((*path, m))}"
        if m in done or m not in graph:
            return
        for n in sorted(graph[m]):
            visit(n, (*path, m))
        done.add(m)

    for m in mods:
        visit(m, ())


def test_no_study_is_left_out_silently():
    """A NaN or infinite yi or vi is an error naming the study and the field (metafor's
    na.omit would drop it); empty cells of a batch come only from its mask."""
    d = DATA["bcg"]
    labels = [f"T{i}" for i in range(13)]
    for field, value in (("yi", np.nan), ("yi", np.inf), ("vi", np.nan), ("vi", -np.inf)):
        data = {"yi": list(d["yi"]), "vi": list(d["vi"])}
        data[field][4] = value
        with pytest.raises(ValueError, match=rf"study 5 \('T4'\): {field} is"):
            rma(data["yi"], data["vi"], slab=labels)
    with pytest.raises(ValueError, match=r"study 2 \('T1'\): vi = -0\.5; .*vi must be positive"):
        rma(d["yi"][:3], [0.1, -0.5, 0.2], slab=labels[:3])
    Y = np.array([[0.1, 0.2, np.nan], [0.3, 0.1, 0.2]])
    V = np.array([[0.1, 0.2, np.nan], [0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match=r"row 1, study 3: yi is nan .*mask"):
        rma_batch(Y, V)
    mask = np.array([[True, True, False], [True, True, True]])
    out = rma_batch(Y, V, mask)
    assert out["k"].tolist() == [2, 3]
    assert out["estimate"][0] == pytest.approx(rma([0.1, 0.2], [0.1, 0.2]).estimate)
    V[1, 1] = 0.0
    with pytest.raises(ValueError, match=r"row 2, study 2: vi = 0\.0"):
        rma_batch(Y, V, mask)


@pytest.mark.parametrize(
    ("yi", "vi"),
    [
        ([1e308, 0.1, 0.2], [0.1, 0.1, 0.1]),
        ([1e308, 1e308], [1.0, 1.0]),
        ([0.1, 0.2, 0.3], [1e-320, 0.1, 0.1]),
        ([0.1, 0.2, 0.3], [1e-300, 1e300, 0.1]),
        ([1e100, 0.2, 0.3], [1e-100, 0.1, 0.1]),
    ],
)
def test_values_too_large_are_an_error_not_nan(yi, vi):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning on the way
        with pytest.raises(ValueError, match="values too large to pool: yi from"):
            rma(yi, vi)
        with pytest.raises(ValueError, match=r"values too large to pool \(row 2\)"):
            rma_batch([[0.1, 0.2, 0.3], yi + [0.0] * (3 - len(yi))],
                      [[0.1, 0.1, 0.1], vi + [1.0] * (3 - len(vi))],
                      [[True] * 3, [True] * len(yi) + [False] * (3 - len(yi))])  # fmt: skip


def test_large_but_poolable_values_are_pooled():
    """Standardised internally, values far from 1 pool exactly as their scaled copy."""
    d = DATA["bcg"]
    y, v = np.asarray(d["yi"]), np.asarray(d["vi"])
    res = rma(y, v)
    for c in (1e-150, 1e100):
        big = rma(c * y, c * c * v)
        assert big.estimate / c == pytest.approx(res.estimate, rel=1e-10)
        assert big.tau2 / c**2 == pytest.approx(res.tau2, rel=1e-10)
        assert np.isclose(big.I2, res.I2, rtol=1e-10, atol=0)
