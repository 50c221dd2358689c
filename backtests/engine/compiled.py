"""Compiled passes around vectorbt's order kernel (plain arrays in and out, no pandas).

The engine's rules are stated once, in the docstrings of :mod:`backtests.engine.schedule` (the
order schedule: rules 1-10) and :mod:`backtests.engine.simulate` (the accounting); these are their
compiled passes, each one loop over rows x combinations writing into arrays the caller
preallocated (the layout's kernel inputs, its outputs), without ``(rows, combinations, symbols)``
temporaries:

* :func:`decision_values`: the strategy's targets carried forward and when each was set
  (:func:`~backtests.engine.schedule.decision_arrays`);
* :func:`bar_targets` / :func:`nominal_orders`: per asset and window, the target in force at each
  bar (rules 1, 2, 5), whether it fills at the open (rule 3), and, where the exchange state
  changes nothing, the orders themselves (rule 4: size, price, fees, fill kind, the valuation
  instant of rule 8, entries and ``chosen``);
* :func:`account_pass`: cash, positions and equity from vectorbt's order records.

Bit-identical to the numpy expressions they replace: every elementwise step is the same IEEE
operation in the same order (numba without fastmath does not contract ``a * b + c``), sums run in
numpy's order (row after row), so ``metrics.json`` does not change.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")

#: ``entry`` modes of :func:`nominal_orders` / :func:`bar_targets` (rule 1): the episode's targets
#: are already applied by the caller, a target set before the start is dropped (``"change"``),
#: or every in-window decision states its target afresh (``"state"``).
ENTRY_APPLIED, ENTRY_CHANGE, ENTRY_STATE = 0, 1, 2
_NEVER = np.iinfo(np.int64).min
_NONE = np.iinfo(np.int64).max
#: Groups (combinations) a row-major pass handles together (:func:`account_pass`).
TILE = 64


@njit(**_FLAGS)
def pairwise_block(a, lo, n):  # numpy's pairwise_sum (loops_utils.h) on at most 128 values, unroll 8
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(**_FLAGS)
def pairwise_sum(a, n):
    """numpy's pairwise sum of ``a[:n]``: halves (multiples of 8) down to blocks of 128.

    Written with an explicit stack: numba cannot cache recursive functions.
    """
    if n <= 128:
        return pairwise_block(a, 0, n)
    los = np.empty(64, dtype=np.int64)
    lens = np.empty(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)
    left = np.empty(64)
    sp = 0
    los[0], lens[0], stage[0] = 0, n, 0
    ret = 0.0
    while True:
        lo, m = los[sp], lens[sp]
        half = m // 2
        half -= half % 8
        if m <= 128:
            ret = pairwise_block(a, lo, m)
        elif stage[sp] == 0:
            stage[sp] = 1
            sp += 1
            los[sp], lens[sp], stage[sp] = lo, half, 0
            continue
        elif stage[sp] == 1:
            left[sp] = ret
            stage[sp] = 2
            sp += 1
            los[sp], lens[sp], stage[sp] = lo + half, m - half, 0
            continue
        else:
            ret = left[sp] + ret
        if sp == 0:
            return ret
        sp -= 1


@njit(**_FLAGS)
def decision_values(vals, tau, lo, out_vals, out_made):
    """Targets carried forward and the stamp each was set, rows ``lo..`` of ``vals``.

    Parameters
    ----------
    vals
        (stamps, columns) float64 targets, NaN = unchanged (leading NaN = flat).
    tau
        (stamps,) int64 ns UTC decision stamps, sorted.
    lo
        First row written: rows before it are read (to carry values forward), not written.
    out_vals, out_made
        (stamps - lo, columns) float64 / int64, written: the target in force at each stamp and
        the stamp at which it was set (``NEVER``: flat from the start).

    Returns
    -------
    bool
        False when a target is infinite (the caller raises).
    """
    n, m = vals.shape
    cur = np.zeros(m)
    made = np.full(m, _NEVER, dtype=np.int64)
    for t in range(n):
        for c in range(m):
            v = vals[t, c]
            if np.isnan(v):
                v = cur[c]
            elif np.isinf(v):
                return False
            if (t == 0 and v != 0.0) or (t > 0 and v != cur[c]):
                made[c] = tau[t]
            cur[c] = v
            if t >= lo:
                out_vals[t - lo, c] = v
                out_made[t - lo, c] = made[c]
    return True


@njit(inline="always", **_FLAGS)
def _entry(v, m, entry, start, first):
    """Rule 1 for one target ``v`` made at ``m``: as the episode starting at ``start`` (its first
    decision stamped ``first``) sees it; returns (target, made)."""
    if entry == ENTRY_CHANGE and m < start:
        return 0.0, m  # set before the episode: flat until the strategy changes it
    if entry == ENTRY_STATE and m < first:
        return v, first  # every in-window decision states its target afresh
    return v, m


@njit(**_FLAGS)
def episode_values(values, made, entry, start, first, out_values, out_made):
    """Rule 1 over an episode's decisions: ``values``, ``made`` (decisions, combos, symbols) as the
    episode sees them, written into ``out_values``, ``out_made``."""
    n, m, s = values.shape
    for t in range(n):
        for c in range(m):
            for j in range(s):
                out_values[t, c, j], out_made[t, c, j] = _entry(values[t, c, j], made[t, c, j], entry, start, first)


@njit(inline="always", **_FLAGS)
def _in_force(values, made, j, pos, c, entry, start, first):
    """Rules 1 and 2 for one bar and combination: the latest decision strictly before the bar
    (``pos``, -1: none) as this episode sees it; returns (target, made)."""
    if pos < 0:
        return 0.0, _NEVER
    return _entry(values[pos, c, j], made[pos, c, j], entry, start, first)


@njit(inline="always", **_FLAGS)
def _opened_after(open_time, made, through):
    """Rule 3: the bar opened after the decision (or at it, on a bar trading through its open)."""
    return open_time > made or (through and open_time == made)


@njit(**_FLAGS)
def bar_targets(tau, values, made, j, stamps, open_times, opens, through, entry, start, first, fill_open,
                exit_last, tgt_out, made_out, use_open_out):
    """Per bar of one asset and combination: the target in force, when it was made, and whether
    an order there fills at the open (rules 1, 2, 3 and 5 of :mod:`backtests.engine.schedule`).

    Parameters
    ----------
    tau
        (decisions,) int64 ns UTC stamps of the episode's decisions (per asset, ``legs``
        applied); ``values``, ``made`` (decisions, combos, symbols) their targets and when each
        was made; ``j`` the asset's symbol position.
    stamps, open_times, opens, through
        The asset's bars in the window (close stamps, open instants, open prices, bars trading
        through their open).
    entry, start, first
        Rule 1 (:data:`ENTRY_APPLIED`, :data:`ENTRY_CHANGE`, :data:`ENTRY_STATE`); ``start`` the
        window start and ``first`` its first decision stamp (int64 ns).
    fill_open, exit_last
        ``execution.fill == "open"``; ``exit_at_window_end``.
    tgt_out, made_out, use_open_out
        (bars, combos) written.

    Returns
    -------
    int
        Orders of fill ``open`` that fall back to the close (no open price), rule 3.
    """
    n_bars = len(stamps)
    n_combos = values.shape[1]
    fallback = 0
    for k in range(n_bars):
        pos = np.searchsorted(tau, stamps[k]) - 1  # side="left": decisions strictly before the bar
        last = exit_last and k == n_bars - 1
        ok_open = np.isfinite(opens[k])
        thr = len(through) > 0 and through[k]
        for c in range(n_combos):
            v, m = _in_force(values, made, j, pos, c, entry, start, first)
            if last:
                v = 0.0
            after = fill_open and _opened_after(open_times[k], m, thr)
            tgt_out[k, c] = v
            made_out[k, c] = m
            use_open_out[k, c] = after and ok_open and not last
            if after and not ok_open and not last:
                prev = tgt_out[k - 1, c] if k > 0 else 0.0
                if v != prev:
                    fallback += 1
    return fallback


@njit(**_FLAGS)
def nominal_orders(tau, values, made, j, stamps, open_times, opens, through, closes, at, entry, start, first,
                   fill_open, exit_last, commission, sell_tax, rest, size, price, fees, kind, instants,
                   entries, departed):
    """One asset's orders in one window where the exchange state changes nothing (rules 1-5, 8).

    Arguments as :func:`bar_targets`, and: ``closes`` the bars' close prices; ``at`` (bars,) the
    row of each bar on the run clock; ``commission``, ``sell_tax`` the asset's fee fractions;
    ``rest`` (combos,) its resting weight. Written: ``size``, ``price``, ``fees``, ``kind``
    (rows, combos, symbols) at column ``j`` (target weight, fill price, fee fraction and fill kind
    of every order, NaN / -1 elsewhere; fees at every bar, unless ``fees`` is empty: the caller's
    commissions then serve every order); ``instants`` (rows, combos), when not
    empty, lowered to each order's fill instant; ``entries`` (combos,) += positions opened;
    ``departed`` (combos,) |= an order filled a target other than ``rest`` (the forced exit at the
    window's end aside).

    Returns
    -------
    int
        Orders of fill ``open`` that fall back to the close (no open price).
    """
    n_bars = len(stamps)
    n_combos = values.shape[1]
    track = instants.shape[0] > 0
    write_fees = fees.shape[0] > 0
    prev = np.zeros(n_combos)
    fallback = 0
    for k in range(n_bars):
        pos = np.searchsorted(tau, stamps[k]) - 1
        last = exit_last and k == n_bars - 1
        ok_open = np.isfinite(opens[k])
        thr = len(through) > 0 and through[k]
        row = at[k]
        for c in range(n_combos):
            v, m = _in_force(values, made, j, pos, c, entry, start, first)
            if last:
                v = 0.0
            p = prev[c]
            after = fill_open and _opened_after(open_times[k], m, thr)
            use_open = after and ok_open and not last
            order = v != p
            if after and not ok_open and not last and order:
                fallback += 1
            if write_fees:
                fees[row, c, j] = commission + (sell_tax if v < p else 0.0)
            if order:
                size[row, c, j] = v
                price[row, c, j] = opens[k] if use_open else closes[k]
                # OPEN (0) at the open; else AUCTION (2) when decided while the session was open
                # (a market-on-close order), CLOSE (1) otherwise
                kind[row, c, j] = 0 if use_open else (2 if open_times[k] < m else 1)
                if track:
                    t_fill = open_times[k] if use_open else stamps[k]
                    if t_fill < instants[row, c]:
                        instants[row, c] = t_fill
                if not last and abs(v - rest[c]) > 1e-12:
                    departed[c] = True
            if p == 0.0 and v != 0.0:
                entries[c] += 1
            prev[c] = v
    return fallback


@njit(**_FLAGS)
def _wide_group_sum(position, close, t, lo, gw):
    """``position * close`` of one group's ``gw >= 8`` columns at row ``t``, summed in numpy's
    pairwise order (the unrolled block of 8, halves past 128)."""
    buf = np.empty(gw)
    for k in range(gw):
        buf[k] = position[t, lo + k] * close[t, lo + k]
    return pairwise_sum(buf, gw)


@njit(**_FLAGS)
def account_pass(idx, col, side, size, price, fees, close, gw, n_real, init_cash, position, cash, value, traded):
    """Cash, positions and equity of every group from vectorbt's order records, in one pass over rows.

    Parameters
    ----------
    idx, col, side, size, price, fees
        The order records' fields (row, column, 0 = buy, units, fill price, fees in USD), in
        vectorbt's order: by group, then row (then the call sequence inside the row).
    close
        (rows, cols) close prices the kernel simulated with.
    gw, n_real
        Columns per group and how many of them are assets (the rest: the credit line).
    init_cash
        Cash of every group before its first row, USD.
    position, cash, value, traded
        Written: (rows, cols) units after each row; (rows, groups) cash and equity after each row,
        USD; (groups,) traded value of the assets, USD.

    Returns
    -------
    bool
        False when the records are not in vectorbt's order (nothing written then).

    Notes
    -----
    The sums are numpy's of the expressions this pass replaced: a row's cash flows are added up
    (in record order) before they are added to the running cash, and ``init_cash`` is added to the
    running sum at each row (``cumsum(flows) + init_cash``).
    """
    n_rows, n_cols = position.shape
    n_groups = cash.shape[1]
    n_rec = len(idx)
    first = np.full(n_groups + 1, n_rec, dtype=np.int64)  # first record of each group
    for r in range(n_rec - 1, -1, -1):
        g = col[r] // gw
        if r + 1 < n_rec:
            g_next = col[r + 1] // gw
            if g_next < g or (g_next == g and idx[r + 1] < idx[r]):
                return False
        first[g] = r
    for g in range(n_groups - 1, -1, -1):
        if first[g] > first[g + 1]:
            first[g] = first[g + 1]
    ptr = first[:n_groups].copy()
    flows = np.zeros(n_groups)  # running sum of cash flows (without init_cash)
    traded[:] = 0.0
    # groups in tiles, rows inside a tile: the tile's records are read as a few sequential
    # streams and the (rows, cols) arrays a few cache lines per row at a time
    for g_lo in range(0, n_groups, TILE):
        g_hi = min(g_lo + TILE, n_groups)
        for t in range(n_rows):
            for g in range(g_lo, g_hi):
                lo = g * gw
                for k in range(gw):
                    position[t, lo + k] = position[t - 1, lo + k] if t > 0 else 0.0
                cell = 0.0
                p = ptr[g]
                while p < first[g + 1] and idx[p] == t:
                    c = col[p]
                    signed = size[p] if side[p] == 0 else -size[p]
                    cell += -signed * price[p] - fees[p]
                    position[t, c] = position[t, c] + signed if t > 0 else signed
                    if c - lo < n_real:
                        traded[g] += abs(size[p] * price[p])
                    p += 1
                ptr[g] = p
                flows[g] = flows[g] + cell if t > 0 else cell
                cash[t, g] = flows[g] + init_cash
                if gw < 8:  # numpy sums fewer than 8 values one after the other, from 0.0
                    held = 0.0
                    for k in range(gw):
                        held += position[t, lo + k] * close[t, lo + k]
                else:
                    held = _wide_group_sum(position, close, t, lo, gw)
                value[t, g] = cash[t, g] + held
    return True


@njit(**_FLAGS)
def window_pass(value, position, r, g0, n_combos, gw, n_syms, init_cash, rets, exposure, mean_value):
    """One window's period returns and per-run sums (its ``n_combos`` groups from ``g0``, rows ``:r``).

    Written: ``rets`` (r, combos) simple returns of equity (the first from ``init_cash``);
    ``exposure`` (combos,) share of rows holding any asset; ``mean_value`` (combos,) mean equity
    (numpy's pairwise sum, as ``ndarray.mean`` of a contiguous column: independent of chunking).
    """
    held = np.zeros(n_combos, dtype=np.int64)
    for t in range(r):
        for c in range(n_combos):
            g = g0 + c
            prev = value[t - 1, g] if t > 0 else init_cash
            rets[t, c] = value[t, g] / prev - 1.0
            lo = g * gw
            for k in range(n_syms):
                if position[t, lo + k] != 0.0:
                    held[c] += 1
                    break
    for c in range(n_combos):
        exposure[c] = held[c] / r if r else 0.0
        mean_value[c] = pairwise_sum(value[:r, g0 + c], r) / r if r else np.nan


@njit(**_FLAGS)
def held_weights(value, position, close, r, g0, n_combos, gw, n_syms, out):
    """(r, combos, symbols) weights held after each row: asset value over equity (0 where equity is 0)."""
    for t in range(r):
        for c in range(n_combos):
            g = g0 + c
            v = value[t, g]
            for k in range(n_syms):
                out[t, c, k] = position[t, g * gw + k] * close[t, g * gw + k] / v if v != 0 else 0.0


@njit(**_FLAGS)
def target_weights(size, r, col0, n_combos, gw, n_syms, out):
    """(r, combos, symbols) target weight in force after each row: the last order's size at or
    before it (columns ``col0 + combo * gw + symbol`` of the kernel's ``size``), 0 before the first."""
    if r == 0:
        return
    for c in range(n_combos):
        for k in range(n_syms):
            s = size[0, col0 + c * gw + k]
            out[0, c, k] = 0.0 if np.isnan(s) else s
    for t in range(1, r):
        for c in range(n_combos):
            for k in range(n_syms):
                s = size[t, col0 + c * gw + k]
                out[t, c, k] = out[t - 1, c, k] if np.isnan(s) else s
