"""Scoring stage: turn one strategy's simulated runs into metric records.

Inputs are plain tables (period returns per run, benchmark returns per run, engine statistics);
the heavy lifting is in :mod:`backtests.scoring`. Outputs are JSON-ready records for
``metrics.json``. Bootstrap intervals are computed for the ranked top combinations and the
default one (a 10,000-combination sweep does not need 10,000 bootstraps to be read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtests import scoring
from backtests.engine.results import NEVER, RUN_STATS
from backtests.digest import combo_id, run_id
from backtests.jsonfmt import clean_json
from backtests.scoring import exclusions, exposure
from backtests.scoring.trades import trades_block
from backtests.scoring.evaluate_events import (
    ShockSize,
    _t0_move,
    asset_event_study,
    baseline,
    distinct_entries,
    event_time_view,
    matched_baselines,
    shock_fields as _shock,
    strategy_event_study,
)

__all__ = ["StrategyRuns", "combo_id", "default_combo", "event_time_view", "pooled_frames", "run_id",
           "score_result", "score_strategy"]

#: Run-metric keys of the engine's statistics (:data:`~backtests.engine.results.RUN_STATS`).
ENGINE_METRICS = tuple(s.metric for s in RUN_STATS if s.metric)

TOP_K = 10




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
        Indexed by run id: ``combo`` (grid row), ``window`` (id), ``ppy`` (periods per year of the
        run's clock) and the engine's per-run statistics present
        (:data:`~backtests.engine.results.RUN_STATS`: ``entries``, ``n_orders``, ``exposure``,
        ``turnover``, ``chosen`` (the episode traded a position the strategy chose), ...). Its ``first_fill`` (UTC, NaT: none) is the run's first possible fill:
        benchmark returns of periods that start before it are left out of every benchmark
        comparison (without the column, every period counts).
    grid
        The parameter grid (rows = combos).
    default_combo
        Row of ``grid`` holding the declared defaults, or None when not swept.
    windows
        The :class:`~backtests.time.windows.Window` objects (UTC spans, optional ``shock`` id) by which
        episodes are clustered and pooled in calendar time; without them the spans are read off
        the returns (first to last period of each window) and no shock ids are known.
    orders
        The runs' fills (``run``, ``fill_time``), for each episode's first and last fill.
    shocks
        Per window id, the defining asset's t = 0 return or why it is missing (:class:`ShockSize`,
        reported with each episode as ``shock`` and ``shock_reason``).
    excluded
        Per window id left out of the event statistics and the calendar-time pooled series, the
        reason (``signal_missing: ...``).
    """

    label: str
    name: str
    returns: pd.DataFrame
    benchmark: pd.DataFrame | None
    runs: pd.DataFrame
    grid: pd.DataFrame
    default_combo: int | None
    windows: list[Any] | None = None
    orders: pd.DataFrame | None = None
    shocks: dict[str, ShockSize] = field(default_factory=dict)
    #: window id -> why it is left out of the event statistics and the pooled series (its signal
    #: is missing there: :mod:`backtests.scoring.exclusions`); its runs stay in ``runs``
    excluded: dict[str, str] = field(default_factory=dict)


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


def _iso_instants(values: pd.Series) -> list[str | None]:
    """UTC instants as ISO-8601 strings (None for NaT or ``NEVER``), for JSON records."""
    t = pd.DatetimeIndex(values).as_unit("ns")
    ok = ~t.isna() & (t.asi8 != NEVER)
    return [x.isoformat() if k else None for x, k in zip(t, ok)]


def _mask_untradable(bench: np.ndarray, index: pd.DatetimeIndex, spans: list[Any], n_w: int,
                     first_fill: np.ndarray | None) -> np.ndarray:
    """Benchmark returns with NaN in every period that starts before its run's first possible
    fill: a period ``(a, b]`` counts only when ``a`` (the run's previous period end, or the window
    start for its first period) is at or after that instant, so the benchmark is measured only
    over time in which the strategy could have held a position throughout.

    ``first_fill`` is (runs,) int64 ns UTC in the returns' column order (``NEVER``: no fill was
    possible, nothing is masked); None masks nothing.
    """
    if first_fill is None:
        return bench
    out = bench.copy()
    t = index.as_unit("ns").asi8
    for w, sp in enumerate(spans):
        cols = np.arange(w, bench.shape[1], n_w)
        firsts = first_fill[cols]
        for first in np.unique(firsts[firsts != NEVER]):
            group = cols[firsts == first]
            rows = np.flatnonzero(~np.isnan(bench[:, group]).all(axis=1))
            starts = np.concatenate([[sp.start_utc.as_unit("ns").value], t[rows[:-1]]]) if rows.size else rows
            early = rows[starts < first]
            out[np.ix_(early, group)] = np.nan
    return out


