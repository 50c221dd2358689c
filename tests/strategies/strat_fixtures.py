"""Helpers for the seed-strategy tests: small hand-built MarketData and the shared real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.time.calendars import sessions
from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.strategy import StrategyContext, expand_grid

SHARED_DATA = Path(os.environ.get("SCARE_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


def shared(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available ({path})")
    return path


def session_dates(market: str, start: str, end: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(sessions(market, start, end).index)


def daily(market: str, dates: pd.DatetimeIndex, **cols: np.ndarray | float) -> pd.DataFrame:
    """Daily bars of ``market`` on local ``dates`` with the given columns (scalars broadcast)."""
    table = pd.DataFrame({k: np.broadcast_to(np.asarray(v, dtype="float64"), len(dates)).copy()
                          for k, v in cols.items()}, index=dates)
    return daily_bars(table, market)


def fixing(dates: pd.DatetimeIndex, values: np.ndarray | float, hhmm: str = "12:00",
           tz: str = "America/New_York") -> pd.DataFrame:
    """A daily fixing (e.g. FRED DEXKOUS, New York noon) stamped at ``hhmm`` local time."""
    h, m = (int(x) for x in hhmm.split(":"))
    stamps = (pd.DatetimeIndex(dates) + pd.Timedelta(hours=h, minutes=m)).tz_localize(tz).tz_convert("UTC")
    out = pd.DataFrame({"close": np.broadcast_to(np.asarray(values, dtype="float64"), len(dates)).copy()},
                       index=pd.DatetimeIndex(stamps, name="time").as_unit("ns"))
    out["open_time"] = out.index
    return out


def info(symbol: str, market: str, currency: str = "USD", kind: str = "equity") -> SymbolInfo:
    return SymbolInfo(symbol, market, currency, kind, "test")


def weights(strategy, data: MarketData, params: dict | None = None, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Weights of ONE combination (columns = traded symbols)."""
    grid = expand_grid(strategy.params, dict(params or {}), strategy.name)
    for combo in grid.to_dict("records"):
        strategy.check_params(combo)
    ctx = StrategyContext(data, strategy.symbols, events)
    w = strategy.target_weights(ctx, grid)
    return w[grid.index[0]]


def changes(w: pd.DataFrame) -> pd.DataFrame:
    """Rows where any weight differs from the row before (the first row if non-zero)."""
    prev = w.shift(1).fillna(0.0)
    return w[(w.fillna(0.0) != prev).any(axis=1)]


def events_frame(rows: list[dict]) -> pd.DataFrame:
    """An events table like ``Catalogue.frame()`` from dicts with id, kind, market, date, time_utc."""
    df = pd.DataFrame(rows)
    df["date"] = pd.to_datetime(df["date"])
    df["time_utc"] = pd.to_datetime(df["time_utc"], utc=True)
    for col, default in (("label", ""), ("timing", "intraday"), ("scheduled", False)):
        if col not in df:
            df[col] = [r.get("id", default) if col == "label" else default for r in rows]
    return df


__all__ = ["SHARED_DATA", "changes", "daily", "events_frame", "fixing", "info", "intraday_bars",
           "session_dates", "shared", "weights"]
