"""Scoring stage: turn one strategy's simulated runs into metric records.

Inputs are plain tables (period returns per run, benchmark returns per run, engine statistics);
the heavy lifting is in :mod:`backtests.scoring`. Outputs are JSON-ready records for
``metrics.json``. Bootstrap intervals are computed for the ranked top combinations and the
default one (a 10,000-combination sweep does not need 10,000 bootstraps to be read).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests import scoring
from backtests.outputs import clean_json

TOP_K = 10


def run_id(label: str, params: dict[str, Any], window: str) -> str:
    """Stable id of a (strategy, params, window) run: 12 hex digits of a SHA-256."""
    key = json.dumps([label, clean_json(params), window], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def combo_id(label: str, params: dict[str, Any]) -> str:
    """Stable id of a (strategy, params) combination across windows."""
    key = json.dumps([label, clean_json(params)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class StrategyRuns:
    """Everything the scoring stage needs about one strategy's runs.

    Attributes
    ----------
    returns
        Period returns, index UTC period ends, one column per run id (NaN outside its window).
    benchmark
        Benchmark period returns, same shape (or None without a benchmark).
    runs
        Indexed by run id: ``combo`` (grid row), ``window`` (id), ``ppy`` (periods per year),
        ``entries``, ``exposure``, ``turnover``, ``n_orders``.
    grid
        The parameter grid (rows = combos).
    default_combo
        Row of ``grid`` holding the declared defaults, or None when not swept.
    """

    label: str
    name: str
    returns: pd.DataFrame
    benchmark: pd.DataFrame | None
    runs: pd.DataFrame
    grid: pd.DataFrame
    default_combo: int | None


def _records(table: pd.DataFrame, reasons: dict[Any, dict[str, str]], key: Any) -> tuple[dict[str, Any], dict[str, str]]:
    row = table.loc[key]
    return {k: clean_json(v) for k, v in row.items()}, dict(reasons.get(key, {}))


def params_of(grid: pd.DataFrame, combo: int) -> dict[str, Any]:
    return {k: clean_json(v) for k, v in grid.loc[combo].items()}


def score_strategy(sr: StrategyRuns, *, risk_free: float, rank_by: str, pbo_blocks: int,
                   n_resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    """Score one strategy: per-run records, pooled records, ranking, trust statistics."""
    ppy_runs = sr.runs["ppy"].astype(float)
    rf_runs = risk_free / ppy_runs.mean() if risk_free else 0.0
    table, reasons = scoring.metrics_table(sr.returns, ppy_runs, sr.benchmark, rf_runs)
    run_records = []
    for rid in sr.returns.columns:
        meta = sr.runs.loc[rid]
        metrics, why = _records(table, reasons, rid)
        metrics.update({
            "n_trades": int(meta["entries"]), "n_orders": int(meta["n_orders"]),
            "exposure": clean_json(float(meta["exposure"])), "turnover": clean_json(float(meta["turnover"])),
        })
        run_records.append({
            "id": rid, "strategy": sr.label, "strategy_name": sr.name,
            "params": params_of(sr.grid, int(meta["combo"])), "combo": int(meta["combo"]),
            "window": meta["window"], "metrics": metrics, "nan_reasons": why,
        })

    # pooled across windows, per combo
    combo_ppy = ppy_runs.groupby(sr.runs["combo"]).agg(lambda s: s.mode().iloc[0])
    runs_frame = sr.runs[["combo", "window"]]
    pooled, preasons = scoring.pooled_metrics(sr.returns, runs_frame, combo_ppy, sr.benchmark, rf_runs)
    chained, _ = scoring.pool_returns(sr.returns, runs_frame)
    eng = sr.runs.groupby("combo")[["entries", "exposure", "turnover"]].agg(
        {"entries": "sum", "exposure": "mean", "turnover": "mean"})
    ranking = scoring.rank_sweep(pooled, combo_ppy, metric=rank_by if rank_by in pooled.columns else "sharpe",
                                 returns=chained if len(pooled) >= 2 else None, n_blocks=pbo_blocks)
    # Bootstrap for the best TOP_K and the default combination.
    chosen = [c for c in ranking.index[:TOP_K]]
    if sr.default_combo is not None and sr.default_combo not in chosen:
        chosen.append(sr.default_combo)
    boot = scoring.bootstrap_ci(chained[chosen], combo_ppy.reindex(chosen).to_numpy(),
                                n_resamples=n_resamples, confidence=confidence, seed=seed)
    pooled_records = []
    for combo in pooled.index:
        metrics, why = _records(pooled, preasons, combo)
        metrics.update({"n_trades": int(eng.loc[combo, "entries"]),
                        "exposure": clean_json(float(eng.loc[combo, "exposure"])),
                        "turnover_mean": clean_json(float(eng.loc[combo, "turnover"]))})
        rk = ranking.loc[combo]
        trust = {"rank": clean_json(rk["rank"]), "dsr": clean_json(rk["dsr"]), "pbo": clean_json(rk["pbo"]),
                 "n_trials": clean_json(rk["n_trials"]), "sharpe_star": clean_json(rk["sharpe_star"]),
                 "notes": rk["notes"] or None}
        if combo in boot.index:
            b = boot.loc[combo]
            trust["bootstrap"] = {k: clean_json(b[k]) for k in boot.columns}
            trust["bootstrap"]["confidence"] = confidence
        pooled_records.append({
            "id": combo_id(sr.label, params_of(sr.grid, int(combo))), "strategy": sr.label,
            "strategy_name": sr.name, "combo": int(combo), "params": params_of(sr.grid, int(combo)),
            "is_default": combo == sr.default_combo, "metrics": metrics, "trust": trust, "nan_reasons": why,
        })
    best = ranking.index[0] if len(ranking) and not pd.isna(ranking.iloc[0]["rank"]) else None
    summary = {
        "label": sr.label, "name": sr.name, "n_combinations": int(len(sr.grid)),
        "n_windows": int(sr.runs["window"].nunique()), "n_runs": int(len(sr.runs)),
        "rank_by": rank_by, "pbo": clean_json(ranking["pbo"].iloc[0]) if len(ranking) else None,
        "pbo_blocks": pbo_blocks,
        "best_combo": None if best is None else int(best),
        "default_combo": sr.default_combo,
        "ranking": [
            {"combo": int(c), "rank": clean_json(ranking.loc[c, "rank"]),
             rank_by: clean_json(ranking.loc[c, rank_by] if rank_by in ranking.columns else ranking.loc[c, "sharpe"]),
             "dsr": clean_json(ranking.loc[c, "dsr"]), "params": params_of(sr.grid, int(c))}
            for c in ranking.index[:TOP_K]
        ],
    }
    return {"runs": run_records, "pooled": pooled_records, "summary": summary}


def event_time_view(returns: pd.DataFrame, runs: pd.DataFrame, windows: dict[str, Any], combos: list[int]) -> dict[str, Any]:
    """Cumulative return by event time (t = -pre..+post) per window for the given combos."""
    out: dict[str, Any] = {}
    for combo in combos:
        lines = {}
        for rid, meta in runs[runs["combo"] == combo].iterrows():
            w = windows[meta["window"]]
            r = returns[rid].dropna()
            if len(r) != len(w.sessions):
                continue
            cum = (1.0 + r.to_numpy()).cumprod() - 1.0
            lines[meta["window"]] = [clean_json(x) for x in cum]
        if lines:
            arr = np.array(list(lines.values()), dtype=float)
            out[str(combo)] = {"windows": lines, "mean": [clean_json(x) for x in np.nanmean(arr, axis=0)]}
    return out


def _event_frame(data: Any, symbol: str, window: Any, pre: int, post: int, estimation: int) -> pd.Series:
    """USD close-to-close returns of ``symbol`` by event time t = -pre-estimation..post, measured
    at the defining market's session closes (as-of prices)."""
    from backtests.calendars import sessions
    from backtests.data.market_data import asof

    t0 = window.t0_session
    span = pd.Timedelta(days=int((pre + estimation) * 1.6) + 20)
    sched = sessions(window.market, t0 - span, window.sessions[-1])
    k0 = sched.index.get_loc(t0)
    lo = k0 - pre - estimation - 1
    if lo < 0:
        return pd.Series(dtype=float)
    closes = pd.DatetimeIndex(sched["close"].iloc[lo: k0 + post + 1])
    px = asof(data.to_usd(symbol, "close"), closes).to_numpy()
    rets = px[1:] / px[:-1] - 1.0
    return pd.Series(rets, index=np.arange(-pre - estimation, post + 1))


