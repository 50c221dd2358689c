"""fade_kospi_halt: exact weights on hand-built data, bad parameters, look-ahead, real 2026-06-23 replay."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.data.market_data import MarketData
from backtests.errors import StrategyError
from backtests.strategy import expand_grid
from backtests.audit import assert_no_lookahead
from strategies.fade_kospi_halt import FadeKospiHalt
from strat_fixtures import changes, daily, events_frame, info, intraday_bars, session_dates, shared, weights

KS, KODEX, EWY = "^KS11", "069500.KS", "EWY"
CRASH = pd.Timestamp("2024-08-05")


def krx(day: str) -> pd.Timestamp:
    """KRX close stamp (15:30 KST) of a local date."""
    return pd.Timestamp(f"{day} 06:30", tz="UTC")


def nyse(day: str) -> pd.Timestamp:
    """NYSE close stamp in summer (16:00 EDT)."""
    return pd.Timestamp(f"{day} 20:00", tz="UTC")


def make_data(kodex_open: bool = True, kodex_close: dict[str, float] | None = None,
              crash_days: dict[str, tuple[float, float]] | None = None,
              intraday: pd.DataFrame | None = None) -> MarketData:
    """Index flat at 100 (high 101, low 99) except crash days {date: (low, close)}; KODEX at 10; EWY at 50."""
    kd = session_dates("XKRX", "2024-07-01", "2024-08-30")
    nd = session_dates("XNYS", "2024-07-01", "2024-08-30")
    close, low, high = np.full(len(kd), 100.0), np.full(len(kd), 99.0), np.full(len(kd), 101.0)
    for day, (lo, cl) in (crash_days or {str(CRASH.date()): (91.0, 92.0)}).items():
        i = kd.get_loc(pd.Timestamp(day))
        low[i], close[i], high[i] = lo, cl, close[i - 1]
    kc = np.full(len(kd), 10.0)
    for day, px in (kodex_close or {}).items():
        kc[kd.get_loc(pd.Timestamp(day))] = px
    kcols = {"open": 10.0, "close": kc} if kodex_open else {"close": kc}
    bars = {
        KS: daily("XKRX", kd, open=close, high=high, low=low, close=close),
        KODEX: daily("XKRX", kd, **kcols),
        EWY: daily("XNYS", nd, open=50.0, close=50.0),
    }
    infos = {KS: info(KS, "XKRX", "KRW", "index"), KODEX: info(KODEX, "XKRX", "KRW", "etf"), EWY: info(EWY, "XNYS", kind="etf")}
    intra = {KS: intraday} if intraday is not None else {}
    return MarketData(bars=bars, info=infos, intraday=intra)


def halt_bars(day: str = "2024-08-05", trigger_low: float = 91.9, post_low: float = 91.5) -> pd.DataFrame:
    """5-minute index bars (previous close = 100) of one Seoul session: 09:00-10:50 KST, the halt
    as a gap to 11:20, then bars to 15:30.

    The 10:45-10:50 bar lies entirely at ``trigger_low + 0.05``: at or below 92 (-8%) it proves the
    KRX Level-1 rule (-8% held one minute): the halt fires at 10:46, proven at the bar's end, 10:50
    KST (01:50 UTC), inside the 20-minute halt (10:46-11:06; reopening auction to 11:16)."""
    start = pd.Timestamp(f"{day} 00:00", tz="UTC")  # 09:00 KST
    slots = np.concatenate([np.arange(22), np.arange(28, 78)])
    times = start + pd.to_timedelta(slots * 5, unit="min")
    low = np.where(slots < 21, 99.5, post_low)
    low[21] = trigger_low
    high = np.full(len(slots), 100.0)
    high[21] = trigger_low + 0.05
    table = pd.DataFrame({"open": 99.8, "high": high, "low": low, "close": np.maximum(low, 92.0)}, index=times)
    table.iloc[21, [0, 3]] = trigger_low + 0.05
    return intraday_bars(table, "5min")


def kodex_ewy(w: pd.DataFrame) -> dict[pd.Timestamp, tuple[float, float]]:
    c = changes(w)
    return {t: (float(r[KODEX]), float(r[EWY])) for t, r in c.iterrows()}


# ------------------------------------------------------------------------------- exact weights
def test_daily_trigger_kodex_enters_next_session_and_holds_n_sessions():
    w = weights(FadeKospiHalt(), make_data(), {"use_catalogue": False, "hold": 2})
    # decision at the crash day's close (the low is only known then); fills at 08-06's open;
    # sessions 08-06 and 08-07 held; the exit decided at 08-07's close fills at 08-08's open.
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-07"): (0.0, 0.0)}
    assert list(w.columns) == [KODEX, EWY]


def test_close_only_vehicle_counts_sessions_from_the_fill_at_close():
    w = weights(FadeKospiHalt(), make_data(kodex_open=False), {"use_catalogue": False, "hold": 2})
    # no open price: the fill is 08-06's close, so the sessions held are 08-07 and 08-08; the exit
    # is decided at the 08-07 close (scheduled) and fills at the 08-08 close (market-on-close)
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-07"): (0.0, 0.0)}


def test_hold_one_on_close_only_data_is_one_session_of_exposure():
    from backtests.engine.rules import Rules
    from backtests.engine.simulate import simulate
    from backtests.time.windows import Event, make_window

    md = make_data(kodex_open=False, kodex_close={"2024-08-06": 10.0, "2024-08-07": 11.0, "2024-08-08": 12.1})
    w = weights(FadeKospiHalt(), md, {"use_catalogue": False, "hold": 1})
    win = make_window(Event("c", "c", "custom", "XKRX", CRASH, "intraday"), 1, 5)
    usd = MarketData(bars=md.bars, info={**md.info, KODEX: info(KODEX, "XKRX", "USD", "etf")})  # no FX needed
    w = pd.concat({0: w[[KODEX, EWY]]}, axis=1)  # (combo, symbol) columns, as the engine takes them
    (res,) = simulate(usd, w, 1, [win], Rules.build(usd.info, [KODEX, EWY], entry="change"))  # free of costs
    o = res.orders
    assert pd.DatetimeIndex(o["fill_time"], tz="UTC").tolist() == [krx("2024-08-06"), krx("2024-08-07")]
    # bought at the 08-06 close, sold at the 08-07 close: one session (+10%), not two (+21%)
    assert np.prod(1 + res.returns[:, 0]) - 1 == pytest.approx(0.10, rel=1e-9)


def test_ewy_enters_the_same_new_york_session():
    w = weights(FadeKospiHalt(), make_data(), {"use_catalogue": False, "entry": "ny_open", "hold": 2})
    # Seoul's crash is known at 06:30 UTC; New York opens 13:30 UTC the same day: sessions 08-05, 08-06
    assert kodex_ewy(w) == {krx("2024-08-05"): (0.0, 1.0), nyse("2024-08-06"): (0.0, 0.0)}


@pytest.mark.parametrize("px, key", [(9.4, "stop_loss"), (10.9, "take_profit")])
def test_stop_loss_and_take_profit_exit_at_the_close_that_hits(px, key):
    params = {"use_catalogue": False, "hold": 5, "stop_loss": 5.0, "take_profit": 8.0}
    w = weights(FadeKospiHalt(), make_data(kodex_close={"2024-08-07": px}), params)
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-07"): (0.0, 0.0)}
    # the other level does not fire
    off = {**params, key: 0.0}
    w = weights(FadeKospiHalt(), make_data(kodex_close={"2024-08-07": px}), off)
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-12"): (0.0, 0.0)}


def test_intraday_trigger_decides_at_the_bar_before_the_halt():
    data = make_data(intraday=halt_bars())
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 2})
    t = pd.Timestamp("2024-08-05 01:50", tz="UTC")  # 10:50 KST, end of the bar that touched -8%
    assert t in w.index  # an extra decision stamp
    # KODEX's daily bar opened before the decision: it fills at that session's close; 08-06, 08-07 held
    assert kodex_ewy(w) == {t: (1.0, 0.0), krx("2024-08-07"): (0.0, 0.0)}
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 2, "entry": "ny_open"})
    assert kodex_ewy(w) == {t: (0.0, 1.0), nyse("2024-08-06"): (0.0, 0.0)}


def test_intraday_bars_take_precedence_over_the_daily_low():
    # the 5-minute bars never reach -8% (lowest -7.5%): no trigger, although the daily low is -9%
    data = make_data(intraday=halt_bars(trigger_low=92.5, post_low=92.5))
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "threshold": 8.0})
    assert (w.to_numpy() == 0).all()
    # the daily low (-9%) alone does trigger on a day without intraday bars
    w = weights(FadeKospiHalt(), make_data(), {"use_catalogue": False, "threshold": 8.0})
    assert w[KODEX].max() == 1.0


def test_catalogue_halt_triggers_at_its_time_only_when_enabled():
    ev = events_frame([{"id": "cb", "kind": "krx_circuit_breaker", "market": "XKRX", "date": "2024-07-25",
                        "time_utc": "2024-07-25 01:00"}])
    data = make_data(crash_days={"2024-08-05": (99.0, 100.0)})  # no price trigger at all
    w = weights(FadeKospiHalt(), data, {"use_catalogue": True, "hold": 2}, events=ev)
    t = pd.Timestamp("2024-07-25 01:00", tz="UTC")
    assert kodex_ewy(w) == {t: (1.0, 0.0), krx("2024-07-29"): (0.0, 0.0)}
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 2}, events=ev)
    assert (w.to_numpy() == 0).all()


def test_event_kind_names_the_catalogue_kind_that_triggers():
    ev = events_frame([
        {"id": "cb", "kind": "krx_circuit_breaker", "market": "XKRX", "date": "2024-07-25", "time_utc": "2024-07-25 01:00"},
        {"id": "l1", "kind": "circuit_breaker_level1", "market": "XKRX", "date": "2024-07-15",
         "time_utc": "2024-07-15 02:00"},
    ])
    data = make_data(crash_days={"2024-08-05": (99.0, 100.0)})  # no price trigger at all
    # default: krx_circuit_breaker only (bought at the 07-25 close, held 07-26 and 07-29)
    w = weights(FadeKospiHalt(), data, {"hold": 2}, events=ev)
    assert kodex_ewy(w) == {pd.Timestamp("2024-07-25 01:00", tz="UTC"): (1.0, 0.0), krx("2024-07-29"): (0.0, 0.0)}
    # event_kind: circuit_breaker_level1 only (bought at the 07-15 close, held 07-16 and 07-17)
    w = weights(FadeKospiHalt(), data, {"hold": 2, "event_kind": "circuit_breaker_level1"}, events=ev)
    assert kodex_ewy(w) == {pd.Timestamp("2024-07-15 02:00", tz="UTC"): (1.0, 0.0), krx("2024-07-17"): (0.0, 0.0)}
    # both kinds in one grid: each combination reads its own kind
    grid = expand_grid(FadeKospiHalt.params, {"hold": 2, "event_kind": ["krx_circuit_breaker", "circuit_breaker_level1"]},
                       "fade_kospi_halt")
    assert grid["event_kind"].tolist() == ["krx_circuit_breaker", "circuit_breaker_level1"]
    from backtests.strategy import StrategyContext
    s = FadeKospiHalt()
    both = s.target_weights(StrategyContext(data, s.symbols, ev), grid)
    assert both[0][KODEX].idxmax() == pd.Timestamp("2024-07-25 01:00", tz="UTC")
    assert both[1][KODEX].idxmax() == pd.Timestamp("2024-07-15 02:00", tz="UTC")


def test_threshold_above_the_drop_does_not_trigger():
    w = weights(FadeKospiHalt(), make_data(), {"use_catalogue": False, "threshold": 10.0})
    assert (w.to_numpy() == 0).all()


# ------------------------------------------------------------------------------- re-triggers
# The documented rule: "Triggers while a position is open are ignored." A position is open from its
# entry decision until its exit order fills (the bar after the exit-decision close).
def test_trigger_on_the_exit_decision_close_is_ignored():
    # hold 1: bought at 08-06's open, the exit is decided at 08-06's close and fills at 08-07's open;
    # the second crash is decided at that same 08-06 close, while the position is open: ignored
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-06": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(crash_days=crashes), {"use_catalogue": False, "hold": 1})
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-06"): (0.0, 0.0)}
    # hold 3: sessions 08-06, 08-07, 08-08; a crash on 08-08 lands on the exit-decision close
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-08": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(crash_days=crashes), {"use_catalogue": False, "hold": 3})
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-08"): (0.0, 0.0)}
    # a crash inside the holding period (08-06) is ignored as before
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-06": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(crash_days=crashes), {"use_catalogue": False, "hold": 3})
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-08"): (0.0, 0.0)}


def test_trigger_after_the_exit_fill_opens_a_new_trade():
    # hold 3: out at 08-09's open; the 08-09 crash (decided at its close) is a new trade: bought at
    # 08-12's open, sessions 08-12, 08-13, 08-14, exit decided at 08-14's close
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-09": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(crash_days=crashes), {"use_catalogue": False, "hold": 3})
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-08"): (0.0, 0.0),
                            krx("2024-08-09"): (1.0, 0.0), krx("2024-08-14"): (0.0, 0.0)}


def test_ewy_trigger_before_the_exit_fills_is_ignored():
    # EWY hold 1: bought at 08-05's New York open, exit decided at 08-05's New York close, filled at
    # 08-06's New York open (13:30 UTC); Seoul's 08-06 crash is known at 06:30 UTC, in between
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-06": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(crash_days=crashes), {"use_catalogue": False, "entry": "ny_open", "hold": 1})
    assert kodex_ewy(w) == {krx("2024-08-05"): (0.0, 1.0), nyse("2024-08-05"): (0.0, 0.0)}
    # Seoul's 08-07 crash comes after that fill: a new trade in the 08-07 New York session
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-07": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(crash_days=crashes), {"use_catalogue": False, "entry": "ny_open", "hold": 1})
    assert kodex_ewy(w) == {krx("2024-08-05"): (0.0, 1.0), nyse("2024-08-05"): (0.0, 0.0),
                            krx("2024-08-07"): (0.0, 1.0), nyse("2024-08-07"): (0.0, 0.0)}


def test_intraday_trigger_after_the_exit_filled_at_the_open_is_taken_without_looking_ahead():
    # hold 1: bought at 08-06's open, exit decided at 08-06's close, sold at 08-07's open (00:00 UTC);
    # the 08-07 halt at 10:50 KST (01:50 UTC) meets a flat book: bought at 08-07's close (the bar
    # opened before the decision), held through 08-08, exit decided at 08-08's close
    data = make_data(intraday=halt_bars("2024-08-07"))
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 1})
    t = pd.Timestamp("2024-08-07 01:50", tz="UTC")
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-06"): (0.0, 0.0),
                            t: (1.0, 0.0), krx("2024-08-08"): (0.0, 0.0)}
    # at 01:50 the 08-07 bar (stamped 06:30) is not known yet: the fill instant comes from the calendar
    cuts = [pd.Timestamp("2024-08-07 00:00", tz="UTC"), t - pd.Timedelta(minutes=1), t, t + pd.Timedelta(hours=1)]
    assert_no_lookahead(FadeKospiHalt(), data, {"use_catalogue": False, "hold": [1, 2]}, cuts=cuts, events=None)


def test_close_only_trigger_at_the_exit_fill_close_is_taken():
    # close-only KODEX, hold 2: bought at 08-06's close, sessions 08-07 and 08-08; the exit is decided
    # at 08-07's close and fills at 08-08's close (market-on-close)
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-07": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(kodex_open=False, crash_days=crashes), {"use_catalogue": False, "hold": 2})
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-07"): (0.0, 0.0)}  # 08-07: ignored
    # a crash decided at 08-08's close, the instant the exit fills, meets a flat book: bought at 08-09's
    # close, sessions 08-12 and 08-13, exit decided at 08-12's close
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-08": (84.0, 85.0)}
    w = weights(FadeKospiHalt(), make_data(kodex_open=False, crash_days=crashes), {"use_catalogue": False, "hold": 2})
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-07"): (0.0, 0.0),
                            krx("2024-08-08"): (1.0, 0.0), krx("2024-08-12"): (0.0, 0.0)}


def test_hold_three_is_three_sessions_when_a_halt_lands_on_the_exit_decision():
    """Issue 21: with hold 3 a trade became 6 sessions (-16.72%) where the rule gives 3 (-7.00%)."""
    from backtests.engine.costs import SymbolCosts
    from backtests.engine.rules import Rules
    from backtests.engine.simulate import simulate
    from backtests.time.windows import Event, make_window

    closes = {"2024-08-06": 10.0, "2024-08-07": 10.5, "2024-08-08": 9.8, "2024-08-09": 9.3,
              "2024-08-12": 9.0, "2024-08-13": 8.6, "2024-08-14": 8.328}
    crashes = {"2024-08-05": (91.0, 92.0), "2024-08-08": (84.0, 85.0)}
    md = make_data(kodex_open=False, kodex_close=closes, crash_days=crashes)
    w = weights(FadeKospiHalt(), md, {"use_catalogue": False, "hold": 3})
    # close-only: bought at 08-06's close; sessions 08-07, 08-08, 08-09; the exit is decided at 08-08's
    # close (market-on-close at 08-09's), the same close on which the 08-08 halt is decided: ignored
    assert kodex_ewy(w) == {krx("2024-08-05"): (1.0, 0.0), krx("2024-08-08"): (0.0, 0.0)}
    win = make_window(Event("c", "c", "custom", "XKRX", CRASH, "intraday"), 1, 10)
    free = SymbolCosts(0.0, 0.0, 0.0, 0.0)
    usd = MarketData(bars=md.bars, info={**md.info, KODEX: info(KODEX, "XKRX", "USD", "etf")})
    rules = Rules.build(usd.info, [KODEX, EWY], costs={KODEX: free, EWY: free}, entry="change")
    (res,) = simulate(usd, pd.concat({0: w[[KODEX, EWY]]}, axis=1), 1, [win], rules)
    assert pd.DatetimeIndex(res.orders["fill_time"], tz="UTC").tolist() == [krx("2024-08-06"), krx("2024-08-09")]
    # 9.3 / 10.0 - 1 = -7.00% over three sessions (the re-triggered trade ran to 08-14: 8.328 / 10 - 1 = -16.72%)
    assert np.prod(1 + res.returns[:, 0]) - 1 == pytest.approx(9.3 / 10.0 - 1, rel=1e-9)


def test_volatility_target_sizes_with_ta_atr_known_at_the_decision():
    w = weights(FadeKospiHalt(), make_data(),
                {"use_catalogue": False, "vol_target": 1.0, "atr_window": 4, "size": 1.0})
    # true range 2 every day, then 9 on the crash day (prev close 100, low 91): Wilder ATR(4) = 3.75
    expected = 1.0 / (3.75 / 92.0 * 100.0)
    assert w.loc[krx("2024-08-05"), KODEX] == pytest.approx(expected, rel=1e-12)
    # not enough history for the ATR: no trade rather than an unsized one
    w = weights(FadeKospiHalt(), make_data(), {"use_catalogue": False, "vol_target": 1.0, "atr_window": 200})
    assert (w.to_numpy() == 0).all()


def test_combinations_are_vectorized_consistently():
    s = FadeKospiHalt()
    data = make_data(intraday=halt_bars(), crash_days={"2024-08-05": (91.0, 92.0), "2024-07-15": (90.0, 95.0)})
    grid = expand_grid(s.params, {"threshold": [8.0, 9.5], "entry": ["close", "ny_open"], "hold": [1, 3],
                                  "stop_loss": [0.0, 2.0]}, s.name)
    from backtests.strategy import StrategyContext
    ctx = StrategyContext(data, s.symbols, None)
    all_w = s.target_weights(ctx, grid)
    for combo, row in grid.iterrows():
        one = s.target_weights(ctx, grid.loc[[combo]])[combo].reindex(all_w.index).ffill().fillna(0.0)
        pd.testing.assert_frame_equal(all_w[combo], one, check_names=False)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("spec, needle", [
    ({"hold": 0}, "hold"), ({"hold": -3}, "hold"), ({"entry": "spy"}, "entry"),
    ({"threshold": -1.0}, "threshold"), ({"stop_loss": -5.0}, "stop_loss"), ({"use_catalogue": "yes"}, "use_catalogue"),
])
def test_bad_parameters_are_rejected_by_name(spec, needle):
    with pytest.raises(StrategyError, match=needle):
        expand_grid(FadeKospiHalt.params, spec, "fade_kospi_halt")


def test_check_params_messages():
    with pytest.raises(ValueError, match="entry"):
        FadeKospiHalt.check_params({"entry": "kospi"})
    with pytest.raises(ValueError, match="hold"):
        FadeKospiHalt.check_params({"hold": 0})


def test_roles_declare_the_series_they_need():
    req = FadeKospiHalt().required_series()
    assert req[KS] == ("high", "low", "close")
    assert FadeKospiHalt().traded_symbols == [KODEX, EWY]
    assert not FadeKospiHalt.roles["index"].traded


# ------------------------------------------------------------------------------- look-ahead
@lru_cache(maxsize=1)
def random_world() -> tuple[MarketData, pd.DataFrame]:
    """Random-walk KOSPI with a few crash days, a 5-minute halt day, catalogue halts."""
    rng = np.random.default_rng(7)
    kd = session_dates("XKRX", "2024-05-01", "2024-09-30")
    nd = session_dates("XNYS", "2024-05-01", "2024-09-30")
    r = rng.normal(0, 0.012, len(kd))
    for d, x in (("2024-06-14", -0.07), ("2024-08-05", -0.088), ("2024-08-07", -0.03), ("2024-09-04", -0.06)):
        r[kd.get_loc(pd.Timestamp(d))] = x
    close = 2500 * np.exp(np.cumsum(r))
    prev = np.concatenate([[close[0]], close[:-1]])
    low = np.minimum(prev, close) * np.exp(-np.abs(rng.normal(0, 0.012, len(kd))) - 0.01)
    high = np.maximum(prev, close) * np.exp(np.abs(rng.normal(0, 0.006, len(kd))))
    kodex = close / 100 * np.exp(rng.normal(0, 0.001, len(kd)))
    ewy = 60 * np.exp(np.cumsum(rng.normal(0, 0.015, len(nd))))
    day = pd.Timestamp("2024-07-10")
    i = kd.get_loc(day)
    intra = halt_bars("2024-07-10")  # lows -0.5%, then -8.1% (trigger), -8.5% after the halt
    intra[["open", "high", "low", "close"]] *= close[i - 1] / 100.0
    data = MarketData(
        bars={KS: daily("XKRX", kd, open=prev, high=high, low=low, close=close),
              KODEX: daily("XKRX", kd, open=kodex * 1.001, close=kodex),
              EWY: daily("XNYS", nd, open=ewy * 0.999, close=ewy)},
        info={KS: info(KS, "XKRX", "KRW", "index"), KODEX: info(KODEX, "XKRX", "KRW", "etf"), EWY: info(EWY, "XNYS")},
        intraday={KS: intra})
    ev = events_frame([
        {"id": "a", "kind": "krx_circuit_breaker", "market": "XKRX", "date": "2024-06-14", "time_utc": "2024-06-14 02:10"},
        {"id": "b", "kind": "krx_circuit_breaker", "market": "XKRX", "date": "2024-08-26", "time_utc": "2024-08-26 04:00"},
    ])
    return data, ev


@settings(max_examples=12, deadline=None)
@given(cut=st.floats(0.05, 0.95), shift_min=st.sampled_from([0, 1, 7 * 60, -1]),
       threshold=st.sampled_from([6.0, 8.0]), entry=st.sampled_from(["reopen", "close", "ny_open"]),
       hold=st.integers(1, 6), stop=st.sampled_from([0.0, 2.0]), take=st.sampled_from([0.0, 3.0]),
       vol=st.sampled_from([0.0, 1.5]))
def test_no_lookahead_property(cut, shift_min, threshold, entry, hold, stop, take, vol):
    data, ev = random_world()
    s = FadeKospiHalt()
    idx = data.index.union(data.intraday[KS].index)
    t = idx[int(cut * (len(idx) - 1))] + pd.Timedelta(minutes=shift_min)
    params = {"threshold": threshold, "entry": entry, "hold": hold, "stop_loss": stop,
              "take_profit": take, "vol_target": vol, "atr_window": 5, "use_catalogue": [False, True]}
    assert_no_lookahead(s, data, params, cuts=[t], events=ev, seed=hold)


def test_no_lookahead_around_the_halt():
    data, ev = random_world()
    cuts = [pd.Timestamp("2024-07-10 01:45", tz="UTC") + pd.Timedelta(minutes=m) for m in (0, 5, 10, 40, 280)]
    assert_no_lookahead(FadeKospiHalt(), data, {"entry": ["close", "ny_open"], "hold": [1, 2]}, cuts=cuts, events=ev)


# ------------------------------------------------------------------------------- real replay
def _real_data() -> MarketData:
    ks = pd.read_csv(shared("equities", "KOSPI_KS11_ohlc.csv"), parse_dates=["date"], index_col="date")
    kx = pd.read_csv(shared("equities", "close_only", "069500.KS_KODEX200.csv"), parse_dates=["date"], index_col="date")
    ew = pd.read_csv(shared("equities", "close_only", "EWY.csv"), parse_dates=["date"], index_col="date")
    lo, hi = ks.index.min(), ks.index.max()
    kx = kx.loc[lo:hi].dropna()
    ew = ew.loc[lo:hi].dropna()
    return MarketData(
        bars={KS: daily_frame(ks[["open", "high", "low", "close"]], "XKRX"),
              KODEX: daily_frame(kx[["close"]], "XKRX"), EWY: daily_frame(ew[["close"]], "XNYS")},
        info={KS: info(KS, "XKRX", "KRW", "index"), KODEX: info(KODEX, "XKRX", "KRW", "etf"), EWY: info(EWY, "XNYS")})


def daily_frame(table: pd.DataFrame, market: str) -> pd.DataFrame:
    from backtests.data.frames import daily_bars
    return daily_bars(table.astype("float64"), market)


def _halt_events() -> pd.DataFrame:
    cb = pd.read_csv(shared("events", "krx_circuit_breakers.csv"), dtype=str)
    cb = cb[(cb["kind"] == "circuit_breaker_level1") & (cb["market"] == "KOSPI")]
    rows = []
    for _, r in cb.iterrows():
        hhmm = str(r["time_kst"]).strip("~ ") if isinstance(r["time_kst"], str) else ""
        local = pd.Timestamp(r["date"]) + (pd.Timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[3:5])) if hhmm
                                           else pd.Timedelta(hours=15, minutes=30))  # unknown time: the close
        rows.append({"id": f"cb_{r['date']}", "kind": "krx_circuit_breaker", "market": "XKRX", "date": r["date"],
                     "time_utc": local.tz_localize("Asia/Seoul").tz_convert("UTC")})
    return events_frame(rows)


def test_replay_2026_06_23_kodex_enters_the_next_session():
    data = _real_data()
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 2, "entry": "close"})
    t = krx("2026-06-23")
    assert w.loc[:t - pd.Timedelta(hours=1), KODEX].loc["2026-06-12":].eq(0).all()
    assert w.loc[t, KODEX] == 1.0
    kodex_stamps = data.bars[KODEX].index
    fill = kodex_stamps[kodex_stamps > t][0]
    assert fill == krx("2026-06-24")  # the order fills in the next Seoul session
    # close-only KODEX: filled at 06-24's close, sessions 06-25 and 06-26 held: the exit is decided at
    # 06-25's close and fills at 06-26's close; 06-26's own Level-1 drop (-9.0% low) then triggers again
    c = changes(w[[KODEX]])
    assert list(c.loc["2026-06-20":"2026-06-27"].index) == [t, krx("2026-06-25"), krx("2026-06-26")]
    assert w.loc[krx("2026-06-25"), KODEX] == 0.0
    assert w.loc[krx("2026-06-26"), KODEX] == 1.0


def test_replay_2026_06_23_ewy_enters_the_same_new_york_session():
    data = _real_data()
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 2, "entry": "ny_open"})
    t = krx("2026-06-23")
    assert w.loc[t, EWY] == 1.0 and w.loc[t, KODEX] == 0.0
    ewy_stamps = data.bars[EWY].index
    assert ewy_stamps[ewy_stamps > t][0] == nyse("2026-06-23")


def test_replay_triggers_are_the_level1_days_of_the_data():
    data = _real_data()
    ks = data.bars[KS]
    drop = ks["low"] / ks["close"].shift(1) - 1
    level1 = set(ks.index[drop <= -0.08])
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 1, "entry": "ny_open"})
    entries = set(changes(w[[EWY]]).index[changes(w[[EWY]])[EWY] > 0])
    # hold 1 on EWY: every trade is out before the next Seoul close, so no trigger is skipped
    assert entries == level1
    days = {str(t.tz_convert("Asia/Seoul").date()) for t in level1}
    assert {"2024-08-05", "2026-03-04", "2026-03-09", "2026-06-08", "2026-06-23", "2026-06-26"} <= days


def test_replay_catalogue_halts_from_the_events_file():
    data = _real_data()
    ev = _halt_events()
    assert len(ev) == 11  # eleven KOSPI Level-1 halts
    w = weights(FadeKospiHalt(), data, {"use_catalogue": True, "threshold": 30.0, "hold": 1, "entry": "ny_open"}, events=ev)
    entries = list(changes(w[[EWY]]).index[changes(w[[EWY]])[EWY] > 0])
    in_range = ev[(ev["time_utc"] >= data.index[0]) & (ev["time_utc"] <= data.index[-1])]
    assert entries == list(pd.DatetimeIndex(in_range["time_utc"]).as_unit("ns"))
    assert pd.Timestamp("2024-08-05 05:14", tz="UTC") in entries  # 14:14 KST


def test_replay_hold_three_ignores_the_halts_on_its_exit_decision_closes():
    """KOSPI 2026 on real closes: 03-09 and 06-26 are Level-1 days three sessions after a trigger."""
    data = _real_data()
    w = weights(FadeKospiHalt(), data, {"use_catalogue": False, "hold": 3, "entry": "close"})
    c = changes(w[[KODEX]])[KODEX]
    # 03-04: bought at 03-05's close (close-only), sessions 03-06, 03-09, 03-10; the exit is decided at
    # 03-09's close, where 03-09's own drop also lands (ignored: the position is open until 03-10's close)
    assert c.loc["2026-03-01":"2026-03-31"].to_dict() == {krx("2026-03-04"): 1.0, krx("2026-03-09"): 0.0}
    # 06-23: bought at 06-24's close, sessions 06-25, 06-26, 06-29; 06-26's drop lands on the exit decision
    assert c.loc["2026-06-20":"2026-07-01"].to_dict() == {krx("2026-06-23"): 1.0, krx("2026-06-26"): 0.0}
    # the engine books the 06-23 trade in the kospi_crash_2026 window: three sessions, not six
    from backtests.engine.costs import SymbolCosts
    from backtests.engine.rules import Rules
    from backtests.engine.simulate import simulate
    from backtests.time.windows import load_builtin, make_window

    win = make_window(load_builtin().get("kospi_crash_2026"), 1, 5)
    free = SymbolCosts(0.0, 0.0, 0.0, 0.0)
    usd = MarketData(bars=data.bars, info={**data.info, KODEX: info(KODEX, "XKRX", "USD", "etf")})
    rules = Rules.build(usd.info, [KODEX, EWY], costs={KODEX: free, EWY: free}, entry="change")
    (res,) = simulate(usd, pd.concat({0: w[[KODEX, EWY]]}, axis=1), 1, [win], rules)
    assert pd.DatetimeIndex(res.orders["fill_time"], tz="UTC").tolist() == [krx("2026-06-24"), krx("2026-06-29")]
    kx = data.bars[KODEX]["close"]  # 136415 / 138145 - 1 = -1.25% (the re-triggered trade ran past 06-30)
    assert np.prod(1 + res.returns[:, 0]) - 1 == pytest.approx(kx[krx("2026-06-29")] / kx[krx("2026-06-24")] - 1,
                                                               rel=1e-9)


def test_replay_event_kind_reads_the_halts_file_as_it_is(tmp_path):
    """events_files takes ../shared/data's halts file unconverted (its kind circuit_breaker_level1,
    its market KOSPI overridden by XKRX); event_kind points the fade at it."""
    from backtests.config import load_config
    from backtests.config.plan import plan_study

    path = shared("events", "krx_circuit_breakers.csv")
    cfg = tmp_path / "study.yaml"
    cfg.write_text(f"name: cb\nevents_files:\n  - path: {path}\n    market: XKRX\n"
                   "    where: {kind: [circuit_breaker_level1], market: [KOSPI]}\n"
                   "windows: [kospi_crash_2026]\nstrategies:\n  - name: fade_kospi_halt\n"
                   "    params: {event_kind: circuit_breaker_level1}\n")
    plan = plan_study(load_config(cfg))
    ev = plan.catalogue.frame()
    halts = ev[ev["kind"] == "circuit_breaker_level1"]
    assert len(halts) == 11 and set(halts["market"]) == {"XKRX"}
    data = _real_data()
    w = weights(FadeKospiHalt(), data, {"use_catalogue": True, "threshold": 30.0, "hold": 1, "entry": "ny_open",
                                        "event_kind": "circuit_breaker_level1"}, events=ev)
    entries = list(changes(w[[EWY]]).index[changes(w[[EWY]])[EWY] > 0])
    times = pd.DatetimeIndex(halts["time_utc"]).sort_values().as_unit("ns")
    in_range = times[(times >= data.index[0]) & (times <= data.index[-1])]
    assert len(in_range) == 6 and entries == list(in_range)
    # the same halts and KST times as the hand-converted file above (which drops seconds: 14:14:30)
    hand = pd.DatetimeIndex(_halt_events()["time_utc"]).as_unit("ns")
    assert list(in_range.floor("min")) == list(hand[(hand >= data.index[0]) & (hand <= data.index[-1])])


# ------------------------------------------------------------------------------- through the engine
@pytest.mark.parametrize("entry, symbol, fill, kind, price", [
    # the rule: KOSPI at -8.5% from 13:05 KST, held one minute: halt 13:06-13:26, call auction to 13:36
    ("reopen", KODEX, "2026-06-23 04:36", "auction", 93.0),  # the reopening print (13:36 KST)
    ("close", KODEX, "2026-06-23 06:30", "auction", 93.5),  # the closing auction (15:30 KST)
    ("ny_open", EWY, "2026-06-23 13:30", "open", 50.0),  # New York's open of the same day
])
def test_the_fade_enters_where_its_entry_says_on_a_hand_built_crash_day(entry, symbol, fill, kind, price):
    from crash_day import DAY, crash_data

    from backtests.engine.rules import Rules
    from backtests.engine.simulate import simulate
    from backtests.engine.state import build_state
    from backtests.time.windows import Event, make_window

    data = crash_data()
    s = FadeKospiHalt()
    grid = expand_grid(s.params, {"entry": entry, "hold": 1, "use_catalogue": False}, s.name)
    from backtests.strategy import StrategyContext

    w = s.target_weights(StrategyContext(data, s.symbols, None), grid)
    win = make_window(Event(id="crash", label="crash", kind="krx_circuit_breaker", market="XKRX",
                            date=pd.Timestamp(DAY)), 1, 3)
    traded = s.traded_symbols
    rules = Rules.build(data.info, traded, entry="change",
                        state=build_state(data, None, [(win.start_utc, win.end_utc)], traded))
    (res,) = simulate(data, w, 1, [win], rules)
    first = res.orders.iloc[0]
    assert (first["symbol"], pd.Timestamp(int(first["fill_time"]), tz="UTC"), first["fill_kind"], first["side"]) == \
        (symbol, pd.Timestamp(fill, tz="UTC"), kind, "buy")
    assert first["price"] == pytest.approx(price)
