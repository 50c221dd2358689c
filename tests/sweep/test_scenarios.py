"""The scenario sweep through the engine: hand-worked crash paths, determinism, chunking.

The KRX level-1 rule (docs/exchange.md, krx_cb_2015): KOSPI at or below -8% of the previous close
for one minute halts trading 20 minutes, then a 10-minute call auction prints at its end. A linear
fall of 9% from 10:00 to 10:30 KST (noise-free) has its first bar wholly at or below -8% at 10:27
(1 - 0.003 m <= 0.92 from m = 26.67), so the halt starts at 10:28 and the auction prints at 10:58.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.config.model import StudyConfig
from backtests.scenarios import AssetSpec, Link, RuleIndex, ScenarioFamily, ScenarioSpec, generate, grid
from backtests.scenarios.episodes import episode_data, episode_events, episode_window
from backtests.sweep.assemble import strategy_rules
from backtests.sweep.chunks import ChunkTask, compute_chunk
from strategies.fade_kospi_halt import FadeKospiHalt

DATE = "2026-06-23"
KS, KODEX, EWY = "^KS11", "069500.KS", "EWY"
FREE = {"commission_bps": 0.0, "slippage_bps": 0.0}
def kst(clock: str, date: str = DATE) -> pd.Timestamp:
    return pd.Timestamp(f"{date} {clock}").tz_localize("Asia/Seoul").tz_convert("UTC")


def family(after: int = 2) -> ScenarioFamily:
    """KOSPI (1,000) leading KODEX 200 (100, beta 1), EWY (50, beta 0.5); prices in USD (no FX)."""
    assets = (AssetSpec(KS, "XKRX", "index", "USD", 1000.0, 0.25, 0.4, 100.0),
              AssetSpec(KODEX, "XKRX", "etf", "USD", 100.0, 0.03, 0.4, 100.0),
              AssetSpec(EWY, "XNYS", "etf", "USD", 50.0, 0.3, 0.3, 100.0))
    return ScenarioFamily("hand", DATE, KS, assets, (Link(KS, KODEX, 1.0), Link(KS, EWY, 0.5)),
                          (RuleIndex("XKRX", KS, "KOSPI"),), sessions_after=after)


def config() -> StudyConfig:
    return StudyConfig.model_validate({
        "name": "hand", "windows": ["kospi_crash_2026"], "strategies": [{"name": "fade_kospi_halt"}],
        "costs": {"markets": {m: FREE for m in ("XKRX", "XNYS", "CRYPTO")}}})


def fade_params(**extra) -> pd.DataFrame:
    """One combination of the fade buying KODEX at the first chance after the halt, held one session."""
    s = FadeKospiHalt()
    row = {name: p.default for name, p in s.params.items()}
    row.update(use_catalogue=False, threshold=8.0, hold=1, **extra)
    row["entry"] = "reopen"  # KODEX 200 at the reopening auction
    g = pd.DataFrame([row])
    g.index.name = "combo"
    return g


def run(spec: ScenarioSpec, grid_: pd.DataFrame, j: int = 0):
    batch = generate(spec)
    data, window, events = episode_data(batch, j), episode_window(batch, j), episode_events(batch, j)
    s = FadeKospiHalt()
    sub = data.select(list(dict.fromkeys(s.symbols.values())))
    rules = strategy_rules(config(), s, sub, [window], events)
    block = compute_chunk(ChunkTask("fade", s, sub, events, grid_, [window], rules, None, keep_weights=False))[0]
    return batch, block


def quiet(**axes) -> ScenarioSpec:
    return ScenarioSpec(family(), grid(vol_multiplier=0.0, shock_time="10:00", time_to_trough=30, **axes), seed=3)


def test_episode_of_a_linear_fall_halts_at_1028_and_its_catalogue_holds_that_halt():
    batch = generate(quiet(depth=0.09))
    ev = episode_events(batch, 0)
    assert ev["kind"].tolist() == ["krx_circuit_breaker"]
    assert ev["time_utc"].iloc[0] == kst("10:28")
    data = episode_data(batch, 0)
    intra = data.intraday[KODEX]
    assert not intra.index[(intra.index > kst("10:28")) & (intra.index <= kst("10:58"))].size  # silent
    assert intra.loc[kst("10:59"), "open"] == pytest.approx(91.0)  # the auction print: the trough
    w = episode_window(batch, 0)
    assert w.id == "scenario-0" and w.shock is None and w.event.time_utc == kst("10:00")
    assert data.synthetic and data.info[KODEX].source.startswith("scenario:")


def test_fade_fills_at_the_reopening_auction_price_after_the_halt():
    batch, block = run(quiet(depth=0.09), fade_params())
    buy = block.orders[block.orders["side"] == "buy"].iloc[0]
    assert pd.Timestamp(int(buy["fill_time"]), tz="UTC") == kst("10:58")  # halt 10:28 + 20 + 10 minutes
    assert buy["fill_kind"] == "auction"
    assert buy["price"] == pytest.approx(91.0)  # KODEX 100 x the trough 0.91 (beta 1, no rebound)


def kodex_price(t_ns: int, depth: float, half_life: float) -> float:
    """KODEX on the noise-free path with a full rebound (docs/scenarios.md, the parametric crash):
    100 x (Ptr + (1 - Ptr)(1 - 2^(-t / half_life))) after the 10:30 trough, t in trading minutes
    (the 2026-06-23 session has 300 minutes from 10:30 to its 15:30 close; the next sessions add
    the minutes since their 09:00 open)."""
    t = pd.Timestamp(t_ns, tz="UTC").tz_convert("Asia/Seoul")
    day = t.strftime("%Y-%m-%d")
    days = {"2026-06-23": -90.0, "2026-06-24": 300.0, "2026-06-25": 300.0 + 390.0}  # minutes at each 09:00 open
    minutes = days[day] + (t.hour * 60 + t.minute - 540)
    ptr = 1.0 - depth
    return 100.0 * (ptr + (1.0 - ptr) * (1.0 - 2.0 ** (-minutes / half_life)))


def test_full_rebound_gives_the_fade_its_expected_return_to_rounding():
    depth, half_life = 0.09, 60.0
    batch, block = run(quiet(depth=depth, rebound=1.0, half_life=half_life), fade_params())
    o = block.orders.sort_values("fill_time")
    assert o["side"].tolist() == ["buy", "sell"]
    entry, exit_ = (float(x) for x in o["price"])
    t_in, t_out = (int(x) for x in o["fill_time"])
    assert entry == pytest.approx(kodex_price(t_in, depth, half_life), rel=1e-9)
    assert exit_ == pytest.approx(kodex_price(t_out, depth, half_life), rel=1e-9)
    expected = kodex_price(t_out, depth, half_life) / kodex_price(t_in, depth, half_life) - 1.0
    got = float(np.prod(1.0 + block.returns[:, 0]) - 1.0)
    assert got == pytest.approx(expected, abs=1e-9)
    assert expected > 0  # bought below where the full rebound takes it


def test_a_fall_that_never_reaches_the_threshold_does_not_trade():
    batch, block = run(quiet(depth=0.05), fade_params())
    assert not len(block.orders) and float(np.prod(1 + block.returns[:, 0]) - 1) == 0.0


def test_a_scenario_chunk_builds_its_rules_with_the_studys_borrow_overrides(monkeypatch):
    """execution.borrow_file reaches the scenario runs' exchange state as it reaches the study's."""
    import backtests.sweep.scenarios as sweep_scenarios
    from backtests.scoring.scenarios import run_metrics

    seen, real = [], sweep_scenarios.strategy_rules

    def recording(cfg, strategy, data, windows, events, borrow_overrides=()):
        seen.append(borrow_overrides)
        return real(cfg, strategy, data, windows, events)

    monkeypatch.setattr(sweep_scenarios, "strategy_rules", recording)
    marker = ("borrow rows of the study",)
    task = sweep_scenarios.ScenarioTask(quiet(depth=0.09), 0, 1, config(), (("fade", FadeKospiHalt(), fade_params()),),
                                        run_metrics, marker)
    sweep_scenarios.compute_scenario_chunk(task)
    assert seen == [marker]
