"""Shared pieces of the benchmarks: machine description, timing, data, windows, grids, plans.

Nothing here is timed itself; every helper builds inputs that the timed code then consumes.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
INIT_CASH = 1_000_000.0

#: Parameter grids by size: (fast values, slow values); the product is the combination count.
#: Slow averages reach 409 bars, so the daily data keeps ~250 sessions of history before the
#: simulated year (the strategy sees it; the engine simulates the year only).
GRID_SHAPES = {1: (1, 1), 10: (2, 5), 100: (10, 10), 1_000: (25, 40), 10_000: (100, 100), 100_000: (250, 400)}


# ----------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    versions = {}
    for pkg in ("scare", "vectorbt", "numba", "numpy", "pandas", "backtesting", "bokeh"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu": cpu or "unknown", "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": ram_gb, "os": platform.platform(), "python": sys.version.split()[0],
        "packages": versions, "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def describe_machine(m: dict[str, Any]) -> str:
    pk = m["packages"]
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Python {m['python']}, "
            + ", ".join(f"{k} {v}" for k, v in pk.items() if v))


# ----------------------------------------------------------------------------- timing
def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[dict[str, Any], Any]:
    """Median wall time of ``repeat`` calls (after ``warmup`` untimed calls) and the last result.

    A full garbage collection runs before the timed calls, so a figure does not pay for a collection
    owed by what ran before it (one can cost 0.2-0.4 s in a process that imported vectorbt)."""
    import gc

    out = None
    for _ in range(warmup):
        out = fn()
    gc.collect()
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "runs_s": [round(t, 6) for t in times], "n": len(times)}, out


def peak_rss_mb() -> float | None:
    """This process's peak resident memory (VmHWM), MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- grids
def grid_shape(n: int) -> tuple[int, int]:
    if n in GRID_SHAPES:
        return GRID_SHAPES[n]
    a = int(np.sqrt(n))
    while n % a:
        a -= 1
    return a, n // a


def ma_grid(n: int) -> pd.DataFrame:
    """``n`` (fast, slow) combinations: fast 2.. and slow 10.. (full product, fast < or >= slow)."""
    nf, ns = grid_shape(n)
    fast = np.arange(2, 2 + nf) if n > 1 else np.array([10])
    slow = np.arange(10, 10 + ns) if n > 1 else np.array([30])
    f, s = np.meshgrid(fast, slow, indexing="ij")
    grid = pd.DataFrame({"fast": f.ravel(), "slow": s.ravel()})
    grid.index = pd.RangeIndex(len(grid), name="combo")
    return grid


def grid_spec(n: int) -> dict[str, Any]:
    """The same grid as :func:`ma_grid` as config ``params`` (ranges)."""
    g = ma_grid(n)
    return {k: {"start": int(g[k].min()), "stop": int(g[k].max()), "step": 1} for k in ("fast", "slow")}


# ----------------------------------------------------------------------------- data
def daily_data(years_history: int = 2):
    """Synthetic daily data ending 2026-08-31 with ``years_history`` years of bars (SPY ~252/yr)."""
    from backtests.data.synthetic import generate

    start = {1: "2025-08-29", 2: "2024-08-30"}[years_history]
    return generate(start=start, end="2026-08-31")


