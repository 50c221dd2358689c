"""Korea Exchange state from the rules: circuit breakers, sidecars, price limits, volatility interruptions.

All functions take plain frames/arrays and one local session date, and return a
:class:`~backtests.exchange.states.Timeline` (or events). Rule numbers come from
:mod:`backtests.exchange.rules`; the reading of bars from :mod:`backtests.exchange.bars`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.exchange.bars import (Bars, as_bars, at_or_above, at_or_below, first_persistent,
                                    first_print_at_or_after, value_at)
from backtests.exchange.circuit import apply_circuit_breakers
from backtests.exchange.rules import (KRX_SIDECAR, KRX_VI, SidecarRegime, ViRegime, krx_cb_regime, krx_price_limit,
                                      regime_for)
from backtests.exchange.schedule import session_bounds_ns, session_day, session_regime
from backtests.exchange.states import Lock, State, StateEvent, Timeline, paint, paint_lock

MARKET = "XKRX"


def krx_market_state(index_bars: pd.DataFrame, prev_close: float, date: pd.Timestamp | str,
                     index: str = "KOSPI", bar: pd.Timedelta | str | None = None) -> Timeline:
    """Market-wide KRX state of one session derived from 1- or 5-minute index bars.

    Circuit breakers as the regime of ``date`` says (from 2015-06-15: -8% / -15% / -20% from the
    previous close held 1 minute; levels 2 and 3 also 1% below the previous level's trigger value;
    each level once a day; levels 1-2 not in the last 40 minutes; 20-minute halt then a 10-minute
    single-price call auction; level 3 ends the day. Before: one -10% level).

    Parameters
    ----------
    index_bars
        KOSPI (or KOSDAQ) bars of the session, stamped at bar ends (UTC); columns high, low, close.
    prev_close
        The index's previous close (points).
    date
        Local session date (KST).
    index
        ``KOSPI`` or ``KOSDAQ`` (selects the regime table).
    bar
        Bar length when it cannot be inferred.

    Returns
    -------
    Timeline
        ``derived_from="intraday"``; events ``cb_level1..3`` and ``cb_levelN_excluded``.
    """
    d = pd.Timestamp(date).normalize()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    tl = replace(session_day(MARKET, d, open_ns, close_ns), derived_from="intraday")
    reg = krx_cb_regime(d, index)
    if reg is None:
        return tl
    bars = as_bars(index_bars, bar, where=index)
    return apply_circuit_breakers(tl, bars, float(prev_close), reg, open_ns, close_ns)


def krx_halt_from_catalogue(date: pd.Timestamp | str, time_local: str, level: int = 1,
                            index: str = "KOSPI") -> Timeline:
    """Session timeline with a halt recorded by the event catalogue at local ``time_local``.

    The halt and reopening auction follow the regime of ``date`` (level 1-2: 20 + 10 minutes;
    level 3: to the close). ``derived_from="catalogue"``.

    Raises
    ------
    DataError
        When no circuit-breaker regime covers ``date`` or the level does not exist in it.
    """
    d = pd.Timestamp(date).normalize()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    reg = krx_cb_regime(d, index)
    levels = {lv.level: lv for lv in (reg.levels if reg else ())}
    if level not in levels:
        raise DataError(f"no level-{level} circuit breaker on {d.date()} under the rules in force", where=index)
    lv = levels[level]
    instant = int(pd.Timestamp(f"{d.date()} {time_local}").tz_localize("Asia/Seoul").value)
    tl = replace(session_day(MARKET, d, open_ns, close_ns), derived_from="catalogue")
    event = StateEvent(f"cb_level{level}", instant, reg.id, level, note=f"{index} halt recorded at {time_local} KST")
    if lv.halt is None:
        return paint(tl, instant, close_ns, State.HALTED, events=(event,))
    tl = paint(tl, instant, instant + lv.halt, State.HALTED, events=(event,))
    uncross = instant + lv.halt + lv.reopen_auction
    return paint(tl, instant + lv.halt, uncross, State.CALL_REOPEN, uncross=uncross)


def krx_sidecar_events(futures_bars: pd.DataFrame, futures_base: float, date: pd.Timestamp | str,
                       market: str = "KOSPI", index_bars: pd.DataFrame | None = None,
                       index_base: float | None = None, bar: pd.Timedelta | str | None = None
                       ) -> tuple[StateEvent, ...]:
    """The sidecar of one session (program trading paused 5 minutes), as events only.

    A sidecar does not stop other orders, so it changes no state: add its events to a timeline with
    :func:`~backtests.exchange.states.with_events`. KOSPI: KOSPI 200 futures +-5% from their base
    price held 1 minute. KOSDAQ:
    KOSDAQ 150 futures +-6% and the KOSDAQ 150 index +-3% (``index_bars``, ``index_base``), both
    held 1 minute. Once a day, not in the first 5 minutes nor the last 40 minutes of the session.

    Returns
    -------
    tuple of StateEvent
        ``sidecar_sell`` (fall) or ``sidecar_buy`` (rise), at most one.
    """
    d = pd.Timestamp(date).normalize()
    reg: SidecarRegime | None = regime_for(tuple(r for r in KRX_SIDECAR if r.futures.startswith(market.upper())),
                                           d, "KRX sidecar")  # type: ignore[assignment]
    if reg is None:
        return ()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    fut = as_bars(futures_bars, bar, where=reg.futures)
    idx = None
    if reg.index_move is not None:
        if index_bars is None or index_base is None:
            raise DataError("the KOSDAQ sidecar also needs the KOSDAQ 150 index bars and base", where=reg.futures)
        idx = as_bars(index_bars, bar, where="KOSDAQ150").between(fut.starts.min(), fut.ends.max())
        if not np.array_equal(idx.ends, fut.ends):
            raise DataError("KOSDAQ 150 futures and index bars must share stamps", where=reg.futures)
    t_from = open_ns + reg.no_trigger_after_open
    found: list[tuple[int, StateEvent]] = []
    for side, sign in (("sell", -1.0), ("buy", 1.0)):
        level = futures_base * (1.0 + sign * reg.futures_move)
        held = at_or_below(fut.high, level) if sign < 0 else at_or_above(fut.low, level)
        if idx is not None:
            ilevel = index_base * (1.0 + sign * reg.index_move)  # type: ignore[operator]
            held = held & (at_or_below(idx.high, ilevel) if sign < 0 else at_or_above(idx.low, ilevel))
        hit = first_persistent(fut, held, t_from, reg.persistence)
        if hit is None:
            continue
        instant, k = hit
        if instant > close_ns - reg.cutoff_before_close:
            continue
        until = pd.Timestamp(instant + reg.pause, tz="UTC").tz_convert("Asia/Seoul")
        found.append((instant, StateEvent(f"sidecar_{side}", instant, reg.id, None, value_at(fut, k), level,
                                          note=f"{reg.futures} program {side} orders paused until "
                                               f"{until:%H:%M:%S} KST")))
    return (min(found, key=lambda x: x[0])[1],) if found else ()


def krx_price_limits(base_price: np.ndarray | float, date: pd.Timestamp | str, leverage: float = 1.0,
                     tick: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper daily price limits around ``base_price`` (the previous close).

    ``base * (1 -/+ limit)`` with the limit of ``date`` (+-15% before 2015-06-15, +-30% after; times
    ``|leverage|`` for leveraged ETFs, e.g. +-60% for 2x), rounded inwards to ``tick`` when given
    (a price on the exchange's grid cannot exceed the limit).
    """
    base = np.asarray(base_price, dtype=float)
    lim = krx_price_limit(date, leverage)
    lo, hi = base * (1.0 - lim), base * (1.0 + lim)
    if tick:
        lo, hi = np.ceil(np.round(lo / tick, 9)) * tick, np.floor(np.round(hi / tick, 9)) * tick
    return lo, hi


