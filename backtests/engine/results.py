"""What the engine returns for one window: paths, orders, and the per-run statistics listed once.

:data:`RUN_STATS` declares every per-run statistic the engine computes (one value per
combination and window). The sweep's blocks and checkpoints, the assembled runs table and the
scoring stage's run metrics are all derived from it: adding a statistic means adding one
:class:`RunStat` here and computing it in :func:`backtests.engine.simulate.window_results`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.notices import Notice
from backtests.time.windows import Window

#: "No instant" in int64 ns (numpy's NaT): a run that never decided or could never fill.
NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True)
class RunStat:
    """One per-run statistic of the engine.

    Attributes
    ----------
    name
        Field name: in :attr:`WindowResult.stats`, the sweep's blocks and the runs table.
    dtype
        ``"int64"``, ``"float64"`` or ``"time"`` (int64 ns UTC in the engine, :data:`NEVER` for
        none; a UTC datetime column, NaT for none, in the runs table).
    missing
        Value of a run that has none (where the statistic is not computed).
    metric
        Key in ``metrics.json`` ``runs[].metrics`` (None: used by scoring, not reported per run).
    paired_only
        Computed only for strategies that declare their legs a pair (else absent everywhere).
    doc
        What it counts (units).
    """

    name: str
    dtype: str
    missing: float
    metric: str | None
    paired_only: bool = False
    doc: str = ""

    @property
    def numpy_dtype(self) -> type:
        return np.float64 if self.dtype == "float64" else np.int64

    def column(self, values: np.ndarray) -> np.ndarray | pd.DatetimeIndex:
        """``values`` as a runs-table column (times as UTC datetimes)."""
        if self.dtype == "time":
            return pd.DatetimeIndex(np.asarray(values, dtype=np.int64).view("M8[ns]"), tz="UTC")
        return np.asarray(values).astype(self.numpy_dtype)


#: The engine's per-run statistics, in the order they appear in the runs table.
RUN_STATS: tuple[RunStat, ...] = (
    RunStat("entries", "int64", 0, "n_trades", doc="positions opened (a symbol's holding from flat to non-zero)"),
    RunStat("n_orders", "int64", 0, "n_orders", doc="orders filled"),
    RunStat("exposure", "float64", 0.0, "exposure", doc="fraction of rows ending with a non-zero position"),
    RunStat("turnover", "float64", 0.0, "turnover", doc="traded value / mean portfolio value over the window"),
    RunStat("n_clipped", "int64", 0, "n_clipped",
            doc="targets scaled down to the leverage limits plus orders filled short of their size (clip mode)"),
    RunStat("n_locked", "int64", 0, "n_locked",
            doc="orders the exchange refused at a locked price limit (a buy at limit-up, a sell at limit-down; "
                "sent again at the next bar), including those filled in part (execution.locked_fill_share)"),
    RunStat("n_halted", "int64", 0, "n_halted",
            doc="orders killed by a halt that ran to the close (sent again at the next bar)"),
    RunStat("n_short_banned", "int64", 0, "n_short_banned",
            doc="new short sales the exchange did not allow (a ban or no borrow), not filled (on_unfillable: clip)"),
    RunStat("legs_traded", "int64", 0, "legs_traded", paired_only=True, doc="symbols with at least one fill"),
    RunStat("legging_gap_hours", "float64", np.nan, "legging_gap_hours", paired_only=True,
            doc="hours between the first fill of the first leg and of the last leg (NaN: fewer than two legs)"),
    RunStat("chosen", "int64", 0, None,
            doc="1 when an order filled a target different from the strategy's resting weights (Strategy.resting_weights; "
                "flat by default), the forced exit at the window's end aside: the episode traded a position the "
                "strategy chose (scoring's 'traded')"),
    RunStat("first_decision", "time", NEVER, None,
            doc="the strategy's first decision stamp at or after the window start (its decision clock)"),
    RunStat("first_fill", "time", NEVER, None,
            doc="first possible fill: the fill instant of the first decision by the schedule's rules, or the "
                "run's own first fill when it came earlier (a decision stamped off the clock)"),
)


def run_stats(paired: bool) -> tuple[RunStat, ...]:
    """The statistics a strategy's runs have (the paired-only ones only for paired strategies)."""
    return tuple(s for s in RUN_STATS if paired or not s.paired_only)


@dataclass
class WindowResult:
    """Simulated paths of one window for all combinations.

    Attributes
    ----------
    stamps
        (rows,) UTC stamps (int64 ns) of the window's rows: the run's clock (the union of the
        traded symbols' bar stamps inside the window).
    returns
        (rows, combos) per-row simple returns of portfolio value, net of fees, slippage, borrow
        and yield; row 0 is relative to the initial cash.
    held
        (rows, combos, symbols) weight of each asset in portfolio value at each row's close, or
        None when weights are not kept.
    target
        (rows, combos, symbols) target weight in force after each row's fills, or None.
    orders
        Order records: combo, symbol, row, size (units), price (USD), fees (USD), side, fill_time
        (int64 ns: the bar's open instant when filled at the open, else its close stamp),
        fill_kind ("open", "close" or "auction": a market-on-close order sent during the session).
    stats
        ``{name: (combos,) array}`` for each :class:`RunStat` of :func:`run_stats`.
    notices
        Named warnings of this window (JSON-ready :meth:`Notice.record` dicts).
    """

    window: Window
    stamps: np.ndarray
    returns: np.ndarray
    held: np.ndarray | None
    target: np.ndarray | None
    orders: pd.DataFrame
    stats: dict[str, np.ndarray]
    notices: list[dict]


