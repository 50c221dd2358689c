"""The HTML tearsheet: one self-contained file that opens offline and is about shocks.

``render_tearsheet`` takes exactly what a run folder holds and returns the page as text:

- header (study, data source with a SYNTHETIC banner when it is, run date, config hash, versions,
  the config itself collapsed),
- a summary table (each strategy's best and default parameter sets, pooled metrics, DSR, PBO,
  bootstrap interval of the Sharpe ratio),
- per strategy: equity and underwater curves against the benchmark, the event-time chart, a
  per-window table, rolling Sharpe, a parameter heat map, the top-ranked parameter sets, trades,
- the data: symbols, sources, date ranges, warnings, windows and the closures inside them.

plotly.js is embedded once (``plotly.offline.get_plotlyjs()``); nothing is fetched. Figures are
JSON in one ``<script type="application/json">`` element, escaped so data cannot close it. Each
section is rendered on its own: a section that fails shows its error and the rest still renders.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd

from backtests.report import charts
from backtests.report.fmt import (
    LINE_COLORS, OKABE_ITO, count, esc, is_missing, label, metric, num, params_text, pct, script_json, slug,
)
from backtests.report.view import StrategyView, StudyView, market_tz, round_trips

MAX_TRADES = 200  # trade rows shown per strategy
MAX_WINDOW_ROWS = 200
TOP_N = 10
ROLLING_MIN = 10  # shortest rolling window, periods


class Page:
    """Collects figures (one JSON blob) and section ids while sections render."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Any]] = {}
        self.ids: set[str] = set()
        self.toc: list[tuple[str, str, int]] = []

    def chart(self, fig: dict[str, Any], name: str, title: str) -> str:
        fid = slug(f"fig-{name}", self.ids)
        self.figures[fid] = fig
        return (f'<div class="chart" id="{fid}" data-fig="{fid}" role="img" aria-label="{esc(title)}">'
                f'<noscript>Charts need JavaScript.</noscript></div>')

    def anchor(self, text: str, level: int = 2, short: str | None = None) -> str:
        sid = slug(f"s-{text}", self.ids)
        self.toc.append((sid, short or text, level))
        return sid


def section(title: str, explain: str, body: str, sid: str, level: int = 2, cls: str = "") -> str:
    return (f'<section id="{sid}" class="{cls}"><h{level}>{esc(title)}</h{level}>'
            f'<p class="explain">{explain}</p>{body}</section>')


