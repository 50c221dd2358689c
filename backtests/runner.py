"""The only module that knows the order of the stages: config -> data -> windows -> strategy ->
engine -> scoring -> outputs.

``run_study(loaded, out_dir)`` validates everything it can before loading data, runs every
strategy over its windows (all combinations x windows of a strategy in one vectorized simulation,
chunked over combinations to bound memory), scores the runs, and writes the contract files
atomically.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.calendars import periods_per_year
from backtests.config.loader import LoadedConfig
from backtests.data.market_data import MarketData, asof
from backtests.data.sources import declared_series, load_market_data
from backtests.engine.costs import resolve_costs
from backtests.engine.periods import period_returns
from backtests.engine.simulate import WindowResult, simulate
from backtests.errors import DataError, StrategyError
from backtests.evaluate import StrategyRuns, event_time_view, run_id, score_strategy
from backtests.outputs import dumps, write_atomically
from backtests.plan import StrategyPlan, StudyPlan, plan_study
from backtests.progress import Progress
from backtests.strategy.context import StrategyContext
from backtests.windows import Window

SCHEMA_VERSION = 1
#: Simulation cells (rows x runs x symbols) per chunk; bounds memory of one vectorbt call.
CHUNK_CELLS = 20_000_000


@dataclass
class StrategyResult:
    plan: StrategyPlan
    returns: pd.DataFrame
    benchmark: pd.DataFrame | None
    runs: pd.DataFrame
    weights: pd.DataFrame
    orders: pd.DataFrame
    scored: dict[str, Any] = field(default_factory=dict)


@dataclass
class StudyResult:
    plan: StudyPlan
    data: MarketData
    strategies: list[StrategyResult]
    out_dir: Path | None = None
    elapsed: float = 0.0


# ----------------------------------------------------------------------------- checks
def check_series(plan: StudyPlan, available: dict[str, set[str]] | None) -> None:
    """Every role's symbol and required series exist (before data loads where possible)."""
    if available is None:
        return
    src = plan.loaded.source
    for sp in plan.strategies:
        for role, spec in sp.strategy.roles.items():
            sym = sp.strategy.symbols[role]
            loc = ("strategies", sp.index, "roles", role) if role in sp.spec.roles else ("strategies", sp.index, "name")
            if sym not in available:
                raise src.error(loc, f"{sp.label}: symbol {sym!r} (role {role!r}) is not in the data "
                                     f"(have: {', '.join(sorted(available))})")
            missing = [s for s in spec.series if s not in available[sym]]
            if missing:
                raise src.error(loc, f"{sp.label}: role {role!r} needs series {missing} of {sym!r}, "
                                     f"which the data does not have")
        if sp.benchmark and sp.benchmark not in available:
            loc = ("strategies", sp.index, "benchmark") if sp.spec.benchmark else ("benchmark",)
            raise src.error(loc, f"benchmark symbol {sp.benchmark!r} is not in the data")


def check_windows(plan: StudyPlan, data: MarketData) -> None:
    """Each strategy's traded symbols have bars inside each of its windows."""
    for sp in plan.strategies:
        for w in sp.windows:
            syms = sp.strategy.traded_symbols
            have = [s for s in syms if ((data.bars[s].index > w.start_utc) & (data.bars[s].index <= w.end_utc)).any()]
            if not have:
                raise DataError(
                    f"window {w.id!r} ({w.start_utc.date()}..{w.end_utc.date()}) has no sessions in the data for "
                    f"{', '.join(syms)} (strategy {sp.label})", where=f"windows.{w.id}")


def check_weights(weights: pd.DataFrame, plan: StrategyPlan, n_combos: int) -> pd.DataFrame:
    """A strategy's output has the promised shape: sorted UTC index, (combo, symbol) columns."""
    name = plan.label
    if not isinstance(weights, pd.DataFrame) or not isinstance(weights.index, pd.DatetimeIndex) \
            or weights.index.tz is None:
        raise StrategyError(f"{name}: target_weights must return a DataFrame with a UTC DatetimeIndex")
    if not isinstance(weights.columns, pd.MultiIndex) or weights.columns.nlevels != 2:
        raise StrategyError(f"{name}: target_weights must return MultiIndex columns (combo, symbol)")
    syms = set(weights.columns.get_level_values(1))
    extra = syms - set(plan.strategy.traded_symbols)
    if extra:
        raise StrategyError(f"{name}: weights for symbols it does not trade: {sorted(extra)}")
    w = weights.sort_index()
    if w.index.has_duplicates:
        raise StrategyError(f"{name}: duplicate decision stamps in the weights")
    vals = w.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(vals).any():
        raise StrategyError(f"{name}: weights contain inf")
    return w.set_axis(w.index.tz_convert("UTC").as_unit("ns"))


