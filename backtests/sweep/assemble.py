"""Run one strategy's sweep: chunk it, simulate every chunk, assemble the blocks in canonical order.

Canonical order is combination-major, then window (as :func:`backtests.scoring.evaluate.run_id`), so
chunked, unchunked, resumed and distributed runs give the same tables.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.engine.costs import resolve_costs
from backtests.engine.schedule import Limits
from backtests.scoring.evaluate import run_id
from backtests.notices import Notice
from backtests.jsonfmt import clean_json
from backtests.config.plan import StrategyPlan, StudyPlan
from backtests.sweep.results import StrategyResult
from backtests.sweep.chunks import Checkpoints, ChunkTask, Executor, WindowBlock, chunk_size, run_chunks

ORDER_COLUMNS = ["run", "window", "time", "fill_time", "fill_kind", "symbol", "side", "size", "price", "fees"]


def _run_keys(label: str, grid: pd.DataFrame, windows: list[str]) -> list[str]:
    """Run ids in canonical order (combination-major, then window), as :func:`evaluate.run_id`."""
    ids = []
    for params in grid.to_dict("records"):
        params = clean_json(params)
        for w in windows:
            ids.append(run_id(label, params, w))
    return ids


def assemble(sp: StrategyPlan, blocks: list[WindowBlock], traded: list[str]) -> StrategyResult:
    """Put chunk blocks together in canonical order (independent of chunking and executor)."""
    win_ids = [w.id for w in sp.windows]
    wpos = {w: i for i, w in enumerate(win_ids)}
    n_w, n_c = len(win_ids), len(sp.grid)
    n_runs = n_w * n_c
    ids = _run_keys(sp.label, sp.grid, win_ids)
    ends = np.unique(np.concatenate([b.ends for b in blocks])) if blocks else np.array([], dtype=np.int64)
    R = np.full((len(ends), n_runs), np.nan)
    B = np.full((len(ends), n_runs), np.nan)
    meta = {k: np.zeros(n_runs) for k in ("ppy", "entries", "exposure", "turnover", "n_orders", "n_clipped")}
    paired = any(b.legs_traded is not None for b in blocks)
    if paired:
        meta["legs_traded"] = np.zeros(n_runs)
        meta["legging_gap_hours"] = np.full(n_runs, np.nan)
    weight_parts, order_parts = [], []
    for b in blocks:
        cols = b.combos.astype(np.int64) * n_w + wpos[b.window]
        rows = np.searchsorted(ends, b.ends)
        R[np.ix_(rows, cols)] = b.returns
        if b.bench is not None:
            B[np.ix_(rows, cols)] = b.bench[:, None]
        meta["ppy"][cols] = b.ppy
        for k in ("entries", "exposure", "turnover", "n_orders"):
            meta[k][cols] = getattr(b, k)
        if b.clipped is not None:
            meta["n_clipped"][cols] = b.clipped
        if paired and b.legs_traded is not None:
            meta["legs_traded"][cols] = b.legs_traded
            meta["legging_gap_hours"][cols] = b.legging_gap_hours
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
    index = pd.DatetimeIndex(ends, tz="UTC", name="time")
    returns = pd.DataFrame(R, index=index, columns=ids)
    benchmark = pd.DataFrame(B, index=index, columns=ids) if sp.benchmark else None
    runs = pd.DataFrame({
        "combo": np.repeat(np.arange(n_c), n_w), "window": np.tile(np.asarray(win_ids, dtype=object), n_c),
        "ppy": meta["ppy"], "entries": meta["entries"].astype(np.int64), "exposure": meta["exposure"],
        "turnover": meta["turnover"], "n_orders": meta["n_orders"].astype(np.int64),
        "n_clipped": meta["n_clipped"].astype(np.int64)}, index=pd.Index(ids, name="id"))
    if paired:
        runs["legs_traded"] = meta["legs_traded"].astype(np.int64)
        runs["legging_gap_hours"] = meta["legging_gap_hours"]
    if weight_parts:
        wl = pd.concat(weight_parts, ignore_index=True)
        wl = wl.iloc[np.argsort(wl["run_code"].to_numpy(), kind="stable")]
        weights = pd.DataFrame({
            "run": pd.Categorical.from_codes(wl["run_code"].to_numpy(), categories=ids),
            "time": pd.DatetimeIndex(wl["time"].to_numpy(), tz="UTC"),
            "symbol": pd.Categorical.from_codes(wl["symbol_code"].to_numpy(), categories=traded),
            "target": wl["target"].to_numpy(), "held": wl["held"].to_numpy()})
    else:
        weights = pd.DataFrame({"run": pd.Categorical([], categories=ids), "time": pd.DatetimeIndex([], tz="UTC"),
                                "symbol": pd.Categorical([], categories=traded), "target": [], "held": []})
    if order_parts:
        ol = pd.concat(order_parts, ignore_index=True).sort_values(["run_code", "time", "symbol", "side"], kind="stable")
        orders = ol.assign(run=pd.Categorical.from_codes(ol["run_code"].to_numpy(), categories=ids),
                           time=pd.DatetimeIndex(ol["time"].to_numpy(), tz="UTC"),
                           fill_time=pd.DatetimeIndex(ol["fill_time"].to_numpy(), tz="UTC"))
        orders = orders[ORDER_COLUMNS].reset_index(drop=True)
    else:
        orders = pd.DataFrame(columns=ORDER_COLUMNS)
    notices = [Notice.from_record({**rec, "strategy": rec.get("strategy") or sp.label, "window": rec.get("window")})
               for b in blocks for rec in b.notices]
    return StrategyResult(sp, returns, benchmark, runs, weights, orders, notices=notices)


def execution_limits(cfg, markets: list[str]) -> Limits:
    """The study's leverage limits for symbols of ``markets`` (``execution`` and ``costs.markets``)."""
    caps = {m: float(spec.max_leverage) for m, spec in cfg.costs.markets.items() if spec.max_leverage is not None}
    ex = cfg.execution
    return Limits(max_leverage=float(ex.max_leverage), market_caps=caps, markets=tuple(markets),
                  financing_rate=float(ex.financing_rate), on_unfillable=ex.on_unfillable)


