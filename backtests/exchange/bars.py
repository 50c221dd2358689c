"""Intraday bars as arrays, and the one rule for reading a trigger off them.

Bars follow the project's stamping rule: an intraday bar is stamped at its *end* (the instant its
close is known) and covers ``[stamp - bar, stamp)``. From bars alone a trigger's exact instant is
unknown inside a bar; every instant derived here is the **latest instant consistent with the bars**
at which the rule could have fired (so the derived state is never earlier than the bars prove). It
is tight to one bar: with 1-minute bars the error is under a minute.

- A condition with **persistence** ``p`` (KRX: the index at or below a level for 1 minute) is proven
  by a run of consecutive bars lying *entirely* in the condition (``high <= level`` for a fall);
  it fires at ``run start + p`` once the run covers that instant.
- A condition without persistence (US circuit breakers, price bands) fires at the end of the first
  bar that *touches* the level (``low <= level``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.errors import DataError


@dataclass(frozen=True)
class Bars:
    """OHLC bars of one series as UTC int64 ns arrays.

    Attributes
    ----------
    starts, ends
        Bar start and end instants (``ends`` are the stamps).
    open, high, low, close
        Prices (index points or the market's currency).
    """

    starts: np.ndarray
    ends: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return len(self.ends)

    def between(self, lo: int, hi: int) -> "Bars":
        """The bars lying inside ``[lo, hi]`` (start at or after ``lo``, end at or before ``hi``)."""
        m = (self.starts >= lo) & (self.ends <= hi)
        return Bars(*(a[m] for a in (self.starts, self.ends, self.open, self.high, self.low, self.close)))


def as_bars(frame: pd.DataFrame, bar: pd.Timedelta | str | None = None, where: str = "bars") -> Bars:
    """Read bars from a frame with a tz-aware DatetimeIndex of bar-end stamps.

    Parameters
    ----------
    frame
        Columns ``high``, ``low``, ``close`` (``open`` optional: the previous close, or the close
        of a first bar without one, is used where it is missing). Sorted, unique stamps.
    bar
        Bar length; inferred as the smallest step between stamps when omitted.
    where
        Name used in error messages (symbol or file).

    Raises
    ------
    DataError
        Missing columns, naive or unsorted stamps, or a single bar without a stated length.
    """
    missing = [c for c in ("high", "low", "close") if c not in frame.columns]
    if missing:
        raise DataError(f"bars need columns high, low, close; missing {missing}", where=where)
    idx = pd.DatetimeIndex(frame.index)
    if idx.tz is None:
        raise DataError("bar stamps must be tz-aware UTC instants (bar ends)", where=where)
    ends = idx.tz_convert("UTC").as_unit("ns").asi8
    if len(ends) > 1 and np.any(np.diff(ends) <= 0):
        raise DataError("bar stamps must increase strictly", where=where)
    if bar is None:
        if len(ends) < 2:
            raise DataError("one bar: give its length (bar=...)", where=where)
        step = int(np.diff(ends).min())
    else:
        step = int(pd.Timedelta(bar).value)
    close = frame["close"].to_numpy(dtype=float)
    if "open" in frame.columns:
        opens = frame["open"].to_numpy(dtype=float)
    else:
        opens = np.concatenate([close[:1], close[:-1]])
    return Bars(ends - step, ends, opens, frame["high"].to_numpy(dtype=float),
                frame["low"].to_numpy(dtype=float), close)


#: Relative slack on price comparisons, so a print exactly at a level computed in floating point
#: (11000 * 1.1 = 12100.000000000002) counts as reaching it.
REL_EPS = 1e-12


def at_or_below(x: np.ndarray | float, level: float) -> np.ndarray | bool:
    """``x <= level`` up to floating-point rounding of ``level``."""
    return np.asarray(x) <= level + abs(level) * REL_EPS


def at_or_above(x: np.ndarray | float, level: float) -> np.ndarray | bool:
    """``x >= level`` up to floating-point rounding of ``level``."""
    return np.asarray(x) >= level - abs(level) * REL_EPS


def first_persistent(bars: Bars, held: np.ndarray, t_from: int, persistence: int) -> tuple[int, int] | None:
    """First instant a condition has held for ``persistence`` ns, from bars that lie entirely in it.

    Parameters
    ----------
    bars
        The bars.
    held
        Per bar: the whole bar satisfies the condition (e.g. ``high <= level``).
    t_from
        Only runs starting at or after this instant count (e.g. the resumption after a halt).
    persistence
        Required duration (ns), > 0.

    Returns
    -------
    (instant, bar index) or None
        The firing instant (run start + persistence) and the bar that proves it.
    """
    ok = held & (bars.starts >= t_from)
    if not ok.any():
        return None
    contiguous = np.concatenate([[False], bars.starts[1:] == bars.ends[:-1]])
    new_run = ok & ~(np.concatenate([[False], ok[:-1]]) & contiguous)
    run_id = np.cumsum(new_run)
    run_start = np.where(ok, bars.starts[np.flatnonzero(new_run)][np.maximum(run_id - 1, 0)], 0)
    fire = run_start + persistence
    proven = ok & (bars.ends >= fire)
    if not proven.any():
        return None
    k = int(np.argmax(proven))
    return int(fire[k]), k


def first_touch(bars: Bars, touched: np.ndarray, t_from: int) -> tuple[int, int] | None:
    """End of the first bar (starting at or after ``t_from``) that touches a level: ``(instant, index)``."""
    ok = touched & (bars.starts >= t_from)
    if not ok.any():
        return None
    k = int(np.argmax(ok))
    return int(bars.ends[k]), k


def value_at(bars: Bars, k: int) -> float:
    """Observed value when bar ``k`` proves a trigger (its close)."""
    return float(bars.close[k])


def first_print_at_or_after(bars: Bars, instant: int) -> float:
    """The first observed price at or after ``instant``: the open of the first bar starting then or
    later (an auction's print), else the last close.

    Raises
    ------
    DataError
        On empty bars.
    """
    if len(bars) == 0:
        raise DataError("no bars")
    i = int(np.searchsorted(bars.starts, instant, side="left"))
    return float(bars.open[i]) if i < len(bars) else float(bars.close[-1])
