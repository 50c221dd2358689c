"""A hand-built KRX crash day (2026-06-23) and its neighbours, as MarketData the engine runs on.

KOSPI (``^KS11``) closes at 10,000 every session; on 2026-06-23 its 1-minute bars sit at 10,000
until 13:05 KST and at 9,150 (-8.5%) from 13:05. The KRX Level-1 rule (-8% held one minute) fires
at 13:06:00; the halt runs 20 minutes to 13:26:00, the single-price call auction 10 minutes to
13:36:00, where it prints. KODEX 200 (``069500.KS``) has 1-minute bars at 100 until 13:05, 92 from
13:05 to the halt, none during the halt and the auction (no trades), then a first bar opening at 93
(the reopening print) and 93.5 to the close. Its daily bars: open 100 and close 100 on other days;
2026-06-23 open 100, high 100, low 92, close 93.5. EWY trades in New York at 50.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.time.calendars import sessions

KS, KODEX, EWY, HY, MU, FX = "^KS11", "069500.KS", "EWY", "000660.KS", "MU", "KRW=X"
DAY = "2026-06-23"


def kst(clock: str, day: str = DAY) -> pd.Timestamp:
    return pd.Timestamp(f"{day} {clock}").tz_localize("Asia/Seoul").tz_convert("UTC")


def minute_bars(day: str, levels: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    """1-minute bars from ``(start, end, open, close)`` spans in KST (each bar of a span opens at
    ``open`` for its first bar and trades flat at ``close`` afterwards)."""
    parts = []
    for start, end, first, level in levels:
        t = pd.date_range(f"{day} {start}", f"{day} {end}", freq="1min", tz="Asia/Seoul", inclusive="left")
        o = np.full(len(t), level)
        o[0] = first
        parts.append(pd.DataFrame({"open": o, "high": np.maximum(o, level), "low": np.minimum(o, level),
                                   "close": level, "volume": 1000.0}, index=t.tz_convert("UTC")))
    return intraday_bars(pd.concat(parts), "1min")


def kospi_crash(day: str = DAY) -> pd.DataFrame:
    return minute_bars(day, [("09:00", "13:05", 10000.0, 10000.0), ("13:05", "15:30", 9150.0, 9150.0)])


def kodex_crash(day: str = DAY) -> pd.DataFrame:
    return minute_bars(day, [("09:00", "13:05", 100.0, 100.0), ("13:05", "13:06", 92.0, 92.0),
                             ("13:36", "15:30", 93.0, 93.5)])


def daily(market: str, start: str, end: str, **cols) -> pd.DataFrame:
    dates = pd.DatetimeIndex(sessions(market, start, end).index)
    table = pd.DataFrame({k: np.broadcast_to(np.asarray(v, dtype=float), len(dates)).copy() for k, v in cols.items()},
                         index=dates)
    return daily_bars(table, market)


def crash_data(kodex_intraday: bool = True, kodex_days: dict[str, dict[str, float]] | None = None,
               kospi_intraday: pd.DataFrame | None = None, volume: float = 1000.0) -> MarketData:
    """The crash day with its neighbours (2026-06-15..2026-07-03); ``kodex_days`` overrides KODEX's
    daily bars ``{date: {column: value}}``."""
    ks = daily("XKRX", "2026-06-15", "2026-07-03", open=10000.0, high=10000.0, low=10000.0, close=10000.0)
    ks.loc[kst("15:30"), ["low", "close"]] = 9150.0
    kx = daily("XKRX", "2026-06-15", "2026-07-03", open=100.0, high=100.0, low=100.0, close=100.0, volume=volume)
    days = {DAY: {"low": 92.0, "close": 93.5}, **(kodex_days or {})}
    for d, cols in days.items():
        for c, v in cols.items():
            kx.loc[kst("15:30", d), c] = v
    ewy = daily("XNYS", "2026-06-15", "2026-07-03", open=50.0, high=50.0, low=50.0, close=50.0)
    intra = {KS: kospi_crash() if kospi_intraday is None else kospi_intraday}
    if kodex_intraday:
        intra[KODEX] = kodex_crash()
    info = {KS: SymbolInfo(KS, "XKRX", "USD", "index"), KODEX: SymbolInfo(KODEX, "XKRX", "USD", "etf"),
            EWY: SymbolInfo(EWY, "XNYS", "USD", "etf")}
    return MarketData(bars={KS: ks, KODEX: kx, EWY: ewy}, info=info, intraday=intra)
