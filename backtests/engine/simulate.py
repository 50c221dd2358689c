"""Simulate target weights with vectorbt's order kernel: every (window, combination) is one group.

Windows have different numbers of rows; they are stacked side by side by *row position* (row 0 is
each window's first bar) and padded at the end with no orders and frozen prices, so one call of
vectorbt's compiled ``simulate_from_orders`` kernel simulates all combinations x windows of a
chunk. Only the kernel is used: cash, positions and portfolio value are recomputed here from its
order records with numpy (vectorbt's pandas-facing ``Portfolio`` layer cost more than the kernel
itself and copied every array).

Borrow on shorts and yield on longs accrue on calendar time between rows and are taken out of (or
added to) each row's return after the simulation; they do not compound inside the simulated cash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.engine.costs import SymbolCosts
from backtests.engine.kernels import DIRECTION_BOTH, SIZE_TARGET_PERCENT, from_orders
from backtests.engine.schedule import AssetBars, ScheduleArrays, decision_arrays, window_schedule
from backtests.windows import Window

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
#: vectorbt's default minimum order size (kept so results match ``Portfolio.from_orders``).
MIN_SIZE = 1e-8


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
        (rows, combos, symbols) weight of each asset in portfolio value at each row's close, or
        None when weights are not kept.
    target
        (rows, combos, symbols) target weight in force after each row's fills, or None.
    entries
        (combos,) positions opened.
    exposure
        (combos,) fraction of rows ending with a non-zero position.
    turnover
        (combos,) traded value / mean portfolio value over the window.
    orders
        Order records: combo, symbol, row, size (units), price (USD), fees (USD), side, fill_time
        (int64 ns: the bar's open instant when filled at the open, else its close stamp).
    """

    window: Window
    stamps: np.ndarray
    returns: np.ndarray
    held: np.ndarray | None
    target: np.ndarray | None
    entries: np.ndarray
    exposure: np.ndarray
    turnover: np.ndarray
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


