"""The first-fill rule (schedule rules 2, 3, 5 and 7 applied to one decision), worked by hand, and
the engine's first fill against the scoring stage's benchmark mask on XKRX, XNYS and crypto
windows with open, close and intraday decision stamps, legs apart and together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.results import NEVER, RUN_STATS
from backtests.engine.rules import Rules
from backtests.engine.schedule import AssetBars, asset_first_fill, common_instants, first_fill
from backtests.engine.simulate import simulate
from backtests.scoring.evaluate import StrategyRuns, score_strategy
from backtests.sweep.chunks import benchmark_periods
from backtests.time.windows import Event, make_window

T = pd.Timestamp
H = pd.Timedelta(hours=1)


def ns(text: str) -> int:
    return T(text, tz="UTC").value


def bars(stamps, opens, open_px=None) -> AssetBars:
    """Bars closing at ``stamps`` and opening at ``opens`` (UTC text); prices 1, or ``open_px``."""
    stamps = np.array([ns(s) for s in stamps], dtype=np.int64)
    return AssetBars(stamps=stamps, open_times=np.array([ns(s) for s in opens], dtype=np.int64),
                     open=np.asarray(open_px if open_px is not None else [1.0] * len(stamps), dtype=float),
                     close=np.ones(len(stamps)))


# two New York sessions, 13:30-20:00 UTC, and one crypto day, hand-built
NY = bars(["2026-04-07 20:00", "2026-04-08 20:00", "2026-04-09 20:00"],
          ["2026-04-07 13:30", "2026-04-08 13:30", "2026-04-09 13:30"])
INFO = {"A": SymbolInfo("A", "XNYS"), "B": SymbolInfo("B", "XNYS"), "C": SymbolInfo("C", "CRYPTO")}


def rules(symbols=("A",), **kw) -> Rules:
    return Rules.build(INFO, list(symbols), **kw)


def test_a_decision_fills_at_the_next_bars_open_when_it_opened_after_it():
    # decided at the 04-07 close: the 04-08 bar opened after it, so its open (13:30)
    assert asset_first_fill(NY, ns("2026-04-07 20:00"), rules()) == (1, ns("2026-04-08 13:30"), True)
    assert first_fill(ns("2026-04-07 20:00"), [NY], rules()) == ns("2026-04-08 13:30")
    # fill: close, or a bar without an open price: that bar's close
    assert first_fill(ns("2026-04-07 20:00"), [NY], rules(fill="close")) == ns("2026-04-08 20:00")
    no_open = bars(["2026-04-07 20:00", "2026-04-08 20:00", "2026-04-09 20:00"],
                   ["2026-04-07 13:30", "2026-04-08 13:30", "2026-04-09 13:30"], [1.0, np.nan, 1.0])
    assert first_fill(ns("2026-04-07 20:00"), [no_open], rules()) == ns("2026-04-08 20:00")


def test_decisions_at_the_open_or_during_the_session_fill_at_that_sessions_close():
    # at the open instant itself: the bar did not open after it (rule 3), its close
    assert first_fill(ns("2026-04-08 13:30"), [NY], rules()) == ns("2026-04-08 20:00")
    # intraday (a market-on-close order)
    assert first_fill(ns("2026-04-08 15:10"), [NY], rules()) == ns("2026-04-08 20:00")


def test_the_last_bar_only_closes_positions_when_they_exit_at_the_window_end():
    decided = ns("2026-04-08 20:00")  # the only later bar is the window's last
    assert first_fill(decided, [NY], rules()) == NEVER
    assert first_fill(decided, [NY], rules(exit_at_window_end=False)) == ns("2026-04-09 13:30")
    assert first_fill(NEVER, [NY], rules()) == NEVER
    assert first_fill(ns("2026-04-09 20:00"), [NY], rules(exit_at_window_end=False)) == NEVER  # no bar after


def test_legs_together_fill_at_the_first_common_instant():
    # a crypto day closing at 00:00 UTC and a (hypothetical) market opening at 00:00 UTC: with fills
    # at the open every leg can fill at 04-08 00:00, the first common instant after the decision
    crypto = bars(["2026-04-07 00:00", "2026-04-08 00:00", "2026-04-09 00:00", "2026-04-10 00:00"],
                  ["2026-04-06 00:00", "2026-04-07 00:00", "2026-04-08 00:00", "2026-04-09 00:00"])
    seoul = bars(["2026-04-07 06:30", "2026-04-08 06:30", "2026-04-09 06:30"],
                 ["2026-04-07 00:00", "2026-04-08 00:00", "2026-04-09 00:00"])
    r = rules(("A", "C"), legs="together")
    common = common_instants([seoul, crypto], "open")
    decided = ns("2026-04-07 03:00")
    assert first_fill(decided, [seoul, crypto], r, common) == ns("2026-04-08 00:00")
    # legs apart: the crypto bar closing at 04-08 00:00 is the first (the Seoul open is the same
    # instant here); at the close (no common close stamp) they leg: each at its own next bar
    assert first_fill(decided, [seoul, crypto], r) == ns("2026-04-07 06:30")  # Seoul's close: decided in-session
    assert first_fill(decided, [seoul, crypto], r, common_instants([seoul, crypto], "close")) == \
        ns("2026-04-07 06:30")


# ---------------------------------------------------------------- the engine against the benchmark mask
DATES = pd.date_range("2026-04-06", "2026-04-17", freq="B")
CRYPTO_DATES = pd.date_range("2026-04-03", "2026-04-19", freq="D")


def market_data() -> MarketData:
    rng = np.random.default_rng(7)

    def table(dates):
        close = 100 * np.cumprod(1 + rng.normal(0, 0.02, len(dates)))
        return pd.DataFrame({"open": close * (1 + rng.normal(0, 0.005, len(dates))), "close": close},
                            index=dates)

    frames = {"K": daily_bars(table(DATES), "XKRX"), "N": daily_bars(table(DATES), "XNYS"),
              "C": daily_bars(table(CRYPTO_DATES), "CRYPTO"), "SPY": daily_bars(table(DATES), "XNYS")}
    info = {"K": SymbolInfo("K", "XKRX"), "N": SymbolInfo("N", "XNYS"), "C": SymbolInfo("C", "CRYPTO"),
            "SPY": SymbolInfo("SPY", "XNYS")}
    return MarketData(frames, info)


MD = market_data()
WINDOWS = {m: make_window(Event(f"w{m}", m, "custom", m, T("2026-04-09"), "before_open"), 2, 3)
           for m in ("XKRX", "XNYS", "CRYPTO")}
OWN = {"XKRX": "K", "XNYS": "N", "CRYPTO": "C"}


def decision(window, kind: str) -> pd.Timestamp:
    """A decision stamp inside the window: its second session's open, close, or two hours in."""
    return {"open": window.opens[1], "close": window.closes[1], "intraday": window.opens[1] + 2 * H}[kind]


