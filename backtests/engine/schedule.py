"""Turn timestamped target weights into an order schedule per window (no vectorbt).

The rules are stated here; their per-cell passes over bars x combinations are compiled
(:mod:`backtests.engine.compiled`) and write straight into the kernel's arrays.

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
   7b. With ``legs == "before_event"`` a decision before the window's event fills every leg at its
   own market's last close before the event, the first of them after the decision; one too late
   for that is released at the event; after the event each leg fills at its own next bar
   (:mod:`backtests.engine.legs`).
8. **Valuation price.** Every order is sized from the portfolio valued at the latest price of every
   asset known at the fill instant (open prices count from their open instant, closes from their
   close stamp): ``val_price`` for vectorbt's kernel. An asset with an order in the row is valued at
   the price it fills at, so a rebalance's buys are sized from the prices its sells realise.

9. **First possible fill.** :func:`first_fill` applies rules 2, 3, 5, 7 and 10 to one decision:
   the instant the strategy's first decision in a window could fill. The engine reports it per
   run; the scoring stage measures the benchmark only from it, and the buy-and-hold baseline enters
   at :func:`asset_first_fill` of its own symbol: one rule for the engine, the mask and the baseline.
10. **Exchange state.** With ``rules.state`` every order is admitted by the exchange state of its
   asset (:mod:`backtests.engine.fills`): no fill while the market is halted or the symbol paused
   (the order waits for the next print, or dies with a halt that runs to the close and is sent
   again at the next bar); a decision made in a halt, a pause or an intraday call auction fills
   at the reopening print (``fill_kind`` "auction") when the data shows its price, else at the
   close; a buy into a limit-up lock or a sell into a limit-down lock does not fill (or fills
   ``locked_fill_share`` of the bar's volume) and is sent again at the next bar; a new short sale
   during a ban (or without borrow) is an :class:`UnfillableOrder`, or with
   ``on_unfillable == "clip"`` not filled. Everything is counted per run (``n_locked``,
   ``n_halted``, ``n_short_banned``) and named in the window's notices. Only windows where the
   state has a halt, a pause, an intraday auction, a lock or (with a short target) a ban take
   this path; elsewhere the state's opens and closes are the bars' own.

Sells pay the sell-side tax; whether a fill is a sell is known from the sign of the target change.
All settings come from the strategy's :class:`~backtests.engine.rules.Rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.engine import compiled
from backtests.engine.fills import AUCTION, CLOSE, FILL, FILL_KINDS, OPEN, AssetInputs, cell_fills, obey
from backtests.engine.legs import before_event_times, common_instants, last_closes_before, release_times
from backtests.engine.results import NEVER
from backtests.engine.rules import Rules
from backtests.errors import ScareInputError

__all__ = ["AUCTION", "CLOSE", "FILL_KINDS", "OPEN", "AssetBars", "Decisions", "ScheduleArrays", "ScheduleStats",
           "UnfillableOrder", "asset_first_fill", "common_instants", "decision_arrays", "episode_targets",
           "first_fill", "leverage_scale", "release_times", "window_schedule"]


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
    volume: np.ndarray | None = None  # units traded per bar (read for fills into a locked limit)
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
    fees: np.ndarray | None  # fee fraction of each order (None: the layout's commissions serve every order)
    kind: np.ndarray  # int8 fill kind (OPEN, CLOSE, AUCTION) where an order is sent
    val_price: np.ndarray | None = None  # valuation price of every symbol at rows with orders
    max_size: np.ndarray | None = None  # units cap of orders into a locked limit (locked_fill_share > 0)
    lock: np.ndarray | None = None  # int8 lock of the segment each order fills in (with an exchange state)
    #: fills at a print inside their bar (reopening / VI auction): (rows, combos, symbol, instants)
    moved: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = field(default_factory=list)


@dataclass
class ScheduleStats:
    """What one window's schedule did, per combination (counts over all symbols)."""

    entries: np.ndarray  # positions opened (flat to non-zero)
    clipped_targets: np.ndarray  # decisions scaled down to the leverage limit (clip mode)
    dropped: np.ndarray  # combos whose target in force at the window start was not carried in
    legged: np.ndarray | None = None  # decisions that could not be filled together (legs: together)
    open_fallback: dict[str, int] = field(default_factory=dict)  # symbol -> orders filled at close, no open
    locked: np.ndarray | None = None  # orders refused at a locked limit
    halted: np.ndarray | None = None  # orders killed by a halt that ran to the close
    banned: np.ndarray | None = None  # new short sales refused (a ban or no borrow; clip mode)
    after_event: np.ndarray | None = None  # decision changes released at the event (legs: before_event)
    #: symbol -> what the exchange did to its orders: locked, halted, banned, unpriced, outside,
    #: exit_refused (counts) and bans (the ids that refused a short sale)
    exchange: dict[str, dict] = field(default_factory=dict)
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
    frame = weights if weights.columns.equals(cols) else weights.reindex(columns=cols)
    hi = len(tau) if end is None else int(np.searchsorted(tau, end.value, side="left"))
    vals = frame.to_numpy(dtype="float64", na_value=np.nan)[:hi]  # a view of a float frame's block
    tau = tau[:hi]
    lo = 0 if start is None else max(0, int(np.searchsorted(tau, start.value, side="left")) - 1)
    shape = (len(tau) - lo, n_combos, len(symbols))
    out_vals = np.empty(shape)
    out_made = np.empty(shape, dtype=np.int64)
    # NaN carried forward column-wise (leading NaN = flat); a target's "made" stamp is the last
    # stamp at which it changed (the first stamp counts as a change from flat)
    if not compiled.decision_values(vals, tau, lo, out_vals.reshape(shape[0], vals.shape[1]),
                                    out_made.reshape(shape[0], vals.shape[1])):
        raise ValueError("strategy weights contain inf")
    return Decisions(tau[lo:], out_vals, out_made)


