"""Reading triggers off bars: persistence runs, touches, contiguity, input checks."""

import numpy as np
import pandas as pd
import pytest

from backtests.errors import DataError
from backtests.exchange.bars import as_bars, first_persistent, first_print_at_or_after, first_touch

M = 60 * 10**9


def frame(lows, highs=None, step="1min"):
    idx = pd.date_range("2026-06-22 00:01", periods=len(lows), freq=step, tz="UTC")
    highs = lows if highs is None else highs
    return pd.DataFrame({"high": highs, "low": lows, "close": lows}, index=idx)


def test_persistence_needs_a_full_run():
    b = as_bars(frame([10.0, 5.0, 10.0, 5.0, 5.0]))
    held = b.high <= 5.0
    t, k = first_persistent(b, held, 0, M)
    assert k == 1 and t == b.ends[1]
    t2, k2 = first_persistent(b, held, 0, 2 * M)
    assert k2 == 4 and t2 == b.starts[3] + 2 * M


def test_gap_breaks_a_run():
    idx = pd.DatetimeIndex(["2026-06-22 00:01", "2026-06-22 00:02", "2026-06-22 00:04"], tz="UTC")
    b = as_bars(pd.DataFrame({"high": [5.0] * 3, "low": [5.0] * 3, "close": [5.0] * 3}, index=idx))
    assert first_persistent(b, b.high <= 5, 0, 2 * M) == (int(b.starts[0]) + 2 * M, 1)
    assert first_persistent(b, np.array([False, True, True]), 0, 2 * M) is None


def test_touch_and_t_from():
    b = as_bars(frame([10.0, 4.0, 10.0, 4.0]))
    assert first_touch(b, b.low <= 5.0, 0)[1] == 1
    assert first_touch(b, b.low <= 5.0, int(b.starts[2]))[1] == 3


def test_first_print_after():
    b = as_bars(frame([1.0, 2.0, 3.0]).assign(open=[1.5, 2.5, 3.5]))
    assert first_print_at_or_after(b, int(b.starts[1])) == 2.5
    assert first_print_at_or_after(b, int(b.ends[-1]) + 1) == 3.0


def test_bad_input():
    with pytest.raises(DataError):
        as_bars(frame([1.0, 2.0]).drop(columns="low"))
    with pytest.raises(DataError):
        as_bars(frame([1.0, 2.0]).tz_localize(None))
    with pytest.raises(DataError):
        as_bars(frame([1.0]))
