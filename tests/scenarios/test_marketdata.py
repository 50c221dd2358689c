"""A scenario as MarketData: stamps, the reference bar, daily bars, the SCENARIO label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.errors import ConfigError
from backtests.scenarios import (ScenarioSpec, generate, grid, is_scenario, kospi_crash_family, scenario_market_data,
                                 scenario_market_data_batch)


@pytest.fixture(scope="module")
def batch():
    fam = kospi_crash_family(sessions_after=1)
    return generate(ScenarioSpec(fam, grid(depth=[0.06, 0.1], shock_time="10:30"), replicates=2, seed=8))


def test_minute_bars_are_stamped_at_their_end_with_the_reference_close_first(batch):
    md = scenario_market_data(batch, 3)
    assert md.frequency == "1min" and md.synthetic and is_scenario(md)
    k = md.bars["^KS11"]
    assert k.index[0] == pd.Timestamp("2026-06-22 06:30", tz="UTC")  # previous KRX close
    assert k["close"].iloc[0] == pytest.approx(9114.55) and k["volume"].iloc[0] == 0
    assert k.index[1] == pd.Timestamp("2026-06-23 00:01", tz="UTC")  # the 09:00-09:01 KST bar
    assert (k["open_time"].iloc[1:] == k.index[1:] - pd.Timedelta(minutes=1)).all()
    assert len(k) - 1 == np.count_nonzero(~np.isnan(batch.bars["^KS11"].close[3]))
    assert md.bars["EWY"].index[0] == pd.Timestamp("2026-06-22 20:00", tz="UTC")  # previous New York close
    btc = md.bars["BTC-USD"]
    assert {"long_liquidations_usd", "short_liquidations_usd"} <= set(btc.columns)
    assert md.info["MU"].source.startswith("scenario:kospi_crash:") and md.info["MU"].source.endswith("#3")
    assert md.warnings[0].startswith("SCENARIO kospi_crash seed=8")
    assert md.fx == {"KRW": "KRW=X"}
    usd = md.to_usd("000660.KS")  # KRW prices convert with the scenario's own USD/KRW path
    assert usd.notna().all()


def test_daily_bars_aggregate_each_session(batch):
    md = scenario_market_data(batch, 0, frequency="1D")
    assert md.frequency == "1D"
    k = md.bars["^KS11"]
    assert list(k.index) == [pd.Timestamp(f"2026-06-{d} 06:30", tz="UTC") for d in (22, 23, 24)]
    minute = scenario_market_data(batch, 0).bars["^KS11"]
    day = minute[(minute.index > k.index[0]) & (minute.index <= k.index[1])]
    assert k["open"].iloc[1] == day["open"].iloc[0] and k["close"].iloc[1] == day["close"].iloc[-1]
    assert k["low"].iloc[1] == day["low"].min() and k["high"].iloc[1] == day["high"].max()
    btc = md.bars["BTC-USD"]  # the reference (midnight) and the one complete UTC day, 2026-06-23
    assert list(btc.index) == [pd.Timestamp("2026-06-23", tz="UTC"), pd.Timestamp("2026-06-24", tz="UTC")]


def test_every_row_converts_and_rows_outside_are_refused(batch):
    assert len(scenario_market_data_batch(batch)) == len(batch)
    with pytest.raises(ConfigError, match="outside the batch"):
        scenario_market_data(batch, len(batch))


def _row_by_row_daily(batch, symbol, j):
    """The per-row construction the batch builder replaced (one pandas groupby per row), the oracle."""
    from backtests.data.frames import daily_bars
    from backtests.scenarios.marketdata import _daily_sessions
    from backtests.time.calendars import CRYPTO, get_market

    ab = batch.bars[symbol]
    sessions, session_of_bar, complete = _daily_sessions(batch, ab)
    t = ab.frame(j).drop(columns="auction")
    t["s"] = session_of_bar[~np.isnan(ab.close[j])]
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
           **{k: "sum" for k in ab.extra}}
    g = t.groupby("s").agg(agg)
    g = g[complete[g.index.to_numpy()]]
    g.index = sessions[g.index.to_numpy()]
    g["auction"] = 0.0
    ref_date = pd.Timestamp(ab.reference_time, tz="UTC").tz_convert(get_market(ab.market).tz).tz_localize(None)
    if ab.market == CRYPTO:
        ref_date -= pd.Timedelta(days=1)
    ref = {c: 0.0 for c in g.columns} | {c: ab.reference for c in ("open", "high", "low", "close")} | {"auction": 1.0}
    return daily_bars(pd.concat([pd.DataFrame([ref], index=[ref_date.normalize()]), g]), ab.market)


@pytest.mark.parametrize("bar, before, after", [("1min", 0, 1), ("5min", 1, 0)])
def test_frames_cut_from_the_batch_equal_a_groupby_of_each_row(bar, before, after):
    """Daily bars from the batch's one groupby and minute frames cut from arrays are exactly the
    frames a per-row construction gives (values, dtypes, stamps, column order), for every asset,
    crypto included (its liquidation columns, complete UTC days only)."""
    from backtests.data.frames import intraday_bars
    from backtests.scenarios.episodes import Episodes

    fam = kospi_crash_family(bar=bar, sessions_before=before, sessions_after=after)
    b = generate(ScenarioSpec(fam, grid(depth=[0.05, 0.12], rebound=[0.0, 1.0], shock_time="10:30"), seed=3))
    episodes = Episodes(b)
    for j in range(len(b)):
        md = episodes.data(j)
        for a in fam.assets:
            pd.testing.assert_frame_equal(md.bars[a.symbol], _row_by_row_daily(b, a.symbol, j), check_exact=True)
            minute = intraday_bars(b.bars[a.symbol].frame(j), bar, stamped_at="close")
            pd.testing.assert_frame_equal(md.intraday[a.symbol], minute, check_exact=True)


def test_a_rows_window_is_the_window_made_for_its_own_event():
    """Rows share the window of their shock time (made once); each keeps its own id and event."""
    from backtests.scenarios.episodes import Episodes
    from backtests.time.windows import make_window

    fam = kospi_crash_family(("^KS11", "069500.KS"), sessions_before=1, sessions_after=2)
    b = generate(ScenarioSpec(fam, grid(depth=[0.05, 0.12], shock_time=["09:30", "13:15"]), seed=3))
    episodes = Episodes(b)
    for j in range(len(b)):
        w = episodes.window(j)
        own = make_window(w.event, fam.sessions_before, fam.sessions_after, f"scenario-{int(b.index[j])}")
        assert w.id == own.id == f"scenario-{int(b.index[j])}" and w.event.id == w.id
        assert w.event.time_utc == own.event.time_utc and (w.pre, w.post) == (own.pre, own.post)
        for f in ("sessions", "opens", "closes"):
            assert getattr(w, f).equals(getattr(own, f))
    assert len(episodes._windows) == 2
