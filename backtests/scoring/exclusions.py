"""Windows left out of a strategy's statistics because its signal is missing there.

A strategy declares, per role, the series it reads (``Role.series``: ``close``, a liquidation
series, a funding rate, ...). When one of them has no value at all inside a window (the data
source stopped: CoinGlass liquidations end 2025-05-11), the strategy ran blind in that window:
its episode says nothing about the trade. Such a window is **excluded** from the strategy's event
statistics and its calendar-time pooled series (every pooled figure, the ranking, out of sample),
its run record stays in ``runs[]``, and a named warning ``signal_missing`` says which series of
which symbol was missing, on the tearsheet's verdict row as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from backtests.notices import Notice

CODE = "signal_missing"


def missing_signals(data: Any, strategy: Any, windows: Iterable[Any]) -> dict[str, list[tuple[str, str, str]]]:
    """``{window id: [(role, symbol, series), ...]}`` for every declared series of every role with no
    finite value stamped inside the window (:meth:`~backtests.time.windows.Window.contains`); windows
    where every series has a value are absent. A column the symbol does not have counts as missing."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    frames = {}
    for role, spec in strategy.roles.items():
        sym = strategy.symbols[role]
        frames.setdefault(sym, data.require(sym))
    for w in windows:
        for role, spec in strategy.roles.items():
            sym = strategy.symbols[role]
            frame = frames[sym]
            inside = w.contains(frame.index)
            for series in spec.series:
                col = frame[series].to_numpy(dtype="float64", na_value=np.nan)[inside] if series in frame.columns \
                    else np.zeros(0)
                if not np.isfinite(col).any():
                    out.setdefault(str(w.id), []).append((role, sym, series))
    return out


def reasons(missing: dict[str, list[tuple[str, str, str]]]) -> dict[str, str]:
    """``{window id: reason}``: what is missing, in words (the episode records' ``excluded``)."""
    return {w: f"{CODE}: " + "; ".join(f"{series} of {sym} ({role}) has no value in the window"
                                       for role, sym, series in items)
            for w, items in missing.items()}


def notices(missing: dict[str, list[tuple[str, str, str]]], label: str) -> list[Notice]:
    """One ``signal_missing`` notice per (window, symbol, series)."""
    return [Notice(CODE, f"{series} of {sym} (role {role}) has no value inside the window: the strategy ran without "
                         "its signal there, so the window is left out of its event statistics and pooled series",
                   strategy=label, window=w, symbol=sym)
            for w, items in sorted(missing.items()) for role, sym, series in items]
