"""The scenario sweep: strategies x params x scenarios through the same engine as market data.

Scenarios are cut into chunks of ``scenarios.chunk``. A chunk (:class:`ScenarioTask`, picklable)
generates its scenarios from the spec and the chunk's index range alone (so chunking and the
executor never change a number), turns each into an episode
(:mod:`backtests.scenarios.episodes`: daily bars with the generated minute bars as intraday, its
own window and cluster, its own derived halts as catalogue), and runs each strategy's whole grid
over it with :func:`backtests.sweep.chunks.compute_chunk`, the chunk function of every market-data
sweep, under rules built by :func:`backtests.sweep.assemble.strategy_rules`, the function
market-data sweeps build theirs with (so the exchange state, fills and costs are the same code).
Each chunk returns plain arrays: one row per (scenario, combination), each run's returns reduced
in the worker by the task's ``reduce`` (scoring's :func:`backtests.scoring.scenarios.run_metrics`,
handed down by the orchestration: the sweep does not import scoring); generated bars and per-bar
returns never leave the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtests.config.plan import ScenarioPlan
from backtests.notices import Notice
from backtests.scenarios.episodes import Episodes, halt_table
from backtests.scenarios.family import ScenarioSpec
from backtests.scenarios.generate import generate, merge_notices
from backtests.sweep.assemble import strategy_rules
from backtests.sweep.chunks import ChunkTask, compute_chunk

#: Per (scenario, combination) columns a chunk returns (besides the scenario's own columns).
RUN_COLUMNS = ("total_return", "max_drawdown", "n_orders", "entries", "first_fill_utc", "first_fill_price",
               "first_fill_kind")


@dataclass
class ScenarioTask:
    """One chunk of scenarios for every scenario strategy (picklable: runs on a Dask worker)."""

    spec: ScenarioSpec
    lo: int
    hi: int
    config: Any  # StudyConfig: the execution and cost settings every run obeys
    strategies: tuple[tuple[str, Any, pd.DataFrame], ...]  # (label, strategy, grid)
    #: ``(rows, runs) returns -> {column: (runs,) array}``: a module-level function (picklable)
    reduce: Callable[[np.ndarray], dict[str, np.ndarray]]
    #: ``execution.borrow_file``'s rows (:attr:`~backtests.config.plan.StudyPlan.borrow_overrides`):
    #: a scenario's short sales obey them as the study's runs do
    borrow_overrides: tuple = ()


@dataclass
class ScenarioBlock:
    """A chunk's results: per strategy, one row per (scenario, combination); the scenarios' own
    table (parameters, measured leader path, derived halts); the generator's notices."""

    lo: int
    runs: dict[str, pd.DataFrame]
    scenarios: pd.DataFrame
    notices: list[Notice] = field(default_factory=list)


def leader_measures(batch, j: int) -> dict[str, float]:
    """What the leader's printed shock session shows: ``realized_depth`` (1 - low / previous close),
    ``realized_close`` (close / previous close - 1)."""
    fam = batch.spec.family
    ab = batch.bars[fam.leader]
    g = batch.grids[ab.market]
    s = fam.sessions_before
    ok = (g.session[np.searchsorted(g.starts, ab.starts)] == s) & ~np.isnan(ab.close[j])
    prev_ok = (g.session[np.searchsorted(g.starts, ab.starts)] < s) & ~np.isnan(ab.close[j])
    prev = ab.close[j, prev_ok][-1] if prev_ok.any() else ab.reference
    if not ok.any():
        return {"realized_depth": float("nan"), "realized_close": float("nan")}
    return {"realized_depth": float(1.0 - np.nanmin(ab.low[j, ok]) / prev),
            "realized_close": float(ab.close[j, ok][-1] / prev - 1.0)}


def compute_scenario_chunk(task: ScenarioTask) -> ScenarioBlock:
    """Generate the chunk's scenarios and run every strategy's grid over each (module docstring)."""
    batch = generate(task.spec, task.lo, task.hi)
    halts = halt_table(batch)
    own = batch.params.frame().assign(scenario=batch.index, row=task.spec.rows(batch.index))
    own = pd.concat([own, halts.drop(columns="scenario"),
                     pd.DataFrame([leader_measures(batch, j) for j in range(len(batch))])], axis=1)
    parts: dict[str, list[pd.DataFrame]] = {label: [] for label, _, _ in task.strategies}
    episodes = Episodes(batch)
    for j in range(len(batch)):
        data, window, events = episodes.data(j), episodes.window(j), episodes.events(j)
        for label, strategy, grid in task.strategies:
            sub = _strategy_data(data, strategy)
            rules = strategy_rules(task.config, strategy, data, [window], events, task.borrow_overrides)
            block = compute_chunk(ChunkTask(label=label, strategy=strategy, data=sub, events=events, grid=grid,
                                            windows=[window], rules=rules, benchmark=None, keep_weights=False))[0]
            parts[label].append(_run_rows(int(batch.index[j]), block, task.reduce))
    runs = {label: pd.concat(p, ignore_index=True) for label, p in parts.items()}
    return ScenarioBlock(task.lo, runs, own, list(batch.notices))


