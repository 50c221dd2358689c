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
from backtests.outputs.jsonfmt import clean_json

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


def frame_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a numeric table as JSON-ready dicts (Python scalars, NaN/inf -> None)."""
    vals = table.to_numpy(dtype=float, na_value=np.nan)
    obj = np.where(np.isfinite(vals), vals, np.nan).astype(object)
    obj[~np.isfinite(vals)] = None
    ints = [i for i, c in enumerate(table.columns) if pd.api.types.is_integer_dtype(table[c])]
    for i in ints:
        obj[:, i] = [None if v is None else int(v) for v in obj[:, i]]
    cols = [str(c) for c in table.columns]
    return [dict(zip(cols, row)) for row in obj.tolist()]


def params_of(grid: pd.DataFrame, combo: int) -> dict[str, Any]:
    return {k: clean_json(v) for k, v in grid.loc[combo].items()}


def chained_matrix(values: np.ndarray, index: pd.DatetimeIndex, n_combos: int, windows: list[str],
                   ) -> tuple[np.ndarray, pd.MultiIndex]:
    """Chain each combination's windows into one column (windows in order of their first period).

    ``values`` is (periods, runs) with runs in canonical order (combination-major, window-minor);
    the rows of window ``w`` are the periods where its first run has a value.
    """
    n_w = len(windows)
    rows = [np.flatnonzero(~np.isnan(values[:, w])) for w in range(n_w)]
    order = sorted(range(n_w), key=lambda w: (rows[w][0] if len(rows[w]) else len(index), w))
    parts = [values[rows[w]][:, w::n_w] for w in order]
    chained = np.vstack(parts) if parts else np.empty((0, n_combos))
    idx = pd.MultiIndex.from_arrays(
        [np.concatenate([[windows[w]] * len(rows[w]) for w in order]) if order else [],
         index[np.concatenate([rows[w] for w in order])] if order else index[:0]], names=["window", "time"])
    return chained, idx


def score_strategy(sr: StrategyRuns, *, risk_free: float, rank_by: str, pbo_blocks: int,
                   n_resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    """Score one strategy: per-run records, pooled records, ranking, trust statistics.

    Runs must be in canonical order (combination-major, then window) with every combination
    covering every window, as the runner assembles them.
    """
    windows = list(dict.fromkeys(sr.runs["window"]))
    n_w, n_c = len(windows), len(sr.grid)
    if len(sr.runs) != n_w * n_c or not (sr.runs["combo"].to_numpy() == np.repeat(np.arange(n_c), n_w)).all():
        raise ValueError("runs must be combination-major with every combination in every window")
    ppy_runs = sr.runs["ppy"].astype(float)
    # periods per year of a combination's pooled series: the most common among its windows
    ppy = float(ppy_runs.iloc[:n_w].mode().iloc[0])
    rf = risk_free / ppy if risk_free else 0.0
    table, reasons = scoring.metrics_table(sr.returns, ppy_runs, sr.benchmark, rf)
    table["n_trades"] = sr.runs["entries"].to_numpy()
    table["n_orders"] = sr.runs["n_orders"].to_numpy()
    table["exposure"] = sr.runs["exposure"].to_numpy()
    table["turnover"] = sr.runs["turnover"].to_numpy()
    for key in ("n_clipped", "legs_traded", "legging_gap_hours"):  # engine statistics, when present
        if key in sr.runs:
            table[key] = sr.runs[key].to_numpy()
    combo_params = [clean_json(p) for p in sr.grid.to_dict("records")]
    run_records = []
    for j, (rid, metrics) in enumerate(zip(sr.returns.columns, frame_records(table))):
        c = j // n_w
        run_records.append({
            "id": rid, "strategy": sr.label, "strategy_name": sr.name, "params": combo_params[c], "combo": c,
            "window": windows[j % n_w], "metrics": metrics, "nan_reasons": dict(reasons.get(rid, {})),
        })

    # pooled across windows, per combo
    R = sr.returns.to_numpy(dtype=float, na_value=np.nan)
    chained_vals, chain_idx = chained_matrix(R, sr.returns.index, n_c, windows)
    chained = pd.DataFrame(chained_vals, index=chain_idx, columns=sr.grid.index)
    bench = None
    if sr.benchmark is not None:
        bvals, _ = chained_matrix(np.where(np.isnan(R), np.nan, sr.benchmark.to_numpy(dtype=float, na_value=np.nan)),
                                  sr.returns.index, n_c, windows)
        bench = pd.DataFrame(bvals, index=chain_idx, columns=sr.grid.index)
    if n_w == 1:
        # one window: each combination's pooled series is its only run's series
        engine_only = ("n_trades", "n_orders", "exposure", "turnover", "n_clipped", "legs_traded", "legging_gap_hours")
        pooled = table[[c for c in table.columns if c not in engine_only]]
        pooled = pooled.set_axis(sr.grid.index, axis=0).copy()
        preasons = {c: reasons[rid] for c, rid in enumerate(sr.returns.columns) if rid in reasons}
    else:
        pooled, preasons = scoring.metrics_table(chained, ppy, bench, rf)
    per_window = np.asarray(scoring.total_return(R)).reshape(n_c, n_w)
    counted = ~np.isnan(per_window)
    with np.errstate(invalid="ignore"):
        pooled["n_windows"] = counted.sum(axis=1)
        pooled["window_total_return_mean"] = np.nanmean(np.where(counted, per_window, np.nan), axis=1)
        pooled["window_total_return_median"] = np.nanmedian(np.where(counted, per_window, np.nan), axis=1)
        pooled["window_positive_fraction"] = np.where(counted.any(axis=1),
                                                     (per_window > 0).sum(axis=1) / np.maximum(counted.sum(axis=1), 1),
                                                     np.nan)
    eng = sr.runs[["entries", "exposure", "turnover"]].to_numpy(dtype=float).reshape(n_c, n_w, 3)
    ranking = scoring.rank_sweep(pooled, ppy, metric=rank_by if rank_by in pooled.columns else "sharpe",
                                 returns=chained if n_c >= 2 else None, n_blocks=pbo_blocks)
    pooled["n_trades"] = eng[:, :, 0].sum(axis=1).astype(np.int64)
    pooled["exposure"] = eng[:, :, 1].mean(axis=1)
    pooled["turnover_mean"] = eng[:, :, 2].mean(axis=1)
    # Bootstrap for the best TOP_K and the default combination.
    chosen = list(ranking.index[:TOP_K])
    if sr.default_combo is not None and sr.default_combo not in chosen:
        chosen.append(sr.default_combo)
    boot = scoring.bootstrap_ci(chained[chosen], np.full(len(chosen), ppy), n_resamples=n_resamples,
                                confidence=confidence, seed=seed)
    boot_records = dict(zip(boot.index, frame_records(boot)))
    rk = ranking.reindex(pooled.index)
    trust_table = rk[["rank", "dsr", "pbo", "n_trials", "sharpe_star"]]
    trust_rows = frame_records(trust_table)
    notes = rk["notes"].tolist()
    pooled_records = []
    for c, (metrics, trust) in enumerate(zip(frame_records(pooled), trust_rows)):
        trust["notes"] = notes[c] or None
        if c in boot_records:
            trust["bootstrap"] = {**boot_records[c], "confidence": confidence}
        pooled_records.append({
            "id": combo_id(sr.label, combo_params[c]), "strategy": sr.label, "strategy_name": sr.name,
            "combo": c, "params": combo_params[c], "is_default": c == sr.default_combo, "metrics": metrics,
            "trust": trust, "nan_reasons": dict(preasons.get(c, {})),
        })
    best = ranking.index[0] if len(ranking) and not pd.isna(ranking.iloc[0]["rank"]) else None
    metric_col = rank_by if rank_by in ranking.columns else "sharpe"
    summary = {
        "label": sr.label, "name": sr.name, "n_combinations": int(n_c), "n_windows": int(n_w),
        "n_runs": int(len(sr.runs)), "rank_by": rank_by,
        "pbo": clean_json(ranking["pbo"].iloc[0]) if len(ranking) else None, "pbo_blocks": pbo_blocks,
        "periods_per_year": ppy, "best_combo": None if best is None else int(best),
        "default_combo": sr.default_combo,
        "ranking": [
            {"combo": int(c), "rank": clean_json(ranking.loc[c, "rank"]),
             rank_by: clean_json(ranking.loc[c, metric_col]), "dsr": clean_json(ranking.loc[c, "dsr"]),
             "params": combo_params[int(c)]}
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


def default_combo(grid: pd.DataFrame, params: dict[str, Any]) -> int | None:
    """Grid row whose every value equals the declared default (``params``: name -> Param), if any."""
    defaults = {n: p.default for n, p in params.items()}
    if not defaults:
        return 0 if len(grid) else None
    mask = np.ones(len(grid), dtype=bool)
    for n, d in defaults.items():
        mask &= (grid[n] == d).to_numpy()
    hits = np.flatnonzero(mask)
    return int(grid.index[hits[0]]) if hits.size else None


def score_result(res: Any, data: Any, cfg: Any) -> list[int]:
    """Score one strategy's assembled runs in place (``res.scored``); return the combos kept in detail.

    ``res`` is a :class:`backtests.results.StrategyResult`, ``data`` the study's MarketData and
    ``cfg`` the study config (its ``scoring`` section and seed). The returned combos (best, then
    default) are those whose event-time paths, event studies and per-bar weights are reported.
    """
    sp = res.plan
    sc = cfg.scoring
    res.scored = score_strategy(
        StrategyRuns(sp.label, sp.name, res.returns, res.benchmark, res.runs, sp.grid,
                     default_combo(sp.grid, sp.strategy.params)),
        risk_free=sc.risk_free, rank_by=sc.rank_by, pbo_blocks=sc.pbo_blocks,
        n_resamples=sc.bootstrap_samples, confidence=sc.confidence, seed=cfg.seed,
    )
    s = res.scored["summary"]
    combos = [c for c in dict.fromkeys([s["best_combo"], s["default_combo"]]) if c is not None]
    by_id = {w.id: w for w in sp.windows}
    s["event_time"] = event_time_view(res.returns, res.runs, by_id, combos)
    s["event_study"] = {
        "asset": asset_event_study(data, sp.strategy.traded_symbols[0], sp.benchmark, sp.windows,
                                   sc.estimation_sessions),
        "strategy": {str(c): strategy_event_study(res.returns, res.benchmark, res.runs, by_id, c) for c in combos},
    }
    return combos
