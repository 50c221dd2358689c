"""Simulate target weights with vectorbt's order kernel: every (window, combination) is one group.

Windows have different numbers of rows; they are stacked side by side by *row position* (row 0 is
each window's first bar) and padded at the end with no orders and frozen prices, so one call of
vectorbt's compiled ``simulate_from_orders`` kernel simulates all combinations x windows of a
chunk. Only the kernel is used: cash, positions and portfolio value are recomputed here from its
order records in one compiled pass (:func:`~backtests.engine.compiled.account_pass`; vectorbt's
pandas-facing ``Portfolio`` layer cost more than the kernel itself and copied every array).

Leverage: vectorbt's kernel never lets cash go negative, so when the study allows borrowing
(``max_leverage > 1``) every group gets one more column, a credit line priced at 1 USD with no
costs: at each row with an order it is shorted to ``-(max_leverage - 1)`` of the portfolio value
(TargetPercent, so it tracks equity), which puts the borrowable cash in the kernel's hands while the
group's value stays the true equity. Its records are bookkeeping, never orders; what the portfolio
really borrowed (negative cash net of the credit line) pays ``financing_rate``.

Borrow on shorts, financing of borrowed cash and yield on longs accrue on calendar time between
rows and are taken out of (or added to) each row's return after the simulation; they do not
compound inside the simulated cash.

The work is four steps, one function each: :func:`layout` (every window's order schedule written
into the stacked arrays), :func:`run_kernel` (vectorbt's kernel), :func:`accounts` (cash,
positions and value from its records) and :func:`window_results` (returns, weights, orders and the
per-run statistics of :data:`~backtests.engine.results.RUN_STATS`, per window). Every setting comes
from the strategy's :class:`~backtests.engine.rules.Rules`.

Orders the kernel could not fill in full (beyond costs: a buy capped by the cash available) are
found after the simulation by re-deriving each order's requested size from the valuation the
kernel used; they raise :class:`~backtests.engine.schedule.UnfillableOrder` or, with
``on_unfillable: clip``, are counted and listed as ``clipped_order`` notices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.engine import compiled
from backtests.engine.costs import SymbolCosts
from backtests.engine.fills import lock_violations
from backtests.engine.kernels import DIRECTION_BOTH, SIZE_TARGET_PERCENT, from_orders
from backtests.engine.results import (
    NEVER, WindowResult, exchange_notices, leg_stats, legged_notice, one_leg_notice, run_stats, schedule_notices,
)
from backtests.engine.rules import Rules
from backtests.engine.schedule import (
    FILL_KINDS, AssetBars, ScheduleArrays, ScheduleStats, UnfillableOrder, common_instants, decision_arrays,
    first_fill, window_schedule,
)
from backtests.notices import Notice
from backtests.time.windows import Window

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
#: vectorbt's default minimum order size (kept so results match ``Portfolio.from_orders``).
MIN_SIZE = 1e-8
_NONE = np.iinfo(np.int64).max


def asset_bars(data: MarketData, symbol: str, window: Window) -> AssetBars:
    """A symbol's bars in USD inside ``window`` (:meth:`~backtests.time.windows.Window.contains`),
    bars without a close price dropped."""
    frame = data.require(symbol)
    inside = np.asarray(window.contains(frame.index))
    part = frame.loc[inside]
    close = data.to_usd(symbol, "close").reindex(part.index).to_numpy(dtype="float64")
    valid = np.isfinite(close)
    if "open" in part.columns:
        opn = data.to_usd(symbol, "open").reindex(part.index).to_numpy(dtype="float64")
    else:
        opn = np.full(len(part), np.nan)
    every = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    stamps = every[inside]
    open_times = pd.DatetimeIndex(part["open_time"]).as_unit("ns").asi8
    volume = part["volume"].to_numpy(dtype="float64")[valid] if "volume" in part.columns else None
    pos = np.flatnonzero(inside)
    previous = np.where(pos > 0, every[np.maximum(pos - 1, 0)], np.iinfo(np.int64).min)
    return AssetBars(stamps=stamps[valid], open_times=open_times[valid], open=opn[valid], close=close[valid],
                     volume=volume, through=(open_times == previous)[valid])


def _accruals(stamps: np.ndarray, held: np.ndarray, costs: list[SymbolCosts], financing_rate: float = 0.0,
              ) -> np.ndarray:
    """(rows, combos) borrow + financing - yield as a fraction of value, per row (row 0 is 0).

    ``held`` (rows, combos, symbols) are the weights at each row's close; over row ``r`` the
    weights of row ``r - 1`` are held. Borrowed cash is ``max(0, sum(w) - 1)`` of value (negative
    cash), charged ``financing_rate`` per year of calendar time, like short borrow.
    """
    dt = np.diff(stamps, prepend=stamps[:1]).astype("float64") / NS_PER_YEAR  # years
    borrow = np.array([c.borrow_rate for c in costs])
    yld = np.array([c.long_yield for c in costs])
    prev = np.concatenate([np.zeros_like(held[:1]), held[:-1]], axis=0)  # weights held over the row
    rate = np.clip(-prev, 0, None) @ borrow - np.clip(prev, 0, None) @ yld  # (rows, combos)
    if financing_rate:
        rate = rate + financing_rate * np.clip(prev.sum(axis=2) - 1.0, 0, None)
    return rate * dt[:, None]


def _kernel(close: np.ndarray, size: np.ndarray, price: np.ndarray, fees: np.ndarray, slippage: np.ndarray,
            n_syms: int, init_cash: float, val_price: np.ndarray | None = None,
            engine: str | None = None, max_size: np.ndarray | None = None) -> np.ndarray:
    """Run vectorbt's compiled from-orders kernel (Rust engine when available); returns its order records.

    ``n_syms`` is the number of columns per group (cash is shared within a group); ``val_price``
    (rows, cols) the valuation price of every column at rows with orders (NaN elsewhere: the
    last one is kept), or None for vectorbt's default (the order price); ``max_size`` (rows, cols)
    caps an order's units (orders into a locked limit), None for no cap.
    """
    n_rows, n_cols = close.shape
    group_lens = np.full(n_cols // n_syms, n_syms, dtype=np.int64)
    max_orders = max(1, int(np.count_nonzero(~np.isnan(size))))
    records, _ = from_orders(
        (n_rows, n_cols), group_lens, np.full(len(group_lens), float(init_cash)), engine=engine,
        size=size, price=price, size_type=SIZE_TARGET_PERCENT, direction=DIRECTION_BOTH, fees=fees,
        slippage=slippage, min_size=MIN_SIZE, close=close, max_orders=max_orders,
        **({} if val_price is None else {"val_price": val_price}),
        **({} if max_size is None else {"max_size": max_size}),
    )
    return records


def short_fills(size: np.ndarray, price: np.ndarray, val_price: np.ndarray | None, fees: np.ndarray,
                slippage: np.ndarray, rec: np.ndarray, cash: np.ndarray, position: np.ndarray, gw: int,
                real: np.ndarray, init_cash: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scheduled orders the kernel filled short of their requested size (beyond costs).

    The requested size is re-derived as the kernel derives it (TargetPercent of the group value at
    the start of the row, valued at ``val_price``, minus the position); a fill is short when its
    value misses that by more than the fees and slippage of all the orders of its row and group
    (a target of 100% invested leaves no cash for the costs, which is normal, not a clip).

    Parameters
    ----------
    size, price, val_price, fees
        (rows, cols) kernel inputs (``val_price`` None: the order price; ``fees`` may be one row
        for every row); ``init_cash`` the cash
        of every group before its first row.
    slippage
        (1, cols).
    rec
        The kernel's order records.
    cash
        (rows, groups) cash after each row; ``position`` (rows, cols) units after each row.
    gw
        Columns per group; ``real`` (gw,) bool: the columns that are assets (not the credit line).

    Returns
    -------
    (rows, cols, requested)
        Row and column of each short fill, and the units that were asked for.
    """
    n_cols = size.shape[1]
    mask = ~np.isnan(size)
    mask &= np.tile(real, n_cols // gw)[None, :]
    i, c = np.nonzero(mask)
    if not len(i):
        return i, c, np.zeros(0)
    g = c // gw
    members = g[:, None] * gw + np.arange(gw)[None, :]  # (orders, gw) columns of the group
    before = np.where((i > 0)[:, None], position[np.clip(i - 1, 0, None)[:, None], members], 0.0)
    cash0 = np.where(i > 0, cash[np.clip(i - 1, 0, None), g], init_cash)
    vp_all = np.nan_to_num((price if val_price is None else val_price)[i[:, None], members], nan=0.0)
    value = cash0 + (before * vp_all).sum(axis=1)
    own = np.arange(len(i))
    k_own = c - g * gw
    vp = (price if val_price is None else np.where(np.isnan(val_price), price, val_price))[i, c]
    pos0 = before[own, k_own]
    requested = size[i, c] * value / vp - pos0
    lin = i * n_cols + c
    r_lin = rec["idx"].astype(np.int64) * n_cols + rec["col"].astype(np.int64)
    filled = np.zeros(len(i))
    k = np.searchsorted(lin, r_lin)
    ok = (k < len(lin)) & (lin[np.clip(k, 0, len(lin) - 1)] == r_lin)
    filled[k[ok]] = np.where(rec["side"][ok] == 0, rec["size"][ok], -rec["size"][ok])
    # costs of every order of the same row and group can squeeze a buy (the kernel pays them first)
    cost = np.abs(requested * vp) * (fees[i if len(fees) > 1 else 0, c] + slippage[0, c])
    key = np.unique(i * (n_cols // gw) + g, return_inverse=True)[1]
    budget = np.bincount(key, weights=cost)[key]
    tol = budget * (1 + 1e-9) + np.abs(requested * vp) * 1e-9 + 2 * MIN_SIZE * vp
    short = np.abs(requested - filled) * vp > tol
    return i[short], c[short], requested[short]


@dataclass
class Layout:
    """The stacked simulation arrays of a chunk and each window's schedule.

    Window ``w`` occupies columns ``w * width .. (w + 1) * width`` (combination-major, ``gw``
    columns per combination: the symbols, then the credit line when there is one) and rows
    ``0 .. len(rows[w]) - 1``; shorter windows are padded with no orders and frozen prices.
    """

    windows: list[Window]
    bars: list[list[AssetBars]]  # per window, per symbol: its bars inside the window
    rows: list[np.ndarray]  # per window: the run clock (union of the bar stamps), int64 ns
    n_combos: int
    n_syms: int
    gw: int
    close: np.ndarray
    size: np.ndarray
    price: np.ndarray
    fees: np.ndarray  # (rows, cols), or (1, cols) when no asset pays a sell tax (the same for every order)
    kind: np.ndarray
    val_price: np.ndarray | None
    slippage: np.ndarray  # (1, cols)
    schedules: list[ScheduleStats | None]
    max_size: np.ndarray | None  # units cap of orders into a locked limit (locked_fill_share > 0)
    lock: np.ndarray | None  # int8 lock of the segment each order fills in (with an exchange state)
    moved: list[dict[int, int]]  # per window: flat (row * width + local col) -> fill instant of prints inside a bar
    first_decision: list[int]  # per window: the first decision stamp in it (NEVER: none)
    first_possible: list[int]  # per window: where that decision could fill (NEVER: nowhere)
    neutral: np.ndarray | None = None  # (combos, symbols) the strategy's resting weights; None = flat

    @property
    def width(self) -> int:
        return self.n_combos * self.gw

    @property
    def n_rows(self) -> int:
        return self.close.shape[0]

    def block(self, a: np.ndarray, w: int) -> np.ndarray:
        """Window ``w``'s part of a stacked array as (rows, combos, gw) (a view)."""
        r = len(self.rows[w])
        return a[:r, w * self.width:(w + 1) * self.width].reshape(r, self.n_combos, self.gw)


def _fees(rules: Rules, n_rows: int, n_cols: int, n_groups: int, gw: int) -> np.ndarray:
    """The kernel's fee fractions: one row of commissions when no asset pays a sell tax (every
    order of a column then pays the same; vectorbt broadcasts it), else (rows, cols) written by the
    schedule (a sell pays the tax, a buy does not)."""
    if any(c.sell_tax for c in rules.costs):
        return np.zeros((n_rows, n_cols))
    return np.tile(np.array([c.commission for c in rules.costs] + [0.0] * (gw - len(rules.costs))), n_groups)[None, :]


def layout(data: MarketData, weights: pd.DataFrame, n_combos: int, windows: list[Window], rules: Rules,
           clock: np.ndarray | None = None, neutral: np.ndarray | None = None) -> Layout:
    """Every window's order schedule, written into one set of stacked kernel arrays.

    Parameters
    ----------
    clock
        The strategy's decision clock (sorted int64 ns UTC): the stamps at which it reads the data
        and may decide; the first of them at or after a window's start is its first decision.
        None: the weights' index.
    """
    symbols = rules.symbols
    n_syms, n_w = len(symbols), len(windows)
    gw = n_syms + (1 if rules.credit > 0 else 0)  # columns per group (the credit line last)
    bars = [[asset_bars(data, s, w) for s in symbols] for w in windows]
    rows = [np.unique(np.concatenate([b.stamps for b in bw])) if bw else np.array([], dtype=np.int64) for bw in bars]
    if neutral is not None and neutral.shape != (n_combos, n_syms):
        raise ValueError(f"neutral weights have shape {neutral.shape}, expected ({n_combos}, {n_syms})")
    width = n_combos * gw
    n_rows = max((len(r) for r in rows), default=0)
    n_cols = n_w * width
    lay = Layout(
        windows=windows, bars=bars, rows=rows, n_combos=n_combos, n_syms=n_syms, gw=gw,
        close=np.ones((n_rows, n_cols)), size=np.full((n_rows, n_cols), np.nan),
        price=np.full((n_rows, n_cols), np.nan), fees=_fees(rules, n_rows, n_cols, n_w * n_combos, gw),
        kind=np.full((n_rows, n_cols), -1, dtype=np.int8),
        val_price=np.full((n_rows, n_cols), np.nan) if gw > 1 else None,
        slippage=np.tile(np.array([c.slippage for c in rules.costs] + [0.0] * (gw - n_syms)), n_w * n_combos)[None, :],
        schedules=[None] * n_w, first_decision=[NEVER] * n_w, first_possible=[NEVER] * n_w,
        max_size=np.full((n_rows, n_cols), np.inf) if rules.locked_fill_share > 0 and rules.state is not None else None,
        lock=np.zeros((n_rows, n_cols), dtype=np.int8) if rules.state is not None else None,
        moved=[{} for _ in windows], neutral=neutral)
    schedule_windows(lay, weights, rules, clock, range(n_w))
    return lay


def schedule_windows(lay: Layout, weights: pd.DataFrame, rules: Rules, clock: np.ndarray | None,
                     which: range | list[int], forced: dict[tuple[int, int], np.ndarray] | None = None) -> None:
    """Write the schedules of windows ``which`` into ``lay`` (their blocks must be blank).

    ``forced``: ``{(window, asset): (bars, combos) bool}``, orders a locked limit refuses (found by
    a previous simulation of the same layout, :func:`lock_refusals`).
    """
    which = list(which)
    if not which:
        return
    wins = [lay.windows[w] for w in which]
    decisions = decision_arrays(weights, lay.n_combos, rules.symbols, min(w.start_utc for w in wins),
                                max(w.end_utc for w in wins))
    if clock is None:
        clock = pd.DatetimeIndex(weights.index).as_unit("ns").asi8
    n_syms, gw = lay.n_syms, lay.gw
    for w in which:
        win, r = lay.windows[w], len(lay.rows[w])
        sched = ScheduleArrays(
            close=np.ones((r, n_syms)), size=lay.block(lay.size, w)[:, :, :n_syms],
            price=lay.block(lay.price, w)[:, :, :n_syms], fees=lay.block(lay.fees, w)[:, :, :n_syms] if len(lay.fees) > 1 else None,
            kind=lay.block(lay.kind, w)[:, :, :n_syms],
            val_price=lay.block(lay.val_price, w)[:, :, :n_syms] if lay.val_price is not None else None,
            max_size=lay.block(lay.max_size, w)[:, :, :n_syms] if lay.max_size is not None else None,
            lock=lay.block(lay.lock, w)[:, :, :n_syms] if lay.lock is not None else None)
        common = common_instants(lay.bars[w], rules.fill) if rules.fills_together else None
        event = win.event.time_utc.value if rules.legs == "before_event" else None
        start = win.start_utc.value
        mine = {j: f for (ww, j), f in (forced or {}).items() if ww == w}
        lay.schedules[w] = window_schedule(lay.rows[w], lay.bars[w], decisions, rules, sched, start, common, event,
                                           mine, lay.neutral)
        lay.moved[w] = {int(rr) * lay.width + int(c) * gw + j: int(t) for rows_, cc, j, tt in sched.moved
                        for rr, c, t in zip(rows_, cc, tt)}
        k = int(np.searchsorted(clock, start, side="left"))
        first = int(clock[k]) if k < len(clock) and clock[k] <= win.end_utc.value else NEVER
        lay.first_decision[w] = first
        lay.first_possible[w] = first_fill(first, lay.bars[w], rules, common, event)
        if r:
            _stack_window(lay, w, sched.close, rules.credit)
    del decisions
    if lay.val_price is not None:
        # an asset with an order in the row is valued at the price it fills at (its open, its
        # close, or a print inside the bar): sizing the row's buys from the same prices its sells
        # realise is what keeps a rebalance within the cash (a crypto bar opening at the instant the
        # previous one closed would otherwise be valued at that close and filled at its open); the
        # other assets at the latest price known at the row's first fill instant (rule 8)
        np.copyto(lay.val_price, lay.price, where=~np.isnan(lay.size))


def reschedule(lay: Layout, weights: pd.DataFrame, rules: Rules, clock: np.ndarray | None,
               forced: dict[tuple[int, int], np.ndarray], which: set[int]) -> None:
    """Blank the blocks of windows ``which`` and schedule them again with ``forced`` refusals."""
    for w in sorted(which):
        lay.block(lay.size, w)[:] = np.nan
        lay.block(lay.price, w)[:] = np.nan
        if len(lay.fees) > 1:
            lay.block(lay.fees, w)[:] = 0.0
        lay.block(lay.kind, w)[:] = -1
        for a, blank in ((lay.val_price, np.nan), (lay.max_size, np.inf), (lay.lock, 0)):
            if a is not None:
                lay.block(a, w)[:] = blank
    schedule_windows(lay, weights, rules, clock, sorted(which), forced)


def _stack_window(lay: Layout, w: int, close: np.ndarray, credit: float) -> None:
    """Window ``w``'s closes tiled over its combinations (frozen after its last row), and the
    credit line's orders at every row with an order."""
    r, n_syms, gw = len(lay.rows[w]), lay.n_syms, lay.gw
    sl = slice(w * lay.width, (w + 1) * lay.width)
    full = np.ones((r, gw))
    full[:, :n_syms] = close
    lay.block(lay.close, w)[:] = full[:, None, :]  # combo-major, like the other arrays
    lay.close[r:, sl] = lay.close[r - 1, sl]
    if credit > 0:
        loan = lay.block(lay.size, w)
        any_order = ~np.isnan(loan[:, :, :n_syms]).all(axis=2)
        loan[:, :, n_syms] = np.where(any_order, -credit, np.nan)
        lay.block(lay.price, w)[:, :, n_syms] = 1.0
        lay.block(lay.val_price, w)[:, :, n_syms] = 1.0


def run_kernel(lay: Layout, rules: Rules) -> np.ndarray:
    """vectorbt's order records for the whole layout (every window and combination at once)."""
    capped = {} if lay.max_size is None else {"max_size": lay.max_size}  # orders into a locked limit only
    return _kernel(lay.close, lay.size, lay.price, lay.fees, lay.slippage, lay.gw, rules.init_cash, lay.val_price,
                   **capped)


@dataclass
class Accounts:
    """Cash, positions and value of every group, recomputed from the kernel's order records.

    ``short_*`` locate the orders filled short of their size (``on_unfillable: clip``).
    """

    rec: np.ndarray
    col: np.ndarray  # (orders,) column of each record
    idx: np.ndarray  # (orders,) row of each record
    is_real: np.ndarray  # (orders,) the record is an asset's (not the credit line's)
    position: np.ndarray  # (rows, cols) units after each row
    value: np.ndarray  # (rows, groups) equity after each row
    traded: np.ndarray  # (groups,) traded value of the assets, USD
    short_col: np.ndarray
    short_row: np.ndarray
    short_requested: np.ndarray


def accounts(lay: Layout, rec: np.ndarray, rules: Rules) -> Accounts:
    """Cash, positions and value from the order records; orders filled short of their size raise
    :class:`UnfillableOrder` unless ``rules.on_unfillable == "clip"``."""
    gw, n_rows, n_cols = lay.gw, lay.n_rows, lay.close.shape[1]
    n_groups = n_cols // gw if gw else 0
    real = np.arange(gw) < lay.n_syms
    col, idx = rec["col"].astype(np.int64), rec["idx"].astype(np.int64)
    cash, value = np.empty((n_rows, n_groups)), np.empty((n_rows, n_groups))
    position, traded = np.empty((n_rows, n_cols)), np.empty(n_groups)
    if not compiled.account_pass(idx, col, rec["side"], rec["size"], rec["price"], rec["fees"], lay.close, gw,
                                 lay.n_syms, float(rules.init_cash), position, cash, value, traded):
        raise ValueError("internal: vectorbt's order records are not ordered by group and row")
    bad_i, bad_c, bad_req = short_fills(lay.size, lay.price, lay.val_price, lay.fees, lay.slippage, rec, cash,
                                        position, gw, real, rules.init_cash)
    if lay.max_size is not None and len(bad_i):
        capped = np.isfinite(lay.max_size[bad_i, bad_c])  # into a locked limit: short by design, counted as locked
        bad_i, bad_c, bad_req = bad_i[~capped], bad_c[~capped], bad_req[~capped]
    if len(bad_i) and rules.on_unfillable != "clip":
        w0 = int(bad_c[0] // lay.width)
        local = int(bad_c[0] - w0 * lay.width)
        j = local % gw
        raise UnfillableOrder(
            f"the order for {rules.symbols[j]} could not be filled in full ({abs(bad_req[0]):.6g} units asked; a buy "
            f"is limited by the cash and the credit line of execution.max_leverage = {rules.max_leverage:g}); "
            f"raise the leverage allowed, or set execution.on_unfillable: clip (clipped fills are counted)",
            local // gw, pd.Timestamp(int(lay.rows[w0][bad_i[0]]), tz="UTC"), rules.symbols[j])
    is_real = np.tile(real, n_groups)[col]
    return Accounts(rec, col, idx, is_real, position, value, traded, bad_c, bad_i, bad_req)


def window_results(lay: Layout, acc: Accounts, rules: Rules, keep_weights: bool) -> list[WindowResult]:
    """One :class:`WindowResult` per window of the layout, in order."""
    return [_window_result(lay, acc, rules, w, keep_weights) for w in range(len(lay.windows))]


def _window_result(lay: Layout, acc: Accounts, rules: Rules, w: int, keep_weights: bool) -> WindowResult:
    win, rows, n_combos, n_syms, gw = lay.windows[w], lay.rows[w], lay.n_combos, lay.n_syms, lay.gw
    r = len(rows)
    g0 = w * n_combos
    rets, exposure, mean_value = np.empty((r, n_combos)), np.empty(n_combos), np.empty(n_combos)
    compiled.window_pass(acc.value, acc.position, r, g0, n_combos, gw, n_syms, float(rules.init_cash), rets, exposure,
                         mean_value)
    accrue = any(c.borrow_rate or c.long_yield for c in rules.costs) or (rules.credit > 0 and rules.financing_rate > 0)
    held = target = None
    if keep_weights or accrue:
        held = np.empty((r, n_combos, n_syms))
        compiled.held_weights(acc.value, acc.position, lay.close, r, g0, n_combos, gw, n_syms, held)
        if accrue and r:
            rets = rets - _accruals(rows, held, rules.costs, rules.financing_rate if rules.credit > 0 else 0.0)
    if keep_weights:
        target = np.empty((r, n_combos, n_syms))
        if r:
            compiled.target_weights(lay.size, r, w * lay.width, n_combos, gw, n_syms, target)
    else:
        held = None
    orders = _orders(lay, acc, rules, w)
    short = _short_fills_in(lay, acc, w)
    stats = _run_stats(lay, acc, rules, w, orders, short, exposure, mean_value)
    notices = schedule_notices(win, lay.schedules[w], rules.symbols) + _short_fill_notices(win, short, lay.gw, rules)
    if rules.paired:
        notices += one_leg_notice(win, stats["legs_traded"], n_syms)
    notices += legged_notice(win, lay.schedules[w].legged)
    notices += exchange_notices(win, lay.schedules[w], rules)
    return WindowResult(window=win, stamps=rows, returns=rets, held=held, target=target, orders=orders,
                        stats=stats, notices=notices)


def _orders(lay: Layout, acc: Accounts, rules: Rules, w: int) -> pd.DataFrame:
    """Window ``w``'s order records (assets only; ``combo`` local to the chunk)."""
    rows, gw, rec = lay.rows[w], lay.gw, acc.rec
    mine = (acc.col >= w * lay.width) & (acc.col < (w + 1) * lay.width) & acc.is_real
    local = acc.col[mine] - w * lay.width
    o_rows = acc.idx[mine]
    o_combo, o_sym = local // gw, local % gw
    o_kind = lay.kind[o_rows, acc.col[mine]].astype(np.int64)
    open_times = np.zeros(len(o_rows), dtype=np.int64)
    for j in range(lay.n_syms):
        m = o_sym == j
        if m.any():
            b = lay.bars[w][j]
            k = np.searchsorted(b.stamps, rows[o_rows[m]])
            open_times[m] = b.open_times[k]
    fill_time = np.where(o_kind == 0, open_times, rows[o_rows] if len(rows) else o_rows)
    moved = lay.moved[w]
    if moved:
        flat = o_rows * lay.width + local
        fill_time = np.array([moved.get(int(f), int(t)) for f, t in zip(flat, fill_time)], dtype=np.int64)
    return pd.DataFrame({
        "combo": o_combo, "symbol": np.asarray(rules.symbols, dtype=object)[o_sym], "row": o_rows,
        "size": rec["size"][mine],
        "price": rec["price"][mine], "fees": rec["fees"][mine],
        "side": np.where(rec["side"][mine] == 0, "buy", "sell"),
        "fill_time": fill_time,
        "fill_kind": np.asarray(FILL_KINDS, dtype=object)[np.clip(o_kind, 0, None)],
    })


def _short_fills_in(lay: Layout, acc: Accounts, w: int) -> np.ndarray:
    """Local columns (combo * gw + symbol) of window ``w``'s orders filled short of their size."""
    in_w = (acc.short_col >= w * lay.width) & (acc.short_col < (w + 1) * lay.width)
    return acc.short_col[in_w] - w * lay.width


def _run_stats(lay: Layout, acc: Accounts, rules: Rules, w: int, orders: pd.DataFrame,
               short: np.ndarray, exposure: np.ndarray, mean_value: np.ndarray) -> dict[str, np.ndarray]:
    """The per-run statistics of window ``w`` (:data:`~backtests.engine.results.RUN_STATS`);
    ``exposure`` and ``mean_value`` (combos,) from :func:`~backtests.engine.compiled.window_pass`
    (each run's equity summed as its own vector: the order depends on nothing chunking changes)."""
    n_combos, n_syms = lay.n_combos, lay.n_syms
    st = lay.schedules[w]
    g = slice(w * n_combos, (w + 1) * n_combos)
    combo = orders["combo"].to_numpy(dtype=np.int64)
    fill_time = orders["fill_time"].to_numpy(dtype=np.int64)
    clipped = st.clipped_targets.copy()
    np.add.at(clipped, short // lay.gw, 1)
    out = {
        "entries": st.entries,
        "n_orders": np.bincount(combo, minlength=n_combos).astype(np.int64),
        "exposure": exposure,
        "turnover": np.divide(acc.traded[g], mean_value, out=np.zeros(n_combos),
                              where=np.isfinite(mean_value) & (mean_value > 0)),
        "n_clipped": clipped,
        "n_locked": st.locked,
        "n_halted": st.halted,
        "n_short_banned": st.banned,
        "chosen": st.departed.astype(np.int64) if st.departed is not None else (st.entries > 0).astype(np.int64),
    }
    if rules.paired:
        sym = pd.Index(rules.symbols).get_indexer(orders["symbol"]).astype(np.int64)
        out["legs_traded"], out["legging_gap_hours"] = leg_stats(combo, sym, fill_time, n_combos, n_syms)
    out["first_decision"] = np.full(n_combos, lay.first_decision[w], dtype=np.int64)
    # the first possible fill, or the run's own first fill where a decision off the clock came earlier
    actual = np.full(n_combos, _NONE, dtype=np.int64)
    np.minimum.at(actual, combo, fill_time)
    possible = lay.first_possible[w]
    first = np.minimum(actual, _NONE if possible == NEVER else possible)
    out["first_fill"] = np.where(first == _NONE, NEVER, first)
    return {s.name: out[s.name] for s in run_stats(rules.paired)}


def _short_fill_notices(win: Window, short: np.ndarray, gw: int, rules: Rules) -> list[dict]:
    """One ``clipped_order`` notice per symbol with orders filled short of their size."""
    out = []
    for j, symbol in enumerate(rules.symbols):
        n_j = int((short % gw == j).sum())
        if n_j:
            out.append(Notice(
                "clipped_order", "orders filled short of their size: a buy was limited by the cash "
                f"and credit line (execution.max_leverage = {rules.max_leverage:g})", window=win.id,
                symbol=symbol, count=n_j).record())
    return out


def simulate(data: MarketData, weights: pd.DataFrame, n_combos: int, windows: list[Window], rules: Rules, *,
             keep_weights: bool = True, clock: np.ndarray | pd.DatetimeIndex | None = None,
             neutral: np.ndarray | None = None) -> list[WindowResult]:
    """Simulate a strategy's target weights over windows for all its combinations at once.

    Parameters
    ----------
    data
        The market data (at least the traded symbols of ``rules``).
    weights
        Target weights, index: UTC decision stamps; columns MultiIndex (combo, symbol) with combos
        0..n_combos-1 and the symbols of ``rules``.
    windows
        Windows to simulate; each is an episode that starts flat with ``rules.init_cash`` USD.
    rules
        The strategy's execution rules (:class:`~backtests.engine.rules.Rules`).
    keep_weights
        Also return per-row held and target weights (memory: rows x combos x symbols each).
    clock
        The strategy's decision clock (UTC stamps at which it reads the data), from which each
        window's first decision and first possible fill are reported; None: the weights' index.
    neutral
        (n_combos, symbols) the strategy's resting weights (``Strategy.resting_weights``, see
        :func:`~backtests.strategy.calls.resting_targets`): the per-run statistic ``chosen`` says
        whether an order filled a target other than these; None = flat.

    Returns
    -------
    list of WindowResult
        One per window, in the order given.

    Raises
    ------
    UnfillableOrder
        A target beyond the leverage limits, or an order filled short of its size, with
        ``rules.on_unfillable == "error"``.
    """
    if clock is not None:
        clock = pd.DatetimeIndex(clock).as_unit("ns").asi8 if not isinstance(clock, np.ndarray) else clock
    lay = layout(data, weights, n_combos, windows, rules, clock, neutral)
    rec = run_kernel(lay, rules)
    forced: dict[tuple[int, int], np.ndarray] = {}
    while changed := lock_refusals(lay, rec, forced):
        # a fill traded against a locked limit (its side in units is the kernel's): refuse it and
        # simulate again from the windows concerned; the refusals only grow, so this ends
        reschedule(lay, weights, rules, clock, forced, changed)
        rec = run_kernel(lay, rules)
    acc = accounts(lay, rec, rules)
    return window_results(lay, acc, rules, keep_weights)


def lock_refusals(lay: Layout, rec: np.ndarray, forced: dict[tuple[int, int], np.ndarray]) -> set[int]:
    """Add to ``forced`` the first fill of each (window, combination) that traded against a locked
    limit (a buy into limit-up, a sell into limit-down: :func:`~backtests.engine.fills.lock_violations`);
    later ones are not trusted (the refusal changes what follows) and wait for the next pass.
    Returns the windows with a new refusal."""
    if lay.lock is None or not len(rec):
        return set()
    col, idx = rec["col"].astype(np.int64), rec["idx"].astype(np.int64)
    lock = lay.lock[idx, col]
    capped = np.isfinite(lay.max_size[idx, col]) if lay.max_size is not None else np.zeros(len(col), dtype=bool)
    bad = np.flatnonzero((lock != 0) & lock_violations(rec["side"], lock, capped))
    if not len(bad):
        return set()
    w, local = np.divmod(col[bad], lay.width)
    combo, j = np.divmod(local, lay.gw)
    order = np.lexsort((j, idx[bad], combo, w))  # by window, combination, row, asset
    group = w[order] * lay.n_combos + combo[order]
    first = order[np.concatenate([[True], group[1:] != group[:-1]])]
    for i in first:
        ww, jj, cc = int(w[i]), int(j[i]), int(combo[i])
        b = lay.bars[ww][jj]
        k = int(np.searchsorted(b.stamps, lay.rows[ww][idx[bad[i]]]))
        forced.setdefault((ww, jj), np.zeros((len(b.stamps), lay.n_combos), dtype=bool))[k, cc] = True
    return {int(x) for x in w[first]}
