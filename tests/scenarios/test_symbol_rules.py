"""Single-stock rules on scenario paths (symbol_rules): KRX volatility interruptions, US LULD."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.scenarios import ScenarioSpec, generate, grid

from .helpers import krx_family, kst, with_us


def test_a_thirteen_percent_stock_fall_meets_a_static_volatility_interruption():
    # SK Hynix (beta 1.5) on KOSPI's linear -9% in 30 minutes: (1 - 0.003 m) ** 1.5 first reaches
    # 0.9 of the opening print (1 - 0.003 m <= 0.9 ** (2/3) = 0.93217, m >= 22.6) in the bar
    # [10:22, 10:23): a static VI at its end, a 2-minute call auction, its print at 10:25.
    fam = krx_family(betas=(1.0, 1.5, 1.0), symbol_rules=True)
    b = generate(ScenarioSpec(fam, grid(depth=0.09, shock_time="10:00", time_to_trough=30, vol_multiplier=0.0),
                              seed=1))
    ev = b.events(0)
    vi = ev[ev["code"] == "vi_static"]
    assert vi["symbol"].tolist() == ["000660.KS"]
    assert vi["time"].iloc[0].tz_convert("Asia/Seoul").strftime("%H:%M") == "10:23"
    f = kst(b, "000660.KS")
    assert "10:23" not in f.index and "10:24" not in f.index
    assert f.loc["10:25", "auction"] == 1
    assert f.loc["10:25", "open"] == pytest.approx(200000 * (1 - 0.003 * 25) ** 1.5)
    assert "10:23" in kst(b, "005930.KS").index  # Samsung (beta 1) falls 9%: no VI
    tl = b.timeline("XKRX", 0, symbol="000660.KS").frame()
    assert "call_vi" in tl["state"].tolist() and "halted" in tl["state"].tolist()
    assert not any(n.code == "scenario_symbol_rules_off" for n in b.notices)


def test_symbol_rules_off_is_named():
    b = generate(ScenarioSpec(krx_family(), grid(depth=0.09, vol_multiplier=0.0), seed=1))
    assert [n.code for n in b.notices] == ["scenario_symbol_rules_off"]
    assert b.symbol_timelines == {}


def test_us_stocks_get_luld_timelines():
    fam = with_us(after=0)
    fam = type(fam)(**{**fam.__dict__, "symbol_rules": True})
    b = generate(ScenarioSpec(fam, grid(depth=0.09, shock_time="10:00"), replicates=2, seed=5))
    assert set(b.symbol_timelines) == {"005930.KS", "000660.KS", "069500.KS", "EWY", "MU"}
    tl = b.timeline("XNYS", 1, symbol="MU")
    assert tl.symbol == "MU" and tl.market == "XNYS"
    assert np.isfinite(b.bars["MU"].close[1]).sum() > 300
