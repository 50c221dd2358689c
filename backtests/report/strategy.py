"""One strategy's section: its facts, the event sections, equity against its baselines, the
metrics and risk panels, the sweep (heat map, trial Sharpes, top sets with identical rows
collapsed), per-window results and trades. Secondary tables are folded (``<details>``) so the
page stays short."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from backtests.report import charts, events, exposure, stats
from backtests.report.charts import _axis, base_layout
from backtests.report.fmt import DASH, OKABE_ITO, count, esc, is_missing, label, metric, num, params_text, pct
from backtests.report.page import Page, fold, grid, guarded, na, section, table, when
from backtests.report.verdict import warnings_table
from backtests.scoring import registry
from backtests.report.view import Chain, StrategyView, StudyView

MAX_TRADES = 200
MAX_WINDOW_ROWS = 200
TOP_N = 10
GROUP_SCAN = 5000  # ranked sets scanned when collapsing identical rows


def _reason(rec: dict[str, Any], key: str) -> str | None:
    return (rec.get("nan_reasons") or {}).get(key)


def _best_of(sv: StrategyView) -> int | None:
    return sv.best if sv.best is not None else sv.default


# ---------------------------------------------------------------------- sweep
def identical_groups(sv: StrategyView, limit: int = TOP_N) -> list[list[dict[str, Any]]]:
    """The ranked sets, those with the same pooled metrics merged (in rank order): a stop that never
    fires gives the same series as no stop. ``n_identical`` from metrics.json, when saved, is
    shown beside the group's size."""
    ranked = sorted((rec for rec in sv.pooled.values() if not is_missing((rec.get("trust") or {}).get("rank"))),
                    key=lambda rec: float(rec["trust"]["rank"]))[:GROUP_SCAN]
    groups: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []
    last_metric: Any = None
    for rec in ranked:
        key = json.dumps(rec.get("metrics") or {}, sort_keys=True, default=str)
        value = (rec.get("metrics") or {}).get(sv.rank_by)
        if key not in groups:
            if len(order) >= limit:
                if value != last_metric:
                    break  # identical sets share the ranking metric: no later set can join a group
                continue
            last_metric = value
            groups[key] = []
            order.append(key)
        groups[key].append(rec)
    return [groups[k] for k in order]


def _params_of_group(group: list[dict[str, Any]], swept: list[str]) -> str:
    if len(group) == 1:
        return esc(params_text(group[0].get("params"), swept or None))
    first = group[0].get("params") or {}
    same = [k for k in swept if all(repr((g.get("params") or {}).get(k)) == repr(first.get(k)) for g in group)]
    varying = [k for k in swept if k not in same]
    from backtests.report.fmt import param_value

    parts = [f"{k}={param_value(first.get(k))}" for k in same]
    for k in varying:
        vals = sorted({param_value((g.get("params") or {}).get(k)) for g in group})
        parts.append(f"{k} ∈ {{{', '.join(vals[:6])}{', …' if len(vals) > 6 else ''}}}")
    return esc(", ".join(parts))


def ranking_table(sv: StrategyView, swept: list[str], ppy: float | None = None) -> str:
    """The top distinct sets; every figure by the annualization rule (:func:`stats.metric_cell`)."""
    groups = identical_groups(sv)
    if not groups:
        return na("No ranked parameter sets (the ranking metric is undefined for all).")
    key = sv.rank_by
    show = list(dict.fromkeys([key, "total_return", "max_drawdown", "window_positive_fraction"]))
    rows = []
    for g in groups:
        rec = g[0]
        m, t = rec.get("metrics") or {}, rec.get("trust") or {}
        tag = " (default)" if any(r.get("is_default") for r in g) else ""
        n_id = rec.get("n_identical")
        size = f"×{len(g):,d}" + (f' <span class="note" title="n_identical in metrics.json">({int(n_id):,d} in the sweep)</span>'
                                  if n_id is not None and int(n_id) != len(g) else "")
        rank = count(t.get("rank")) + (f"–{count(g[-1]['trust']['rank'])}" if len(g) > 1 else "")
        rows.append([rank, f'<span class="params">{_params_of_group(g, swept)}</span>{esc(tag)}', size]
                    + [stats.metric_cell(rec, k, ppy) if k in m else metric(k, t.get(k), _reason(rec, k)) for k in show]
                    + [num(t.get("dsr"), t.get("notes"))])
    first = groups[0][0].get("metrics") or {}
    scale = registry.shown_value(key, first.get(key), first.get("n_periods"), ppy)[1]
    headers = ["Rank", "Parameters (swept)", "Sets"] + [registry.shown_label(k, scale) if k == key else label(k)
                                                         for k in show] + ["DSR"]
    n = len(sv.pooled)
    merged = sum(len(g) for g in groups)
    return table(headers, rows, num_from=2) + (
        f'<p class="note">The top {len(groups)} distinct results ({merged:,d} of {n:,d} parameter sets); sets with '
        'the same pooled metrics are one row.</p>')