class Episode(NamedTuple):
    """The decisions of one episode (rule 1): those stamped at or after ``start``.

    ``values`` and ``made`` are the strategy's (views of :class:`Decisions`); rule 1 applies to
    them as ``entry`` says (:func:`~backtests.engine.compiled.episode_values`), inside the
    compiled passes, or once for all in :meth:`applied`.
    """

    tau: np.ndarray  # (k,) int64 ns UTC
    values: np.ndarray  # (k, combos, symbols)
    made: np.ndarray  # (k, combos, symbols) int64 ns UTC: when each target was set
    dropped: np.ndarray  # (combos,) bool: a target set before the start was not carried in
    entry: int  # compiled.ENTRY_*: how rule 1 still applies to values / made
    start: int
    first: int  # the first in-episode decision stamp (0: none)

    def applied(self) -> Episode:
        """The same episode with rule 1 applied to ``values`` and ``made`` (new arrays)."""
        if self.entry == compiled.ENTRY_APPLIED:
            return self
        vals, made = np.empty_like(self.values), np.empty_like(self.made)
        compiled.episode_values(self.values, self.made, self.entry, self.start, self.first, vals, made)
        return self._replace(values=vals, made=made, entry=compiled.ENTRY_APPLIED)


def episode_targets(tau: np.ndarray, values: np.ndarray, changed_at: np.ndarray, start: int,
                    entry: str) -> Episode:
    """The decisions of one episode: those stamped at or after ``start``, inherited targets removed.

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
    Episode
        Decisions from ``start`` on, rule 1 not yet applied (:meth:`Episode.applied`); its
        ``dropped`` (combos,) says where a non-zero target set before the start was in force at the
        first in-window decision and was not carried in.
    """
    lo = int(np.searchsorted(tau, start, side="left"))
    tau_w, vals, made = tau[lo:], values[lo:], changed_at[lo:]
    n_combos = values.shape[1]
    none = np.zeros(n_combos, dtype=bool)
    if not len(tau_w):
        return Episode(tau_w, vals, made, none, compiled.ENTRY_APPLIED, start, 0)
    first = int(tau_w[0])
    if entry == "state":
        return Episode(tau_w, vals, made, none, compiled.ENTRY_STATE, start, first)
    dropped = ((made[0] < start) & (vals[0] != 0.0)).any(axis=1)
    return Episode(tau_w, vals, made, dropped, compiled.ENTRY_CHANGE, start, first)


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


def state_inputs(rules: Rules, j: int | None, bars: AssetBars) -> AssetInputs | None:
    """The exchange state of asset ``j`` of ``rules`` as :func:`~backtests.engine.fills.obey` reads
    it, with the asset's bars of one window (None: no state for it)."""
    st = rules.state
    if st is None or j is None or not st.has_state(j):
        return None
    s = st.segments(j)
    return AssetInputs(st.timeline(j), st.seg_print_at[s], st.seg_print_px[s], bars.open_times, bars.stamps,
                       bars.open, bars.close, lambda t: st.short_allowed(j, t), bars.volume)


