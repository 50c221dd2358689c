"""Event sections of a strategy: per-event returns, the fan chart of event-time paths, CAR/CAAR
with the test battery, and shock size against trade result.

The event (one window, one episode) is the unit: numbers come from metrics.json
``strategies[].event_level`` / ``event_study`` when the run has them; older runs fall back to the
per-window ``runs[]`` records, and the page says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backtests.report.charts import _axis, base_layout
from backtests.report.fmt import DASH, LINE_COLORS, OKABE_ITO, esc, is_missing, num
from backtests.report.page import Page, na, table, when_text
from backtests.report.view import StrategyView, StudyView

GREY = "#9a9a9a"
MAX_PATHS = 12  # individual event paths drawn under the fan (beyond that: the fan alone)


def episodes(view: StudyView, sv: StrategyView, combo: int | None) -> tuple[list[dict[str, Any]], str]:
    """(episodes, source) for a combo: metrics.json's event-level episodes, or its runs[] per window."""
    el = sv.event_level(combo)
    if el and el.get("episodes"):  # episodes left out of the statistics (signal missing) are not events
        return [e for e in el["episodes"] if isinstance(e, dict) and not e.get("excluded")], "event_level"
    out = []
    for r in sv.runs.get(combo, []) if combo is not None else []:
        m = r.get("metrics") or {}
        out.append({"window": r.get("window"), "cluster": None, "return": m.get("total_return"),
                    "traded": (m.get("n_trades") or 0) > 0, "entry_utc": None, "exit_utc": None, "shock": None})
    return out, "runs"


def _cluster_colors(eps: list[dict[str, Any]]) -> dict[Any, str]:
    ids = list(dict.fromkeys(e.get("cluster") for e in eps))
    return {c: LINE_COLORS[i % len(LINE_COLORS)] if c is not None else OKABE_ITO["blue"] for i, c in enumerate(ids)}


def per_event_figure(view: StudyView, eps: list[dict[str, Any]], base: list[dict[str, Any]] | None,
                     base_name: str | None, tz: str) -> dict[str, Any]:
    """Horizontal bars, one per event, sorted by return; color = cluster; baseline as a diamond."""
    rows = sorted((e for e in eps if not is_missing(e.get("return"))), key=lambda e: float(e["return"]))
    colors = _cluster_colors(rows)
    names = []
    for e in rows:
        w = view.windows.get(str(e.get("window")), {})
        names.append(esc(f'{w.get("event_date") or ""} {e.get("window")}'.strip()))
    hover = []
    for e in rows:
        w = view.windows.get(str(e.get("window")), {})
        fills = ""
        if e.get("entry_utc"):
            fills = f"<br>entry {when_text(e['entry_utc'], tz)}<br>exit {when_text(e.get('exit_utc'), tz) or 'open'}"
        hover.append(esc(str(w.get("label") or e.get("window"))) + (f"<br>cluster {esc(e['cluster'])}" if e.get("cluster") else "")
                     + ("" if e.get("traded", True) else "<br>no trade") + fills)
    data: list[dict[str, Any]] = [{
        "type": "bar", "orientation": "h", "name": "strategy", "y": names, "x": [float(e["return"]) for e in rows],
        "marker": {"color": [colors[e.get("cluster")] if e.get("traded", True) else "#cccccc" for e in rows],
                   "line": {"color": "#333", "width": 0.5}},
        "customdata": hover, "hovertemplate": "%{x:.2%}<br>%{customdata}<extra></extra>", "showlegend": False}]
    if base:
        bmap = {str(b.get("window")): b.get("return") for b in base}
        data.append({"type": "scatter", "mode": "markers", "name": esc(base_name or "baseline"),
                     "y": names, "x": [bmap.get(str(e.get("window"))) for e in rows],
                     "marker": {"symbol": "diamond", "size": 8, "color": "#fff", "line": {"color": "#000", "width": 1.5}},
                     "hovertemplate": "baseline %{x:.2%}<extra></extra>"})
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0, "y1": 1,
               "line": {"color": "#666", "width": 1}}]
    mean = float(np.mean([float(e["return"]) for e in rows])) if rows else 0.0
    shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": mean, "x1": mean, "y0": 0, "y1": 1,
                   "line": {"color": OKABE_ITO["black"], "width": 1.5, "dash": "dash"}})
    height = max(250, min(900, 100 + 15 * len(rows)))
    layout = base_layout(height, hovermode="closest", shapes=shapes, bargap=0.25,
                         xaxis=_axis(tickformat=".1%", title={"text": "return per event (dashed: mean)"}),
                         yaxis=_axis(type="category", automargin=True, tickfont={"size": 10 if len(rows) > 20 else 11},
                                     showticklabels=len(rows) <= 40),
                         margin={"l": 8, "r": 16, "t": 28, "b": 44})
    return {"data": data, "layout": layout}


