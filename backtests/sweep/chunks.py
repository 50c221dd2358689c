"""One chunk of a sweep: a strategy's weights for some combinations, simulated over its windows.

A sweep is cut into chunks of combinations. Each chunk is an independent, picklable
:class:`ChunkTask` (strategy, its data, the chunk's grid rows, windows and the strategy's
:class:`~backtests.engine.rules.Rules`) whose result is a list of numpy :class:`WindowBlock`
objects, one per window. Chunks run in-process or on Dask (:mod:`.executor`), can be kept on disk
(:mod:`.checkpoints`), and are put together in a canonical order (:mod:`.assemble`), so chunked,
unchunked and distributed runs give identical results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData, asof
from backtests.engine.rules import Rules
from backtests.engine.schedule import UnfillableOrder
from backtests.engine.simulate import simulate
from backtests.strategy.base import Strategy
from backtests.strategy.calls import decide, resting_targets
from backtests.strategy.context import StrategyContext
from backtests.time.windows import Window

#: Working memory of one chunk when no limit is given (and never more than a quarter of RAM).
DEFAULT_LIMIT_BYTES = 2e9
#: Bytes per simulation cell (row x combination x symbol x window) across the strategy's weights,
#: the schedule and the kernel's arrays (measured at 100,000 combinations, with headroom).
BYTES_PER_CELL = 160


@dataclass
class ChunkTask:
    """Everything one chunk needs; picklable so it can run on a Dask worker."""

    label: str
    strategy: Strategy
    data: MarketData
    events: pd.DataFrame
    grid: pd.DataFrame  # rows of the sweep grid; index = global combo ids
    windows: list[Window]
    rules: Rules
    benchmark: str | None
    keep_weights: bool = True


@dataclass
class WindowBlock:
    """One window's results for the combinations of one chunk (plain numpy).

    ``stamps`` are the runs' clock (the engine's rows); ``returns`` and ``bench`` are per row.
    ``stats`` holds the engine's per-run statistics (:data:`~backtests.engine.results.RUN_STATS`).
    """

    window: str
    combos: np.ndarray  # (k,) global combo ids
    stamps: np.ndarray  # (rows,) int64 ns UTC
    returns: np.ndarray  # (rows, k)
    bench: np.ndarray | None  # (rows,)
    held: np.ndarray | None  # (rows, k, symbols)
    target: np.ndarray | None  # (rows, k, symbols)
    orders: pd.DataFrame  # combo (global), symbol, row, side, size, price, fees, fill_time, fill_kind
    stats: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (k,)
    #: named warnings met in this window (JSON-ready :meth:`Notice.record` dicts)
    notices: list[dict] = field(default_factory=list)


def benchmark_periods(data: MarketData, symbol: str, window: Window, ends: np.ndarray) -> np.ndarray:
    """Benchmark simple returns (USD, as-of prices) over the periods ending at ``ends`` (int64 ns
    UTC, a run's clock), the first from the window start."""
    px = data.to_usd(symbol, "close")
    at = pd.DatetimeIndex(np.concatenate([[window.start_utc.as_unit("ns").value], ends]), tz="UTC")
    levels = asof(px, at).to_numpy()
    return levels[1:] / levels[:-1] - 1.0


def compute_chunk(task: ChunkTask) -> list[WindowBlock]:
    """Weights and simulation of one chunk of combinations: one block per window."""
    strategy = task.strategy
    traded = strategy.traded_symbols
    local_grid = task.grid.reset_index(drop=True)
    local_grid.index.name = "combo"
    ctx = StrategyContext(task.data, strategy.symbols, task.events, traded=traded)
    weights, notices = decide(strategy, task.label, task.data, task.events, task.grid, task.windows,
                              task.rules.entry, ctx=ctx)
    try:
        results = simulate(task.data, weights, len(local_grid), task.windows, task.rules,
                           keep_weights=task.keep_weights, clock=ctx.index,
                           neutral=resting_targets(strategy, task.label, local_grid))
    except UnfillableOrder as exc:
        params = local_grid.iloc[exc.combo].to_dict() if len(local_grid) > exc.combo else {}
        raise UnfillableOrder(
            f"{task.label} {params} at {exc.stamp.isoformat()} on {exc.symbol}: {exc.detail}",
            exc.combo, exc.stamp, exc.symbol) from None
    combos = task.grid.index.to_numpy()
    blocks = []
    for res in results:
        w = res.window
        orders = res.orders
        if len(orders):
            orders = orders.assign(combo=combos[orders["combo"].to_numpy(dtype=int)])
        blocks.append(WindowBlock(
            window=w.id, combos=combos, stamps=res.stamps, returns=res.returns,
            bench=benchmark_periods(task.data, task.benchmark, w, res.stamps) if task.benchmark else None,
            held=res.held, target=res.target, orders=orders, stats=res.stats,
            notices=list(res.notices) + list(notices.get(w.id, [])),
        ))
    return blocks


# ----------------------------------------------------------------------------- chunk sizing
def chunk_size(n_combos: int, rows: int, n_windows: int, n_symbols: int, chunk_runs: int | None,
               memory_limit_gb: float | None) -> int:
    """Combinations per chunk: explicit, from a memory limit, or the default cell budget.

    ``rows`` is the longest window's bar count. The default memory limit is a quarter of RAM, at
    most :data:`DEFAULT_LIMIT_BYTES`.
    """
    if chunk_runs:
        return max(1, chunk_runs // max(1, n_windows))
    per_combo = max(1, rows * n_windows * max(1, n_symbols))
    if memory_limit_gb is None:
        total = _total_ram()
        budget = min(DEFAULT_LIMIT_BYTES, total * 0.25) if total else DEFAULT_LIMIT_BYTES
        cells = int(budget / BYTES_PER_CELL)
    else:
        cells = int(memory_limit_gb * 1e9 / BYTES_PER_CELL)
    return max(1, min(n_combos, cells // per_combo))


def _total_ram() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