def asset_first_fill(bars: AssetBars, decision: int, rules: Rules, j: int | None = None
                     ) -> tuple[int, int, bool] | None:
    """Where an order of one asset decided at ``decision`` fills first: rules 2, 3, 5 and 10.

    Parameters
    ----------
    bars
        The asset's bars inside the window.
    decision
        int64 ns UTC instant of the decision.
    rules
        ``fill`` and ``exit_at_window_end`` are read (with ``exit_at_window_end`` the asset's last
        bar in the window only closes positions, so it opens none).
    j
        The asset's position in ``rules.assets``: its exchange state then applies (a bar whose
        fill a halt kills or defers is skipped; a decision in a halt fills at the reopening
        print). None: no state.

    Returns
    -------
    (bar, instant, at_open) or None
        Position of the bar in ``bars``, fill instant (int64 ns UTC: the bar's open instant, its
        close stamp, or a print inside the bar) and whether it fills at the open; None when no bar
        of the window can fill it.
    """
    k = int(np.searchsorted(bars.stamps, decision, side="right"))  # first bar stamped after the decision
    last = len(bars.stamps) - (1 if rules.exit_at_window_end else 0)
    inp = state_inputs(rules, j, bars) if k < last else None
    if inp is not None and not rules.state.special(j, min(int(decision), int(bars.open_times[k])), int(bars.stamps[-1])):
        inp = None  # nothing but the schedule from the decision on: the nominal fill is the state's
    while k < last:
        at_open = bool(rules.fill == "open" and bars.opened_after(decision, k) and np.isfinite(bars.open[k]))
        if inp is None:
            return k, int(bars.open_times[k] if at_open else bars.stamps[k]), at_open
        cf = cell_fills(inp.tl, inp.print_at, inp.print_px, bars.open_times[k:k + 1], bars.stamps[k:k + 1],
                        np.array([decision], dtype=np.int64), np.array([at_open]))
        if cf.status[0] == FILL:
            return k, int(cf.t[0]), bool(cf.at_open[0])
        k += 1
    return None