def trials_figure(view: StudyView, sv: StrategyView) -> tuple[dict[str, Any] | None, str]:
    """Histogram of the per-period Sharpe ratios of the trials DSR deflates against, SR0 marked."""
    tr = sv.summary.get("trials") if isinstance(sv.summary.get("trials"), dict) else None
    ppy = view.ppy(sv)
    best = sv.pooled.get(_best_of(sv)) or {}
    sr0 = (tr or {}).get("sr0")
    if sr0 is None:
        sr0 = (best.get("trust") or {}).get("sharpe_star")
    hist = (tr or {}).get("sharpe_hist") or {}
    if hist.get("edges") and hist.get("counts"):
        edges, counts = [float(e) for e in hist["edges"]], [int(c) for c in hist["counts"]]
        src = f"{tr.get('n_distinct', DASH)} distinct of {tr.get('n_raw', DASH)} trials (metrics.json trials)"
        best_sr = tr.get("best_sharpe")
    elif ppy is None:
        return None, "No trial histogram in this run's metrics.json, and no periods per year to read its Sharpe ratios per period."
    else:
        srs = np.array([registry.per_period_value("sharpe", r["metrics"]["sharpe"], ppy) for r in sv.pooled.values()
                        if not is_missing((r.get("metrics") or {}).get("sharpe"))])
        if len(srs) < 2:
            return None, "Fewer than two trials with a Sharpe ratio: nothing to deflate against."
        counts_, edges_ = np.histogram(srs, bins=int(min(50, max(8, math.sqrt(len(srs)) * 2))))
        edges, counts = edges_.tolist(), counts_.tolist()
        src = f"{len(srs):,d} trials, duplicates included (this run has no distinct-trial histogram)"
        bs = (best.get("metrics") or {}).get("sharpe")
        best_sr = None if is_missing(bs) else registry.per_period_value("sharpe", bs, ppy)
    mids = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    data = [{"type": "bar", "x": mids, "y": counts, "width": widths, "name": "trials",
             "marker": {"color": "#9fb8cc", "line": {"color": "#fff", "width": 0.5}},
             "hovertemplate": "Sharpe %{x:.3f}: %{y} trials<extra></extra>", "showlegend": False}]
    shapes, ann = [], []
    for v, name, color in ((sr0, "SR0 (DSR's expected max)", OKABE_ITO["vermillion"]), (best_sr, "best", OKABE_ITO["blue"])):
        if is_missing(v):
            continue
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": v, "x1": v, "y0": 0, "y1": 1,
                       "line": {"color": color, "width": 2, "dash": "dash" if name != "best" else "solid"}})
        ann.append({"text": f"{name} {float(v):.3f}", "x": v, "y": 1 if name != "best" else 0.9, "xref": "x",
                    "yref": "paper", "yanchor": "bottom", "xanchor": "left" if name == "best" else "right",
                    "showarrow": False, "font": {"size": 11, "color": color}})
    marks = [float(v) for v in (sr0, best_sr) if not is_missing(v)]
    lo, hi = min([edges[0]] + marks), max([edges[-1]] + marks)
    pad = 0.05 * (hi - lo or 1.0)
    layout = base_layout(280, shapes=shapes, annotations=ann, bargap=0.05,
                         xaxis=_axis(title={"text": "Sharpe ratio per period (not annualized)"}, range=[lo - pad, hi + pad]),
                         yaxis=_axis(title={"text": "trials"}))
    return {"data": data, "layout": layout}, src


