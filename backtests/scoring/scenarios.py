"""Scoring of a scenario sweep: what a trader reads in a minute, computed once (the report reads it).

Per strategy, from one total return per (scenario, combination) (:mod:`backtests.sweep.scenarios`):

- :func:`combo_table`: per combination the mean, median, worst decile (the mean of the worst 10% of
  scenario returns, at least one scenario), 10th percentile, the fraction of scenarios with a loss
  beyond the threshold (``total_return < -loss_threshold``) and of scenarios it traded, and its
  rank by the worst decile and by the mean (1 = best);
- the **chosen** combination: best worst decile (ties: lower combination id);
- :func:`surface`: the chosen combination's mean return over the two surface axes (averaged over
  replicates and every other axis) and :func:`break_even` (where it crosses zero, by linear
  interpolation between neighbouring grid points along each axis);
- the worst scenarios with their parameters, halts and first fill;
- :func:`real_event_points`: real shocks in the same space (docs/scenarios.md).

All numbers are fractions (0.05 = 5%); instants UTC. Everything here is SCENARIO: it is written to
its own keys and files and never pooled with market-data results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.jsonfmt import clean_json
from backtests.scenarios.calibrate import daily_measures
from backtests.scenarios.events import real_events
from backtests.scoring.metrics import max_drawdown, total_return

#: Share of scenarios the worst decile averages.
DECILE = 0.10


def run_metrics(returns: np.ndarray) -> dict[str, np.ndarray]:
    """Per run (column of ``returns``, per-bar simple returns of one scenario episode): ``total_return``
    and ``max_drawdown`` (:mod:`backtests.scoring.metrics`); zeros for an episode without bars.
    The scenario sweep reduces every chunk with it in the worker."""
    k = returns.shape[1] if returns.ndim == 2 else 0
    if not returns.size:
        return {"total_return": np.zeros(k), "max_drawdown": np.zeros(k)}
    return {"total_return": np.asarray(total_return(returns), dtype=float),
            "max_drawdown": np.asarray(max_drawdown(returns), dtype=float)}


def worst_decile(x: np.ndarray) -> float:
    """Mean of the worst ``ceil(10%)`` of ``x`` (at least one value); NaN for an empty array."""
    x = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    if not len(x):
        return float("nan")
    k = max(1, int(np.ceil(DECILE * len(x))))
    return float(x[:k].mean())


def combo_table(runs: pd.DataFrame, loss_threshold: float) -> pd.DataFrame:
    """Per combination: ``mean``, ``median``, ``worst_decile``, ``p10``, ``loss_fraction``,
    ``traded_fraction``, ``n_scenarios``, ``rank_worst_decile``, ``rank_mean`` (module docstring)."""
    g = runs.groupby("combo", sort=True)
    tr = g["total_return"]
    t = pd.DataFrame({
        "mean": tr.mean(), "median": tr.median(), "worst_decile": tr.agg(worst_decile),
        "p10": tr.quantile(DECILE), "loss_fraction": tr.agg(lambda x: float((x < -loss_threshold).mean())),
        "traded_fraction": g["n_orders"].agg(lambda x: float((x > 0).mean())), "n_scenarios": tr.size()})
    t["rank_worst_decile"] = _rank(t["worst_decile"].to_numpy(), t.index.to_numpy())
    t["rank_mean"] = _rank(t["mean"].to_numpy(), t.index.to_numpy())
    return t


def _rank(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1 = the highest value; ties by the lower id; NaN last."""
    key = np.where(np.isfinite(values), -values, np.inf)
    order = np.lexsort((ids, key))
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(1, len(values) + 1)
    return rank


def surface(runs: pd.DataFrame, scenarios: pd.DataFrame, combo: int, axes: tuple[str, str]) -> dict[str, Any]:
    """Mean total return of ``combo`` on the grid of ``axes`` (``z[i][j]``: y value i, x value j)."""
    x, y = axes
    r = runs[runs["combo"] == combo].merge(scenarios[["scenario", x, y]], on="scenario")
    piv = r.pivot_table(index=y, columns=x, values="total_return", aggfunc="mean").sort_index().sort_index(axis=1)
    count = r.pivot_table(index=y, columns=x, values="total_return", aggfunc="size").reindex_like(piv)
    return {"x": x, "y": y, "x_values": piv.columns.tolist(), "y_values": piv.index.tolist(),
            "z": piv.to_numpy().tolist(), "n": count.to_numpy().astype(int).tolist()}


def break_even(surf: dict[str, Any]) -> list[list[float]]:
    """Points ``[x, y]`` where the surface changes sign between neighbouring grid points (linear
    interpolation along x in each row, then along y in each column), sorted; cells at exactly zero
    (no trade) are not a crossing."""
    xs, ys = np.asarray(surf["x_values"], float), np.asarray(surf["y_values"], float)
    z = np.asarray(surf["z"], float)
    pts = set()
    for i in range(len(ys)):
        for j in range(len(xs) - 1):
            a, b = z[i, j], z[i, j + 1]
            if np.isfinite(a) and np.isfinite(b) and a * b < 0:
                u = a / (a - b)
                pts.add((round(float(xs[j] + u * (xs[j + 1] - xs[j])), 10), float(ys[i])))
    for j in range(len(xs)):
        for i in range(len(ys) - 1):
            a, b = z[i, j], z[i + 1, j]
            if np.isfinite(a) and np.isfinite(b) and a * b < 0:
                u = a / (a - b)
                pts.add((float(xs[j]), round(float(ys[i] + u * (ys[i + 1] - ys[i])), 10)))
    return [list(p) for p in sorted(pts)]