def intraday_data(symbol: str = "SPY", seed: int = 7, year: int = 2025):
    """A year of synthetic 5-minute bars of regular New York sessions (geometric Brownian motion).

    Bars are generated per session (09:30-16:00 ET, 78 bars; half days shorter), labelled by
    their open and stamped at their end by :func:`backtests.data.frames.intraday_bars`.
    """
    from backtests.time.calendars import sessions
    from backtests.data.frames import intraday_bars
    from backtests.data.market_data import MarketData, SymbolInfo

    sched = sessions("XNYS", pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-31"))
    starts = []
    for o, c in zip(pd.DatetimeIndex(sched["open"]), pd.DatetimeIndex(sched["close"])):
        starts.append(pd.date_range(o, c - pd.Timedelta(minutes=5), freq="5min"))
    idx = starts[0].append(starts[1:])
    rng = np.random.default_rng(seed)
    n = len(idx)
    sigma = 0.20 / np.sqrt(252 * 78)
    mu = 0.08 / (252 * 78)
    logret = rng.normal(mu - 0.5 * sigma ** 2, sigma, n)
    close = 500.0 * np.exp(np.cumsum(logret))
    opn = np.concatenate([[500.0], close[:-1]]) * np.exp(rng.normal(0, sigma * 0.1, n))
    hi = np.maximum(opn, close) * (1 + np.abs(rng.normal(0, sigma * 0.5, n)))
    lo = np.minimum(opn, close) * (1 - np.abs(rng.normal(0, sigma * 0.5, n)))
    table = pd.DataFrame({"open": opn, "high": hi, "low": lo, "close": close,
                          "volume": rng.integers(1_000, 100_000, n).astype(float)}, index=idx)
    bars = intraday_bars(table, "5min")
    info = {symbol: SymbolInfo(symbol, "XNYS", "USD", "etf", "benchmark-gbm", f"{symbol} GBM 5-minute")}
    return MarketData(bars={symbol: bars}, info=info, frequency="5min", synthetic=True), sched


def goog_data():
    """backtesting.py's bundled GOOG daily bars as MarketData (symbol GOOG, XNYS), and the raw frame."""
    from backtesting.test import GOOG

    from backtests.data.frames import daily_bars
    from backtests.data.market_data import MarketData, SymbolInfo

    table = GOOG.rename(columns=str.lower)
    bars = daily_bars(table, "XNYS")
    info = {"GOOG": SymbolInfo("GOOG", "XNYS", "USD", "equity", "backtesting.test", "GOOG (backtesting.py sample)")}
    return MarketData(bars={"GOOG": bars}, info=info, frequency="1D", synthetic=False), GOOG


# ----------------------------------------------------------------------------- windows
def span_window(data, symbol: str, last: int | None = None, window_id: str = "bench"):
    """A window covering the symbol's last ``last`` bars (all bars when None).

    Daily data: sessions are the bars' sessions. Intraday: sessions are the distinct session
    dates of the bars (opens/closes from the calendar).
    """
    from backtests.time.calendars import sessions
    from backtests.time.windows import Event, Window

    frame = data.require(symbol)
    market = data.market_of(symbol)
    tz = "America/New_York" if market == "XNYS" else ("Asia/Seoul" if market == "XKRX" else "UTC")
    local = pd.DatetimeIndex(frame["open_time"]).tz_convert(tz).tz_localize(None).normalize().unique()
    if last is not None:
        local = local[-last:]
    sched = sessions(market, local[0], local[-1])
    sched = sched.loc[sched.index.isin(local)]
    opens, closes = pd.DatetimeIndex(sched["open"]), pd.DatetimeIndex(sched["close"])
    pre = len(sched) // 2
    ev = Event(id=window_id, label=window_id, kind="benchmark", market=market, date=pd.Timestamp(sched.index[pre]))
    return Window(id=window_id, event=ev, pre=pre, post=len(sched) - pre - 1,
                  sessions=pd.DatetimeIndex(sched.index), opens=opens, closes=closes)


_STATES: dict = {}


def free_rules(data, symbols: list[str], init_cash: float = INIT_CASH):
    """Execution rules without costs (the engine's defaults: fill at the open, no leverage), with
    the exchange state of ``symbols`` over the data's span, as a study builds it (once per strategy:
    cached here per data and symbols, so the timed figures are the engine's; docs/benchmarks.md).
    ``SCARE_BENCH_EXCHANGE_STATE=0`` leaves the state out (the A/B of the state's cost)."""
    from backtests.engine.rules import Rules
    from backtests.engine.state import build_state

    state = None
    if os.environ.get("SCARE_BENCH_EXCHANGE_STATE", "1") != "0":
        key = (id(data), data.frequency, len(data.index), tuple(symbols))
        if key not in _STATES:
            _STATES[key] = build_state(data, None, [(data.index[0], data.index[-1])], list(symbols))
        state = _STATES[key]
    return Rules.build(data.info, symbols, frequency=data.frequency, init_cash=init_cash, state=state)


# ----------------------------------------------------------------------------- runner plan
def runner_plan(n_combos: int, symbol: str, window, zero_cost: bool = True):
    """A StudyPlan with one ``ma_cross`` strategy on ``symbol`` over ``window`` (built from a config).

    The config goes through the real loader and planner (``plan_study``); the planned window is
    then replaced by ``window`` (a span of the benchmark data, not a catalogue event).
    """
    import yaml

    from backtests.config import load_config
    from backtests.config.plan import plan_study

    spec = {
        "name": "bench_ma_cross",
        "data": {"source": "synthetic"},
        "windows": [{"id": "deepseek_r1"}],
        "benchmark": None,
        "strategies": [{"name": "ma_cross", "roles": {"asset": symbol}, "params": grid_spec(n_combos)}],
        "output": {"tearsheet": False},
    }
    if n_combos == 1:
        spec["strategies"][0]["params"] = {"fast": 10, "slow": 30}
    if zero_cost:
        spec["costs"] = {"markets": {m: {"commission_bps": 0.0, "slippage_bps": 0.0}
                                     for m in ("XKRX", "XNYS", "CRYPTO")}}
    if os.environ.get("SCARE_BENCH_EXCHANGE_STATE", "1") == "0":  # the A/B of the state's cost (free_rules)
        spec["execution"] = {"exchange_state": False}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        plan = plan_study(load_config(path))
    for sp in plan.strategies:
        sp.windows = [window]
    plan.windows = [window]
    return plan


def run_runner(plan, data, score: bool = True) -> dict[str, float]:
    """The runner's per-strategy path (strategy -> engine -> bookkeeping [-> scoring]), timed by stage,
    with the time bound of plug-in calls in force as ``scare run`` has it (``limits.plugin_call_seconds``)."""
    from backtests.scoring.evaluate import StrategyRuns, default_combo, score_strategy
    from backtests.strategy.bounds import call_limit
    from backtests.sweep.assemble import run_strategy, weights_mode

    cfg = plan.config
    events = plan.catalogue.frame()
    keep = weights_mode(plan, data) == "all"  # as `scare run` decides (output.weights: auto)
    out: dict[str, float] = {}
    for sp in plan.strategies:
        t0 = time.perf_counter()
        with call_limit(cfg.limits.plugin_call_seconds):
            res = run_strategy(sp, data, plan, events, lambda n: None, keep_weights=keep)
        out["run_strategy_s"] = time.perf_counter() - t0
        if score:
            t1 = time.perf_counter()
            res.scored = score_strategy(
                StrategyRuns(sp.label, sp.name, res.returns, res.benchmark, res.runs, sp.grid,
                             default_combo(sp.grid, sp.strategy.params)),
                risk_free=cfg.scoring.risk_free, rank_by=cfg.scoring.rank_by, pbo_blocks=cfg.scoring.pbo_blocks,
                n_resamples=cfg.scoring.bootstrap_samples, confidence=cfg.scoring.confidence, seed=cfg.seed)
            out["score_s"] = time.perf_counter() - t1
        out["result"] = res  # type: ignore[assignment]
    return out


def save_results(results: dict[str, Any], table: str, out: Path) -> Path:
    """Write a benchmark's JSON (with its markdown table) to ``out`` and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    results["markdown"] = table
    out.write_text(json.dumps(results, indent=2, default=str))
    return out
