"""Hand-built price paths for the rule cases: bars whose values are stated in local clock time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.exchange.states import NAT

TZ = {"XKRX": "Asia/Seoul", "XNYS": "America/New_York"}


def at(market: str, date: str, clock: str) -> int:
    """UTC int64 ns of a local wall-clock time."""
    return int(pd.Timestamp(f"{date} {clock}").tz_localize(TZ[market]).value)


def clock(market: str, instant: int) -> str:
    """Local ``HH:MM:SS`` of a UTC int64 ns instant ('NaT' for the missing instant)."""
    if instant == NAT:
        return "NaT"
    return pd.Timestamp(int(instant), tz="UTC").tz_convert(TZ[market]).strftime("%H:%M:%S")


def step_bars(market: str, date: str, levels: dict[str, float], start: str, end: str,
              freq: str = "1min") -> pd.DataFrame:
    """Bars of a piecewise-constant path: the value jumps to ``levels[hh:mm[:ss]]`` at that instant.

    Each bar ``[t, t + freq)`` lies entirely at the level in force at ``t`` (jumps only on bar
    boundaries), stamped at its end (UTC).
    """
    starts = pd.date_range(f"{date} {start}", f"{date} {end}", freq=freq, tz=TZ[market], inclusive="left")
    keys = sorted((pd.Timestamp(f"{date} {k}").tz_localize(TZ[market]), v) for k, v in levels.items())
    vals = np.empty(len(starts))
    for i, s in enumerate(starts):
        vals[i] = [v for k, v in keys if k <= s][-1]
    ends = (starts + pd.Timedelta(freq)).tz_convert("UTC")
    return pd.DataFrame({"open": vals, "high": vals, "low": vals, "close": vals}, index=ends)


def linear_bars(market: str, date: str, start: str, end: str, value, freq: str = "1min") -> pd.DataFrame:
    """Bars of a path given as ``value(minutes since start)`` sampled at bar boundaries (linear inside)."""
    starts = pd.date_range(f"{date} {start}", f"{date} {end}", freq=freq, tz=TZ[market], inclusive="left")
    step = pd.Timedelta(freq).total_seconds() / 60
    m = np.arange(len(starts)) * step
    o = np.array([value(x) for x in m], dtype=float)
    c = np.array([value(x + step) for x in m], dtype=float)
    ends = (starts + pd.Timedelta(freq)).tz_convert("UTC")
    return pd.DataFrame({"open": o, "high": np.maximum(o, c), "low": np.minimum(o, c), "close": c}, index=ends)


def states_by_clock(market: str, tl) -> list[tuple[str, str, str]]:
    """The timeline's segments as ``(start HH:MM:SS, end HH:MM:SS, state)`` in local time."""
    f = tl.frame()
    return [(clock(market, int(s.value)), clock(market, int(e.value)), st)
            for s, e, st in zip(f["start"], f["end"], f["state"])]
