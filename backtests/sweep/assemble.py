"""Run one strategy's sweep: chunk it, simulate every chunk, assemble the blocks in canonical order.

Canonical order is combination-major, then window (as :func:`backtests.digest.run_id`), so
chunked, unchunked, resumed and distributed runs give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from backtests.config.plan import StrategyPlan, StudyPlan
from backtests.data.market_data import MarketData
from backtests.engine.results import run_stats
from backtests.engine.rules import Rules
from backtests.engine.state import build_state, settings_from_config
from backtests.notices import Notice, aggregate
from backtests.digest import run_ids
from backtests.sweep.checkpoints import Checkpoints
from backtests.sweep.chunks import ChunkTask, WindowBlock, chunk_size
from backtests.sweep.executor import Executor, run_chunks
from backtests.sweep.results import StrategyResult
from backtests.strategy.bounds import current_limit

ORDER_COLUMNS = ["run", "window", "time", "fill_time", "fill_kind", "symbol", "side", "size", "price", "fees"]


def _run_keys(label: str, grid: pd.DataFrame, windows: list[str]) -> list[str]:
    """Run ids in canonical order (combination-major, then window), as :func:`backtests.digest.run_id`."""
    return run_ids(label, grid, windows)


def assemble(sp: StrategyPlan, blocks: list[WindowBlock], rules: Rules) -> StrategyResult:
    """Put chunk blocks together in canonical order (independent of chunking and executor).

    The runs table holds, per run id, ``combo``, ``window``, ``ppy`` (the rules' clock) and one
    column per engine statistic (:func:`~backtests.engine.results.run_stats`).
    """
    traded = rules.symbols
    win_ids = [w.id for w in sp.windows]
    wpos = {w: i for i, w in enumerate(win_ids)}
    n_w, n_c = len(win_ids), len(sp.grid)
    n_runs = n_w * n_c
    ids = _run_keys(sp.label, sp.grid, win_ids)
    stamps = np.unique(np.concatenate([b.stamps for b in blocks])) if blocks else np.array([], dtype=np.int64)
    R = np.full((len(stamps), n_runs), np.nan)
    B = np.full((len(stamps), n_runs), np.nan)
    specs = run_stats(rules.paired)
    stats = {s.name: np.full(n_runs, s.missing, dtype=s.numpy_dtype) for s in specs}
    weight_parts, order_parts = [], []
    for b in blocks:
        cols = b.combos.astype(np.int64) * n_w + wpos[b.window]
        rows = np.searchsorted(stamps, b.stamps)
        R[np.ix_(rows, cols)] = b.returns
        if b.bench is not None:
            B[np.ix_(rows, cols)] = b.bench[:, None]
        for s in specs:
            stats[s.name][cols] = b.stats[s.name]
        if b.held is not None and len(b.stamps):
            r, k, s_ = b.held.shape
            # run-major within the block (run, then time, then symbol): a stable sort on the run
            # code alone then orders the whole table
            weight_parts.append(pd.DataFrame({
                "run_code": np.repeat(cols.astype(np.int32), r * s_),
                "time": np.tile(np.repeat(b.stamps, s_), k),
                "symbol_code": np.tile(np.arange(s_, dtype=np.int16), r * k),
                "target": b.target.transpose(1, 0, 2).ravel(), "held": b.held.transpose(1, 0, 2).ravel()}))
        if len(b.orders):
            o = b.orders
            order_parts.append(pd.DataFrame({
                "run_code": o["combo"].to_numpy(dtype=np.int64) * n_w + wpos[b.window],
                "window": b.window, "time": b.stamps[o["row"].to_numpy()],
                "fill_time": o["fill_time"].to_numpy(dtype=np.int64),
                "fill_kind": o["fill_kind"].to_numpy() if "fill_kind" in o else "close",
                "symbol": o["symbol"].to_numpy(),
                "side": o["side"].to_numpy(), "size": o["size"].to_numpy(), "price": o["price"].to_numpy(),
                "fees": o["fees"].to_numpy()}))
    index = pd.DatetimeIndex(stamps, tz="UTC", name="time")
    returns = pd.DataFrame(R, index=index, columns=ids, copy=False)  # no second panel (pandas 3 copies by default)
    benchmark = pd.DataFrame(B, index=index, columns=ids, copy=False) if sp.benchmark else None
    runs = pd.DataFrame({
        "combo": np.repeat(np.arange(n_c), n_w), "window": np.tile(np.asarray(win_ids, dtype=object), n_c),
        "ppy": np.full(n_runs, rules.clock.periods_per_year),
        **{s.name: s.column(stats[s.name]) for s in specs}}, index=pd.Index(ids, name="id"))
    weights = _weights_table(weight_parts, ids, traded)
    orders = _orders_table(order_parts, ids)
    # each chunk states its own notices; one per (code, window, symbol) after assembly, whatever the chunking
    notices = aggregate([Notice.from_record({**rec, "strategy": rec.get("strategy") or sp.label,
                                             "window": rec.get("window")}) for b in blocks for rec in b.notices])
    return StrategyResult(sp, returns, benchmark, runs, weights, orders, rules=rules, notices=notices)


def _weights_table(parts: list[pd.DataFrame], ids: list[str], traded: list[str]) -> pd.DataFrame:
    """weights.parquet's rows of one strategy: run, time, symbol, target, held (run-major)."""
    if not parts:
        return pd.DataFrame({"run": pd.Categorical([], categories=ids), "time": pd.DatetimeIndex([], tz="UTC"),
                             "symbol": pd.Categorical([], categories=traded), "target": [], "held": []})
    wl = pd.concat(parts, ignore_index=True)
    wl = wl.iloc[np.argsort(wl["run_code"].to_numpy(), kind="stable")]
    return pd.DataFrame({
        "run": pd.Categorical.from_codes(wl["run_code"].to_numpy(), categories=ids),
        "time": pd.DatetimeIndex(wl["time"].to_numpy(), tz="UTC"),
        "symbol": pd.Categorical.from_codes(wl["symbol_code"].to_numpy(), categories=traded),
        "target": wl["target"].to_numpy(), "held": wl["held"].to_numpy()})


def _orders_table(parts: list[pd.DataFrame], ids: list[str]) -> pd.DataFrame:
    """orders.parquet's rows of one strategy, sorted by run, time, symbol and side."""
    if not parts:
        return pd.DataFrame(columns=ORDER_COLUMNS)
    ol = pd.concat(parts, ignore_index=True).sort_values(["run_code", "time", "symbol", "side"], kind="stable")
    orders = ol.assign(run=pd.Categorical.from_codes(ol["run_code"].to_numpy(), categories=ids),
                       time=pd.DatetimeIndex(ol["time"].to_numpy(), tz="UTC"),
                       fill_time=pd.DatetimeIndex(ol["fill_time"].to_numpy(), tz="UTC"))
    return orders[ORDER_COLUMNS].reset_index(drop=True)


def strategy_rules(cfg, strategy, data: MarketData, windows: list, events: pd.DataFrame,
                   borrow_overrides: tuple = ()) -> Rules:
    """The :class:`~backtests.engine.rules.Rules` of a strategy's runs over ``windows`` of ``data``,
    with the exchange state of its traded symbols over those windows
    (:func:`~backtests.engine.state.build_state`): the one place a sweep builds them, for market
    data and scenarios alike. ``data``: all of the study's (or the scenario's) data, not only the
    strategy's symbols: the state reads the index of a symbol's market even when the strategy does
    not name it (``^KS11``, ``^GSPC``); ``borrow_overrides``: ``execution.borrow_file``'s rows."""
    state = build_state(data, events, [(w.start_utc, w.end_utc) for w in windows], list(strategy.traded_symbols),
                        settings_from_config(cfg.execution, borrow_overrides))
    return Rules.from_config(cfg, data.info, strategy, data.frequency, state=state)


def run_strategy(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                 tick: Callable[[int], None], checkpoints: Checkpoints | None = None,
                 keep_weights: bool = True, executor: Executor | None = None) -> StrategyResult:
    """All combinations x windows of one strategy, chunked; see :mod:`backtests.sweep.chunks`.

    The strategy's :class:`~backtests.engine.rules.Rules` are built here, once, and travel with
    every chunk and the result. ``executor`` is the study's (one Dask cluster per run); without
    one, chunks run in-process.
    """
    cfg = plan.config
    sub = data.select(sp.symbols())
    rules = strategy_rules(cfg, sp.strategy, data, sp.windows, events, plan.borrow_overrides)
    rows = max((int(w.contains(sub.index).sum()) for w in sp.windows), default=1)
    size = chunk_size(len(sp.grid), rows, len(sp.windows), len(rules.symbols), cfg.executor.chunk_runs,
                      cfg.executor.memory_limit_gb)
    tasks = []
    for lo in range(0, len(sp.grid), size):
        hi = min(lo + size, len(sp.grid))
        tasks.append((lo, hi, ChunkTask(
            label=sp.label, strategy=sp.strategy, data=sub, events=events, grid=sp.grid.iloc[lo:hi],
            windows=sp.windows, rules=rules, benchmark=sp.benchmark, keep_weights=keep_weights,
            call_limit=current_limit())))
    blocks: list[WindowBlock] = []
    for _, chunk_blocks in run_chunks(tasks, executor or Executor("local"), checkpoints or Checkpoints(None), tick):
        blocks.extend(chunk_blocks)
    return assemble(sp, blocks, rules)


#: Above this many run-bars (runs x bars x symbols), ``output.weights: auto`` keeps only the best
#: and default combinations' weights: 25 M rows of weights.parquet is a gigabyte nobody reads.
AUTO_WEIGHT_CELLS = 5_000_000


def weights_mode(plan: StudyPlan, data: MarketData) -> str:
    """``all`` or ``best``: the config's choice, or for ``auto`` the size of the sweep."""
    mode = plan.config.output.weights
    if mode != "auto":
        return mode
    cells = 0
    for sp in plan.strategies:
        syms = sp.strategy.traded_symbols
        for w in sp.windows:
            rows = sum(int(w.contains(data.bars[s].index).sum()) for s in syms)
            cells += rows * len(sp.grid)
    return "all" if cells <= AUTO_WEIGHT_CELLS else "best"


def selected_weights(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                     combos: list[int]) -> pd.DataFrame:
    """Per-bar weights of a few combinations, re-simulated (their run ids match the sweep's)."""
    sub_plan = StrategyPlan(sp.index, sp.spec, sp.strategy, sp.label, sp.grid.loc[combos], sp.windows, sp.benchmark)
    sub_plan.grid = sub_plan.grid.reset_index(drop=True)
    sub_plan.grid.index.name = "combo"
    return run_strategy(sub_plan, data, plan, events, lambda n: None).weights