def asset_event_study(data: Any, symbol: str, benchmark: str | None, windows: list[Any], estimation: int) -> dict[str, Any]:
    """Market-model event study of a strategy's primary asset around its windows.

    Windows are aligned on t = 0 with the shortest common ``[-pre, post]``; the market model is
    fitted on ``estimation`` sessions before each event window.
    """
    if not benchmark or not windows:
        return {"symbol": symbol, "reason": "no benchmark" if not benchmark else "no windows"}
    pre, post = min(w.pre for w in windows), min(w.post for w in windows)
    rets = {w.id: _event_frame(data, symbol, w, pre, post, estimation) for w in windows}
    bench = {w.id: _event_frame(data, benchmark, w, pre, post, estimation) for w in windows}
    res = scoring.event_study(rets, bench, pre=pre, post=post, estimation_length=estimation)
    return {
        "symbol": symbol, "benchmark": benchmark, "model": "market model (OLS alpha + beta)",
        "estimation_sessions": estimation, "pre": pre, "post": post,
        "caar": clean_json(res.caar), "t_stat": clean_json(res.t_stat), "p_value": clean_json(res.p_value),
        "n_events": int(res.n_events), "fraction_positive": clean_json(res.fraction_positive),
        "car": {k: clean_json(v) for k, v in res.car.items()},
        "caar_path": [clean_json(v) for v in res.caar_path.to_numpy()],
        "dropped": dict(res.dropped),
    }