def sweep_block(page: Page, view: StudyView, sv: StrategyView, swept: list[str]) -> str:
    if len(sv.pooled) <= 1:
        return ""
    fig, expl = charts.sweep_figure(sv, swept, view.ppy(sv))
    shown = registry.shown_label(sv.rank_by, charts.map_scale(list(sv.pooled.values()), sv.rank_by, view.ppy(sv)))
    heat = (page.chart(fig, f"{sv.label}-sweep", f"{sv.label}: {shown} across the sweep")
            + f'<p class="note">{expl}</p>') if fig else na(expl)
    tfig, texpl = trials_figure(view, sv)
    trial = (page.chart(tfig, f"{sv.label}-trials", f"{sv.label}: trial Sharpe ratios and DSR's SR0")
             + f'<p class="note">{esc(texpl)}. DSR asks whether the best beats SR0, the best Sharpe expected from '
               'that many unskilled trials.</p>') if tfig else na(texpl)
    sid = page.anchor(f"{sv.label} sweep", level=3, short="sweep")
    return section("Parameter sweep", "A plateau is more believable than a lone peak; the best must clear SR0.",
                   grid(heat, trial) + fold(f"Top {TOP_N} distinct parameter sets", ranking_table(sv, swept, view.ppy(sv))),
                   sid, level=3)


# ---------------------------------------------------------------------- tables
WINDOW_KEYS = list(registry.WINDOW_ROW)


def window_table(view: StudyView, sv: StrategyView, combo: int | None, default: int | None,
                 block: dict[str, Any] | None = None) -> str:
    """The set's metrics per window. Its trade count is the trades counted in that window (each real
    trade once: ``trades[combo].by_window``), with those of the episode already counted in an
    earlier window noted; without that key, the engine's per-episode count."""
    runs = sv.runs.get(combo, []) if combo is not None else []
    if not runs:
        return na("No runs.")
    by_window = (block or {}).get("by_window") if isinstance((block or {}).get("by_window"), dict) else None
    dflt = {r.get("window"): r for r in sv.runs.get(default, [])} if default not in (None, combo) else {}
    bases = [(b.label, {r.get("window"): r for r in b.runs.get(_best_of(b), [])}) for b in sv.baselines]
    rows = []
    for r in sorted(runs, key=lambda r: (view.windows.get(r.get("window"), {}).get("event_date") or "", str(r.get("window")))):
        w = view.windows.get(r.get("window"), {})
        m = r.get("metrics") or {}
        cells = [f'<span title="{esc(w.get("label"))}">{esc(r.get("window"))}</span>', esc(w.get("event_date") or "")]
        cells += [_trades_cell(by_window, r) if k == "n_trades" and by_window is not None
                  else metric(k, m.get(k), _reason(r, k)) for k in WINDOW_KEYS]
        if dflt:
            cells.append(metric("total_return", ((dflt.get(r.get("window")) or {}).get("metrics") or {}).get("total_return")))
        for _, bm in bases:
            cells.append(metric("total_return", ((bm.get(r.get("window")) or {}).get("metrics") or {}).get("total_return")))
        rows.append(cells)
    headers = (["Window", "Event date"] + [("Trades (once)" if k == "n_trades" and by_window is not None else label(k))
                                           for k in WINDOW_KEYS] + (["Default: total"] if dflt else [])
               + [f"{b}: total" for b, _ in bases])
    more = ""
    if len(rows) > MAX_WINDOW_ROWS:
        more = f'<p class="note">Showing {MAX_WINDOW_ROWS:,d} of {len(rows):,d} windows.</p>'
        rows = rows[:MAX_WINDOW_ROWS]
    return table(headers, rows, num_from=2) + more


def _trades_cell(by_window: dict[str, Any], run: dict[str, Any]) -> str:
    rec = by_window.get(str(run.get("window"))) or {}
    out = count(rec.get("trades"))
    if rec.get("seen_elsewhere"):
        out += (f' <span class="note" title="trades of this episode counted in an earlier, overlapping window">'
                f'(+{count(rec["seen_elsewhere"])} counted earlier)</span>')
    return out


