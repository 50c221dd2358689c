"""When and how an order can fill under a :class:`~backtests.exchange.states.Timeline` (vectorized).

For each order instant ``t`` (UTC int64 ns), with optional side and limit price:

- ``CONTINUOUS`` at ``t``: fills at ``t`` (``FillKind.CONTINUOUS``).
- A call auction at ``t`` (opening, reopening, VI, closing): fills at that auction's print
  (``FillKind.AUCTION``, instant ``uncross``).
- ``HALTED``, ``PAUSED`` or ``CLOSED`` at ``t``: the order waits for the next segment that accepts
  orders. If that is an auction, it fills at its print; if it is continuous trading (a US
  reopening or opening cross), it fills at its first instant, as an auction print. When the
  session ends while halted (KRX level 3, US level 3), the order does not fill
  (``Reason.HALTED_TO_CLOSE``): a day order dies with the day.
- A buy into a segment locked at the upper limit, or a sell into one locked at the lower limit,
  is refused (``Reason.LIMIT_LOCKED``).
- A limit price outside the day's price limits is rejected by the exchange
  (``Reason.PRICE_OUTSIDE_LIMITS``).
- An instant outside the timeline, or a wait that runs past its end, has no answer
  (``Reason.OUTSIDE_TIMELINE``).

Pure numpy; cost ``O((n_orders + n_segments) log n_segments)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from backtests.errors import DataError
from backtests.exchange.states import ACCEPTING, AUCTIONS, NAT, Lock, State, Timeline
from backtests.notices import Notice


class FillKind(IntEnum):
    """How an admitted order fills: not at all, in continuous trading, or at an auction's print."""

    NONE = 0
    CONTINUOUS = 1
    AUCTION = 2


class Reason(IntEnum):
    """Why an order cannot fill (``OK`` when it can)."""

    OK = 0
    HALTED_TO_CLOSE = 1
    LIMIT_LOCKED = 2
    PRICE_OUTSIDE_LIMITS = 3
    OUTSIDE_TIMELINE = 4


#: Notice code per refusal reason (docs/exchange.md lists them).
REASON_NOTICE = {Reason.HALTED_TO_CLOSE: "order_halted_to_close", Reason.LIMIT_LOCKED: "order_limit_locked",
                 Reason.PRICE_OUTSIDE_LIMITS: "order_price_outside_limits",
                 Reason.OUTSIDE_TIMELINE: "order_outside_timeline"}


@dataclass(frozen=True)
class Admission:
    """Per order: the fill instant, how it fills, whether it is allowed, and why not.

    Attributes
    ----------
    fill_at
        UTC int64 ns of the fill (:data:`~backtests.exchange.states.NAT` when it cannot fill).
    kind
        :class:`FillKind` (int8).
    allowed
        ``kind != NONE``.
    reason
        :class:`Reason` (int8).
    segment
        Index of the timeline segment the fill happens in (``-1`` if none).
    """

    fill_at: np.ndarray
    kind: np.ndarray
    allowed: np.ndarray
    reason: np.ndarray
    segment: np.ndarray

    def counts(self) -> dict[str, int]:
        """Number of orders per outcome (``continuous``, ``auction`` and each refusal reason)."""
        out = {"continuous": int((self.kind == FillKind.CONTINUOUS).sum()),
               "auction": int((self.kind == FillKind.AUCTION).sum())}
        for r in Reason:
            if r != Reason.OK:
                out[r.name.lower()] = int((self.reason == r).sum())
        return out

    def notices(self, symbol: str | None = None) -> list[Notice]:
        """One named notice per refusal reason that occurred, with its count."""
        out = []
        for r, code in REASON_NOTICE.items():
            n = int((self.reason == r).sum())
            if n:
                out.append(Notice(code, f"{n} order(s) could not fill: {r.name.lower().replace('_', ' ')}",
                                  symbol=symbol, count=n))
        return out