def _pool_onto(values: np.ndarray, rows: np.ndarray, n_c: int, n_w: int, is_open: np.ndarray) -> np.ndarray:
    """Calendar-pool ``values`` (same layout as the returns) onto the returns' pooled ``rows``."""
    pooled, prow = scoring.calendar_pool(values, n_c, n_w, is_open)
    out = np.full((rows.size, n_c), np.nan)
    if rows.size == 0 or prow.size == 0:
        return out
    pos = np.searchsorted(rows, prow)
    hit = (pos < rows.size) & (rows[np.minimum(pos, rows.size - 1)] == prow)
    out[pos[hit]] = pooled[hit]
    return out


def _score_fn(metric: str, pooled: pd.DataFrame, bench: pd.DataFrame | None, ppy: float, rf: float):
    """The ranking metric of every combination on a subset of the pooled rows (a bool mask)."""
    x = pooled.to_numpy(dtype=float, na_value=np.nan)
    if metric == "sharpe":
        from backtests.scoring import _panel
        from backtests.scoring import metrics as _m

        return lambda m: _m._k_sharpe(_panel.Panel(x[m]), np.ones(x.shape[1]), rf)[0]

    def full(m: np.ndarray) -> np.ndarray:
        table, _ = scoring.metrics_table(pooled.iloc[m], ppy, None if bench is None else bench.iloc[m], rf)
        return table[metric].to_numpy(dtype=float)

    return full


def _trials(ranking: pd.DataFrame, pooled: pd.DataFrame, distinct: Any, ppy: float) -> dict[str, Any]:
    """The trials block: raw and distinct counts, DSR's SR0 and the distinct Sharpe histogram."""
    sr = pooled["sharpe"].to_numpy(dtype=float)[distinct.first] / np.sqrt(ppy)
    finite = sr[np.isfinite(sr)]
    counts, edges = np.histogram(finite, bins=20) if finite.size else (np.zeros(0, int), np.zeros(0))
    star = ranking["sharpe_star"].iloc[0] if len(ranking) else np.nan
    return {
        "n_raw": int(len(pooled)), "n_distinct": int(distinct.n), "sr0": clean_json(star),
        "best_sharpe": clean_json(finite.max()) if finite.size else None,
        "sharpe_hist": {"edges": [clean_json(e) for e in edges], "counts": [int(c) for c in counts]},
        "units": "per-period Sharpe",
    }