def krx_symbol_state(symbol_bars: pd.DataFrame, base_price: float, date: pd.Timestamp | str,
                     symbol: str, vi_class: str = "kospi200", leverage: float = 1.0,
                     tick: float | None = None, rtol: float = 1e-6,
                     bar: pd.Timedelta | str | None = None) -> Timeline:
    """One stock's own KRX state in a session: volatility interruptions and limit locks.

    - **Static VI**: a print 10% or more from the reference (the base price before the open, then
      the price of the last single-price auction: the opening price, then each VI's print) opens a
      2-minute call auction; the new reference is that auction's print (the next bar's open).
    - **Dynamic VI**: two consecutive prints (a bar's open after the previous bar's close) 3%
      apart (KOSPI 200 constituents; 6% for other stocks) also open a 2-minute call auction. Bars
      hide prints inside a bar, so dynamic VIs derived from bars are a lower bound.
    - **Limit locks**: bars lying entirely at the upper (lower) daily limit are locked up (down):
      buy (sell) orders queue there and do not fill.

    Parameters
    ----------
    symbol_bars
        The stock's bars of the session (bar-end stamps, UTC).
    base_price
        Previous close (KRW).
    date
        Local session date.
    symbol
        Its name, recorded on the timeline and events.
    vi_class
        ``kospi200`` or ``other`` (dynamic VI rate).
    leverage, tick
        For the price limits (:func:`krx_price_limits`).
    rtol
        Relative tolerance for "at the limit".

    Returns
    -------
    Timeline
        A symbol timeline (overlay it on the market's with
        :func:`~backtests.exchange.states.overlay`), ``derived_from="intraday"``.
    """
    d = pd.Timestamp(date).normalize()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    tl = replace(session_day(MARKET, d, open_ns, close_ns), derived_from="intraday", symbol=symbol)
    bars = as_bars(symbol_bars, bar, where=symbol)
    lo, hi = (float(x) for x in krx_price_limits(base_price, d, leverage, tick))
    tl = _limit_locks(tl, bars, lo, hi, rtol, symbol)
    reg: ViRegime | None = regime_for(KRX_VI, d, "KRX VI")  # type: ignore[assignment]
    if reg is not None:
        tl = _volatility_interruptions(tl, bars, float(base_price), reg, vi_class, open_ns, close_ns, symbol)
    return tl


