"""What prints: each scenario's index path run through the exchange rules, applied to its market.

Nothing here decides a rule. For every exchange session of a scenario the generated 1-minute bars
of the market's rule index (KOSPI, the S&P 500) go through the circuit-breaker painter of
:mod:`backtests.exchange` (the same code ``krx_market_state`` / ``us_market_state`` call, with the
regime in force that day), and the resulting :class:`~backtests.exchange.states.Timeline`
decides, for every exchange-traded asset of that market:

- what prints under the timeline is :mod:`backtests.exchange.prints` (no prints while halted,
  paused or in a call auction; the first bar after a non-trading stretch opens at the auction's
  print, here the latent price at the uncross; the closing auction prints once, on the session's
  last bar);
- a level-3 halt runs to the close: no later prints and no closing auction;
- KRX daily price limits (from ``krx_price_limits``, around each session's previous printed close,
  scaled by ETF leverage) clip every print of stocks and ETFs (the index has none);
- volume traded while no prints were possible is added to the auction bar that ends the stretch.

With ``symbol_rules`` the single-stock rules (KRX static and dynamic volatility interruptions and
limit locks; US LULD pauses) are derived from each stock's printed bars by the exchange package
as well, overlaid on the market's timeline and applied the same way.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from backtests.exchange.bars import Bars
from backtests.exchange.circuit import apply_circuit_breakers
from backtests.exchange.krx import krx_price_limits, krx_symbol_state
from backtests.exchange.prints import Printed, apply_masks, print_masks
from backtests.exchange.rules import US_MWCB, krx_cb_regime, regime_for
from backtests.exchange.schedule import session_day
from backtests.exchange.states import Timeline, overlay
from backtests.exchange.us import luld_state
from backtests.notices import Notice
from backtests.scenarios.clock import MarketGrid

#: Slack on the "could any level fire?" screen (the painter itself compares with 1e-12).
SCREEN_SLACK = 1e-9


def session_regime(market: str, date: pd.Timestamp, index: str):
    """``(regime, event code prefix)`` of the market-wide circuit breaker in force on ``date``."""
    if market == "XKRX":
        return krx_cb_regime(date, index), "cb"
    return regime_for(US_MWCB, date, "US MWCB"), "mwcb"


def scheduled_day(market: str, date: pd.Timestamp, open_ns: int, close_ns: int) -> Timeline:
    """The session's scheduled timeline, labelled as derived from intraday bars."""
    return replace(session_day(market, date, open_ns, close_ns), derived_from="intraday")


def market_day(grid: MarketGrid, s: int, index_bars: tuple[np.ndarray, ...], prev_close: np.ndarray,
               index: str) -> tuple[list[Timeline], np.ndarray, np.ndarray, np.ndarray]:
    """Market-wide state of session ``s`` for every scenario, from its index bars.

    Parameters
    ----------
    grid
        The market's grid.
    s
        Session index.
    index_bars
        ``(open, high, low, close)`` of the index in session ``s``, each ``(n, T_s)``.
    prev_close
        ``(n,)`` the index's previous close (the rules' reference).
    index
        ``KOSPI`` / ``KOSDAQ`` (KRX regime table) or ``S&P 500``.

    Returns
    -------
    (timelines, prints, auction_open, closing_print)
        One timeline per scenario (scenarios where no level can fire share the scheduled one) and
        ``(n, T_s)`` masks.
    """
    date = grid.dates[s]
    open_ns, close_ns = int(grid.opens[s]), int(grid.closes[s])
    sl = grid.session_bars(s)
    starts, ends = grid.starts[sl], grid.ends[sl]
    base = scheduled_day(grid.market, date, open_ns, close_ns)
    reg, code = session_regime(grid.market, date, index)
    n = len(prev_close)
    masks = print_masks(base, starts, ends, open_ns)
    out = [np.repeat(m[None, :], n, axis=0) for m in masks]
    tls = [base] * n
    if reg is None:
        return tls, *out
    o, h, lo, c = index_bars
    # a necessary condition for any firing (or excluded) event: some bar at or below the shallowest
    # level (its high under a persistence rule, which reads whole bars; its low otherwise)
    shallowest = min(lv.decline for lv in reg.levels)
    probe = h if reg.persistence > 0 else lo
    can_fire = np.any(probe <= (prev_close * (1.0 - shallowest) * (1.0 + SCREEN_SLACK))[:, None], axis=1)
    seen: dict[bytes, tuple[np.ndarray, ...]] = {base.edges.tobytes() + base.codes.tobytes(): masks}
    for i in np.flatnonzero(can_fire):
        bars = Bars(starts, ends, o[i], h[i], lo[i], c[i])
        tl = apply_circuit_breakers(base, bars, float(prev_close[i]), reg, open_ns, close_ns, code)
        tls[i] = tl
        key = tl.edges.tobytes() + tl.codes.tobytes()
        if key not in seen:
            seen[key] = print_masks(tl, starts, ends, open_ns)
        for k, m in enumerate(seen[key]):
            out[k][i] = m
    return tls, *out