def score_strategy(sr: StrategyRuns, *, risk_free: float, rank_by: str, pbo_blocks: int,
                   n_resamples: int, confidence: float, seed: int, min_train_clusters: int = 2,
                   ) -> dict[str, Any]:
    """Score one strategy: per-run records, calendar-time pooled records, event-level statistics,
    ranking with honest trial counts, and out-of-sample results by event cluster.

    Runs must be in canonical order (combination-major, then window) with every combination
    covering every window, as the runner assembles them. Returns ``runs``, ``pooled`` and
    ``summary`` (JSON-ready) and, for the caller only, ``calendar`` (the pooled calendar-time
    returns, one column per combination), ``calendar_benchmark``, ``clusters`` and
    ``benchmark_runs`` (the per-run benchmark with the untradable periods blanked).
    """
    windows = list(dict.fromkeys(sr.runs["window"]))
    n_w, n_c = len(windows), len(sr.grid)
    if len(sr.runs) != n_w * n_c or not (sr.runs["combo"].to_numpy() == np.repeat(np.arange(n_c), n_w)).all():
        raise ValueError("runs must be combination-major with every combination in every window")
    ppy_runs = sr.runs["ppy"].astype(float)
    # periods per year of a combination's pooled series: the most common among its windows
    ppy = float(ppy_runs.iloc[:n_w].mode().iloc[0])
    rf = risk_free / ppy if risk_free else 0.0
    R = sr.returns.to_numpy(dtype=float, na_value=np.nan)
    index = sr.returns.index
    if sr.windows is not None:
        by_id = {str(w.id): w for w in sr.windows}
        spans = scoring.spans_of([by_id[w] for w in windows])
    else:
        spans = scoring.spans_from_returns(sr.returns.iloc[:, :n_w], windows)
    B = None
    if sr.benchmark is not None:
        first = pd.DatetimeIndex(sr.runs["first_fill"]).as_unit("ns").asi8 if "first_fill" in sr.runs else None
        B = _mask_untradable(sr.benchmark.to_numpy(dtype=float, na_value=np.nan), index, spans, n_w, first)
    bench_runs = None if B is None else pd.DataFrame(B, index=index, columns=sr.returns.columns)
    table, reasons = scoring.metrics_table(sr.returns, ppy_runs, bench_runs, rf)
    for stat in RUN_STATS:  # the engine's statistics reported per run, when present
        if stat.metric and stat.name in sr.runs:
            table[stat.metric] = sr.runs[stat.name].to_numpy()
    combo_params = [clean_json(p) for p in sr.grid.to_dict("records")]
    first_fill = _iso_instants(sr.runs["first_fill"]) if "first_fill" in sr.runs else [None] * len(sr.runs)
    run_records = []
    for j, (rid, metrics) in enumerate(zip(sr.returns.columns, frame_records(table))):
        c = j // n_w
        run_records.append({
            "id": rid, "strategy": sr.label, "strategy_name": sr.name, "params": combo_params[c], "combo": c,
            "window": windows[j % n_w], "first_fill_utc": first_fill[j], "metrics": metrics,
            "nan_reasons": dict(reasons.get(rid, {})),
        })

    # events: clusters, calendar-time pooling
    clusters = scoring.event_clusters(spans)
    is_open = scoring.open_mask(index, spans)
    left_out = np.array([w in sr.excluded for w in windows], dtype=bool)
    is_open[:, left_out] = False  # an excluded window's episodes are not pooled
    pooled_vals, rows = scoring.calendar_pool(R, n_c, n_w, is_open)
    pooled_index = index[rows]
    calendar = pd.DataFrame(pooled_vals, index=pooled_index, columns=sr.grid.index)
    bench = None
    if B is not None:
        bench = pd.DataFrame(_pool_onto(B, rows, n_c, n_w, is_open), index=pooled_index, columns=sr.grid.index)
    if n_w == 1 and rows.size == int((~np.isnan(R)).any(axis=1).sum()):
        # one window: each combination's pooled series is its only run's series
        pooled = table[[c for c in table.columns if c not in ENGINE_METRICS]]
        pooled = pooled.set_axis(sr.grid.index, axis=0).copy()
        preasons = {c: reasons[rid] for c, rid in enumerate(sr.returns.columns) if rid in reasons}
    else:
        pooled, preasons = scoring.metrics_table(calendar, ppy, bench, rf)
    _exposed_metrics(pooled, preasons, sr, R, index, is_open, spans, n_c, n_w, rf)
    per_window = np.asarray(scoring.total_return(R)).reshape(n_c, n_w)
    run_total = per_window.copy()  # every run's own total return (an excluded window's episode record keeps it)
    per_window[:, left_out] = np.nan  # ...but it is not an event of the statistics
    counted = ~np.isnan(per_window)
    with np.errstate(invalid="ignore"):
        pooled["n_windows"] = counted.sum(axis=1)
        pooled["window_total_return_mean"] = np.nanmean(np.where(counted, per_window, np.nan), axis=1)
        pooled["window_total_return_median"] = np.nanmedian(np.where(counted, per_window, np.nan), axis=1)
        pooled["window_positive_fraction"] = np.where(counted.any(axis=1),
                                                     (per_window > 0).sum(axis=1) / np.maximum(counted.sum(axis=1), 1),
                                                     np.nan)
    traded = _traded(sr.runs, n_c, n_w)
    events, ev_reasons = scoring.event_table(per_window, traded, clusters.code, clusters.n)
    pooled["n_events"] = events["n_events"].to_numpy()
    pooled["n_clusters"] = events["n_clusters"].to_numpy()
    distinct = scoring.distinct_columns(pooled_vals)
    eng = sr.runs[["entries", "exposure", "turnover"]].to_numpy(dtype=float).reshape(n_c, n_w, 3)
    if rank_by not in pooled.columns:  # config validation (config.plan.check_rank_by) names the bad key
        raise ValueError(f"rank_by {rank_by!r} is not a pooled metric of strategy {sr.label!r}")
    metric_col = rank_by
    ranking = scoring.rank_sweep(pooled, ppy, metric=metric_col, returns=calendar if n_c >= 2 else None,
                                 n_blocks=pbo_blocks, distinct=distinct)
    # one trigger inside two overlapping windows is one real trade: counted once (orders known)
    distinct_trades = distinct_entries(sr.orders, dict(zip(sr.returns.columns, sr.runs["combo"].to_numpy())), n_c)
    pooled["n_trades"] = eng[:, :, 0].sum(axis=1).astype(np.int64) if distinct_trades is None else distinct_trades
    pooled["exposure"] = eng[:, :, 1].mean(axis=1)
    pooled["turnover_mean"] = eng[:, :, 2].mean(axis=1)
    # Bootstrap for the best TOP_K and the default combination.
    chosen = list(ranking.index[:TOP_K])
    if sr.default_combo is not None and sr.default_combo not in chosen:
        chosen.append(sr.default_combo)
    boot = scoring.bootstrap_ci(calendar[chosen], np.full(len(chosen), ppy), n_resamples=n_resamples,
                                confidence=confidence, seed=seed)
    boot_records = dict(zip(boot.index, frame_records(boot)))
    rk = ranking.reindex(pooled.index)
    trust_rows = frame_records(rk[["rank", "dsr", "pbo", "n_trials", "n_trials_raw", "sharpe_star"]])
    n_identical = distinct.n_identical
    notes = rk["notes"].tolist()
    event_rows = frame_records(events)
    pooled_records = []
    for c, (metrics, trust, ev) in enumerate(zip(frame_records(pooled), trust_rows, event_rows)):
        trust["notes"] = notes[c] or None
        if c in boot_records:
            trust["bootstrap"] = {**boot_records[c], "confidence": confidence}
        ev["nan_reason"] = ev_reasons[c]
        pooled_records.append({
            "id": combo_id(sr.label, combo_params[c]), "strategy": sr.label, "strategy_name": sr.name,
            "combo": c, "params": combo_params[c], "is_default": c == sr.default_combo, "metrics": metrics,
            "events": ev, "trust": trust, "n_identical": int(n_identical[c]),
            "nan_reasons": dict(preasons.get(c, {})),
        })
    best = ranking.index[0] if len(ranking) and not pd.isna(ranking.iloc[0]["rank"]) else None
    best = None if best is None else int(best)
    detail = [c for c in dict.fromkeys([best, sr.default_combo]) if c is not None]
    # what the tearsheet draws of the shown combinations (best, default): paths and drawdown periods
    views = {c: scoring.pooled_view(calendar[c], None if bench is None else bench[c]) for c in detail}
    episodes_of = _episode_records(sr, windows, clusters, run_total, traded)
    event_level = {str(c): _event_level(per_window[c], traded[c], clusters, episodes_of(c), n_resamples=n_resamples,
                                        confidence=confidence, seed=seed) for c in detail}
    row_cluster = clusters.code[np.argmax(is_open[rows], axis=1)] if rows.size else np.zeros(0, np.int64)
    cl_means = scoring.cluster_means(per_window, clusters.code, clusters.n)
    cl_counts = np.bincount(clusters.code, minlength=clusters.n)
    oos = scoring.out_of_sample(row_cluster, cl_means, cl_counts, clusters.ids,
                                _score_fn(metric_col, calendar, bench, ppy, rf), best,
                                lambda c: combo_params[c], min_train_clusters)
    summary = {
        "label": sr.label, "name": sr.name, "n_combinations": int(n_c), "n_windows": int(n_w),
        "n_runs": int(len(sr.runs)), "rank_by": rank_by,
        "pbo": clean_json(ranking["pbo"].iloc[0]) if len(ranking) else None, "pbo_blocks": pbo_blocks,
        "periods_per_year": ppy, "best_combo": best,
        "default_combo": sr.default_combo,
        "n_events": int(n_w - left_out.sum()), "n_clusters": int(clusters.n), "clusters": clusters.records,
        "excluded": [{"window": w, "reason": sr.excluded[w]} for w in windows if w in sr.excluded],
        "trials": _trials(ranking, pooled, distinct, ppy),
        "event_level": event_level, "oos": oos,
        "pooled_detail": {str(c): v.record for c, v in views.items()},
        "ranking": [_ranked(c, ranking, pooled, rank_by, ppy, combo_params) for c in ranking.index[:TOP_K]],
    }
    return {"runs": run_records, "pooled": pooled_records, "summary": summary,
            "calendar": calendar, "calendar_benchmark": bench, "clusters": clusters,
            "benchmark_runs": bench_runs, "views": views}


