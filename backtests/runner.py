"""The only module that knows the order of the stages: config -> data -> windows -> strategy ->
engine -> scoring -> outputs.

``run_study(loaded, out_dir)`` validates everything it can before loading data, runs every
strategy over its windows (all combinations x windows of a strategy in one vectorized simulation,
chunked over combinations to bound memory), scores the runs, and writes the contract files
atomically.
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.config.loader import LoadedConfig
from backtests.data.market_data import MarketData
from backtests.data.sources import declared_series, load_market_data
from backtests.engine.costs import resolve_costs
from backtests.errors import DataError
from backtests.evaluate import (
    StrategyRuns,
    asset_event_study,
    event_time_view,
    run_id,
    score_strategy,
    strategy_event_study,
)
from backtests.errors import ScareInputError
from backtests.outputs import check_destination, clean_json, dumps, write_atomically
from backtests.plan import StrategyPlan, StudyPlan, check_series, plan_study
from backtests.progress import Progress
from backtests.sweep import Checkpoints, ChunkTask, WindowBlock, chunk_size, run_chunks

SCHEMA_VERSION = 1
ORDER_COLUMNS = ["run", "window", "time", "fill_time", "symbol", "side", "size", "price", "fees"]


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
    weights_kept: str = "all"


# ----------------------------------------------------------------------------- checks
def check_windows(plan: StudyPlan, data: MarketData) -> None:
    """Each strategy's traded symbols have bars inside each of its windows.

    A window named by id without data is an error; windows selected by kind that the data does
    not cover are dropped (with a warning in the data section). A strategy left with no window
    is an error.
    """
    for sp in plan.strategies:
        keep = []
        for w in sp.windows:
            syms = sp.strategy.traded_symbols
            have = [s for s in syms if ((data.bars[s].index > w.start_utc) & (data.bars[s].index <= w.end_utc)).any()]
            if have:
                keep.append(w)
                continue
            msg = (f"window {w.id!r} ({w.start_utc.date()}..{w.end_utc.date()}) has no sessions in the data for "
                   f"{', '.join(syms)} (strategy {sp.label})")
            if not w.by_kind:
                raise DataError(msg, where=f"windows.{w.id}")
            data.warnings.append(f"{msg}: skipped")
        if not keep:
            raise DataError(f"strategy {sp.label!r} has no window covered by the data", where=f"strategies.{sp.index}")
        sp.windows = keep
    used = {w.id for sp in plan.strategies for w in sp.windows}
    plan.windows = [w for w in plan.windows if w.id in used]


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
    meta = {k: np.zeros(n_runs) for k in ("ppy", "entries", "exposure", "turnover", "n_orders")}
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
                "fill_time": o["fill_time"].to_numpy(dtype=np.int64), "symbol": o["symbol"].to_numpy(),
                "side": o["side"].to_numpy(), "size": o["size"].to_numpy(), "price": o["price"].to_numpy(),
                "fees": o["fees"].to_numpy()}))
    index = pd.DatetimeIndex(ends, tz="UTC", name="time")
    returns = pd.DataFrame(R, index=index, columns=ids)
    benchmark = pd.DataFrame(B, index=index, columns=ids) if sp.benchmark else None
    runs = pd.DataFrame({
        "combo": np.repeat(np.arange(n_c), n_w), "window": np.tile(np.asarray(win_ids, dtype=object), n_c),
        "ppy": meta["ppy"], "entries": meta["entries"].astype(np.int64), "exposure": meta["exposure"],
        "turnover": meta["turnover"], "n_orders": meta["n_orders"].astype(np.int64)}, index=pd.Index(ids, name="id"))
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
    return StrategyResult(sp, returns, benchmark, runs, weights, orders)


def run_strategy(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                 tick: Callable[[int], None], checkpoints: Checkpoints | None = None,
                 keep_weights: bool = True) -> StrategyResult:
    """All combinations x windows of one strategy, chunked; see :mod:`backtests.sweep`."""
    cfg = plan.config
    traded = sp.strategy.traded_symbols
    sub = data.select(sp.symbols())
    costs = resolve_costs(cfg.costs, sub.info, traded)
    rows = max((int(((sub.index > w.start_utc) & (sub.index <= w.end_utc)).sum()) for w in sp.windows), default=1)
    size = chunk_size(len(sp.grid), rows, len(sp.windows), len(traded), cfg.executor.chunk_runs,
                      cfg.executor.memory_limit_gb)
    tasks = []
    for lo in range(0, len(sp.grid), size):
        hi = min(lo + size, len(sp.grid))
        tasks.append((lo, hi, ChunkTask(
            label=sp.label, strategy=sp.strategy, data=sub, events=events, grid=sp.grid.iloc[lo:hi],
            windows=sp.windows, costs=costs, fill=cfg.execution.fill, init_cash=cfg.execution.init_cash,
            exit_at_window_end=cfg.execution.exit_at_window_end, benchmark=sp.benchmark, keep_weights=keep_weights)))
    blocks: list[WindowBlock] = []
    for _, chunk_blocks in run_chunks(tasks, cfg.executor.kind, cfg.executor.address,
                                      checkpoints or Checkpoints(None), tick):
        blocks.extend(chunk_blocks)
    return assemble(sp, blocks, traded)


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
class Interrupted(ScareInputError):
    """Ctrl-C during a run: finished chunks are kept for ``--resume``."""


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


def checkpoint_folder(target: Path, config_hash: str, data_fp: str) -> Path:
    """Where finished chunks of a run into ``target`` are kept until it completes."""
    return target.parent / f".{target.name}.chunks-{config_hash}-{data_fp[:8]}"


def run_study(loaded: LoadedConfig, out_dir: Path | None = None, progress: bool | None = True,
              write: bool = True, offline: bool = False, resume: bool = False) -> StudyResult:
    """Run a validated study config end to end (see module docstring).

    With ``write``, finished chunks are checkpointed beside the output folder; Ctrl-C raises
    :class:`Interrupted` and ``resume=True`` later computes only the missing chunks.
    """
    t0 = time.perf_counter()
    plan = plan_study(loaded)
    cfg = plan.config
    check_series(plan, declared_series(cfg.data, loaded.base_dir))
    data = load_market_data(cfg.data, loaded.base_dir, offline=offline)
    check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})
    check_windows(plan, data)
    events = plan.catalogue.frame()
    target = out_dir or Path(cfg.output.dir.replace("{name}", cfg.name))
    ckpt_dir = None
    if write:
        check_destination(target)
        ckpt_dir = checkpoint_folder(target, cfg.config_hash(), data_summary(data, cfg)["fingerprint"])
        if not resume and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
    checkpoints = Checkpoints(ckpt_dir)
    keep_weights = weights_mode(plan, data) == "all"
    total = sum(len(sp.grid) for sp in plan.strategies)
    results: list[StrategyResult] = []
    try:
        with Progress(total=total, enabled=progress, desc=cfg.name) as bar:
            for sp in plan.strategies:
                bar.set_postfix(sp.label)
                results.append(run_strategy(sp, data, plan, events, bar.update, checkpoints, keep_weights))
    except KeyboardInterrupt:
        kept = checkpoints.count()
        where = f"; {kept} finished chunk(s) kept in {ckpt_dir}, re-run with --resume to finish" if kept else ""
        raise Interrupted(f"interrupted{where}") from None
    for res in results:
        sp = res.plan
        res.scored = score_strategy(
            StrategyRuns(sp.label, sp.name, res.returns, res.benchmark, res.runs, sp.grid, default_combo(sp)),
            risk_free=cfg.scoring.risk_free, rank_by=cfg.scoring.rank_by, pbo_blocks=cfg.scoring.pbo_blocks,
            n_resamples=cfg.scoring.bootstrap_samples, confidence=cfg.scoring.confidence, seed=cfg.seed,
        )
        s = res.scored["summary"]
        combos = [c for c in dict.fromkeys([s["best_combo"], s["default_combo"]]) if c is not None]
        by_id = {w.id: w for w in sp.windows}
        s["event_time"] = event_time_view(res.returns, res.runs, by_id, combos)
        s["event_study"] = {
            "asset": asset_event_study(data, sp.strategy.traded_symbols[0], sp.benchmark, sp.windows,
                                       cfg.scoring.estimation_sessions),
            "strategy": {str(c): strategy_event_study(res.returns, res.benchmark, res.runs, by_id, c) for c in combos},
        }
        if not keep_weights and combos:
            res.weights = selected_weights(sp, data, plan, events, combos)
    study = StudyResult(plan, data, results, elapsed=time.perf_counter() - t0,
                        weights_kept="all" if keep_weights else "best")
    if write:
        study.out_dir = write_outputs(study, target)
        if ckpt_dir is not None:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    return study


def selected_weights(sp: StrategyPlan, data: MarketData, plan: StudyPlan, events: pd.DataFrame,
                     combos: list[int]) -> pd.DataFrame:
    """Per-bar weights of a few combinations, re-simulated (their run ids match the sweep's)."""
    sub_plan = StrategyPlan(sp.index, sp.spec, sp.strategy, sp.label, sp.grid.loc[combos], sp.windows, sp.benchmark)
    sub_plan.grid = sub_plan.grid.reset_index(drop=True)
    sub_plan.grid.index.name = "combo"
    return run_strategy(sub_plan, data, plan, events, lambda n: None).weights


# ----------------------------------------------------------------------------- outputs
def data_summary(data: MarketData, cfg: Any) -> dict[str, Any]:
    fp = data.fingerprint()
    import hashlib

    combined = hashlib.sha256("".join(f"{k}:{v};" for k, v in sorted(fp.items())).encode()).hexdigest()
    return {
        "halts": intraday_gaps(data),
        "source": cfg.data.source, "synthetic": bool(data.synthetic),
        "label": "SYNTHETIC replay of documented shocks (not market data)" if data.synthetic else "market data",
        "seed": cfg.data.seed if cfg.data.source == "synthetic" else None,
        "frequency": data.frequency, "fingerprint": combined, "symbols": data.describe(),
        "warnings": list(data.warnings),
    }


def intraday_gaps(data: MarketData) -> list[dict[str, Any]]:
    """Gaps inside a session in intraday bars (a circuit-breaker halt shows as missing bars)."""
    out = []
    for sym, frame in sorted(data.intraday.items()):
        if len(frame) < 2:
            continue
        starts = pd.DatetimeIndex(frame["open_time"])
        ends = frame.index
        bar = pd.Series(ends - starts).median()
        gap = starts[1:] - ends[:-1]
        same_day = ends[:-1].normalize() == starts[1:].normalize()
        for i in np.flatnonzero((gap > bar) & same_day):
            out.append({"symbol": sym, "from_utc": ends[i].isoformat(), "to_utc": starts[i + 1].isoformat(),
                        "minutes": int(gap[i] / pd.Timedelta(minutes=1))})
    return out


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
        "weights_kept": study.weights_kept,
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
