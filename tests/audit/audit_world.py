"""A small synthetic world for the audit tests, and a loader for the plug-in files kept as data.

Two equities (``AAA`` in New York, ``BBB`` in Seoul, priced in KRW), a USD/KRW fixing (``KRW=X``,
New York noon), 5-minute intraday bars of ``BBB`` on two sessions, and four catalogue events: two
unscheduled KRX circuit breakers, one scheduled earnings release of ``AAA`` (with an outcome field,
``surprise``, not public before the release) and one unscheduled AI shock. ``AAA`` has three
forced moves larger than 4%.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.time.calendars import sessions
from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.market_data import MarketData, SymbolInfo

HERE = Path(__file__).resolve().parent
CHEATS = sorted((HERE / "cheats").glob("*.py"))
HONEST = sorted((HERE / "honest").glob("*.py"))
BIG_MOVES = {"2024-03-12": 0.06, "2024-05-21": -0.07, "2024-09-17": 0.055}
INTRADAY_DAYS = ("2024-08-05", "2024-10-15")


def _walk(rng: np.random.Generator, n: int, start: float, sd: float = 0.012) -> np.ndarray:
    return start * np.exp(np.cumsum(rng.normal(0.0, sd, n)))


def _ohlc(rng: np.random.Generator, close: np.ndarray) -> dict[str, np.ndarray]:
    prev = np.concatenate([[close[0]], close[:-1]])
    opn = prev * np.exp(rng.normal(0.0, 0.004, len(close)))
    hi = np.maximum(opn, close) * (1 + np.abs(rng.normal(0, 0.003, len(close))))
    lo = np.minimum(opn, close) * (1 - np.abs(rng.normal(0, 0.003, len(close))))
    return {"open": opn, "high": hi, "low": lo, "close": close, "volume": rng.uniform(1e5, 2e5, len(close))}


@lru_cache(maxsize=1)
def world() -> tuple[MarketData, pd.DataFrame]:
    """``(data, events)``: the same every call (seeded)."""
    rng = np.random.default_rng(7)
    nd = pd.DatetimeIndex(sessions("XNYS", "2024-01-02", "2024-12-31").index)
    kd = pd.DatetimeIndex(sessions("XKRX", "2024-01-02", "2024-12-31").index)
    r = rng.normal(0.0, 0.012, len(nd))
    for day, move in BIG_MOVES.items():
        r[nd.get_loc(pd.Timestamp(day))] = move
    a_close = 100.0 * np.exp(np.cumsum(r))
    b_close = _walk(rng, len(kd), 50_000.0)
    fd = pd.DatetimeIndex(sessions("XNYS", "2023-12-01", "2024-12-31").index)  # known before BBB's first close
    fx = _walk(rng, len(fd), 1350.0, 0.004)
    bars = {
        "AAA": daily_bars(pd.DataFrame(_ohlc(rng, a_close), index=nd), "XNYS"),
        "BBB": daily_bars(pd.DataFrame(_ohlc(rng, b_close), index=kd), "XKRX"),
        "KRW=X": daily_bars(pd.DataFrame({"close": fx}, index=fd), "XNYS", close_time="12:00"),
    }
    parts = []
    for day in INTRADAY_DAYS:
        prev = float(bars["BBB"]["close"][bars["BBB"].index < pd.Timestamp(day, tz="UTC")].iloc[-1])
        times = pd.Timestamp(f"{day} 00:00", tz="UTC") + pd.to_timedelta(np.arange(78) * 5, unit="min")
        path = prev * np.exp(np.cumsum(rng.normal(0.0, 0.002, 78)))
        parts.append(pd.DataFrame({"open": path, "high": path * 1.001, "low": path * 0.999, "close": path},
                                  index=times))
    intra = intraday_bars(pd.concat(parts), "5min")
    info = {"AAA": SymbolInfo("AAA", "XNYS", "USD", "equity", "test"),
            "BBB": SymbolInfo("BBB", "XKRX", "KRW", "equity", "test"),
            "KRW=X": SymbolInfo("KRW=X", "XNYS", "KRW", "fx", "test")}
    data = MarketData(bars=bars, info=info, intraday={"BBB": intra}, fx={"KRW": "KRW=X"})
    events = pd.DataFrame([
        {"id": "cb_aug", "label": "circuit breaker", "kind": "krx_circuit_breaker", "market": "XKRX",
         "date": "2024-08-05", "timing": "intraday", "time_utc": "2024-08-05 02:10", "scheduled": False},
        {"id": "cb_oct", "label": "circuit breaker", "kind": "krx_circuit_breaker", "market": "XKRX",
         "date": "2024-10-15", "timing": "intraday", "time_utc": "2024-10-15 03:00", "scheduled": False},
        {"id": "aaa_q2", "label": "AAA earnings", "kind": "aaa_earnings", "market": "XNYS",
         "date": "2024-06-25", "timing": "after_close", "time_utc": "2024-06-25 20:05", "scheduled": True,
         "surprise": "0.12"},
        {"id": "shock_jul", "label": "AI shock", "kind": "ai_shock", "market": "XNYS",
         "date": "2024-07-16", "timing": "before_open", "time_utc": "2024-07-16 12:00", "scheduled": False},
    ])
    events["date"] = pd.to_datetime(events["date"])
    events["time_utc"] = pd.to_datetime(events["time_utc"], utc=True)
    return data, events


def load_plugin(path: Path) -> tuple[type, object]:
    """``(Strategy class, EXPECTED_CHANNEL)`` of a plug-in file kept as test data."""
    name = f"audit_plugin_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.Plugin, getattr(module, "EXPECTED_CHANNEL", None)
