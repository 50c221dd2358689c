"""Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``).

Plain dicts keep rendering fast and the output deterministic; the page draws them with the
embedded plotly.js. Text that came from configs or data is HTML-escaped before it goes into a
figure: plotly renders pseudo-HTML in names and hover text and decodes entities, so an escaped
``&lt;script&gt;`` shows as the literal text.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from backtests.scoring import registry
from backtests.report.fmt import DASHES, LINE_COLORS, OKABE_ITO, esc, is_missing, label, metric_text, param_value
from backtests.report.view import Chain, StrategyView

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
GRID = "#e3e3e3"
BENCH_COLOR = "#555555"
MAX_PAIRS = 28  # heat-map parameter pairs offered in the drop-down (8 swept parameters)
MAX_TICKS = 16


def _axis(**extra: Any) -> dict[str, Any]:
    return {"gridcolor": GRID, "zeroline": False, "linecolor": "#999", "ticks": "outside",
            "tickcolor": "#999", "automargin": True, **extra}


def base_layout(height: int, **extra: Any) -> dict[str, Any]:
    return {
        "autosize": True, "height": height, "font": {"family": FONT, "size": 12, "color": "#222"},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "margin": {"l": 64, "r": 24, "t": 28, "b": 48},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "bgcolor": "rgba(255,255,255,0.8)"},
        "hoverlabel": {"font": {"family": FONT}}, "xaxis": _axis(), "yaxis": _axis(), **extra,
    }


def _window_ticks(chain: Chain, windows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    starts = chain.starts
    step = max(1, math.ceil(len(starts) / MAX_TICKS))
    shown = starts[::step]
    return {"tickmode": "array", "tickvals": [p for p, _ in shown],
            "ticktext": [esc(windows.get(w, {}).get("event_date") or w) for _, w in shown]}


def _boundaries(chain: Chain, yref: str = "paper") -> list[dict[str, Any]]:
    return [{"type": "line", "xref": "x", "yref": yref, "x0": p - 0.5, "x1": p - 0.5, "y0": 0, "y1": 1,
             "line": {"color": "#bbbbbb", "width": 1, "dash": "dot"}} for p, _ in chain.starts[1:]]


def _custom(chain: Chain, windows: dict[str, dict[str, Any]]) -> list[list[str]]:
    times = chain.times.strftime("%Y-%m-%d %H:%M UTC")
    return [[t, esc(w)] for t, w in zip(times, chain.windows)]


def equity_figure(chains: list[tuple[str, Chain, str]], bench_name: str | None,
                  windows: dict[str, dict[str, Any]], x_title: str = "periods") -> dict[str, Any]:
    """Cumulative return (top) and drawdown (bottom) of pooled series, as scoring wrote them.

    ``chains``: (name, chain, color) per line; the first chain's benchmark is drawn too.
    """
    first = chains[0][1]
    x = list(range(len(first.returns)))
    custom = _custom(first, windows)
    data: list[dict[str, Any]] = []
    for name, ch, color in chains:
        eq = ch.wealth
        data.append({"type": "scatter", "mode": "lines", "name": esc(name), "x": x[:len(eq)], "y": eq - 1.0,
                     "line": {"color": color, "width": 2}, "customdata": custom[:len(eq)], "legendgroup": esc(name),
                     "hovertemplate": f"{esc(name)}: %{{y:.2%}}<br>%{{customdata[0]}} · %{{customdata[1]}}<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "name": esc(name) + " drawdown", "x": x[:len(eq)],
                     "y": ch.drawdown, "xaxis": "x2", "yaxis": "y2", "showlegend": False,
                     "legendgroup": esc(name), "line": {"color": color, "width": 1.5},
                     "fill": "tozeroy" if color == chains[0][2] else None,
                     "fillcolor": "rgba(0,114,178,0.15)", "customdata": custom[:len(eq)],
                     "hovertemplate": f"{esc(name)} drawdown: %{{y:.2%}}<br>%{{customdata[0]}}<extra></extra>"})
    if first.bench_wealth is not None and first.bench_drawdown is not None and bench_name:
        beq = first.bench_wealth
        bn = f"benchmark {bench_name}"
        data.append({"type": "scatter", "mode": "lines", "name": esc(bn), "x": x, "y": beq - 1.0,
                     "line": {"color": BENCH_COLOR, "width": 1.5, "dash": "dash"}, "customdata": custom,
                     "legendgroup": "bench",
                     "hovertemplate": f"{esc(bn)}: %{{y:.2%}}<br>%{{customdata[0]}}<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "name": esc(bn) + " drawdown", "x": x, "y": first.bench_drawdown,
                     "xaxis": "x2", "yaxis": "y2", "showlegend": False, "legendgroup": "bench",
                     "line": {"color": BENCH_COLOR, "width": 1, "dash": "dash"}, "customdata": custom,
                     "hovertemplate": f"{esc(bn)} drawdown: %{{y:.2%}}<br>%{{customdata[0]}}<extra></extra>"})
    ticks = _window_ticks(first, windows)
    shapes = _boundaries(first)
    layout = base_layout(
        370, hovermode="x unified", shapes=shapes,
        xaxis=_axis(domain=[0, 1], anchor="y", showticklabels=False, showgrid=False, **{k: v for k, v in ticks.items()}),
        yaxis=_axis(domain=[0.36, 1], tickformat=".1%", title={"text": "cumulative return"}),
        xaxis2=_axis(domain=[0, 1], anchor="y2", matches="x", showgrid=False, title={"text": x_title, "font": {"size": 11}}, **ticks),
        yaxis2=_axis(domain=[0, 0.28], tickformat=".1%", title={"text": "drawdown"}, rangemode="tozero"),
    )
    return {"data": data, "layout": layout}


def _sort_values(values: list[Any]) -> list[Any]:
    def key(v: Any) -> tuple[int, Any]:
        if isinstance(v, bool):
            return (1, int(v))
        if isinstance(v, (int, float)):
            return (0, float(v))
        return (2, str(v))
    return sorted(values, key=key)


def _metric_of(rec: dict[str, Any], key: str, ppy: float | None = None, scale: str | None = None) -> float | None:
    """A set's ranking metric as the map shows it: by the annualization rule (per period on a series
    under a year, :func:`backtests.scoring.registry.shown_value`), at the map's one ``scale``."""
    m = rec.get("metrics") or {}
    v = m.get(key)
    if v is None:
        v = (rec.get("trust") or {}).get(key)
    if is_missing(v):
        return None
    if scale == registry.PER_PERIOD:
        return registry.per_period_value(key, float(v), ppy)
    if scale == registry.NOT_SHOWN:
        return None
    return float(v)


