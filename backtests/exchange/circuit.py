"""Market-wide circuit breakers read off index bars: the one painter KRX and the US share.

The regime (:class:`~backtests.exchange.rules.CircuitBreakerRegime`) says the levels, the
persistence, the cut-offs and what follows a halt; this module applies it to one session.
"""

from __future__ import annotations

import numpy as np

from backtests.errors import DataError
from backtests.exchange.bars import Bars, at_or_below, first_persistent, first_touch, value_at
from backtests.exchange.rules import CircuitBreakerRegime
from backtests.exchange.states import State, StateEvent, Timeline, paint


def apply_circuit_breakers(tl: Timeline, bars: Bars, prev_close: float, reg: CircuitBreakerRegime,
                           open_ns: int, close_ns: int, code: str = "cb") -> Timeline:
    """Paint a regime's circuit-breaker halts, read off index ``bars``, onto a session timeline.

    Shared by KRX (persistence, levels after the previous one only, reopening call auction) and the
    US market-wide circuit breakers (no persistence, reopening cross at the end of the halt).

    Parameters
    ----------
    tl
        The session's scheduled timeline.
    bars
        Index bars of the session.
    prev_close
        The index's previous close (index points).
    reg
        The regime in force that day.
    open_ns, close_ns
        The session's open and close (UTC int64 ns).
    code
        Event-code prefix (``cb`` for KRX, ``mwcb`` for the US).
    """
    if not np.isfinite(prev_close) or prev_close <= 0:
        raise DataError(f"previous close {prev_close!r} must be a positive number", where=reg.index)
    t_from = open_ns
    continuous_end = close_ns - reg.continuous_end_before_close
    previous_value: float | None = None
    for lv in reg.levels:
        level_value = prev_close * (1.0 - lv.decline)
        if lv.extra_below_previous and previous_value is not None:
            level_value = min(level_value, previous_value * (1.0 - lv.extra_below_previous))
        session = bars.between(t_from, continuous_end)
        if reg.persistence > 0:
            hit = first_persistent(session, at_or_below(session.high, level_value), t_from, reg.persistence)
        else:
            hit = first_touch(session, at_or_below(session.low, level_value), t_from)
        if hit is None:
            if reg.needs_previous_level:
                break
            continue
        instant, k = hit
        value = value_at(session, k)
        cutoff = close_ns - lv.cutoff_before_close if lv.cutoff_before_close is not None else continuous_end
        if instant > cutoff:
            tl = paint(tl, instant, instant, State.HALTED, events=(StateEvent(
                f"{code}_level{lv.level}_excluded", instant, reg.id, lv.level, value, level_value,
                note=f"{reg.index} at or below {level_value:.2f} but past the cut-off; no halt"),))
            if reg.needs_previous_level:
                break
            continue
        event = StateEvent(f"{code}_level{lv.level}", instant, reg.id, lv.level, value, level_value,
                           note=f"{reg.index} {value / prev_close - 1:+.2%} vs previous close")
        if lv.halt is None:
            return paint(tl, instant, close_ns, State.HALTED, events=(event,))
        resume = instant + lv.halt
        tl = paint(tl, instant, resume, State.HALTED, events=(event,))
        if lv.reopen_auction:
            uncross = resume + lv.reopen_auction
            tl = paint(tl, resume, uncross, State.CALL_REOPEN, uncross=uncross)
            resume = uncross
        t_from = resume
        previous_value = value
    return tl
