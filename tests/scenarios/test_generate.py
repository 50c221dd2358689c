"""Hand-worked scenario paths through the KRX rules (noise-free: vol_multiplier 0).

The KRX rule (docs/exchange.md, krx_cb_2015): KOSPI at or below -8% of the previous close for one
minute halts all trading for 20 minutes, then a 10-minute single-price call auction prints at its
end; levels 2 (-15%) and 3 (-20%) also need 1% below the previous level's trigger value; level 3
ends the day; levels 1-2 not after 14:50.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.errors import ConfigError
from backtests.exchange import krx_market_state
from backtests.scenarios import ScenarioSpec, generate, generate_chunks, grid
from .helpers import DATE, arrays, at, krx_family, kst, quiet, with_us

KRX = ("^KS11", "005930.KS", "000660.KS", "069500.KS")


def test_linear_fall_of_nine_percent_by_1030_halts_at_1028_and_reopens_by_auction_at_1058():
    # fall from 10:00 to 10:30, linear in price: level(m) = 1 - 0.003 m (m minutes after 10:00).
    # The first 1-minute bar lying entirely at or below 0.92 (its high is its open) starts at the
    # first whole minute with 1 - 0.003 m <= 0.92, m >= 26.67 -> 10:27; held for one minute -> 10:28.
    b = generate(quiet(depth=0.09, shock_time="10:00", time_to_trough=30))
    tl = b.timeline("XKRX", 0).frame()
    halted = tl[tl["state"] == "halted"]
    assert len(halted) == 1
    assert halted["start"].iloc[0] == pd.Timestamp(at("10:28"), tz="UTC")
    assert halted["end"].iloc[0] == pd.Timestamp(at("10:48"), tz="UTC")  # 20 minutes
    call = tl[tl["state"] == "call_reopen"]
    assert call["end"].iloc[0] == pd.Timestamp(at("10:58"), tz="UTC")  # 10-minute call auction
    assert call["uncross"].iloc[0] == pd.Timestamp(at("10:58"), tz="UTC")
    for sym in KRX:  # every asset of the market: nothing prints from 10:28 to 10:58
        f = kst(b, sym)
        silent = [t for t in f.index if "10:28" <= t < "10:58"]
        assert silent == [], sym
        assert f.loc["10:27", "auction"] == 0 and f.loc["10:58", "auction"] == 1
    kospi = kst(b, "^KS11")
    assert kospi.loc["10:27", "close"] == pytest.approx(1000 * (1 - 0.003 * 28))  # last print before the halt
    assert kospi.loc["10:58", "open"] == pytest.approx(910.0)  # auction print: the trough (no rebound)
    # Samsung follows with beta 1.2 on log moves: its auction print is 50000 * 0.91 ** 1.2
    assert kst(b, "005930.KS").loc["10:58", "open"] == pytest.approx(50000 * 0.91 ** 1.2)
    ev = b.events(0)
    assert ev["code"].tolist() == ["cb_level1"]
    assert ev["time"].iloc[0] == pd.Timestamp(at("10:28"), tz="UTC")


def test_volume_of_the_halt_is_carried_to_the_reopening_auction():
    b = generate(quiet(depth=0.09, shock_time="10:00", time_to_trough=30))
    f = kst(b, "005930.KS")
    # noise-free volume is 100 a minute; the auction bar collects the 30 halted/auction minutes + its own
    assert f.loc["10:30":"10:57"].empty
    assert f.loc["10:58", "volume"] == pytest.approx(100.0 * 31)
    assert f.loc["11:00", "volume"] == pytest.approx(100.0)


def test_fall_that_never_holds_eight_percent_for_a_minute_does_not_halt():
    # to -8% exactly at 10:30 then a fast full rebound: only the bar ending 10:30 touches the level
    b = generate(quiet(depth=0.08, shock_time="10:00", time_to_trough=30, rebound=1.0, half_life=1.0))
    assert b.halts.empty
    assert not kst(b, "^KS11").loc["10:00":"11:00"].empty
    assert len(kst(b, "^KS11")) == 380 + 1  # 380 continuous minutes and the closing print


def test_level_three_ends_the_day_after_levels_one_and_two():
    # -30% by 11:40 (0.3% a minute from 10:00). Level 1 fires at 10:28 (value: the 10:27 bar's close
    # 0.916), halt to 10:48, call to 10:58. Level 2: min(0.85, 0.916 * 0.99) = 0.85; the 10:58 bar
    # (0.826) is entirely below, so it fires at 10:59 (value 0.823): halt to 11:19, call to 11:29.
    # Level 3: min(0.80, 0.823 * 0.99) = 0.80; the 11:29 bar (0.733 to 0.730) fires it at 11:30: the day ends.
    b = generate(quiet(depth=0.30, shock_time="10:00", time_to_trough=100))
    ev = b.events(0)
    assert ev["code"].tolist() == ["cb_level1", "cb_level2", "cb_level3"]
    assert [t.tz_convert("Asia/Seoul").strftime("%H:%M") for t in ev["time"]] == ["10:28", "10:59", "11:30"]
    assert ev["value"].tolist() == pytest.approx([916.0, 823.0, 730.0])  # the proving bars' closes
    for sym in KRX:
        f = kst(b, sym)
        assert f.index[-1] == "11:29", sym  # the last print: the bar after the level-2 reopening
        assert "15:29" not in f.index  # no closing auction after a level-3 halt
    tl = b.timeline("XKRX", 0).frame()
    assert tl["state"].iloc[-1] == "halted" and tl["end"].iloc[-1] == pd.Timestamp(at("15:30"), tz="UTC")


def test_a_level_two_fall_that_stops_above_one_percent_under_its_trigger_does_not_reach_level_three():
    # -25% by 10:30: level 2 fires at 10:59 at 0.75; level 3 needs min(0.80, 0.75 * 0.99) = 0.7425
    b = generate(quiet(depth=0.25, shock_time="10:00", time_to_trough=30))
    assert b.events(0)["code"].tolist() == ["cb_level1", "cb_level2"]
    assert "15:29" in kst(b, "^KS11").index  # trading resumed at 11:29 and the close was auctioned


def test_krx_price_limit_clips_prints_at_thirty_percent():
    # SK Hynix with beta 1.5 on a 25% KOSPI fall: 0.75 ** 1.5 = 0.65, beyond the -30% limit
    b = generate(quiet(depth=0.25, shock_time="10:00", time_to_trough=30))
    f = kst(b, "000660.KS")
    assert f["low"].min() == pytest.approx(200000 * 0.7)
    assert f.loc["10:41", "open"] == pytest.approx(200000 * 0.7)  # level 1 at 10:11 (0.83% a minute): reopens 10:41
    assert kst(b, "^KS11")["low"].min() == pytest.approx(750.0)  # the index has no limit
    assert any(n.code == "scenario_price_limit" and n.symbol == "000660.KS" for n in b.notices)


def test_full_rebound_ends_at_the_starting_level():
    # rebound 1 with a 5-minute half-life: 2 ** (-(330 - ...) / 5) is below 1e-19 at the close
    b = generate(quiet(depth=0.06, shock_time="10:00", time_to_trough=20, rebound=1.0, half_life=5.0))
    for sym, price in (("^KS11", 1000.0), ("005930.KS", 50000.0), ("000660.KS", 200000.0)):
        assert kst(b, sym)["close"].iloc[-1] == pytest.approx(price, rel=1e-12)


def test_half_rebound_follows_its_half_life():
    b = generate(quiet(depth=0.06, shock_time="10:00", time_to_trough=20, rebound=0.5, half_life=30.0))
    f = kst(b, "^KS11")
    # trough 940 at 10:20; 30 minutes later half of the rebound (0.5 * 60 points) is recovered
    assert f.loc["10:20", "open"] == pytest.approx(940.0)
    assert f.loc["10:50", "open"] == pytest.approx(940.0 + 0.5 * 0.5 * 60.0)


def test_drift_and_opening_gap_shape_the_pre_shock_path():
    # gap -2% at the open, then +1% a session until 10:00 (60 of 390 minutes)
    b = generate(quiet(depth=0.05, shock_time="10:00", open_gap=-0.02, drift=0.01))
    f = kst(b, "^KS11")
    assert f.loc["09:00", "open"] == pytest.approx(980.0)
    assert f.loc["10:00", "open"] == pytest.approx(980.0 * np.exp(np.log1p(0.01) * 60 / 390))


def test_sessions_before_the_shock_drift_into_its_previous_close():
    # one session before: +1% a session from the reference close (1000); the shock session's previous
    # close is 1010 and depth, gap and the rules are measured from it
    fam = krx_family()
    fam = type(fam)(**{**fam.__dict__, "sessions_before": 1})
    b = generate(ScenarioSpec(fam, grid(depth=0.09, shock_time="10:00", time_to_trough=30, drift=0.01,
                                        vol_multiplier=0.0), seed=1))
    k = b.bars["^KS11"].frame(0)
    k.index = k.index.tz_convert("Asia/Seoul")
    assert k["open"].iloc[0] == pytest.approx(1000.0)
    assert k.loc["2026-06-22 15:30", "close"] == pytest.approx(1010.0)  # the closing print of 06-22
    assert k.loc["2026-06-23 09:01", "open"] == pytest.approx(1010.0)
    assert k["low"].min() == pytest.approx(1010.0 * 0.91)
    assert b.events(0)["threshold"].iloc[0] == pytest.approx(1010.0 * 0.92)


def test_generated_timeline_equals_the_exchange_api_on_the_printed_bars():
    # the scenario glue must derive exactly what krx_market_state derives from the same bars
    spec = ScenarioSpec(krx_family(), grid(depth=[0.085, 0.12, 0.2], shock_time=["09:30", "12:00", "14:40"],
                                           time_to_trough=[5, 60]), replicates=2, seed=11)
    b = generate(spec)
    checked = 0
    for j in range(len(b)):
        f = b.bars["^KS11"].frame(j)[["open", "high", "low", "close"]]
        ref = krx_market_state(f, 1000.0, DATE, bar="1min")
        got = b.day_timelines["XKRX"][0][j]
        assert np.array_equal(ref.edges, got.edges) and np.array_equal(ref.codes, got.codes)
        assert np.array_equal(ref.uncross, got.uncross)
        assert [(e.code, e.instant, e.value) for e in ref.events] == [(e.code, e.instant, e.value) for e in got.events]
        checked += bool(ref.events)
    assert checked > 5


def test_same_seed_same_bytes_and_a_different_seed_differs():
    spec = ScenarioSpec(with_us(), grid(depth=[0.05, 0.1], shock_time="11:00"), replicates=3, seed=5)
    a, b = arrays(generate(spec)), arrays(generate(spec))
    assert a.keys() == b.keys()
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    c = arrays(generate(ScenarioSpec(spec.family, spec.params, replicates=3, seed=6)))
    assert a["^KS11.close"].tobytes() != c["^KS11.close"].tobytes()


@pytest.mark.parametrize("streams", ["common", "independent"])
def test_chunked_generation_is_byte_identical_to_one_call(streams):
    spec = ScenarioSpec(with_us(), grid(depth=[0.06, 0.09, 0.13], shock_time=["09:40", "13:10"]),
                        replicates=4, seed=3, streams=streams)
    whole = generate(spec)
    parts = list(generate_chunks(spec, chunk=5))
    assert [len(p) for p in parts] == [5, 5, 5, 5, 4]
    w = arrays(whole)
    for k, arr in w.items():
        joined = np.concatenate([arrays(p)[k] for p in parts])
        assert joined.tobytes() == arr.tobytes(), k
    for s in range(whole.grids["XKRX"].n_sessions):
        for j in range(len(whole)):
            p, r = divmod(j, 5)
            x, y = whole.day_timelines["XKRX"][s][j], parts[p].day_timelines["XKRX"][s][r]
            assert np.array_equal(x.edges, y.edges) and x.events == y.events
    # a later slice alone is the same as the same rows of the whole
    tail = generate(spec, 17, 24)
    assert arrays(tail)["MU.close"].tobytes() == w["MU.close"][17:24].tobytes()


def test_common_random_numbers_share_noise_across_parameter_rows():
    spec = ScenarioSpec(krx_family(), grid(depth=[0.03, 0.04], shock_time="14:00", time_to_trough=30),
                        replicates=2, seed=9)
    b = generate(spec)
    k = b.bars["^KS11"].close
    # rows 0 and 2 are replicate 0 of two depths: before the shock (14:00) they are identical
    before = b.bars["^KS11"].starts < at("14:00")
    assert np.array_equal(k[0, before], k[2, before])
    assert not np.array_equal(k[0, before], k[1, before])


def test_five_minute_bars_aggregate_the_printed_minutes():
    one = generate(quiet(depth=0.09, shock_time="10:00", time_to_trough=30))
    five = generate(quiet(family=krx_family(bar="5min"), depth=0.09, shock_time="10:00", time_to_trough=30))
    f1, f5 = kst(one, "^KS11"), five.bars["^KS11"].frame(0)
    f5.index = (f5.index - pd.Timedelta(minutes=5)).tz_convert("Asia/Seoul").strftime("%H:%M")
    # [10:25, 10:30): prints 10:25-10:27 only (halt from 10:28)
    assert f5.loc["10:25", "open"] == f1.loc["10:25", "open"]
    assert f5.loc["10:25", "close"] == f1.loc["10:27", "close"]
    assert "10:30" not in f5.index and "10:50" not in f5.index
    assert f5.loc["10:55", "open"] == f1.loc["10:58", "open"] and f5.loc["10:55", "auction"] == 1
    assert f5.loc["15:25", "close"] == f1.loc["15:29", "close"]  # the closing print
    assert len(five.bars["^KS11"].starts) == 78


def test_shock_time_outside_the_session_is_refused_naming_the_row():
    with pytest.raises(ConfigError, match="row 1: shock_time 16:00 is outside the XKRX session"):
        generate(quiet(shock_time=["10:00", "16:00"]))


def test_propagation_moves_the_follower_by_beta_times_the_leader_d_minutes_later():
    fam = krx_family(betas=(1.2, 1.5, 1.0), delays=(5.0, 0.0, 0.0))
    b = generate(quiet(family=fam, depth=0.06, shock_time="10:00", time_to_trough=30))
    k, s = kst(b, "^KS11"), kst(b, "005930.KS")
    for clock in ("10:10", "10:20", "10:30", "11:00"):
        lead_then = (pd.Timestamp(f"{DATE} {clock}") - pd.Timedelta(minutes=5)).strftime("%H:%M")
        expected = 50000 * (k.loc[lead_then, "open"] / 1000.0) ** 1.2
        assert s.loc[clock, "open"] == pytest.approx(expected), clock
    assert s.loc["10:04", "open"] == pytest.approx(50000.0)  # the leader's fall has not arrived yet


def test_propagation_across_markets_arrives_at_the_next_open_as_a_gap():
    b = generate(ScenarioSpec(with_us(), grid(depth=0.06, shock_time="10:00", time_to_trough=30,
                                              vol_multiplier=0.0), seed=2))
    k = b.bars["^KS11"].frame(0)
    kospi_close = k[k.index <= pd.Timestamp(at("15:30"), tz="UTC")]["close"].iloc[-1]
    ewy = b.bars["EWY"].frame(0)
    first = ewy.iloc[0]
    assert ewy.index[0] == pd.Timestamp(f"{DATE} 09:31", tz="America/New_York")
    assert first["auction"] == 1
    assert first["open"] == pytest.approx(219.02 * (kospi_close / 1000.0) ** 0.5)
    assert ewy["close"].iloc[:390].nunique() == 1  # flat in New York: Seoul is closed
    mu = b.bars["MU"].frame(0).iloc[:390]  # the first New York session
    mu.index = (mu.index - pd.Timedelta(minutes=1)).tz_convert("America/New_York").strftime("%H:%M")
    assert mu.loc["09:30", "open"] == pytest.approx(1211.38)  # EWY's gap reaches MU 3 minutes later
    assert mu.loc["09:33", "open"] == pytest.approx(1211.38 * (first["open"] / 219.02) ** 0.8)


def test_us_market_state_comes_from_the_sp500_path():
    # KOSPI ends its session at 0.6 (level 3 at 10:03 KST); the S&P 500 opens at 0.6 ** (0.5 * 0.3) - 1
    # = -7.4%: level 1 (-7%) fires at the end of the first bar touching it (no persistence, 09:31 ET);
    # 15-minute halt, reopening print at 09:46
    fam = with_us(after=0)
    b = generate(ScenarioSpec(fam, grid(depth=0.40, open_gap=-0.30, shock_time="09:00", time_to_trough=60,
                                        vol_multiplier=0.0), seed=2))
    h = b.halts
    us = h[h["market"] == "XNYS"]
    assert len(us) == 1 and us["level"].iloc[0] == 1
    t = pd.Timestamp(us["time_ns"].iloc[0], tz="UTC").tz_convert("America/New_York")
    assert t.strftime("%H:%M") == "09:31"
    mu = b.bars["MU"].frame(0)
    ny = (mu.index - pd.Timedelta(minutes=1)).tz_convert("America/New_York").strftime("%H:%M")
    assert not any("09:31" <= x < "09:46" for x in ny)
    assert mu["auction"].to_numpy()[list(ny).index("09:46")] == 1


def test_crypto_trades_through_halts_and_carries_liquidations():
    b = generate(ScenarioSpec(with_us(), grid(depth=0.09, shock_time="10:00"), replicates=2, seed=4))
    btc = b.bars["BTC-USD"]
    assert not np.isnan(btc.close).any()  # no halts, no gaps
    assert set(btc.extra) == {"long_liquidations_usd", "short_liquidations_usd"}
    assert (btc.extra["long_liquidations_usd"] >= 0).all()


def test_a_date_that_is_not_a_session_is_refused():
    fam = krx_family()
    with pytest.raises(ConfigError, match="2026-06-03 is not a XKRX session"):  # local elections
        generate(ScenarioSpec(type(fam)(**{**fam.__dict__, "date": "2026-06-03"}), grid(), seed=1))


def test_the_spec_digest_follows_every_number():
    spec = quiet(depth=0.09)
    assert spec.digest() == quiet(depth=0.09).digest()
    assert spec.digest() != quiet(depth=0.091).digest()
    other = ScenarioSpec(spec.family, spec.params, seed=2)
    assert other.digest() != spec.digest()


def test_an_exam_day_shock_session_keeps_its_late_hours():
    # 2025-11-13 (CSAT): KRX opens 10:00 and closes 16:30 KST; the level-1 cut-off moves to 15:50
    fam = krx_family()
    fam = type(fam)(**{**fam.__dict__, "date": "2025-11-13"})
    b = generate(ScenarioSpec(fam, grid(depth=0.09, shock_time=["11:00", "15:40", "15:55"], time_to_trough=10,
                                        vol_multiplier=0.0), seed=1))
    k = b.bars["^KS11"].frame(0)
    assert k.index[0] == pd.Timestamp("2025-11-13 10:01", tz="Asia/Seoul")
    assert k.index[-1] == pd.Timestamp("2025-11-13 16:30", tz="Asia/Seoul")  # the closing print
    assert sorted(b.halts["row"].tolist()) == [0, 1]  # 15:55 falls past the 15:50 cut-off
    with pytest.raises(ConfigError, match="opens 10:00"):
        generate(ScenarioSpec(fam, grid(shock_time="09:30"), seed=1))
