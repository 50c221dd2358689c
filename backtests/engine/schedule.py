"""Turn timestamped target weights into an order schedule per window (pure numpy, no vectorbt).

Rules (the heart of "no look-ahead in execution"):

1. **Episodes.** Each window is its own episode: it starts flat, and only decisions stamped inside
   it (``tau >= window.start_utc``) open or change its positions. With ``entry == "change"`` (the
   default for event-driven strategies) a target the strategy set *before* the window start and
   still holds is not carried in: the episode stays flat until the strategy changes its target
   inside the window. With ``entry == "state"`` (strategies whose target at every stamp is a fresh
   decision from the data known then: buy-and-hold, a moving-average filter) the target stated at
   the window's first decision stamp opens the position.
2. A decision stamped ``tau`` fills at the asset's first bar stamped strictly after ``tau``; the
   target in force at a bar is the latest decision before it. Decisions made while the asset's
   market is closed or halted wait for its next bar.
3. The fill price is that bar's open when ``fill == "open"`` and the bar opened after the decision
   was made (``open_time > tau``), otherwise its close (a decision made during the session is a
   market-on-close order, ``fill_kind`` "auction"; a decision at the open instant itself fills at
   the close, "close": an exchange's opening auction has uncrossed by then; a bar without an open
   price falls back to its close and is counted as an ``open_fill_fallback``). A bar that opens
   the instant the previous bar closed (``AssetBars.through``: trading runs through the boundary,
   as crypto does around the clock) has no auction there: a decision stamped at that boundary
   fills at the bar's open, its first trade after the decision (``open_time >= tau``), not a whole
   bar later at its close. "Made" means when the target last changed, so a target set at the New
   York close and unchanged since still fills at Seoul's next open.
4. An order is sent only when the target changes; positions drift with prices in between.
5. With ``exit_at_window_end`` every position is closed at the close of the asset's last bar in
   the window.
6. **Leverage.** The target vector of every decision (all symbols of one combination) must fit the
   study's maximum gross leverage and each market's: ``sum |w|`` over all symbols, and over the
   symbols of each market. A target beyond it is an error (:class:`UnfillableOrder`) or, with
   ``on_unfillable == "clip"``, scaled down to fit (and counted).
7. **Paired legs.** With ``common`` instants given (``execution.legs: together``), each decision
   is released at the first instant after it at which every leg can fill (an open instant with an
   open price, when fills at the open are asked, or a close stamp, shared by all legs), so all legs
   fill at that instant at its prices. A decision after the last common instant of the window (legs
   whose sessions never overlap, such as KRX and NYSE, have none) fills leg by leg, and is counted.
8. **Valuation price.** Every order is sized from the portfolio valued at the latest price of every
   asset known at the fill instant (open prices count from their open instant, closes from their
   close stamp): ``val_price`` for vectorbt's kernel. An asset with an order in the row is valued at
   the price it fills at, so a rebalance's buys are sized from the prices its sells realise.

9. **First possible fill.** :func:`first_fill` applies rules 2, 3, 5 and 7 to one decision: the
   instant the strategy's first decision in a window could fill. The engine reports it per run;
   the scoring stage measures the benchmark only from it, and the buy-and-hold baseline enters at
   :func:`asset_first_fill` of its own symbol: one rule for the engine, the mask and the baseline.

Sells pay the sell-side tax; whether a fill is a sell is known from the sign of the target change.
All settings come from the strategy's :class:`~backtests.engine.rules.Rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.engine.results import NEVER
from backtests.engine.rules import Rules
from backtests.errors import ScareInputError

#: ``fill_kind`` codes of the order records.
FILL_KINDS = ("open", "close", "auction")
OPEN, CLOSE, AUCTION = 0, 1, 2


class UnfillableOrder(ScareInputError):
    """A target beyond the allowed leverage, or an order the simulator could not fill in full.

    ``combo`` (local combination index), ``stamp`` (UTC) and ``symbol`` say where; the sweep adds
    the strategy label and the combination's parameters before it reaches the user.
    """

    def __init__(self, message: str, combo: int, stamp: pd.Timestamp, symbol: str) -> None:
        self.combo, self.stamp, self.symbol, self.detail = int(combo), stamp, symbol, message
        super().__init__(message)


@dataclass
class AssetBars:
    """One traded asset's bars in USD: stamps, open instants, open and close prices."""

    stamps: np.ndarray  # int64 ns UTC, sorted
    open_times: np.ndarray  # int64 ns UTC
    open: np.ndarray
    close: np.ndarray
    #: Per bar: it opens the instant the previous bar (in all the data, not only the window) closed:
    #: trading runs through that boundary (crypto), so a decision stamped there fills at its open
    #: (rule 3). Empty: no bar does.
    through: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def opened_after(self, made: np.ndarray | int, rows: slice | int | np.ndarray = slice(None)) -> np.ndarray:
        """Whether bars ``rows`` opened after a decision made at ``made`` (rule 3)."""
        through = self.through[rows] if len(self.through) else False
        return opened_after(self.open_times[rows], made, through)

    def observations(self) -> tuple[np.ndarray, np.ndarray]:
        """Every instant a price of this asset becomes known, and that price (NaN opens dropped).

        Returns
        -------
        (times, prices)
            Sorted int64 ns UTC instants (each bar's open instant and its close stamp) and USD
            prices. Where a bar opens at the instant the previous one closed (crypto), the close
            comes last, so it is the latest price at that instant (the price a fill there gets).
        """
        n = len(self.stamps)
        t = np.concatenate([self.open_times, self.stamps])
        p = np.concatenate([self.open, self.close])
        order = np.lexsort((np.repeat([0, 1], n), t))
        t, p = t[order], p[order]
        ok = np.isfinite(p)
        return t[ok], p[ok]


