"""Timeline algebra: painting, overlaying, joining; arrays stay sorted and aligned."""

import numpy as np
import pytest

from backtests.errors import DataError
from backtests.exchange.states import NAT, Lock, State, concat, make_timeline, overlay, paint, paint_lock


def base():
    return make_timeline("XKRX", [0, 100, 1000, 1100], [State.CALL_OPEN, State.CONTINUOUS, State.CLOSING_AUCTION],
                         [100, NAT, 1100])


def test_paint_splits_and_merges():
    tl = paint(base(), 300, 500, State.HALTED)
    assert list(tl.edges) == [0, 100, 300, 500, 1000, 1100]
    assert [State(c) for c in tl.codes] == [State.CALL_OPEN, State.CONTINUOUS, State.HALTED, State.CONTINUOUS,
                                            State.CLOSING_AUCTION]
    back = paint(tl, 300, 500, State.CONTINUOUS)
    assert list(back.edges) == [0, 100, 1000, 1100]  # neighbours with the same state merge


def test_paint_clips_and_keeps_events_outside():
    tl = paint(base(), 1050, 5000, State.HALTED)
    assert tl.end == 1100 and State(tl.codes[-1]) == State.HALTED


def test_state_at_and_outside():
    tl = base()
    assert list(tl.state_at(np.array([-1, 0, 99, 100, 1099, 1100]))) == [-1, 4, 4, 1, 7, -1]


def test_locks_ride_along_states():
    tl = paint_lock(base(), 200, 400, Lock.UP)
    assert [Lock(x) for x in tl.locks] == [Lock.NONE, Lock.NONE, Lock.UP, Lock.NONE, Lock.NONE]
    assert State(tl.codes[2]) == State.CONTINUOUS


def test_overlay_takes_the_more_restrictive_state():
    market = paint(base(), 300, 500, State.HALTED)
    symbol = paint(paint_lock(base(), 400, 700, Lock.DOWN), 600, 620, State.CALL_VI, uncross=620)
    tl = overlay(market, symbol)
    assert State(tl.state_at(np.array([450]))[0]) == State.HALTED
    assert Lock(tl.locks[tl.segment_at(np.array([450]))[0]]) == Lock.NONE  # no lock while halted
    assert Lock(tl.locks[tl.segment_at(np.array([550]))[0]]) == Lock.DOWN
    assert State(tl.state_at(np.array([610]))[0]) == State.CALL_VI


def test_concat_fills_gaps_with_closed():
    a, b = base(), make_timeline("XKRX", [2000, 2500], [State.CONTINUOUS])
    tl = concat([b, a])
    assert list(tl.edges) == [0, 100, 1000, 1100, 2000, 2500]
    assert State(tl.codes[3]) == State.CLOSED
    with pytest.raises(DataError):
        concat([a, a])


def test_arrays_must_line_up():
    with pytest.raises(DataError):
        make_timeline("XKRX", [0, 10, 5], [State.CONTINUOUS, State.CLOSED])
