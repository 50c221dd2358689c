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


@njit(**_FLAGS)
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


@njit(**_FLAGS)
def _in_force(values, made, j, pos, c, entry, start, first):
    """Rules 1 and 2 for one bar and combination: the latest decision strictly before the bar
    (``pos``, -1: none) as this episode sees it; returns (target, made)."""
    if pos < 0:
        return 0.0, _NEVER
    return _entry(values[pos, c, j], made[pos, c, j], entry, start, first)


@njit(**_FLAGS)
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
    of every order, NaN / -1 elsewhere; fees at every bar); ``instants`` (rows, combos), when not
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