def fan_figure(lines: dict[str, list[tuple[int, float]]], eps: list[dict[str, Any]],
               windows: dict[str, dict[str, Any]], interval: tuple[list[int], list[float], list[float], str] | None,
               ) -> dict[str, Any]:
    """Median and quantile bands of event-time cumulative returns, the mean with its interval (as
    scoring wrote it: ``event_time[combo].mean_low/mean_high``, ``interval`` the legend text), the
    entries and exits of ``eps`` marked (the trades, each once in the window it is counted in; or the
    episodes' first and last fills); the events themselves as thin lines when there are few."""
    by_t: dict[int, list[float]] = {}
    for pts in lines.values():
        for t, v in pts:
            if not is_missing(v):
                by_t.setdefault(t, []).append(float(v))
    ts = sorted(by_t)
    q = {p: [float(np.quantile(by_t[t], p)) for t in ts] for p in (0.1, 0.25, 0.5, 0.75, 0.9)}
    mean = [float(np.mean(by_t[t])) for t in ts]
    data: list[dict[str, Any]] = []
    few = len(lines) <= MAX_PATHS
    if few:
        for wid, pts in sorted(lines.items()):
            data.append({"type": "scatter", "mode": "lines", "x": [t for t, _ in pts], "y": [v for _, v in pts],
                         "line": {"color": "#c8c8c8", "width": 1}, "showlegend": False, "name": esc(wid),
                         "hovertemplate": f"{esc(wid)}<br>t=%{{x}}: %{{y:.2%}}<extra></extra>"})
    band = [(0.1, 0.9, "rgba(0,114,178,0.12)", "10–90% of events"), (0.25, 0.75, "rgba(0,114,178,0.25)", "25–75%")]
    for lo, hi, color, name in band:
        data.append({"type": "scatter", "mode": "lines", "x": ts, "y": q[lo], "line": {"width": 0}, "showlegend": False,
                     "hoverinfo": "skip", "legendgroup": name})
        data.append({"type": "scatter", "mode": "lines", "x": ts, "y": q[hi], "fill": "tonexty", "fillcolor": color,
                     "line": {"width": 0}, "name": name, "legendgroup": name, "hoverinfo": "skip"})
    data.append({"type": "scatter", "mode": "lines", "x": ts, "y": q[0.5], "name": "median",
                 "line": {"color": OKABE_ITO["blue"], "width": 2.5},
                 "hovertemplate": "median t=%{x}: %{y:.2%}<extra></extra>"})
    if interval is not None:
        its, lo_, hi_, name = interval
        data.append({"type": "scatter", "mode": "lines", "x": its, "y": lo_, "line": {"width": 0}, "showlegend": False,
                     "hoverinfo": "skip"})
        data.append({"type": "scatter", "mode": "lines", "x": its, "y": hi_, "fill": "tonexty",
                     "fillcolor": "rgba(0,0,0,0.10)", "line": {"width": 0}, "name": esc(name),
                     "hoverinfo": "skip"})
    data.append({"type": "scatter", "mode": "lines", "x": ts, "y": mean, "name": f"mean of {len(lines)}",
                 "line": {"color": OKABE_ITO["black"], "width": 2, "dash": "dash"},
                 "hovertemplate": "mean t=%{x}: %{y:.2%}<extra></extra>"})
    ent = _event_times(eps, windows, "entry_utc")
    ext = _event_times(eps, windows, "exit_utc")
    ymin = min(q[0.1]) if ts else 0.0
    for pts, name, sym, color in ((ent, "entries", "triangle-up", OKABE_ITO["green"]),
                                  (ext, "exits", "triangle-down", OKABE_ITO["vermillion"])):
        if pts:
            xs = sorted(pts)
            data.append({"type": "scatter", "mode": "markers", "name": f"{name} (count)", "x": xs,
                         "y": [ymin] * len(xs), "text": [f"{pts[x]} {name}" for x in xs],
                         "marker": {"symbol": sym, "size": [min(18, 7 + 2 * pts[x]) for x in xs], "color": color,
                                    "line": {"color": "#000", "width": 0.5}},
                         "hovertemplate": "t=%{x}: %{text}<extra></extra>"})
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0, "y1": 1,
               "line": {"color": OKABE_ITO["vermillion"], "width": 1, "dash": "dot"}},
              {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
               "line": {"color": "#999", "width": 1}}]
    layout = base_layout(330, shapes=shapes, hovermode="closest",
                         xaxis=_axis(title={"text": "sessions from the event (t = 0: event session)"},
                                     dtick=1 if len(ts) <= 30 else None),
                         yaxis=_axis(tickformat=".1%", title={"text": "cumulative return"}))
    return {"data": data, "layout": layout}