def _strategy_data(data, strategy):
    """The strategy's symbols (and the FX series they need), as ``MarketData.select``; the episode's
    data itself when that is all of it, in the same order (no second copy to validate)."""
    keep = list(dict.fromkeys(strategy.symbols.values()))
    for s in list(keep):
        cur = data.info[s].currency if s in data.info else "USD"
        if cur != "USD" and cur in data.fx and data.fx[cur] not in keep:
            keep.append(data.fx[cur])
    return data if keep == list(data.bars) else data.select(keep)


def _run_rows(scenario: int, block, reduce: Callable[[np.ndarray], dict[str, np.ndarray]]) -> pd.DataFrame:
    k = len(block.combos)
    first = _first_fills(block.orders, k)
    return pd.DataFrame({
        "scenario": np.full(k, scenario, dtype=np.int64), "combo": block.combos.astype(np.int64),
        **reduce(block.returns),
        "n_orders": block.stats.get("n_orders", np.zeros(k, dtype=np.int64)),
        "entries": block.stats.get("entries", np.zeros(k, dtype=np.int64)), **first})


def _first_fills(orders: pd.DataFrame, k: int) -> dict[str, np.ndarray]:
    """First fill of each combination (grid positions 0..k-1): UTC instant, price, kind (NaT / NaN /
    '' without one)."""
    t = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    px = np.full(k, np.nan)
    kind = np.full(k, "", dtype=object)
    if len(orders):
        o = orders.sort_values(["combo", "fill_time"], kind="stable").drop_duplicates("combo")
        pos = o["combo"].to_numpy(dtype=np.int64)
        t[pos] = o["fill_time"].to_numpy(dtype=np.int64)
        px[pos] = o["price"].to_numpy(dtype=float)
        kind[pos] = o["fill_kind"].to_numpy() if "fill_kind" in o else "close"
    return {"first_fill_utc": pd.to_datetime(t, utc=True), "first_fill_price": px, "first_fill_kind": kind}


def scenario_tasks(sp: ScenarioPlan, config: Any, reduce: Callable[[np.ndarray], dict[str, np.ndarray]],
                   borrow_overrides: tuple = ()) -> list[ScenarioTask]:
    """The chunks of a scenario plan, in scenario order."""
    strategies = tuple((p.label, p.strategy, p.grid) for p in sp.strategies)
    n = len(sp.grid.spec)
    return [ScenarioTask(sp.grid.spec, lo, min(lo + sp.chunk, n), config, strategies, reduce, borrow_overrides)
            for lo in range(0, n, sp.chunk)]


def run_scenarios(sp: ScenarioPlan, config: Any, executor: Any, tick: Callable[[int], None],
                  reduce: Callable[[np.ndarray], dict[str, np.ndarray]], borrow_overrides: tuple = ()) -> ScenarioSweep:
    """Every chunk on ``executor`` (``Executor.map_fn``), assembled in scenario order; ``borrow_overrides``:
    the study's ``execution.borrow_file`` rows."""
    blocks = []
    for block in executor.map_fn(compute_scenario_chunk, scenario_tasks(sp, config, reduce, borrow_overrides)):
        blocks.append(block)
        tick(len(block.scenarios))
    return assemble_scenarios(sp, blocks)


@dataclass
class ScenarioSweep:
    """A scenario sweep's tables: per strategy label one row per (scenario, combination) sorted by
    scenario then combination; the scenarios' own table; the generator's notices."""

    plan: ScenarioPlan
    runs: dict[str, pd.DataFrame]
    scenarios: pd.DataFrame
    notices: list[Notice]
    scored: dict[str, Any] = field(default_factory=dict)


def assemble_scenarios(sp: ScenarioPlan, blocks: list[ScenarioBlock]) -> ScenarioSweep:
    """Blocks in canonical order (by scenario, then combination), whatever order they came in."""
    blocks = sorted(blocks, key=lambda b: b.lo)
    runs = {}
    for p in sp.strategies:
        t = pd.concat([b.runs[p.label] for b in blocks], ignore_index=True)
        runs[p.label] = t.sort_values(["scenario", "combo"], kind="stable").reset_index(drop=True)
    scen = pd.concat([b.scenarios for b in blocks], ignore_index=True).sort_values("scenario", kind="stable")
    notices = merge_notices(blocks)  # counts added per code, message and place
    return ScenarioSweep(sp, runs, scen.reset_index(drop=True), notices)


def iter_blocks(tasks: list[ScenarioTask]) -> Iterator[ScenarioBlock]:
    """The chunks computed in this process, in order (tests and the benchmark)."""
    for t in tasks:
        yield compute_scenario_chunk(t)


__all__ = ["ScenarioTask", "ScenarioBlock", "ScenarioSweep", "compute_scenario_chunk", "scenario_tasks",
           "run_scenarios", "assemble_scenarios", "leader_measures", "RUN_COLUMNS", "merge_notices"]
