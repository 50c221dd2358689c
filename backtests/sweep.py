"""Run a strategy's parameter sweep in chunks: bounded memory, optional Dask, resumable.

A sweep is cut into chunks of combinations. Each chunk is an independent, picklable
:class:`ChunkTask` (strategy, its data, the chunk's grid rows, windows, costs) whose result is a
list of numpy :class:`WindowBlock` objects. Chunks run in-process (``executor: local``) or on a Dask
distributed cluster (``executor: dask``); either way the blocks are assembled in a canonical order
(combination, then window), so chunked, unchunked and distributed runs give identical results.

Finished chunks can be kept in a checkpoint folder; an interrupted run re-run with ``--resume``
only computes the chunks that are missing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.calendars import periods_per_year
from backtests.data.market_data import MarketData, asof
from backtests.engine.costs import SymbolCosts
from backtests.engine.periods import period_returns
from backtests.engine.simulate import simulate
from backtests.errors import ConfigError, StrategyError
from backtests.strategy.base import Strategy
from backtests.strategy.context import StrategyContext
from backtests.windows import Window

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
    costs: dict[str, SymbolCosts]
    fill: str
    init_cash: float
    exit_at_window_end: bool
    benchmark: str | None
    keep_weights: bool = True


@dataclass
class WindowBlock:
    """One window's results for the combinations of one chunk (plain numpy)."""

    window: str
    combos: np.ndarray  # (k,) global combo ids
    ends: np.ndarray  # (P,) int64 ns period ends
    returns: np.ndarray  # (P, k)
    bench: np.ndarray | None  # (P,)
    ppy: float
    entries: np.ndarray  # (k,)
    exposure: np.ndarray  # (k,)
    turnover: np.ndarray  # (k,)
    n_orders: np.ndarray  # (k,)
    stamps: np.ndarray  # (rows,) int64 ns
    held: np.ndarray | None  # (rows, k, symbols)
    target: np.ndarray | None  # (rows, k, symbols)
    orders: pd.DataFrame  # combo (global), symbol, row, side, size, price, fees
    #: named warnings met in this window (JSON-ready :meth:`Notice.record` dicts)
    notices: list[dict] = field(default_factory=list)


def check_weights(weights: pd.DataFrame, label: str, traded: list[str]) -> pd.DataFrame:
    """A strategy's output has the promised shape: sorted UTC index, (combo, symbol) columns."""
    if not isinstance(weights, pd.DataFrame) or not isinstance(weights.index, pd.DatetimeIndex) \
            or weights.index.tz is None:
        raise StrategyError(f"{label}: target_weights must return a DataFrame with a UTC DatetimeIndex")
    if not isinstance(weights.columns, pd.MultiIndex) or weights.columns.nlevels != 2:
        raise StrategyError(f"{label}: target_weights must return MultiIndex columns (combo, symbol)")
    extra = set(weights.columns.get_level_values(1)) - set(traded)
    if extra:
        raise StrategyError(f"{label}: weights for symbols it does not trade: {sorted(extra)}")
    w = weights.sort_index()
    if w.index.has_duplicates:
        raise StrategyError(f"{label}: duplicate decision stamps in the weights")
    if np.isinf(w.to_numpy(dtype="float64", na_value=np.nan)).any():
        raise StrategyError(f"{label}: weights contain inf")
    return w.set_axis(w.index.tz_convert("UTC").as_unit("ns"))


def benchmark_periods(data: MarketData, symbol: str, window: Window, ends: np.ndarray) -> np.ndarray:
    """Benchmark simple returns over the same periods (as-of prices, in USD)."""
    px = data.to_usd(symbol, "close")
    at = pd.DatetimeIndex(np.concatenate([[window.start_utc.as_unit("ns").value], ends]), tz="UTC")
    levels = asof(px, at).to_numpy()
    return levels[1:] / levels[:-1] - 1.0