def last_print(close: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Each row's last non-NaN close (``fallback`` where a row printed nothing)."""
    ok = ~np.isnan(close)
    idx = close.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    val = close[np.arange(close.shape[0]), idx]
    return np.where(ok.any(axis=1), val, fallback)


def clip_to_limits(p: Printed, base: np.ndarray, date: pd.Timestamp, leverage: float) -> tuple[Printed, int]:
    """KRX daily price limits around ``base`` (previous printed close) applied to every print.

    Returns the clipped bars and the number of scenarios with at least one clipped print.
    """
    lo, hi = krx_price_limits(base, date, leverage)
    lo, hi = lo[:, None], hi[:, None]
    clipped = 0
    fields = {}
    hit = np.zeros(len(base), dtype=bool)
    for name in ("open", "high", "low", "close"):
        a = getattr(p, name)
        with np.errstate(invalid="ignore"):
            out = np.clip(a, lo, hi)
            hit |= np.any((a < lo) | (a > hi), axis=1)
        fields[name] = out
    clipped = int(hit.sum())
    return Printed(fields["open"], fields["high"], fields["low"], fields["close"], p.volume, p.auction), clipped


def symbol_day(market: str, grid: MarketGrid, s: int, market_tl: Timeline, p: Printed, i: int, base: float,
               symbol: str, leverage: float) -> Timeline:
    """One stock's own state in session ``s`` (KRX VI and limit locks, US LULD) from its printed bars,
    overlaid on the market's timeline."""
    sl = grid.session_bars(s)
    ok = ~np.isnan(p.close[i, sl])
    frame = pd.DataFrame({"open": p.open[i, sl][ok], "high": p.high[i, sl][ok], "low": p.low[i, sl][ok],
                          "close": p.close[i, sl][ok]},
                         index=pd.to_datetime(grid.ends[sl][ok], utc=True))
    date = grid.dates[s]
    if market == "XKRX":
        own = krx_symbol_state(frame, base, date, symbol, leverage=leverage, bar="1min")
    else:
        own = luld_state(frame, base, date, tier=1, symbol=symbol, bar="1min")
    return overlay(market_tl, own)


def scenario_notices(family_name: str, n: int, truncated: int, clipped: dict[str, int], no_rules: list[str],
                     symbol_rules: bool) -> list[Notice]:
    """The named warnings a chunk of ``n`` scenarios carries (counts: scenarios; clipping:
    scenario-sessions)."""
    out: list[Notice] = []
    if truncated:
        out.append(Notice("scenario_trough_beyond_horizon", f"{family_name}: the trough lies after the "
                          "scenario's last bar; the fall is cut short", count=truncated))
    for sym, k in sorted(clipped.items()):
        if k:
            out.append(Notice("scenario_price_limit", f"{family_name}: prints clipped at the KRX daily price "
                              "limit", symbol=sym, count=k))
    for m in no_rules:
        out.append(Notice("scenario_no_rule_index", f"{family_name}: no index path for {m}; its market-wide "
                          "circuit breakers are not derived", count=n))
    if not symbol_rules:
        out.append(Notice("scenario_symbol_rules_off", f"{family_name}: single-stock rules (KRX volatility "
                          "interruptions and limit locks, US LULD pauses) not derived (symbol_rules: false)", count=n))
    return out


__all__ = ["Printed", "market_day", "print_masks", "apply_masks", "last_print", "clip_to_limits", "symbol_day",
           "scheduled_day", "session_regime", "scenario_notices"]
