"""The test oracle of :mod:`backtests.engine.compiled`: the numpy expressions the engine used
before its passes were compiled (scare 0.3.0.dev0 of 2026-12-05), with the compiled passes'
signatures, so a test can swap them in and simulate the same inputs both ways.

Not a second engine: nothing outside tests imports it.
"""

from __future__ import annotations

import numpy as np

from backtests.engine.compiled import ENTRY_CHANGE, ENTRY_STATE

NEVER = np.iinfo(np.int64).min


def decision_values(vals, tau, lo, out_vals, out_made):
    if not np.isfinite(vals[~np.isnan(vals)]).all():
        return False
    valid = ~np.isnan(vals)
    pos = np.where(valid, np.arange(len(tau))[:, None], -1)
    np.maximum.accumulate(pos, axis=0, out=pos)
    vals = np.where(pos >= 0, vals[np.clip(pos, 0, None), np.arange(vals.shape[1])], 0.0)
    changed = np.empty(vals.shape, dtype=bool)
    if len(tau):
        changed[0] = vals[0] != 0.0
        changed[1:] = vals[1:] != vals[:-1]
    changed_at = np.where(changed, tau[:, None], NEVER)
    if len(tau):
        np.maximum.accumulate(changed_at, axis=0, out=changed_at)
    out_vals[:] = vals[lo:]
    out_made[:] = changed_at[lo:]
    return True


def episode_values(values, made, entry, start, first, out_values, out_made):
    if entry == ENTRY_STATE:
        out_values[:] = values
        out_made[:] = np.maximum(made, first)
    elif entry == ENTRY_CHANGE:
        out_values[:] = np.where(made < start, 0.0, values)
        out_made[:] = made
    else:
        out_values[:] = values
        out_made[:] = made


def _targets(tau, values, made, j, stamps, open_times, opens, through, entry, start, first, fill_open, exit_last):
    n_combos = values.shape[1]
    vals, mades = np.empty_like(values), np.empty_like(made)
    episode_values(values, made, entry, start, first, vals, mades)
    pos = np.searchsorted(tau, stamps, side="left") - 1
    has = pos >= 0
    safe = np.clip(pos, 0, None)
    tgt = np.where(has[:, None], vals[safe, :, j], 0.0) if len(tau) else np.zeros((len(stamps), n_combos))
    mk = np.where(has[:, None], mades[safe, :, j], NEVER) if len(tau) else np.full((len(stamps), n_combos), NEVER)
    if exit_last:
        tgt[-1, :] = 0.0
    thr = through[:, None] if len(through) else False
    after = (open_times[:, None] > mk) | (np.asarray(thr) & (open_times[:, None] == mk))
    use_open = (after & np.isfinite(opens)[:, None]) if fill_open else np.zeros(tgt.shape, dtype=bool)
    if exit_last:
        use_open[-1, :] = False
    prev = np.empty_like(tgt)
    prev[0] = 0.0
    prev[1:] = tgt[:-1]
    n_fb = 0
    if fill_open and not np.isfinite(opens).all():
        fb = (tgt != prev) & after & ~np.isfinite(opens)[:, None]
        if exit_last:
            fb[-1, :] = False
        n_fb = int(fb.sum())
    return tgt, mk, use_open, prev, n_fb


def bar_targets(tau, values, made, j, stamps, open_times, opens, through, entry, start, first, fill_open,
                exit_last, tgt_out, made_out, use_open_out):
    tgt, mk, use_open, _, n_fb = _targets(tau, values, made, j, stamps, open_times, opens, through, entry, start,
                                          first, fill_open, exit_last)
    tgt_out[:], made_out[:], use_open_out[:] = tgt, mk, use_open
    return n_fb