@dataclass
class ScheduleArrays:
    """Views into the stacked simulation arrays for one window: shape (rows, combos, symbols),
    except ``close`` (rows, symbols) which is tiled over combos by the caller."""

    close: np.ndarray
    size: np.ndarray  # target weight where an order is sent, NaN elsewhere
    price: np.ndarray  # fill price where an order is sent, NaN elsewhere
    fees: np.ndarray  # fee fraction of each order
    kind: np.ndarray  # int8 fill kind (OPEN, CLOSE, AUCTION) where an order is sent
    val_price: np.ndarray | None = None  # valuation price of every symbol at rows with orders


@dataclass
class ScheduleStats:
    """What one window's schedule did, per combination (counts over all symbols)."""

    entries: np.ndarray  # positions opened (flat to non-zero)
    clipped_targets: np.ndarray  # decisions scaled down to the leverage limit (clip mode)
    dropped: np.ndarray  # combos whose target in force at the window start was not carried in
    legged: np.ndarray | None = None  # decisions that could not be filled together (legs: together)
    open_fallback: dict[str, int] = field(default_factory=dict)  # symbol -> orders filled at close, no open
    #: an order filled a target different from the strategy's resting weight (the forced exit at the
    #: window's end aside): the episode traded a position the strategy chose
    departed: np.ndarray | None = None


class Decisions(NamedTuple):
    """A strategy's decisions (:func:`decision_arrays`): stamps (k,) int64 ns UTC, targets
    (k, combos, symbols) carried forward, and when each target was set (k, combos, symbols) int64 ns."""

    tau: np.ndarray
    values: np.ndarray
    changed_at: np.ndarray


