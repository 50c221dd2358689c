"""The buy-and-hold baseline over the same episodes, entered by the engine's first-fill rule (hand-built bars)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from backtests.data.market_data import SymbolInfo
from backtests.engine.results import NEVER
from backtests.engine.rules import Rules
from backtests.scoring.evaluate_events import baseline
from backtests.time.windows import span_contains

CLOSES = pd.DatetimeIndex([pd.Timestamp("2026-03-02 21:00", tz="UTC") + pd.Timedelta(days=k) for k in range(6)])
OPENS = CLOSES - pd.Timedelta(hours=6, minutes=30)
INFO = {"X": SymbolInfo("X", "XNYS")}


class Data:
    """The slice of MarketData the baseline reads: require, to_usd."""

    def __init__(self, with_open: bool):
        close = [100.0, 90.0, 95.0, 99.0, 101.0, 97.0]
        cols = {"close": close, "open_time": OPENS}
        if with_open:
            cols["open"] = [99.0, 92.0, 91.0, 96.0, 100.0, 98.0]
        self.bars = {"X": pd.DataFrame(cols, index=CLOSES)}

    def require(self, s):
        return self.bars[s]

    def to_usd(self, s, name="close"):
        return self.bars[s][name]


@dataclass(frozen=True)
class Win:
    id: str
    start_utc: pd.Timestamp
    end_utc: pd.Timestamp
    shock: str | None = None

    def contains(self, stamps):
        return span_contains(self.start_utc, self.end_utc, stamps)


def win(i, start, end):
    return Win(i, pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))


W1 = win("w1", "2026-03-03 00:00", "2026-03-05 21:00")  # bars 03-03, 03-04, 03-05
W2 = win("w2", "2026-03-06 00:00", "2026-03-07 21:00")  # bars 03-06, 03-07
FIRST = {"w1": CLOSES[1].value, "w2": CLOSES[4].value}  # the strategy's first decisions: 03-03, 03-06 closes


def run(data, windows, first=FIRST, **rules):
    return baseline(data, "X", windows, first, Rules.build(INFO, ["X"], **rules), n_resamples=100, confidence=0.9,
                    seed=1)


def test_baseline_buys_at_the_first_possible_fill_and_sells_at_the_window_close():
    out = run(Data(True), [W1, W2], exit_at_window_end=False)
    el = out["event_level"]
    r1 = 99.0 / 91.0 - 1  # decision 03-03 close, bought at the 03-04 open, sold at the 03-05 close
    r2 = 97.0 / 98.0 - 1  # decision 03-06 close, bought at the 03-07 open, sold at its close
    assert [e["return"] for e in el["episodes"]] == [pytest.approx(r1), pytest.approx(r2)]
    assert el["episodes"][0]["entry_utc"] == OPENS[2].isoformat()
    assert el["episodes"][0]["exit_utc"] == CLOSES[3].isoformat()
    assert el["mean"] == pytest.approx(np.mean([r1, r2])) and el["n_clusters"] == 2
    assert out["symbol"] == "X" and "before costs" in out["rule"]


def test_close_only_data_and_fill_close_buy_at_the_next_close():
    r = 99.0 / 95.0 - 1  # at the 03-04 close
    assert run(Data(False), [W1])["event_level"]["episodes"][0]["return"] == pytest.approx(r)
    close = run(Data(True), [W1], fill="close")["event_level"]["episodes"][0]
    assert close["return"] == pytest.approx(r) and close["entry_utc"] == CLOSES[2].isoformat()


def test_no_entry_on_the_last_bar_when_positions_exit_there_or_without_a_decision():
    # with exit_at_window_end (the default) the engine opens nothing on a window's last bar: the
    # 03-06 decision's only possible fill is 03-07, the last bar of w2, so the baseline does not trade
    out = run(Data(True), [W1, W2])
    eps = out["event_level"]["episodes"]
    assert eps[0]["traded"] and eps[1]["traded"] is False and eps[1]["entry_utc"] is None
    none = run(Data(True), [W1], first={"w1": NEVER})["event_level"]["episodes"][0]
    assert none["traded"] is False and none["return"] is None
