"""Matched baselines: the same vehicles, held over the same spans, at the same exposure.

The contract's baseline (:func:`backtests.scoring.evaluate_events.baseline`) holds the strategy's
first traded symbol over the whole window: a fade that holds KODEX for one session is compared
with five sessions of KODEX, a market-neutral pair with long MU, a 60/40 BTC/ETH sleeve with BTC
alone. The matched baseline asks instead "what would simply holding what the strategy held, over
the time it held it, have returned?", built from the run's own fills:

* An episode's **exposure intervals** run from a fill that takes the run from holding nothing to
  holding something, to the fill that brings it back to holding nothing (or, when it still holds,
  the close of the window's last row).
* In each interval the baseline holds, without trading, the position the strategy **built** when
  it opened the interval: every symbol first filled before any holding was reduced (legs that fill
  at different instants, on different markets, included; a rotation's later switch into a
  stablecoin, which replaces capital already counted, not), each at the weight of its first fill:
  its signed fill value (units x the bar price it filled at) over the portfolio value when the
  interval opened (the run's value then: ``init_cash`` compounded by its returns of the rows stamped
  before). So a pair keeps its legs' gross and net exposure, a sleeve its weights, a sized position
  its size.
* Each symbol is bought (or sold short) at the **bar price** of that first fill (the bar's open for
  an open fill, else its close: the engine's own fill rule, before slippage) and closed at the bar
  price of the interval's exit fill in that symbol (else its last close at or before the exit).
  USD, before costs. An interval returns ``sum_s w_s (P_exit / P_entry - 1)``; the intervals of an
  episode compound; an episode in which the strategy never held anything returns 0 (not traded).

``difference`` compares the two episode by episode (strategy minus matched baseline) with the same
event-level statistics (clusters as the units): the number behind "beats" or "trails".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtests.jsonfmt import clean_json
from backtests.scoring.trades import holdings

MATCHED_RULE = ("per episode, over each span in which the strategy held a position (from the fill that opened it from "
                "flat to the fill that closed it to flat, or the window's last close), hold the position it built when "
                "the span opened (each symbol first filled before any holding was reduced, at the weight of that fill: "
                "signed fill value over the portfolio value when the span opened), bought and sold at the bars' prices "
                "the engine filled at, without trading in between; USD, before costs")


@dataclass
class Interval:
    """One exposure interval of a run: its entry and exit instants (int64 ns UTC; ``exit`` None when
    still open at the window's end) and per symbol its first fill (instant, signed units, kind)."""

    entry: int
    exit: int | None = None
    exit_kinds: dict[str, str] = field(default_factory=dict)
    legs: dict[str, tuple[int, float, str]] = field(default_factory=dict)


def exposure_intervals(orders: pd.DataFrame) -> list[Interval]:
    """The exposure intervals of ONE run from its fills (``fill_time``, ``fill_kind``, ``symbol``,
    ``side``, ``size``; :func:`backtests.scoring.trades.holdings`): a fill instant after which every
    holding is zero closes the interval."""
    if orders is None or not len(orders):
        return []
    h = holdings(orders if "run" in orders.columns else orders.assign(run="run"))
    h = h.sort_values("fill", kind="stable")
    delta = (~h["flat_after"]).astype(np.int64) - (~h["flat_before"]).astype(np.int64)
    h = h.assign(n_held=delta.cumsum().to_numpy())
    out: list[Interval] = []
    cur: Interval | None = None
    building = False  # the interval's position is still being built (no holding reduced yet)
    for at, grp in h.groupby("fill", sort=True):
        # a fill that reduces or flips a holding ends the build-up: what the strategy buys then or
        # afterwards (a rotation's stablecoin) replaces capital already counted, it does not add to it
        shrank = ~grp["flat_before"] & ((grp["after"].abs() < grp["before"].abs())
                                        | (np.sign(grp["after"]) != np.sign(grp["before"])))
        building = building and not bool(shrank.any())
        for row in grp.itertuples(index=False):
            if cur is None:
                cur, building = Interval(int(at)), True
            if building and row.symbol not in cur.legs and not row.flat_after:
                cur.legs[row.symbol] = (int(at), float(row.after), str(row.kind))
            cur.exit_kinds[row.symbol] = str(row.kind)
        if cur is not None and int(grp["n_held"].iloc[-1]) == 0:
            cur.exit = int(at)
            out.append(cur)
            cur = None
    if cur is not None:
        out.append(cur)
    return [iv for iv in out if iv.legs]


def bar_price(bars: Any, instant: int, kind: str) -> float:
    """The price of ``bars`` (an :class:`~backtests.engine.schedule.AssetBars`) at a fill instant: the
    open of the bar that opened then for an ``open`` fill, else the close of the bar stamped then;
    otherwise the last close at or before the instant (NaN when none)."""
    if kind == "open":
        k = np.flatnonzero(bars.open_times == instant)
        if k.size and np.isfinite(bars.open[k[0]]):
            return float(bars.open[k[0]])
    k = int(np.searchsorted(bars.stamps, instant, side="right")) - 1
    return float(bars.close[k]) if k >= 0 else float("nan")


def matched_episode(intervals: Sequence[Interval], bars: Mapping[str, Any], value_before: Any,
                    last_stamp: int) -> dict[str, Any]:
    """One episode of the matched baseline.

    Parameters
    ----------
    intervals
        The run's :func:`exposure_intervals`.
    bars
        Symbol -> its bars inside the window (USD).
    value_before
        ``instant -> portfolio value`` of the run just before a fill at that instant.
    last_stamp
        The run's last row in the window (the exit of an interval still open there).

    Returns
    -------
    dict
        ``return`` (NaN when a price is missing), ``traded``, ``entry``/``exit`` (int64 ns of the first
        entry and last exit, or None), ``weights`` ({symbol: weight} of the first interval),
        ``n_intervals``.
    """
    growth, weights0 = 1.0, None
    for iv in intervals:
        value = float(value_before(iv.entry))
        exit_at = iv.exit if iv.exit is not None else last_stamp
        w, r = {}, 0.0
        for sym, (at, units, kind) in sorted(iv.legs.items()):
            p0 = bar_price(bars[sym], at, kind)
            p1 = bar_price(bars[sym], exit_at, iv.exit_kinds.get(sym, "close") if iv.exit is not None else "close")
            w[sym] = units * p0 / value if value > 0 else float("nan")
            r += w[sym] * (p1 / p0 - 1.0)
        growth *= 1.0 + r
        weights0 = w if weights0 is None else weights0
    if not intervals:
        return {"return": 0.0, "traded": False, "entry": None, "exit": None, "weights": {}, "n_intervals": 0}
    last = intervals[-1].exit if intervals[-1].exit is not None else last_stamp
    return {"return": growth - 1.0, "traded": True, "entry": intervals[0].entry, "exit": last,
            "weights": weights0 or {}, "n_intervals": len(intervals)}


def value_path(returns: pd.Series, init_cash: float):
    """``instant -> value`` of a run just before a fill at that instant: ``init_cash`` compounded by
    its returns of the rows stamped strictly before."""
    r = returns.dropna()
    stamps = pd.DatetimeIndex(r.index).as_unit("ns").asi8
    level = init_cash * np.concatenate([[1.0], np.cumprod(1.0 + r.to_numpy(dtype=float))])

    def at(instant: int) -> float:
        return float(level[int(np.searchsorted(stamps, instant, side="left"))])

    return at


def label_of(weights: Sequence[Mapping[str, float]]) -> str:
    """'long A, short B over the same spans' from the episodes' first weights (signs as held)."""
    sides: dict[str, set[str]] = {}
    for w in weights:
        for sym, x in w.items():
            if np.isfinite(x) and x != 0:
                sides.setdefault(sym, set()).add("long" if x > 0 else "short")
    if not sides:
        return "nothing held (the strategy never held a position)"
    long_ = [s for s, v in sides.items() if v == {"long"}]
    short = [s for s, v in sides.items() if v == {"short"}]
    both = [s for s, v in sides.items() if len(v) > 1]
    parts = ([f"long {', '.join(sorted(long_))}"] if long_ else []) + \
            ([f"short {', '.join(sorted(short))}"] if short else []) + \
            ([f"long or short {', '.join(sorted(both))}"] if both else [])
    return f"holding {' and '.join(parts)} over the same spans"


def episode_records(windows: Sequence[str], clusters: Sequence[str], episodes: Sequence[dict[str, Any]],
                    excluded: Mapping[str, str]) -> list[dict[str, Any]]:
    """The matched baseline's episode records (JSON-ready)."""
    def iso(x: int | None) -> str | None:
        return None if x is None else pd.Timestamp(int(x), tz="UTC").isoformat()

    return [clean_json({"window": w, "cluster": c, "return": e["return"], "traded": e["traded"],
                        "entry_utc": iso(e["entry"]), "exit_utc": iso(e["exit"]),
                        "weights": {k: float(v) for k, v in e["weights"].items()},
                        "n_intervals": e["n_intervals"], "excluded": excluded.get(w)})
            for w, c, e in zip(windows, clusters, episodes)]