def _next_accepting(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each segment: the first segment at or after it that accepts orders (``n`` if none), and
    whether a ``CLOSED`` segment lies before that one (the session ended on the way)."""
    n = len(codes)
    idx = np.arange(n)
    acc = np.isin(codes, np.asarray(ACCEPTING, dtype=np.int8))
    nxt = np.where(acc, idx, n)
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    closed = np.where(codes == State.CLOSED, idx, n)
    next_closed = np.minimum.accumulate(closed[::-1])[::-1]
    return nxt, next_closed < nxt


def admit(tl: Timeline, instants: np.ndarray, side: np.ndarray | None = None,
          limit_price: np.ndarray | None = None, lower: np.ndarray | float | None = None,
          upper: np.ndarray | float | None = None) -> Admission:
    """Where and how each order can fill under ``tl`` (see the module docstring).

    Parameters
    ----------
    tl
        The market's (or a symbol's overlaid) timeline.
    instants
        Order instants, UTC int64 ns (any order, any length).
    side
        +1 buy, -1 sell (optional; without it locks are not checked).
    limit_price
        Limit prices (NaN = market order; optional).
    lower, upper
        The day's price limits for each order (scalars or arrays; optional).

    Returns
    -------
    Admission
    """
    t = np.asarray(instants, dtype=np.int64)
    n = len(tl.codes)
    seg = tl.segment_at(t)
    inside = seg >= 0
    s0 = np.maximum(seg, 0)
    code = tl.codes[s0]
    nxt, closed_between = _next_accepting(tl.codes)
    accepts = np.isin(tl.codes, np.asarray(ACCEPTING, dtype=np.int8))  # per segment, then gathered
    auction_seg = np.isin(tl.codes, np.asarray(AUCTIONS, dtype=np.int8))
    now_ok = accepts[s0]
    target = np.where(now_ok, s0, nxt[s0])
    beyond = target >= n
    # A halt that runs into the close (or the timeline's end, always a session close) ends the day:
    # only waits that start while CLOSED cross sessions.
    dies = ~now_ok & (code != State.CLOSED) & (closed_between[s0] | beyond)
    tgt = np.minimum(target, n - 1)
    is_auction = auction_seg[tgt]
    fill_at = np.where(is_auction, tl.uncross[tgt], np.where(now_ok, t, tl.edges[tgt]))
    kind = np.where(is_auction | ~now_ok, FillKind.AUCTION, FillKind.CONTINUOUS).astype(np.int8)
    reason = np.zeros(len(t), dtype=np.int8)
    reason[inside & dies] = Reason.HALTED_TO_CLOSE
    reason[~inside | (beyond & ~dies)] = Reason.OUTSIDE_TIMELINE
    if side is not None:
        sd = np.broadcast_to(np.asarray(side), t.shape)
        if not np.isin(sd, (-1, 1)).all():
            raise DataError("order sides must be +1 (buy) or -1 (sell)")
        lock = tl.locks[tgt]
        locked = ((sd > 0) & (lock == Lock.UP)) | ((sd < 0) & (lock == Lock.DOWN))
        reason[(reason == 0) & locked] = Reason.LIMIT_LOCKED
    if limit_price is not None and (lower is not None or upper is not None):
        px = np.broadcast_to(np.asarray(limit_price, dtype=float), t.shape)
        lo = np.broadcast_to(np.asarray(-np.inf if lower is None else lower, dtype=float), t.shape)
        hi = np.broadcast_to(np.asarray(np.inf if upper is None else upper, dtype=float), t.shape)
        outside = np.isfinite(px) & ((px < lo) | (px > hi))
        reason[(reason == 0) & outside] = Reason.PRICE_OUTSIDE_LIMITS
    ok = reason == 0
    return Admission(np.where(ok, fill_at, NAT).astype(np.int64), np.where(ok, kind, FillKind.NONE).astype(np.int8),
                     ok, reason, np.where(ok, tgt, -1))


def fill_prices(adm: Admission, bar_starts: np.ndarray, bar_open: np.ndarray) -> np.ndarray:
    """The first observed price at or after each fill: the open of the first bar starting then or
    later (an auction's print is the first print after it). NaN for orders that do not fill or
    whose fill is after the last bar.

    Parameters
    ----------
    adm
        Admissions from :func:`admit`.
    bar_starts, bar_open
        Bar start instants (UTC int64 ns, sorted) and opens of the traded symbol.
    """
    starts = np.asarray(bar_starts, dtype=np.int64)
    i = np.searchsorted(starts, adm.fill_at, side="left")
    ok = adm.allowed & (i < len(starts))
    return np.where(ok, np.asarray(bar_open, dtype=float)[np.minimum(i, len(starts) - 1)], np.nan)
