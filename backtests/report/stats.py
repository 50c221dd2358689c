"""What quantstats and pyfolio users expect, sized for short windows: the metrics of the pooled
(calendar-time) series with the annualization rule, the return distribution, drawdown periods,
rolling volatility and beta, trade statistics, and costs gross against net.

Everything about the pooled series is read from what scoring wrote: the metrics (VaR and CVaR
included) from metrics.json, the series and its paths (wealth, drawdown, rolling volatility and
beta) from pooled.parquet, the drawdown periods from ``strategies[].pooled_detail``. Nothing here
pools, compounds or measures a drawdown.

Annualization rule: an annualized figure (the metric registry's ``annualized`` keys: annual return
and volatility, Sharpe, Sortino, Calmar, alpha, information ratio) is shown only when the series it is computed on has at least one year
of periods (``n_periods >= periods_per_year``: 252 sessions, 365 crypto days, 2,190 4-hour crypto
bars); below that the page shows the per-period figure where the registry defines one (Sharpe, Sortino and
information ratio divided by sqrt(periods per year), volatility likewise) and a dash with the reason
for the rest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from backtests.report.charts import _axis, base_layout
from backtests.report.fmt import DASH, OKABE_ITO, count, esc, is_missing, label, metric, metric_text, num, pct
from backtests.report.page import Page, na, table, when
from backtests.scoring import registry
from backtests.report.view import POOLED_CHARTS, Chain, StrategyView, StudyView



def long_enough(n_periods: Any, ppy: float) -> bool:
    """The annualization rule: at least one year of periods (:func:`backtests.scoring.registry.annualizes`)."""
    return registry.annualizes(None if is_missing(n_periods) else float(n_periods), ppy)


def metric_cell(rec: dict[str, Any], key: str, ppy: float | None) -> str:
    """A pooled record's metric by the annualization rule (:func:`backtests.scoring.registry.shown_value`):
    annualized over a year of periods, per period (marked <sup>p</sup>) or a dash with the reason below."""
    m = rec.get("metrics") or {}
    reason = (rec.get("nan_reasons") or {}).get(key)
    v = m.get(key)
    info = registry.get(key)
    if info is not None and info.annualized and ppy is None:
        return f'<span class="na" title="periods per year not in this run\'s metrics.json">{DASH}</span>'
    shown, scale = registry.shown_value(key, None if is_missing(v) else float(v), m.get("n_periods"), ppy)
    if scale == registry.PER_PERIOD:
        text = pct(shown) if info.fmt == "pct" else num(shown, digits=3)
        return f'<span title="per period: {count(m.get("n_periods"))} periods, under one year ({ppy:,.0f})">{text}<sup>p</sup></span>'
    if scale == registry.NOT_SHOWN and not is_missing(v):
        return (f'<span class="na" title="not annualized: {count(m.get("n_periods"))} periods, under one year '
                f'({ppy:,.0f} periods)">{DASH}</span>')
    return metric(key, v, reason)


def sets_table(view: StudyView, sv: StrategyView, sets: list[tuple[str, dict[str, Any], float | None]]) -> str:
    """Rows: the sets (best, default, baselines); columns: the metrics."""
    out = ""
    for keys in registry.TEARSHEET_ROWS:
        head = ["Set"] + [label(k) for k in keys]
        out += table(head, [[esc(name)] + [metric_cell(rec, k, ppy) for k in keys] for name, rec, ppy in sets], "metrics", num_from=1)
    return (out
            + '<p class="note">On the calendar-time series (each UTC period once, overlapping windows averaged). '
              '<sup>p</sup>: per period, not annualized: the series is shorter than one year (docs/tearsheet.md). '
              'The last row is the risk of the position itself: the same figures, per period, over only the periods '
              'in which the set held a position, each averaged over the episodes holding one (flat periods and flat '
              'episodes do not dilute it).</p>')


# ---------------------------------------------------------------------- charts
def omitted(view: StudyView, what: str) -> str:
    """Why a chart of the pooled series is not drawn."""
    if not view.has_pooled_file:
        return na(f"{what}: not drawn, this run folder has no pooled.parquet (scare 0.2); {POOLED_CHARTS} need it.")
    return na(f"{what}: no pooled series saved for this set.")


def distribution_figure(ch: Chain, name: str, rec: dict[str, Any]) -> dict[str, Any]:
    """Histogram of the pooled returns with the pooled record's VaR and CVaR (5%) marked."""
    r = ch.returns[np.isfinite(ch.returns)]
    m = rec.get("metrics") or {}
    var, cvar = m.get("value_at_risk"), m.get("conditional_value_at_risk")
    nb = int(min(60, max(10, round(math.sqrt(len(r)) * 2))))
    data = [{"type": "histogram", "x": r, "nbinsx": nb, "name": esc(name), "marker": {"color": OKABE_ITO["blue"],
             "line": {"color": "#fff", "width": 0.5}}, "hovertemplate": "%{x}: %{y} periods<extra></extra>"}]
    marks = [(v, OKABE_ITO["vermillion"], d) for v, d in ((var, "dash"), (cvar, "dot")) if not is_missing(v)]
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": v, "x1": v, "y0": 0, "y1": 1,
               "line": {"color": c, "width": 1.5, "dash": d}} for v, c, d in (*marks, (0, "#666", "solid"))]
    text = (f"VaR 5% {metric_text('value_at_risk', var)} (dashed) · CVaR "
            f"{metric_text('conditional_value_at_risk', cvar)} (dotted) · {len(r):,d} periods")
    ann = [{"text": text, "xref": "paper", "yref": "paper", "x": 1, "y": 1, "xanchor": "right", "yanchor": "bottom",
            "showarrow": False, "font": {"size": 11, "color": "#555"}}]
    layout = base_layout(270, shapes=shapes, annotations=ann, showlegend=False, bargap=0.02,
                         xaxis=_axis(tickformat=".1%", title={"text": "return per period"}),
                         yaxis=_axis(title={"text": "periods"}))
    return {"data": data, "layout": layout}