def _limit_locks(tl: Timeline, bars: Bars, lo: float, hi: float, rtol: float, symbol: str) -> Timeline:
    up = bars.low >= hi * (1.0 - rtol)
    down = bars.high <= lo * (1.0 + rtol)
    for mask, lock, name in ((up, Lock.UP, "up"), (down, Lock.DOWN, "down")):
        if not mask.any():
            continue
        starts, ends = bars.starts[mask], bars.ends[mask]
        first = StateEvent(f"limit_locked_{name}", int(starts[0]), "krx_price_limit", value=float(
            bars.close[mask][0]), threshold=hi if lock == Lock.UP else lo, symbol=symbol)
        for i, (s, e) in enumerate(zip(starts, ends)):
            tl = paint_lock(tl, int(s), int(e), lock, events=(first,) if i == 0 else ())
    return tl


def _volatility_interruptions(tl: Timeline, bars: Bars, base: float, reg: ViRegime, vi_class: str,
                              open_ns: int, close_ns: int, symbol: str) -> Timeline:
    layout = session_regime(MARKET, pd.Timestamp(open_ns, tz="UTC").tz_convert("Asia/Seoul").tz_localize(None))
    closing_start = close_ns - (layout.closing_auction if layout else 0)
    rate = reg.dynamic_rate(vi_class)
    session = bars.between(open_ns, closing_start)
    if len(session) == 0:
        return tl
    reference = float(session.open[0])  # the opening auction's print
    busy_until = open_ns
    for k in range(len(session)):
        s, e = int(session.starts[k]), int(session.ends[k])
        if s < busy_until:
            continue
        fired: tuple[str, int, float, float] | None = None
        if k > 0 and session.starts[k] == session.ends[k - 1]:
            prev = float(session.close[k - 1])
            jump = float(session.open[k]) / prev - 1.0
            if abs(jump) >= rate * (1 - 1e-9):
                fired = ("vi_dynamic", s, float(session.open[k]), prev * (1 + np.sign(jump) * rate))
        if fired is None and reg.static is not None:
            up, down = reference * (1 + reg.static), reference * (1 - reg.static)
            hit_up, hit_down = bool(at_or_above(session.high[k], up)), bool(at_or_below(session.low[k], down))
            if hit_up or hit_down:
                fired = ("vi_static", e, float(session.high[k] if hit_up else session.low[k]), up if hit_up else down)
        if fired is None:
            continue
        code, instant, value, level = fired
        uncross = min(instant + reg.auction, closing_start)
        if uncross <= instant:
            continue
        tl = paint(tl, instant, uncross, State.CALL_VI, uncross=uncross, events=(StateEvent(
            code, instant, reg.id, value=value, threshold=level, symbol=symbol,
            note=f"2-minute call auction (the exchange may extend it by up to {reg.random_end // 10**9} s)"),))
        reference = first_print_at_or_after(session, uncross)
        busy_until = uncross
    return tl


