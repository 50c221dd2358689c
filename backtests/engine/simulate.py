"""Simulate target weights with vectorbt: every (window, combination) is one column group.

Windows have different numbers of rows; they are stacked side by side by *row position* (row 0 is
each window's first bar) and padded at the end with no orders and frozen prices, so one
``Portfolio.from_orders`` call simulates all combinations x windows of a strategy.

Borrow on shorts and yield on longs accrue on calendar time between rows and are taken out of (or
added to) each row's return after the simulation; they do not compound inside vectorbt's cash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.engine.costs import SymbolCosts
from backtests.engine.schedule import AssetBars, WindowSchedule, decision_arrays, window_schedule
from backtests.windows import Window

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9


@dataclass
class WindowResult:
    """Simulated paths of one window for all combinations.

    Attributes
    ----------
    stamps
        (rows,) UTC stamps (int64 ns) of the window's sim rows.
    returns
        (rows, combos) per-row simple returns of portfolio value, net of fees, slippage, borrow
        and yield; row 0 is relative to the initial cash.
    held
        (rows, combos, symbols) weight of each asset in portfolio value at the end of each row.
    target
        (rows, combos, symbols) target weight in force after each row's fills.
    entries
        (combos,) positions opened.
    traded_value
        (combos,) sum of |fill value| over all orders, USD.
    mean_value
        (combos,) average portfolio value over the rows, USD.
    orders
        Order records: combo, symbol, row, size (units), price (USD), fees (USD), side, fill_time
        (int64 ns: the bar's open instant when filled at the open, else its close stamp).
    """

    window: Window
    stamps: np.ndarray
    returns: np.ndarray
    held: np.ndarray
    target: np.ndarray
    entries: np.ndarray
    traded_value: np.ndarray
    mean_value: np.ndarray
    orders: pd.DataFrame


def asset_bars(data: MarketData, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> AssetBars:
    """A symbol's bars in USD stamped in ``(start, end]``."""
    frame = data.require(symbol)
    part = frame.loc[(frame.index > start) & (frame.index <= end)]
    close = data.to_usd(symbol, "close").reindex(part.index).to_numpy(dtype="float64")
    valid = np.isfinite(close)
    if "open" in part.columns:
        opn = data.to_usd(symbol, "open").reindex(part.index).to_numpy(dtype="float64")
    else:
        opn = np.full(len(part), np.nan)
    return AssetBars(
        stamps=part.index.asi8[valid], open_times=pd.DatetimeIndex(part["open_time"]).as_unit("ns").asi8[valid],
        open=opn[valid], close=close[valid],
    )


def _accruals(stamps: np.ndarray, held: np.ndarray, costs: list[SymbolCosts]) -> np.ndarray:
    """(rows, combos) borrow minus yield as a fraction of value, per row (row 0 is 0)."""
    dt = np.diff(stamps, prepend=stamps[:1]).astype("float64") / NS_PER_YEAR  # years
    borrow = np.array([c.borrow_rate for c in costs])
    yld = np.array([c.long_yield for c in costs])
    prev = np.concatenate([np.zeros_like(held[:1]), held[:-1]], axis=0)  # weights held over the row
    rate = np.clip(-prev, 0, None) @ borrow - np.clip(prev, 0, None) @ yld  # (rows, combos)
    return rate * dt[:, None]


def simulate(
    data: MarketData,
    symbols: list[str],
    weights: pd.DataFrame,
    n_combos: int,
    windows: list[Window],
    costs: dict[str, SymbolCosts],
    fill: str = "open",
    init_cash: float = 1_000_000.0,
    exit_at_window_end: bool = True,
) -> list[WindowResult]:
    """Simulate a strategy's target weights over windows for all its combinations at once.

    Parameters
    ----------
    weights
        Target weights, index: UTC decision stamps; columns MultiIndex (combo, symbol) with combos
        0..n_combos-1 and the symbols of ``symbols``.
    windows
        Windows to simulate; each starts flat with ``init_cash`` USD.

    Returns
    -------
    list of WindowResult
        One per window, in the order given.
    """
    import vectorbt as vbt  # heavy import kept out of the CLI's fast paths

    tau, values, changed_at = decision_arrays(weights, n_combos, symbols)
    sym_costs = [costs[s] for s in symbols]
    schedules: list[WindowSchedule] = []
    for win in windows:
        bars = [asset_bars(data, s, win.start_utc, win.end_utc) for s in symbols]
        rows = np.unique(np.concatenate([b.stamps for b in bars])) if bars else np.array([], dtype=np.int64)
        schedules.append(window_schedule(rows, bars, tau, values, changed_at, sym_costs, fill, exit_at_window_end))

    n_syms = len(symbols)
    width = n_combos * n_syms
    n_rows = max((len(s.stamps) for s in schedules), default=0)
    n_cols = len(windows) * width
    close = np.ones((n_rows, n_cols))
    size = np.full((n_rows, n_cols), np.nan)
    price = np.full((n_rows, n_cols), np.nan)
    fees = np.zeros((n_rows, n_cols))
    for w, sch in enumerate(schedules):
        r = len(sch.stamps)
        sl = slice(w * width, (w + 1) * width)
        if r == 0:
            continue
        c = np.tile(sch.close, (1, n_combos))  # (rows, combos*syms), combo-major like size
        close[:r, sl] = c
        close[r:, sl] = c[-1]
        size[:r, sl] = sch.size.reshape(r, width)
        price[:r, sl] = sch.price.reshape(r, width)
        fees[:r, sl] = sch.fees.reshape(r, width)
    slippage = np.tile(np.array([c.slippage for c in sym_costs]), len(windows) * n_combos)
    group_by = np.repeat(np.arange(len(windows) * n_combos), n_syms)

    pf = vbt.Portfolio.from_orders(
        close=pd.DataFrame(close), size=size, size_type="targetpercent", price=price,
        fees=fees, slippage=slippage[None, :], direction="both", init_cash=init_cash,
        cash_sharing=True, group_by=group_by, call_seq="auto", freq="1D",
    )
    # vectorbt returns a Series for a single group/column: force 2-D
    value = np.asarray(pf.value()).reshape(n_rows, len(windows) * n_combos)  # (rows, groups)
    asset_value = np.asarray(pf.asset_value(group_by=False)).reshape(n_rows, n_cols)  # (rows, cols)
    rec = pf.orders.values
    order_frame = pd.DataFrame({
        "col": rec["col"], "row": rec["idx"], "size": rec["size"], "price": rec["price"],
        "fees": rec["fees"], "side": np.where(rec["side"] == 0, "buy", "sell"),
    })

    results = []
    for w, (win, sch) in enumerate(zip(windows, schedules)):
        r = len(sch.stamps)
        val = value[:r, w * n_combos:(w + 1) * n_combos]
        av = asset_value[:r, w * width:(w + 1) * width].reshape(r, n_combos, n_syms)
        held = np.divide(av, val[:, :, None], out=np.zeros_like(av), where=val[:, :, None] != 0)
        prev_val = np.vstack([np.full((1, n_combos), init_cash), val[:-1]]) if r else val
        rets = val / prev_val - 1.0
        rets = rets - _accruals(sch.stamps, held, sym_costs) if r else rets
        o = order_frame[(order_frame["col"] >= w * width) & (order_frame["col"] < (w + 1) * width)].copy()
        local = o["col"].to_numpy() - w * width
        o["combo"] = local // n_syms
        o["symbol"] = np.asarray(symbols, dtype=object)[local % n_syms] if len(o) else []
        o["fill_time"] = sch.fill_time[o["row"].to_numpy(), local // n_syms, local % n_syms] if len(o) else []
        o = o.drop(columns="col")
        traded = np.zeros(n_combos)
        np.add.at(traded, o["combo"].to_numpy(dtype=int), (o["size"] * o["price"]).abs().to_numpy())
        results.append(WindowResult(
            window=win, stamps=sch.stamps, returns=rets, held=held, target=sch.target,
            entries=sch.entries, traded_value=traded,
            mean_value=val.mean(axis=0) if r else np.full(n_combos, np.nan), orders=o.reset_index(drop=True),
        ))
    return results
