"""Fade the KOSPI circuit-breaker halt: buy after a Level-1 crash, hold a few sessions.

Thesis
------
A circuit-breaker crash driven by forced deleveraging (margin loans, leveraged single-stock ETFs)
overshoots; buying after the halt and holding a few sessions captures the rebound. On 2026-06-23
KOSPI fell about 10% intraday with a 20-minute halt, closed -10% and rallied +3% and +5% over the
next two sessions.

Signals
-------
Trigger (the first one per Seoul session), the KRX Level-1 circuit breaker as the exchange rules
define it (:mod:`backtests.exchange`, docs/exchange.md):

* **Intraday index bars, where the data has them** (``MarketData.intraday`` of the ``index``
  role): the rules applied to that session's bars (KOSPI -8% from the previous close held for one
  minute, not in the last 40 minutes; :func:`backtests.exchange.krx_market_state`). The decision
  is stamped at the end of the bar that proves the halt (the halt's start with 1-minute bars; up
  to 4 minutes later with 5-minute bars), inside the 20-minute halt. A session whose bars show no
  Level-1 halt has no trigger, whatever the catalogue says (the engine warns the disagreement:
  ``halt_not_derived``).
* **Catalogue halts on sessions without intraday index bars** (``use_catalogue``): events of kind
  ``event_kind`` (default ``krx_circuit_breaker``, the built-in catalogue's KOSPI Level-1 halts)
  trigger at their ``time_utc``: the reported halt time, or the session close when no time was
  reported (as for 2026-06-23). They are unscheduled and never used before that instant.
  ``event_kind`` names any kind of the study's catalogue, e.g. ``circuit_breaker_level1`` for the
  rows of an events file (``events_files``) that keeps its own kind; an unknown kind stops the
  study at validation.
* **Daily bars otherwise**: the session's low ``threshold`` percent or more below the previous
  close, decided at the session close (only then is the low known). Daily bars cannot prove a
  halt (it needs the fall to last a minute): this is a candidate, not a rule-derived halt.

Entry (``entry``), what each choice means:

* ``reopen``: buy KODEX 200 (``kodex`` role, ``069500.KS``) in the reopening call auction that
  ends the halt. The decision is the trigger itself, made while the market is halted, so the
  engine fills it at the auction's print (``fill_kind: auction``, at the first price after the
  halt) when the data has intraday KODEX bars that day; without them the print is unknown and the
  engine fills at the crash day's close instead (warned: ``auction_unpriced``).
* ``close``: buy KODEX 200 in the closing call auction of the crash day (15:20-15:30 KST): the
  decision is moved to the start of that session's closing auction (never earlier than the
  trigger), a market-on-close order.
* ``ny_open``: buy EWY (``ewy`` role, iShares MSCI South Korea) at the New York open of the same
  calendar day (Korea's session is over before New York opens); the decision is the trigger.

A trigger known only at the Seoul close (the daily fallback, a catalogue halt without a reported
time) cannot reach that session's reopening or closing auction: ``reopen`` and ``close`` then buy
at the next Seoul open, ``ny_open`` at the New York open of the same day.

Size: ``size`` (or the volatility-targeted size, see below) of portfolio value. The ``index`` role
(``^KS11``) is read for the signal and not traded. Triggers while a position is open are ignored: a
position is open from its entry decision until its exit order has filled, so a trigger on the close
that decides the exit, or between that close and the exit fill (a Seoul close before EWY's next New
York session), does not extend the trade; one stamped at or after the exit fill opens a new trade.

Exit: after ``hold`` sessions of the vehicle's market with the position on (a session filled at its
open counts, a session filled at its close or at a reopening auction does not), or earlier at the
close of a vehicle bar whose close is ``stop_loss`` percent below / ``take_profit`` percent above
the entry price (the fill bar's open, or its close when the fill is at the close or at a reopening
auction: the auction's price is the engine's); the exit order fills at the next bar. On close-only
data the scheduled exit is decided one close earlier, so it fills at the close that ends the
``hold``-th session (a market-on-close order): ``hold: 1`` is one session of exposure with or
without opens.

Parameters (units)
------------------
threshold : percent below the previous close, for the daily-bar fallback only (8 = KRX Level-1 decline).
use_catalogue : bool, trigger on catalogue events of kind ``event_kind`` on sessions without
    intraday index bars.
event_kind : catalogue event kind of the halts (``krx_circuit_breaker``); checked against the
    study's catalogue (built-in plus ``events_files``).
entry : ``reopen`` (KODEX 200 at the reopening auction), ``close`` (KODEX 200 at the crash day's
    closing auction) or ``ny_open`` (EWY at the New York open).
hold : sessions of the vehicle's market (>= 1).
stop_loss, take_profit : percent from the entry price (0 = off).
size : fraction of portfolio value (1 = fully long).
vol_target : percent of daily ATR-implied move allowed on the position; the size is
    ``min(size, vol_target / ATR%)`` with ATR% = ``ta`` Average True Range of the index over
    ``atr_window`` sessions / close, as known at the decision (0 = off).
atr_window : sessions.

Where it fails
--------------
* A crash that is information, not deleveraging (a real repricing) keeps falling: the stop is the
  only defence, and it is checked on closes only (gaps go through it).
* Halt days cluster (2026-06-23 and 06-26, three sessions apart): the second crash hits a position
  still open from the first.
* The daily fallback only knows the low at the close: without intraday bars the KODEX entry is the
  next morning, after part of the rebound. EWY also carries USD/KRW and trades a different session.
* A Level-3 halt (KOSPI -20%) ends the session: a ``close`` entry then does not fill that day
  (the engine sends it again at the next open and counts it: ``n_halted``).
* Few events (eleven KOSPI Level-1 halts since 1998): any sweep over them is badly overfit-prone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from ta.volatility import AverageTrueRange

from backtests.errors import DataError
from backtests.exchange import State, krx_market_state, schedule
from backtests.time.calendars import local_session_dates, sessions
from backtests.strategy import (BoolParam, ChoiceParam, EventKindParam, FloatParam, IntParam, Role, Strategy,
                                StrategyContext)

#: Entry choice -> the role bought.
ENTRIES = {"reopen": "kodex", "close": "kodex", "ny_open": "ewy"}
CATALOGUE_KIND = "krx_circuit_breaker"


class FadeKospiHalt(Strategy):
    """Buy KODEX 200 (reopening or closing auction) or EWY (New York open) after a KOSPI Level-1 halt."""

    name = "fade_kospi_halt"
    episode_entry = "change"  # a position comes from a trigger: never carried into a later window
    summary = ("Buy KODEX 200 in the reopening or closing auction, or EWY at the New York open, after a KOSPI "
               "Level-1 circuit-breaker halt; hold a few sessions.")
    roles = {
        "index": Role("^KS11", doc="KOSPI index: the trigger (read, not traded).",
                      series=("high", "low", "close"), traded=False),
        "kodex": Role("069500.KS", doc="KODEX 200 ETF: the Seoul vehicle.", series=("close",)),
        "ewy": Role("EWY", doc="iShares MSCI South Korea ETF: the New York vehicle.", series=("close",)),
    }
    windows = ("krx_circuit_breaker", "kospi_crash_2026")

    threshold = FloatParam(8.0, low=1.0, high=30.0, unit="percent below previous close",
                           doc="Daily-bar fallback: the session's low this far below the previous close triggers at the close.")
    use_catalogue = BoolParam(True, doc="Trigger on catalogue events of kind event_kind on sessions without intraday index bars.")
    event_kind = EventKindParam(CATALOGUE_KIND, doc="Catalogue event kind of the halts that trigger (use_catalogue).")
    entry = ChoiceParam("reopen", choices=tuple(ENTRIES),
                        doc="reopen: KODEX 200 at the reopening auction; close: KODEX 200 at the crash day's closing "
                            "auction; ny_open: EWY at the New York open.")
    hold = IntParam(2, low=1, high=60, unit="sessions", doc="Sessions held (of the vehicle's market).")
    stop_loss = FloatParam(0.0, low=0.0, high=99.0, unit="percent below entry", doc="Exit on a close this far below entry (0 = off).")
    take_profit = FloatParam(0.0, low=0.0, high=1000.0, unit="percent above entry", doc="Exit on a close this far above entry (0 = off).")
    size = FloatParam(1.0, low=0.01, high=2.0, unit="fraction of value", doc="Position size (maximum when vol-targeted).")
    vol_target = FloatParam(0.0, low=0.0, high=50.0, unit="percent per day",
                            doc="Size = min(size, vol_target / ATR%) (0 = fixed size).")
    atr_window = IntParam(14, low=2, high=250, unit="sessions", doc="ATR lookback of the index (ta).")

    @classmethod
    def check_params(cls, combo: Mapping[str, Any]) -> None:
        if combo.get("entry", "reopen") not in ENTRIES:
            raise ValueError(f"entry must be one of {list(ENTRIES)}, got {combo.get('entry')!r}")
        if int(combo.get("hold", 1)) < 1:
            raise ValueError(f"hold must be at least 1 session, got {combo.get('hold')!r}")
        sl, tp = float(combo.get("stop_loss", 0.0)), float(combo.get("take_profit", 0.0))
        if sl < 0 or tp < 0:
            raise ValueError("stop_loss and take_profit are distances in percent and must be >= 0 (0 = off)")

    # ------------------------------------------------------------------------------ triggers
    def _triggers(self, ctx: StrategyContext, threshold: float, use_catalogue: bool, event_kind: str) -> np.ndarray:
        """Sorted int64 ns trigger instants, at most one per Seoul session (see the module docstring)."""
        market = ctx.market("index")
        bars = ctx.bars("index")
        stamps = bars.index
        close = bars["close"].to_numpy(dtype="float64")
        low = bars["low"].to_numpy(dtype="float64") if "low" in bars else close
        prev = np.concatenate([[np.nan], close[:-1]])
        day_key = local_session_dates(market, stamps).as_unit("ns").asi8
        cand_t, cand_k, covered = self._rule_halts(ctx, _tz(market))
        dhit = (low <= prev * (1.0 - threshold / 100.0)) & ~np.isin(day_key, covered)
        cand_t = [cand_t, stamps.asi8[dhit]]
        cand_k = [cand_k, day_key[dhit]]
        if use_catalogue:
            ev = ctx.events(event_kind)
            if len(ev):
                et = pd.DatetimeIndex(ev["time_utc"]).tz_convert("UTC").as_unit("ns")
                ek = pd.DatetimeIndex(pd.to_datetime(ev["date"])).tz_localize(None).normalize().as_unit("ns")
                keep = et.asi8 >= ctx.index.asi8[0] if len(ctx.index) else np.zeros(len(et), bool)
                keep &= ~np.isin(ek.asi8, covered)  # sessions with intraday bars follow the rules
                cand_t.append(et.asi8[keep])
                cand_k.append(ek.asi8[keep])
        t = np.concatenate(cand_t).astype("int64")
        k = np.concatenate(cand_k).astype("int64")
        order = np.lexsort((t, k))
        t, k = t[order], k[order]
        first = np.unique(k, return_index=True)[1]  # earliest trigger of each session
        return np.sort(t[first])

    def _rule_halts(self, ctx: StrategyContext, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Level-1 halts the KRX rules derive from the intraday index bars: (decision instants, their
        local session dates, every session date that has intraday bars). The decision is the end of
        the bar that proves the halt (the bars are known at their ends)."""
        empty = np.array([], dtype="int64")
        intra = ctx.intraday("index")
        if intra is None or not len(intra):
            return empty, empty, empty
        opened = pd.DatetimeIndex(intra["open_time"])
        days = opened.tz_convert(tz).tz_localize(None).normalize()
        prev_close = ctx.known_at(ctx.bars("index")["close"], opened).to_numpy()
        ends = intra.index.asi8
        out_t, out_k = [], []
        for d in days.unique():
            m = np.asarray(days == d)
            base = prev_close[m][0]
            if not np.isfinite(base):
                continue
            try:
                tl = krx_market_state(intra.loc[m], float(base), d, "KOSPI")
            except DataError:  # not a KRX session (a bar on a holiday): no rule applies
                continue
            halt = next((e.instant for e in tl.events if e.code == "cb_level1"), None)
            if halt is not None:
                out_t.append(int(ends[m][np.searchsorted(ends[m], halt, side="left")]))
                out_k.append(pd.Timestamp(d).value)
        return (np.asarray(out_t, dtype="int64"), np.asarray(out_k, dtype="int64"),
                days.unique().as_unit("ns").asi8)

    def _decisions(self, triggers: np.ndarray, entry: str) -> np.ndarray:
        """The decision instants of ``entry``: the triggers, or (``close``) each moved to the start of
        its session's closing call auction when it came before it."""
        if entry != "close" or not len(triggers):
            return triggers
        first = pd.Timestamp(int(triggers.min()), tz="UTC").tz_convert("Asia/Seoul").tz_localize(None).normalize()
        last = pd.Timestamp(int(triggers.max()), tz="UTC").tz_convert("Asia/Seoul").tz_localize(None).normalize()
        tl = schedule("XKRX", first - pd.Timedelta(days=7), last + pd.Timedelta(days=7))
        auctions = tl.segments(State.CLOSING_AUCTION)
        k = np.clip(np.searchsorted(auctions[:, 1], triggers, side="right"), 0, len(auctions) - 1)
        state = tl.state_at(triggers)
        in_session = (state != State.CLOSED) & (state >= 0)
        return np.unique(np.where(in_session, np.maximum(triggers, auctions[k, 0]), triggers))

    def _size_factor(self, ctx: StrategyContext, window: int) -> pd.Series:
        """ATR% of the index on its own bars (NaN during warm-up)."""
        bars = ctx.bars("index")
        close = bars["close"].astype("float64")
        if len(close) < window + 1:
            return pd.Series(np.nan, index=bars.index)
        high = bars["high"].astype("float64") if "high" in bars else close
        low = bars["low"].astype("float64") if "low" in bars else close
        atr = AverageTrueRange(high, low, close, window=window).average_true_range()
        atr = atr.where(np.arange(len(atr)) >= window)  # ta leaves zeros while warming up
        return (atr / close * 100.0).rename("atr_pct")

    # ------------------------------------------------------------------------------ weights
    def target_weights(self, ctx: StrategyContext, grid: pd.DataFrame) -> pd.DataFrame:
        for combo in grid.to_dict("records"):
            self.check_params(combo)
        symbols = self.traded_symbols
        keys = ["threshold", "use_catalogue", "event_kind"]
        triggers = {key: self._triggers(ctx, float(key[0]), bool(key[1]), str(key[2]))
                    for key in grid.groupby(keys, sort=True).groups}
        decisions = {(*key, entry): self._decisions(trig, entry) for key, trig in triggers.items()
                     for entry in sorted(set(grid["entry"]))}
        extra = np.unique(np.concatenate(list(decisions.values()))) if decisions else np.array([], dtype="int64")
        out_index = ctx.index.union(pd.DatetimeIndex(extra, tz="UTC").as_unit("ns"))
        out = np.zeros((len(out_index), len(grid), len(symbols)))
        atr_cache: dict[int, pd.Series] = {}
        for (*key, entry), rows in grid.groupby([*keys, "entry"], sort=True).groups.items():
            trig = decisions[(*key, entry)]
            if len(trig) == 0:
                continue
            role = ENTRIES[entry]
            col = symbols.index(ctx.symbol(role))
            out[:, grid.index.get_indexer(rows), col] = self._positions(
                ctx, _Bars.of(ctx.bars(role), ctx.market(role)), trig, grid.loc[rows], out_index, atr_cache)
        cols = pd.MultiIndex.from_product([grid.index, symbols], names=["combo", "symbol"])
        return pd.DataFrame(out.reshape(len(out_index), -1), index=out_index, columns=cols)

    def _positions(self, ctx: StrategyContext, veh: _Bars, trig: np.ndarray, sub: pd.DataFrame,
                   out_index: pd.DatetimeIndex, atr_cache: dict[int, pd.Series]) -> np.ndarray:
        """Target weight in the vehicle at each stamp of ``out_index`` (rows) for each combination of ``sub``.

        A trade opens at a trigger's stamp and its target drops to 0 at the close that decides its
        exit. A trigger is taken only once the combination's previous trade is flat again, i.e. at or
        after the instant its exit order fills: a trigger on the exit-decision close, or between that
        close and the exit fill (a Seoul close before EWY's next session), meets an open position and
        is ignored.
        """
        stamps = out_index.asi8
        n_rows = len(stamps)
        hold = sub["hold"].to_numpy(dtype="int64")
        stop = sub["stop_loss"].to_numpy(dtype="float64") / 100.0
        take = sub["take_profit"].to_numpy(dtype="float64") / 100.0
        out = np.zeros((n_rows, len(sub)))
        exit_bar = np.full(len(sub), -1)  # bar deciding each combination's last exit (-1: no trade yet)
        span = np.arange(n_rows)[:, None]
        for tau in trig:
            size = self._sizes(ctx, int(tau), sub, atr_cache)
            take_it = veh.flat_by(exit_bar, int(tau)) & np.isfinite(size) & (size > 0)
            if not take_it.any():
                continue
            e_bar = _exit_bars(veh, int(tau), hold, stop, take)
            exit_bar = np.where(take_it, e_bar, exit_bar)
            p_start = int(np.searchsorted(stamps, tau))
            p_end = np.where(e_bar < veh.n, np.searchsorted(stamps, veh.stamp[np.clip(e_bar, 0, veh.n - 1)]), n_rows)
            live = (span >= p_start) & (span < p_end[None, :]) & take_it[None, :]
            out = np.where(live, size[None, :], out)
        return out

    def _sizes(self, ctx: StrategyContext, tau: int, sub: pd.DataFrame, atr_cache: dict[int, pd.Series]) -> np.ndarray:
        """Position size of each combination for a trigger at ``tau`` (NaN: ATR not known yet)."""
        base = sub["size"].to_numpy(dtype="float64")
        vt = sub["vol_target"].to_numpy(dtype="float64")
        aw = sub["atr_window"].to_numpy(dtype="int64")
        size = base.copy()
        for w in np.unique(aw[vt > 0]):
            if w not in atr_cache:
                atr_cache[w] = self._size_factor(ctx, int(w))
            known = ctx.known_at(atr_cache[w], pd.DatetimeIndex([tau], tz="UTC")).iloc[0]  # NaN while warming up
            m = (vt > 0) & (aw == w)
            size[m] = np.minimum(base[m], vt[m] / known) if np.isfinite(known) and known > 0 else np.nan
        return size