def krx_daily_symbol_state(dates: pd.DatetimeIndex, base: np.ndarray, high: np.ndarray, low: np.ndarray,
                           close: np.ndarray, symbol: str, leverage: float = 1.0, rtol: float = 1e-3
                           ) -> list[Timeline]:
    """What daily bars can say about one stock's KRX state, one timeline per session.

    A close at the upper (lower) limit is a **limit-locked close**: the closing auction printed at
    the limit, so the closing auction segment is locked up (down). A day whose high equals its low
    at a limit was locked all session. ``derived_from="daily"``; events ``limit_locked_close_up``
    / ``_down`` and ``limit_locked_day_up`` / ``_down``.

    Parameters
    ----------
    dates
        Local session dates.
    base, high, low, close
        Previous close and the day's high, low, close (aligned with ``dates``). Adjusted prices
        keep the ratios, so the test is on returns: ``close / base - 1`` within ``rtol`` of the limit.
    """
    out: list[Timeline] = []
    for i, d in enumerate(pd.DatetimeIndex(dates)):
        open_ns, close_ns = session_bounds_ns(MARKET, d)
        tl = replace(session_day(MARKET, d, open_ns, close_ns), derived_from="daily", symbol=symbol)
        lim = krx_price_limit(d, leverage)
        ret_close, ret_high, ret_low = close[i] / base[i] - 1.0, high[i] / base[i] - 1.0, low[i] / base[i] - 1.0
        for sign, lock, name in ((1.0, Lock.UP, "up"), (-1.0, Lock.DOWN, "down")):
            at = (lambda r: abs(r - sign * lim) <= rtol)
            if at(ret_close):
                day = at(ret_high) and at(ret_low)
                start = open_ns if day else next(int(tl.edges[j]) for j, c in enumerate(tl.codes)
                                                 if c == State.CLOSING_AUCTION)
                tl = paint_lock(tl, start, close_ns, lock, events=(StateEvent(
                    f"limit_locked_{'day' if day else 'close'}_{name}", start, f"krx_limit_{lim:g}",
                    value=float(close[i]), threshold=float(base[i] * (1 + sign * lim)), symbol=symbol),))
        out.append(tl)
    return out


def empty_day(date: pd.Timestamp | str) -> Timeline:
    """The scheduled KRX session of ``date`` (``derived_from="daily"``: nothing known beyond the calendar)."""
    d = pd.Timestamp(date).normalize()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    return replace(session_day(MARKET, d, open_ns, close_ns), derived_from="daily")


__all__ = ["krx_market_state", "krx_halt_from_catalogue", "krx_sidecar_events",
           "krx_price_limits", "krx_symbol_state", "krx_daily_symbol_state", "empty_day"]