def decision_arrays(weights: pd.DataFrame, n_combos: int, symbols: list[str],
                    start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> Decisions:
    """Forward-filled targets and their change times, trimmed to what ``[start, end]`` needs.

    Parameters
    ----------
    weights
        Index: UTC decision stamps (sorted); columns MultiIndex (combo, symbol), combos 0..n-1.
    start, end
        Only decisions before ``end`` matter, and of those before ``start`` only the last one (it
        says which targets were in force at the start, so an episode can tell them apart).

    Returns
    -------
    Decisions
        ``tau`` (n,) int64 ns; ``values`` (n, combos, symbols) targets with NaN carried forward and
        leading NaN = 0; ``changed_at`` (n, combos, symbols) int64 ns stamp when each value was set.
    """
    idx = pd.DatetimeIndex(weights.index)
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValueError("strategy weights must have a sorted index without duplicate stamps")
    tau = idx.as_unit("ns").asi8
    cols = pd.MultiIndex.from_product([range(n_combos), symbols])
    vals = weights.reindex(columns=cols).to_numpy(dtype="float64", na_value=np.nan)
    hi = len(tau) if end is None else int(np.searchsorted(tau, end.value, side="left"))
    vals = vals[:hi]
    tau = tau[:hi]
    # carry NaN forward (column-wise), leading NaN = flat
    valid = ~np.isnan(vals)
    pos = np.where(valid, np.arange(len(tau))[:, None], -1)
    np.maximum.accumulate(pos, axis=0, out=pos)
    vals = np.where(pos >= 0, vals[np.clip(pos, 0, None), np.arange(vals.shape[1])], 0.0)
    if not np.isfinite(vals).all():
        raise ValueError("strategy weights contain inf")
    changed = np.empty(vals.shape, dtype=bool)
    if len(tau):
        changed[0] = vals[0] != 0.0
        changed[1:] = vals[1:] != vals[:-1]
    changed_at = np.where(changed, tau[:, None], NEVER)
    if len(tau):
        np.maximum.accumulate(changed_at, axis=0, out=changed_at)
    lo = 0 if start is None else max(0, int(np.searchsorted(tau, start.value, side="left")) - 1)
    shape = (len(tau) - lo, n_combos, len(symbols))
    return Decisions(tau[lo:], vals[lo:].reshape(shape), changed_at[lo:].reshape(shape))


def episode_targets(tau: np.ndarray, values: np.ndarray, changed_at: np.ndarray, start: int,
                    entry: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The decisions of one episode: those stamped at or after ``start``, with inherited targets removed.

    Parameters
    ----------
    tau, values, changed_at
        From :func:`decision_arrays`.
    start
        Window start, int64 ns UTC.
    entry
        ``"change"``: a target set before ``start`` (``changed_at < start``) counts as flat until
        the strategy changes it; ``"state"``: every in-window decision states its target afresh
        (its "made" time is then at least the first in-window decision stamp).

    Returns
    -------
    (tau_w, values_w, made_w, dropped)
        Decisions from ``start`` on: stamps (k,), targets (k, combos, symbols), when each target was
        made (k, combos, symbols); ``dropped`` (combos,) bool: a non-zero target set before the
        start was in force at the first in-window decision and was not carried in.
    """
    lo = int(np.searchsorted(tau, start, side="left"))
    tau_w, vals, made = tau[lo:], values[lo:], changed_at[lo:]
    n_combos = values.shape[1]
    if not len(tau_w):
        return tau_w, vals, made, np.zeros(n_combos, dtype=bool)
    if entry == "state":
        return tau_w, vals, np.maximum(made, tau_w[0]), np.zeros(n_combos, dtype=bool)
    inherited = made < start
    dropped = (inherited[0] & (vals[0] != 0.0)).any(axis=1)
    return tau_w, np.where(inherited, 0.0, vals), made, dropped


def common_instants(assets: list[AssetBars], fill: str) -> np.ndarray:
    """Instants (int64 ns UTC, sorted) at which every asset of ``assets`` can fill an order.

    An asset can fill at each of its close stamps and, when ``fill == "open"``, at each open
    instant that has an open price. Empty when the assets' sessions never meet (e.g. KRX and NYSE).
    """
    out: np.ndarray | None = None
    for b in assets:
        t = b.stamps
        if fill == "open":
            t = np.union1d(t, b.open_times[np.isfinite(b.open)])
        out = t if out is None else np.intersect1d(out, t, assume_unique=True)
    return np.array([], dtype=np.int64) if out is None else out.astype(np.int64)


def release_times(x: np.ndarray, common: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map decision instants to one nanosecond before the first common instant after each.

    Parameters
    ----------
    x
        int64 ns instants (any shape; ``NEVER`` stays ``NEVER``).
    common
        Sorted common instants (:func:`common_instants`).

    Returns
    -------
    (mapped, ok)
        ``mapped`` = ``common[k] - 1`` with ``common[k]`` the first common instant ``> x`` (the
        next-bar rule then fills every leg exactly at ``common[k]``), or ``x`` itself where there
        is none; ``ok`` is True where a common instant was found.
    """
    k = np.searchsorted(common, x, side="right")
    ok = (k < len(common)) & (x != NEVER)
    mapped = np.where(ok, common[np.clip(k, 0, max(len(common) - 1, 0))] - 1 if len(common) else x, x)
    return mapped.astype(np.int64), ok


def leverage_scale(values: np.ndarray, rules: Rules) -> np.ndarray:
    """Factor (<= 1) that brings each decision's target vector within the leverage limits.

    Parameters
    ----------
    values
        (k, combos, symbols) target weights of the symbols of ``rules``.

    Returns
    -------
    numpy.ndarray
        (k, combos) factor: 1 where the targets fit, ``cap / exposure`` (the tightest limit)
        where they do not. Gross exposure is ``sum |w|``; a short needs the same margin as a long
        of the same value.
    """
    gross = np.abs(values)
    scale = np.ones(values.shape[:2])
    tol = 1e-12
    total = gross.sum(axis=2)
    over = total > rules.max_leverage * (1 + tol)
    scale = np.where(over, rules.max_leverage / np.where(over, total, 1.0), scale)
    mk = np.asarray(rules.markets, dtype=object)
    for market, cap in rules.market_caps:
        m = mk == market
        if not m.any():
            continue
        sub = gross[:, :, m].sum(axis=2)
        over = sub > cap * (1 + tol)
        scale = np.minimum(scale, np.where(over, cap / np.where(over, sub, 1.0), 1.0))
    return scale


def _surely_within(values: np.ndarray, rules: Rules) -> bool:
    """Cheap sufficient test: every target fits when symbols x the largest |weight| fits the tightest cap."""
    if not values.size:
        return True
    big = max(float(values.max()), -float(values.min()))
    caps = [rules.max_leverage] + [c for m, c in rules.market_caps if m in rules.markets]
    return big * values.shape[2] <= min(caps)


def _leverage_message(vec: np.ndarray, rules: Rules) -> tuple[str, str]:
    """(message, symbol) for a target vector beyond the limits."""
    symbols = rules.symbols
    gross = float(np.abs(vec).sum())
    sym = symbols[int(np.argmax(np.abs(vec)))]
    if gross > rules.max_leverage * (1 + 1e-12):
        return (f"target gross exposure {gross:g}x (sum of |weights|) is beyond the study's maximum leverage "
                f"execution.max_leverage = {rules.max_leverage:g}; raise it, or set "
                f"execution.on_unfillable: clip to scale such targets down (counted and warned)"), sym
    mk = np.asarray(rules.markets, dtype=object)
    for market, cap in rules.market_caps:
        m = mk == market
        sub = float(np.abs(vec[m]).sum())
        if sub > cap * (1 + 1e-12):
            sym = symbols[int(np.flatnonzero(m)[np.argmax(np.abs(vec[m]))])]
            return (f"target gross exposure {sub:g}x to {market} is beyond costs.markets.{market}.max_leverage = "
                    f"{cap:g}; raise it, or set execution.on_unfillable: clip"), sym
    return "target beyond the leverage limits", sym


def opened_after(open_times: np.ndarray, made: np.ndarray | int, through: np.ndarray | bool = False) -> np.ndarray:
    """Whether each bar opened after the decision (rule 3): ``open_time > made``, or at ``made``
    for a bar that opens the instant the previous one closed (``through``: its first trade comes
    after a decision stamped at that boundary)."""
    return (open_times > made) | (np.asarray(through) & (open_times == made))


def open_fills(open_times: np.ndarray, open_prices: np.ndarray, made: np.ndarray | int, fill: str,
               through: np.ndarray | bool = False) -> np.ndarray:
    """Where an order fills at its bar's open (else at the bar's close): rule 3 of the module docstring.

    Parameters
    ----------
    open_times, open_prices
        Open instant (int64 ns UTC) and open price of each order's bar (any shape broadcasting
        with ``made``).
    made
        int64 ns UTC instant each order's target was made (decided).
    fill
        ``execution.fill``: ``"open"`` or ``"close"``.
    through
        Per bar: it opens the instant the previous bar closed (:attr:`AssetBars.through`).

    Returns
    -------
    numpy.ndarray
        bool: ``fill == "open"``, the bar opened after the decision (:func:`opened_after`) and it
        has an open price.
    """
    if fill != "open":
        return np.zeros(np.broadcast_shapes(np.shape(open_times), np.shape(made)), dtype=bool)
    return opened_after(open_times, made, through) & np.isfinite(open_prices)


def asset_first_fill(bars: AssetBars, decision: int, rules: Rules) -> tuple[int, int, bool] | None:
    """Where an order of one asset decided at ``decision`` fills first: rules 2, 3 and 5.

    Parameters
    ----------
    bars
        The asset's bars inside the window.
    decision
        int64 ns UTC instant of the decision.
    rules
        ``fill`` and ``exit_at_window_end`` are read (with ``exit_at_window_end`` the asset's last
        bar in the window only closes positions, so it opens none).

    Returns
    -------
    (bar, instant, at_open) or None
        Position of the bar in ``bars``, fill instant (int64 ns UTC: the bar's open instant or its
        close stamp) and whether it fills at the open; None when no bar of the window can fill it.
    """
    k = int(np.searchsorted(bars.stamps, decision, side="right"))  # first bar stamped after the decision
    if k >= len(bars.stamps) - (1 if rules.exit_at_window_end else 0):
        return None
    at_open = bool(rules.fill == "open" and bars.opened_after(decision, k) and np.isfinite(bars.open[k]))
    return k, int(bars.open_times[k] if at_open else bars.stamps[k]), at_open


def first_fill(decision: int, assets: list[AssetBars], rules: Rules, common: np.ndarray | None = None) -> int:
    """The first instant at which an order decided at ``decision`` can fill: the first-fill rule.

    The engine reports it per run (:data:`~backtests.engine.results.RUN_STATS` ``first_fill``,
    from the strategy's first decision in the window); the scoring stage blanks the benchmark
    before it, and the buy-and-hold baseline enters at :func:`asset_first_fill` of its own symbol.

    Parameters
    ----------
    decision
        int64 ns UTC (``NEVER``: no decision, no fill).
    assets
        The traded assets' bars inside the window.
    rules
        The strategy's rules (fill mode, exit at window end).
    common
        Common fill instants of all legs (:func:`common_instants`) when legs fill together: the
        decision is released at the first of them after it (rule 7), where every leg fills. None,
        or no common instant after the decision: each asset at its own next bar.

    Returns
    -------
    int
        int64 ns UTC instant of the earliest possible fill of any asset, ``NEVER`` if none.
    """
    if decision == NEVER:
        return NEVER
    if common is not None:
        released, ok = release_times(np.array([decision], dtype=np.int64), common)
        if ok[0]:
            decision = int(released[0])
    fills = [f[1] for f in (asset_first_fill(b, decision, rules) for b in assets) if f is not None]
    return min(fills, default=NEVER)


def window_schedule(rows: np.ndarray, assets: list[AssetBars], decisions: Decisions, rules: Rules,
                    out: ScheduleArrays, start: int, common: np.ndarray | None = None,
                    neutral: np.ndarray | None = None) -> ScheduleStats:
    """Write one window's order schedule into ``out`` (see module docstring for the rules).

    Parameters
    ----------
    rows
        (rows,) int64 ns sim stamps of the window (union of the assets' bar stamps inside it).
    assets
        Per symbol of ``rules``, its bars restricted to the window.
    decisions
        From :func:`decision_arrays`.
    rules
        Fill mode, exit at window end, episode entry, leverage limits and costs of the symbols.
    out
        Arrays to fill (already NaN/0-initialised by the caller).
    start
        Window start (int64 ns UTC).
    common
        Common fill instants of all legs (:func:`common_instants`) to fill every decision's legs
        together; None fills each asset at its own next bar.
    neutral
        (combos, symbols) the strategy's resting weights (``Strategy.resting_weights``); None = flat.

    Returns
    -------
    ScheduleStats
    """
    n_rows, n_combos = len(rows), decisions.values.shape[1]
    tau, values, changed_at, dropped = episode_targets(*decisions, start, rules.entry)
    clipped = np.zeros(n_combos, dtype=np.int64)
    last_bar = max((int(b.stamps[-1]) for b in assets if len(b.stamps)), default=NEVER)
    if len(tau) and not _surely_within(values, rules):
        scale = leverage_scale(values, rules)
        bad = (scale < 1.0) & (tau < last_bar)[:, None]  # decisions after the last bar never fill
        if bad.any():
            if rules.on_unfillable != "clip":
                k, c = np.argwhere(bad)[0]
                msg, sym = _leverage_message(values[k, c], rules)
                raise UnfillableOrder(msg, int(c), pd.Timestamp(int(tau[k]), tz="UTC"), sym)
            clipped = bad.sum(axis=0).astype(np.int64)
            values = values * np.where(bad, scale, 1.0)[:, :, None]
    legged = None
    if common is not None and len(tau):
        change = np.empty(values.shape[:2], dtype=bool)
        change[0] = (values[0] != 0.0).any(axis=1)
        change[1:] = (values[1:] != values[:-1]).any(axis=2)
        tau, ok = release_times(tau, common)
        changed_at, _ = release_times(changed_at, common)
        legged = (change & ~ok[:, None] & (tau < last_bar)[:, None]).sum(axis=0).astype(np.int64)
    entries = np.zeros(n_combos, dtype=np.int64)
    departed = np.zeros(n_combos, dtype=bool)
    fallback: dict[str, int] = {}
    instants = np.full((n_rows, n_combos), np.iinfo(np.int64).max) if out.val_price is not None else None
    for j, (bars, asset) in enumerate(zip(assets, rules.assets)):
        if len(bars.stamps) == 0:
            continue
        at = np.searchsorted(rows, bars.stamps)
        col = np.full(n_rows, np.nan)
        col[at] = bars.close
        out.close[:, j] = pd.Series(col).ffill().bfill().to_numpy()
        # latest in-episode decision strictly before each bar
        pos = np.searchsorted(tau, bars.stamps, side="left") - 1
        has = pos >= 0
        safe = np.clip(pos, 0, None)
        tgt = np.where(has[:, None], values[safe, :, j], 0.0) if len(tau) else np.zeros((len(at), n_combos))
        made = np.where(has[:, None], changed_at[safe, :, j], NEVER) if len(tau) else \
            np.full((len(at), n_combos), NEVER)
        if rules.exit_at_window_end:
            tgt[-1, :] = 0.0
        prev = np.empty_like(tgt)
        prev[0] = 0.0
        prev[1:] = tgt[:-1]
        order = tgt != prev
        through = bars.through[:, None] if len(bars.through) else False
        use_open = open_fills(bars.open_times[:, None], bars.open[:, None], made, rules.fill, through)
        if rules.exit_at_window_end:
            use_open[-1, :] = False
        # OPEN (0) at the open; else AUCTION (2) when decided while the session was open (a
        # market-on-close order), CLOSE (1) otherwise; bool arithmetic, no temporaries per branch
        not_open = ~use_open
        kind = not_open.view(np.int8) + (not_open & (bars.open_times[:, None] < made)).view(np.int8)
        if rules.fill == "open" and not np.isfinite(bars.open).all():
            fb = order & opened_after(bars.open_times[:, None], made, through) & ~np.isfinite(bars.open)[:, None]
            if rules.exit_at_window_end:
                fb[-1, :] = False
            n_fb = int(fb.sum())
            if n_fb:
                fallback[asset.symbol] = n_fb
        px = np.where(use_open, bars.open[:, None], bars.close[:, None])
        out.size[at, :, j] = np.where(order, tgt, np.nan)
        out.price[at, :, j] = np.where(order, px, np.nan)
        out.fees[at, :, j] = asset.costs.commission + np.where(tgt < prev, asset.costs.sell_tax, 0.0)
        out.kind[at, :, j] = np.where(order, kind, -1)
        if instants is not None:
            t_fill = np.where(use_open, bars.open_times[:, None], bars.stamps[:, None])
            sub = instants[at]
            instants[at] = np.where(order, np.minimum(sub, t_fill), sub)
        entries += ((prev == 0.0) & (tgt != 0.0)).sum(axis=0)
        rest = 0.0 if neutral is None else neutral[:, j]
        chosen = order & (np.abs(tgt - rest) > 1e-12)
        if rules.exit_at_window_end:
            chosen[-1, :] = False  # the engine's exit, not the strategy's choice
        departed |= chosen.any(axis=0)
    if instants is not None:
        _valuation(instants, assets, out.val_price)
    return ScheduleStats(entries=entries, clipped_targets=clipped, dropped=dropped, legged=legged,
                         open_fallback=fallback, departed=departed)


def _valuation(instants: np.ndarray, assets: list[AssetBars], val_price: np.ndarray) -> None:
    """Fill ``val_price`` (rows, combos, symbols) at every (row, combo) with an order: the latest
    price of each asset known at that row's earliest fill instant (NaN: none known yet)."""
    live = instants != np.iinfo(np.int64).max
    if not live.any():
        return
    t = instants[live]
    for j, bars in enumerate(assets):
        ot, op = bars.observations()
        if not len(ot):
            continue
        k = np.searchsorted(ot, t, side="right") - 1
        v = np.where(k >= 0, op[np.clip(k, 0, None)], np.nan)
        col = val_price[:, :, j]  # a view: writing into it fills val_price
        col[live] = v
