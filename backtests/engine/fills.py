"""Where each order fills under the exchange state: the engine's reading of an admission.

The schedule (:mod:`backtests.engine.schedule`) assigns every order to a bar ``k`` of its asset
and a nominal fill: the bar's open (an order decided before it opened) or its close (an order
decided during the session is a market-on-close order; a close fill otherwise). The exchange state
(a :class:`~backtests.exchange.states.Timeline` of the asset's market and its own) then decides
when, and whether, that order could have filled (:func:`~backtests.exchange.admission.admit`):

* **Open**: queried at the bar's open instant. In continuous trading (or at the opening print) it
  fills there, as before. If the open lies in a halt or a pause, the order waits for the next print.
* **Close** (market-on-close, or a close fill): queried just before the close: in the closing call
  auction (KRX) or continuous trading (US) it fills at the close, as before; a halt that runs to
  the close kills it for the day (``HALTED``, retried at the next bar).
* **Decided during a halt, a pause or an intraday call auction** (a reopening after a halt, a
  volatility interruption): the order is a day order for the reopening print (``fill_kind:
  auction``), at the print's instant and its price when the data shows it (the first intraday
  bar at or after the print: ``seg_print_px`` of the state). When the data does not show the print
  (no intraday bars that day) it fills at the bar's close instead, and is counted (``unpriced``).
* A print that comes after the bar's close (intraday bars inside a halt) makes the order **wait**
  for the next bar (``WAIT``: not counted; the retry at the next bar fills at the print).
* The lock of the segment the order fills in is returned. Whether it blocks the order depends on
  the side of the trade in units (a buy into limit-up, a sell into limit-down), which only the
  kernel knows: a rebalance towards an unchanged target weight buys or sells as the prices drifted.
  So orders are first sent into locks; the simulation then finds those whose fill took the
  forbidden side (:func:`lock_violations`) and runs again with them refused (``forced``), until
  none is left (:func:`backtests.engine.simulate.simulate`).
* A bar the calendar does not know as a session (``outside``) fills as if there were no state.

Pure numpy over flat order cells; the Timeline query is one ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtests.exchange.admission import Reason, admit
from backtests.exchange.history import INTRADAY_PRINTS
from backtests.exchange.states import NAT, State, Timeline

#: ``fill_kind`` codes of the order records.
FILL_KINDS = ("open", "close", "auction")
OPEN, CLOSE, AUCTION = 0, 1, 2
#: Outcome of an order at its bar: filled, waiting for a later print (retried next bar, not
#: counted), or killed by a halt that ran to the close (retried next bar, counted).
FILL, WAIT, HALTED = 0, 1, 2
#: States in which a decision waits for a print inside the session.
STOPPED = np.asarray((State.HALTED, State.PAUSED, State.CALL_REOPEN, State.CALL_VI), dtype=np.int8)
_PRINTS = np.asarray(INTRADAY_PRINTS, dtype=np.int8)


@dataclass
class CellFills:
    """Per order cell (flat arrays of equal length).

    Attributes
    ----------
    status
        :data:`FILL`, :data:`WAIT` or :data:`HALTED`.
    t
        UTC ns of the fill (the bar's open instant or close stamp unless ``moved``).
    at_open
        The fill is the bar's open (its price is the bar's open).
    moved
        The fill is a print inside the bar (reopening or VI auction) at ``px``.
    px
        USD price of a moved fill (NaN otherwise: the bar's open or close price).
    kind
        ``OPEN``, ``CLOSE`` or ``AUCTION``.
    lock
        Lock of the segment the order fills in (+1 up, -1 down, 0 none).
    unpriced
        The order was for a print the data does not show: filled at the bar's close instead.
    outside
        The bar is outside every session of the state: filled as without state.
    """

    status: np.ndarray
    t: np.ndarray
    at_open: np.ndarray
    moved: np.ndarray
    px: np.ndarray
    kind: np.ndarray
    lock: np.ndarray
    unpriced: np.ndarray
    outside: np.ndarray


def nominal_kind(at_open: np.ndarray, open_time: np.ndarray, made: np.ndarray) -> np.ndarray:
    """``OPEN``; else ``AUCTION`` when decided while the bar's session was open (market-on-close),
    ``CLOSE`` otherwise (int8)."""
    not_open = ~at_open
    return not_open.view(np.int8) + (not_open & (open_time < made)).view(np.int8)


def cell_fills(tl: Timeline, print_at: np.ndarray, print_px: np.ndarray, open_time: np.ndarray,
               stamp: np.ndarray, made: np.ndarray, at_open: np.ndarray) -> CellFills:
    """Where each order fills under ``tl`` (see the module docstring).

    Parameters
    ----------
    tl
        The asset's effective timeline.
    print_at, print_px
        Per segment of ``tl``: instant and USD price of the print an order waiting there gets
        when only intraday bars show it (``seg_print_at`` / ``seg_print_px`` of the state).
    open_time, stamp
        Open instant and close stamp of each order's bar (UTC ns).
    made
        When each order's target was decided (UTC ns).
    at_open
        The schedule's nominal choice: fill at the bar's open.
    """
    n = len(made)
    in_session = ~at_open & (made >= open_time) & (made < stamp)
    stop = in_session & np.isin(tl.state_at(made), STOPPED)
    q = np.where(at_open, open_time, np.where(stop, made, stamp - 1))
    adm = admit(tl, q)
    own = tl.segment_at(q)
    outside = (adm.reason == Reason.OUTSIDE_TIMELINE) | (own < 0) | (tl.codes[np.maximum(own, 0)] == State.CLOSED)
    seg = np.maximum(adm.segment, 0)
    status = np.where(adm.reason == Reason.HALTED_TO_CLOSE, HALTED, FILL).astype(np.int8)
    fill_at = adm.fill_at
    here = _print_here(tl, print_at, seg, fill_at)
    nominal_open = at_open & (fill_at == open_time)
    # the close print (closing auction, or continuous trading to the close); an intraday auction
    # whose uncross is the bar's stamp prints its own price, not the bar's close
    nominal_close = ~at_open & ~stop & (fill_at >= stamp - 1) & (fill_at <= stamp) & ~here
    live = (status == FILL) & ~outside
    later = live & ~nominal_open & ~nominal_close & (fill_at > stamp)
    status[later] = WAIT
    moving = live & ~nominal_open & ~nominal_close & ~later
    priced = moving & here & np.isfinite(print_px[seg])
    unpriced = moving & ~priced
    t = np.where(at_open & ~moving, open_time, stamp)
    px = np.full(n, np.nan)
    kind = nominal_kind(at_open, open_time, made)
    lock = np.where(live, tl.locks[seg], 0).astype(np.int8)
    t[priced] = fill_at[priced]
    px[priced] = print_px[seg[priced]]
    kind[priced | (nominal_open & here & live)] = AUCTION
    if unpriced.any():
        # the print is not in the data: the order is filled at the close (a market-on-close order),
        # which the state must admit as any other close
        i = np.flatnonzero(unpriced)
        back = admit(tl, stamp[i] - 1)
        dead = back.reason == Reason.HALTED_TO_CLOSE
        status[i[dead]] = HALTED
        lock[i] = np.where(dead, 0, tl.locks[np.maximum(back.segment, 0)])
        kind[i] = AUCTION
    return CellFills(status, t, at_open & ~moving, priced, px, kind, lock, unpriced, outside)


def _print_here(tl: Timeline, print_at: np.ndarray, seg: np.ndarray, fill_at: np.ndarray) -> np.ndarray:
    """The fill is a print of the state: the segment's own print, or the uncross of the intraday
    auction that ends where the fill's segment begins."""
    own = print_at[seg] == fill_at
    prev = np.maximum(seg - 1, 0)
    ended = (seg > 0) & (tl.uncross[prev] == fill_at) & np.isin(tl.codes[prev], _PRINTS)
    return (own & (fill_at != NAT)) | ended


@dataclass
class AssetOrders:
    """One asset's orders in one window after the exchange state (arrays (bars, combos) unless said).

    Attributes
    ----------
    size
        Target weight sent to the kernel (NaN: no order at that bar).
    px, kind, t
        Fill price (USD), ``fill_kind`` code and fill instant of each order sent.
    moved
        Orders filled at a print inside the bar (a reopening or VI auction).
    partial
        Orders into a locked limit sent with a volume cap (``locked_fill_share > 0``).
    lock
        Lock of the segment each order sent fills in (+1 up, -1 down, 0 none).
    sell
        Orders that sell (the target below the executed one: the sell-side tax applies).
    entries
        (combos,) positions opened (the executed target from flat to non-zero).
    locked, halted, banned, unpriced
        (combos,) orders refused at a locked limit, killed by a halt that ran to the close, new
        short sales refused (a ban or no borrow; clipped), and orders for a print the data does
        not show (filled at the close). An order sent again at the next bar and refused again for
        the same reason counts once.
    outside, exit_refused
        Orders on bars outside every session of the state, and exits at the window's end that
        could not fill (the position stays open at the last mark).
    reasons
        Indices into the state's ban reasons that refused a short sale.
    first_banned
        ``(bar, combo, reason index)`` of the first refused short sale (None: none).
    """

    size: np.ndarray
    px: np.ndarray
    kind: np.ndarray
    t: np.ndarray
    moved: np.ndarray
    partial: np.ndarray
    lock: np.ndarray
    sell: np.ndarray
    entries: np.ndarray
    locked: np.ndarray
    halted: np.ndarray
    banned: np.ndarray
    unpriced: np.ndarray
    outside: int = 0
    exit_refused: int = 0
    reasons: frozenset[int] = frozenset()
    first_banned: tuple[int, int, int] | None = None


@dataclass
class AssetInputs:
    """What :func:`obey` reads of one asset in one window."""

    tl: Timeline
    print_at: np.ndarray
    print_px: np.ndarray
    open_time: np.ndarray  # (bars,) UTC ns
    stamp: np.ndarray  # (bars,) UTC ns
    open: np.ndarray  # (bars,) USD
    close: np.ndarray  # (bars,) USD
    short_allowed: object  # callable(instants) -> (allowed, reason index)
    volume: np.ndarray | None = None  # (bars,) units traded (orders into a locked limit)


def obey(inp: AssetInputs, tgt: np.ndarray, made: np.ndarray, at_open: np.ndarray, *, clip: bool,
         locked_share: float, exit_last: bool, forced: np.ndarray | None = None) -> AssetOrders:
    """One asset's orders of one window under the exchange state.

    An order is sent at a bar when the target in force differs from the target executed so far;
    an order the exchange refuses (a locked limit, a halt to the close, a print after the bar) is
    sent again at the next bar. A new short sale the state forbids (``short_allowed``) is not
    filled: with ``clip`` the target is held at ``max(target, min(executed, 0))``; without, the
    first one is returned (``first_banned``) for the caller to raise.

    Vectorized over combinations; bars are walked one by one only from the first bar at which
    the exchange refused anything (before it every order fills as sent).

    Parameters
    ----------
    inp
        The asset's state and bars.
    tgt, made, at_open
        (bars, combos): target in force at each bar, when it was decided, and the nominal choice
        of the open.
    clip
        ``execution.on_unfillable == "clip"``.
    locked_share
        ``execution.locked_fill_share``: locked orders are sent with a volume cap when > 0.
    exit_last
        The last bar is the window's exit (for ``exit_refused``).
    forced
        (bars, combos) bool: orders a locked limit refuses (found by :func:`lock_violations` after
        a simulation); None: none yet.
    """
    n, c = tgt.shape
    out = AssetOrders(
        size=np.full((n, c), np.nan), px=np.full((n, c), np.nan), kind=np.full((n, c), -1, dtype=np.int8),
        t=np.zeros((n, c), dtype=np.int64), moved=np.zeros((n, c), dtype=bool), partial=np.zeros((n, c), dtype=bool),
        lock=np.zeros((n, c), dtype=np.int8), sell=np.zeros((n, c), dtype=bool), entries=np.zeros(c, dtype=np.int64), locked=np.zeros(c, dtype=np.int64), halted=np.zeros(c, dtype=np.int64),
        banned=np.zeros(c, dtype=np.int64), unpriced=np.zeros(c, dtype=np.int64))
    step = _Step(inp, out, made, at_open, clip, locked_share, forced)
    prev = np.vstack([np.zeros((1, c)), tgt[:-1]]) if n else tgt
    k_all, c_all = np.nonzero(tgt != prev)
    start = n
    if len(k_all):
        ev = step.evaluate(k_all, c_all, tgt[k_all, c_all], prev[k_all, c_all])
        start = int(k_all[ev.trouble].min()) if ev.trouble.any() else n
        step.commit(ev, k_all < start)
    out.entries += ((prev[:start] == 0.0) & (tgt[:start] != 0.0)).sum(axis=0)
    exe = tgt[start - 1].copy() if 0 < start <= n else np.zeros(c)
    for k in range(start, n):
        send = np.flatnonzero(tgt[k] != exe)
        if not len(send):
            continue
        before = exe[send].copy()
        ev = step.evaluate(np.full(len(send), k), send, tgt[k, send], before)
        if ev.short_new.any() and not clip:
            i = int(np.flatnonzero(ev.short_new)[0])
            out.first_banned = (k, int(send[i]), int(ev.why[i]))
            return out
        done = step.commit(ev)
        exe[send] = done
        out.entries[send] += (before == 0.0) & (done != 0.0)
        if exit_last and k == n - 1:
            out.exit_refused = int((done != tgt[k, send]).sum())
    out.reasons = frozenset(step.reasons)
    return out


@dataclass
class _Eval:
    k: np.ndarray
    ci: np.ndarray
    want: np.ndarray
    have: np.ndarray
    cf: CellFills
    why: np.ndarray
    locked: np.ndarray
    short_new: np.ndarray
    trouble: np.ndarray


class _Step:
    """The orders of some cells at once: where they fill, and whether the exchange lets them."""

    def __init__(self, inp: AssetInputs, out: AssetOrders, made: np.ndarray, at_open: np.ndarray, clip: bool,
                 share: float, forced: np.ndarray | None) -> None:
        self.inp, self.out, self.made, self.at_open, self.clip, self.share = inp, out, made, at_open, clip, share
        self.forced = forced
        self.reasons: set[int] = set()
        # per combination and refusal: the target last refused (an order sent again at the next bar and
        # refused again for the same reason is one refused order, counted once)
        n = made.shape[1]
        self.pending = {name: np.full(n, np.nan) for name in ("locked", "halted", "banned")}

    def _count(self, name: str, ci: np.ndarray, refused: np.ndarray, want: np.ndarray, filled: np.ndarray) -> None:
        last = self.pending[name]
        new = refused & ~(last[ci] == want)
        np.add.at(getattr(self.out, name), ci[new], 1)
        last[ci[refused]] = want[refused]
        last[ci[filled]] = np.nan

    def evaluate(self, k: np.ndarray, ci: np.ndarray, want: np.ndarray, have: np.ndarray) -> _Eval:
        """Where the orders ``want`` (from executed ``have``) at cells ``(k, ci)`` fill, and which of
        them the exchange refuses or changes (``trouble``)."""
        cf = cell_fills(self.inp.tl, self.inp.print_at, self.inp.print_px, self.inp.open_time[k], self.inp.stamp[k],
                        self.made[k, ci], self.at_open[k, ci])
        ok_short, why = self.inp.short_allowed(cf.t)
        fill = cf.status == FILL
        locked = fill & (cf.lock != 0) & (self.forced[k, ci] if self.forced is not None else False)
        short_new = fill & ~locked & (want < 0) & (want < np.minimum(have, 0.0)) & ~ok_short
        return _Eval(k, ci, want, have, cf, why, locked, short_new, ~fill | locked | short_new)

    def commit(self, ev: _Eval, mask: np.ndarray | None = None) -> np.ndarray:
        """Write the orders of ``ev`` (the cells of ``mask``) and count what the exchange refused;
        returns the executed targets (clipped shorts held at ``max(want, min(have, 0))``)."""
        out = self.out
        m = np.ones(len(ev.k), dtype=bool) if mask is None else mask
        k, ci, cf = ev.k, ev.ci, ev.cf
        fill = (cf.status == FILL) & m
        locked, short_new = ev.locked & m, ev.short_new & m
        target = np.where(short_new, np.maximum(ev.want, np.minimum(ev.have, 0.0)), ev.want)
        done = fill & ~locked
        sent = done & (target != ev.have)
        part = locked & (self.share > 0)
        self._write(k, ci, cf, np.where(part, ev.want, target), ev.have, sent | part, part)
        filled = done & ~short_new
        self._count("locked", ci, locked, ev.want, filled)
        self._count("halted", ci, (cf.status == HALTED) & m, ev.want, filled)
        self._count("banned", ci, short_new, ev.want, filled)
        np.add.at(out.unpriced, ci[cf.unpriced & sent], 1)
        out.outside += int((cf.outside & sent).sum())
        self.reasons.update(int(r) for r in np.unique(ev.why[short_new]))
        return np.where(done, target, ev.have)

    def _write(self, k: np.ndarray, ci: np.ndarray, cf: CellFills, size: np.ndarray, have: np.ndarray,
               sent: np.ndarray, part: np.ndarray) -> None:
        inp, out = self.inp, self.out
        k, ci = k[sent], ci[sent]
        at_open, moved = cf.at_open[sent], cf.moved[sent]
        out.size[k, ci] = size[sent]
        out.px[k, ci] = np.where(moved, cf.px[sent], np.where(at_open, inp.open[k], inp.close[k]))
        out.kind[k, ci] = cf.kind[sent]
        out.t[k, ci] = cf.t[sent]
        out.moved[k, ci] = moved
        out.partial[k, ci] = part[sent]
        out.lock[k, ci] = cf.lock[sent]
        out.sell[k, ci] = size[sent] < have[sent]


def lock_violations(side: np.ndarray, lock: np.ndarray, capped: np.ndarray) -> np.ndarray:
    """Which filled orders traded against a locked limit: a buy (``side == 0``, vectorbt's code)
    into a limit-up lock or a sell (``1``) into a limit-down lock, not sent with a volume cap."""
    return ~capped & (((lock == 1) & (side == 0)) | ((lock == -1) & (side == 1)))
