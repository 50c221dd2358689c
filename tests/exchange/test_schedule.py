"""Scheduled days: KRX auctions around continuous trading, US crosses, crypto around the clock."""

import pytest

from backtests.errors import DataError
from backtests.exchange.schedule import schedule, session_bounds_ns
from backtests.exchange.states import State

from .paths import states_by_clock


def test_krx_day_layout():
    assert states_by_clock("XKRX", schedule("XKRX", "2026-06-22", "2026-06-22")) == [
        ("08:30:00", "09:00:00", "call_open"), ("09:00:00", "15:20:00", "continuous"),
        ("15:20:00", "15:30:00", "closing_auction")]


def test_krx_before_august_2016_closes_at_1500_with_a_1450_auction():
    assert states_by_clock("XKRX", schedule("XKRX", "2015-03-02", "2015-03-02"))[-1] == (
        "14:50:00", "15:00:00", "closing_auction")


def test_krx_new_year_late_open():
    assert states_by_clock("XKRX", schedule("XKRX", "2026-01-02", "2026-01-02"))[0] == ("09:30:00", "10:00:00", "call_open")


def test_us_day_and_weekend_closed():
    tl = schedule("XNYS", "2026-06-18", "2026-06-22")
    assert [s for _, _, s in states_by_clock("XNYS", tl)] == ["continuous", "closed", "continuous"]


def test_session_bounds_refuses_a_closure():
    with pytest.raises(DataError):
        session_bounds_ns("XKRX", "2026-06-03")


def test_crypto_never_halts():
    tl = schedule("CRYPTO", "2026-06-20", "2026-06-23")
    assert len(tl) == 1 and State(tl.codes[0]) == State.CONTINUOUS
