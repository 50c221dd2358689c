"""Generate scenarios: skeleton -> latent paths -> bars -> exchange rules -> what printed.

:func:`generate` makes one chunk (scenario indices ``start..stop-1``); :func:`generate_chunks`
walks a whole :class:`~.family.ScenarioSpec` in chunks of bounded memory. A scenario's numbers
depend only on its own stream (:mod:`.streams`) and parameters, so chunking never changes them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from backtests.errors import ConfigError
from backtests.exchange.states import Timeline
from backtests.notices import Notice
from backtests.scenarios.batch import AssetBars, ScenarioBatch
from backtests.scenarios.clock import MarketGrid, grids_for
from backtests.scenarios.exchange_state import (Printed, apply_masks, clip_to_limits, last_print, market_day,
                                                print_masks, scenario_notices, scheduled_day, symbol_day)
from backtests.scenarios.family import BARS, ScenarioFamily, ScenarioSpec
from backtests.scenarios.paths import Latent, draw_requests, latent_paths
from backtests.scenarios.shapes import skeleton
from backtests.scenarios.streams import Layout, draw
from backtests.time.calendars import CRYPTO

#: Default scenarios per chunk (about 60 MB of arrays per chunk for 9 assets x 2 sessions).
CHUNK = 256

#: Cap on a minute's move in units of its typical size when scaling volume.
VOLUME_CAP = 10.0



def latent_bars(x: np.ndarray, grid: MarketGrid, price: float, var: np.ndarray, extremes: np.ndarray,
                volume: float) -> tuple[np.ndarray, ...]:
    """1-minute OHLCV from a latent path.

    The open and close are the latent values at the bar's ends; the high and low are drawn from
    the distribution of a Brownian bridge's maximum and minimum between them (per-minute variance
    ``var``): ``(a + b +- sqrt((b - a)**2 + 2 * var * E)) / 2`` with ``E ~ Exp(1)``. Volume is
    ``volume * (0.4 + 0.6 * min(|b - a| / E|b - a|, 10))``: calm-market volume rising with the size
    of the move, capped at 6.4x (a crude proxy, labelled as such in docs/scenarios.md; noise-free
    paths trade ``volume`` a minute).
    """
    a = x[:, grid.bar_points]
    b = x[:, grid.bar_points + 1]
    level = price * np.exp(x)
    T = grid.n_bars
    d2 = (b - a) ** 2
    v = var[:, None]
    mid = 0.5 * (a + b)
    hi = mid + 0.5 * np.sqrt(d2 + 2.0 * v * extremes[:, :T])
    lo = mid - 0.5 * np.sqrt(d2 + 2.0 * v * extremes[:, T:2 * T])
    typical = np.sqrt(v * 2.0 / np.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(typical > 0, np.minimum(np.abs(b - a) / typical, VOLUME_CAP), 1.0)
    vol = volume * (0.4 + 0.6 * ratio)
    return level[:, grid.bar_points], price * np.exp(hi), price * np.exp(lo), level[:, grid.bar_points + 1], vol


def _leader_skeleton(spec: ScenarioSpec, grids, shock, params, draws):
    family = spec.family
    g = grids[family.asset(family.leader).market]
    s = shock[g.market]
    if family.shape == "template":
        from backtests.scenarios.templates import template_skeleton

        return template_skeleton(family, g, s, params, draws.get("uniforms", "template"))
    return skeleton(g, s, params)


def _exchange(family: ScenarioFamily, grids, raw: dict[str, tuple[np.ndarray, ...]], n: int):
    printed: dict[str, Printed] = {}
    days: dict[str, tuple[tuple[Timeline, ...], ...]] = {}
    sym_days: dict[str, list] = {}
    clipped: dict[str, int] = {}
    no_rules: list[str] = []
    for market in family.markets:
        g = grids[market]
        members = [family.asset(s) for s in family.order() if family.asset(s).market == market]
        if market == CRYPTO:
            for a in members:
                o, h, lo, c, v = raw[a.symbol]
                printed[a.symbol] = Printed(o, h, lo, c, v, np.zeros_like(o, dtype=bool))
            continue
        ri = family.rule_index(market)
        if ri is None:
            no_rules.append(market)
        out = {a.symbol: Printed(*(np.full_like(raw[a.symbol][0], np.nan) for _ in range(5)),
                                 np.zeros(raw[a.symbol][0].shape, dtype=bool)) for a in members}
        prev = {a.symbol: np.full(n, a.price) for a in members}
        per_session = []
        for s in range(g.n_sessions):
            sl = g.session_bars(s)
            if ri is not None:
                idx = raw[ri.symbol]
                tls, prints, ao, cp = market_day(g, s, tuple(arr[:, sl] for arr in idx[:4]), prev[ri.symbol],
                                                 ri.index)
            else:
                base = scheduled_day(market, g.dates[s], int(g.opens[s]), int(g.closes[s]))
                tls = [base] * n
                prints, ao, cp = (np.repeat(m[None, :], n, axis=0)
                                  for m in print_masks(base, g.starts[sl], g.ends[sl], int(g.opens[s])))
            per_session.append(tuple(tls))
            for a in members:
                o, h, lo, c, v = (arr[:, sl] for arr in raw[a.symbol])
                if not a.exchange_traded:
                    p = Printed(o, h, lo, c, v, np.zeros_like(o, dtype=bool))
                else:
                    p = apply_masks(o, h, lo, c, v, prints, ao, cp)
                    if market == "XKRX" and a.kind in ("equity", "etf"):
                        p, k = clip_to_limits(p, prev[a.symbol], g.dates[s], a.leverage)
                        clipped[a.symbol] = clipped.get(a.symbol, 0) + k
                    if family.symbol_rules and a.kind in ("equity", "etf"):
                        p, own = _symbol_rules(market, g, s, tls, p, (o, h, lo, c, v), prev[a.symbol], a)
                        sym_days.setdefault(a.symbol, []).append(own)
                for name in ("open", "high", "low", "close", "volume", "auction"):
                    getattr(out[a.symbol], name)[:, sl] = getattr(p, name)
                prev[a.symbol] = last_print(p.close, prev[a.symbol])
        days[market] = tuple(per_session)
        printed.update(out)
    sym = {k: tuple(v) for k, v in sym_days.items()}
    return printed, days, sym, clipped, no_rules


def _symbol_rules(market, g, s, tls, p, raw_day, base, a):
    o, h, lo, c, v = raw_day
    own = []
    sl = g.session_bars(s)
    for i in range(len(tls)):
        tl = symbol_day(market, g, s, tls[i], p, i, float(base[i]), a.symbol, a.leverage)
        own.append(tl)
        masks = print_masks(tl, g.starts[sl], g.ends[sl], int(g.opens[s]))
        row = apply_masks(o[i:i + 1], h[i:i + 1], lo[i:i + 1], c[i:i + 1], v[i:i + 1],
                          *(m[None, :] for m in masks))
        if market == "XKRX":
            row, _ = clip_to_limits(row, base[i:i + 1], g.dates[s], a.leverage)
        for name in ("open", "high", "low", "close", "volume", "auction"):
            getattr(p, name)[i] = getattr(row, name)[0]
    return p, tuple(own)


def aggregate(p: Printed, grid: MarketGrid, minutes: int) -> tuple[np.ndarray, np.ndarray, Printed]:
    """1-minute printed bars as ``minutes``-minute bars inside each session (stamped at their end).

    Open = first print, close = last print, high/low over the prints, volume summed; a bar with
    no print is NaN; ``auction`` if any of its prints is an auction print.
    """
    if minutes == 1:
        return grid.starts, grid.ends, p
    lengths = np.diff(grid.session_points) - 1
    if np.any(lengths % minutes):
        raise ConfigError(f"{grid.market}: a session of {lengths.tolist()} minutes is not a whole number of "
                          f"{minutes}-minute bars")
    n, T = p.close.shape
    k = T // minutes
    shape = (n, k, minutes)
    o, h, lo, c, v = (a.reshape(shape) for a in (p.open, p.high, p.low, p.close, p.volume))
    ok = ~np.isnan(c)
    anyp = ok.any(axis=2)
    first = np.argmax(ok, axis=2)
    last = minutes - 1 - np.argmax(ok[:, :, ::-1], axis=2)
    take = lambda a, i: np.take_along_axis(a, i[:, :, None], axis=2)[:, :, 0]  # noqa: E731
    out = Printed(np.where(anyp, take(o, first), np.nan), np.where(ok, h, -np.inf).max(axis=2),
                  np.where(ok, lo, np.inf).min(axis=2), np.where(anyp, take(c, last), np.nan),
                  np.where(anyp, np.where(ok, v, 0.0).sum(axis=2), np.nan),
                  (p.auction.reshape(shape) & ok).any(axis=2))
    out.high[~anyp] = np.nan
    out.low[~anyp] = np.nan
    starts = grid.starts.reshape(k, minutes)[:, 0]
    ends = grid.ends.reshape(k, minutes)[:, -1]
    return starts, ends, out


def generate(spec: ScenarioSpec, start: int = 0, stop: int | None = None) -> ScenarioBatch:
    """Generate scenarios ``start..stop-1`` of ``spec`` (all of them by default).

    Returns
    -------
    ScenarioBatch
        Bars of every asset, the exchange timelines, parameters and notices of those scenarios.

    Raises
    ------
    ConfigError
        For an empty or out-of-range slice, or parameters the family's sessions cannot hold.
    """
    total = len(spec)
    stop = total if stop is None else int(stop)
    if not 0 <= start < stop <= total:
        raise ConfigError(f"scenario slice {start}..{stop} is outside 0..{total}")
    family = spec.family
    grids, shock = grids_for(family)
    index = np.arange(start, stop, dtype=np.int64)
    params = spec.params.take(spec.rows(index))
    requests = draw_requests(family, grids)
    if family.shape == "template":
        from backtests.scenarios.templates import TEMPLATE_UNIFORMS

        requests.append(("uniforms", "template", TEMPLATE_UNIFORMS))
    draws = draw(spec.seed, spec.keys(index), Layout.build(requests))
    lead_x, lead_ref, truncated = _leader_skeleton(spec, grids, shock, params, draws)
    # the leader's price is its close before its *first* session: measure the skeleton from there
    # (with sessions before the shock, the shock session's previous close is price * exp(mu * B))
    lead_x = lead_x - lead_ref[:, None]
    lead_ref = np.zeros_like(lead_ref)
    latent: Latent = latent_paths(family, grids, params, draws, lead_x, lead_ref,
                                  shock[family.asset(family.leader).market])
    raw = {}
    for a in family.assets:
        g = grids[a.market]
        raw[a.symbol] = latent_bars(latent.x[a.symbol], g, a.price, latent.var[a.symbol],
                                    draws.get("exponentials", f"{a.symbol}:extremes"), a.volume)
    printed, days, sym_days, clipped, no_rules = _exchange(family, grids, raw, len(index))
    minutes = BARS[family.bar]
    bars: dict[str, AssetBars] = {}
    for a in family.assets:
        g = grids[a.market]
        p = printed[a.symbol]
        extra = {}
        if a.symbol in latent.liquidations:
            lu, su, _ = latent.liquidations[a.symbol]
            if minutes > 1:
                lu, su = (x.reshape(len(index), -1, minutes).sum(axis=2) for x in (lu, su))
            extra = {"long_liquidations_usd": lu, "short_liquidations_usd": su}
        starts, ends, p = aggregate(p, g, minutes)
        bars[a.symbol] = AssetBars(a.symbol, a.market, a.kind, a.currency, starts, ends, p.open, p.high, p.low,
                                   p.close, p.volume, p.auction, extra, a.price, g.reference)
    notices = tuple(scenario_notices(family.name, len(index), truncated, clipped, no_rules, family.symbol_rules))
    return ScenarioBatch(spec, index, params, grids, bars, days, sym_days, notices)


def generate_chunks(spec: ScenarioSpec, chunk: int = CHUNK, start: int = 0, stop: int | None = None
                    ) -> Iterator[ScenarioBatch]:
    """Generate ``spec``'s scenarios ``start..stop-1`` in chunks of at most ``chunk`` scenarios."""
    if chunk < 1:
        raise ConfigError("chunk must be >= 1 scenario")
    stop = len(spec) if stop is None else int(stop)
    for lo in range(start, stop, chunk):
        yield generate(spec, lo, min(lo + chunk, stop))


def merge_notices(batches: list[ScenarioBatch]) -> list[Notice]:
    """The notices of several batches, counts added (same code, message and place)."""
    acc: dict[tuple, int] = {}
    for b in batches:
        for nt in b.notices:
            key = (nt.code, nt.message, nt.strategy, nt.window, nt.symbol)
            acc[key] = acc.get(key, 0) + nt.count
    return [Notice(*k, count=c) for k, c in sorted(acc.items(), key=lambda kv: kv[0][0])]


__all__ = ["generate", "generate_chunks", "aggregate", "latent_bars", "merge_notices", "CHUNK"]
