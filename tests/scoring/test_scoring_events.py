"""Events as the unit: clusters, calendar-time pooling, distinct trials, exact PBO ties, event-level
statistics and out of sample by cluster. Every expected number is derived here from the formula."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import norm, rankdata
from scipy.stats import t as student_t

from backtests import scoring as sc
from backtests.scoring.calendar_time import Span

T = pd.Timestamp


def span(i: str, a: str, b: str, shock: str | None = None) -> Span:
    return Span(i, T(a, tz="UTC"), T(b, tz="UTC"), shock)


# ----------------------------------------------------------------------------- clusters
def test_clusters_overlap_transitively_and_by_shock():
    spans = [
        span("w3", "2026-03-10", "2026-03-20"),
        span("w1", "2026-03-01", "2026-03-08"),
        span("w2", "2026-03-07", "2026-03-11"),  # links w1 and w3
        span("w4", "2026-05-01", "2026-05-03", shock="s"),
        span("w5", "2026-06-01", "2026-06-03", shock="s"),  # same shock, no overlap
        span("w6", "2026-07-01", "2026-07-02"),
    ]
    cl = sc.event_clusters(spans)
    assert cl.n == 3 and [r["windows"] for r in cl.records] == [["w1", "w2", "w3"], ["w4", "w5"], ["w6"]]
    assert [r["id"] for r in cl.records] == ["c1", "c2", "c3"]
    assert [r["reason"] for r in cl.records] == ["overlap", "same shock", "single"]
    assert list(cl.code) == [0, 0, 0, 1, 1, 2]
    assert cl.records[0]["start_utc"] == T("2026-03-01", tz="UTC").isoformat()
    assert cl.records[0]["end_utc"] == T("2026-03-20", tz="UTC").isoformat()


def test_touching_spans_overlap_but_disjoint_do_not():
    cl = sc.event_clusters([span("a", "2026-01-01", "2026-01-05"), span("b", "2026-01-05", "2026-01-06"),
                            span("c", "2026-01-07", "2026-01-08")])
    assert list(cl.code) == [0, 0, 1]


def test_window_objects_without_a_shock_attribute():
    class W:  # what backtests.time.windows.Window looks like before the data helper's `shock` lands
        def __init__(self, i, a, b):
            self.id, self.start_utc, self.end_utc = i, T(a, tz="UTC"), T(b, tz="UTC")

    spans = sc.spans_of([W("x", "2026-01-01", "2026-01-02")])
    assert spans[0].shock is None and spans[0].id == "x"


# ----------------------------------------------------------------------------- calendar pooling
def test_calendar_pool_equal_capital_mean_of_open_episodes():
    idx = pd.DatetimeIndex([T(f"2026-01-0{d} 21:00", tz="UTC") for d in range(1, 7)])
    # window A covers periods 1-4, window B periods 3-6, its period 4 has no return (other grid)
    spans = [span("A", "2026-01-01", "2026-01-04 22:00"), span("B", "2026-01-02 22:00", "2026-01-06 22:00")]
    a = [0.01, 0.02, 0.03, 0.04, np.nan, np.nan]
    b = [np.nan, np.nan, 0.05, np.nan, 0.06, -0.02]
    # two combos: combo 1 = combo 0 doubled
    values = np.column_stack([a, b, np.multiply(a, 2), np.multiply(b, 2)])
    pooled, rows = sc.calendar_pool(values, 2, 2, sc.open_mask(idx, spans))
    expect = [0.01, 0.02, (0.03 + 0.05) / 2, (0.04 + 0.0) / 2, 0.06, -0.02]
    assert list(rows) == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(pooled[:, 0], expect, rtol=0, atol=1e-15)
    np.testing.assert_allclose(pooled[:, 1], np.multiply(expect, 2), rtol=0, atol=1e-15)


def test_calendar_pool_drops_periods_with_no_open_episode_and_counts_each_once():
    idx = pd.DatetimeIndex([T("2026-01-01", tz="UTC") + pd.Timedelta(days=k) for k in range(5)])
    spans = [span("A", "2025-12-31", "2026-01-02"), span("B", "2025-12-31", "2026-01-02")]
    a = [0.1, 0.2, np.nan, np.nan, np.nan]
    values = np.column_stack([a, a])  # one combo, two identical overlapping windows
    pooled, rows = sc.calendar_pool(values, 1, 2, sc.open_mask(idx, spans))
    assert list(rows) == [0, 1]
    np.testing.assert_allclose(pooled[:, 0], [0.1, 0.2])  # not 4 periods, not doubled
    assert sc.total_return(pooled[:, 0]) == pytest.approx(1.1 * 1.2 - 1)


def test_distinct_columns_exact_nan_and_negative_zero():
    x = np.array([[0.1, 0.1, 0.1, 0.0, -0.0],
                  [np.nan, np.nan, 0.2, 0.3, 0.3],
                  [0.2, 0.2, 0.2, 0.1, 0.1]])
    d = sc.distinct_columns(x)
    assert list(d.code) == [0, 0, 1, 2, 2]
    assert list(d.first) == [0, 2, 3] and list(d.size) == [2, 1, 2]
    assert list(d.n_identical) == [2, 2, 1, 2, 2]
    y = x.copy()
    y[2, 1] = 0.2 + 1e-17  # rounds to 0.2: still identical; a real difference is not
    assert sc.distinct_columns(y).n == 3
    y[2, 1] = np.nextafter(0.2, 1.0)
    assert sc.distinct_columns(y).n == 4


# ----------------------------------------------------------------------------- PBO ties and DSR trials
def _pbo_reference(x: np.ndarray, s: int) -> float:
    """CSCV straight from the definition: Sharpe per column on the split's rows, first best on
    ties, OOS rank with ties averaged (scipy rankdata), w = r / (N + 1), PBO = share of logit <= 0."""
    blocks = np.array_split(np.arange(x.shape[0]), s)
    n = x.shape[1]
    logits = []
    for ins in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[b] for b in ins])
        oos_rows = np.concatenate([blocks[b] for b in range(s) if b not in ins])

        def sharpe(rows):
            # column by column, so bit-identical data gives bit-identical scores
            return np.array([x[rows, j].mean() / x[rows, j].std(ddof=1) for j in range(n)])

        best = int(np.argmax(sharpe(is_rows)))
        r = rankdata(sharpe(oos_rows))[best]
        w = r / (n + 1)
        logits.append(np.log(w / (1 - w)))
    return float(np.mean(np.array(logits) <= 0))


def test_pbo_hand_worked_exact_tie():
    # 2 blocks of 4 rows, 3 columns; columns 0 and 1 are identical in block A.
    a01 = [0.01, 0.02, 0.03, -0.01]
    x = np.array([
        a01 + [-0.01, -0.02, 0.0, 0.01],        # col 0: good in A, bad in B
        a01 + [0.02, 0.01, 0.03, 0.02],         # col 1: good in A (tied), good in B
        [0.0, 0.01, -0.01, 0.005] + [0.0, 0.01, 0.0, 0.006],  # col 2
    ]).T
    # split IS = A: tie between 0 and 1 -> the first (0); OOS (B) rank of col 0 is 1 -> w = 1/4 -> logit < 0.
    # split IS = B: best is col 1; OOS (A): col 2 lowest, cols 0 and 1 tie at 2 and 3 -> r = 2.5, w = 5/8 > 1/2.
    res = sc.probability_of_backtest_overfitting(x, n_blocks=2)
    assert res.pbo == 0.5
    np.testing.assert_allclose(np.sort(res.logits), np.sort([np.log(0.25 / 0.75), np.log(0.625 / 0.375)]))


def test_pbo_ties_are_exact_where_column_centring_broke_them():
    # seed 12: columns 0..2 share blocks 0-1 but have very different later means; before the fix,
    # centring each column on its own mean split the in-sample tie in the last bits (0.5 vs 1/3)
    rng = np.random.default_rng(12)
    x = np.repeat(rng.normal(0.001, 0.01, size=(20, 1)), 6, axis=1)
    x[10:, 1] = rng.normal(0.05, 0.01, 10)
    x[10:, 2] = rng.normal(-0.03, 0.02, 10)
    x[:, 3:] = rng.normal(0.0, 0.01, size=(20, 3))
    expect = _pbo_reference(x, 4)
    assert expect == pytest.approx(1 / 3)
    assert sc.probability_of_backtest_overfitting(x, n_blocks=4).pbo == expect


def _table(returns: pd.DataFrame) -> pd.DataFrame:
    table, _ = sc.metrics_table(returns, 252)
    return table


def test_dsr_counts_distinct_series_not_duplicates():
    rng = np.random.default_rng(5)
    base = rng.normal(0.001, 0.01, size=(60, 3))
    r = pd.DataFrame(np.column_stack([base, base[:, 0], base[:, 0]]), columns=list("abcde"))  # d, e copy a
    table = _table(r)
    ranked = sc.rank_sweep(table, 252, returns=r, n_blocks=4)
    assert (ranked["n_trials"] == 3).all() and (ranked["n_trials_raw"] == 5).all()
    assert ranked.loc["a", "n_identical"] == 3 and ranked.loc["b", "n_identical"] == 1
    sr = np.array([base[:, j].mean() / base[:, j].std(ddof=1) for j in range(3)])
    var = sr.var(ddof=1)
    gamma = 0.5772156649015329
    sr_star = np.sqrt(var) * ((1 - gamma) * norm.ppf(1 - 1 / 3) + gamma * norm.ppf(1 - 1 / (3 * np.e)))
    assert ranked["sharpe_star"].iloc[0] == pytest.approx(sr_star, rel=1e-12)
    x = base[:, 1]
    m = x - x.mean()
    skew = (m**3).mean() / (m**2).mean() ** 1.5
    kurt = (m**4).mean() / (m**2).mean() ** 2
    z = (sr[1] - sr_star) * np.sqrt(59) / np.sqrt(1 - skew * sr[1] + (kurt - 1) / 4 * sr[1] ** 2)
    assert ranked.loc["b", "dsr"] == pytest.approx(norm.cdf(z), rel=1e-9)
    # PBO ran on the 3 distinct columns only
    assert ranked["pbo"].iloc[0] == sc.probability_of_backtest_overfitting(r[["a", "b", "c"]], n_blocks=4).pbo


def test_every_combination_identical_gives_nan_with_reasons():
    x = np.random.default_rng(1).normal(0, 0.01, 40)
    r = pd.DataFrame({k: x for k in "abc"})
    ranked = sc.rank_sweep(_table(r), 252, returns=r, n_blocks=4)
    assert ranked["n_trials"].iloc[0] == 1 and ranked["n_trials_raw"].iloc[0] == 3
    assert ranked["dsr"].isna().all() and ranked["pbo"].isna().all()
    assert "every combination has the same returns" in ranked["notes"].iloc[0]


# ----------------------------------------------------------------------------- event-level statistics
R6 = np.array([0.05, -0.02, 0.03, 0.01, 0.04, -0.01])
G6 = np.array([0, 0, 1, 2, 2, 3])


def test_cluster_robust_t_from_the_formula_and_statsmodels():
    n, g = R6.size, 4
    e = R6 - R6.mean()
    s = np.bincount(G6, weights=e)
    se = np.sqrt(g / (g - 1) * (s**2).sum() / n**2)
    t = R6.mean() / se
    p = 2 * student_t.sf(abs(t), g - 1)
    table, reasons = sc.event_table(R6[None, :], np.ones((1, 6), bool), G6, 4)
    assert table["t_stat"].iloc[0] == pytest.approx(t, rel=1e-12)
    assert table["p_value"].iloc[0] == pytest.approx(p, rel=1e-12)
    t2, p2, why = sc.cluster_robust_t(R6, G6)
    assert (t2, p2, why) == (pytest.approx(t, rel=1e-12), pytest.approx(p, rel=1e-12), None)
    fit = sm.OLS(R6, np.ones((6, 1))).fit(cov_type="cluster", cov_kwds={"groups": G6}, use_t=True)
    assert fit.tvalues[0] == pytest.approx(t, rel=1e-12)
    assert table["mean"].iloc[0] == pytest.approx(R6.mean())
    assert table["median"].iloc[0] == pytest.approx(np.median(R6))
    assert reasons == [None]


def test_win_rate_counts_traded_episodes_only():
    traded = np.array([[True, True, False, True, False, True]])
    table, _ = sc.event_table(R6[None, :], traded, G6, 4)
    # traded returns 0.05, -0.02, 0.01, -0.01 -> 2 of 4 positive
    assert table["win_rate"].iloc[0] == 0.5 and table["n_traded"].iloc[0] == 4


def test_event_level_degenerate_inputs_are_nan_with_reasons():
    one = np.zeros(3, dtype=np.int64)
    table, reasons = sc.event_table(np.array([[0.1, 0.2, -0.1]]), np.ones((1, 3), bool), one, 1)
    assert np.isnan(table["t_stat"].iloc[0]) and "one cluster" in reasons[0]
    table, reasons = sc.event_table(np.zeros((1, 3)), np.zeros((1, 3), bool), np.arange(3), 3)
    assert np.isnan(table["win_rate"].iloc[0]) and "no episode traded" in reasons[0]
    assert np.isnan(table["t_stat"].iloc[0]) and not np.isinf(table.to_numpy(dtype=float)).any()
    ev = sc.event_level(np.array([0.1, 0.2, -0.1]), np.ones(3, bool), one, ["c1"],
                        n_resamples=200, confidence=0.95, seed=0)
    assert ev["t_stat"] is None and ev["ci_low"] is None and "one cluster" in ev["nan_reason"]
    assert ev["sign_test_p"] == 1.0  # one cluster, mean 0.0667 > 0: binomial P(X >= 1 | n=1) two-sided = 1


def test_sign_test_on_cluster_means():
    # cluster means: (0.05-0.02)/2 > 0, 0.03 > 0, (0.01+0.04)/2 > 0, -0.01 < 0: 3 of 4 positive
    means = sc.cluster_means(R6[None, :], G6, 4)[0]
    np.testing.assert_allclose(means, [0.015, 0.03, 0.025, -0.01])
    p, why = sc.cluster_sign_test(means)
    assert p == pytest.approx(2 * (comb(4, 3) + comb(4, 4)) / 2**4) and why is None


def test_cluster_bootstrap_resamples_clusters_and_is_seeded():
    lo, hi, why = sc.cluster_bootstrap_ci(R6, G6, 2000, 0.9, seed=7)
    assert why is None
    # every resample mean is a weighted mean of cluster means: inside their range
    assert -0.01 <= lo <= hi <= 0.03
    assert (lo, hi) == sc.cluster_bootstrap_ci(R6, G6, 2000, 0.9, seed=7)[:2]
    # the same draws by hand: G clusters drawn with replacement, mean over their episodes
    rng = np.random.default_rng(np.random.SeedSequence([7, 4, 6]))
    draws = rng.integers(0, 4, size=(2000, 4))
    sums, counts = np.bincount(G6, weights=R6), np.bincount(G6).astype(float)
    means = sums[draws].sum(1) / counts[draws].sum(1)
    assert (lo, hi) == tuple(np.quantile(means, [0.05, 0.95]))


# ----------------------------------------------------------------------------- small-sample inference
R5 = np.array([0.05, -0.02, 0.03, 0.01, 0.04])
G5 = np.array([0, 0, 1, 2, 2])  # three clusters of 2, 1 and 2 episodes


def test_three_clusters_t_interval_from_the_formula():
    """G = 3: the interval is mean +- t(2, 0.975) * CR1 SE, not the range of the cluster means."""
    n, g = 5, 3
    mean = R5.mean()  # 0.022
    e = R5 - mean
    s_g = np.array([e[0] + e[1], e[2], e[3] + e[4]])  # cluster sums of deviations
    se = np.sqrt(g / (g - 1) * (s_g**2).sum() / n**2)
    crit = student_t.ppf(0.975, g - 1)  # 4.303, not 1.96
    assert crit == pytest.approx(4.3026527297, rel=1e-10)  # tables: 4.303
    ev = sc.event_level(R5, np.ones(5, bool), G5, ["c1", "c2", "c3"], n_resamples=500, confidence=0.95, seed=1)
    assert ev["ci_low"] == pytest.approx(mean - crit * se, rel=1e-12)
    assert ev["ci_high"] == pytest.approx(mean + crit * se, rel=1e-12)
    assert ev["df"] == 2 and ev["ci_method"] == sc.episodes.CI_T
    t = mean / se
    assert ev["t_stat"] == pytest.approx(t, rel=1e-12)
    assert ev["p_value"] == pytest.approx(2 * student_t.sf(abs(t), 2), rel=1e-12)
    # what a bootstrap over 3 clusters gives: never wider than the cluster means' range
    cm = sc.cluster_means(R5[None, :], G5, 3)[0]
    lo, hi, _ = sc.cluster_bootstrap_ci(R5, G5, 2000, 0.95, seed=1)
    assert cm.min() <= lo and hi <= cm.max()
    assert ev["ci_low"] < cm.min() and ev["ci_high"] > cm.max()


def test_interval_excludes_zero_exactly_when_the_test_rejects():
    for shift in np.linspace(-0.05, 0.05, 41):
        ev = sc.event_level(R5 + shift, np.ones(5, bool), G5, ["a", "b", "c"], n_resamples=10, confidence=0.95, seed=0)
        excludes = ev["ci_low"] > 0 or ev["ci_high"] < 0
        assert excludes == (ev["p_value"] < 0.05), shift


def test_balanced_clusters_t_interval_is_the_cluster_means_interval():
    """Equal cluster sizes: CR1 equals the t interval of the G cluster means (sd ddof=1 / sqrt(G))."""
    r = np.array([0.01, 0.03, -0.02, 0.00, 0.05, 0.04])
    g = np.array([0, 0, 1, 1, 2, 2])
    cm = np.array([0.02, -0.01, 0.045])
    half = student_t.ppf(0.95, 2) * cm.std(ddof=1) / np.sqrt(3)
    ci = sc.mean_interval(r, g, confidence=0.9, n_resamples=10, seed=0)
    assert (ci["low"], ci["high"]) == (pytest.approx(cm.mean() - half, rel=1e-12), pytest.approx(cm.mean() + half, rel=1e-12))


def test_bootstrap_only_from_thirty_clusters():
    rng = np.random.default_rng(3)
    r = rng.normal(0.01, 0.02, 60)
    few = sc.mean_interval(r[:29], np.arange(29), confidence=0.95, n_resamples=200, seed=0)
    many = sc.mean_interval(r[:30], np.arange(30), confidence=0.95, n_resamples=200, seed=0)
    assert sc.MIN_BOOTSTRAP_CLUSTERS == 30
    assert few["method"] == sc.episodes.CI_T and few["df"] == 28
    assert many["method"] == sc.episodes.CI_BOOTSTRAP and many["df"] is None
    assert (many["low"], many["high"]) == sc.cluster_bootstrap_ci(r[:30], np.arange(30), 200, 0.95, 0)[:2]


def test_shock_slope_cluster_robust_with_t_on_g_minus_1_df():
    x = np.array([-0.15, -0.06, -0.10, -0.10, -0.06, np.nan])
    y = np.array([0.18, 0.06, 0.10, 0.04, -0.01, 0.5])  # the last episode has no shock: left out
    g = np.array([0, 0, 1, 2, 2, 3])
    fit = sc.shock_slope(x, y, g, 0.95)
    X = np.column_stack([np.ones(5), x[:5]])
    b = np.linalg.solve(X.T @ X, X.T @ y[:5])
    u = y[:5] - X @ b
    meat = np.zeros((2, 2))
    for k in range(3):
        sk = X[g[:5] == k].T @ u[g[:5] == k]
        meat += np.outer(sk, sk)
    bread = np.linalg.inv(X.T @ X)
    se = np.sqrt((bread @ meat @ bread)[1, 1] * 3 / 2 * 4 / 3)
    crit = student_t.ppf(0.975, 2)
    assert fit["slope"] == pytest.approx(b[1], rel=1e-12) and fit["intercept"] == pytest.approx(b[0], rel=1e-12)
    assert fit["se"] == pytest.approx(se, rel=1e-12) and fit["df"] == 2 and fit["n"] == 5 and fit["n_clusters"] == 3
    assert (fit["ci_low"], fit["ci_high"]) == (pytest.approx(b[1] - crit * se, rel=1e-12),
                                               pytest.approx(b[1] + crit * se, rel=1e-12))
    assert fit["p_value"] == pytest.approx(2 * student_t.sf(abs(b[1] / se), 2), rel=1e-12)
    ols = sm.OLS(y[:5], X).fit(cov_type="cluster", cov_kwds={"groups": g[:5]}, use_t=True)
    assert fit["se"] == pytest.approx(ols.bse[1], rel=1e-10)
    np.testing.assert_allclose([fit["ci_low"], fit["ci_high"]], ols.conf_int(0.05)[1], rtol=1e-10)


def test_shock_slope_needs_three_clusters_for_an_interval():
    fit = sc.shock_slope(np.array([-0.1, -0.05, -0.02]), np.array([0.1, 0.04, 0.01]), np.array([0, 0, 1]), 0.95)
    assert fit["slope"] is not None and fit["ci_low"] is None and "3 clusters" in fit["nan_reason"]
    fit = sc.shock_slope(np.array([-0.1, np.nan]), np.array([0.1, 0.2]), np.array([0, 1]), 0.95)
    assert fit["slope"] is None and "fewer than 3 episodes" in fit["nan_reason"]


# ----------------------------------------------------------------------------- out of sample
def test_leave_one_cluster_out_and_walk_forward_by_hand():
    # 3 clusters, 2 rows each; 2 combos. Score = mean of the training rows.
    pooled = np.array([[0.03, 0.01], [0.03, 0.01],     # c1: combo 0 better
                       [-0.02, 0.01], [-0.02, 0.01],   # c2: combo 1 better
                       [0.00, 0.02], [0.00, 0.02]])    # c3: combo 1 better
    row_cluster = np.array([0, 0, 1, 1, 2, 2])
    cl_means = np.array([[0.05, -0.03, 0.01], [0.02, 0.02, 0.04]])  # episode means per cluster
    counts = np.array([2, 1, 1])
    out = sc.out_of_sample(row_cluster, cl_means, counts, ["c1", "c2", "c3"],
                           lambda m: pooled[m].mean(axis=0), best=1, params=lambda c: {"k": c}, min_train=1)
    loco = out["loco"]
    # hold out c1: train c2+c3 -> combo 1 (0.015 > -0.01); c2: c1+c3 -> 0.015 vs 0.015 tie -> first (0);
    # c3: c1+c2 -> 0.005 vs 0.01 -> combo 1
    assert [p["chosen_combo"] for p in loco["per_cluster"]] == [1, 0, 1]
    held = [0.02, -0.03, 0.04]
    assert [p["return"] for p in loco["per_cluster"]] == held
    assert loco["mean"] == pytest.approx(np.mean(held)) and loco["win_rate"] == pytest.approx(2 / 3)
    assert loco["in_sample_mean"] == pytest.approx(np.mean([0.02, 0.02, 0.04]))
    assert loco["gap"] == pytest.approx(np.mean([0.02, 0.02, 0.04]) - np.mean(held))
    assert loco["per_cluster"][0]["n_events"] == 2 and loco["per_cluster"][1]["chosen_params"] == {"k": 0}
    wf = out["walk_forward"]
    # c2 trained on c1 -> combo 0 -> -0.03; c3 trained on c1+c2 -> combo 1 -> 0.04
    assert [p["cluster"] for p in wf["per_cluster"]] == ["c2", "c3"]
    assert [p["return"] for p in wf["per_cluster"]] == [-0.03, 0.04]
    assert wf["in_sample_mean"] == pytest.approx(0.03) and wf["min_train_clusters"] == 1


def test_out_of_sample_with_one_cluster_is_nan_with_reason():
    out = sc.out_of_sample(np.zeros(3, np.int64), np.array([[0.1]]), np.array([3]), ["c1"],
                           lambda m: np.array([1.0]), best=0, params=lambda c: {}, min_train=2)
    assert out["loco"]["mean"] is None and "2 clusters" in out["loco"]["nan_reason"]
    assert out["walk_forward"]["mean"] is None and out["walk_forward"]["nan_reason"]
