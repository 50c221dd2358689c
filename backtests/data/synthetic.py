"""SYNTHETIC market data: a seeded, deterministic replay of the documented AI-scare shocks.

Nothing in this module is market data. Every bar is generated from code (no data files are read or
shipped); the output is labelled ``synthetic=True`` and every symbol has ``source="synthetic"``.
It exists so that scare runs, tests and demos work with no network. Do not draw conclusions about
real markets from it: it only reproduces, by construction, the handful of figures listed below.

What is calibrated (set by construction, exact to float precision in the output)
------------------------------------------------------------------------------
Close-to-close returns on each market's own sessions (simple returns, previous session's close):

* DeepSeek R1, New York 2025-01-27: NVDA -17%, MU -12%, SOXX -8%, QQQ -3%, SPY -1.5%, EWY -3%;
  BTC -5% on the UTC day with a long-liquidation spike (6x the baseline median). KRX is closed
  2025-01-27..30 (no bars); the first Korean reaction on 2025-01-31: SK Hynix -10%, Samsung -2.4%,
  KOSPI -0.8%.
* KOSPI Level-1 circuit-breaker days (close / intraday low vs previous close): 2024-08-05 -8.8% /
  -10.8%, 2026-03-04 -12.06% / -12.65%, 2026-03-09 -5.96% / -8.75%, 2026-06-08 -8.29% / -8.8%,
  2026-06-23 -9.99% / -9.99% (open -0.3%, low = close), 2026-06-26 -5.81% / -9.0%. No other KOSPI
  session has a low at or below -8% of the previous close. KOSPI +3% on 2026-06-24, +5% on 06-25.
* 2026-06-23: Samsung -12.3%, SK Hynix -12.5%, KODEX 200 follows KOSPI; New York: EWY -9%,
  MU -13%, SOXX -8%, QQQ -3.3%, SPY -1.5%; KRW=X +2% at the Seoul close (KRW weakens); BTC -6%,
  the largest long liquidations of the series (45x the baseline median), funding negative.
  5-minute KOSPI and KODEX 200 bars for that Seoul session (``MarketData.intraday``): the index
  touches -8% at 10:50 KST, a 20-minute Level-1 halt plus the 10-minute single-price call auction
  leave no bars from 10:50 to 11:20 KST, and the session closes at its low; the day's daily bar is
  the aggregate of those 5-minute bars.
* Micron results after the New York close (MU next-session reaction): 2024-09-25 +15%,
  2024-12-18 -16%, 2025-03-20 -8%, 2025-06-25 -1%, 2025-09-23 +8%, 2025-12-17 +10%, 2026-03-18 -5%,
  2026-06-24 +16%. SK Hynix on the next Seoul session moves the same way by 0.6x MU's log move times
  a random factor (1 + 0.25 z, z clipped to +-2) (2026-06-25: +11%, fixed); half of that
  dispersion is given back, evenly, over Hynix's next five sessions.
  (The 2025-09-23 and 2026-03-18 figures follow the project brief; reported real reactions were
  smaller, about -3% and -4%.)
* October 2025 crypto cascade, UTC day 2025-10-10: BTC -7%, ETH -12%, long liquidations 30x
  (BTC) and 30x (ETH) the baseline median, concentrated in the 20:00 UTC 4-hour bar; funding
  negative.

What is modelled but not calibrated to any observed series
----------------------------------------------------------
* Normal days: a factor model with Student-t (5 d.o.f.) innovations: global equity, tech/semis,
  memory, Korea, USDKRW and crypto factors plus idiosyncratic noise. Annualized volatilities are
  roughly KOSPI 18%, Hynix 45%, Samsung 32%, MU 50%, NVDA 50%, SOXX 35%, QQQ 20%, SPY 15%, EWY 22%,
  USDKRW 7%, BTC 50%, ETH 70%. Each UTC day is cut into four segments (00:00-06:30 the Seoul
  session, 06:30-13:30, 13:30-20:30 the New York session, 20:30-24:00), so a market's return over
  a session is the sum of the segments since its previous close: New York's moves reach Seoul on
  the next Seoul session, Micron's after-close news reaches Seoul before New York, and crypto trades
  every day, weekends included (equity factors carry a tenth of their weekday variance on
  weekends).
* Price levels follow rough, rounded reference levels (a handful of anchor points per symbol:
  MU ~100 in early 2025 to ~1,200 in mid 2026, KOSPI ~2,500 to ~9,100, Hynix ~200,000 to
  ~2,900,000 KRW, BTC 45,000-120,000): the random path is pinned to them by a constant drift per
  interval on unlocked sessions. They are approximations, not data.
* Opens, highs, lows and volumes are model output (overnight segments give the open; the
  high/low extend the open-close range by half-normal amounts); KODEX 200 is KOSPI times a slowly
  drifting ratio with tracking noise; USDT-USD stays within a few basis points of 1.
* Crypto ``long_liquidations_usd`` / ``short_liquidations_usd`` (USD per bar): lognormal, rising
  with the bar's down (long) or up (short) move, baseline median about $30M/day (BTC longs); normal
  days are capped at 12x the baseline median so the shock days stand out (the day after a shock
  day is raised 2.5x). ``funding_rate``
  (percent per 8 hours, as CoinGlass): AR(1) around 0.01, nudged by returns, set negative around
  the cascades. 4-hour crypto bars aggregate exactly into the daily bars.

Reproducibility: one ``numpy.random.Generator(PCG64(seed))`` whose draws have fixed sizes over a
fixed internal span (2023-01-02..2027-12-31), so a given seed gives byte-identical bars, and any
``start``/``end`` inside that span gives the same bars on the dates they share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.data.synthetic_world import (
    _ASSETS, _CRASH_DAY, _HYNIX_FIXED, _IDX, _KODEX, _LOCKS, _MU_EARNINGS, _OUTPUT_ORDER, _USDT, SPAN, _build,
)
from backtests.errors import DataError

__all__ = ["DEFAULT_SEED", "SPAN", "generate"]

DEFAULT_SEED = 20260623

# ----------------------------------------------------------------------------- public API
def _norm_frequency(frequency: str) -> str:
    f = str(frequency).strip()
    if f.upper() in {"1D", "D", "DAILY"}:
        return "1D"
    if f.lower() in {"4h", "240min"}:
        return "4h"
    raise DataError(f"synthetic data has frequencies 1D and 4h, not {frequency!r}", where="frequency")


def _norm_range(start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError):
        raise DataError(f"start/end must be dates, got {start!r} and {end!r}", where="synthetic") from None
    if s.tzinfo is not None or e.tzinfo is not None:
        s, e = s.tz_localize(None), e.tz_localize(None)
    lo, hi = pd.Timestamp(SPAN[0]), pd.Timestamp(SPAN[1])
    if s > e:
        raise DataError(f"start {s.date()} is after end {e.date()}", where="synthetic")
    if s < lo or e > hi:
        raise DataError(f"synthetic data covers {SPAN[0]}..{SPAN[1]}, asked {s.date()}..{e.date()}",
                        where="synthetic")
    return s, e


def _info(symbol: str) -> SymbolInfo:
    if symbol == _KODEX.symbol:
        return _KODEX
    if symbol == _USDT.symbol:
        return _USDT
    a = _ASSETS[_IDX[symbol]]
    return SymbolInfo(a.symbol, a.market, a.currency, a.kind, "synthetic", a.name)


def generate(seed: int = DEFAULT_SEED, frequency: str = "1D", start: str = "2024-01-02",
             end: str = "2026-08-31") -> MarketData:
    """Generate the SYNTHETIC replay of the AI-scare shocks (see the module docstring).

    Parameters
    ----------
    seed
        Seed of the ``PCG64`` generator; the same seed and arguments give byte-identical data.
    frequency
        ``1D``: daily bars of every symbol plus 5-minute KOSPI / KODEX 200 bars on 2026-06-23 (when
        in range). ``4h``: 4-hour bars of the crypto symbols only (bars labelled by open time).
    start, end
        Local session dates (UTC days for crypto), inclusive, within 2023-01-02..2027-12-31.

    Returns
    -------
    MarketData
        ``synthetic=True``; ``fx={"KRW": "KRW=X"}`` for daily data.
    """
    freq = _norm_frequency(frequency)
    s, e = _norm_range(start, end)
    world = _build(int(seed))
    bars: dict[str, pd.DataFrame] = {}
    info: dict[str, SymbolInfo] = {}
    intraday: dict[str, pd.DataFrame] = {}
    if freq == "1D":
        for sym in _OUTPUT_ORDER:
            sym_info = _info(sym)
            table = world.daily[sym]
            table = table.loc[(table.index >= s) & (table.index <= e)]
            bars[sym] = daily_bars(table, sym_info.market)
            info[sym] = sym_info
        crash = pd.Timestamp(_CRASH_DAY)
        if s <= crash <= e:
            for sym, table in world.intraday.items():
                intraday[sym] = intraday_bars(table, "5min")
        fx = {"KRW": "KRW=X"}
    else:
        lo, hi = s.tz_localize("UTC"), (e + pd.Timedelta(days=1)).tz_localize("UTC")
        for sym in ("BTC-USD", "ETH-USD", "USDT-USD"):
            table = world.four_hour[sym]
            table = table.loc[(table.index >= lo) & (table.index < hi)]
            bars[sym] = intraday_bars(table, "4h")
            info[sym] = _info(sym)
        fx = {}
    return MarketData(bars=bars, info=info, frequency=freq, synthetic=True, intraday=intraday, fx=fx)


def _print_calibration(md: MarketData) -> None:  # pragma: no cover - a convenience for people
    """Print the calibrated figures as measured from ``md`` (``python -m backtests.data.synthetic``)."""
    from backtests.time.calendars import local_session_dates

    def rel(sym: str, date: str, field: str = "close") -> float:
        frame = md.bars[sym]
        local = local_session_dates(md.info[sym].market, frame.index)
        i = int(np.flatnonzero(local == pd.Timestamp(date))[0])
        return float(frame[field].iloc[i] / frame["close"].iloc[i - 1] - 1.0)

    rows = [(lk.symbol, lk.date, lk.ret, lk.low) for lk in _LOCKS]
    rows += [("069500.KS", _CRASH_DAY, None, None)]
    for date, mu in _MU_EARNINGS:
        nxt = (pd.Timestamp(date) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        rows += [("MU", nxt, mu, None), ("000660.KS", nxt, _HYNIX_FIXED.get(date), None)]
    print(f"{'symbol':10s} {'session':10s} {'target':>8s} {'close':>8s} {'low':>8s}")
    for sym, date, target, low in rows:
        t = "" if target is None else f"{target:+.2%}"
        lo = "" if low is None else f"{rel(sym, date, 'low'):+.2%}"
        print(f"{sym:10s} {date:10s} {t:>8s} {rel(sym, date):+8.2%} {lo:>8s}")
    btc = md.bars["BTC-USD"]
    med = float(btc["long_liquidations_usd"].median())
    for date in ("2025-01-27", "2025-10-10", "2026-06-23"):
        row = btc.loc[pd.Timestamp(date, tz="UTC") + pd.Timedelta(days=1)]
        print(f"BTC-USD {date}: long liquidations {row['long_liquidations_usd'] / 1e6:,.0f}M "
              f"= {row['long_liquidations_usd'] / med:.1f}x median ({med / 1e6:.0f}M), "
              f"funding {row['funding_rate']:+.4f}%/8h")


if __name__ == "__main__":  # pragma: no cover
    _print_calibration(generate())