# ----------------------------------------------------------------------------- one strategy
def _exposure_turnover(res: WindowResult) -> tuple[np.ndarray, np.ndarray]:
    gross = np.abs(res.held).sum(axis=2)  # (rows, combos)
    exposure = (gross > 1e-12).mean(axis=0) if len(gross) else np.zeros(res.returns.shape[1])
    turnover = np.divide(res.traded_value, res.mean_value, out=np.zeros_like(res.traded_value),
                         where=np.isfinite(res.mean_value) & (res.mean_value > 0))
    return exposure, turnover


def _benchmark_periods(data: MarketData, symbol: str, window: Window, ends: np.ndarray) -> np.ndarray:
    """Benchmark simple returns over the same periods (as-of prices, in USD)."""
    px = data.to_usd(symbol, "close")
    at = pd.DatetimeIndex(np.concatenate([[window.start_utc.as_unit("ns").value], ends]), tz="UTC")
    levels = asof(px, at).to_numpy()
    return levels[1:] / levels[:-1] - 1.0


def run_strategy(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                 tick: Callable[[int], None]) -> StrategyResult:
    cfg = plan.config
    strategy = sp.strategy
    traded = strategy.traded_symbols
    sub = data.select(sp.symbols())
    ctx = StrategyContext(sub, strategy.symbols, events)
    costs = resolve_costs(cfg.costs, sub.info, traded)
    grid = sp.grid
    n_combos = len(grid)
    rows_guess = max(1, max((len(w.sessions) for w in sp.windows), default=1) * 4)
    per_combo = rows_guess * len(sp.windows) * max(1, len(traded))
    chunk = cfg.executor.chunk_runs or max(1, CHUNK_CELLS // per_combo)

    ret_cols: dict[str, pd.Series] = {}
    bench_cols: dict[str, pd.Series] = {}
    run_rows: list[dict[str, Any]] = []
    weight_parts: list[pd.DataFrame] = []
    order_parts: list[pd.DataFrame] = []
    for lo in range(0, n_combos, chunk):
        part = grid.iloc[lo: lo + chunk]
        weights = strategy.target_weights(ctx, part)
        weights = check_weights(weights, sp, len(part))
        weights.columns = pd.MultiIndex.from_tuples(
            [(int(part.index.get_loc(c)), s) for c, s in weights.columns], names=["combo", "symbol"])
        results = simulate(sub, traded, weights, len(part), sp.windows, costs, fill=cfg.execution.fill,
                           init_cash=cfg.execution.init_cash, exit_at_window_end=cfg.execution.exit_at_window_end)
        for res in results:
            w = res.window
            ends, prets = period_returns(res.stamps, res.returns, w, data.frequency)
            idx = pd.DatetimeIndex(ends, tz="UTC")
            ppy = periods_per_year(w.market, data.frequency)
            bench = _benchmark_periods(sub, sp.benchmark, w, ends) if sp.benchmark else None
            exposure, turnover = _exposure_turnover(res)
            n_orders = np.bincount(res.orders["combo"].to_numpy(dtype=int), minlength=len(part)) \
                if len(res.orders) else np.zeros(len(part), dtype=int)
            for k, combo in enumerate(part.index):
                params = {p: part.loc[combo, p] for p in part.columns}
                rid = run_id(sp.label, params, w.id)
                ret_cols[rid] = pd.Series(prets[:, k], index=idx)
                if bench is not None:
                    bench_cols[rid] = pd.Series(bench, index=idx)
                run_rows.append({"id": rid, "combo": int(combo), "window": w.id, "ppy": ppy,
                                 "entries": int(res.entries[k]), "exposure": float(exposure[k]),
                                 "turnover": float(turnover[k]), "n_orders": int(n_orders[k])})
                held = res.held[:, k, :]
                tgt = res.target[:, k, :]
                stamps = pd.DatetimeIndex(res.stamps, tz="UTC")
                for j, sym in enumerate(traded):
                    weight_parts.append(pd.DataFrame({
                        "run": rid, "time": stamps, "symbol": sym, "target": tgt[:, j], "held": held[:, j]}))
            if len(res.orders):
                o = res.orders.copy()
                o["run"] = [run_id(sp.label, {p: part.iloc[c][p] for p in part.columns}, w.id) for c in o["combo"]]
                o["time"] = pd.DatetimeIndex(res.stamps[o["row"].to_numpy()], tz="UTC")
                o["window"] = w.id
                order_parts.append(o.drop(columns=["row", "combo"]))
        tick(len(part))
    returns = pd.DataFrame(ret_cols)
    returns = returns.sort_index()
    benchmark = pd.DataFrame(bench_cols).reindex(index=returns.index, columns=returns.columns) if bench_cols else None
    if benchmark is not None:
        benchmark = benchmark.where(returns.notna())
    runs = pd.DataFrame(run_rows).set_index("id")
    weights_long = pd.concat(weight_parts, ignore_index=True) if weight_parts else pd.DataFrame(
        columns=["run", "time", "symbol", "target", "held"])
    orders = pd.concat(order_parts, ignore_index=True) if order_parts else pd.DataFrame(
        columns=["run", "window", "time", "symbol", "side", "size", "price", "fees"])
    return StrategyResult(sp, returns, benchmark, runs, weights_long, orders)


def default_combo(sp: StrategyPlan) -> int | None:
    """Grid row whose every value equals the declared default, if the grid has one."""
    defaults = {n: p.default for n, p in sp.strategy.params.items()}
    if not defaults:
        return 0 if len(sp.grid) else None
    mask = np.ones(len(sp.grid), dtype=bool)
    for n, d in defaults.items():
        mask &= (sp.grid[n] == d).to_numpy()
    hits = np.flatnonzero(mask)
    return int(sp.grid.index[hits[0]]) if hits.size else None


# ----------------------------------------------------------------------------- the study
def run_study(loaded: LoadedConfig, out_dir: Path | None = None, progress: bool | None = True,
              write: bool = True, offline: bool = False) -> StudyResult:
    """Run a validated study config end to end (see module docstring)."""
    t0 = time.perf_counter()
    plan = plan_study(loaded)
    cfg = plan.config
    check_series(plan, declared_series(cfg.data, loaded.base_dir))
    data = load_market_data(cfg.data, loaded.base_dir, offline=offline)
    check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})
    check_windows(plan, data)
    events = plan.catalogue.frame()
    total = sum(len(sp.grid) for sp in plan.strategies)
    results: list[StrategyResult] = []
    with Progress(total=total, enabled=progress, desc=cfg.name) as bar:
        for sp in plan.strategies:
            bar.set_postfix(sp.label)
            res = run_strategy(sp, data, plan, events, bar.update)
            res.scored = score_strategy(
                StrategyRuns(sp.label, sp.name, res.returns, res.benchmark, res.runs, sp.grid, default_combo(sp)),
                risk_free=cfg.scoring.risk_free, rank_by=cfg.scoring.rank_by, pbo_blocks=cfg.scoring.pbo_blocks,
                n_resamples=cfg.scoring.bootstrap_samples, confidence=cfg.scoring.confidence, seed=cfg.seed,
            )
            s = res.scored["summary"]
            combos = [c for c in dict.fromkeys([s["best_combo"], s["default_combo"]]) if c is not None]
            s["event_time"] = event_time_view(res.returns, res.runs, {w.id: w for w in sp.windows}, combos)
            results.append(res)
    study = StudyResult(plan, data, results, elapsed=time.perf_counter() - t0)
    if write:
        target = out_dir or Path(cfg.output.dir.replace("{name}", cfg.name))
        study.out_dir = write_outputs(study, target)
    return study


