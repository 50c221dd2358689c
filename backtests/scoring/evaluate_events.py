"""Event studies and event-time views of one strategy's runs (the data-facing half of scoring).

:mod:`backtests.scoring.evaluate` scores the runs; this module adds what needs market data or the
windows' calendars: the buy-and-hold baseline (entered by the engine's first-fill rule), the
defining asset's t = 0 move, the event-time view of a run's returns by session of the defining
market, and the market-model event studies with their test battery
(:mod:`backtests.scoring.event_tests`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests import scoring
from backtests.engine.results import NEVER
from backtests.engine.schedule import asset_first_fill
from backtests.engine.simulate import asset_bars
from backtests.jsonfmt import clean_json
from backtests.scoring import event_tests, matched
from backtests.scoring.trades import distinct_entries  # noqa: F401 - the one trade rule, re-exported


BASELINE_RULE = ("long 1.0 in {symbol} over each episode: bought at its first possible fill (the "
                 "strategy's first decision in the window, next bar of {symbol}, open or close as "
                 "execution.fill), sold at the close of its last bar in the window; USD, before costs")


def baseline(data: Any, symbol: str, windows: list[Any], first_decision: Mapping[str, int], rules: Any, *,
             n_resamples: int, confidence: float, seed: int, excluded: Mapping[str, str] | None = None,
             ) -> dict[str, Any]:
    """Buy-and-hold of ``symbol`` over the same episodes as the strategy, as an EventLevel.

    Each episode buys at :func:`~backtests.engine.schedule.asset_first_fill` of the strategy's
    first decision in the window (``first_decision``: window id -> int64 ns UTC, ``NEVER`` for
    none, as the engine reported it) under the strategy's ``rules`` (its fill mode), the same
    rule the engine fills by, and sells at the close of the symbol's last bar in the window.
    Windows in ``excluded`` (the strategy's left out: its signal is missing there) are left out
    of the statistics here too, so the two read over the same events.
    """
    excluded = dict(excluded or {})
    rets, recs = [], []
    for w in windows:
        bars = asset_bars(data, symbol, w)
        tau = int(first_decision.get(w.id, NEVER))
        got = None if tau == NEVER else asset_first_fill(bars, tau, rules)
        r, entry, exit_ = float("nan"), None, None
        if got is not None:
            k, instant, at_open = got
            px_in, px_out = (bars.open if at_open else bars.close)[k], bars.close[-1]
            if np.isfinite(px_in) and np.isfinite(px_out) and px_in > 0:
                r = float(px_out / px_in - 1.0)
                entry = pd.Timestamp(instant, tz="UTC").isoformat()
                exit_ = pd.Timestamp(int(bars.stamps[-1]), tz="UTC").isoformat()
        rets.append(r)
        recs.append((w.id, entry, exit_))
    codes = scoring.event_clusters(scoring.spans_of(windows))
    ret = np.array(rets, dtype=float)
    episodes = [{"window": wid, "cluster": codes.ids[codes.code[i]], "return": clean_json(ret[i]),
                 "traded": bool(np.isfinite(ret[i])), "entry_utc": e, "exit_utc": x, "shock": None,
                 "excluded": excluded.get(wid)}
                for i, (wid, e, x) in enumerate(recs)]
    counted = np.where([wid in excluded for wid, _, _ in recs], np.nan, ret)
    el = scoring.event_level(counted, np.isfinite(counted), codes.code, codes.ids, n_resamples=n_resamples,
                             confidence=confidence, seed=seed, episodes=episodes)
    return {"symbol": symbol, "rule": BASELINE_RULE.format(symbol=symbol), "event_level": el}

def matched_baselines(res: Any, data: Any, combos: list[int], strategy_levels: Mapping[str, Any], *,
                      n_resamples: int, confidence: float, seed: int,
                      excluded: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``strategies[].matched_baseline`` for the shown combinations (:mod:`backtests.scoring.matched`):
    the same vehicles over the same spans at the same exposure, from each run's own fills, as an
    EventLevel, and ``difference``: the EventLevel of strategy minus matched baseline per episode.

    ``res`` is the strategy's :class:`~backtests.sweep.results.StrategyResult` (runs, returns,
    orders, rules); ``strategy_levels`` its EventLevel per combination (the episodes' returns).
    """
    excluded = dict(excluded or {})
    windows = list(res.plan.windows)
    by_id = {w.id: w for w in windows}
    codes = scoring.event_clusters(scoring.spans_of(windows))
    cl_of = {w.id: codes.ids[codes.code[i]] for i, w in enumerate(windows)}
    code_of = {w.id: int(codes.code[i]) for i, w in enumerate(windows)}
    orders = res.orders
    per_run = ({str(k): g for k, g in orders.groupby(orders["run"].astype(str), sort=False)}
               if orders is not None and len(orders) else {})
    bars_cache: dict[tuple[str, str], Any] = {}
    out: dict[str, Any] = {}
    for c in combos:
        sel = res.runs[res.runs["combo"] == c]
        wins, eps = [], []
        for rid, meta in sel.iterrows():
            w = by_id[meta["window"]]
            ivs = matched.exposure_intervals(per_run.get(str(rid)))
            syms = sorted({s for iv in ivs for s in iv.legs})
            bars = {s: bars_cache.setdefault((s, w.id), asset_bars(data, s, w)) for s in syms}
            r = res.returns[rid].dropna()
            last = int(pd.DatetimeIndex(r.index).as_unit("ns").asi8[-1]) if len(r) else 0
            eps.append(matched.matched_episode(ivs, bars, matched.value_path(res.returns[rid], res.rules.init_cash),
                                               last))
            wins.append(str(meta["window"]))
        ret = np.array([e["return"] for e in eps], dtype=float)
        left = np.array([w in excluded for w in wins], dtype=bool)
        counted = np.where(left, np.nan, ret)
        cluster = np.array([code_of[w] for w in wins])
        records = matched.episode_records(wins, [cl_of[w] for w in wins], eps, excluded)
        el = scoring.event_level(counted, np.array([e["traded"] for e in eps]) & ~left, cluster, codes.ids,
                                 n_resamples=n_resamples, confidence=confidence, seed=seed, episodes=records)
        strat = {e["window"]: e for e in (strategy_levels.get(str(c)) or {}).get("episodes") or []}
        mine = np.array([np.nan if strat.get(w, {}).get("return") is None else strat[w]["return"] for w in wins],
                        dtype=float)
        diff = mine - counted
        dl = scoring.event_level(diff, np.isfinite(diff), cluster, codes.ids, n_resamples=n_resamples,
                                 confidence=confidence, seed=seed)
        out[str(c)] = {"label": matched.label_of([e["weights"] for e, x in zip(eps, left) if not x]),
                       "rule": matched.MATCHED_RULE, "symbols": sorted({s for e in eps for s in e["weights"]}),
                       "event_level": el, "difference": dl}
    return out


@dataclass(frozen=True)
class ShockSize:
    """An episode's shock size: the defining market's t = 0 close-to-close USD return of the first
    traded symbol, or ``value`` None with the ``reason`` it is unknown (never a 0.0 standing in)."""

    value: float | None
    reason: str | None = None

    def fields(self) -> dict[str, Any]:
        """The episode record's ``shock`` and ``shock_reason``."""
        return {"shock": clean_json(self.value), "shock_reason": self.reason}


def _t0_move(data: Any, symbol: str, window: Any) -> ShockSize:
    """The defining market's t = 0 close-to-close USD return of ``symbol``: its last close at or
    before the t = 0 session's close over its last close at or before the t = -1 close. Missing,
    with the reason, when ``symbol`` has no bar stamped in between (the same close twice is no
    move) or none before it."""
    try:
        closes = _event_closes(window, 0, 0, 0)
    except (KeyError, ValueError, IndexError):
        closes = None
    if closes is None:
        return ShockSize(None, f"the {window.market} calendar does not cover t = -1")
    px = data.to_usd(symbol, "close").dropna()
    stamps = px.index.as_unit("ns").asi8
    prev, t0 = (int(np.searchsorted(stamps, c.value, side="right")) - 1 for c in closes.as_unit("ns"))
    if t0 < 0 or t0 == prev:
        return ShockSize(None, f"no bar of {symbol} at t = 0")
    if prev < 0:
        return ShockSize(None, f"no bar of {symbol} before t = 0")
    v = float(px.iloc[t0] / px.iloc[prev] - 1.0)
    return ShockSize(v) if np.isfinite(v) else ShockSize(None, f"no finite move of {symbol} at t = 0")

def shock_fields(shocks: dict[str, Any], window: str) -> dict[str, Any]:
    """``shock`` and ``shock_reason`` of one episode record from ``{window id: ShockSize}``."""
    got = shocks.get(window)
    if isinstance(got, ShockSize):
        return got.fields()
    return ShockSize(None, "not measured").fields() if got is None else ShockSize(float(got)).fields()

def session_returns(returns: pd.Series, window: Any) -> np.ndarray:
    """A run's returns on its clock seen in event time: one return per session of the window's
    defining market (t = -pre..+post).

    The rows stamped after the close of session t - 1 and at or before the close of session t
    compound into session t's return (``exp(sum log1p r) - 1``; a session of one row is that row's
    return as is); a session without a row returns 0. A view for event-time charts and event
    studies: the run's own statistics stay on its clock.

    Parameters
    ----------
    returns
        The run's per-row simple returns, index UTC stamps (NaN rows are not the run's).
    window
        Its :class:`~backtests.time.windows.Window`.

    Returns
    -------
    numpy.ndarray
        (sessions,) simple returns.
    """
    r = returns.dropna()
    values = r.to_numpy(dtype=float)
    closes = window.closes.as_unit("ns").asi8
    # a row belongs to the first session whose close is at or after its stamp
    which = np.clip(np.searchsorted(closes, pd.DatetimeIndex(r.index).as_unit("ns").asi8, side="left"),
                    0, len(closes) - 1)
    acc = np.zeros(len(closes))
    np.add.at(acc, which, np.log1p(values))
    out = np.exp(acc) - 1.0
    alone = (np.bincount(which, minlength=len(closes)) == 1)[which]  # rows alone in their session
    out[which[alone]] = values[alone]
    return out


def event_time_view(returns: pd.DataFrame, runs: pd.DataFrame, windows: dict[str, Any], combos: list[int], *,
                    confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Cumulative return by event time per window for the given combos (a chart), with the interval
    of the mean path.

    Each window's line runs over its own ``t = -pre..+post`` (``t`` lists them; the run's returns
    by session of the defining market, :func:`session_returns`); ``mean`` is the average of the
    lines at each event time of the range every line covers, ``mean_t`` (``-min pre .. +min
    post``), so windows of different lengths line up on t = 0. ``mean_low``/``mean_high`` are the
    interval of that mean at each event time with the windows' clusters as the units, by the rule
    of the event-level interval (:func:`backtests.scoring.episodes.mean_interval`: the cluster-robust
    t interval with G - 1 df below 30 clusters); ``interval`` says how (``method``, ``confidence``,
    ``df``, ``n_clusters``, ``reason`` when undefined).
    """
    out: dict[str, Any] = {}
    for combo in combos:
        lines, times = {}, {}
        for rid, meta in runs[runs["combo"] == combo].iterrows():
            w = windows[meta["window"]]
            lines[meta["window"]] = (1.0 + session_returns(returns[rid], w)).cumprod() - 1.0
            times[meta["window"]] = np.arange(-w.pre, w.post + 1)
        if lines:
            pre = min(-t[0] for t in times.values())
            post = min(t[-1] for t in times.values())
            arr = np.array([line[(-pre - t[0]):(-pre - t[0]) + pre + post + 1]
                            for line, t in zip(lines.values(), times.values())], dtype=float)
            codes = _cluster_codes([windows[w] for w in lines])
            cluster = np.array([codes[w] for w in lines])
            cis = [scoring.mean_interval(arr[:, k], cluster, confidence=confidence, n_resamples=n_resamples,
                                         seed=seed) for k in range(arr.shape[1])]
            # how the interval was made: from an event time where it is defined (a constant 0 before
            # any entry has none), else why none is
            first = next((c for c in cis if c["reason"] is None), cis[0] if cis else {})
            out[str(combo)] = {
                "windows": {k: [clean_json(x) for x in v] for k, v in lines.items()},
                "t": {k: [int(x) for x in v] for k, v in times.items()},
                "mean_t": list(range(-pre, post + 1)),
                "mean": [clean_json(x) for x in np.nanmean(arr, axis=0)],
                "mean_low": [clean_json(c["low"]) for c in cis],
                "mean_high": [clean_json(c["high"]) for c in cis],
                "interval": {"method": first.get("method"), "confidence": confidence, "df": first.get("df"),
                             "n_clusters": first.get("n_clusters"), "reason": first.get("reason")},
            }
    return out


def _event_closes(window: Any, pre: int, post: int, estimation: int) -> pd.DatetimeIndex | None:
    """UTC closes of the defining market's sessions t = -pre-estimation-1 .. post (None: too early)."""
    from backtests.time.calendars import sessions

    t0 = window.t0_session
    span = pd.Timedelta(days=int((pre + estimation) * 1.6) + 20)
    sched = sessions(window.market, t0 - span, window.sessions[-1])
    k0 = sched.index.get_loc(t0)
    lo = k0 - pre - estimation - 1
    if lo < 0:
        return None
    return pd.DatetimeIndex(sched["close"].iloc[lo: k0 + post + 1])

def _event_frame(data: Any, symbol: str, window: Any, pre: int, post: int, estimation: int) -> pd.Series:
    """USD close-to-close returns of ``symbol`` by event time t = -pre-estimation..post, measured
    at the defining market's session closes (as-of prices)."""
    from backtests.data.market_data import asof

    closes = _event_closes(window, pre, post, estimation)
    if closes is None:
        return pd.Series(dtype=float)
    px = asof(data.to_usd(symbol, "close"), closes).to_numpy()
    rets = px[1:] / px[:-1] - 1.0
    return pd.Series(rets, index=np.arange(-pre - estimation, post + 1))

def _cluster_codes(windows: list[Any]) -> dict[str, int]:
    cl = scoring.event_clusters(scoring.spans_of(windows))
    return {w.id: int(c) for w, c in zip(windows, cl.code)}

def asset_event_study(data: Any, symbol: str, benchmark: str | None, windows: list[Any], estimation: int) -> dict[str, Any]:
    """Market-model event study of a strategy's primary asset around its windows, with the test
    battery of :mod:`backtests.scoring.event_tests` (clusters of the windows as in scoring).

    Windows are aligned on t = 0 with the shortest common ``[-pre, post]``; the market model is
    fitted on ``estimation`` sessions before each event window. The calendar-time portfolio holds
    the asset (equal weight) in every event window open at a defining-market close.
    """
    if not benchmark or not windows:
        return {"symbol": symbol, "reason": "no benchmark" if not benchmark else "no windows"}
    pre, post = min(w.pre for w in windows), min(w.post for w in windows)
    rets = {w.id: _event_frame(data, symbol, w, pre, post, estimation) for w in windows}
    bench = {w.id: _event_frame(data, benchmark, w, pre, post, estimation) for w in windows}
    res = scoring.event_study(rets, bench, pre=pre, post=post, estimation_length=estimation)
    codes = _cluster_codes(windows)
    ids = list(res.car.index)
    port, pb = {}, {}
    for w in windows:
        closes = _event_closes(w, pre, post, estimation)
        if closes is None or w.id in res.dropped or not len(rets[w.id]):
            continue
        stamps = closes[-(pre + post + 1):]
        port[w.id] = pd.Series(rets[w.id].loc[-pre:post].to_numpy(), index=stamps)
        pb[w.id] = pd.Series(bench[w.id].loc[-pre:post].to_numpy(), index=stamps)
    tests = event_tests.battery(
        res.car.to_numpy(), res.model["n_event"].to_numpy(), res.model["residual_std"].to_numpy(),
        res.residuals.to_numpy(), np.array([codes[i] for i in ids]),
        *(_calendar_mean(port, pb) if port else (None, None)))
    return {
        "symbol": symbol, "benchmark": benchmark, "model": "market model (OLS alpha + beta)",
        "estimation_sessions": estimation, "pre": pre, "post": post,
        "caar": clean_json(res.caar), "windows_as_independent": _independent(res.t_stat, res.p_value),
        "n_events": int(res.n_events), "n_clusters": len({codes[i] for i in ids if i not in res.dropped}),
        "fraction_positive": clean_json(res.fraction_positive),
        "car": {k: clean_json(v) for k, v in res.car.items()},
        "caar_path": [clean_json(v) for v in res.caar_path.to_numpy()],
        "dropped": dict(res.dropped), "tests": _clean(tests),
    }

def _calendar_mean(port: dict[str, pd.Series], bench: dict[str, pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """Equal-weight calendar-time portfolio (mean over the windows open at each stamp)."""
    p = pd.concat(port, axis=1, sort=True)
    b = pd.concat(bench, axis=1, sort=True).reindex(index=p.index, columns=p.columns)
    b = b.where(p.notna())
    return p.mean(axis=1).to_numpy(), b.mean(axis=1).to_numpy()

INDEPENDENT_NOTE = ("t test of the mean CAR with every window an independent event (N - 1 df): windows of one "
                    "shock are not independent, so this is not the event-level test; read tests.t (clusters)")


def _independent(t_stat: float, p_value: float) -> dict[str, Any]:
    """The 0.1 cross-sectional t test, kept under a name that says what it assumes."""
    return {"t_stat": clean_json(t_stat), "p_value": clean_json(p_value), "note": INDEPENDENT_NOTE}


def _clean(tests: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {kk: clean_json(vv) for kk, vv in v.items()} for k, v in tests.items()}

NO_ESTIMATION = "needs an estimation window: the strategy has returns only inside its windows"

def strategy_event_study(returns: pd.DataFrame, benchmark: pd.DataFrame | None, runs: pd.DataFrame,
                         windows: dict[str, Any], combo: int, calendar: pd.Series | None = None,
                         calendar_benchmark: pd.Series | None = None) -> dict[str, Any]:
    """Per-window cumulative excess return (strategy minus benchmark, market-adjusted model) of
    one combination in event time, with CAAR, its cross-sectional t-statistic (events as if
    independent, as in 0.1: ``windows_as_independent``, not the event-level test), the fraction of windows with a positive result and the test battery:
    ``t`` with clusters as the independent unit, the calendar-time test on the combination's
    calendar-time pooled series (``calendar``) against its pooled benchmark; BMP, Kolari-Pynnönen,
    GRANK and the generalized sign test need an estimation window the strategy does not have.

    ``benchmark`` should hold NaN before each window's first possible fill (as scoring passes
    it): those periods then add no excess return."""
    from scipy.stats import t as student_t

    sel = runs[runs["combo"] == combo]
    cars, paths = {}, []
    pre = min(windows[w].pre for w in sel["window"])
    post = min(windows[w].post for w in sel["window"])
    for rid, meta in sel.iterrows():
        w = windows[meta["window"]]
        own = returns[rid].dropna()
        r = session_returns(own, w)
        b = session_returns(benchmark[rid].reindex(own.index).fillna(0.0), w) if benchmark is not None \
            else np.zeros_like(r)
        ex = (r - b)[w.pre - pre: w.pre + post + 1]
        cars[meta["window"]] = float(ex.sum())
        paths.append(np.cumsum(ex))
    if not cars:
        return {"combo": combo, "reason": "no window"}
    car = np.array(list(cars.values()))
    n = len(car)
    sd = car.std(ddof=1) if n > 1 else np.nan
    t_stat = car.mean() / (sd / np.sqrt(n)) if n > 1 and sd > 0 else np.nan
    p = 2 * student_t.sf(abs(t_stat), n - 1) if np.isfinite(t_stat) else np.nan
    codes = _cluster_codes([windows[w] for w in sel["window"]])
    cluster = np.array([codes[w] for w in cars])
    tests = {
        "t": event_tests.cluster_t(car, cluster),
        **{k: event_tests._nan(NO_ESTIMATION) for k in ("bmp", "kolari_pynnonen", "grank", "generalized_sign")},
        "calendar_time": event_tests.calendar_time(
            calendar.to_numpy(), None if calendar_benchmark is None else calendar_benchmark.to_numpy())
        if calendar is not None else event_tests._nan("no calendar-time series"),
    }
    return {
        "combo": combo, "model": "market-adjusted (strategy minus benchmark)", "pre": pre, "post": post,
        "caar": clean_json(float(car.mean())), "windows_as_independent": _independent(t_stat, p),
        "n_events": n, "n_clusters": int(np.unique(cluster).size),
        "fraction_positive": clean_json(float((car > 0).mean())),
        "car": {k: clean_json(v) for k, v in cars.items()},
        "caar_path": [clean_json(v) for v in np.mean(paths, axis=0)],
        "tests": _clean(tests),
    }