def trades_table(view: StudyView, trades: pd.DataFrame, block: dict[str, Any] | None = None) -> str:
    if block is None:
        return na(f"Trades: {stats.NO_TRADES_KEY}.")
    if trades.empty:
        return na("No trades.")
    rows = []
    for t in trades.head(MAX_TRADES).itertuples(index=False):
        tz = view.symbol_tz(str(t.symbol))
        also = [w for w in (t.windows or [])[1:]]
        win = esc(t.window) + (f'<br><span class="note">also in {esc(", ".join(also))}</span>' if also else "")
        rows.append([win, esc(t.symbol), esc(t.side), when(t.entry_time), when(t.entry_time, tz),
                     esc(t.entry_kind or DASH), num(t.entry_price), when(t.exit_time) if not pd.isna(t.exit_time) else "",
                     when(t.exit_time, tz) if not pd.isna(t.exit_time) else "", esc(t.exit_kind or "") if not pd.isna(t.exit_time) else "",
                     num(t.exit_price), pct(t.ret, "still open", signed=True), num(t.fees)])
    headers = ["Window", "Symbol", "Side", "Entry fill (UTC)", "(local)", "Kind", "Entry price", "Exit fill (UTC)",
               "(local)", "Kind", "Exit price", "Return", "Fees (USD)"]
    more = f'<p class="note">Showing the first {MAX_TRADES:,d} of {len(trades):,d}.</p>' if len(trades) > MAX_TRADES else ""
    return table(headers, rows, right={6, 10, 11, 12}) + more


# ---------------------------------------------------------------------- equity
def equity_block(page: Page, view: StudyView, sv: StrategyView, combo: int | None, ch: Chain | None,
                 trades: pd.DataFrame) -> str:
    """Equity and drawdown of the set's pooled series, its benchmark and its baselines, as scoring
    wrote them (pooled.parquet, pooled_benchmark.parquet)."""
    if ch is None:
        return stats.omitted(view, "Equity and drawdown") if sv.runs.get(combo) else na("No returns saved for this strategy.")
    chains = [(f"{'best' if combo == sv.best else 'default'} {sv.label}", ch, OKABE_ITO["blue"])]
    colors = [OKABE_ITO["green"], OKABE_ITO["purple"]]
    for i, b in enumerate(sv.baselines):
        bc = view.chain(b, _best_of(b))
        if bc is not None and bc.times.equals(ch.times):
            chains.append((f"baseline {b.label}", bc, colors[i % 2]))
    fig = charts.equity_figure(chains, sv.summary.get("benchmark"), view.windows, x_title="calendar-time periods (each "
                               "UTC period once; overlapping windows averaged; event date at each window's start)")
    charts.add_fills(fig, ch, trades, view)
    return page.chart(fig, f"{sv.label}-equity", f"{sv.label}: equity and drawdown, calendar time")