# ----------------------------------------------------------------------------- outputs
def data_summary(data: MarketData, cfg: Any) -> dict[str, Any]:
    fp = data.fingerprint()
    import hashlib

    combined = hashlib.sha256("".join(f"{k}:{v};" for k, v in sorted(fp.items())).encode()).hexdigest()
    return {
        "source": cfg.data.source, "synthetic": bool(data.synthetic),
        "label": "SYNTHETIC replay of documented shocks (not market data)" if data.synthetic else "market data",
        "seed": cfg.data.seed if cfg.data.source == "synthetic" else None,
        "frequency": data.frequency, "fingerprint": combined, "symbols": data.describe(),
        "warnings": list(data.warnings),
    }


def metrics_document(study: StudyResult) -> dict[str, Any]:
    cfg = study.plan.config
    runs, pooled, strategies = [], [], []
    for res in study.strategies:
        runs.extend(res.scored["runs"])
        pooled.extend(res.scored["pooled"])
        strategies.append({**res.scored["summary"], "roles": res.plan.strategy.symbols,
                           "benchmark": res.plan.benchmark, "windows": [w.id for w in res.plan.windows]})
    windows = [{**w.to_record(), "closes_utc": [c.isoformat() for c in w.closes]} for w in study.plan.windows]
    return {
        "schema_version": SCHEMA_VERSION, "study": cfg.name, "description": cfg.description,
        "config_hash": cfg.config_hash(), "synthetic": bool(study.data.synthetic),
        "data": data_summary(study.data, cfg), "windows": windows, "strategies": strategies,
        "runs": runs, "pooled": pooled,
    }