def _exposed_metrics(pooled: pd.DataFrame, preasons: dict[Any, dict[str, str]], sr: StrategyRuns, R: np.ndarray,
                     index: pd.DatetimeIndex, is_open: np.ndarray, spans: list[Any], n_c: int, n_w: int,
                     rf: float) -> None:
    """Add the registry's ``exposure`` keys to the pooled table (in place): the risk of the positions
    themselves, on the exposed series (:mod:`backtests.scoring.exposure`), per period."""
    keys = scoring.registry.EXPOSED_FROM
    start = np.tile(np.array([sp.start_utc.as_unit("ns").value for sp in spans], dtype=np.int64), n_c)
    mask = exposure.exposure_mask(sr.orders, index, ~np.isnan(R), list(sr.returns.columns), start)
    if mask is None:
        for k in keys:
            pooled[k] = np.nan
            for c in range(n_c):  # new dicts: a record's reasons may be shared with its run's
                preasons[c] = {**preasons.get(c, {}), k: "no orders: the periods with a position are not known"}
        return
    vals, rows = exposure.exposed_pool(R, mask, n_c, n_w, is_open)
    frame = pd.DataFrame(vals, index=index[rows], columns=sr.grid.index)
    table, why = scoring.metrics_table(frame, 1.0, None, rf)
    for k, src in keys.items():
        pooled[k] = table[src].to_numpy()
        for c, reasons in why.items():
            if src in reasons:
                preasons[c] = {**preasons.get(c, {}), k: f"exposed series: {reasons[src]}"}
    pooled["exposed_periods"] = pooled["exposed_periods"].astype(np.int64)