def first_fill(decision: int, assets: list[AssetBars], rules: Rules, common: np.ndarray | None = None,
               event: int | None = None) -> int:
    """The first instant at which an order decided at ``decision`` can fill: the first-fill rule.

    The engine reports it per run (:data:`~backtests.engine.results.RUN_STATS` ``first_fill``,
    from the strategy's first decision in the window); the scoring stage blanks the benchmark
    before it, and the buy-and-hold baseline enters at :func:`asset_first_fill` of its own symbol.

    Parameters
    ----------
    decision
        int64 ns UTC (``NEVER``: no decision, no fill).
    assets
        The traded assets' bars inside the window (in the order of ``rules.assets``).
    rules
        The strategy's rules (fill mode, exit at window end, legs, exchange state).
    common
        Common fill instants of all legs (:func:`common_instants`) when legs fill together: the
        decision is released at the first of them after it (rule 7), where every leg fills. None,
        or no common instant after the decision: each asset at its own next bar.
    event
        The window's event instant, with ``rules.legs == "before_event"`` (rule 7b): each leg's
        decision is released as :func:`~backtests.engine.legs.before_event_times` says.

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
    per_asset = [decision] * len(assets)
    if rules.legs == "before_event" and event is not None:
        closes = last_closes_before(assets, event)
        per_asset = [int(before_event_times(np.array([decision]), event, closes, j)[0][0]) for j in range(len(assets))]
    fills = [f[1] for f in (asset_first_fill(b, per_asset[j], rules, j) for j, b in enumerate(assets)) if f is not None]
    return min(fills, default=NEVER)


def window_schedule(rows: np.ndarray, assets: list[AssetBars], decisions: Decisions, rules: Rules,
                    out: ScheduleArrays, start: int, common: np.ndarray | None = None,
                    event: int | None = None, forced: dict[int, np.ndarray] | None = None,
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
        Fill mode, exit at window end, episode entry, leverage limits, costs, legs and the
        exchange state of the symbols.
    out
        Arrays to fill (already NaN/0-initialised by the caller).
    start
        Window start (int64 ns UTC).
    common
        Common fill instants of all legs (:func:`common_instants`) to fill every decision's legs
        together; None fills each asset at its own next bar.
    event
        The window's event instant (int64 ns UTC), read with ``rules.legs == "before_event"``.
    forced
        ``{asset: (bars, combos) bool}`` orders a locked limit refuses, found by a simulation
        (:func:`~backtests.engine.fills.lock_violations`).
    neutral
        (combos, symbols) the strategy's resting weights (``Strategy.resting_weights``); None = flat.

    Returns
    -------
    ScheduleStats
    """
    n_rows, n_combos = len(rows), decisions.values.shape[1]
    ep = episode_targets(*decisions, start, rules.entry)
    tau = ep.tau
    clipped = np.zeros(n_combos, dtype=np.int64)
    last_bar = max((int(b.stamps[-1]) for b in assets if len(b.stamps)), default=NEVER)
    before_event = rules.legs == "before_event" and event is not None and len(tau) > 0
    if len(tau) and (common is not None or before_event or not _surely_within(ep.values, rules)):
        ep = ep.applied()  # rule 1 once, before the leverage limits and the legs read the targets
    if len(tau) and not _surely_within(ep.values, rules):
        scale = leverage_scale(ep.values, rules)
        bad = (scale < 1.0) & (tau < last_bar)[:, None]  # decisions after the last bar never fill
        if bad.any():
            if rules.on_unfillable != "clip":
                k, c = np.argwhere(bad)[0]
                msg, sym = _leverage_message(ep.values[k, c], rules)
                raise UnfillableOrder(msg, int(c), pd.Timestamp(int(tau[k]), tz="UTC"), sym)
            clipped = bad.sum(axis=0).astype(np.int64)
            ep = ep._replace(values=ep.values * np.where(bad, scale, 1.0)[:, :, None])
    values, changed_at = ep.values, ep.made
    zeros = np.zeros(n_combos, dtype=np.int64)
    st = ScheduleStats(entries=zeros.copy(), clipped_targets=clipped, dropped=ep.dropped, locked=zeros.copy(),
                       halted=zeros.copy(), banned=zeros.copy(), departed=np.zeros(n_combos, dtype=bool))
    if len(tau) and (common is not None or before_event):
        change = np.empty(values.shape[:2], dtype=bool)
        change[0] = (values[0] != 0.0).any(axis=1)
        change[1:] = (values[1:] != values[:-1]).any(axis=2)
        if common is not None:
            tau, ok = release_times(tau, common)
            changed_at, _ = release_times(changed_at, common)
            st.legged = (change & ~ok[:, None] & (tau < last_bar)[:, None]).sum(axis=0).astype(np.int64)
    closes = last_closes_before(assets, event) if before_event else None
    if closes is not None:
        late = before_event_times(tau, event, closes, 0)[1]
        st.after_event = (change & late[:, None] & (tau < last_bar)[:, None]).sum(axis=0).astype(np.int64)
    track = out.val_price is not None
    instants = np.full((n_rows if track else 0, n_combos), np.iinfo(np.int64).max)
    for j, (bars, asset) in enumerate(zip(assets, rules.assets)):
        if len(bars.stamps) == 0:
            continue
        tau_j, made_j = tau, changed_at
        if closes is not None:
            tau_j = before_event_times(tau, event, closes, j)[0]
            made_j = before_event_times(changed_at, event, closes, j)[0]
        at = np.searchsorted(rows, bars.stamps)
        col = np.full(n_rows, np.nan)
        col[at] = bars.close
        out.close[:, j] = pd.Series(col).ffill().bfill().to_numpy()
        through = bars.through if len(bars.through) else np.zeros(0, dtype=bool)
        rule = (tau_j, values, made_j, j, bars.stamps, bars.open_times, bars.open, through, ep.entry, ep.start,
                ep.first, rules.fill == "open", rules.exit_at_window_end)
        inp = state_inputs(rules, j, bars)
        targets = _state_targets(inp, rules, j, bars, rule, n_combos)
        if targets is None:  # the exchange state changes nothing: one compiled pass writes the orders
            rest = np.zeros(n_combos) if neutral is None else np.ascontiguousarray(neutral[:, j], dtype=np.float64)
            n_fb = compiled.nominal_orders(
                *rule[:8], bars.close, at, *rule[8:], asset.costs.commission, asset.costs.sell_tax, rest,
                out.size, out.price, _NO_FEES if out.fees is None else out.fees, out.kind, instants, st.entries,
                st.departed)
        else:
            tgt, made, use_open, n_fb = targets
            t_fill, order = _obey_asset(inp, tgt, made, use_open, rules, j, out, at, st, (forced or {}).get(j))
            if track:
                sub = instants[at]
                instants[at] = np.where(order, np.minimum(sub, t_fill), sub)
            # the target each order filled (a short the state refused is held where it was)
            rest = 0.0 if neutral is None else neutral[:, j]
            chosen = order & (np.abs(out.size[at, :, j] - rest) > 1e-12)
            if rules.exit_at_window_end:
                chosen[-1, :] = False  # the engine's exit, not the strategy's choice
            st.departed |= chosen.any(axis=0)
        if n_fb:
            st.open_fallback[asset.symbol] = int(n_fb)
    if track:
        _valuation(instants, assets, out.val_price)
    return st


