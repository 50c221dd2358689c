"""PSR, DSR, expected max Sharpe, PBO (CSCV) and the stationary bootstrap."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from backtests import scoring as sc
from backtests.scoring.trust import EULER_GAMMA


def test_psr_hand_computed():
    # sr = 0.1 per period, n = 253, skew = -0.5, raw kurtosis = 4
    # variance term: 1 - (-0.5)(0.1) + (4 - 1)/4 * 0.1^2 = 1 + 0.05 + 0.0075 = 1.0575
    # z = 0.1 * sqrt(252) / sqrt(1.0575) = 1.5874507866 / 1.0283481901 = 1.5436899700
    # PSR = Phi(1.5436899700) = 0.93866827
    got = sc.probabilistic_sharpe_ratio(0.1, 253, -0.5, 4.0)
    assert got == pytest.approx(0.9386682713496021, rel=1e-12)
    assert got == pytest.approx(norm.cdf(1.5436899699759195), rel=1e-12)


def test_psr_benchmark_and_vectorized():
    got = sc.probabilistic_sharpe_ratio(np.array([0.1, 0.1]), 253, -0.5, 4.0, sr_benchmark=np.array([0.0, 0.1]))
    assert got[1] == pytest.approx(0.5)
    assert got[0] == pytest.approx(0.9386682713496021)
    assert np.isnan(sc.probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0))


def test_expected_max_sharpe_hand_computed():
    # trial Sharpe ratios 0.05, 0.10, -0.02, 0.03, 0.08: mean 0.048, var (ddof=1) 0.00217
    # sqrt(V) = 0.0465832588
    # Phi^-1(1 - 1/5) = 0.8416212336, Phi^-1(1 - 1/(5e)) = 1.4496656592
    # E[max] = 0.0465832588 * ((1 - 0.5772156649) * 0.8416212336 + 0.5772156649 * 1.4496656592)
    #        = 0.0465832588 * (0.3558250 + 0.8367797) = 0.0555549150
    assert sc.expected_max_sharpe(5, 0.00217) == pytest.approx(0.05555491498712355, rel=1e-12)
    assert sc.expected_max_sharpe(1, 0.5) == 0.0
    with pytest.raises(ValueError):
        sc.expected_max_sharpe(0, 0.1)
    assert EULER_GAMMA == pytest.approx(0.5772156649015329)


def test_dsr_hand_computed():
    # returns alternate 0.0012 +- 0.01 over 500 periods: mean 0.0012, population sd 0.01,
    # sample sd 0.01 * sqrt(500/499); skew 0; raw kurtosis 1 (a two-point distribution).
    n = 500
    r = 0.0012 + 0.01 * np.tile([1.0, -1.0], n // 2)
    sr = 0.0012 / (0.01 * math.sqrt(500 / 499))  # 0.11988...
    assert sc.sharpe(r, 1) == pytest.approx(sr, rel=1e-12)
    assert sc.skew(r) == pytest.approx(0.0, abs=1e-9) and sc.kurtosis(r) == pytest.approx(1.0)
    trials_annual = np.array([0.05, 0.10, -0.02, 0.03, 0.08]) * math.sqrt(252)
    sr_star = 0.05555491498712355  # from test_expected_max_sharpe_hand_computed
    # variance term: 1 - 0 * sr + (1 - 1)/4 * sr^2 = 1, so z = (sr - sr*) * sqrt(499)
    z = (sr - sr_star) * math.sqrt(499)
    got = sc.deflated_sharpe_ratio(r, trials_annual, trial_periods_per_year=252)
    assert got == pytest.approx(norm.cdf(z), rel=1e-9)
    per_period = sc.deflated_sharpe_ratio(pd.Series(r), trials_annual / math.sqrt(252))
    assert per_period == pytest.approx(got, rel=1e-12)


# ------------------------------------------------------------------------------------------ PBO


def test_pbo_pure_noise_is_near_half():
    rng = np.random.default_rng(7)
    pbos = [sc.probability_of_backtest_overfitting(rng.normal(0, 0.01, (240, 40))).pbo for _ in range(10)]
    assert 0.35 <= float(np.mean(pbos)) <= 0.65


def test_pbo_real_edge_is_near_zero():
    rng = np.random.default_rng(8)
    x = rng.normal(0, 0.01, (240, 40))
    x[:, 17] += 0.006  # a strong edge in every block
    result = sc.probability_of_backtest_overfitting(x)
    assert result.pbo <= 0.05
    assert result.n_splits == 70 and result.n_blocks == 8 and result.logits.shape == (70,)
    # the best column wins in and out of sample: rank N of N -> logit ln(N/1)
    assert np.all(result.logits == pytest.approx(math.log(40 / 1)))


def test_pbo_generic_metric_matches_sharpe_fast_path():
    rng = np.random.default_rng(9)
    x = pd.DataFrame(rng.normal(0.0002, 0.01, (100, 12)))
    fast = sc.probability_of_backtest_overfitting(x, n_blocks=6)
    slow = sc.probability_of_backtest_overfitting(
        x, n_blocks=6, metric=lambda a: np.nanmean(a, 0) / np.nanstd(a, 0, ddof=1)
    )
    np.testing.assert_allclose(fast.logits, slow.logits)
    assert fast.n_splits == math.comb(6, 3)
    assert 0 <= sc.probability_of_backtest_overfitting(x, metric="total_return").pbo <= 1


@pytest.mark.parametrize(
    ("shape", "blocks", "message"),
    [((100, 5), 7, "even"), ((6, 5), 8, "exceeds"), ((100, 1), 8, "at least 2 columns")],
)
def test_pbo_errors(shape, blocks, message):
    with pytest.raises(ValueError, match=message):
        sc.probability_of_backtest_overfitting(np.zeros(shape), n_blocks=blocks)
    with pytest.raises(ValueError, match="unknown PBO metric"):
        sc.probability_of_backtest_overfitting(np.zeros((20, 3)), metric="nope")


# ------------------------------------------------------------------------------------ bootstrap


def test_bootstrap_coverage_of_true_sharpe():
    rng = np.random.default_rng(11)
    true_sr = 0.1  # per period: mean 0.001, sd 0.01
    x = rng.normal(0.001, 0.01, (250, 200))
    ci = sc.bootstrap_ci(x, 1, n_resamples=1000, seed=5)
    covered = ((ci["sharpe_lower"] <= true_sr) & (true_sr <= ci["sharpe_upper"])).mean()
    assert 0.88 <= covered <= 0.99
    # total return: true expected growth per period 1.001 -> (1.001)^250 - 1, roughly
    assert (ci["total_return_lower"] < ci["total_return_upper"]).all()
    assert (ci["block_length"] >= 1).all()


def test_bootstrap_is_seeded_and_per_column_independent():
    rng = np.random.default_rng(12)
    df = pd.DataFrame(rng.normal(0.0005, 0.01, (120, 4)), columns=list("abcd"))
    one = sc.bootstrap_ci(df, 252, seed=3)
    two = sc.bootstrap_ci(df, 252, seed=3)
    pd.testing.assert_frame_equal(one, two)
    alone = sc.bootstrap_ci(df["b"], 252, seed=3)
    np.testing.assert_allclose(alone.to_numpy(), one.loc["b"].to_numpy())
    assert not sc.bootstrap_ci(df, 252, seed=4).equals(one)


def test_bootstrap_total_return_matches_explicit_resampling():
    from arch.bootstrap import StationaryBootstrap

    rng = np.random.default_rng(13)
    r = rng.normal(0.001, 0.02, 60)
    r[5] = -1.2  # a leveraged loss beyond -100 %: sign handling
    ci = sc.bootstrap_ci(r, 252, n_resamples=300, seed=1, block_length=3)
    gen = np.random.default_rng(np.random.SeedSequence([1, 60, 3]))
    bs = StationaryBootstrap(3.0, r, seed=gen)
    tr = np.array([np.prod(1 + d[0]) - 1 for d, _ in bs.bootstrap(300)])
    assert ci["total_return_lower"] == pytest.approx(np.percentile(tr, 2.5), rel=1e-9)
    assert ci["total_return_upper"] == pytest.approx(np.percentile(tr, 97.5), rel=1e-9)


def test_bootstrap_short_and_flat_columns():
    df = pd.DataFrame({"short": [0.01, 0.02, np.nan, np.nan] + [np.nan] * 16, "flat": np.zeros(20)})
    ci = sc.bootstrap_ci(df, 252)
    assert ci.loc["short"].drop("n_periods").isna().all() and ci.loc["short", "n_periods"] == 2
    assert np.isnan(ci.loc["flat", "sharpe_lower"])
    assert ci.loc["flat", "total_return_lower"] == 0 == ci.loc["flat", "total_return_upper"]


def test_bootstrap_thousand_runs_is_fast():
    rng = np.random.default_rng(14)
    df = pd.DataFrame(rng.normal(0, 0.01, (200, 1000)))
    start = time.perf_counter()
    sc.bootstrap_ci(df, 252, n_resamples=1000, seed=0)
    assert time.perf_counter() - start < 10.0
