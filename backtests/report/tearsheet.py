"""The HTML tearsheet: one self-contained file that opens offline and answers, on its first
screen, "does this trade work across shocks, and how sure am I".

``render_tearsheet`` takes exactly what a run folder holds (:class:`~backtests.report.view.SavedRun`)
and returns the page as text. It reads what scoring computed and computes none of it: pooled
metrics, drawdowns, VaR/CVaR from metrics.json, the pooled series and its paths from
pooled.parquet (a scare 0.2 folder has none: the page says which charts it omits). The page has:

- a compact header (study, data label with a SYNTHETIC banner when it is, config hash, versions,
  the config collapsed),
- the verdict (:mod:`backtests.report.verdict`): per strategy, event-level results, out of
  sample, DSR and PBO, against its matched and buy-and-hold baselines; the run's named warnings
  and the look-ahead audit's verdict (exhaustive or partial, from manifest.json),
- per strategy (:mod:`backtests.report.strategy`): event sections, returns and risk, trade
  statistics and costs, the sweep; buy-and-hold baselines on the same windows folded in,
- the data: symbols, sources, date ranges, warnings, windows and the closures inside them.

plotly.js is embedded once (``plotly.offline.get_plotlyjs()``); nothing is fetched. Figures are
JSON in one ``<script type="application/json">`` element, escaped so data cannot close it. Each
section is rendered on its own: a section that fails shows its error and the rest still renders.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from backtests.report.fmt import LINE_COLORS, count, esc, num, script_json
from backtests.report.page import BOOT, CSS, ERROR_HOOK, Page, fold, guarded, section, table
from backtests.report.strategy import strategy_section
from backtests.report.verdict import audit_block, verdict, warnings_block
from backtests.report.view import NO_POOLED_FILE, SavedRun, StudyView


def data_label(metrics: dict[str, Any]) -> tuple[str, bool]:
    """(the label every chart carries, synthetic?): SYNTHETIC DATA, or the real sources."""
    data = metrics.get("data") or {}
    synthetic = bool(metrics.get("synthetic") or data.get("synthetic"))
    if synthetic:
        return "SYNTHETIC DATA", True
    # "cache:import (EWY.csv sha256:...)" -> "cache:import": the kind of source; the fingerprint
    # names the exact data (the symbol table and manifest.json list every file)
    sources = sorted({str(s.get("source")).split(" (", 1)[0] for s in data.get("symbols") or []
                      if isinstance(s, dict) and s.get("source")})
    text = "Market data: " + (", ".join(sources) if sources else str(data.get("source") or "unknown source"))
    fp = data.get("fingerprint")
    if isinstance(fp, str) and fp:
        text += f" · data {fp[:8]}"
    return text[:90], False


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
    line = " · ".join([
        f'<b>data</b> {esc(data.get("source") or "?")}: {esc(data.get("label") or "")}'
        f'{" (" + esc(data.get("frequency")) + ")" if data.get("frequency") else ""}',
        f'<b>runs</b> {count(len(metrics.get("runs") or []))} ({count(len(metrics.get("pooled") or []))} parameter sets, '
        f'{count(len(metrics.get("windows") or []))} windows'
        f'{", " + num(manifest.get("elapsed_seconds"), digits=1) + " s" if manifest.get("elapsed_seconds") is not None else ""})',
        f'<b>run at</b> {esc((manifest.get("run_at_utc") or "unknown").replace("T", " ").replace("+00:00", " UTC"))}',
        f'<b>config</b> {esc(manifest.get("config_path") or "")} hash <code>{esc(metrics.get("config_hash") or manifest.get("config_hash"))}</code>'
        f'{" seed " + esc(manifest.get("seed")) if manifest.get("seed") is not None else ""}',
    ])
    desc = f'<p class="lede">{esc(metrics.get("description"))}</p>' if metrics.get("description") else ""
    more = (f'<dl class="facts"><dt>Versions</dt><dd>{vers}'
            f'{" · Python " + esc(manifest.get("python")) if manifest.get("python") else ""}'
            f'{" · " + esc(manifest.get("platform")) if manifest.get("platform") else ""}</dd></dl>'
            + (f"<pre>{esc(cfg_text)}</pre>" if cfg_text else ""))
    return (f'<header id="top"><h1>{esc(metrics.get("study") or "scare study")} '
            f'<span class="sub">scare tearsheet</span></h1>{banner}{desc}'
            f'<p class="facts-line">{line}</p>{fold("Study config (as run) and versions", more)}</header>')


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
                      esc(w.get("market") or ""), event_when(w, view.market_tz(w.get("market"))),
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
    body = (head + fold(f"Symbols ({len(rows):,d})", sym_table) + "<h3>Warnings from the data</h3>" + warn
            + fold(f"Shock windows ({len(wrows):,d}) and the closures and halts inside them",
                   "<p class=\"explain\">Windows count sessions of the event's market; weekdays without a session "
                   "inside a window (holidays, closures) are listed: nothing traded on that market then.</p>" + win_table))
    return section("Data", "Which prices the results rest on: symbols, sources and date ranges, what the loader "
                   "flagged, and the closures and halts inside the windows.", body, page.anchor("Data"))


def event_when(w: dict[str, Any], tz: str) -> str:
    """'2025-01-27 09:29 EST (14:29 UTC) before_open' with the UTC date when it differs (``tz``: the
    window's market's zone)."""
    ev, date = w.get("event_time_utc"), esc(w.get("event_date") or "")
    timing = f'<br><span class="params">{esc(w.get("timing") or "")}</span>' if w.get("timing") else ""
    if not ev:
        return date + timing
    try:
        t = pd.Timestamp(ev)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        loc = t.tz_convert(tz)
    except (TypeError, ValueError):
        return date + timing
    utc = t.strftime("%H:%M UTC") if t.date() == loc.date() else t.strftime("%Y-%m-%d %H:%M UTC")
    return esc(f"{loc.strftime('%Y-%m-%d %H:%M')} {loc.tzname()} ({utc})") + timing


def render_tearsheet(run: SavedRun, *, plotly_js: str | None = None) -> str:
    """Render a run (the contents of its folder) as one self-contained HTML page.

    ``plotly_js`` overrides the embedded plotly.js bundle (tests pass a stub to stay fast);
    by default it is ``plotly.offline.get_plotlyjs()``, included once.
    """
    manifest = run.manifest or {}
    metrics = run.metrics or {}
    orders = run.orders
    label_text, synthetic = data_label(metrics)
    page = Page(label_text, synthetic)
    view = StudyView(run)
    head = guarded("Header", lambda: header(page, metrics, manifest))
    if not view.has_pooled_file and metrics.get("pooled"):
        head += f'<p class="banner" role="note"><strong>Older run folder.</strong> {esc(NO_POOLED_FILE)}.</p>'
    shown = [sv for sv in view.strategies if not sv.baseline_for]
    for sv in view.strategies:
        sv.anchor = page.anchor(f"Strategy {sv.label}") if not sv.baseline_for else ""
    for sv in view.strategies:
        if sv.baseline_for:
            sv.anchor = next(h.anchor for h in view.strategies if h.label == sv.baseline_for)
    strat_toc = list(page.toc)
    page.toc.clear()
    verd = guarded("Verdict", lambda: verdict(page, view, guarded("Warnings", lambda: warnings_block(view)),
                                              guarded("Audit", lambda: audit_block(manifest))))
    bodies = [guarded(f"Strategy {sv.label}", lambda sv=sv: strategy_section(page, view, sv, orders)) for sv in shown]
    data = guarded("Data", lambda: data_section(page, view))
    toc = [e for e in [("s-verdict", "Verdict", 2)] + strat_toc + [e for e in page.toc if e[2] == 2 and e[0] == "s-data"]]
    nav = " · ".join(f'<a href="#{esc(sid)}">{esc(text.replace("Strategy ", ""))}</a>' for sid, text, _ in toc)
    if plotly_js is None:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs()
    try:
        from importlib.metadata import version

        scare_version = version("scare")
    except Exception:  # noqa: BLE001
        scare_version = "?"
    synthetic_tag = " [SYNTHETIC]" if metrics.get("synthetic") else ""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'\">"
        f"<title>{esc(metrics.get('study') or 'scare')}{synthetic_tag} \u2013 scare tearsheet</title>"
        f"<style>{CSS}</style><script>{ERROR_HOOK}</script></head>\n<body><main>"
        f"{head}{verd}<nav class=\"toc\" aria-label=\"Contents\">Contents: {nav}</nav>{''.join(bodies)}{data}"
        f"<footer>Generated by scare {esc(scare_version)} from the run's saved results "
        f"(<code>scare report RUN_DIR</code> redraws it). One file, no network requests. "
        f"Colors: Okabe-Ito palette ({', '.join(LINE_COLORS[:3])}, …).</footer></main>\n"
        f"<script type=\"application/json\" id=\"scare-figures\">{script_json(page.figures)}</script>\n"
        f"<script>{plotly_js}</script>\n<script>{BOOT}</script>\n</body></html>\n"
    )
