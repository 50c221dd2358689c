"""US equity state from the rules: market-wide circuit breakers and Limit Up-Limit Down.

- **Market-wide circuit breakers** (NYSE Rule 7.12, formerly 80B, and Nasdaq Rule 4121, since
  2013-04-08): the S&P 500 down 7% (level 1) or 13% (level 2) from the previous close at or before
  3:25 p.m. ET (12:25 p.m. on an early close: 35 minutes before the close) halts all trading for
  15 minutes, then the primary markets reopen with a cross; at or after that time levels 1-2 do not
  halt. Down 20% (level 3) at any time: trading ends for the day. Each level once a day.
- **LULD** (single stocks, since 2013-04-08): trades may not print outside bands around a 5-minute
  reference price. A limit state (the price pinned at a band) that lasts 15 seconds becomes a
  5-minute trading pause, ended by the primary market's reopening auction.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.exchange.bars import Bars, as_bars, at_or_above, at_or_below, first_print_at_or_after
from backtests.exchange.circuit import apply_circuit_breakers
from backtests.exchange.rules import US_LULD, US_MWCB, CircuitBreakerRegime, LuldRegime, regime_for
from backtests.exchange.schedule import session_bounds_ns, session_day
from backtests.exchange.states import State, StateEvent, Timeline, paint

MARKET = "XNYS"


def us_market_state(index_bars: pd.DataFrame, prev_close: float, date: pd.Timestamp | str,
                    bar: pd.Timedelta | str | None = None) -> Timeline:
    """Market-wide US state of one session derived from S&P 500 bars.

    A level fires at the end of the first bar whose low reaches it (the latest instant consistent
    with the bars). Levels 1-2 past the 3:25 p.m. cut-off are recorded as ``mwcb_levelN_excluded``
    events with no halt; level 3 can still fire.

    Parameters
    ----------
    index_bars
        S&P 500 bars of the session (bar-end stamps, UTC).
    prev_close
        The S&P 500's previous close.
    date
        Local session date (New York).

    Returns
    -------
    Timeline
        ``derived_from="intraday"``; events ``mwcb_level1..3``. Before 2013-04-08 only the schedule
        (the DJIA-point Rule 80B of 1998-2013 is documented, not modelled).
    """
    d = pd.Timestamp(date).normalize()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    tl = replace(session_day(MARKET, d, open_ns, close_ns), derived_from="intraday")
    reg: CircuitBreakerRegime | None = regime_for(US_MWCB, d, "US MWCB")  # type: ignore[assignment]
    if reg is None:
        return tl
    return apply_circuit_breakers(tl, as_bars(index_bars, bar, where="S&P 500"), float(prev_close), reg,
                                  open_ns, close_ns, code="mwcb")


def luld_band_fraction(reg: LuldRegime, tier: int, prev_close: float) -> tuple[float, float]:
    """``(fraction, dollar_cap)`` of the LULD band for a stock of ``tier`` that closed at ``prev_close``.

    Above $3.00: 5% (Tier 1) / 10% (Tier 2); $0.75-$3.00: 20%; below $0.75: the lesser of $0.15 and
    75% (returned as ``(0.75, 0.15)``: the band is ``min(0.15, 0.75 * reference)``). The dollar cap is
    ``inf`` where there is none.
    """
    if tier not in (1, 2):
        raise DataError(f"LULD tier must be 1 or 2, got {tier!r}")
    above3, mid, low = reg.tier1 if tier == 1 else reg.tier2
    if prev_close > 3.0:
        return above3, float("inf")
    if prev_close >= 0.75:
        return mid, float("inf")
    return low, reg.below_075_abs


def luld_bands(reference: float, prev_close: float, tier: int, instant: int, open_ns: int, close_ns: int,
               reg: LuldRegime) -> tuple[float, float] | None:
    """Lower and upper LULD price bands at ``instant`` (``None`` when no bands apply then).

    The band is ``reference -/+ reference * fraction`` (the $0.15 cap for stocks below $0.75),
    doubled in the first ``double_open`` and the last ``double_close`` of the session (the last 25
    minutes only for Tier 1 and Tier 2 at or below $3.00 under the 2019 regime), rounded to the cent.
    """
    if instant < open_ns + reg.bands_from or instant >= close_ns - reg.bands_to:
        return None
    frac, cap = luld_band_fraction(reg, tier, prev_close)
    width = min(reference * frac, cap)
    early = instant < open_ns + reg.double_open
    late = instant >= close_ns - reg.double_close and (tier == 1 or prev_close <= 3.0 or reg.double_close_tier2_above_3)
    if early or late:
        width *= 2.0
    return round(reference - width, 2), round(reference + width, 2)


def bands_out_of_reach(bars: Bars, prev_close: float, tier: int, reg: LuldRegime) -> bool:
    """True when no bar of the session can reach a LULD band, whatever the reference does.

    Until a pause the reference is the opening print or a mean of closes, so it lies between the
    extremes ``r_lo``, ``r_hi`` of the open and the closes. The lower band ``r - m * w(r)`` (``w``
    the half width ``min(r * fraction, cap)``, ``m`` 1 or 2) is at most ``r - w(r)``, which does
    not decrease in ``r`` (``fraction <= 1``), so at most ``r_hi - w(r_hi)``; the upper band is at
    least ``r_lo + w(r_lo)``. A bar whose low stays above the first and whose high stays below the
    second (with half a cent for the rounding to the cent and the comparisons' slack) reaches
    neither: :func:`luld_state` then paints nothing, and its per-bar walk is skipped.
    """
    frac, cap = luld_band_fraction(reg, tier, prev_close)
    px = np.concatenate([bars.open[:1], bars.close])
    px = px[np.isfinite(px)]
    if not len(px):
        return False
    r_lo, r_hi = float(px.min()), float(px.max())
    slack = 0.005 + 1e-9 * abs(r_hi)
    lower_max = r_hi - min(r_hi * frac, cap) + slack
    upper_min = r_lo + min(r_lo * frac, cap) - slack
    return not (np.any(bars.low <= lower_max) or np.any(bars.high >= upper_min))


def luld_state(symbol_bars: pd.DataFrame, prev_close: float, date: pd.Timestamp | str, tier: int,
               symbol: str, bar: pd.Timedelta | str | None = None) -> Timeline:
    """One US stock's LULD state in a session, from its 1-minute bars.

    The reference price is the mean close of the bars of the last 5 minutes (the plan: the mean
    price of eligible trades over the preceding five minutes), starting from the opening print, and
    moves only when the new mean is 1% or more away. A bar whose low (high) reaches the lower
    (upper) band is a **limit state** at the bar's end; when the bar also *closes* at or beyond the
    band, the bars cannot show it cleared within 15 seconds, so a **trading pause** starts 15
    seconds later and lasts 5 minutes, ended by a reopening auction (``CALL_REOPEN`` printed at the
    pause's end); the reference restarts from the reopening print.

    Returns
    -------
    Timeline
        A symbol timeline (:func:`~backtests.exchange.states.overlay` it on the market's);
        events ``luld_limit_state`` and ``luld_pause``.
    """
    d = pd.Timestamp(date).normalize()
    open_ns, close_ns = session_bounds_ns(MARKET, d)
    tl = replace(session_day(MARKET, d, open_ns, close_ns), derived_from="intraday", symbol=symbol)
    reg: LuldRegime | None = regime_for(US_LULD, d, "LULD")  # type: ignore[assignment]
    if reg is None:
        return tl
    bars = as_bars(symbol_bars, bar, where=symbol).between(open_ns, close_ns)
    if len(bars) == 0:
        return tl
    if bands_out_of_reach(bars, float(prev_close), tier, reg):
        return tl
    reference = float(bars.open[0])
    ref_from = 0  # first bar in the current reference window
    busy_until = open_ns
    for k in range(len(bars)):
        s, e = int(bars.starts[k]), int(bars.ends[k])
        if s < busy_until:
            continue
        window = (bars.ends[ref_from:k] > s - reg.reference_window)
        if window.any():
            mean = float(np.mean(bars.close[ref_from:k][window]))
            if abs(mean / reference - 1.0) >= reg.reference_min_move:
                reference = mean
        bands = luld_bands(reference, float(prev_close), tier, s, open_ns, close_ns, reg)
        if bands is None:
            continue
        lower, upper = bands
        side = "down" if at_or_below(bars.low[k], lower) else "up" if at_or_above(bars.high[k], upper) else None
        if side is None:
            continue
        band = lower if side == "down" else upper
        state = StateEvent("luld_limit_state", e, reg.id, value=band, threshold=band, symbol=symbol,
                           note=f"limit {side} at {band:.2f} (reference {reference:.2f})")
        stuck = at_or_below(bars.close[k], lower) if side == "down" else at_or_above(bars.close[k], upper)
        if not stuck:
            tl = paint(tl, e, e, State.CONTINUOUS, events=(state,))
            continue
        pause_start = e + reg.limit_state
        uncross = min(pause_start + reg.pause, close_ns)
        if pause_start >= close_ns:
            tl = paint(tl, e, e, State.CONTINUOUS, events=(state,))
            continue
        tl = paint(tl, pause_start, uncross, State.PAUSED, events=(state, StateEvent(
            "luld_pause", pause_start, reg.id, value=band, threshold=band, symbol=symbol,
            note="5-minute trading pause; reopening auction at its end")))
        busy_until = uncross
        reference = first_print_at_or_after(bars, uncross)
        ref_from = int(np.searchsorted(bars.starts, uncross, side="left"))
    return tl