def _traded(runs: pd.DataFrame, n_c: int, n_w: int) -> np.ndarray:
    """``(combos, windows)``: the episode traded a position the strategy chose (the engine's ``chosen``:
    an order filled a target other than the strategy's resting weights); without that statistic, any
    order filled."""
    col = "chosen" if "chosen" in runs else "n_orders"
    return runs[col].to_numpy().reshape(n_c, n_w) > 0


def _event_level(returns: np.ndarray, traded: np.ndarray, clusters: Any, episodes: list[dict[str, Any]], *,
                 n_resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    """One shown combination's EventLevel with the shock-size slope of its episodes (``shock_slope``)."""
    el = scoring.event_level(returns, traded, clusters.code, clusters.ids, n_resamples=n_resamples,
                             confidence=confidence, seed=seed, episodes=episodes)
    left = [{"window": e["window"], "reason": e["excluded"]} for e in episodes if e.get("excluded")]
    el["n_excluded"], el["excluded"] = len(left), left
    shock = np.array([np.nan if e.get("shock") is None else e["shock"] for e in episodes], dtype=float)
    el["shock_slope"] = clean_json(scoring.shock_slope(shock, returns, clusters.code, confidence))
    return el


def _ranked(c: Any, ranking: pd.DataFrame, pooled: pd.DataFrame, rank_by: str, ppy: float,
            combo_params: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``strategies[].ranking`` record: the ranking metric's value by the annualization rule
    (:func:`backtests.scoring.registry.shown_value`: a Sharpe ratio of a series shorter than a
    year is given per period, ``scale`` says which)."""
    n = pooled.loc[c, "n_periods"] if "n_periods" in pooled.columns else None
    raw = clean_json(ranking.loc[c, rank_by])
    value, scale = scoring.registry.shown_value(rank_by, raw, clean_json(n), ppy)
    return {"combo": int(c), "rank": clean_json(ranking.loc[c, "rank"]), "metric": rank_by, "value": clean_json(value),
            "scale": scale, "n_periods": clean_json(n), "dsr": clean_json(ranking.loc[c, "dsr"]),
            "params": combo_params[int(c)]}


def _one_benchmark(bench: pd.DataFrame | None, label: str) -> pd.Series | None:
    """A study strategy's pooled benchmark: one series, the same for every combination (each window's
    benchmark is the same for every combination and masked at the same first possible fill); a
    ValueError if it is not (``score_strategy`` called by hand with per-run benchmarks that differ)."""
    if bench is None or not bench.shape[1]:
        return None
    values = bench.to_numpy()
    if not np.array_equal(values, np.broadcast_to(values[:, :1], values.shape), equal_nan=True):
        raise ValueError(f"the pooled benchmark of {label!r} differs between combinations")
    return bench.iloc[:, 0].rename(None)


def pooled_frames(scored: dict[str, Any], label: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The strategy's part of ``pooled.parquet`` and ``pooled_benchmark.parquet`` (docs/outputs.md).

    ``pooled``: one column of calendar-time returns per combination id, and for the shown
    combinations (best, default) ``<id>|wealth``, ``<id>|drawdown``, ``<id>|rolling_volatility``,
    ``<id>|rolling_beta``; ``pooled_benchmark``: ``<label>`` (the pooled benchmark's returns),
    ``<label>|wealth`` and ``<label>|drawdown`` (flat over the rows where it has no return), or
    None without a benchmark. Index: UTC period ends of the strategy's pooled rows.
    """
    calendar = scored["calendar"]
    ids = [p["id"] for p in scored["pooled"]]
    parts = [calendar.set_axis(ids, axis=1)]
    for c, view in scored["views"].items():
        parts.append(view.series.add_prefix(f"{ids[c]}|").reindex(calendar.index))
    pooled = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    b = _one_benchmark(scored["calendar_benchmark"], label)
    if b is None:
        return pooled, None
    seen = b.dropna()
    paths = pd.DataFrame({"wealth": scoring.wealth(seen), "drawdown": scoring.drawdown(seen)}, index=seen.index)
    paths = paths.reindex(b.index).ffill().fillna({"wealth": 1.0, "drawdown": 0.0})
    bench = pd.concat([b.rename(label), paths.add_prefix(f"{label}|")], axis=1)
    return pooled, bench


def _episode_records(sr: StrategyRuns, windows: list[str], clusters: Any, per_window: np.ndarray,
                     traded: np.ndarray):
    """Per-episode records of one combination: window, cluster, return, fills, shock."""
    n_w = len(windows)
    fills: dict[str, tuple[str, str]] = {}
    if sr.orders is not None and len(sr.orders):
        o = pd.DataFrame({"run": sr.orders["run"].astype(str).to_numpy(),
                          "fill_time": pd.DatetimeIndex(sr.orders["fill_time"])})
        g = o.groupby("run", sort=True)["fill_time"]
        lo, hi = g.min(), g.max()
        fills = {r: (lo[r].isoformat(), hi[r].isoformat()) for r in lo.index}
    ids = list(sr.returns.columns)

    def records(c: int) -> list[dict[str, Any]]:
        out = []
        for w, wid in enumerate(windows):
            rid = str(ids[c * n_w + w])
            entry, exit_ = fills.get(rid, (None, None))
            out.append({"window": wid, "cluster": clusters.ids[clusters.code[w]],
                        "return": clean_json(per_window[c, w]), "traded": bool(traded[c, w]),
                        "entry_utc": entry, "exit_utc": exit_, **_shock(sr.shocks, wid),
                        "excluded": sr.excluded.get(wid)})
        return out

    return records


def trades_of(res: Any, combos: list[int]) -> dict[str, Any]:
    """``strategies[].trades`` for the shown combinations: each real trade once (:mod:`.trades`)."""
    runs = res.runs
    out = {}
    for c in combos:
        sel = runs[runs["combo"] == c]  # canonical order: the study's window order
        out[str(c)] = trades_block(res.orders, [str(r) for r in sel.index], [str(w) for w in sel["window"]])
    return out


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

    ``res`` is a :class:`backtests.sweep.results.StrategyResult` (its runs carry the engine's
    first possible fill of each run, its ``rules`` the execution rules), ``data`` the study's
    MarketData and ``cfg`` the study config (its ``scoring`` section and seed). The returned combos
    (best, then default) are those whose event-time paths, event studies and per-bar weights are
    reported. The summary gets ``execution``: the rules' record (costs, clock, fills).
    """
    sp = res.plan
    sc = cfg.scoring
    traded = res.rules.symbols
    shocks = {w.id: _t0_move(data, traded[0], w) for w in sp.windows} if traded else {}
    missing = exclusions.missing_signals(data, sp.strategy, sp.windows)
    res.notices.extend(exclusions.notices(missing, sp.label))
    res.scored = score_strategy(
        StrategyRuns(sp.label, sp.name, res.returns, res.benchmark, res.runs, sp.grid,
                     default_combo(sp.grid, sp.strategy.params), windows=list(sp.windows), orders=res.orders,
                     shocks=shocks, excluded=exclusions.reasons(missing)),
        risk_free=sc.risk_free, rank_by=sc.rank_by, pbo_blocks=sc.pbo_blocks,
        n_resamples=sc.bootstrap_samples, confidence=sc.confidence, seed=cfg.seed,
        min_train_clusters=sc.walk_forward_min_clusters,
    )
    res.pooled, res.pooled_benchmark = pooled_frames(res.scored, sp.label)
    calendar = res.scored.pop("calendar")
    calendar_bench = res.scored.pop("calendar_benchmark")
    bench_runs = res.scored.pop("benchmark_runs")
    for key in ("clusters", "views"):
        res.scored.pop(key)
    s = res.scored["summary"]
    s["execution"] = res.rules.record()
    combos = [c for c in dict.fromkeys([s["best_combo"], s["default_combo"]]) if c is not None]
    by_id = {w.id: w for w in sp.windows}
    s["trades"] = trades_of(res, combos)
    left_out = set(exclusions.reasons(missing))
    kept_runs = res.runs[~res.runs["window"].isin(left_out)]  # the event views leave out excluded windows too
    kept_windows = [w for w in sp.windows if w.id not in left_out]
    s["event_time"] = event_time_view(res.returns, kept_runs, by_id, combos, confidence=sc.confidence,
                                      n_resamples=sc.bootstrap_samples, seed=cfg.seed)
    if traded:
        # the strategy's first decision in each window (the engine's, the same for every run of it)
        first = res.runs.groupby("window", sort=False)["first_decision"].first()
        first_decision = dict(zip(first.index, pd.DatetimeIndex(first).as_unit("ns").asi8))
        s["baseline"] = baseline(data, traded[0], list(sp.windows), first_decision, res.rules,
                                 n_resamples=sc.bootstrap_samples, confidence=sc.confidence, seed=cfg.seed,
                                 excluded=exclusions.reasons(missing))
        # the shock of each baseline episode is the same t = 0 move as the strategy's
        for e in s["baseline"]["event_level"]["episodes"]:
            e.update(_shock(shocks, e["window"]))
    s["matched_baseline"] = matched_baselines(res, data, combos, s["event_level"], n_resamples=sc.bootstrap_samples,
                                              confidence=sc.confidence, seed=cfg.seed,
                                              excluded=exclusions.reasons(missing))
    s["event_study"] = {
        "asset": asset_event_study(data, traded[0], sp.benchmark, kept_windows, sc.estimation_sessions),
        "strategy": {str(c): strategy_event_study(
            res.returns, bench_runs, kept_runs, by_id, c, calendar[c],
            None if calendar_bench is None else calendar_bench[c]) for c in combos},
    }
    return combos