def guarded(title: str, fn: Callable[[], str]) -> str:
    """Render a section; on an unexpected error show it in place instead of losing the page."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the page must always render
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return (f'<div class="section-error"><strong>{esc(title)}: this part could not be drawn.</strong> '
                f'<code>{esc(tb)}</code></div>')


def table(headers: list[str], rows: list[list[str]], cls: str = "", num_from: int = 1,
          right: set[int] | None = None) -> str:
    """A table; cells are already-safe HTML. Columns from ``num_from`` (or those in ``right``)
    are right-aligned numbers."""
    def c(i: int) -> str:
        return "n" if (i in right if right is not None else i >= num_from) else ""

    head = "".join(f'<th class="{c(i)}" scope="col">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{c(i)}">{v}</td>' for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _time(ts: Any, tz: str | None = None) -> str:
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return '<span class="na">open</span>'
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    if tz:
        loc = t.tz_convert(tz)
        return f'<span class="nw">{esc(loc.strftime("%Y-%m-%d %H:%M ") + (loc.tzname() or tz))}</span>'
    return f'<span class="nw">{esc(t.tz_convert("UTC").strftime("%Y-%m-%d %H:%M"))}</span>'


def _reason(rec: dict[str, Any], key: str) -> str | None:
    return (rec.get("nan_reasons") or {}).get(key)


# ---------------------------------------------------------------------- header
def header(page: Page, metrics: dict[str, Any], manifest: dict[str, Any]) -> str:
    data = metrics.get("data") or {}
    synthetic = bool(metrics.get("synthetic") or data.get("synthetic") or manifest.get("synthetic"))
    banner = ""
    if synthetic:
        banner = ('<div class="banner" role="alert"><strong>SYNTHETIC DATA.</strong> These results come from a '
                  'deterministic synthetic replay of documented shocks, not from market prices.</div>')
    versions = manifest.get("versions") or {}
    vers = ", ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(versions.items()) if v) or "not recorded"
    config = manifest.get("config")
    try:
        import yaml

        cfg_text = yaml.safe_dump(config, sort_keys=True, allow_unicode=True, width=110) if config else ""
    except Exception:  # noqa: BLE001
        cfg_text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False, default=str) if config else ""
    facts = [
        ("Data", f'{esc(data.get("source") or "?")}: {esc(data.get("label") or "")}'
                 f'{" (frequency " + esc(data.get("frequency")) + ")" if data.get("frequency") else ""}'),
        ("Run at", esc((manifest.get("run_at_utc") or "unknown").replace("T", " ").replace("+00:00", " UTC"))),
        ("Config", f'{esc(manifest.get("config_path") or "")} · hash <code>{esc(metrics.get("config_hash") or manifest.get("config_hash"))}</code>'
                   f'{" · seed " + esc(manifest.get("seed")) if manifest.get("seed") is not None else ""}'),
        ("Runs", f'{count(len(metrics.get("runs") or []))} runs ({count(len(metrics.get("pooled") or []))} parameter sets) '
                 f'over {count(len(metrics.get("windows") or []))} windows'
                 f'{" in " + num(manifest.get("elapsed_seconds"), digits=1) + " s" if manifest.get("elapsed_seconds") is not None else ""}'),
        ("Versions", f'{vers}{" · Python " + esc(manifest.get("python")) if manifest.get("python") else ""}'
                     f'{" · " + esc(manifest.get("platform")) if manifest.get("platform") else ""}'),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    desc = f'<p class="lede">{esc(metrics.get("description"))}</p>' if metrics.get("description") else ""
    cfg = (f'<details class="config"><summary>Study config (as run)</summary><pre>{esc(cfg_text)}</pre></details>'
           if cfg_text else "")
    return (f'<header id="top">{banner}<h1>{esc(metrics.get("study") or "scare study")} '
            f'<span class="sub">scare tearsheet</span></h1>{desc}'
            f'<p class="explain">What was run, on which data, and with which software; the config is collapsed below.</p>'
            f'<dl class="facts">{dl}</dl>{cfg}</header>')


# ---------------------------------------------------------------------- summary
SUMMARY_KEYS = ["total_return", "annual_return", "sharpe", "max_drawdown", "hit_rate", "excess_return",
                "n_trades"]


def summary(page: Page, view: StudyView) -> str:
    rows = []
    for sv in view.strategies:
        sets = []
        if sv.best is not None:
            sets.append(("best", sv.best))
        if sv.default is not None and sv.default != sv.best:
            sets.append(("default", sv.default))
        elif sv.default is not None:
            sets = [("best = default", sv.best)]
        for which, combo in sets:
            rec = sv.pooled.get(combo)
            if rec is None:
                continue
            m, t = rec.get("metrics") or {}, rec.get("trust") or {}
            boot = t.get("bootstrap") or {}
            ci = (f'{num(boot.get("sharpe_lower"))} to {num(boot.get("sharpe_upper"))}'
                  if boot else '<span class="na" title="no bootstrap for this set">\u2013</span>')
            rows.append([
                f'<a href="#{esc(sv_anchor(sv))}">{esc(sv.label)}</a>', esc(which),
                f'<span class="params">{esc(params_text(rec.get("params"), sv.swept() or None))}</span>',
                count(m.get("n_windows")),
                *[metric(k, m.get(k), _reason(rec, k)) for k in SUMMARY_KEYS[:3]], ci,
                *[metric(k, m.get(k), _reason(rec, k)) for k in SUMMARY_KEYS[3:]],
                num(t.get("dsr"), t.get("notes")), num(t.get("pbo"), t.get("notes")),
            ])
    if not rows:
        return section("Summary", "No strategy produced results.", "", page.anchor("Summary"))
    conf = next((p.get("trust", {}).get("bootstrap", {}).get("confidence") for p in view.metrics.get("pooled") or []
                 if (p.get("trust") or {}).get("bootstrap")), 0.95)
    headers = ["Strategy", "Set", "Parameters (swept)", "Windows", label("total_return"), label("annual_return"),
               "Sharpe", f"Sharpe {pct(conf).replace('.00', '')} CI", label("max_drawdown"),
               label("hit_rate"), label("excess_return"), "Trades", "DSR", "PBO"]
    explain = ("Each strategy's best-ranked and default parameter sets, pooled over all their windows: returns chained "
               "window after window. DSR is the probability that the Sharpe ratio beats the best of that many "
               "unskilled trials; PBO the probability that the in-sample best is below median out of sample; the "
               "interval is a stationary-bootstrap confidence interval of the Sharpe ratio.")
    return section("Summary", explain, table(headers, rows, "summary", num_from=3), page.anchor("Summary"))


def sv_anchor(sv: StrategyView) -> str:
    return sv.anchor


# ---------------------------------------------------------------------- per strategy
def strategy_section(page: Page, view: StudyView, sv: StrategyView, orders: pd.DataFrame) -> str:
    sid = sv_anchor(sv)
    s = sv.summary
    swept = sv.swept()
    best, default = sv.best, sv.default
    roles = s.get("roles") or {}
    parts = []
    facts = [
        ("Plug-in", esc(s.get("name") or sv.label)),
        ("Roles", ", ".join(f"{esc(r)} = {esc(sym)}" for r, sym in sorted(roles.items())) or "\u2013"),
        ("Benchmark", esc(s.get("benchmark") or "none")),
        ("Sweep", f'{count(s.get("n_combinations", len(sv.pooled)))} parameter sets × {count(s.get("n_windows"))} windows'
                  f' = {count(s.get("n_runs", sum(len(v) for v in sv.runs.values())))} runs; ranked by {esc(label(sv.rank_by))}'
                  f'; PBO {num(s.get("pbo"))}'),
        ("Best set", esc(params_text(sv.params(best))) if best is not None else "none (no finite ranking metric)"),
        ("Default set", esc(params_text(sv.params(default))) if default is not None else "not in the grid"),
    ]
    parts.append('<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    focus = best if best is not None else default
    focus_name = "best" if best is not None else "default"

    def equity() -> str:
        chains = []
        c1 = view.chain(sv, focus)
        if c1 is None:
            return '<p class="empty">No returns saved for this strategy.</p>'
        chains.append((f"{focus_name} {sv.label}", c1, OKABE_ITO["blue"]))
        if default is not None and default != focus:
            c2 = view.chain(sv, default)
            if c2 is not None and len(c2.returns) == len(c1.returns):
                chains.append((f"default {sv.label}", c2, OKABE_ITO["orange"]))
        fig = charts.equity_figure(chains, s.get("benchmark"), view.windows)
        return page.chart(fig, f"{sv.label}-equity", f"Equity and drawdown of {sv.label}")

    parts.append(sub(page, sv, "Equity and drawdown",
                     f"Cumulative return of the {focus_name} set{' and the default set' if default not in (None, focus) else ''} with its windows "
                     "chained in time order (each window starts flat), against the benchmark over the same periods; "
                     "below, the drawdown from the running peak. Dotted lines separate windows.", equity))

    def event_time() -> str:
        lines = view.event_time(sv, focus)
        if not lines:
            return '<p class="empty">No event-time view for this strategy (no complete windows).</p>'
        fig = charts.event_time_figure(lines, view.windows)
        return page.chart(fig, f"{sv.label}-event", f"Event-time returns of {sv.label}")

    parts.append(sub(page, sv, "Around the event",
                     f"Cumulative return of the {focus_name} set from t = −pre to t = +post sessions of the event's "
                     "market, one line per event, and their mean (black). Does the trade work across shocks, or in one?",
                     event_time))
    parts.append(sub(page, sv, "Per window", f"The {focus_name} set's metrics in each window (sorted by event date); "
                     "dashes carry the reason a metric is undefined as a tooltip.",
                     lambda: window_table(view, sv, focus, default)))

    def rolling() -> str:
        ch = view.chain(sv, focus)
        n = 0 if ch is None else len(ch.returns)
        k = max(ROLLING_MIN, min(63, n // 4))
        if ch is None or n < 3 * k:
            return (f'<p class="empty">Too short for a rolling Sharpe ratio: {count(n)} periods '
                    f'(needs at least {count(3 * ROLLING_MIN)}).</p>')
        fig = charts.rolling_sharpe_figure(ch, k, view.ppy(sv), view.windows)
        return (f'<p class="note">Window: {k} periods, annualized with {num(view.ppy(sv), digits=0)} periods a year; '
                'it runs across window boundaries of the chain.</p>'
                + page.chart(fig, f"{sv.label}-rolling", f"Rolling Sharpe of {sv.label}"))

    parts.append(sub(page, sv, "Rolling Sharpe", f"Sharpe ratio of the {focus_name} set over a moving window of "
                     "periods: is the edge steady or one lucky stretch?", rolling))

    def sweep() -> str:
        fig, expl = charts.sweep_figure(sv, swept)
        if fig is None:
            return f'<p class="empty">{expl}</p>'
        return f'<p class="note">{expl}</p>' + page.chart(fig, f"{sv.label}-sweep", f"Parameter sweep of {sv.label}")

    parts.append(sub(page, sv, "Parameter sweep", "How the ranking metric moves with the swept parameters: a "
                     "plateau is more believable than a lone peak.", sweep))
    parts.append(sub(page, sv, f"Top {TOP_N} parameter sets", "The best-ranked sets with their deflated Sharpe "
                     "ratio (DSR: probability the Sharpe beats what chance gives for this many trials).",
                     lambda: ranking_table(sv, swept)))
    parts.append(sub(page, sv, "Trades", f"The {focus_name} set's round trips from orders.parquet: entries and "
                     "exits at the bar they filled in, in UTC and in the local time of the symbol's market; prices in "
                     "USD; return in the trade's direction before fees.",
                     lambda: trades_table(view, sv, focus, orders)))
    title = sv.label if sv.label == s.get("name", sv.label) else f"{sv.label} ({s.get('name')})"
    return section(f"Strategy: {title}", "One strategy's results: how its chosen set did over time, around each "
                   "event, per window, across its parameters, and trade by trade.", "".join(parts), sid, cls="strategy")


def sub(page: Page, sv: StrategyView, title: str, explain: str, body: Callable[[], str]) -> str:
    sid = page.anchor(f"{sv.label} {title}", level=3, short=title.lower())
    return section(title, explain, guarded(title, body), sid, level=3)


WINDOW_KEYS = ["total_return", "sharpe", "max_drawdown", "excess_return", "hit_rate", "n_trades", "exposure"]


def window_table(view: StudyView, sv: StrategyView, combo: int | None, default: int | None) -> str:
    runs = sv.runs.get(combo, []) if combo is not None else []
    if not runs:
        return '<p class="empty">No runs.</p>'
    dflt = {r.get("window"): r for r in sv.runs.get(default, [])} if default not in (None, combo) else {}
    rows = []
    for r in sorted(runs, key=lambda r: (view.windows.get(r.get("window"), {}).get("event_date") or "", str(r.get("window")))):
        w = view.windows.get(r.get("window"), {})
        m = r.get("metrics") or {}
        cells = [f'<span title="{esc(w.get("label"))}">{esc(r.get("window"))}</span>', esc(w.get("event_date") or ""),
                 esc(w.get("market") or "")]
        cells += [metric(k, m.get(k), _reason(r, k)) for k in WINDOW_KEYS]
        if dflt:
            d = dflt.get(r.get("window"))
            cells.append(metric("total_return", (d or {}).get("metrics", {}).get("total_return")))
        rows.append(cells)
    headers = ["Window", "Event date", "Market"] + [label(k) for k in WINDOW_KEYS] + (["Default: total return"] if dflt else [])
    more = ""
    if len(rows) > MAX_WINDOW_ROWS:
        more = f'<p class="note">Showing {MAX_WINDOW_ROWS:,d} of {len(rows):,d} windows.</p>'
        rows = rows[:MAX_WINDOW_ROWS]
    return table(headers, rows, num_from=3) + more


def ranking_table(sv: StrategyView, swept: list[str]) -> str:
    ranked = sorted((rec for rec in sv.pooled.values() if not is_missing((rec.get("trust") or {}).get("rank"))),
                    key=lambda rec: float(rec["trust"]["rank"]))[:TOP_N]
    if not ranked:
        return '<p class="empty">No ranked parameter sets (the ranking metric is undefined for all).</p>'
    key = sv.rank_by
    show = [k for k in dict.fromkeys([key, "total_return", "sharpe", "max_drawdown", "window_positive_fraction"])]
    rows = []
    for rec in ranked:
        m, t = rec.get("metrics") or {}, rec.get("trust") or {}
        tag = " (default)" if rec.get("is_default") else ""
        rows.append([count(t.get("rank")), f'<span class="params">{esc(params_text(rec.get("params"), swept or None))}</span>{esc(tag)}']
                    + [metric(k, m.get(k, t.get(k)), _reason(rec, k)) for k in show] + [num(t.get("dsr"), t.get("notes"))])
    headers = ["Rank", "Parameters (swept)"] + [label(k) for k in show] + ["DSR"]
    n = len(sv.pooled)
    note = f'<p class="note">{min(TOP_N, len(ranked))} of {n:,d} parameter sets.</p>' if n > TOP_N else ""
    return table(headers, rows, num_from=2) + note


def trades_table(view: StudyView, sv: StrategyView, combo: int | None, orders: pd.DataFrame) -> str:
    runs = sv.runs.get(combo, []) if combo is not None else []
    if orders is None or orders.empty or not runs:
        return '<p class="empty">No orders were saved for this set.</p>'
    trades = round_trips(orders, [str(r.get("id")) for r in runs])
    if trades.empty:
        return '<p class="empty">No trades.</p>'
    rows = []
    for t in trades.head(MAX_TRADES).itertuples(index=False):
        tz = view.symbol_tz(str(t.symbol))
        rows.append([esc(t.window), esc(t.symbol), esc(t.side), _time(t.entry_time), _time(t.entry_time, tz),
                     num(t.entry_price), _time(t.exit_time), _time(t.exit_time, tz) if not pd.isna(t.exit_time) else "",
                     num(t.exit_price), pct(t.ret, "still open", signed=True), num(t.fees)])
    headers = ["Window", "Symbol", "Side", "Entry (UTC)", "Entry (local)", "Entry price", "Exit (UTC)", "Exit (local)",
               "Exit price", "Return", "Fees (USD)"]
    rets = trades["ret"].dropna()
    stats = (f'{len(trades):,d} trades; {(rets > 0).mean() * 100:,.2f}% won; mean return {pct(rets.mean(), signed=True)}'
             if len(rets) else f"{len(trades):,d} trades")
    more = f"; showing the first {MAX_TRADES:,d}" if len(trades) > MAX_TRADES else ""
    return f'<p class="note">{stats}{more}.</p>' + table(headers, rows, right={5, 8, 9, 10})


# ---------------------------------------------------------------------- data
def data_section(page: Page, view: StudyView) -> str:
    data = view.data
    used: dict[str, list[str]] = {}
    for sv in view.strategies:
        for role, sym in sorted((sv.summary.get("roles") or {}).items()):
            used.setdefault(str(sym), []).append(f"{sv.label}: {role}")
        if sv.summary.get("benchmark"):
            used.setdefault(str(sv.summary["benchmark"]), []).append(f"{sv.label}: benchmark")
    rows = []
    for sym, info in view.symbols.items():
        first, last = str(info.get("first") or "")[:10], str(info.get("last") or "")[:10]
        rows.append([esc(sym), esc(info.get("kind") or ""), esc(info.get("market") or ""), esc(info.get("currency") or ""),
                     esc(info.get("source") or data.get("source") or ""),
                     f'<span class="nw">{esc(first)}</span> to <span class="nw">{esc(last)}</span>',
                     count(info.get("bars")), count(info.get("intraday_bars")),
                     esc("; ".join(used.get(sym, []))) or '<span class="na">not used</span>'])
    sym_table = table(["Symbol", "Kind", "Market", "Currency", "Source", "Dates", "Daily bars", "Intraday bars", "Used by"],
                      rows, right={6, 7}) if rows else '<p class="empty">No symbols recorded.</p>'
    warnings = data.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{esc(w if isinstance(w, str) else json.dumps(w, default=str))}</li>" for w in warnings)
        warn = f'<ul class="warnings">{items}</ul>'
    else:
        warn = '<p class="ok">The data loader reported no warnings (gaps, stale prices, halts).</p>'
    wrows = []
    for w in sorted(view.windows.values(), key=lambda w: (w.get("event_date") or "", str(w.get("id")))):
        gaps = view.window_gaps(w)
        text = f'{w.get("kind", "")} {w.get("label", "")}'.lower()
        halt = "halt" in text or "circuit" in text
        notes = []
        users = [sv.label for sv in view.strategies if w.get("id") in (sv.summary.get("windows") or [])]
        if not users:
            notes.append("no strategy traded this window")
        if halt:
            notes.append("trading halt (circuit breaker) on the event session")
        notes += [f"no session: {g}" for g in gaps]
        wrows.append([f'<span title="{esc(w.get("label"))}">{esc(w.get("id"))}</span><br>'
                      f'<span class="params">{esc(w.get("label") or "")}</span>', esc(w.get("kind") or ""),
                      esc(w.get("market") or ""), event_when(w),
                      f'{count(w.get("pre"))} / {count(w.get("post"))}', count(w.get("sessions")),
                      f'<span class="nw">{esc(str(w.get("start_utc") or "")[:10])}</span> to '
                      f'<span class="nw">{esc(str(w.get("end_utc") or "")[:10])}</span>',
                      "<br>".join(esc(n) for n in notes) or '<span class="na">none</span>'])
    win_table = table(["Window", "Kind", "Market", "Event (local time, UTC)", "Pre / post", "Sessions", "Span",
                       "Closures and halts"], wrows, right={4, 5}) if wrows else ""
    fp = data.get("fingerprint")
    head = (f'<dl class="facts"><dt>Source</dt><dd>{esc(data.get("source") or "?")}: {esc(data.get("label") or "")}</dd>'
            f'<dt>Bars</dt><dd>{esc(data.get("frequency") or "1D")}, stamped at each session\'s close in UTC</dd>'
            f'<dt>Fingerprint</dt><dd><code>{esc(fp[:16] + "…" if isinstance(fp, str) and len(fp) > 16 else fp)}</code></dd></dl>')
    body = (head + "<h3>Symbols</h3>" + sym_table + "<h3>Warnings from the data</h3>" + warn
            + "<h3>Shock windows</h3><p class=\"explain\">Windows count sessions of the event's market; weekdays "
              "without a session inside a window (holidays, closures) are listed: nothing traded on that market then.</p>"
            + win_table)
    return section("Data", "Which prices the results rest on: symbols, sources and date ranges, what the loader "
                   "flagged, and the closures and halts inside the windows.", body, page.anchor("Data"))


def event_when(w: dict[str, Any]) -> str:
    """'2025-01-27 09:29 EST (14:29 UTC) before_open' with the UTC date when it differs."""
    ev, date = w.get("event_time_utc"), esc(w.get("event_date") or "")
    timing = f'<br><span class="params">{esc(w.get("timing") or "")}</span>' if w.get("timing") else ""
    if not ev:
        return date + timing
    try:
        t = pd.Timestamp(ev)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        loc = t.tz_convert(market_tz(w.get("market")))
    except (TypeError, ValueError):
        return date + timing
    utc = t.strftime("%H:%M UTC") if t.date() == loc.date() else t.strftime("%Y-%m-%d %H:%M UTC")
    return esc(f"{loc.strftime('%Y-%m-%d %H:%M')} {loc.tzname()} ({utc})") + timing


# ---------------------------------------------------------------------- page
CSS = """
:root{--ink:#1d1d1d;--muted:#5a5a5a;--rule:#d9d9d9;--accent:#0072B2;--warn:#D55E00}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);margin:0;
 line-height:1.45;font-size:15px;background:#fff}
main{max-width:1400px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.8rem;margin:.6rem 0 .2rem}h1 .sub{font-size:1rem;color:var(--muted);font-weight:normal}
h2{font-size:1.35rem;border-bottom:2px solid var(--ink);padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.08rem;margin:1.6rem 0 .2rem}
.explain{color:var(--muted);margin:.1rem 0 .6rem;font-size:.93rem}
.note{font-size:.88rem;color:var(--muted);margin:.2rem 0}
.lede{font-size:1.05rem;margin:.2rem 0 .4rem}
.banner{background:#fff4e5;border:3px solid var(--warn);color:#000;padding:.7rem 1rem;margin:.8rem 0;font-size:1.02rem}
.banner strong{color:var(--warn);letter-spacing:.04em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.4rem 0 .8rem;font-size:.92rem}
dl.facts dt{font-weight:600;color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
details.config{margin:.5rem 0}details.config summary{cursor:pointer;color:var(--accent);font-weight:600}
pre{background:#f6f6f6;border:1px solid var(--rule);padding:.7rem;overflow:auto;max-height:32rem;font-size:.82rem}
code{font-size:.88em}
nav.toc{font-size:.88rem;border:1px solid var(--rule);padding:.4rem .9rem;margin:1rem 0}
nav.toc ul{margin:0;padding:0;list-style:none}nav.toc li{margin:.1rem 0}nav.toc li>a:first-child{font-weight:600}
nav.toc a{color:var(--accent);text-decoration:none}nav.toc a:hover{text-decoration:underline}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.88rem;margin:.3rem 0 .6rem;font-variant-numeric:tabular-nums}
th,td{padding:.28rem .55rem;border-bottom:1px solid var(--rule);text-align:left;vertical-align:top}
th{border-bottom:2px solid #888;background:#fafafa;vertical-align:bottom}
td.n,th.n{text-align:right}td.n{white-space:nowrap}td{overflow-wrap:break-word}.nw{white-space:nowrap}
tbody tr:nth-child(even){background:#fbfbfb}
.params{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem;color:#333}
.na{color:#888}.empty{color:var(--muted);font-style:italic}.ok{color:#006b4f}
.chart{width:100%;min-height:200px;margin:.2rem 0 .8rem}
.section-error{border:2px solid var(--warn);padding:.5rem;margin:.5rem 0;background:#fff4e5}
ul.warnings li{color:#8a3b00}
section.strategy{margin-top:2.5rem}
footer{margin-top:3rem;color:var(--muted);font-size:.85rem;border-top:1px solid var(--rule);padding-top:.6rem}
@media print{body{font-size:11pt}main{max-width:none;padding:0}nav.toc{display:none}
 .chart,table,section h3{break-inside:avoid}details.config pre{max-height:none}.banner{border-width:2px}}
"""

ERROR_HOOK = """(function(){var errs=[];window.__scareErrors=errs;function note(m){errs.push(String(m));
var b=document.body;if(b){b.setAttribute('data-js-errors',String(errs.length));}}
window.addEventListener('error',function(e){note(e.message||e);});
window.addEventListener('unhandledrejection',function(e){note(e.reason||'unhandled rejection');});
var ce=console.error;console.error=function(){note(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();"""

BOOT = """(function(){var figs=JSON.parse(document.getElementById('scare-figures').textContent);
var cfg={responsive:true,displaylogo:false,typesetMath:false,showLink:false,showSendToCloud:false,showEditInChartStudio:false,
 modeBarButtonsToRemove:['select2d','lasso2d'],toImageButtonOptions:{format:'png',scale:2}};
var divs=document.querySelectorAll('div.chart[data-fig]'),done=0,failed=0;
function finish(){document.body.setAttribute('data-charts',divs.length+'/'+done+'/'+failed);
 document.body.setAttribute('data-js-errors',String((window.__scareErrors||[]).length));}
if(typeof Plotly==='undefined'){divs.forEach(function(d){d.textContent='Charts could not load (plotly.js missing).';});failed=divs.length;finish();return;}
divs.forEach(function(div){var f=figs[div.getAttribute('data-fig')];
 try{Plotly.newPlot(div,f.data,f.layout,cfg).then(function(){done++;div.setAttribute('data-drawn','1');finish();},
   function(e){failed++;div.textContent='Chart failed: '+e;console.error(e);finish();});}
 catch(e){failed++;div.textContent='Chart failed: '+e;console.error(e);finish();}});
finish();})();"""


def render_tearsheet(metrics: dict[str, Any], manifest: dict[str, Any], returns: pd.DataFrame,
                     weights: pd.DataFrame, orders: pd.DataFrame, benchmark: pd.DataFrame | None = None,
                     *, plotly_js: str | None = None) -> str:
    """Render a run (the contents of its folder) as one self-contained HTML page.

    ``plotly_js`` overrides the embedded plotly.js bundle (tests pass a stub to stay fast);
    by default it is ``plotly.offline.get_plotlyjs()``, included once.
    """
    manifest = manifest or {}
    metrics = metrics or {}
    page = Page()
    view = StudyView(metrics, returns, benchmark)
    head = guarded("Header", lambda: header(page, metrics, manifest))
    for sv in view.strategies:
        sv.anchor = page.anchor(f"Strategy {sv.label}")
    # the strategy anchors go after the summary in the table of contents
    strat_toc = list(page.toc)
    page.toc.clear()
    summ = guarded("Summary", lambda: summary(page, view))
    summary_toc = list(page.toc)
    page.toc.clear()
    bodies = []
    for sv, entry in zip(view.strategies, strat_toc):
        page.toc.append(entry)
        bodies.append(guarded(f"Strategy {sv.label}", lambda sv=sv: strategy_section(page, view, sv, orders)))
    data = guarded("Data", lambda: data_section(page, view))
    toc = summary_toc + page.toc
    lines: list[list[str]] = []
    for sid, text, lvl in toc:
        link = f'<a href="#{esc(sid)}">{esc(text)}</a>'
        if lvl == 2 or not lines:
            lines.append([link])
        else:
            lines[-1].append(link)
    nav = "".join(f"<li>{ln[0]}{': ' + ' · '.join(ln[1:]) if len(ln) > 1 else ''}</li>" for ln in lines)
    if plotly_js is None:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs()
    try:
        from importlib.metadata import version

        scare_version = version("scare")
    except Exception:  # noqa: BLE001
        scare_version = "?"
    synthetic = " [SYNTHETIC]" if metrics.get("synthetic") else ""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'\">"
        f"<title>{esc(metrics.get('study') or 'scare')}{synthetic} \u2013 scare tearsheet</title>"
        f"<style>{CSS}</style><script>{ERROR_HOOK}</script></head>\n<body><main>"
        f"{head}<nav class=\"toc\" aria-label=\"Contents\"><ul>{nav}</ul></nav>{summ}{''.join(bodies)}{data}"
        f"<footer>Generated by scare {esc(scare_version)} from the run's saved results "
        f"(<code>scare report RUN_DIR</code> redraws it). One file, no network requests. "
        f"Colors: Okabe-Ito palette ({', '.join(LINE_COLORS[:3])}, …).</footer></main>\n"
        f"<script type=\"application/json\" id=\"scare-figures\">{script_json(page.figures)}</script>\n"
        f"<script>{plotly_js}</script>\n<script>{BOOT}</script>\n</body></html>\n"
    )
