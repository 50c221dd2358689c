"""The pair exposure block and the exchange-state line of a strategy section.

Both read ``metrics.json`` only: ``strategies[].exposure`` (net and gross exposure of each shown
episode, written by :mod:`backtests.scoring.pair_exposure`) and ``strategies[].execution.exchange_state``
(what the engine's exchange state was derived from, written by the engine's rules). Nothing here
is computed from the weights.
"""

from __future__ import annotations

from typing import Any

from backtests.report.charts import _axis, base_layout
from backtests.report.fmt import LINE_COLORS, esc, pct
from backtests.report.page import Page, fold, grid, na, table
from backtests.report.view import StrategyView

#: More episodes than this are listed in the table but not drawn (the figure stays readable).
MAX_LINES = 24


def state_line(sv: StrategyView) -> str:
    """``exchange state`` fact: per traded symbol, where its state came from (or that there is none)."""
    st = sv.execution.get("exchange_state")
    if not isinstance(st, dict):
        return ""
    if not st.get("enabled", False):
        return "<b>exchange state</b> off (fills ignore halts, price limits and short-sale bans)"
    said: dict[str, list[str]] = {}  # what is said of a symbol -> the symbols it is said of
    for sym, rec in sorted((st.get("symbols") or {}).items()):
        src = rec.get("derived_from", "?")
        if src == "none":
            said.setdefault(f"none ({esc(rec.get('note', ''))})", []).append(esc(sym))
            continue
        halts = len(rec.get("halts_utc") or [])
        bans = rec.get("short_sale_bans") or []
        extra = [f"{halts} halt{'s' if halts != 1 else ''}"] if halts else []
        if bans:
            extra.append("short-sale bans " + ", ".join(esc(b) for b in bans))
        said.setdefault(f"from {esc(src.replace('+', ', '))}" + (f" ({'; '.join(extra)})" if extra else ""),
                        []).append(esc(sym))
    parts = [f"{', '.join(syms)}: {what}" for what, syms in said.items()]
    return "<b>exchange state</b> " + "; ".join(parts)


def exposure_block(page: Page, sv: StrategyView, combo: int | None) -> str:
    """Net and gross exposure of each episode of the shown set, against hours from the event."""
    ex = sv.summary.get("exposure")
    if not isinstance(ex, dict):
        return ""
    episodes = (ex.get("combos") or {}).get(str(combo)) if combo is not None else None
    if not episodes:
        return na("No per-bar weights saved for this set: its exposure cannot be shown.")
    data: list[dict[str, Any]] = []
    for i, ep in enumerate(episodes[:MAX_LINES]):
        color = LINE_COLORS[i % len(LINE_COLORS)]
        name = esc(ep["window"])
        for key, dash, show in (("net", "solid", True), ("gross", "dot", False)):
            data.append({"type": "scatter", "mode": "lines", "name": name, "x": ep["hours"], "y": ep[key],
                         "legendgroup": name, "showlegend": show, "line": {"color": color, "width": 1.5, "dash": dash,
                                                                           "shape": "hv"},
                         "customdata": ep["time"],
                         "hovertemplate": f"{name} {key}: %{{y:.1%}}<br>%{{customdata}}<extra></extra>"})
    layout = base_layout(250, xaxis=_axis(title={"text": "hours from the event (its time_utc)"}, zeroline=True,
                                           zerolinecolor="#999"),
                         yaxis=_axis(tickformat=".0%", title={"text": "exposure (fraction of equity)"},
                                     zeroline=True, zerolinecolor="#999"))
    fig = page.chart({"data": data, "layout": layout}, f"{sv.label}-exposure",
                     f"{sv.label}: net (solid) and gross (dotted) exposure per episode")
    rows = [[esc(ep["window"]), pct(ep["net_min"], signed=True), pct(ep["net_max"], signed=True), pct(ep["gross_max"])]
            for ep in episodes]
    more = (f" {len(episodes) - MAX_LINES:,d} more episode(s) are in the table only." if len(episodes) > MAX_LINES
            else "")
    note = f'<p class="note">{esc(ex.get("definition", ""))}.{more}</p>'
    summary = f"Each episode's lowest and highest net and highest gross exposure ({len(episodes):,d} episodes)"
    return grid(fig, fold(summary, table(["Window", "Net min", "Net max", "Gross max"], rows) + note))