def _event_times(eps: list[dict[str, Any]], windows: dict[str, dict[str, Any]], key: str) -> dict[int, int]:
    """{event time t: how many episodes filled then} from the episodes' fill instants."""

    out: dict[int, int] = {}
    for e in eps:
        ts, w = e.get(key), windows.get(str(e.get("window")), {})
        closes = w.get("closes_utc") or []
        if not ts or not closes:
            continue
        c = pd.DatetimeIndex(pd.to_datetime(closes, utc=True))
        i = int(c.searchsorted(pd.Timestamp(ts).tz_convert("UTC") if pd.Timestamp(ts).tzinfo else pd.Timestamp(ts, tz="UTC")))
        t = min(i, len(c) - 1) - int(w.get("pre", 0) or 0)
        out[t] = out.get(t, 0) + 1
    return out


# ---------------------------------------------------------------------- event study
#: The event-study tests, each with the question its p-value answers (the verdict's p-value answers
#: another: "is the mean return per event 0?"). CAR: cumulative abnormal return over the event window,
#: the asset's against its market model, the strategy's against its benchmark.
TESTS = [("t", "t (clusters)", "mean CAR = 0? clusters independent, t with clusters − 1 df"),
         ("bmp", "BMP", "mean standardized CAR = 0? events independent"),
         ("kolari_pynnonen", "Kolari–Pynnönen", "mean standardized CAR = 0, allowing for correlated events?"),
         ("grank", "GRANK", "does the event window rank unusually against the estimation window?"),
         ("generalized_sign", "generalized sign", "more positive CARs than the estimation window's share of gains?"),
         ("calendar_time", "calendar-time", "alpha = 0? intercept of the calendar-time portfolio on the benchmark")]


def car_figure(asset: dict[str, Any] | None, strat: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    data = []
    for rec, label_, color in ((asset, f"asset {asset.get('symbol', '') if asset else ''} (market model)", GREY),
                               (strat, f"{name} minus benchmark", OKABE_ITO["blue"])):
        if not rec or not rec.get("caar_path"):
            continue
        pre = int(rec.get("pre", 0) or 0)
        path = rec["caar_path"]
        data.append({"type": "scatter", "mode": "lines+markers", "name": esc(f"CAAR {label_}".strip()),
                     "x": list(range(-pre, len(path) - pre)), "y": path, "marker": {"size": 5},
                     "line": {"color": color, "width": 2.5 if color != GREY else 2},
                     "hovertemplate": "t=%{x}: %{y:.2%}<extra></extra>"})
    if not data:
        return None
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0, "y1": 1,
               "line": {"color": OKABE_ITO["vermillion"], "width": 1, "dash": "dot"}},
              {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
               "line": {"color": "#999", "width": 1}}]
    layout = base_layout(270, shapes=shapes, hovermode="x unified",
                         xaxis=_axis(title={"text": "sessions from the event"}, dtick=1),
                         yaxis=_axis(tickformat=".1%", title={"text": "cumulative abnormal return"}))
    return {"data": data, "layout": layout}


def _test_cell(rec: dict[str, Any] | None, key: str) -> tuple[str, str]:
    if not rec:
        return f'<span class="na">{DASH}</span>', f'<span class="na">{DASH}</span>'
    tests = rec.get("tests")
    if isinstance(tests, dict) and isinstance(tests.get(key), dict):
        t = tests[key]
        why = t.get("nan_reason")
        return num(t.get("stat"), why), num(t.get("p_value"), why, digits=3)
    if key == "t":  # 0.1 runs: the cross-sectional t only
        return num(rec.get("t_stat")), num(rec.get("p_value"), digits=3)
    return (f'<span class="na" title="not in this run">{DASH}</span>',) * 2  # type: ignore[return-value]


def tests_table(asset: dict[str, Any] | None, strat: dict[str, Any] | None) -> str:
    rows = []
    for key, name, question in TESTS:
        a, b = _test_cell(asset, key), _test_cell(strat, key)
        rows.append([f"{esc(name)}<br><span class=\"note\">{esc(question)}</span>", *a, *b])
    n_a = asset.get("n_events") if asset else None
    n_s = strat.get("n_events") if strat else None
    head = ["Test: the question its p answers", f"asset stat (n={n_a if n_a is not None else DASH})", "p",
            f"strategy − benchmark stat (n={n_s if n_s is not None else DASH})", "p"]
    missing = not any(isinstance((r or {}).get("tests"), dict) for r in (asset, strat))
    note = ('<p class="note">Only the cross-sectional t test is in this run\'s metrics.json; the other tests are '
            'not available in this run.</p>') if missing else ""
    return table(head, rows, num_from=1) + note