def run_strategy(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                 tick: Callable[[int], None], checkpoints: Checkpoints | None = None,
                 keep_weights: bool = True, executor: Executor | None = None) -> StrategyResult:
    """All combinations x windows of one strategy, chunked; see :mod:`backtests.sweep.chunks`.

    ``executor`` is the study's (one Dask cluster per run); without one, chunks run in-process.
    """
    cfg = plan.config
    traded = sp.strategy.traded_symbols
    sub = data.select(sp.symbols())
    costs = resolve_costs(cfg.costs, sub.info, traded)
    limits = execution_limits(cfg, [sub.info[s].market for s in traded])
    paired = bool(getattr(sp.strategy, "paired_legs", False)) and len(traded) > 1
    legs = cfg.execution.legs
    if legs == "auto":
        legs = "together" if paired else "independent"
    rows = max((int(((sub.index > w.start_utc) & (sub.index <= w.end_utc)).sum()) for w in sp.windows), default=1)
    size = chunk_size(len(sp.grid), rows, len(sp.windows), len(traded), cfg.executor.chunk_runs,
                      cfg.executor.memory_limit_gb)
    tasks = []
    for lo in range(0, len(sp.grid), size):
        hi = min(lo + size, len(sp.grid))
        tasks.append((lo, hi, ChunkTask(
            label=sp.label, strategy=sp.strategy, data=sub, events=events, grid=sp.grid.iloc[lo:hi],
            windows=sp.windows, costs=costs, fill=cfg.execution.fill, init_cash=cfg.execution.init_cash,
            exit_at_window_end=cfg.execution.exit_at_window_end, benchmark=sp.benchmark, keep_weights=keep_weights,
            limits=limits, entry=getattr(sp.strategy, "episode_entry", "state"), legs=legs, paired=paired)))
    blocks: list[WindowBlock] = []
    for _, chunk_blocks in run_chunks(tasks, executor or Executor("local"), checkpoints or Checkpoints(None), tick):
        blocks.extend(chunk_blocks)
    return assemble(sp, blocks, traded)


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
            rows = sum(int(((data.bars[s].index > w.start_utc) & (data.bars[s].index <= w.end_utc)).sum())
                       for s in syms)
            cells += rows * len(sp.grid)
    return "all" if cells <= AUTO_WEIGHT_CELLS else "best"

def selected_weights(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                     combos: list[int]) -> pd.DataFrame:
    """Per-bar weights of a few combinations, re-simulated (their run ids match the sweep's)."""
    sub_plan = StrategyPlan(sp.index, sp.spec, sp.strategy, sp.label, sp.grid.loc[combos], sp.windows, sp.benchmark)
    sub_plan.grid = sub_plan.grid.reset_index(drop=True)
    sub_plan.grid.index.name = "combo"
    return run_strategy(sub_plan, data, plan, events, lambda n: None).weights
