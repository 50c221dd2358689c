"""Resample a window's per-row returns to scoring periods.

Daily studies score on the sessions of the window's defining market: the rows between two of its
session closes compound into one period (so a Seoul-and-New-York pair trade is scored on, say,
XNYS sessions, 252 a year). A session in which nothing traded has a zero return. Intraday studies
(4h crypto) score on the rows themselves.
"""

from __future__ import annotations

import numpy as np

from backtests.time.calendars import parse_frequency
from backtests.time.windows import Window


def period_returns(stamps: np.ndarray, returns: np.ndarray, window: Window, frequency: str) -> tuple[np.ndarray, np.ndarray]:
    """Compound per-row returns into scoring periods.

    Parameters
    ----------
    stamps
        (rows,) int64 ns UTC stamps of the rows.
    returns
        (rows, combos) simple returns per row.

    Returns
    -------
    (period_ends, period_returns)
        ``period_ends`` (periods,) int64 ns: the session closes (daily) or the row stamps
        (intraday); ``period_returns`` (periods, combos).
    """
    if parse_frequency(frequency) is not None:
        return stamps, returns
    closes = window.closes.as_unit("ns").asi8
    # row r belongs to the first session whose close is at or after its stamp
    which = np.searchsorted(closes, stamps, side="left")
    which = np.clip(which, 0, len(closes) - 1)
    growth = np.ones((len(closes), returns.shape[1]))
    log1p = np.log1p(returns)
    acc = np.zeros((len(closes), returns.shape[1]))
    np.add.at(acc, which, log1p)
    growth = np.exp(acc)
    return closes, growth - 1.0