_NO_FEES = np.zeros((0, 0, 0))


def _state_targets(inp: AssetInputs | None, rules: Rules, j: int, bars: AssetBars, rule: tuple, n_combos: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """(target, made, fills at the open, open fallbacks) per (bar, combination) of asset ``j``
    when its exchange state can change an order in this window (:func:`_state_matters`), else None."""
    if inp is None:
        return None
    state = rules.state
    lo, hi = int(bars.open_times[0]), int(bars.stamps[-1])
    special = state.special(j, lo, hi)
    if not special and not state.bans_in(j, lo, hi):
        return None
    n = len(bars.stamps)
    tgt, made, use_open = np.empty((n, n_combos)), np.empty((n, n_combos), dtype=np.int64), \
        np.empty((n, n_combos), dtype=bool)
    n_fb = compiled.bar_targets(*rule, tgt, made, use_open)
    return (tgt, made, use_open, n_fb) if _state_matters(rules, j, bars, tgt) else None


def _state_matters(rules: Rules, j: int, bars: AssetBars, tgt: np.ndarray) -> bool:
    """Whether the exchange state can change any order of asset ``j`` in this window: a halt, a
    pause, an intraday auction or a lock inside it, or a short-sale ban while a target is short.
    Elsewhere the state's opens and closes are the bars' own and nothing is refused."""
    state = rules.state
    lo, hi = int(bars.open_times[0]), int(bars.stamps[-1])
    return state.special(j, lo, hi) or (bool((tgt < 0).any()) and state.bans_in(j, lo, hi))


def _obey_asset(inp: AssetInputs, tgt: np.ndarray, made: np.ndarray, use_open: np.ndarray, rules: Rules, j: int,
                out: ScheduleArrays, at: np.ndarray, st: ScheduleStats, forced: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Asset ``j``'s orders under the exchange state (:func:`~backtests.engine.fills.obey`)."""
    asset = rules.assets[j]
    res = obey(inp, tgt, made, use_open, clip=rules.on_unfillable == "clip", locked_share=rules.locked_fill_share,
               exit_last=rules.exit_at_window_end, forced=forced)
    if res.first_banned is not None:
        k, c, why = res.first_banned
        reason = rules.state.reasons[why]
        when = pd.Timestamp(int(made[k, c]), tz="UTC")
        raise UnfillableOrder(
            f"a new short sale of {asset.symbol} could not have been placed at its fill "
            f"({pd.Timestamp(int(inp.stamp[k]), tz='UTC').tz_convert(asset.timezone):%Y-%m-%d}, {asset.market}): "
            f"{reason} (docs/exchange.md); set execution.on_unfillable: clip to leave such orders unfilled "
            f"(counted as n_short_banned, warned as short_sale_banned), or skip shorts during bans in the strategy",
            c, when, asset.symbol)
    order = ~np.isnan(res.size)
    out.size[at, :, j] = res.size
    out.price[at, :, j] = np.where(order, res.px, np.nan)
    if out.fees is not None:
        out.fees[at, :, j] = asset.costs.commission + np.where(res.sell, asset.costs.sell_tax, 0.0)
    out.kind[at, :, j] = np.where(order, res.kind, -1)
    if out.lock is not None:
        out.lock[at, :, j] = res.lock
    if res.partial.any():
        if out.max_size is None:
            raise ValueError("internal: orders into a locked limit need the layout's max_size")
        vol = inp.volume if inp.volume is not None else np.zeros(len(inp.stamp))
        cap = rules.locked_fill_share * np.nan_to_num(vol, nan=0.0)
        out.max_size[at, :, j] = np.where(res.partial, cap[:, None], np.inf)
    k_m, c_m = np.nonzero(res.moved)
    if len(k_m):
        out.moved.append((at[k_m], c_m, j, res.t[k_m, c_m]))
    st.entries += res.entries
    st.locked += res.locked
    st.halted += res.halted
    st.banned += res.banned
    counts = {"locked": int(res.locked.sum()), "halted": int(res.halted.sum()), "banned": int(res.banned.sum()),
              "unpriced": int(res.unpriced.sum()), "outside": res.outside, "exit_refused": res.exit_refused,
              "partial": int(res.partial.sum())}
    if any(counts.values()):
        counts["bans"] = sorted(rules.state.reasons[r] for r in res.reasons)
        st.exchange[asset.symbol] = counts
    return res.t, order


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