@dataclass(frozen=True)
class _Bars:
    """A vehicle's bars as arrays: close stamps and open instants (int64 ns), open and close prices,
    and the open and close instants of the market's next session after each bar (from its calendar)."""

    stamp: np.ndarray
    opened: np.ndarray
    open: np.ndarray
    close: np.ndarray
    next_open: np.ndarray
    next_close: np.ndarray

    @classmethod
    def of(cls, bars: pd.DataFrame, market: str) -> _Bars:
        stamp = bars.index.as_unit("ns").asi8
        never = np.full(len(stamp), np.iinfo(np.int64).max)
        next_open, next_close = never, never.copy()
        if len(stamp):
            days = local_session_dates(market, bars.index)
            sched = sessions(market, days.min(), days.max() + pd.Timedelta(days=31))
            s_open = pd.DatetimeIndex(sched["open"]).as_unit("ns").asi8
            s_close = pd.DatetimeIndex(sched["close"]).as_unit("ns").asi8
            j = np.searchsorted(s_close, stamp, side="right")
            ok, j = j < len(s_close), np.clip(j, 0, max(len(s_close) - 1, 0))
            if len(s_close):
                next_open, next_close = np.where(ok, s_open[j], never), np.where(ok, s_close[j], never)
        return cls(stamp, pd.DatetimeIndex(bars["open_time"]).as_unit("ns").asi8,
                   bars["open"].to_numpy(dtype="float64") if "open" in bars else np.full(len(bars), np.nan),
                   bars["close"].to_numpy(dtype="float64"), next_open, next_close)

    @property
    def n(self) -> int:
        return len(self.stamp)

    def flat_by(self, k: np.ndarray, tau: int) -> np.ndarray:
        """Whether an exit order decided at the close of bar ``k`` (-1: none) has filled by ``tau``,
        as known at ``tau``.

        The order fills at the next bar, at its open when it has one, else at its close. Once that bar
        is known (stamped at or before ``tau``) the order has filled. Before, the fill instant comes
        from the calendar: the next session's open when bar ``k`` has an open price, else its close
        (the next bar itself is not known yet: reading it would look ahead). A session missing from
        the vehicle's data delays the real fill past the scheduled one; such gaps are warned as data
        gaps (docs/data.md).
        """
        kk = np.clip(k, 0, max(self.n - 1, 0))
        nxt = np.clip(k + 1, 0, max(self.n - 1, 0))
        if not self.n:
            return k < 0
        known = (k + 1 < self.n) & (self.stamp[nxt] <= tau)
        scheduled = np.where(np.isfinite(self.open[kk]), self.next_open[kk], self.next_close[kk])
        return (k < 0) | ((k < self.n) & (known | (scheduled <= tau)))


