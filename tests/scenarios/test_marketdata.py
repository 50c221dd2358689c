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