def shock_figure(eps: list[dict[str, Any]], fit: dict[str, Any] | None,
                 pointer: str = "") -> tuple[dict[str, Any] | None, str]:
    """Scatter of each episode's shock (the defining asset's t0 move) against its return, with the
    line scoring fitted (``event_level[combo].shock_slope``: OLS, CR1 cluster-robust, Student t with
    G - 1 df) and its slope's interval. Returns (figure or None, the note under it as HTML: every
    number in it carries the JSON pointer of its key under ``pointer``)."""
    pts = [(float(e["shock"]), float(e["return"]), e.get("cluster"), str(e.get("window"))) for e in eps
           if not is_missing(e.get("shock")) and not is_missing(e.get("return"))]
    if not isinstance(fit, dict):
        return None, "not in this run's metrics.json (no <code>shock_slope</code>)."
    if is_missing(fit.get("slope")):
        return None, esc(f"No fit: {fit.get('nan_reason') or 'no slope in metrics.json'}.")
    slope, icpt = float(fit["slope"]), float(fit.get("intercept") or 0.0)
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    groups = [p[2] or p[3] for p in pts]
    colors = _cluster_colors([{"cluster": g} for g in groups])
    xs = np.linspace(x.min(), x.max(), 20) if len(x) else np.zeros(0)
    lo, hi = fit.get("ci_low"), fit.get("ci_high")
    conf = f"{float(fit.get('confidence') or 0.95) * 100:g}%"
    name = (f"fit: slope {slope:.2f} [{float(lo):.2f}, {float(hi):.2f}]" if not is_missing(lo) and not is_missing(hi)
            else f"fit: slope {slope:.2f}")
    data = [{"type": "scatter", "mode": "markers", "name": "episodes", "x": x, "y": y,
             "text": [esc(p[3]) for p in pts], "marker": {"size": 9, "color": [colors[g] for g in groups],
                                                          "line": {"color": "#000", "width": 0.5}},
             "hovertemplate": "%{text}<br>shock %{x:.2%} → %{y:.2%}<extra></extra>", "showlegend": False},
            {"type": "scatter", "mode": "lines", "name": esc(name),
             "x": xs, "y": icpt + slope * xs, "line": {"color": "#000", "width": 1.5}, "hoverinfo": "skip"}]
    layout = base_layout(270, hovermode="closest",
                         xaxis=_axis(tickformat=".1%", title={"text": "shock: the defining asset's t0 move"}),
                         yaxis=_axis(tickformat=".1%", title={"text": "episode return"}))

    def v(key: str, digits: int = 2) -> str:
        val = fit.get(key)
        if is_missing(val):
            return f'<span class="na">{DASH}</span>'
        text = f"{float(val):.3f}" if key == "p_value" else f"{float(val):.{digits}f}"
        return f'<span class="v" data-key="{esc(pointer + "/" + key)}">{text}</span>'

    n_cl = fit.get("n_clusters")
    if is_missing(lo):
        note = (f"Slope {v('slope')}: return per unit of shock; no interval "
                f"({esc(fit.get('nan_reason') or 'undefined')}).")
    else:
        note = (f"Slope {v('slope')} ({conf} interval {v('ci_low')} to {v('ci_high')}; "
                f"p = {v('p_value')} for <i>slope = 0</i>): return per unit of shock. {esc(fit.get('method') or '')}, "
                f"{v('df', 0)} df over {esc(n_cl)} clusters.")
    return {"data": data, "layout": layout}, note


def fan_interval(sv: StrategyView, combo: int | None) -> tuple[tuple[list[int], list[float], list[float], str] | None, str]:
    """The interval of the mean event-time path as scoring wrote it (``event_time[combo]``:
    ``mean_t``, ``mean_low``, ``mean_high``, ``interval``), or None and why not."""
    rec = ((sv.summary.get("event_time") or {}).get(str(combo)) or {}) if combo is not None else {}
    ts, lo, hi = rec.get("mean_t"), rec.get("mean_low"), rec.get("mean_high")
    how = rec.get("interval") if isinstance(rec.get("interval"), dict) else {}
    if not (isinstance(ts, list) and isinstance(lo, list) and isinstance(hi, list)) or len({len(ts), len(lo), len(hi)}) != 1:
        return None, "not in this run's metrics.json"
    keep = [k for k in range(len(ts)) if not is_missing(lo[k]) and not is_missing(hi[k])]
    if not keep:
        return None, str(how.get("reason") or "undefined at every event time")
    conf = f"{float(how.get('confidence') or 0.95) * 100:g}%"
    df = how.get("df")
    name = (f"{conf} interval of the mean (t, {df} df)" if df is not None else f"{conf} interval of the mean "
            f"(cluster bootstrap)")
    return ([int(ts[k]) for k in keep], [float(lo[k]) for k in keep], [float(hi[k]) for k in keep], name), ""