def real_event_points(events_dir: Path | None, data: Any, windows: list, axes: tuple[str, str]) -> dict[str, Any]:
    """The real shocks in the surface's space.

    With ``events_dir`` (``../shared/data``): :func:`backtests.scenarios.events.real_events` (every
    KOSPI shock day and KOSDAQ level-1 halt, measured from daily OHLC). Without: the study's own
    KRX windows, measured from its ``^KS11`` daily bars on the t = 0 session. ``depth``, ``rebound``
    and ``open_gap`` are the generator's units; ``shock_time`` is placed at the recorded halt time
    (minutes after local midnight: when the fall reached the level-1 decline, after it started).
    """
    if events_dir is not None:
        ev = real_events(events_dir)
        ev = ev[np.isfinite(ev["depth"].to_numpy(dtype=float))]
        rows = [{"date": d.date().isoformat(), "source": "events_dir", "depth": r.depth, "rebound": r.rebound,
                 "open_gap": r.open_gap, "close_return": r.close_return,
                 "shock_time": (r.halt_minutes + 540.0) if np.isfinite(r.halt_minutes) else np.nan}
                for d, r in zip(ev["date"], ev.itertuples())]
        origin = f"measured from {events_dir} (backtests.scenarios.events.real_events)"
    else:
        rows, origin = _study_events(data, windows), "measured from the study's ^KS11 daily bars on its KRX windows"
    pts = []
    for r in rows:
        x, y = r.get(axes[0], np.nan), r.get(axes[1], np.nan)
        pts.append({**r, "x": x, "y": y, "placed": bool(np.isfinite(x) and np.isfinite(y))})
    return {"origin": origin, "synthetic_data": bool(getattr(data, "synthetic", False)) if events_dir is None else False,
            "points": clean_json(pts)}


def _study_events(data: Any, windows: list) -> list[dict[str, Any]]:
    if data is None or "^KS11" not in getattr(data, "bars", {}):
        return []
    b = data.bars["^KS11"]
    if not {"open", "high", "low", "close"} <= set(b.columns):
        return []
    days = b.assign(prev=b["close"].shift(1))
    out, seen = [], set()
    for w in windows:
        if w.market != "XKRX" or w.id in seen:
            continue
        seen.add(w.id)
        at = days.index[days.index <= w.closes[w.pre]]
        if not len(at):
            continue
        row = days.loc[[at[-1]]]
        if not np.isfinite(row["prev"].iloc[0]):
            continue
        m = daily_measures(row).iloc[0]
        t = w.event.time_utc.tz_convert("Asia/Seoul")
        halt = t.hour * 60 + t.minute + t.second / 60 if w.event.time_local else np.nan
        out.append({"date": w.t0_session.date().isoformat(), "source": w.id, "depth": float(m["depth"]),
                    "rebound": float(m["rebound"]), "open_gap": float(m["open_gap"]),
                    "close_return": float(m["close_return"]), "shock_time": halt})
    return out


def score_scenarios(sweep: Any, data: Any = None, windows: list | None = None) -> dict[str, Any]:
    """The metrics.json ``scenarios`` section (see the module docstring and docs/outputs.md)."""
    sp = sweep.plan
    g = sp.grid
    axes = g.surface
    scen = sweep.scenarios
    events = real_event_points(sp.events_dir, data, windows or [], axes)
    out = []
    for p in sp.strategies:
        runs = sweep.runs[p.label]
        table = combo_table(runs, sp.loss_threshold)
        chosen = int(table.sort_values("rank_worst_decile").index[0])
        surf = surface(runs, scen, chosen, axes)
        mine = runs[runs["combo"] == chosen].merge(scen, on="scenario").sort_values(
            ["total_return", "scenario"], kind="stable").head(sp.worst)
        worst = [{"scenario": int(r.scenario), "total_return": float(r.total_return),
                  "params": {k: float(getattr(r, k)) for k in g.axes},
                  "realized_depth": float(r.realized_depth), "first_halt_utc": _iso(r.first_halt_utc),
                  "max_halt_level": int(r.max_halt_level), "first_fill_utc": _iso(r.first_fill_utc),
                  "first_fill_price": float(r.first_fill_price), "first_fill_kind": str(r.first_fill_kind)}
                 for r in mine.itertuples()]
        combos = [{"combo": int(c), "params": clean_json(p.grid.loc[c].to_dict()),
                   **{k: float(v) if k not in ("n_scenarios", "rank_worst_decile", "rank_mean") else int(v)
                      for k, v in row.items()}} for c, row in table.iterrows()]
        out.append({"strategy": p.label, "name": p.strategy.name, "chosen_combo": chosen,
                    "chosen_params": clean_json(p.grid.loc[chosen].to_dict()), "chosen_by": "worst_decile",
                    "loss_threshold": sp.loss_threshold,
                    "loss_fraction": float(table.loc[chosen, "loss_fraction"]),
                    "surface": clean_json(surf), "break_even": break_even(surf), "worst": clean_json(worst),
                    "combos": sorted(clean_json(combos), key=lambda c: c["rank_worst_decile"])})
    halted = scen["max_halt_level"].to_numpy() > 0
    return clean_json({**g.record(), "synthetic": "scenario", "strategies": out, "real_events": events,
                       "halted_fraction": float(halted.mean()) if len(halted) else 0.0,
                       "notices": [n.record() for n in sweep.notices]})


def _iso(t: Any) -> str | None:
    return None if pd.isna(t) else pd.Timestamp(t).isoformat()


__all__ = ["run_metrics", "score_scenarios", "combo_table", "surface", "break_even", "worst_decile", "real_event_points", "DECILE"]