# ---------------------------------------------------------------------- section
def strategy_section(page: Page, view: StudyView, sv: StrategyView, orders: pd.DataFrame) -> str:
    s = sv.summary
    swept = sv.swept()
    combo = _best_of(sv)
    which = "best" if combo == sv.best else "default"
    roles = s.get("roles") or {}
    facts = [f"<b>roles</b> {', '.join(f'{esc(r)} = {esc(sym)}' for r, sym in sorted(roles.items())) or DASH}",
             f"<b>benchmark</b> {esc(s.get('benchmark') or 'none')}",
             f"<b>sweep</b> {count(s.get('n_combinations', len(sv.pooled)))} sets × {count(s.get('n_windows'))} windows, "
             f"ranked by {esc(label(sv.rank_by))}",
             f"<b>{which} set</b> <span class=\"params\">{esc(params_text(sv.params(combo)))}</span>" if combo is not None else "no set",
             ]
    if sv.default is not None and sv.default != combo:
        facts.append(f'<b>default set</b> <span class="params">{esc(params_text(sv.params(sv.default)))}</span>')
    if sv.baselines:
        facts.append("<b>baseline</b> " + ", ".join(esc(b.label) for b in sv.baselines) + " (same windows, folded in here)")
    facts += [x for x in (exposure.state_line(sv),) if x]
    parts = [f'<p class="facts-line">{" · ".join(facts)}</p>']
    sub_orders, trades, block = stats.set_trades(orders, sv, combo, view)
    wl = view.warnings_for(sv.label)
    if wl:
        parts.append(f'<div id="{esc(sv.anchor)}-warnings">' + fold(f'<span style="color:#8a3b00">{len(wl):,d} named '
                     f'warning{"s" if len(wl) > 1 else ""} for this strategy</span>', warnings_table(wl)) + "</div>")
    eid = page.anchor(f"{sv.label} shock by shock", level=3, short="shock by shock")
    parts.append(section("Shock by shock", f"The {which} set's return per event (bars, colored by cluster; diamonds: the "
                         "matched baseline), the event-time fan, the event study of the asset and of the strategy, and shock "
                         "size against result.", guarded("Events", lambda: events.event_block(page, view, sv, combo, trades)),
                         eid, level=3))

    if sv.summary.get("exposure"):
        xid = page.anchor(f"{sv.label} pair exposure", level=3, short="pair exposure")
        parts.append(section("Pair exposure", f"Net (long minus short) and gross exposure of the {which} set's episodes "
                             "as the engine held them (a hedged pair keeps its net near zero).",
                             guarded("Pair exposure", lambda: exposure.exposure_block(page, sv, combo)), xid, level=3))

    sets: list[tuple[str, dict[str, Any], float | None]] = []
    ppy = view.ppy(sv)
    if combo is not None and combo in sv.pooled:
        sets.append((f"{which} {sv.label}", sv.pooled[combo], ppy))
    if sv.default is not None and sv.default != combo and sv.default in sv.pooled:
        sets.append((f"default {sv.label}", sv.pooled[sv.default], ppy))
    for b in sv.baselines:
        bc = _best_of(b)
        if bc in b.pooled:
            sets.append((f"baseline {b.label}", b.pooled[bc], view.ppy(b)))
    ch = view.chain(sv, combo)

    def risk() -> str:
        if ch is None:
            dist = stats.omitted(view, "Return distribution")
        elif len(ch.returns) > 2:
            dist = page.chart(stats.distribution_figure(ch, sv.label, sv.pooled.get(combo) or {}), f"{sv.label}-dist",
                              f"{sv.label}: return distribution")
        else:
            dist = na("Too few periods for a distribution.")
        return (grid(guarded("Equity", lambda: equity_block(page, view, sv, combo, ch, trades)), dist)
                + (stats.sets_table(view, sv, sets) if sets else ""))

    sid = page.anchor(f"{sv.label} returns and risk", level=3, short="returns and risk")
    parts.append(section("Returns and risk", "The pooled calendar-time series against the benchmark and the baseline "
                         "over the same periods.", guarded("Returns and risk", risk), sid, level=3))
    parts.append(fold(f"Trade statistics and costs, gross against net ({len(trades):,d} trades, each counted once)",
                      grid(guarded("Trade statistics", lambda: stats.trade_stats(block)),
                           guarded("Costs", lambda: stats.costs_table(view, sv, sub_orders, trades)))))
    parts.append(guarded("Sweep", lambda: sweep_block(page, view, sv, swept)))
    more = (fold("Per window", guarded("Per window", lambda: window_table(view, sv, combo, sv.default, block)))
            + fold("Drawdown periods and rolling volatility and beta",
                   grid(guarded("Drawdowns", lambda: stats.drawdown_table(view, sv, combo)),
                        guarded("Rolling", lambda: stats.rolling_block(page, view, sv, ch, combo))))
            + fold(f"Trades ({len(trades):,d}): fill instants in UTC and market time, open/close fills",
                   guarded("Trades", lambda: trades_table(view, trades, block))
                   + '<p class="note">Times are fill instants; kind is the fill (open, close, auction); a star marks a '
                     'kind inferred from the session\'s open and close times (the run saved no fill_kind).</p>'))
    parts.append(more)
    title = sv.label if sv.label == s.get("name", sv.label) else f"{sv.label} ({s.get('name')})"
    return section(f"Strategy: {title}", "Shock by shock, then over time, then across its parameters.",
                   "".join(parts), sv.anchor, cls="strategy")
