"""Market-model event study on a hand-built case with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests import scoring as sc

T = np.arange(-25, 6)  # estimation -25..-3 (pre = 2, length 20 -> -22..-3), event -2..5


def _window(alpha: float, beta: float, shocks: dict[int, float], seed: int):
    bench = pd.Series(np.random.default_rng(seed).normal(0, 0.01, T.size), index=T)
    rets = alpha + beta * bench
    for t, s in shocks.items():
        rets[t] += s
    return rets, bench


def _study(**kw):
    spec = {
        "deepseek": (0.001, 1.5, {0: -0.05, 1: -0.01}),
        "kospi": (0.0, 0.8, {0: 0.02}),
        "micron": (-0.0005, 1.1, {0: -0.04, 3: 0.01}),
    }
    rets, bench = {}, {}
    for k, (wid, (a, b, s)) in enumerate(spec.items()):
        rets[wid], bench[wid] = _window(a, b, s, seed=k)
    return sc.event_study(rets, bench, pre=2, post=5, estimation_length=20, **kw), rets, bench


def test_known_answer():
    res, _, _ = _study()
    # the market model is exact in the estimation window, so alpha/beta are recovered
    np.testing.assert_allclose(res.model["beta"], [1.5, 0.8, 1.1], rtol=1e-9)
    np.testing.assert_allclose(res.model["alpha"], [0.001, 0.0, -0.0005], atol=1e-12)
    # abnormal returns are the planted shocks, CAR their sums
    np.testing.assert_allclose(res.car, [-0.06, 0.02, -0.03], atol=1e-12)
    assert res.abnormal.loc[0, "deepseek"] == pytest.approx(-0.05)
    assert res.abnormal.loc[2, "kospi"] == pytest.approx(0.0, abs=1e-12)
    # CAAR = mean(-0.06, 0.02, -0.03) = -0.023333...
    # sd(ddof=1): deviations -0.036667, 0.043333, -0.006667; squares 0.0013444 + 0.0018778
    # + 0.0000444 = 0.0032667; / 2 -> 0.0016333; sd = 0.0404145; sd / sqrt(3) = 0.0233333
    # t = -0.0233333 / 0.0233333 = -1.0
    assert res.caar == pytest.approx(-0.07 / 3)
    sd = math.sqrt(((-0.06 + 0.07 / 3) ** 2 + (0.02 + 0.07 / 3) ** 2 + (-0.03 + 0.07 / 3) ** 2) / 2)
    assert res.t_stat == pytest.approx(-(0.07 / 3) / (sd / math.sqrt(3)), rel=1e-9)
    assert res.t_stat == pytest.approx(-1.0, rel=1e-9)
    assert 0 < res.p_value < 1
    assert res.n_events == 3 and res.fraction_positive == pytest.approx(1 / 3)
    assert list(res.aar.index) == list(range(-2, 6))
    assert res.aar.loc[0] == pytest.approx((-0.05 + 0.02 - 0.04) / 3)
    assert res.caar_path.iloc[-1] == pytest.approx(res.caar)
    assert res.dropped == {}


def test_short_estimation_window_is_dropped_with_reason():
    _, rets, bench = _study()
    rets["kospi"].loc[-22:-8] = np.nan  # only 5 estimation returns left
    res = sc.event_study(rets, bench, pre=2, post=5, estimation_length=20)
    assert res.dropped == {"kospi": "only 5 estimation returns (need 10)"}
    assert np.isnan(res.car["kospi"]) and res.n_events == 2
    assert res.caar == pytest.approx((-0.06 - 0.03) / 2)


def test_gap_moves_estimation_window():
    res, rets, bench = _study(gap=3)
    assert (res.model["n_estimation"] == 20).all()  # -25..-6 still inside the data
    np.testing.assert_allclose(res.car, [-0.06, 0.02, -0.03], atol=1e-12)


def test_bad_index_and_missing_benchmark():
    _, rets, bench = _study()
    with pytest.raises(ValueError, match="integer event time"):
        sc.event_study(
            {"x": pd.Series([0.1], index=pd.to_datetime(["2025-01-27"]))}, bench, pre=1, post=1, estimation_length=5
        )
    with pytest.raises(ValueError, match="no column for window"):
        sc.event_study(rets, {"deepseek": bench["deepseek"]}, pre=2, post=5, estimation_length=20)
