"""First possible fill and the buy-and-hold baseline over the same episodes (hand-built bars)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtests.scoring.evaluate_events import baseline, first_fill

CLOSES = pd.DatetimeIndex([pd.Timestamp("2026-03-02 21:00", tz="UTC") + pd.Timedelta(days=k) for k in range(6)])


class Data:
    """The slice of MarketData these functions read: bars, require, to_usd."""

    def __init__(self, with_open: bool):
        close = [100.0, 90.0, 95.0, 99.0, 101.0, 97.0]
        cols = {"close": close, "open_time": CLOSES - pd.Timedelta(hours=6, minutes=30)}
        if with_open:
            cols["open"] = [99.0, 92.0, 91.0, 96.0, 100.0, 98.0]
        self.bars = {"X": pd.DataFrame(cols, index=CLOSES)}

    def require(self, s):
        return self.bars[s]

    def to_usd(self, s, name="close"):
        return self.bars[s][name]


def win(i, start, end):
    return SimpleNamespace(id=i, start_utc=pd.Timestamp(start, tz="UTC"), end_utc=pd.Timestamp(end, tz="UTC"), shock=None)


W1 = win("w1", "2026-03-03 00:00", "2026-03-05 21:00")  # bars 03-03, 03-04, 03-05
W2 = win("w2", "2026-03-06 00:00", "2026-03-07 21:00")  # bars 03-06, 03-07


def test_first_fill_open_and_close_only():
    # first decision at the 03-03 close; the next bar (03-04) opened after it: fill at its open
    assert first_fill(Data(True), ["X"], ["X"], W1, "open") == CLOSES[2] - pd.Timedelta(hours=6, minutes=30)
    # without open prices (close-only data) or with fill: close, at the next bar's close
    assert first_fill(Data(False), ["X"], ["X"], W1, "open") == CLOSES[2]
    assert first_fill(Data(True), ["X"], ["X"], W1, "close") == CLOSES[2]
    # no second bar inside the window: no fill possible
    assert first_fill(Data(True), ["X"], ["X"], win("w", "2026-03-07 00:00", "2026-03-07 21:00"), "open") is None


def test_baseline_buys_at_the_first_possible_fill_and_sells_at_the_window_close():
    out = baseline(Data(True), ["X"], "X", [W1, W2], "open", n_resamples=100, confidence=0.9, seed=1)
    el = out["event_level"]
    r1 = 99.0 / 91.0 - 1  # decision 03-03 close, bought at the 03-04 open, sold at the 03-05 close
    r2 = 97.0 / 98.0 - 1  # decision 03-06 close, bought at the 03-07 open, sold at its close
    assert [e["return"] for e in el["episodes"]] == [pytest.approx(r1), pytest.approx(r2)]
    assert el["episodes"][0]["entry_utc"] == (CLOSES[2] - pd.Timedelta(hours=6, minutes=30)).isoformat()
    assert el["episodes"][0]["exit_utc"] == CLOSES[3].isoformat()
    assert el["mean"] == pytest.approx(np.mean([r1, r2])) and el["n_clusters"] == 2
    assert out["symbol"] == "X" and "before costs" in out["rule"]
    close_only = baseline(Data(False), ["X"], "X", [W1], "open", n_resamples=100, confidence=0.9, seed=1)
    assert close_only["event_level"]["episodes"][0]["return"] == pytest.approx(99.0 / 95.0 - 1)  # at the 03-04 close