def event_block(page: Page, view: StudyView, sv: StrategyView, combo: int | None, trades: Any = None) -> str:
    """The event part of a strategy section (charts in a grid). ``trades``: the set's trades as
    scoring wrote them (each once, in the window it is counted in); the fan marks their fills."""
    from backtests.report.page import fold, grid

    eps, source = episodes(view, sv, combo)
    symbol = next(iter(sorted((sv.summary.get("roles") or {}).values())), None)
    tz = view.symbol_tz(str(symbol)) if symbol else "UTC"
    # diamonds: the matched baseline (same vehicles, same spans) when the run has one, else the contract's
    matched = ((sv.summary.get("matched_baseline") or {}).get(str(combo)) if combo is not None else None)
    base_block = matched if isinstance(matched, dict) else (
        sv.summary.get("baseline") if isinstance(sv.summary.get("baseline"), dict) else None)
    base_eps = ((base_block or {}).get("event_level") or {}).get("episodes") if base_block else None
    base_name = (f"matched baseline: {base_block.get('label')}" if isinstance(matched, dict)
                 else f"baseline {(base_block or {}).get('symbol') or ''}".strip())
    if not base_eps and sv.baselines:  # a configured buy-and-hold over the same windows
        b = sv.baselines[0]
        base_eps, _ = episodes(view, b, b.best if b.best is not None else b.default)
        base_name = f"baseline {b.label}"
    cells = []
    if eps:
        src = ("" if source == "event_level" else
               '<p class="note">Per-window total returns from runs[] (this run has no event-level episodes; '
               'overlapping windows are not merged).</p>')
        cells.append(page.chart(per_event_figure(view, eps, base_eps, base_name, tz), f"{sv.label}-per-event",
                                f"{sv.label}: return per event, sorted") + src)
    else:
        cells.append(na("No episodes for this strategy."))
    lines = view.event_time(sv, combo)
    if lines:
        interval, why = fan_interval(sv, combo)
        note = "" if interval else f'<p class="note">No interval of the mean: {esc(why)}.</p>'
        fills = eps
        if trades is not None and len(trades):
            fills = [{"window": t.window, "entry_utc": t.entry_time.isoformat(),
                      "exit_utc": None if pd.isna(t.exit_time) else t.exit_time.isoformat()}
                     for t in trades.itertuples(index=False)]
        cells.append(page.chart(fan_figure(lines, fills, view.windows, interval), f"{sv.label}-fan",
                                f"{sv.label}: event-time paths ({len(lines)} events)") + note)
    else:
        cells.append(na("No event-time view (no complete windows)."))
    es = sv.summary.get("event_study") or {}
    asset = es.get("asset") if isinstance(es.get("asset"), dict) else None
    strat = (es.get("strategy") or {}).get(str(combo)) if combo is not None else None
    fig = car_figure(asset, strat, sv.label)
    car = (page.chart(fig, f"{sv.label}-car", f"{sv.label}: CAAR, asset and strategy") if fig
           else na("No event study in this run (no benchmark or too few estimation sessions)."))
    cells.append(car)
    el_i = next((i for i, x in enumerate(view.metrics.get("strategies") or []) if x is sv.summary), None)
    pointer = f"/strategies/{el_i}/event_level/{combo}/shock_slope"
    sfig, sexpl = shock_figure(eps, (sv.event_level(combo) or {}).get("shock_slope"), pointer)
    cells.append((page.chart(sfig, f"{sv.label}-shock", f"{sv.label}: shock size vs result")
                  + f'<p class="note">{sexpl}</p>') if sfig else na(
        "Shock size against result: " + (sexpl if source == "event_level" else "not available in this run "
                                         "(no event-level episodes with shock sizes).")))
    return (grid(*cells[:2]) + grid(cells[2], cells[3])
            + fold("Event-study tests, each p-value with the question it answers (the verdict's p answers "
                   "&ldquo;is the mean return per event 0?&rdquo;)", tests_table(asset, strat)))