def _exit_bars(veh: _Bars, tau: int, hold: np.ndarray, stop: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Vehicle bar whose close decides each combination's exit for an entry decided at ``tau``
    (``veh.n`` when the data ends first): the scheduled ``hold``-th session, or an earlier close at
    the stop or the take-profit (fractions from the entry price, 0 = off)."""
    f = int(np.searchsorted(veh.stamp, tau, side="right"))  # first vehicle bar after the decision
    if f >= veh.n:
        return np.full(len(hold), veh.n)
    at_open = veh.opened[f] > tau and np.isfinite(veh.open[f])
    entry = veh.open[f] if at_open else veh.close[f]
    first = f if at_open else f + 1
    e_hold = first + hold - 1  # bar whose close stamps the exit decision
    if not at_open:
        # the exit would fill at the next bar's close when that bar has no open (close-only data):
        # decide the scheduled exit one close earlier, a market-on-close order, so `hold` sessions
        # are held with or without opens
        nxt = np.clip(e_hold + 1, 0, veh.n - 1)
        e_hold = np.where(np.isfinite(veh.open[nxt]), e_hold, e_hold - 1)
    last = min(first + int(hold.max()), veh.n)
    path = veh.close[f:last] / entry - 1.0
    offs = np.arange(f, last)
    hit = ((stop[:, None] > 0) & (path[None, :] <= -stop[:, None])) | (
        (take[:, None] > 0) & (path[None, :] >= take[:, None]))
    hit &= offs[None, :] < e_hold[:, None]
    return np.where(hit.any(axis=1), f + hit.argmax(axis=1), e_hold)


def _tz(market: str) -> str:
    from backtests.time.calendars import get_market

    return get_market(market).tz