def compute_chunk(task: ChunkTask) -> list[WindowBlock]:
    """Weights, simulation and period returns for one chunk of combinations."""
    strategy = task.strategy
    traded = strategy.traded_symbols
    ctx = StrategyContext(task.data, strategy.symbols, task.events)
    local_grid = task.grid.reset_index(drop=True)
    local_grid.index.name = "combo"
    weights = check_weights(strategy.target_weights(ctx, local_grid), task.label, traded)
    n = len(local_grid)
    results = simulate(task.data, traded, weights, n, task.windows, task.costs, fill=task.fill,
                       init_cash=task.init_cash, exit_at_window_end=task.exit_at_window_end,
                       keep_weights=task.keep_weights)
    combos = task.grid.index.to_numpy()
    blocks = []
    for res in results:
        w = res.window
        ends, prets = period_returns(res.stamps, res.returns, w, task.data.frequency)
        orders = res.orders
        n_orders = np.bincount(orders["combo"].to_numpy(dtype=int), minlength=n) if len(orders) else np.zeros(n, int)
        if len(orders):
            orders = orders.assign(combo=combos[orders["combo"].to_numpy(dtype=int)])
        blocks.append(WindowBlock(
            window=w.id, combos=combos, ends=ends, returns=prets,
            bench=benchmark_periods(task.data, task.benchmark, w, ends) if task.benchmark else None,
            ppy=periods_per_year(w.market, task.data.frequency), entries=res.entries, exposure=res.exposure,
            turnover=res.turnover, n_orders=n_orders, stamps=res.stamps, held=res.held, target=res.target,
            orders=orders,
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


# ----------------------------------------------------------------------------- checkpoints
class Checkpoints:
    """Finished chunks on disk, keyed by strategy label, chunk bounds and config hash."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, label: str, lo: int, hi: int) -> Path:
        assert self.folder is not None
        tag = hashlib.sha256(label.encode()).hexdigest()[:10]
        return self.folder / f"{tag}-{lo:09d}-{hi:09d}.pkl"

    def load(self, label: str, lo: int, hi: int) -> list[WindowBlock] | None:
        if self.folder is None:
            return None
        p = self._path(label, lo, hi)
        if not p.is_file():
            return None
        try:
            with p.open("rb") as fh:
                return pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError):
            return None  # a torn checkpoint is recomputed

    def save(self, label: str, lo: int, hi: int, blocks: list[WindowBlock]) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        p = self._path(label, lo, hi)
        tmp = p.with_suffix(f".tmp-{uuid.uuid4().hex[:6]}")
        with tmp.open("wb") as fh:
            pickle.dump(blocks, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, p)

    def count(self) -> int:
        return len(list(self.folder.glob("*.pkl"))) if self.folder and self.folder.is_dir() else 0


# ----------------------------------------------------------------------------- executors
def _dask_client(address: str | None) -> Any:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("executor 'dask' needs the dask extra: pip install 'scare[dask]'",
                          where="executor.kind") from None
    if address:
        try:
            return Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}",
                              where="executor.address") from None
    return Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))


def run_chunks(tasks: list[tuple[int, int, ChunkTask]], kind: str, address: str | None,
               checkpoints: Checkpoints, done: Callable[[int], None]) -> Iterator[tuple[int, list[WindowBlock]]]:
    """Yield ``(lo, blocks)`` for every chunk, from checkpoints or computed (locally or on Dask)."""
    todo = []
    for lo, hi, task in tasks:
        cached = checkpoints.load(task.label, lo, hi)
        if cached is not None:
            done(hi - lo)
            yield lo, cached
        else:
            todo.append((lo, hi, task))
    if not todo:
        return
    if kind == "dask":
        client = _dask_client(address)
        try:
            futures = {client.submit(compute_chunk, t, pure=False): (lo, hi, t) for lo, hi, t in todo}
            from distributed import as_completed

            for fut in as_completed(list(futures)):
                lo, hi, t = futures[fut]
                blocks = fut.result()
                checkpoints.save(t.label, lo, hi, blocks)
                done(hi - lo)
                yield lo, blocks
        finally:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        return
    for lo, hi, t in todo:
        blocks = compute_chunk(t)
        checkpoints.save(t.label, lo, hi, blocks)
        done(hi - lo)
        yield lo, blocks
