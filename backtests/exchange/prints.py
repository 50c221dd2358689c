"""What prints under an exchange state: which bars of a session print, and which print is an auction's.

The rule, shared by every generator of intraday bars (the scenario generator, the synthetic replay's
crash days): given a :class:`~backtests.exchange.states.Timeline` and 1-minute bars,

- a bar prints only when its start lies in continuous trading: nothing prints while halted,
  paused or in a call auction;
- the first bar after a non-trading stretch (the open, a reopening after a halt or pause, the end
  of a volatility interruption) opens at the auction's print;
- the closing call auction prints once, at the close, on the session's last bar (O = H = L = C);
- volume that traded while nothing could print is carried to the bar that ends the stretch.

Arrays are ``(n, T)`` (scenarios x bars) or ``(T,)``; instants are UTC int64 ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtests.exchange.states import State, Timeline


@dataclass
class Printed:
    """Bars of one asset after the rules (1-minute, NaN where nothing printed).

    Attributes
    ----------
    open, high, low, close, volume
        ``(n, T)`` arrays in the asset's currency (volume in units traded).
    auction
        ``(n, T)`` bool: the bar's open (or, for the closing print, its only price) is a call
        auction's print.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    auction: np.ndarray


def print_masks(tl: Timeline, starts: np.ndarray, ends: np.ndarray, open_ns: int) -> tuple[np.ndarray, ...]:
    """Which bars print under ``tl``: ``(prints, auction_open, closing_print)``, each ``(T,)`` bool."""
    codes = tl.state_at(starts)
    prints = codes == State.CONTINUOUS
    before = tl.state_at(starts - 1)
    auction_open = prints & ((before != State.CONTINUOUS) | (starts == open_ns))
    closing = tl.uncross[(tl.codes == State.CLOSING_AUCTION)]
    closing_print = np.isin(ends, closing)
    return prints, auction_open, closing_print


def apply_masks(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
                prints: np.ndarray, auction_open: np.ndarray, closing_print: np.ndarray) -> Printed:
    """Blank what did not print, put the closing print on its bar, carry volume to auction bars."""
    keep = prints | closing_print
    cp = closing_print & ~prints
    out_o = np.where(cp, c, np.where(prints, o, np.nan))
    out_h = np.where(cp, c, np.where(prints, h, np.nan))
    out_l = np.where(cp, c, np.where(prints, lo, np.nan))
    out_c = np.where(keep, c, np.nan)
    csum = np.cumsum(v, axis=1)
    pos = np.where(keep, np.arange(v.shape[1])[None, :], -1)
    last = np.maximum.accumulate(pos, axis=1)
    prev_last = np.concatenate([np.full((v.shape[0], 1), -1), last[:, :-1]], axis=1)
    since = csum - np.where(prev_last >= 0, np.take_along_axis(csum, np.maximum(prev_last, 0), axis=1), 0.0)
    out_v = np.where(keep, since, np.nan)
    return Printed(out_o, out_h, out_l, out_c, out_v, (auction_open & prints) | cp)


__all__ = ["Printed", "print_masks", "apply_masks"]
