"""Matched baselines: the same vehicles over the same spans at the same exposure, worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.engine.schedule import AssetBars
from backtests.scoring import matched

T = [pd.Timestamp(x, tz="UTC").value for x in ("2026-06-22 13:30", "2026-06-22 20:00", "2026-06-23 13:30",
                                                 "2026-06-23 20:00", "2026-06-24 13:30", "2026-06-24 20:00")]


def bars(opens, closes) -> AssetBars:
    """Three daily bars: opens at T[0], T[2], T[4], closes at T[1], T[3], T[5]."""
    return AssetBars(stamps=np.array(T[1::2]), open_times=np.array(T[0::2]), open=np.array(opens, float),
                     close=np.array(closes, float))


def fills(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["fill_time", "fill_kind", "symbol", "side", "size"]).assign(
        fill_time=lambda f: pd.to_datetime(f["fill_time"], utc=True))


def test_a_market_neutral_pair_by_hand():
    """Long A / short B at the 06-23 open, both closed at the 06-24 close; 1,000,000 USD of equity.

    A: buy 5,000 at the 100 open (w = +0.5); B: sell 2,000 at the 250 open (w = -0.5): gross 1.0, net 0.
    Held to the 06-24 close: A 110 (+10%), B 240 (-4%): 0.5 * 0.10 + (-0.5) * (-0.04) = 0.07.
    The fill prices of the orders (with slippage) do not matter: the bars' prices do.
    """
    o = fills([(T[2], "open", "A", "buy", 5000.0), (T[2], "open", "B", "sell", 2000.0),
               (T[5], "close", "A", "sell", 5000.0), (T[5], "close", "B", "buy", 2000.0)])
    ivs = matched.exposure_intervals(o)
    assert len(ivs) == 1 and (ivs[0].entry, ivs[0].exit) == (T[2], T[5])
    got = matched.matched_episode(ivs, {"A": bars([99, 100, 108], [99.5, 104, 110]),
                                        "B": bars([260, 250, 245], [255, 248, 240])},
                                  lambda t: 1_000_000.0, T[5])
    assert got["weights"] == {"A": pytest.approx(0.5), "B": pytest.approx(-0.5)}
    assert sum(abs(w) for w in got["weights"].values()) == pytest.approx(1.0)  # gross
    assert sum(got["weights"].values()) == pytest.approx(0.0)  # net
    assert got["return"] == pytest.approx(0.5 * (110 / 100 - 1) + (-0.5) * (240 / 250 - 1))
    assert got["return"] == pytest.approx(0.07) and got["traded"] and got["n_intervals"] == 1


def test_two_spans_compound_and_the_value_weights_the_second():
    """Long A on 06-22 close -> 06-23 close (104/99.5), flat, long again on 06-24 open -> close (110/108).
    The second span opens with the run's value then (1.04 x 1e6): 1.04e6 / 108 units = weight 1.0."""
    o = fills([(T[1], "close", "A", "buy", 10_050.25), (T[3], "close", "A", "sell", 10_050.25),
               (T[4], "open", "A", "buy", 1.04e6 / 108)])
    ivs = matched.exposure_intervals(o)
    assert [(iv.entry, iv.exit) for iv in ivs] == [(T[1], T[3]), (T[4], None)]
    idx = pd.DatetimeIndex(pd.to_datetime(T[1::2], utc=True))
    value = matched.value_path(pd.Series([0.0, 0.04, 0.01], index=idx), 1e6)  # the run's own returns
    assert value(T[1]) == 1e6 and value(T[4]) == pytest.approx(1.04e6)
    got = matched.matched_episode(ivs, {"A": bars([99, 100, 108], [99.5, 104, 110])}, value, T[5])
    first = 10_050.25 * 99.5 / 1e6  # the first span's weight
    assert got["return"] == pytest.approx((1 + first * (104 / 99.5 - 1)) * (1 + 1.0 * (110 / 108 - 1)) - 1)
    assert got["exit"] == T[5] and got["n_intervals"] == 2


def test_a_sleeve_keeps_its_weights_and_a_flat_episode_returns_zero():
    o = fills([(T[1], "close", "BTC", "buy", 6.0), (T[1], "close", "ETH", "buy", 400.0)])
    ivs = matched.exposure_intervals(o)
    got = matched.matched_episode(ivs, {"BTC": bars([1e5] * 3, [1e5, 1.1e5, 9e4]), "ETH": bars([1e3] * 3, [1e3, 900, 1.2e3])},
                                  lambda t: 1e6, T[5])  # still held at the window's last close
    assert got["weights"] == {"BTC": pytest.approx(0.6), "ETH": pytest.approx(0.4)}
    assert got["return"] == pytest.approx(0.6 * (9e4 / 1e5 - 1) + 0.4 * (1.2e3 / 1e3 - 1))
    assert matched.matched_episode([], {}, lambda t: 1e6, T[5]) == {
        "return": 0.0, "traded": False, "entry": None, "exit": None, "weights": {}, "n_intervals": 0}
    assert matched.label_of([{"A": 0.5, "B": -0.5}]) == "holding long A and short B over the same spans"


def test_a_rotation_keeps_its_sleeve_not_the_stablecoin_it_switched_into():
    """BTC 0.6 / ETH 0.4 bought at the 06-22 close, switched into USDT at the 06-23 close, back at the
    06-24 open, held to the end: one interval (never flat); the baseline holds the sleeve it built."""
    o = fills([(T[1], "close", "BTC", "buy", 6.0), (T[1], "close", "ETH", "buy", 400.0),
               (T[3], "close", "BTC", "sell", 6.0), (T[3], "close", "ETH", "sell", 400.0),
               (T[3], "close", "USDT", "buy", 1e6), (T[4], "open", "USDT", "sell", 1e6),
               (T[4], "open", "BTC", "buy", 6.0), (T[4], "open", "ETH", "buy", 400.0)])
    (iv,) = matched.exposure_intervals(o)
    assert set(iv.legs) == {"BTC", "ETH"} and iv.exit is None
    got = matched.matched_episode([iv], {"BTC": bars([1e5] * 3, [1e5, 1.1e5, 9e4]), "ETH": bars([1e3] * 3, [1e3, 900, 1.2e3]),
                                         "USDT": bars([1.0] * 3, [1.0] * 3)}, lambda t: 1e6, T[5])
    assert got["weights"] == {"BTC": pytest.approx(0.6), "ETH": pytest.approx(0.4)}
    assert got["return"] == pytest.approx(0.6 * (9e4 / 1e5 - 1) + 0.4 * (1.2e3 / 1e3 - 1))


def test_legs_that_fill_at_different_instants_are_one_position():
    """A KRX leg sold short at its close and a New York leg bought at its later close: both built before
    anything was reduced, so the pair's gross 1.0 and net 0 are kept."""
    o = fills([(T[1], "close", "HYNIX", "sell", 2000.0), (T[3], "close", "MU", "buy", 5000.0),
               (T[5], "close", "HYNIX", "buy", 2000.0), (T[5], "close", "MU", "sell", 5000.0)])
    (iv,) = matched.exposure_intervals(o)
    got = matched.matched_episode([iv], {"HYNIX": bars([250] * 3, [250, 245, 240]), "MU": bars([100] * 3, [99, 100, 110])},
                                  lambda t: 1e6, T[5])
    assert got["weights"] == {"HYNIX": pytest.approx(-0.5), "MU": pytest.approx(0.5)}
    assert got["return"] == pytest.approx(-0.5 * (240 / 250 - 1) + 0.5 * (110 / 100 - 1))
