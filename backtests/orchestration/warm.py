"""``python -m backtests.orchestration.warm``: compile and cache scare's numba kernels once, at install.

numba compiles a kernel the first time it is called and caches the machine code next to its
source (``__pycache__``, or ``$NUMBA_CACHE_DIR``); without this step a user's first ``scare run``
would spend seconds compiling. ``make install`` / ``make demo`` run it. Safe to run again: cached
kernels are loaded, not recompiled.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def warm() -> dict[str, float]:
    """Compile (or load) every kernel a run uses; returns seconds per kernel family."""
    times: dict[str, float] = {}

    t = time.perf_counter()
    import pandas as pd

    from backtests.scoring import metrics_table  # its kernels have signatures: compiled at import

    returns = pd.DataFrame({"a": [0.01, -0.02, 0.0, 0.03], "b": [0.0, 0.01, np.nan, -0.01]})
    metrics_table(returns, 252.0, returns["a"] * 0.5)
    times["scoring"] = time.perf_counter() - t

    t = time.perf_counter()
    _warm_engine()
    times["engine passes"] = time.perf_counter() - t

    t = time.perf_counter()
    from backtests.engine import kernels

    if kernels._rust() is None:  # the numba fallback compiles vectorbt's kernel for our inputs
        rows, cols = 3, 2
        size = np.array([[0.5, np.nan], [np.nan, -0.5], [0.0, 0.0]])
        kernels.from_orders(
            (rows, cols), np.array([2], dtype=np.int64), np.array([1e6]), engine="numba",
            size=size, price=np.where(np.isnan(size), np.nan, 100.0), size_type=kernels.SIZE_TARGET_PERCENT,
            direction=kernels.DIRECTION_BOTH, fees=np.zeros((rows, cols)), slippage=np.zeros((1, cols)),
            min_size=1e-8, close=np.full((rows, cols), 100.0), max_orders=rows * cols,
        )
        times["order kernel (numba)"] = time.perf_counter() - t
    else:
        times["order kernel (vectorbt-rust, nothing to compile)"] = 0.0
    return times


def _warm_engine() -> None:
    """One small simulation through the engine's compiled passes (:mod:`backtests.engine.compiled`),
    with and without a sell tax (the kernel's fees as one row or as a full array)."""
    import pandas as pd

    from backtests.data.frames import daily_bars
    from backtests.data.market_data import MarketData, SymbolInfo
    from backtests.engine.costs import SymbolCosts
    from backtests.engine.rules import Rules
    from backtests.engine.simulate import simulate
    from backtests.time.windows import Event, make_window

    days = pd.bdate_range("2026-06-01", "2026-06-30")
    bars = daily_bars(pd.DataFrame({"open": 100.0, "close": 101.0}, index=days), "XNYS")
    data = MarketData({"A": bars}, {"A": SymbolInfo("A", "XNYS")})
    window = make_window(Event("warm", "warm", "custom", "XNYS", pd.Timestamp("2026-06-15"), "before_open"), 3, 3)
    weights = pd.DataFrame({(0, "A"): 1.0}, index=bars.index)
    weights.columns = pd.MultiIndex.from_tuples(weights.columns)
    for tax in (0.0, 0.001):
        rules = Rules.build(data.info, ["A"], costs={"A": SymbolCosts(commission=0.0, sell_tax=tax, slippage=0.0, borrow_rate=0.0)})
        simulate(data, weights, 1, [window], rules, keep_weights=True)


def main() -> int:
    total = time.perf_counter()
    for name, seconds in warm().items():
        print(f"warm: {name}: {seconds:.1f} s")
    print(f"warm: kernels compiled and cached in {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