def masked_benchmark(res, rules_, window) -> pd.Series:
    """The scoring stage's benchmark of the run (SPY), blanked before its first possible fill."""
    index = pd.DatetimeIndex(res.stamps, tz="UTC")
    returns = pd.DataFrame({"r": res.returns[:, 0]}, index=index)
    bench = pd.DataFrame({"r": benchmark_periods(MD, "SPY", window, res.stamps)}, index=index)
    runs = pd.DataFrame({"combo": [0], "window": [window.id], "ppy": [rules_.clock.periods_per_year],
                         **{s.name: s.column(res.stats[s.name]) for s in RUN_STATS if s.name in res.stats}},
                        index=pd.Index(["r"], name="id"))
    sr = StrategyRuns("s", "s", returns, bench, runs, pd.DataFrame({"k": [0]}), 0, windows=[window])
    out = score_strategy(sr, risk_free=0.0, rank_by="sharpe", pbo_blocks=2, n_resamples=10, confidence=0.9,
                         seed=1, min_train_clusters=1)
    return out["benchmark_runs"]["r"]


CASES = [(m, kind, fill, syms) for m in ("XKRX", "XNYS", "CRYPTO") for kind in ("open", "close", "intraday")
         for fill in ("open", "close") for syms in ("own", "crypto+seoul")]


@pytest.mark.parametrize("market, kind, fill, syms", CASES)
def test_the_engines_first_fill_is_where_the_benchmark_mask_starts(market, kind, fill, syms):
    window = WINDOWS[market]
    symbols = [OWN[market]] if syms == "own" else ["K", "C"]
    rules_ = Rules.build(MD.info, symbols, fill=fill, legs="independent" if syms == "own" else "together",
                         paired=syms != "own")
    tau = decision(window, kind)
    idx = pd.DatetimeIndex([window.start_utc - pd.Timedelta(days=5), tau])
    cols = pd.MultiIndex.from_product([[0], symbols])
    weights = pd.DataFrame([[0.0] * len(symbols), [1.0 / len(symbols)] * len(symbols)], index=idx, columns=cols)
    (res,) = simulate(MD, weights, 1, [window], rules_)
    actual = int(res.orders["fill_time"].min())  # the strategy trades at its first decision
    assert res.stats["first_decision"][0] == tau.value
    assert res.stats["first_fill"][0] == actual
    # the benchmark counts from the first period that starts at or after that fill; a benchmark
    # period starts at the benchmark's previous observation (the window start for its first one)
    bench = masked_benchmark(res, rules_, window)
    raw = np.isfinite(benchmark_periods(MD, "SPY", window, res.stamps))
    rows = np.flatnonzero(raw)
    starts = np.full(len(res.stamps), np.iinfo(np.int64).min)
    starts[rows] = np.concatenate([[window.start_utc.value], res.stamps[rows[:-1]]])
    counted = np.flatnonzero(bench.notna().to_numpy())
    assert counted.size and starts[counted[0]] >= actual
    assert (starts[rows[rows < counted[0]]] < actual).all()
    if actual in res.stamps[rows]:  # a fill at a close stamp: the mask starts exactly there
        assert starts[counted[0]] == actual


