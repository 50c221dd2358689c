"""memory_pair_earnings: exact weights on hand-built data, bad parameters, look-ahead, real Micron replay."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.time.calendars import sessions
from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData
from backtests.errors import StrategyError
from backtests.strategy import StrategyContext, expand_grid
from backtests.audit import assert_no_lookahead
from backtests.time.windows import Catalogue, load_event_file
from strategies.memory_pair_earnings import MemoryPairEarnings
from strat_fixtures import changes, daily, events_frame, fixing, info, session_dates, shared, weights

MU, HY, FX = "MU", "000660.KS", "KRW=X"
REPORT = "2024-09-25"  # after the New York close; t = 0 is 2024-09-26


def krx(day: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day} 06:30", tz="UTC")


def nyse(day: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day} 20:00", tz="UTC")


def earnings(*days: str) -> pd.DataFrame:
    rows = []
    for d in days:
        close = sessions("XNYS", d, d)["close"].iloc[0]
        rows.append({"id": f"mu_{d}", "kind": "micron_earnings", "market": "XNYS", "date": d,
                     "time_utc": close + pd.Timedelta(minutes=1), "scheduled": True, "timing": "after_close"})
    return events_frame(rows)


def make_data(mu_jump: dict[str, float] | None = None, hy_jump: dict[str, float] | None = None,
              start: str = "2024-05-01") -> MarketData:
    """MU and Hynix (KRW, USD/KRW near 1000 at New York noon) wiggle deterministically around flat
    levels, so the spread's z-score stays within +-2 unless a jump is added.

    ``*_jump``: {local date: factor} applied to that date's close only, or from that date on when
    the key ends with ``+``.
    """
    nd = session_dates("XNYS", start, "2024-10-31")
    kd = session_dates("XKRX", start, "2024-10-31")

    def jumps(dates: pd.DatetimeIndex, spec: dict[str, float] | None) -> np.ndarray:
        out = np.ones(len(dates))
        for key, x in (spec or {}).items():
            d = pd.Timestamp(key.rstrip("+"))
            out *= np.where(dates >= d, x, 1.0) if key.endswith("+") else np.where(dates == d, x, 1.0)
        return out

    mu = 100 * np.exp(0.004 * np.sin(0.9 * np.arange(len(nd)))) * jumps(nd, mu_jump)
    hy = 130_000 * np.exp(0.004 * np.cos(1.3 * np.arange(len(kd)))) * jumps(kd, hy_jump)
    fxd = session_dates("XNYS", pd.Timestamp(start) - pd.Timedelta(days=10), "2024-10-31")
    fxv = 1000 * (1 + 0.001 * np.sin(np.arange(len(fxd))))
    return MarketData(
        bars={MU: daily("XNYS", nd, close=mu), HY: daily("XKRX", kd, close=hy), FX: fixing(fxd, fxv)},
        info={MU: info(MU, "XNYS"), HY: info(HY, "XKRX", "KRW"), FX: info(FX, "XNYS", kind="fx")},
        fx={"KRW": FX})


#: The hand-built year (2024) lies inside the KRX short-sale ban 2023-11-06..2025-03-30: the signal
#: cases leave banned shorts to the engine (``short_bans: engine``); the ban cases below use ``skip``.
BASE = {"lookback": 60, "entry_z": 3.0, "exit_z": 2.0, "stop_z": 0.0, "pre_sessions": 1, "post_sessions": 3,
        "short_bans": "engine"}


def legs(w: pd.DataFrame) -> dict[pd.Timestamp, tuple[float, float]]:
    return {t: (round(float(r[MU]), 12), round(float(r[HY]), 12)) for t, r in changes(w).iterrows()}


def zscores(data: MarketData, lookback: int = 60) -> pd.Series:
    s = MemoryPairEarnings()
    ctx = StrategyContext(data, s.symbols, None)
    return pd.Series(s.spread_stats(ctx, [lookback])[0][:, 0], index=ctx.index)


def test_quiet_spread_stays_within_two_sigma():
    z = zscores(make_data()).dropna()
    assert len(z) > 100 and z.abs().max() < 2.0  # the scenarios below rely on it


# ------------------------------------------------------------------------------- exact weights
def test_seoul_reacts_first_short_hynix_long_mu_then_exit_when_it_reverts():
    data = make_data(hy_jump={"2024-09-26": 1.10})
    w = weights(MemoryPairEarnings(), data, BASE, events=earnings(REPORT))
    # Hynix's +10% is known at Seoul's close on 09-26, hours before MU trades: Hynix rich -> short it,
    # long MU. Still rich at New York's close; back in line at Seoul's next close: exit.
    assert legs(w) == {krx("2024-09-26"): (0.5, -0.5), krx("2024-09-27"): (0.0, 0.0)}
    assert list(w.columns) == [MU, HY]


def test_skip_takes_no_entry_that_shorts_hynix_during_a_ban():
    # the same dislocation as above asks to short Hynix on 2024-09-26: banned (krx_ban_2023_all)
    data = make_data(hy_jump={"2024-09-26": 1.10})
    w = weights(MemoryPairEarnings(), data, {**BASE, "short_bans": "skip"}, events=earnings(REPORT))
    assert (w.to_numpy() == 0).all()
    # Hynix cheap instead: long Hynix, short MU (no US ban on Micron): taken
    data = make_data(hy_jump={"2024-09-26": 0.90})
    w = weights(MemoryPairEarnings(), data, {**BASE, "short_bans": "skip"}, events=earnings(REPORT))
    assert legs(w) == {krx("2024-09-26"): (-0.5, 0.5), krx("2024-09-27"): (0.0, 0.0)}


def test_short_blocked_follows_the_dated_bans_of_each_leg():
    from backtests.strategy import StrategyContext

    data = make_data(start="2024-05-01")
    ctx = StrategyContext(data, MemoryPairEarnings().symbols, earnings(REPORT))
    blocked = MemoryPairEarnings().short_blocked(ctx, "hynix")
    assert blocked.all()  # every stamp of the hand-built span (2024-05..10) is inside the ban
    assert not MemoryPairEarnings().short_blocked(ctx, "mu").any()


def test_gross_exposure_scales_both_legs():
    data = make_data(hy_jump={"2024-09-26": 1.10})
    w = weights(MemoryPairEarnings(), data, {**BASE, "gross": 1.6}, events=earnings(REPORT))
    assert legs(w)[krx("2024-09-26")] == (0.8, -0.8)


def test_no_event_no_trade_and_dislocations_outside_the_window_are_ignored():
    data = make_data(hy_jump={"2024-09-26": 1.10})
    assert (weights(MemoryPairEarnings(), data, BASE, events=None).to_numpy() == 0).all()
    # the same report a month later: the 09-26 dislocation is outside its window
    assert (weights(MemoryPairEarnings(), data, BASE, events=earnings("2024-10-23")).to_numpy() == 0).all()


def test_pre_sessions_open_the_window_before_the_report():
    # a Hynix-only dislocation on Seoul's 09-24 session (t = -2 in New York sessions), reverting next day
    data = make_data(hy_jump={"2024-09-24": 1.10})
    w1 = weights(MemoryPairEarnings(), data, {**BASE, "pre_sessions": 1}, events=earnings(REPORT))
    assert (w1.to_numpy() == 0).all()  # window opens after New York's 09-24 close
    w3 = weights(MemoryPairEarnings(), data, {**BASE, "pre_sessions": 3}, events=earnings(REPORT))
    assert legs(w3) == {krx("2024-09-24"): (0.5, -0.5), krx("2024-09-25"): (0.0, 0.0)}


def test_window_end_forces_the_exit():
    # Hynix jumps and MU never follows: the spread stays dislocated until the window closes
    data = make_data(hy_jump={"2024-09-26+": 1.10})
    w = weights(MemoryPairEarnings(), data, {**BASE, "post_sessions": 2}, events=earnings(REPORT))
    assert legs(w) == {krx("2024-09-26"): (0.5, -0.5), nyse("2024-09-27"): (0.0, 0.0)}


def test_stop_when_the_dislocation_widens():
    s = MemoryPairEarnings()
    ctx = StrategyContext(make_data(), s.symbols, None)
    b = s.spread_stats(ctx, [60])[1][ctx.index.get_loc(nyse("2024-09-26")), 0]
    # Hynix +10% at Seoul's close (entry), then MU moves at New York's close so that the hedged spread
    # log(hy) - b log(mu) widens further (b is this world's hedge ratio, estimated on the same window)
    data = make_data(hy_jump={"2024-09-26+": 1.10}, mu_jump={"2024-09-26+": 0.9 if b > 0 else 1.1})
    z = zscores(data)
    z_in, z_wide = z[krx("2024-09-26")], z[nyse("2024-09-26")]
    assert 3.0 < z_in < z_wide
    w = weights(s, data, {**BASE, "stop_z": (z_in + z_wide) / 2}, events=earnings(REPORT))
    assert legs(w) == {krx("2024-09-26"): (0.5, -0.5), nyse("2024-09-26"): (0.0, 0.0)}
    # with a stop further out, the same data holds the position through New York's close
    w = weights(s, data, {**BASE, "stop_z": z_wide + 1.0}, events=earnings(REPORT))
    assert w.loc[nyse("2024-09-26"), HY] == -0.5


def test_beta_neutral_sizes_from_an_independent_regression():
    data = make_data(hy_jump={"2024-09-26": 1.10})
    w = weights(MemoryPairEarnings(), data, {**BASE, "neutral": "beta", "gross": 1.0}, events=earnings(REPORT))
    # OLS slope of Hynix-in-USD log returns on MU log returns, 60 returns at MU's closes up to 09-25
    mu = data.series(MU)
    hy_usd = data.to_usd(HY)
    grid = mu.index[mu.index < krx("2024-09-26")][-61:]
    x = np.diff(np.log(mu.reindex(grid).to_numpy()))
    y = np.diff(np.log(hy_usd.reindex(hy_usd.index.union(grid)).ffill().reindex(grid).to_numpy()))
    b = np.clip(np.polyfit(x, y, 1)[0], 0.2, 5.0)
    t = krx("2024-09-26")
    assert w.loc[t, HY] == pytest.approx(-1.0 / (1 + b), rel=1e-9)
    assert w.loc[t, MU] == pytest.approx(b / (1 + b), rel=1e-9)
    assert abs(w.loc[t, MU]) + abs(w.loc[t, HY]) == pytest.approx(1.0)


def test_zscore_matches_an_independent_computation():
    data = make_data(hy_jump={"2024-09-26+": 1.10})
    s = MemoryPairEarnings()
    ctx = StrategyContext(data, s.symbols, None)
    z, b = s.spread_stats(ctx, [40])
    t = krx("2024-09-26")
    i = ctx.index.get_loc(t)
    mu, hy_usd = data.series(MU), data.to_usd(HY)
    grid = mu.index[mu.index < t][-41:]  # window ends at the last MU close before the decision
    lm = np.log(mu.reindex(grid).to_numpy())
    lh = np.log(hy_usd.reindex(hy_usd.index.union(grid)).ffill().reindex(grid).to_numpy())
    beta = np.polyfit(np.diff(lm), np.diff(lh), 1)[0]
    spread = lh[1:] - beta * lm[1:]
    now = np.log(hy_usd[t]) - beta * np.log(mu.iloc[mu.index.get_indexer([grid[-1]])[0]])
    assert b[i, 0] == pytest.approx(beta, rel=1e-9)
    assert z[i, 0] == pytest.approx((now - spread.mean()) / spread.std(ddof=1), rel=1e-9)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("combo, needle", [
    ({"entry_z": 1.0, "exit_z": 1.5}, "exit_z"), ({"entry_z": 2.0, "exit_z": 2.0}, "exit_z"),
    ({"entry_z": 3.0, "stop_z": 2.5}, "stop_z"), ({"pre_sessions": 0, "post_sessions": 0}, "window"),
])
def test_check_params_rejects_inconsistent_combinations(combo, needle):
    with pytest.raises(ValueError, match=needle):
        MemoryPairEarnings.check_params({**BASE, **combo})


@pytest.mark.parametrize("spec, needle", [
    ({"lookback": 5}, "lookback"), ({"pre_sessions": -1}, "pre_sessions"), ({"neutral": "delta"}, "neutral"),
    ({"gross": 0}, "gross"), ({"entry_z": "high"}, "entry_z"),
])
def test_bad_parameters_are_rejected_by_name(spec, needle):
    with pytest.raises(StrategyError, match=needle):
        expand_grid(MemoryPairEarnings.params, spec, "memory_pair_earnings")


def test_weights_refuse_an_invalid_grid():
    data = make_data()
    with pytest.raises(ValueError, match="exit_z"):
        weights(MemoryPairEarnings(), data, {"entry_z": 1.0, "exit_z": 2.0})


def test_roles():
    s = MemoryPairEarnings()
    assert s.traded_symbols == [MU, HY]
    assert s.required_series() == {MU: ("close",), HY: ("close",)}


# ------------------------------------------------------------------------------- look-ahead
@lru_cache(maxsize=1)
def random_world() -> MarketData:
    rng = np.random.default_rng(11)
    nd = session_dates("XNYS", "2024-03-01", "2024-12-31")
    kd = session_dates("XKRX", "2024-03-01", "2024-12-31")
    days = pd.date_range("2024-02-20", "2025-01-05", freq="D")
    f = pd.Series(np.exp(np.cumsum(rng.normal(0, 0.02, len(days)))), index=days)
    mu = 100 * f.reindex(nd).to_numpy() * np.exp(rng.normal(0, 0.01, len(nd)))
    hy = 2e5 * f.shift(1).bfill().reindex(kd).to_numpy() * np.exp(rng.normal(0, 0.015, len(kd)))
    fxd = session_dates("XNYS", "2024-02-20", "2024-12-31")
    fxv = 1350 * np.exp(np.cumsum(rng.normal(0, 0.003, len(fxd))))
    return MarketData(
        bars={MU: daily("XNYS", nd, close=mu), HY: daily("XKRX", kd, close=hy), FX: fixing(fxd, fxv)},
        info={MU: info(MU, "XNYS"), HY: info(HY, "XKRX", "KRW"), FX: info(FX, "XNYS", kind="fx")},
        fx={"KRW": FX})


EVENTS = ("2024-06-26", "2024-09-25", "2024-12-18")


@settings(max_examples=12, deadline=None)
@given(cut=st.floats(0.1, 0.95), offset_min=st.sampled_from([0, 1, -1, 300]),
       lookback=st.sampled_from([10, 30]), entry=st.sampled_from([0.5, 1.0]), exit_=st.sampled_from([0.0, 0.3]),
       pre=st.integers(0, 4), post=st.integers(1, 5), neutral=st.sampled_from(["dollar", "beta"]))
def test_no_lookahead_property(cut, offset_min, lookback, entry, exit_, pre, post, neutral):
    data = random_world()
    idx = data.index
    t = idx[int(cut * (len(idx) - 1))] + pd.Timedelta(minutes=offset_min)
    params = {"lookback": lookback, "entry_z": entry, "exit_z": exit_, "stop_z": [0.0, 2.5],
              "pre_sessions": pre, "post_sessions": post, "neutral": neutral}
    assert_no_lookahead(MemoryPairEarnings(), data, params, cuts=[t], events=earnings(*EVENTS), seed=pre)


def test_no_lookahead_around_a_report():
    cuts = [nyse("2024-09-25"), krx("2024-09-26"), krx("2024-09-26") + pd.Timedelta(hours=8), nyse("2024-09-27")]
    params = {"lookback": 20, "entry_z": [0.5, 1.0], "exit_z": 0.0, "pre_sessions": [0, 2], "post_sessions": 3}
    assert_no_lookahead(MemoryPairEarnings(), random_world(), params, cuts=cuts, events=earnings(*EVENTS))


# ------------------------------------------------------------------------------- real replay
@lru_cache(maxsize=1)
def real_data() -> MarketData:
    mu = pd.read_csv(shared("equities", "MU.csv"), parse_dates=["date"], index_col="date")[["open", "high", "low", "close"]]
    hy = pd.read_csv(shared("equities", "000660.KS.csv"), parse_dates=["Date"], index_col="Date")
    hy = hy[["Open", "High", "Low", "Close"]].set_axis(["open", "high", "low", "close"], axis=1)
    fx = pd.read_csv(shared("fx", "USDKRW_FRED_DEXKOUS.csv"), parse_dates=["date"], index_col="date")["value"]
    start = hy.index.min() - pd.Timedelta(days=30)
    mu, fx = mu.loc[start:], fx.loc[start:]
    return MarketData(
        bars={MU: daily_bars(mu.astype("float64"), "XNYS"), HY: daily_bars(hy.astype("float64"), "XKRX"),
              # DEXKOUS is the New York NOON rate: known at 12:00 America/New_York, not at a Seoul close
              FX: fixing(fx.index, fx.to_numpy(dtype="float64"))},
        info={MU: info(MU, "XNYS"), HY: info(HY, "XKRX", "KRW"), FX: info(FX, "XNYS", kind="fx")},
        fx={"KRW": FX})


def real_events(where: dict[str, list[str]] | None = None) -> pd.DataFrame:
    cat = Catalogue()
    load_event_file(cat, shared("events", "micron_earnings_dates.csv"), kind="micron_earnings", market="XNYS",
                    where=where)
    return cat.frame()


REAL = {"lookback": 30, "entry_z": 2.0, "exit_z": 0.5, "stop_z": 4.0, "pre_sessions": 1, "post_sessions": 3}


def test_replay_hynix_is_valued_with_the_previous_new_york_noon_fixing():
    data = real_data()
    fx = data.series(FX)
    t = krx("2026-06-25")
    krw = data.series(HY)[t]
    assert fx.index[fx.index <= t][-1] == pd.Timestamp("2026-06-24 16:00", tz="UTC")  # 12:00 EDT of 06-24
    assert data.to_usd(HY)[t] == pytest.approx(krw / fx[pd.Timestamp("2026-06-24 16:00", tz="UTC")])


def test_replay_trades_sit_in_the_earnings_windows():
    data, ev = real_data(), real_events()
    s = MemoryPairEarnings()
    w = weights(s, data, REAL, events=ev)
    ctx = StrategyContext(data, s.symbols, ev)
    inside, _ = s.entry_windows(ctx, REAL["pre_sessions"], REAL["post_sessions"])
    held = (w.abs().sum(axis=1) > 0).to_numpy()
    assert held.any()
    assert not (held & ~inside).any()  # never holding outside a window (the exit decision is the window's end)
    # every entry is long one leg and short the other, dollar neutral
    c = changes(w)
    opens = c[c.abs().sum(axis=1) > 0]
    assert ((opens[MU] * opens[HY]) < 0).all() and np.allclose(opens.abs().sum(axis=1), 1.0)


def test_replay_micron_2026_06_24_seoul_reacts_first():
    data, ev = real_data(), real_events()
    w = weights(MemoryPairEarnings(), data, REAL, events=ev)
    hy, mu = data.series(HY), data.series(MU)
    # the data: Hynix +11% on Seoul's 06-25 session, MU +16% in New York later that day
    assert hy[krx("2026-06-25")] / hy[krx("2026-06-24")] - 1 > 0.10
    assert mu[nyse("2026-06-25")] / mu[nyse("2026-06-24")] - 1 > 0.15
    # flat before the report, then at Seoul's close: short the rich Hynix, long MU (which has not traded yet)
    assert (w.loc[:nyse("2026-06-24")].loc["2026-06-01":].to_numpy() == 0).all()
    assert tuple(w.loc[krx("2026-06-25"), [MU, HY]]) == (0.5, -0.5)
    # out by the window's end (t = 2: New York's 2026-06-29 close)
    assert (w.loc[nyse("2026-06-29"):].loc[:"2026-07-31"].to_numpy() == 0).all()


def test_replay_the_study_chooses_the_calendar_rows():
    data = real_data()
    everything = weights(MemoryPairEarnings(), data, REAL, events=real_events())
    sourced = weights(MemoryPairEarnings(), data, REAL, events=real_events({"verification": ["both"]}))
    held_all = everything.abs().sum(axis=1) > 0
    held_src = sourced.abs().sum(axis=1) > 0
    assert held_src.sum() < held_all.sum()
    assert not (held_src & ~held_all).any()
    months = {str(t.tz_convert("UTC").date())[:7] for t in held_src.index[held_src]}
    assert months <= {"2025-06", "2025-07", "2025-12", "2026-06", "2026-07"}