def map_scale(recs: list[dict[str, Any]], key: str, ppy: float | None) -> str:
    """One scale for the whole map: annualized only when every set's series is a year or longer."""
    scales = {registry.shown_value(key, 1.0, (r.get("metrics") or {}).get("n_periods"), ppy)[1] for r in recs}
    for s in (registry.NOT_SHOWN, registry.PER_PERIOD):
        if s in scales:
            return s
    return scales.pop() if scales else registry.AS_IS


def sweep_figure(sv: StrategyView, swept: list[str], ppy: float | None = None) -> tuple[dict[str, Any] | None, str]:
    """Heat map of the ranking metric over two swept parameters (the others at the best's values),
    with a drop-down for the other pairs; a line over the one parameter when only one is swept.
    The metric follows the annualization rule: a Sharpe ratio of series shorter than a year is
    mapped per period (its label says so); a figure with no per-period counterpart is not mapped.

    Returns (figure or None, explanation).
    """
    key = sv.rank_by
    best = sv.params(sv.best) or sv.params(sv.default)
    if not swept or not best:
        return None, "no parameter was swept: nothing to map."
    recs = list(sv.pooled.values())
    scale = map_scale(recs, key, ppy)
    if scale == registry.NOT_SHOWN:
        why = ("this run's metrics.json has no periods per year to apply the annualization rule with" if ppy is None
               else "the sets' series are shorter than a year and it has no per-period counterpart")
        return None, f"{esc(label(key))} is annualized and {why} (docs/tearsheet.md): not mapped."
    shown = registry.shown_label(key, scale)
    if len(swept) == 1:
        p = swept[0]
        pts = [(rec["params"].get(p), _metric_of(rec, key, ppy, scale)) for rec in recs if p in (rec.get("params") or {})]
        xs = _sort_values(list({repr(v): v for v, _ in pts}.values()))
        val = {repr(v): m for v, m in pts}
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
        xv = xs if numeric else [esc(param_value(v)) for v in xs]
        ys = [val[repr(v)] for v in xs]
        data = [{"type": "scatter", "mode": "lines+markers" if len(xs) <= 200 else "lines", "name": esc(shown),
                 "x": xv, "y": ys, "line": {"color": OKABE_ITO["blue"], "width": 2}, "marker": {"size": 5},
                 "hovertemplate": f"{esc(p)}=%{{x}}<br>{esc(shown)}: %{{y:.2f}}<extra></extra>"}]
        for combo, name, sym, color in ((sv.best, "best", "star", OKABE_ITO["vermillion"]),
                                        (sv.default, "default", "diamond", OKABE_ITO["orange"])):
            rec = sv.pooled.get(combo) if combo is not None else None
            if rec and p in rec.get("params", {}):
                v = rec["params"][p]
                data.append({"type": "scatter", "mode": "markers", "name": name,
                             "x": [v if numeric else esc(param_value(v))], "y": [_metric_of(rec, key, ppy, scale)],
                             "marker": {"symbol": sym, "size": 14, "color": color, "line": {"color": "#000", "width": 1}},
                             "hovertemplate": f"{name}: {esc(p)}=%{{x}}<br>%{{y:.2f}}<extra></extra>"})
        layout = base_layout(340, hovermode="closest", xaxis=_axis(title={"text": esc(p)}),
                             yaxis=_axis(title={"text": esc(shown) + " (pooled)"}))
        return {"data": data, "layout": layout}, (
            f"Pooled {esc(shown)} over the one swept parameter, {esc(p)} ({len(xs):,d} values).")

    def grid_for(a: str, b: str) -> tuple[list[str], list[str], list[list[float | None]], list[list[str]]]:
        others = [k for k in swept if k not in (a, b)]
        cells: dict[tuple[str, str], float | None] = {}
        av: dict[str, Any] = {}
        bv: dict[str, Any] = {}
        for rec in recs:
            prm = rec.get("params") or {}
            if any(repr(prm.get(k)) != repr(best.get(k)) for k in others):
                continue
            ka, kb = repr(prm.get(a)), repr(prm.get(b))
            av[ka], bv[kb] = prm.get(a), prm.get(b)
            cells[(ka, kb)] = _metric_of(rec, key, ppy, scale)
        xs = _sort_values(list(av.values()))
        ys = _sort_values(list(bv.values()))
        z = [[cells.get((repr(x), repr(y))) for x in xs] for y in ys]
        text = [[metric_text(key, v) if scale != registry.PER_PERIOD or v is None else f"{v:.3f}" for v in row]
                for row in z]
        return [esc(param_value(v)) for v in xs], [esc(param_value(v)) for v in ys], z, text

    size = {k: len({repr((r.get("params") or {}).get(k)) for r in recs}) for k in swept}
    pairs = list(itertools.combinations(swept, 2))
    pairs.sort(key=lambda ab: -(size[ab[0]] * size[ab[1]]))  # stable: name order among equals
    pairs = pairs[:MAX_PAIRS]
    grids = [grid_for(a, b) for a, b in pairs]
    allz = [v for g in grids for row in g[2] for v in row if v is not None]
    zmin, zmax = (min(allz), max(allz)) if allz else (0.0, 1.0)
    (a0, b0), (x0, y0, z0, t0) = pairs[0], grids[0]
    fixed = ", ".join(f"{k}={param_value(best.get(k))}" for k in swept if k not in (a0, b0))
    def hover(a: str, b: str) -> str:
        return f"{esc(a)}=%{{x}}<br>{esc(b)}=%{{y}}<br>{esc(shown)}: %{{text}}<extra></extra>"

    heat = {"type": "heatmap", "x": x0, "y": y0, "z": z0, "text": t0, "texttemplate": "%{text}" if len(x0) * len(y0) <= 144 else None,
            "colorscale": "Cividis", "zmin": zmin, "zmax": zmax, "hoverongaps": False, "xgap": 1, "ygap": 1,
            "colorbar": {"title": {"text": esc(shown)}, "thickness": 14},
            "hovertemplate": hover(a0, b0)}
    buttons = []
    for (a, b), (x, y, z, t) in zip(pairs, grids):
        fx = ", ".join(f"{k}={param_value(best.get(k))}" for k in swept if k not in (a, b))
        buttons.append({"label": esc(f"{b} × {a}"), "method": "update",
                        "args": [{"x": [x], "y": [y], "z": [z], "text": [t], "hovertemplate": [hover(a, b)],
                                  "texttemplate": ["%{text}" if len(x) * len(y) <= 144 else None]},
                                 {"xaxis.title.text": esc(a), "yaxis.title.text": esc(b),
                                  "annotations[0].text": esc(f"others fixed at best: {fx}" if fx else "")}]})
    layout = base_layout(
        420, hovermode="closest", xaxis=_axis(title={"text": esc(a0)}, type="category", showgrid=False),
        yaxis=_axis(title={"text": esc(b0)}, type="category", showgrid=False),
        margin={"l": 80, "r": 24, "t": 48, "b": 56},
        annotations=[{"text": esc(f"others fixed at best: {fixed}" if fixed else ""), "xref": "paper", "yref": "paper",
                      "x": 1, "y": 1.02, "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                      "font": {"size": 11, "color": "#555"}}],
    )
    if len(buttons) > 1:
        layout["updatemenus"] = [{"buttons": buttons, "direction": "down", "x": 0, "y": 1.02, "xanchor": "left",
                                  "yanchor": "bottom", "showactive": True, "bgcolor": "#f4f4f4", "font": {"size": 11}}]
    expl = (f"Pooled {esc(shown)} over two swept parameters with the other swept parameters fixed at the best "
            f"combination's values; {len(pairs)} pair{'s' if len(pairs) > 1 else ''}"
            f"{' (choose in the menu)' if len(pairs) > 1 else ''}.")
    return {"data": [heat], "layout": layout}, expl


def add_fills(fig: dict[str, Any], chain: Chain, trades: pd.DataFrame, view: Any) -> None:
    """Mark the trades' entry and exit fills on an equity figure's top panel, at the period whose
    end is the first at or after the fill; the hover gives the fill instant (UTC and market time)
    and the kind of fill."""
    if trades is None or trades.empty or not len(chain.times):
        return
    from backtests.report.page import when_text

    eq = chain.wealth - 1.0
    for col, kind_col, name, sym, color in (("entry_time", "entry_kind", "entry fills", "triangle-up", OKABE_ITO["green"]),
                                            ("exit_time", "exit_kind", "exit fills", "triangle-down", OKABE_ITO["vermillion"])):
        t = pd.to_datetime(trades[col], utc=True)
        ok = t.notna().to_numpy()
        if not ok.any():
            continue
        pos = np.minimum(chain.times.searchsorted(pd.DatetimeIndex(t[ok])), len(chain.times) - 1)
        sub = trades[ok]
        text = [esc(f"{r.side} {r.symbol}: {when_text(getattr(r, col), view.symbol_tz(str(r.symbol)))}, "
                    f"{getattr(r, kind_col) or 'fill'}") for r in sub.itertuples(index=False)]
        fig["data"].append({"type": "scatter", "mode": "markers", "name": name, "x": pos.tolist(), "y": eq[pos],
                            "text": text, "marker": {"symbol": sym, "size": 8, "color": color,
                                                     "line": {"color": "#000", "width": 0.5}},
                            "hovertemplate": "%{text}<extra></extra>"})