def _kernel(close: np.ndarray, size: np.ndarray, price: np.ndarray, fees: np.ndarray, slippage: np.ndarray,
            n_syms: int, init_cash: float, engine: str | None = None) -> np.ndarray:
    """Run vectorbt's compiled from-orders kernel (Rust engine when available); returns its order records."""
    n_rows, n_cols = close.shape
    group_lens = np.full(n_cols // n_syms, n_syms, dtype=np.int64)
    max_orders = max(1, int(np.count_nonzero(~np.isnan(size))))
    records, _ = from_orders(
        (n_rows, n_cols), group_lens, np.full(len(group_lens), float(init_cash)), engine=engine,
        size=size, price=price, size_type=SIZE_TARGET_PERCENT, direction=DIRECTION_BOTH, fees=fees,
        slippage=slippage, min_size=MIN_SIZE, close=close, max_orders=max_orders,
    )
    return records


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
    keep_weights: bool = True,
) -> list[WindowResult]:
    """Simulate a strategy's target weights over windows for all its combinations at once.

    Parameters
    ----------
    weights
        Target weights, index: UTC decision stamps; columns MultiIndex (combo, symbol) with combos
        0..n_combos-1 and the symbols of ``symbols``.
    windows
        Windows to simulate; each starts flat with ``init_cash`` USD.
    keep_weights
        Also return per-row held and target weights (memory: rows x combos x symbols each).

    Returns
    -------
    list of WindowResult
        One per window, in the order given.
    """
    n_syms, n_w = len(symbols), len(windows)
    sym_costs = [costs[s] for s in symbols]
    bars = [[asset_bars(data, s, w.start_utc, w.end_utc) for s in symbols] for w in windows]
    rows = [np.unique(np.concatenate([b.stamps for b in bw])) if bw else np.array([], dtype=np.int64) for bw in bars]
    start = min(w.start_utc for w in windows)
    end = max(w.end_utc for w in windows)
    tau, values, changed_at = decision_arrays(weights, n_combos, symbols, start, end)

    width = n_combos * n_syms
    n_rows = max((len(r) for r in rows), default=0)
    n_cols = n_w * width
    close = np.ones((n_rows, n_cols))
    size = np.full((n_rows, n_cols), np.nan)
    price = np.full((n_rows, n_cols), np.nan)
    fees = np.zeros((n_rows, n_cols))
    at_open = np.zeros((n_rows, n_cols), dtype=bool)
    entries = []
    for w in range(n_w):
        r, sl = len(rows[w]), slice(w * width, (w + 1) * width)
        view = ScheduleArrays(
            close=np.ones((r, n_syms)), size=size[:r, sl].reshape(r, n_combos, n_syms),
            price=price[:r, sl].reshape(r, n_combos, n_syms), fees=fees[:r, sl].reshape(r, n_combos, n_syms),
            at_open=at_open[:r, sl].reshape(r, n_combos, n_syms))
        entries.append(window_schedule(rows[w], bars[w], tau, values, changed_at, sym_costs, fill,
                                       exit_at_window_end, view))
        if r:
            close[:r, sl] = np.tile(view.close, (1, n_combos))  # combo-major, like the other arrays
            close[r:, sl] = close[r - 1, sl]
    del values, changed_at
    slippage = np.tile(np.array([c.slippage for c in sym_costs]), n_w * n_combos)[None, :]
    rec = _kernel(close, size, price, fees, slippage, n_syms, init_cash)

    # cash, positions and value from the order records
    col, idx = rec["col"].astype(np.int64), rec["idx"].astype(np.int64)
    signed = np.where(rec["side"] == 0, rec["size"], -rec["size"])
    n_groups = n_w * n_combos
    cash = np.zeros((n_rows, n_groups))
    np.add.at(cash, (idx, col // n_syms), -signed * rec["price"] - rec["fees"])
    np.cumsum(cash, axis=0, out=cash)
    cash += init_cash
    position = np.zeros((n_rows, n_cols))
    position[idx, col] = signed
    np.cumsum(position, axis=0, out=position)
    asset_value = position * close
    value = cash + asset_value.reshape(n_rows, n_groups, n_syms).sum(axis=2)
    traded = np.zeros(n_groups)
    np.add.at(traded, col // n_syms, np.abs(rec["size"] * rec["price"]))
    accrue = any(c.borrow_rate or c.long_yield for c in sym_costs)
    sym_names = np.asarray(symbols, dtype=object)

    results = []
    for w, win in enumerate(windows):
        r = len(rows[w])
        g = slice(w * n_combos, (w + 1) * n_combos)
        sl = slice(w * width, (w + 1) * width)
        val = value[:r, g]
        prev_val = np.vstack([np.full((1, n_combos), init_cash), val[:-1]]) if r else val
        rets = val / prev_val - 1.0
        held = target = None
        if keep_weights or accrue:
            av = asset_value[:r, sl].reshape(r, n_combos, n_syms)
            held = np.divide(av, val[:, :, None], out=np.zeros_like(av), where=val[:, :, None] != 0)
            if accrue and r:
                rets = rets - _accruals(rows[w], held, sym_costs)
        if keep_weights:
            sz = size[:r, sl]
            filled = np.where(~np.isnan(sz), np.arange(r)[:, None], -1)
            np.maximum.accumulate(filled, axis=0, out=filled)
            target = np.where(filled >= 0, sz[np.clip(filled, 0, None), np.arange(width)], 0.0)
            target = target.reshape(r, n_combos, n_syms)
        else:
            held = None
        exposure = (np.abs(position[:r, sl]).reshape(r, n_combos, n_syms).sum(axis=2) > 0).mean(axis=0) \
            if r else np.zeros(n_combos)
        # reduce each column as its own contiguous vector: numpy's summation order over a strided
        # slice depends on the array's total width, i.e. on chunking, and must not
        mean_value = np.ascontiguousarray(val.T).mean(axis=1) if r else np.full(n_combos, np.nan)
        turnover = np.divide(traded[g], mean_value, out=np.zeros(n_combos),
                             where=np.isfinite(mean_value) & (mean_value > 0))
        mine = (col >= w * width) & (col < (w + 1) * width)
        local = col[mine] - w * width
        o_rows = idx[mine]
        o_combo, o_sym = local // n_syms, local % n_syms
        opened = at_open[o_rows, col[mine]]
        open_times = np.zeros(len(o_rows), dtype=np.int64)
        for j in range(n_syms):
            m = o_sym == j
            if m.any():
                b = bars[w][j]
                k = np.searchsorted(b.stamps, rows[w][o_rows[m]])
                open_times[m] = b.open_times[k]
        orders = pd.DataFrame({
            "combo": o_combo, "symbol": sym_names[o_sym], "row": o_rows, "size": rec["size"][mine],
            "price": rec["price"][mine], "fees": rec["fees"][mine],
            "side": np.where(rec["side"][mine] == 0, "buy", "sell"),
            "fill_time": np.where(opened, open_times, rows[w][o_rows] if r else o_rows),
        })
        results.append(WindowResult(window=win, stamps=rows[w], returns=rets, held=held, target=target,
                                    entries=entries[w], exposure=exposure, turnover=turnover, orders=orders))
    return results
