"""Where to cut: the instants at which the audit truncates the data.

A cheat shows only at a cut placed between the decision that cheats and the data it reads. Cuts
are chosen where cheats hide, of four kinds (listed in order of priority; the audit takes one cut
of each kind in turn, so a time budget that stops it early still covers every kind, and the report
says how many of each kind were checked):

1. ``event``: just before every catalogue event in the data's span, scheduled or not (the
   instant before its ``time_utc`` and, for an unscheduled one, before its ``known_from_utc``):
   catches acting early on a crash, a halt or an earnings reaction.
2. ``move``: just before the largest moves of each traded symbol (the close before each of its
   ``n_moves`` largest absolute close-to-close log returns), largest first: catches peeks that
   fire only on big days.
3. ``random``: ``n_random`` stamps of the decision clock drawn with a seeded generator.
4. ``decision``: every stamp at which any combination's decision changes (entries, exits, resizes
   of the full run): catches a signal computed from later data wherever it acts. Decisions that
   do *not* change are still compared at every cut.

Within a kind, stamps inside ``focus`` intervals (the study's windows: the decisions that trade)
come first; the rest follow in a seeded order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.strategy.context import event_known_from

KINDS = ("event", "move", "random", "decision")
ONE_NS = pd.Timedelta(1, "ns")


@dataclass
class Cut:
    """One cut instant (UTC) and why it was chosen (``kind`` plus a short reason per source)."""

    t: pd.Timestamp
    kind: str
    reasons: list[str] = field(default_factory=list)


def decision_changes(weights: pd.DataFrame) -> pd.DatetimeIndex:
    """Stamps where any column of ``weights`` differs from the previous row (NaN equals NaN).

    The first row counts when any of its weights is set and non-zero.
    """
    a = weights.to_numpy(dtype="float64", na_value=np.nan)
    if len(a) == 0:
        return pd.DatetimeIndex([], tz="UTC")
    same = np.isclose(a[1:], a[:-1], rtol=0.0, atol=0.0, equal_nan=True)
    changed = np.concatenate([[bool(np.any(np.nan_to_num(a[0]) != 0))], ~same.all(axis=1)])
    return weights.index[changed]


def event_cuts(events: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, str]]:
    """``(instant, reason)`` just before each event (and before it became public) inside ``(start, end]``."""
    if events is None or not len(events):
        return []
    out = []
    when = pd.to_datetime(events["time_utc"], utc=True)
    known = event_known_from(events)
    for i in range(len(events)):
        eid = str(events["id"].iloc[i])
        stamps = [(when.iloc[i], f"before event {eid}")]
        if pd.notna(known.iloc[i]) and known.iloc[i] != when.iloc[i]:
            stamps.append((known.iloc[i], f"before event {eid} became public"))
        for stamp, why in stamps:
            if pd.isna(stamp):
                continue
            t = stamp - ONE_NS
            if start <= t < end:
                out.append((t, why))
    return out


def move_cuts(data: MarketData, symbols: Sequence[str], n_moves: int) -> list[tuple[pd.Timestamp, str]]:
    """The stamp before each of the ``n_moves`` largest absolute close-to-close moves per symbol,
    largest first (the symbols interleaved: each one's largest, then each one's second, ...)."""
    per: list[list[tuple[pd.Timestamp, str, float]]] = []
    for sym in symbols:
        close = data.series(sym, "close").astype("float64").dropna()
        if len(close) < 3:
            continue
        r = np.abs(np.diff(np.log(close.to_numpy())))
        top = np.argsort(-r, kind="stable")[:n_moves]
        per.append([(close.index[j], f"before the {r[j] * 100:.1f}% move of {sym} at {close.index[j + 1].isoformat()}",
                     float(r[j])) for j in top])
    return [(t, why) for rank in range(n_moves) for moves in per if rank < len(moves) for t, why, _ in [moves[rank]]]


def _ordered(stamps: Iterable[tuple[pd.Timestamp, str]], focus: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
             rng: np.random.Generator | None) -> list[tuple[pd.Timestamp, str]]:
    items = list(stamps)
    if rng is not None:
        perm = rng.permutation(len(items)) if items else np.array([], dtype=int)
        items = [items[i] for i in perm]

    def inside(t: pd.Timestamp) -> bool:
        return any(a <= t <= b for a, b in focus)

    return [x for x in items if inside(x[0])] + [x for x in items if not inside(x[0])]


def choose_cuts(weights: pd.DataFrame, data: MarketData, events: pd.DataFrame | None, traded: Sequence[str],
                seed: int = 0, n_random: int = 10, n_moves: int = 5,
                focus: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = ()) -> list[Cut]:
    """All candidate cuts, deduplicated (a stamp keeps its first kind and collects every reason),
    in the order they are checked (see module docstring).

    Parameters
    ----------
    weights
        The full run's decisions (index: UTC decision stamps).
    data, events
        The full world.
    traded
        Symbols whose largest moves get cuts.
    seed
        Seeds the random stamps and the order within each kind.
    focus
        ``(start, end)`` UTC intervals whose cuts come first within each kind.
    """
    rng = np.random.default_rng(seed)
    clock = weights.index
    if len(clock) < 2:
        return []
    start, end = clock[0], clock[-1]
    picks = rng.choice(len(clock) - 1, size=min(n_random, len(clock) - 1), replace=False) if n_random else []
    sources = {
        "event": event_cuts(events, start, end),
        "move": [(t, r) for t, r in move_cuts(data, traded, n_moves) if start <= t < end],
        "random": [(clock[int(i)], "random stamp") for i in sorted(picks)],
        "decision": [(t, "a decision changes") for t in decision_changes(weights) if t < end],
    }
    # moves keep their order, largest first; the other kinds are shuffled (seeded)
    queues = {kind: _ordered(sources[kind], focus, None if kind == "move" else rng) for kind in KINDS}
    cuts: dict[pd.Timestamp, Cut] = {}
    for rank in range(max(len(q) for q in queues.values())):
        for kind in KINDS:  # round robin: one cut of each kind in turn
            if rank >= len(queues[kind]):
                continue
            t, why = queues[kind][rank]
            if t in cuts:
                cuts[t].reasons.append(why)
            else:
                cuts[t] = Cut(t, kind, [why])
    return list(cuts.values())