def strategy_event_study(returns: pd.DataFrame, benchmark: pd.DataFrame | None, runs: pd.DataFrame,
                         windows: dict[str, Any], combo: int) -> dict[str, Any]:
    """Per-window cumulative excess return (strategy minus benchmark, market-adjusted model) of
    one combination in event time, with CAAR, its cross-sectional t-statistic and the fraction of
    windows with a positive result."""
    from scipy.stats import t as student_t

    sel = runs[runs["combo"] == combo]
    cars, paths = {}, []
    pre = min(windows[w].pre for w in sel["window"])
    post = min(windows[w].post for w in sel["window"])
    for rid, meta in sel.iterrows():
        w = windows[meta["window"]]
        r = returns[rid].dropna().to_numpy()
        if len(r) != len(w.sessions):
            continue  # intraday studies: event time is not one period per session
        b = benchmark[rid].reindex(returns[rid].dropna().index).to_numpy() if benchmark is not None else np.zeros_like(r)
        ex = (r - np.nan_to_num(b))[w.pre - pre: w.pre + post + 1]
        cars[meta["window"]] = float(ex.sum())
        paths.append(np.cumsum(ex))
    if not cars:
        return {"combo": combo, "reason": "event time needs one period per session (daily data)"}
    car = np.array(list(cars.values()))
    n = len(car)
    sd = car.std(ddof=1) if n > 1 else np.nan
    t_stat = car.mean() / (sd / np.sqrt(n)) if n > 1 and sd > 0 else np.nan
    p = 2 * student_t.sf(abs(t_stat), n - 1) if np.isfinite(t_stat) else np.nan
    return {
        "combo": combo, "model": "market-adjusted (strategy minus benchmark)", "pre": pre, "post": post,
        "caar": clean_json(float(car.mean())), "t_stat": clean_json(t_stat), "p_value": clean_json(p),
        "n_events": n, "fraction_positive": clean_json(float((car > 0).mean())),
        "car": {k: clean_json(v) for k, v in cars.items()},
        "caar_path": [clean_json(v) for v in np.mean(paths, axis=0)],
    }