def nominal_orders(tau, values, made, j, stamps, open_times, opens, through, closes, at, entry, start, first,
                   fill_open, exit_last, commission, sell_tax, rest, size, price, fees, kind, instants,
                   entries, departed):
    tgt, mk, use_open, prev, n_fb = _targets(tau, values, made, j, stamps, open_times, opens, through, entry, start,
                                             first, fill_open, exit_last)
    order = tgt != prev
    not_open = ~use_open
    knd = not_open.view(np.int8) + (not_open & (open_times[:, None] < mk)).view(np.int8)
    px = np.where(use_open, opens[:, None], closes[:, None])
    size[at, :, j] = np.where(order, tgt, np.nan)
    price[at, :, j] = np.where(order, px, np.nan)
    if fees.shape[0]:
        fees[at, :, j] = commission + np.where(tgt < prev, sell_tax, 0.0)
    kind[at, :, j] = np.where(order, knd, -1)
    entries += ((prev == 0.0) & (tgt != 0.0)).sum(axis=0)
    if instants.shape[0]:
        t_fill = np.where(use_open, open_times[:, None], stamps[:, None])
        sub = instants[at]
        instants[at] = np.where(order, np.minimum(sub, t_fill), sub)
    chosen = order & (np.abs(size[at, :, j] - rest) > 1e-12)
    if exit_last:
        chosen[-1, :] = False
    departed |= chosen.any(axis=0)
    return n_fb


def account_pass(idx, col, side, size, price, fees, close, gw, n_real, init_cash, position, cash, value, traded):
    n_rows, n_cols = position.shape
    n_groups = cash.shape[1]
    signed = np.where(side == 0, size, -size)
    c = np.zeros((n_rows, n_groups))
    np.add.at(c, (idx, col // gw), -signed * price - fees)
    np.cumsum(c, axis=0, out=c)
    c += init_cash
    pos = np.zeros((n_rows, n_cols))
    pos[idx, col] = signed
    np.cumsum(pos, axis=0, out=pos)
    asset_value = pos * close
    cash[:], position[:] = c, pos
    value[:] = c + asset_value.reshape(n_rows, n_groups, gw).sum(axis=2)
    is_real = (col % gw) < n_real
    t = np.zeros(n_groups)
    np.add.at(t, col[is_real] // gw, np.abs(size[is_real] * price[is_real]))
    traded[:] = t
    return True


def window_pass(value, position, r, g0, n_combos, gw, n_syms, init_cash, rets, exposure, mean_value):
    val = value[:r, g0:g0 + n_combos]
    prev_val = np.vstack([np.full((1, n_combos), init_cash), val[:-1]]) if r else val
    rets[:] = val / prev_val - 1.0
    pos_w = position[:r, g0 * gw:(g0 + n_combos) * gw].reshape(r, n_combos, gw)[:, :, :n_syms]
    exposure[:] = (np.abs(pos_w).sum(axis=2) > 0).mean(axis=0) if r else np.zeros(n_combos)
    mean_value[:] = np.ascontiguousarray(val.T).mean(axis=1) if r else np.full(n_combos, np.nan)


def held_weights(value, position, close, r, g0, n_combos, gw, n_syms, out):
    sl = slice(g0 * gw, (g0 + n_combos) * gw)
    av = (position[:r, sl] * close[:r, sl]).reshape(r, n_combos, gw)[:, :, :n_syms]
    val = value[:r, g0:g0 + n_combos]
    out[:] = np.divide(av, val[:, :, None], out=np.zeros_like(av), where=val[:, :, None] != 0)


def target_weights(size, r, col0, n_combos, gw, n_syms, out):
    sz = size[:r, col0:col0 + n_combos * gw].reshape(r, n_combos, gw)[:, :, :n_syms].reshape(r, n_combos * n_syms)
    filled = np.where(~np.isnan(sz), np.arange(r)[:, None], -1)
    np.maximum.accumulate(filled, axis=0, out=filled)
    target = np.where(filled >= 0, sz[np.clip(filled, 0, None), np.arange(n_combos * n_syms)], 0.0)
    out[:] = target.reshape(r, n_combos, n_syms)


PASSES = ("decision_values", "episode_values", "bar_targets", "nominal_orders", "account_pass", "window_pass",
          "held_weights", "target_weights")