def manifest_document(study: StudyResult) -> dict[str, Any]:
    import importlib.metadata as md

    cfg = study.plan.config
    versions = {}
    for pkg in ("scare", "vectorbt", "pandas", "numpy", "pydantic", "exchange_calendars", "arch", "plotly", "ta"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "schema_version": SCHEMA_VERSION, "study": cfg.name, "config_path": study.plan.loaded.source.path,
        "config": cfg.model_dump(mode="json"), "config_hash": cfg.config_hash(), "seed": cfg.seed,
        "run_at_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_seconds": round(study.elapsed, 3), "python": sys.version.split()[0],
        "platform": platform.platform(), "versions": versions,
        "synthetic": bool(study.data.synthetic), "data": data_summary(study.data, cfg),
        "data_fingerprints": study.data.fingerprint(),
        "files": ["metrics.json", "returns.parquet", "benchmark.parquet", "weights.parquet", "orders.parquet",
                  "manifest.json", "tearsheet.html"],
    }


def write_outputs(study: StudyResult, out_dir: Path) -> Path:
    """Write metrics.json, returns.parquet, weights.parquet, orders.parquet, manifest.json and
    tearsheet.html atomically."""
    from backtests.report import render_tearsheet

    metrics = metrics_document(study)
    manifest = manifest_document(study)
    returns = pd.concat([r.returns for r in study.strategies], axis=1, sort=True) if study.strategies else pd.DataFrame()
    returns = returns.sort_index()
    returns.index.name = "time"
    bench_parts = [r.benchmark for r in study.strategies if r.benchmark is not None]
    benchmark = pd.concat(bench_parts, axis=1, sort=True).reindex(index=returns.index) if bench_parts else pd.DataFrame(
        index=returns.index)
    benchmark.index.name = "time"
    weights = pd.concat([r.weights for r in study.strategies], ignore_index=True)
    orders = pd.concat([r.orders for r in study.strategies], ignore_index=True)

    def parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
        return lambda p: frame.to_parquet(p, index=frame.index.name is not None)

    writers: dict[str, Callable[[Path], None]] = {
        "metrics.json": lambda p: p.write_text(dumps(metrics), encoding="utf-8"),
        "returns.parquet": parquet(returns),
        "benchmark.parquet": parquet(benchmark),
        "weights.parquet": parquet(weights),
        "orders.parquet": parquet(orders),
        "manifest.json": lambda p: p.write_text(dumps(manifest), encoding="utf-8"),
    }
    if study.plan.config.output.tearsheet:
        writers["tearsheet.html"] = lambda p: p.write_text(
            render_tearsheet(metrics, manifest, returns, weights, orders, benchmark), encoding="utf-8")
    return write_atomically(out_dir, writers)