def rolling_figure(ch: Chain, k: int, windows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from backtests.report.charts import _custom, _window_ticks

    x = list(range(len(ch.returns)))
    custom = _custom(ch, windows)
    data = [{"type": "scatter", "mode": "lines", "name": f"volatility per period ({k})", "x": x,
             "y": ch.rolling_volatility, "line": {"color": OKABE_ITO["blue"], "width": 2}, "customdata": custom,
             "hovertemplate": "vol %{y:.2%}<br>%{customdata[0]}<extra></extra>"}]
    if ch.rolling_beta is not None:
        data.append({"type": "scatter", "mode": "lines", "name": f"beta to benchmark ({k})", "x": x,
                     "y": ch.rolling_beta, "yaxis": "y2", "line": {"color": OKABE_ITO["orange"], "width": 2},
                     "customdata": custom, "hovertemplate": "beta %{y:.2f}<br>%{customdata[0]}<extra></extra>"})
    layout = base_layout(280, hovermode="x unified",
                         xaxis=_axis(title={"text": "calendar-time periods (event date at each window's start)"},
                                     **_window_ticks(ch, windows)),
                         yaxis=_axis(tickformat=".1%", title={"text": "volatility"}, rangemode="tozero"),
                         yaxis2=_axis(overlaying="y", side="right", title={"text": "beta"}, showgrid=False))
    return {"data": data, "layout": layout}


def rolling_block(page: Page, view: StudyView, sv: StrategyView, ch: Chain | None, combo: int | None) -> str:
    if ch is None:
        return omitted(view, "Rolling volatility and beta")
    rec = view.pooled_detail(sv, combo)
    k = rec.get("rolling_periods")
    if not isinstance(k, int) or ch.rolling_volatility is None:
        why = rec.get("rolling_reason") or "none saved"
        return na(f"No rolling volatility and beta: {esc(why)} ({len(ch.returns):,d} periods).")
    return (f'<p class="note">Window {k} periods on the calendar-time series; volatility per period.</p>'
            + page.chart(rolling_figure(ch, k, view.windows), f"{sv.label}-rolling", f"{sv.label}: rolling volatility and beta"))


def drawdown_table(view: StudyView, sv: StrategyView, combo: int | None) -> str:
    """The deepest drawdown periods of the set's pooled series (metrics.json ``pooled_detail``)."""
    rec = view.pooled_detail(sv, combo)
    if "drawdowns" not in rec:
        return omitted(view, "Drawdown periods")
    dds = [d for d in rec["drawdowns"] or [] if isinstance(d, dict)]
    if not dds:
        return '<p class="ok">No drawdown.</p>'
    rows = [[pct(d.get("depth")), when(d.get("start"), missing="start"), when(d.get("trough")),
             when(d.get("end"), missing="not recovered"), count(d.get("periods"))] for d in dds]
    return table(["Depth", "Peak (UTC)", "Trough", "Recovered", "Periods"], rows, right={0, 4})


# ---------------------------------------------------------------------- trades and costs
NO_TRADES_KEY = ("not in this run's metrics.json (no <code>strategies[].trades</code>: a run folder written before "
                 "scare counted each trade once); run the study again")


def trade_block(sv: StrategyView, combo: int | None) -> dict[str, Any] | None:
    """metrics.json ``strategies[].trades[combo]`` (each real trade once), or None."""
    rec = (sv.summary.get("trades") or {}).get(str(combo)) if combo is not None else None
    return rec if isinstance(rec, dict) else None


def trade_stats(block: dict[str, Any] | None) -> str:
    """The set's trade statistics as scoring wrote them (``trades[combo].stats``)."""
    if block is None:
        return na(f"Trade statistics: {NO_TRADES_KEY}.")
    st = block.get("stats") if isinstance(block.get("stats"), dict) else {}
    if not st.get("n_closed"):
        return na("No closed trades.")
    days = (lambda v: DASH if is_missing(v) else f"{float(v):,.1f} days")
    items = [("Closed trades (each counted once)", count(st.get("n_closed"))), ("Win rate", pct(st.get("win_rate"))),
             ("Average win", pct(st.get("average_win"))), ("Average loss", pct(st.get("average_loss"))),
             ("Payoff (avg win / avg loss)", num(st.get("payoff"))),
             ("Expectancy (mean per trade, before fees)", pct(st.get("expectancy"), signed=True)),
             ("Best / worst", f"{pct(st.get('best'))} / {pct(st.get('worst'))}"),
             ("Holding time, median", days(st.get("holding_days_median"))),
             ("Holding time, longest", days(st.get("holding_days_max")))]
    out = table(["Trade statistic", "Value"], [[esc(k), v] for k, v in items], right={1})
    merged = block.get("merged")
    if merged:
        out += (f'<p class="note">{count(merged)} round trip{"s" if merged != 1 else ""} of overlapping windows '
                'were the same trade (same symbol, same entry fill) and are counted once.</p>')
    return out


def trades_frame(block: dict[str, Any] | None) -> pd.DataFrame:
    """The set's trades (each once) as a frame for the tables and charts (times as UTC timestamps)."""
    cols = ["run", "window", "windows", "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price",
            "ret", "net_ret", "fees", "size", "entry_kind", "exit_kind"]
    recs = [t for t in (block or {}).get("trades") or [] if isinstance(t, dict)]
    if not recs:
        return pd.DataFrame(columns=cols)
    f = pd.DataFrame({
        "run": [t.get("run") for t in recs], "window": [t.get("window") for t in recs],
        "windows": [t.get("windows") or [] for t in recs], "symbol": [t.get("symbol") for t in recs],
        "side": [t.get("side") for t in recs],
        "entry_time": pd.to_datetime([t.get("entry_utc") for t in recs], utc=True),
        "entry_price": pd.to_numeric([t.get("entry_price") for t in recs], errors="coerce"),
        "exit_time": pd.to_datetime([t.get("exit_utc") for t in recs], utc=True),
        "exit_price": pd.to_numeric([t.get("exit_price") for t in recs], errors="coerce"),
        "ret": pd.to_numeric([t.get("return") for t in recs], errors="coerce"),
        "net_ret": pd.to_numeric([t.get("net_return") for t in recs], errors="coerce"),
        "fees": pd.to_numeric([t.get("fees") for t in recs], errors="coerce"),
        "size": pd.to_numeric([t.get("size") for t in recs], errors="coerce"),
        "entry_kind": [t.get("entry_kind") for t in recs], "exit_kind": [t.get("exit_kind") for t in recs]})
    return f[cols]


def costs_table(view: StudyView, sv: StrategyView, orders: pd.DataFrame, trades: pd.DataFrame) -> str:
    """Fees split into commission and sell tax, and the slippage inside the fill prices, estimated from
    the cost rates the engine charged (:meth:`StudyView.cost_rates`); borrow and financing are
    charged in the returns, not per order."""
    if orders is None or orders.empty:
        return na("No orders saved.")
    rates, source = view.cost_rates(sv)
    value = (orders["size"].abs() * orders["price"]).astype(float)
    fees = orders["fees"].astype(float) if "fees" in orders.columns else pd.Series(0.0, index=orders.index)
    comm = tax = slip = 0.0
    sells = orders["side"].astype(str).str.lower() == "sell"
    unknown = sorted(str(sym) for sym in orders["symbol"].unique() if str(sym) not in rates)
    for sym, idx in orders.groupby("symbol", sort=False).groups.items():
        rt = rates.get(str(sym)) or {}
        c, t, s = (float(rt.get(k) or 0.0) / 1e4 for k in ("commission_bps", "sell_tax_bps", "slippage_bps"))
        f, v, sl = fees.loc[idx], value.loc[idx], sells.loc[idx]
        share_tax = np.where(sl, t / (c + t) if c + t > 0 else 0.0, 0.0)
        tax += float((f * share_tax).sum())
        comm += float((f * (1 - share_tax)).sum())
        slip += float((v * np.where(sl, s / (1 - s), s / (1 + s))).sum()) if s < 1 else 0.0
    traded = float(value.sum())
    gross = trades["ret"].dropna() if len(trades) else pd.Series(dtype=float)
    net = trades["net_ret"].dropna() if len(trades) and "net_ret" in trades.columns else pd.Series(dtype=float)
    rows = [["Commission (fees)", num(comm), pct(comm / traded if traded else math.nan)],
            ["Sell tax (KRX)", num(tax), pct(tax / traded if traded else math.nan)],
            ["Slippage (in fill prices)", num(slip), pct(slip / traded if traded else math.nan)],
            ["Borrow and financing", '<span class="na" title="charged on calendar time in the returns, not itemized per order">in returns</span>', ""],
            ["<b>Total itemized</b>", f"<b>{num(comm + tax + slip)}</b>", pct((comm + tax + slip) / traded if traded else math.nan)]]
    out = table(["Cost (USD, this set's orders)", "USD", "of traded value"], rows, right={1, 2})
    if len(gross):
        out += (f'<p class="note">Mean trade return: gross of fees {pct(gross.mean(), signed=True)}, net of fees '
                f'{pct(net.mean(), signed=True) if len(net) else DASH} (slippage is in both: it is in the fill prices). '
                f'Traded value {num(traded, digits=0)} USD. Commission, tax and slippage are split with the '
                f'cost rates the engine charged (read from {esc(source)}).</p>')
    if unknown:
        out += (f'<p class="note">No cost rates saved for {esc(", ".join(unknown))}: their fees count as commission and '
                'no slippage is estimated.</p>')
    return out


def set_trades(orders: pd.DataFrame, sv: StrategyView, combo: int | None,
               view: StudyView | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None]:
    """(the orders of this set's trades, each trade once, with their fill ``kind``; its trades as
    scoring wrote them; the ``trades[combo]`` block). An order belongs to a trade when it is of the
    trade's run and symbol and fills between its entry and exit: the copies of a trade seen from an
    overlapping window are left out, so costs count each trade once."""
    from backtests.report.view import fill_kinds

    block = trade_block(sv, combo)
    trades = trades_frame(block)
    empty = pd.DataFrame(columns=list(orders.columns) if orders is not None else [])
    if orders is None or orders.empty or trades.empty:
        return empty, trades, block
    o = orders.assign(_i=np.arange(len(orders)), run=orders["run"].astype(str), symbol=orders["symbol"].astype(str),
                      _t=pd.to_datetime(orders["fill_time"] if "fill_time" in orders.columns else orders["time"], utc=True))
    t = trades[["run", "symbol", "entry_time", "exit_time"]].astype({"run": str, "symbol": str})
    m = o.merge(t, on=["run", "symbol"], how="inner")
    end = m["exit_time"].fillna(pd.Timestamp.max.tz_localize("UTC"))
    keep = np.unique(m.loc[(m["_t"] >= m["entry_time"]) & (m["_t"] <= end), "_i"].to_numpy())
    sub = orders.iloc[keep]
    if len(sub):
        markets = {k: str(v.get("market")) for k, v in view.symbols.items()} if view is not None else {}
        sub = sub.assign(kind=fill_kinds(sub, markets, view.market_tz if view is not None else None))
    return sub, trades, block


__all__ = ["sets_table", "distribution_figure", "rolling_block", "drawdown_table", "trade_stats", "costs_table",
           "set_trades", "trade_block", "trades_frame", "long_enough", "omitted"]