@pytest.mark.parametrize("fill, later", [("open", 0), ("close", 1)])
def test_a_crypto_bar_stamped_at_the_window_start_is_a_decision_in_it(fill, later):
    """Issue 18's crypto case: the daily bar closing at a window's start (00:00 UTC) is a decision
    inside the window (rule 1: at or after the start). Crypto trades through the boundary, so with
    fills at the open it fills at the next bar's open, that instant (issue 19: not a day late at its
    close); with fills at the close, at that bar's close."""
    window = WINDOWS["CRYPTO"]
    clock = MD.require("C").index
    weights = pd.DataFrame(1.0, index=clock, columns=pd.MultiIndex.from_product([[0], ["C"]]))
    (res,) = simulate(MD, weights, 1, [window], Rules.build(MD.info, ["C"], fill=fill))
    assert res.stats["first_decision"][0] == window.start_utc.value
    assert res.stats["first_fill"][0] == (window.start_utc + pd.Timedelta(days=later)).value == \
        int(res.orders["fill_time"].min())
    assert list(res.orders["fill_kind"])[0] == fill


def test_a_bar_opening_when_the_previous_closed_fills_a_decision_at_that_instant_at_its_open():
    """Rule 3 on three kinds of bars, a decision at the open instant of the next bar: a crypto bar
    (opens when the previous closed) fills at its open; an exchange's daily bar (its open follows a
    night) fills at its close; so does a crypto bar after a missing one (not a bar boundary)."""
    c = MD.require("C")
    window = WINDOWS["CRYPTO"]
    from backtests.engine.simulate import asset_bars
    from backtests.engine.schedule import asset_first_fill

    bars = asset_bars(MD, "C", window)
    assert bars.through.all()  # every bar opens when the previous one closed, the first in the window too
    rules_ = Rules.build(MD.info, ["C"], fill="open")
    k, at, at_open = asset_first_fill(bars, int(bars.open_times[2]), rules_)
    assert (k, at, at_open) == (2, int(bars.open_times[2]), True)
    k_bars = asset_bars(MD, "K", WINDOWS["XKRX"])
    assert not k_bars.through.any()
    k, at, at_open = asset_first_fill(k_bars, int(k_bars.open_times[2]), Rules.build(MD.info, ["K"], fill="open"))
    assert (k, at, at_open) == (2, int(k_bars.stamps[2]), False)
    gap = MarketData({"C": c.drop(c.index[c.index.get_loc(window.start_utc + pd.Timedelta(days=2))])},
                     {"C": MD.info["C"]})
    g = asset_bars(gap, "C", window)
    assert not g.through[1] and g.through[0]
    k, at, at_open = asset_first_fill(g, int(g.open_times[1]), rules_)
    assert (at, at_open) == (int(g.stamps[1]), False)


def test_a_decision_off_the_strategys_clock_that_trades_earlier_sets_the_first_fill():
    """The reported first fill is the clock's, or the run's own first fill when a decision stamped
    between the clock's stamps (an intraday trigger) filled earlier: chunking cannot change it."""
    window = WINDOWS["XKRX"]
    clock = MD.require("K").index  # daily closes: the first in the window is the 04-07 close
    trigger = window.opens[0] + 2 * H  # 04-07 11:00 KST
    idx = clock.union(pd.DatetimeIndex([trigger]))
    w = pd.DataFrame(0.0, index=idx, columns=pd.MultiIndex.from_product([[0, 1], ["K"]]))
    w.loc[w.index >= trigger, (0, "K")] = 1.0  # combination 0 trades the trigger, 1 never trades
    (res,) = simulate(MD, w, 2, [window], Rules.build(MD.info, ["K"], entry="change"), clock=clock)
    close_0407 = window.closes[0].value
    assert res.stats["first_decision"].tolist() == [close_0407, close_0407]
    assert res.stats["first_fill"][0] == close_0407 == int(res.orders["fill_time"].min())  # auction, same day
    assert res.stats["first_fill"][1] == window.opens[1].value  # the clock's: 04-08 open