def leg_stats(combo: np.ndarray, sym: np.ndarray, fill_time: np.ndarray, n_combos: int, n_syms: int,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per combination: legs (symbols) with at least one fill, and the legging gap in hours.

    The gap is the time between the first fill of the first leg and the first fill of the last leg
    to trade (NaN with fewer than two legs traded).
    """
    first = np.full((n_combos, n_syms), np.iinfo(np.int64).max)
    np.minimum.at(first, (combo, sym), fill_time)
    traded = first != np.iinfo(np.int64).max
    n = traded.sum(axis=1)
    lo = np.where(traded, first, np.iinfo(np.int64).max).min(axis=1)
    hi = np.where(traded, first, np.iinfo(np.int64).min).max(axis=1)
    gap = np.where(n >= 2, (hi - lo).astype("float64") / 3.6e12, np.nan)
    return n.astype(np.int64), gap


def schedule_notices(win: Window, st, symbols: list[str]) -> list[dict]:
    """Notices of one window's schedule: clipped targets, open fills that fell back to the close,
    targets in force at the window start that were not carried in, legs that could not fill together."""
    out = []
    n_clip = int(st.clipped_targets.sum())
    if n_clip:
        out.append(Notice("clipped_order", "targets beyond the leverage limits scaled down to fit "
                          "(execution.on_unfillable: clip)", window=win.id, count=n_clip).record())
    for sym, n in sorted(st.open_fallback.items()):
        out.append(Notice("open_fill_fallback", "orders asked to fill at the open filled at the close: "
                          "the bar has no open price (close-only data)", window=win.id, symbol=sym,
                          count=n).record())
    n_drop = int(st.dropped.sum())
    if n_drop:
        out.append(Notice("carried_target_dropped", "combinations held a target set before the window "
                          "start; it was not carried in (each window is its own episode and starts flat)",
                          window=win.id, count=n_drop).record())
    return out


def legged_notice(win: Window, legged: np.ndarray | None) -> list[dict]:
    """``legs_not_together`` when some episodes' legs could not fill at one instant."""
    if legged is None or not legged.any():
        return []
    n_leg = int((legged > 0).sum())
    return [Notice("legs_not_together", "episodes had decisions that could not fill all legs at one "
                   "instant (no instant after them at which every leg trades, e.g. sessions that never overlap): "
                   "those legs filled one after the other", window=win.id, count=n_leg).record()]


def one_leg_notice(win: Window, legs_traded: np.ndarray, n_syms: int) -> list[dict]:
    """``pair_one_leg`` when some pair episodes traded only some of their legs."""
    one = int(((legs_traded > 0) & (legs_traded < n_syms)).sum())
    if not one:
        return []
    return [Notice("pair_one_leg", f"pair episodes traded only some of their {n_syms} legs: an unhedged "
                   "position, not a pair", window=win.id, count=one).record()]


def exchange_notices(win: Window, st, rules) -> list[dict]:
    """What the exchange state did to one window's orders, as named notices: ``limit_locked``,
    ``order_halted``, ``short_sale_banned``, ``auction_unpriced``, ``state_outside_sessions``,
    and (``legs: before_event``) ``legs_after_event``."""
    out = []
    for sym, c in sorted(st.exchange.items()):
        if c["locked"]:
            part = (f"; {c['partial']} sent for at most {rules.locked_fill_share:g} of the bar's volume "
                    "(execution.locked_fill_share)") if c["partial"] else ""
            end = f"; {c['exit_refused']} exit(s) at the window's end could not fill: the position stays open " \
                  "at the last mark" if c["exit_refused"] else ""
            out.append(Notice("limit_locked", f"{c['locked']} order(s) met a locked price limit (a buy at limit-up "
                              f"or a sell at limit-down) and did not fill; sent again at the next bar{part}{end}",
                              window=win.id, symbol=sym, count=c["locked"]).record())
        if c["halted"]:
            out.append(Notice("order_halted", f"{c['halted']} order(s) met a halt that lasted to the close and did "
                              "not fill that day; sent again at the next bar", window=win.id, symbol=sym,
                              count=c["halted"]).record())
        if c["banned"]:
            out.append(Notice("short_sale_banned", f"{c['banned']} new short sale(s) could not have been placed "
                              f"({', '.join(c['bans'])}; docs/exchange.md) and were not filled "
                              "(execution.on_unfillable: clip)", window=win.id, symbol=sym, count=c["banned"]).record())
        if c["unpriced"]:
            out.append(Notice("auction_unpriced", f"{c['unpriced']} order(s) placed in a halt or an intraday call "
                              "auction were for its print, which the data does not show (no intraday bars that "
                              "day): filled at the close instead", window=win.id, symbol=sym,
                              count=c["unpriced"]).record())
        if c["outside"]:
            out.append(Notice("state_outside_sessions", f"{c['outside']} order(s) filled on bars the calendar does not "
                              "know as sessions: no exchange state applied to them", window=win.id, symbol=sym,
                              count=c["outside"]).record())
    after = getattr(st, "after_event", None)
    if after is not None and after.any():
        n = int((after > 0).sum())
        out.append(Notice("legs_after_event", f"{n} episode(s) decided too late to fill every leg before the event "
                          "(after the first leg's last close before it): those decisions were filled after the "
                          "event, each leg at its own next bar (execution.legs: before_event)", window=win.id,
                          count=n).record())
    return out
