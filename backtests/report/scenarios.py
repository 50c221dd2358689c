"""The tearsheet's SCENARIO section: drawn from metrics.json ``scenarios``, computing nothing.

Every chart of the section carries the generator's label (``SCENARIO <family> seed=<seed>
spec=<digest>``) instead of the data label, and the section stands apart from the market-data
sections: no scenario number enters a pooled figure.
"""

from __future__ import annotations

from typing import Any

from backtests.report.charts import _axis, base_layout
from backtests.report.fmt import esc
from backtests.report.page import Page, fold, section, table

ROWS_SHOWN = 10


def _pct(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{100.0 * float(x):.{digits}f}%"


def _num(x: Any) -> str:
    return "–" if x is None else f"{float(x):g}"


def heatmap(st: dict[str, Any], events: dict[str, Any]) -> dict[str, Any]:
    """Mean return of the chosen combination over the two surface axes, the break-even points and
    the real events placed on the same axes."""
    s = st["surface"]
    z = [[None if v is None else 100.0 * v for v in row] for row in s["z"]]
    data: list[dict[str, Any]] = [{
        "type": "heatmap", "x": s["x_values"], "y": s["y_values"], "z": z, "colorscale": "RdBu", "zmid": 0,
        "colorbar": {"title": {"text": "mean return %"}}, "name": "scenarios",
        "hovertemplate": f"{esc(s['x'])} %{{x}}<br>{esc(s['y'])} %{{y}}<br>mean %{{z:.2f}}%<extra></extra>"}]
    if st["break_even"]:
        data.append({"type": "scatter", "mode": "markers", "name": "break-even (interpolated)",
                     "x": [p[0] for p in st["break_even"]], "y": [p[1] for p in st["break_even"]],
                     "marker": {"symbol": "x", "color": "#000", "size": 9}})
    placed = [p for p in events.get("points", []) if p.get("placed")]
    if placed:
        data.append({"type": "scatter", "mode": "markers+text", "name": "real events", "textposition": "top center",
                     "x": [p["x"] for p in placed], "y": [p["y"] for p in placed],
                     "text": [p["date"] for p in placed], "textfont": {"size": 10},
                     "marker": {"symbol": "diamond-open", "color": "#E69F00", "size": 11, "line": {"width": 2}}})
    layout = base_layout(380, xaxis=_axis(title={"text": esc(s["x"])}), yaxis=_axis(title={"text": esc(s["y"])}))
    return {"data": data, "layout": layout}


def strategy_block(page: Page, st: dict[str, Any], record: dict[str, Any]) -> str:
    """One strategy's surface, rankings and worst scenarios."""
    axes = sorted(record["axes"])  # key order as metrics.json stores it (sorted): the same page live and redrawn
    chart = page.chart(heatmap(st, record["real_events"]), f"scenario-{st['strategy']}",
                       f"SCENARIO return surface: {st['strategy']} (combination {st['chosen_combo']})")
    params = ", ".join(f"{esc(k)}={esc(v)}" for k, v in sorted(st["chosen_params"].items()))
    lead = (f"<p>Chosen combination {st['chosen_combo']} (best worst decile): {params}. "
            f"<strong>{_pct(st['loss_fraction'], 1)}</strong> of {record['scenarios']} scenarios lose more than "
            f"{_pct(st['loss_threshold'], 1)}.</p>")
    combos = st["combos"][:ROWS_SHOWN]
    swept = [k for k in sorted(st["chosen_params"]) if len({repr(c["params"].get(k)) for c in st["combos"]}) > 1]
    rank = table(["combination (swept parameters)", "rank (worst decile)", "rank (mean)", "worst decile", "p10", "mean", "median",
                  f"loss > {_pct(st['loss_threshold'], 0)}", "traded"],
                 [[esc(", ".join(f"{k}={c['params'][k]}" for k in swept) or "the only one"), str(c["rank_worst_decile"]),
                   str(c["rank_mean"]), _pct(c["worst_decile"]), _pct(c["p10"]), _pct(c["mean"]), _pct(c["median"]),
                   _pct(c["loss_fraction"], 1), _pct(c["traded_fraction"], 0)] for c in combos])
    worst = table(["scenario", *axes, "return", "realized depth", "first halt (UTC)", "first fill"],
                  [[str(w["scenario"]), *[_num(w["params"].get(a)) for a in axes], _pct(w["total_return"]),
                    _pct(w["realized_depth"]), esc(w["first_halt_utc"] or "none"),
                    esc(f"{w['first_fill_kind']} {_num(w['first_fill_price'])}" if w["first_fill_kind"] else "none")]
                   for w in st["worst"]])
    return (f"<h3>{esc(st['strategy'])}</h3>{lead}{chart}"
            + fold(f"Parameter sets ranked by worst decile and by mean (top {len(combos)} of {len(st['combos'])})",
                   rank)
            + fold(f"The {len(st['worst'])} worst scenarios of the chosen combination", worst))


def scenario_section(page: Page, metrics: dict[str, Any]) -> str:
    """The SCENARIO section, or '' for a study without scenarios."""
    rec = metrics.get("scenarios")
    if not rec:
        return ""
    saved = page.data_label, page.synthetic
    page.data_label, page.synthetic = rec["label"], True
    try:
        sid = page.anchor("SCENARIO results")
        axes = "; ".join(f"{esc(k)} {', '.join(_num(v) for v in vals)} ({esc(rec['units'][k])})"
                         for k, vals in sorted(rec["axes"].items()))
        ev = rec["real_events"]
        explain = (f"<strong>{esc(rec['label'])}</strong>: generated crash paths, not market data, never pooled with "
                   f"the results above. {rec['scenarios']} scenarios ({rec['grid_points']} grid points x "
                   f"{rec['replicates']} replicates, streams {esc(rec['streams'])}) of {esc(rec['family'])} on "
                   f"{esc(rec['date'])}, {esc(', '.join(rec['symbols']))}; axes: {axes}. Halts, auctions and limits "
                   f"come from the exchange rules ({_pct(rec['halted_fraction'], 0)} of scenarios halted). "
                   f"Real events: {esc(ev['origin'])}{' (SYNTHETIC data)' if ev.get('synthetic_data') else ''}.")
        body = "".join(strategy_block(page, st, rec) for st in rec["strategies"])
        return section("SCENARIO results", explain, body, sid)
    finally:
        page.data_label, page.synthetic = saved


__all__ = ["scenario_section", "heatmap", "strategy_block"]
