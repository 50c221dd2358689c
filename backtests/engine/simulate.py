"""Simulate target weights with vectorbt's order kernel: every (window, combination) is one group.

Windows have different numbers of rows; they are stacked side by side by *row position* (row 0 is
each window's first bar) and padded at the end with no orders and frozen prices, so one call of
vectorbt's compiled ``simulate_from_orders`` kernel simulates all combinations x windows of a
chunk. Only the kernel is used: cash, positions and portfolio value are recomputed here from its
order records with numpy (vectorbt's pandas-facing ``Portfolio`` layer cost more than the kernel
itself and copied every array).

Leverage: vectorbt's kernel never lets cash go negative, so when the study allows borrowing
(``max_leverage > 1``) every group gets one more column, a credit line priced at 1 USD with no
costs: at each row with an order it is shorted to ``-(max_leverage - 1)`` of the portfolio value
(TargetPercent, so it tracks equity), which puts the borrowable cash in the kernel's hands while the
group's value stays the true equity. Its records are bookkeeping, never orders; what the portfolio
really borrowed (negative cash net of the credit line) pays ``financing_rate``.

Borrow on shorts, financing of borrowed cash and yield on longs accrue on calendar time between
rows and are taken out of (or added to) each row's return after the simulation; they do not
compound inside the simulated cash.

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
from backtests.engine.costs import SymbolCosts
from backtests.engine.kernels import DIRECTION_BOTH, SIZE_TARGET_PERCENT, from_orders
from backtests.engine.schedule import (
    FILL_KINDS, AssetBars, Limits, ScheduleArrays, UnfillableOrder, common_instants, decision_arrays,
    window_schedule,
)
from backtests.notices import Notice
from backtests.time.windows import Window

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
        (int64 ns: the bar's open instant when filled at the open, else its close stamp),
        fill_kind ("open", "close" or "auction": a market-on-close order sent during the session).
    clipped
        (combos,) targets scaled down to the leverage limit plus orders filled short of their size
        (``on_unfillable: clip``; always 0 with ``error``).
    legs_traded, legging_gap_hours
        Paired strategies only (else None), per combination: how many of the symbols traded in
        this episode, and the hours between the first fill of the first leg and the first fill of
        the last leg (NaN when fewer than two legs traded).
    notices
        Named warnings of this window (JSON-ready :meth:`Notice.record` dicts).
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
    clipped: np.ndarray | None = None
    notices: list[dict] | None = None
    legs_traded: np.ndarray | None = None
    legging_gap_hours: np.ndarray | None = None


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
            engine: str | None = None) -> np.ndarray:
    """Run vectorbt's compiled from-orders kernel (Rust engine when available); returns its order records.

    ``n_syms`` is the number of columns per group (cash is shared within a group); ``val_price``
    (rows, cols) the valuation price of every column at rows with orders (NaN elsewhere: the
    last one is kept), or None for vectorbt's default (the order price).
    """
    n_rows, n_cols = close.shape
    group_lens = np.full(n_cols // n_syms, n_syms, dtype=np.int64)
    max_orders = max(1, int(np.count_nonzero(~np.isnan(size))))
    records, _ = from_orders(
        (n_rows, n_cols), group_lens, np.full(len(group_lens), float(init_cash)), engine=engine,
        size=size, price=price, size_type=SIZE_TARGET_PERCENT, direction=DIRECTION_BOTH, fees=fees,
        slippage=slippage, min_size=MIN_SIZE, close=close, max_orders=max_orders,
        **({} if val_price is None else {"val_price": val_price}),
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
        (rows, cols) kernel inputs (``val_price`` None: the order price); ``init_cash`` the cash
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
    vp_all = np.nan_to_num(price if val_price is None else val_price, nan=0.0)
    members = g[:, None] * gw + np.arange(gw)[None, :]  # (orders, gw) columns of the group
    before = np.where((i > 0)[:, None], position[np.clip(i - 1, 0, None)[:, None], members], 0.0)
    cash0 = np.where(i > 0, cash[np.clip(i - 1, 0, None), g], init_cash)
    value = cash0 + (before * vp_all[i[:, None], members]).sum(axis=1)
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
    cost = np.abs(requested * vp) * (fees[i, c] + slippage[0, c])
    key = np.unique(i * (n_cols // gw) + g, return_inverse=True)[1]
    budget = np.bincount(key, weights=cost)[key]
    tol = budget * (1 + 1e-9) + np.abs(requested * vp) * 1e-9 + 2 * MIN_SIZE * vp
    short = np.abs(requested - filled) * vp > tol
    return i[short], c[short], requested[short]


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
    entry: str = "state",
    limits: Limits | None = None,
    legs: str = "independent",
    paired: bool = False,
) -> list[WindowResult]:
    """Simulate a strategy's target weights over windows for all its combinations at once.

    Parameters
    ----------
    weights
        Target weights, index: UTC decision stamps; columns MultiIndex (combo, symbol) with combos
        0..n_combos-1 and the symbols of ``symbols``.
    windows
        Windows to simulate; each is an episode that starts flat with ``init_cash`` USD.
    keep_weights
        Also return per-row held and target weights (memory: rows x combos x symbols each).
    entry
        ``"state"`` or ``"change"``: see :func:`backtests.engine.schedule.episode_targets`.
    limits
        Leverage limits, financing and what to do with unfillable orders (None: ``Limits()``,
        no borrowing, errors).
    legs
        ``"together"``: every decision's legs fill at the first instant at which all of them can
        fill (see :func:`backtests.engine.schedule.common_instants`); ``"independent"``: each at
        its own next bar.
    paired
        The strategy declares its legs a pair: report legs traded and the legging gap per episode,
        and warn about episodes in which only some legs traded.

    Returns
    -------
    list of WindowResult
        One per window, in the order given.

    Raises
    ------
    UnfillableOrder
        A target beyond the leverage limits, or an order filled short of its size, with
        ``on_unfillable == "error"``.
    """
    limits = limits or Limits(markets=tuple(data.info[s].market for s in symbols))
    if not limits.markets:
        limits = Limits(limits.max_leverage, limits.market_caps, tuple(data.info[s].market for s in symbols),
                        limits.financing_rate, limits.on_unfillable)
    n_syms, n_w = len(symbols), len(windows)
    credit = max(0.0, limits.max_leverage - 1.0)
    gw = n_syms + (1 if credit > 0 else 0)  # columns per group (the credit line last)
    real = np.arange(gw) < n_syms
    sym_costs = [costs[s] for s in symbols]
    bars = [[asset_bars(data, s, w.start_utc, w.end_utc) for s in symbols] for w in windows]
    rows = [np.unique(np.concatenate([b.stamps for b in bw])) if bw else np.array([], dtype=np.int64) for bw in bars]
    start = min(w.start_utc for w in windows)
    end = max(w.end_utc for w in windows)
    tau, values, changed_at = decision_arrays(weights, n_combos, symbols, start, end)

    width = n_combos * gw
    n_rows = max((len(r) for r in rows), default=0)
    n_cols = n_w * width
    close = np.ones((n_rows, n_cols))
    size = np.full((n_rows, n_cols), np.nan)
    price = np.full((n_rows, n_cols), np.nan)
    fees = np.zeros((n_rows, n_cols))
    kind = np.full((n_rows, n_cols), -1, dtype=np.int8)
    val_price = np.full((n_rows, n_cols), np.nan) if gw > 1 else None
    stats = []
    for w in range(n_w):
        r, sl = len(rows[w]), slice(w * width, (w + 1) * width)

        def view(a: np.ndarray) -> np.ndarray:
            return a[:r, sl].reshape(r, n_combos, gw)[:, :, :n_syms]

        sched = ScheduleArrays(
            close=np.ones((r, n_syms)), size=view(size), price=view(price), fees=view(fees), kind=view(kind),
            val_price=view(val_price) if val_price is not None else None)
        common = common_instants(bars[w], fill) if legs == "together" and n_syms > 1 else None
        stats.append(window_schedule(rows[w], bars[w], tau, values, changed_at, sym_costs, fill,
                                     exit_at_window_end, sched, start=windows[w].start_utc.value, entry=entry,
                                     limits=limits, symbols=symbols, common=common))
        if r:
            full = np.ones((r, gw))
            full[:, :n_syms] = sched.close
            close[:r, sl] = np.tile(full, (1, n_combos))  # combo-major, like the other arrays
            close[r:, sl] = close[r - 1, sl]
            if credit > 0:
                any_order = ~np.isnan(size[:r, sl].reshape(r, n_combos, gw)[:, :, :n_syms]).all(axis=2)
                loan = size[:r, sl].reshape(r, n_combos, gw)
                loan[:, :, n_syms] = np.where(any_order, -credit, np.nan)
                price[:r, sl].reshape(r, n_combos, gw)[:, :, n_syms] = 1.0
                val_price[:r, sl].reshape(r, n_combos, gw)[:, :, n_syms] = 1.0
    del values, changed_at
    if val_price is not None:
        # an order's own price when nothing earlier is known (e.g. the first bar of a window)
        np.copyto(val_price, price, where=np.isnan(val_price) & ~np.isnan(size))
    slip_g = np.array([c.slippage for c in sym_costs] + [0.0] * (gw - n_syms))
    slippage = np.tile(slip_g, n_w * n_combos)[None, :]
    rec = _kernel(close, size, price, fees, slippage, gw, init_cash, val_price)

    # cash, positions and value from the order records (credit line included: value is equity)
    col, idx = rec["col"].astype(np.int64), rec["idx"].astype(np.int64)
    signed = np.where(rec["side"] == 0, rec["size"], -rec["size"])
    n_groups = n_w * n_combos
    cash = np.zeros((n_rows, n_groups))
    np.add.at(cash, (idx, col // gw), -signed * rec["price"] - rec["fees"])
    np.cumsum(cash, axis=0, out=cash)
    cash += init_cash
    position = np.zeros((n_rows, n_cols))
    position[idx, col] = signed
    np.cumsum(position, axis=0, out=position)
    bad_i, bad_c, bad_req = short_fills(size, price, val_price, fees, slippage, rec, cash, position, gw, real,
                                          init_cash)
    if len(bad_i) and limits.on_unfillable != "clip":
        w0 = int(bad_c[0] // width)
        local = int(bad_c[0] - w0 * width)
        j = local % gw
        raise UnfillableOrder(
            f"the order for {symbols[j]} could not be filled in full ({abs(bad_req[0]):.6g} units asked; a buy "
            f"is limited by the cash and the credit line of execution.max_leverage = {limits.max_leverage:g}); "
            f"raise the leverage allowed, or set execution.on_unfillable: clip (clipped fills are counted)",
            local // gw, pd.Timestamp(int(rows[w0][bad_i[0]]), tz="UTC"), symbols[j])
    asset_value = position * close
    value = cash + asset_value.reshape(n_rows, n_groups, gw).sum(axis=2)
    is_real = np.tile(real, n_w * n_combos)
    rmask = is_real[col]
    traded = np.zeros(n_groups)
    np.add.at(traded, col[rmask] // gw, np.abs(rec["size"][rmask] * rec["price"][rmask]))
    accrue = any(c.borrow_rate or c.long_yield for c in sym_costs) or (credit > 0 and limits.financing_rate > 0)
    sym_names = np.asarray(symbols, dtype=object)
    kinds = np.asarray(FILL_KINDS, dtype=object)

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
            av = asset_value[:r, sl].reshape(r, n_combos, gw)[:, :, :n_syms]
            held = np.divide(av, val[:, :, None], out=np.zeros_like(av), where=val[:, :, None] != 0)
            if accrue and r:
                rets = rets - _accruals(rows[w], held, sym_costs, limits.financing_rate if credit > 0 else 0.0)
        if keep_weights:
            sz = size[:r, sl].reshape(r, n_combos, gw)[:, :, :n_syms].reshape(r, n_combos * n_syms)
            filled = np.where(~np.isnan(sz), np.arange(r)[:, None], -1)
            np.maximum.accumulate(filled, axis=0, out=filled)
            target = np.where(filled >= 0, sz[np.clip(filled, 0, None), np.arange(n_combos * n_syms)], 0.0)
            target = target.reshape(r, n_combos, n_syms)
        else:
            held = None
        pos_w = position[:r, sl].reshape(r, n_combos, gw)[:, :, :n_syms]
        exposure = (np.abs(pos_w).sum(axis=2) > 0).mean(axis=0) if r else np.zeros(n_combos)
        # reduce each column as its own contiguous vector: numpy's summation order over a strided
        # slice depends on the array's total width, i.e. on chunking, and must not
        mean_value = np.ascontiguousarray(val.T).mean(axis=1) if r else np.full(n_combos, np.nan)
        turnover = np.divide(traded[g], mean_value, out=np.zeros(n_combos),
                             where=np.isfinite(mean_value) & (mean_value > 0))
        mine = (col >= w * width) & (col < (w + 1) * width) & rmask
        local = col[mine] - w * width
        o_rows = idx[mine]
        o_combo, o_sym = local // gw, local % gw
        o_kind = kind[o_rows, col[mine]].astype(np.int64)
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
            "fill_time": np.where(o_kind == 0, open_times, rows[w][o_rows] if r else o_rows),
            "fill_kind": kinds[np.clip(o_kind, 0, None)],
        })
        st = stats[w]
        clipped = st.clipped_targets.copy()
        notices = _window_notices(win, st, symbols)
        in_w = (bad_c >= w * width) & (bad_c < (w + 1) * width)
        if in_w.any():
            loc = bad_c[in_w] - w * width
            np.add.at(clipped, loc // gw, 1)
            for j in range(n_syms):
                n_j = int((loc % gw == j).sum())
                if n_j:
                    notices.append(Notice(
                        "clipped_order", f"{n_j} order(s) filled short of their size: a buy was limited by the cash "
                        f"and credit line (execution.max_leverage = {limits.max_leverage:g})", window=win.id,
                        symbol=symbols[j], count=n_j).record())
        legs_traded = gap = None
        if paired:
            legs_traded, gap = leg_stats(o_combo, o_sym, orders["fill_time"].to_numpy(dtype=np.int64),
                                         n_combos, n_syms)
            one = int(((legs_traded > 0) & (legs_traded < n_syms)).sum())
            if one:
                notices.append(Notice("pair_one_leg", f"{one} pair episode(s) traded only some of their "
                                      f"{n_syms} legs: an unhedged position, not a pair", window=win.id,
                                      count=one).record())
        if st.legged is not None and st.legged.any():
            n_leg = int((st.legged > 0).sum())
            notices.append(Notice("legs_not_together", f"{n_leg} episode(s) had decisions that could not fill all "
                                  "legs at one instant (no instant after them at which every leg trades, e.g. "
                                  "sessions that never overlap): those legs filled one after the other",
                                  window=win.id, count=n_leg).record())
        results.append(WindowResult(window=win, stamps=rows[w], returns=rets, held=held, target=target,
                                    entries=st.entries, exposure=exposure, turnover=turnover, orders=orders,
                                    clipped=clipped, notices=notices, legs_traded=legs_traded,
                                    legging_gap_hours=gap))
    return results


def leg_stats(combo: np.ndarray, sym: np.ndarray, fill_time: np.ndarray, n_combos: int, n_syms: int,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per combination: legs (symbols) with at least one fill, and the legging gap in hours.

    The gap is the time between the first fill of the first leg and the first fill of the last leg
    to trade (NaN with fewer than two legs traded).
    """
    first = np.full((n_combos, n_syms), np.iinfo(np.int64).max)
    np.minimum.at(first, (combo, sym), fill_time)
    traded = first != np.iinfo(np.int64).max
    n = traded.sum(axis=1)
    lo = np.where(traded, first, np.iinfo(np.int64).max).min(axis=1)
    hi = np.where(traded, first, np.iinfo(np.int64).min).max(axis=1)
    gap = np.where(n >= 2, (hi - lo).astype("float64") / 3.6e12, np.nan)
    return n.astype(np.int64), gap


def _window_notices(win: Window, st, symbols: list[str]) -> list[dict]:
    """Notices of one window's schedule: clipped targets, open fills that fell back to the close,
    targets in force at the window start that were not carried in."""
    out = []
    n_clip = int(st.clipped_targets.sum())
    if n_clip:
        out.append(Notice("clipped_order", f"{n_clip} target(s) beyond the leverage limits scaled down to fit "
                          "(execution.on_unfillable: clip)", window=win.id, count=n_clip).record())
    for sym, n in sorted(st.open_fallback.items()):
        out.append(Notice("open_fill_fallback", f"{n} order(s) asked to fill at the open filled at the close: "
                          "the bar has no open price (close-only data)", window=win.id, symbol=sym,
                          count=n).record())
    n_drop = int(st.dropped.sum())
    if n_drop:
        out.append(Notice("carried_target_dropped", f"{n_drop} combination(s) held a target set before the window "
                          "start; it was not carried in (each window is its own episode and starts flat)",
                          window=win.id, count=n_drop).record())
    return out
