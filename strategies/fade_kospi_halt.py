"""Fade the KOSPI circuit-breaker halt: buy after a Level-1 crash, hold a few sessions.

Thesis
------
A circuit-breaker crash driven by forced deleveraging (margin loans, leveraged single-stock ETFs)
overshoots; buying after the halt and holding a few sessions captures the rebound. On 2026-06-23
KOSPI fell about 10% intraday with a 20-minute halt, closed -10% and rallied +3% and +5% over the
next two sessions.

Signals
-------
Trigger (first one per Seoul session, the index role's market):

* **Intraday bars, where the data has them** (``MarketData.intraday`` of the ``index`` role): the
  first 5-minute bar whose low is ``threshold`` percent or more below the previous daily close (KRX
  Level-1 rule). The decision is stamped at that bar's end; the halt that follows shows as a gap in
  the bars, and the engine's next-bar rule makes the order fill at the first bar after the gap (for
  a daily-bar vehicle: that session's close; for EWY: the New York open of the same day).
* **Daily bars otherwise**: the session's low vs the previous close; the decision is stamped at the
  session close (only then is the low known), so the fill is the next Seoul open, or the New York
  open of the same day for EWY (Korea's crash is over before New York opens).
* **Catalogue halts** (``use_catalogue``): events of kind ``event_kind`` (default
  ``krx_circuit_breaker``, the built-in catalogue's KOSPI Level-1 halts) trigger at their
  ``time_utc`` (the reported halt time, or the session close when no time was reported, as for
  2026-06-23). They are unscheduled and never used before that instant. ``event_kind`` names any
  kind of the study's catalogue, e.g. ``circuit_breaker_level1`` for the rows of an events file
  (``events_files``) that keeps its own kind; an unknown kind stops the study at validation.

Entry: ``size`` (or the volatility-targeted size, see below) of portfolio value in the ``vehicle``:
``kodex200`` = the ``kodex`` role (KODEX 200 ETF, ``069500.KS``), ``ewy`` = the ``ewy`` role (iShares
MSCI South Korea, ``EWY``). The ``index`` role (``^KS11``) is read for the signal and not traded.
Triggers while a position is open are ignored: a position is open from its entry decision until its
exit order has filled, so a trigger on the close that decides the exit, or between that close and
the exit fill (a Seoul close before EWY's next New York session), does not extend the trade; one
stamped at or after the exit fill opens a new trade.

Exit: after ``hold`` sessions of the vehicle's market with the position on (a session filled at its
open counts, a session filled at its close does not), or earlier at the close of a vehicle bar whose
close is ``stop_loss`` percent below / ``take_profit`` percent above the entry price (the fill bar's
open, or its close when the fill is at the close); the exit order fills at the next bar. On
close-only data the scheduled exit is decided one close earlier, so it fills at the close that
ends the ``hold``-th session (a market-on-close order): ``hold: 1`` is one session of exposure with
or without opens.

Parameters (units)
------------------
threshold : percent below the previous close (8 = KRX Level-1 rule).
use_catalogue : bool, also trigger on catalogue events of kind ``event_kind``.
event_kind : catalogue event kind of the halts (``krx_circuit_breaker``); checked against the
    study's catalogue (built-in plus ``events_files``).
vehicle : ``kodex200`` or ``ewy``.
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
* Few events (eleven KOSPI Level-1 halts since 1998): any sweep over them is badly overfit-prone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from ta.volatility import AverageTrueRange

from backtests.time.calendars import local_session_dates, sessions
from backtests.strategy import (BoolParam, ChoiceParam, EventKindParam, FloatParam, IntParam, Role, Strategy,
                                StrategyContext)

VEHICLES = {"kodex200": "kodex", "ewy": "ewy"}
CATALOGUE_KIND = "krx_circuit_breaker"


class FadeKospiHalt(Strategy):
    """Buy the KOSPI proxy (or EWY) after a Level-1 circuit-breaker crash; exit after N sessions."""

    name = "fade_kospi_halt"
    episode_entry = "change"  # a position comes from a trigger: never carried into a later window
    summary = "Buy KODEX 200 or EWY after a KOSPI Level-1 circuit-breaker crash; hold a few sessions."
    roles = {
        "index": Role("^KS11", doc="KOSPI index: the trigger (read, not traded).",
                      series=("high", "low", "close"), traded=False),
        "kodex": Role("069500.KS", doc="KODEX 200 ETF: the Seoul vehicle.", series=("close",)),
        "ewy": Role("EWY", doc="iShares MSCI South Korea ETF: the New York vehicle.", series=("close",)),
    }
    windows = ("krx_circuit_breaker", "kospi_crash_2026")

    threshold = FloatParam(8.0, low=1.0, high=30.0, unit="percent below previous close",
                           doc="Index drop (intraday low vs previous close) that triggers the trade.")
    use_catalogue = BoolParam(True, doc="Also trigger on catalogue events of kind event_kind.")
    event_kind = EventKindParam(CATALOGUE_KIND, doc="Catalogue event kind of the halts that trigger (use_catalogue).")
    vehicle = ChoiceParam("kodex200", choices=tuple(VEHICLES), doc="What to buy: KODEX 200 in Seoul or EWY in New York.")
    hold = IntParam(2, low=1, high=60, unit="sessions", doc="Sessions held (of the vehicle's market).")
    stop_loss = FloatParam(0.0, low=0.0, high=99.0, unit="percent below entry", doc="Exit on a close this far below entry (0 = off).")
    take_profit = FloatParam(0.0, low=0.0, high=1000.0, unit="percent above entry", doc="Exit on a close this far above entry (0 = off).")
    size = FloatParam(1.0, low=0.01, high=2.0, unit="fraction of value", doc="Position size (maximum when vol-targeted).")
    vol_target = FloatParam(0.0, low=0.0, high=50.0, unit="percent per day",
                            doc="Size = min(size, vol_target / ATR%) (0 = fixed size).")
    atr_window = IntParam(14, low=2, high=250, unit="sessions", doc="ATR lookback of the index (ta).")

    @classmethod
    def check_params(cls, combo: Mapping[str, Any]) -> None:
        if combo.get("vehicle", "kodex200") not in VEHICLES:
            raise ValueError(f"vehicle must be one of {list(VEHICLES)}, got {combo.get('vehicle')!r}")
        if int(combo.get("hold", 1)) < 1:
            raise ValueError(f"hold must be at least 1 session, got {combo.get('hold')!r}")
        sl, tp = float(combo.get("stop_loss", 0.0)), float(combo.get("take_profit", 0.0))
        if sl < 0 or tp < 0:
            raise ValueError("stop_loss and take_profit are distances in percent and must be >= 0 (0 = off)")

    # ------------------------------------------------------------------------------ triggers
    def _triggers(self, ctx: StrategyContext, threshold: float, use_catalogue: bool, event_kind: str) -> np.ndarray:
        """Sorted int64 ns decision stamps, at most one per Seoul session."""
        market = ctx.market("index")
        bars = ctx.bars("index")
        stamps = bars.index
        close = bars["close"].to_numpy(dtype="float64")
        low = bars["low"].to_numpy(dtype="float64") if "low" in bars else close
        prev = np.concatenate([[np.nan], close[:-1]])
        day_key = local_session_dates(market, stamps).as_unit("ns").asi8
        cand_t: list[np.ndarray] = []
        cand_k: list[np.ndarray] = []
        covered = np.array([], dtype="int64")
        intra = ctx.intraday("index")
        limit = 1.0 - threshold / 100.0
        if intra is not None and len(intra):
            ilow = (intra["low"] if "low" in intra else intra["close"]).to_numpy(dtype="float64")
            opened = pd.DatetimeIndex(intra["open_time"])
            iprev = ctx.known_at(bars["close"], opened).to_numpy()
            ikey = opened.tz_convert(_tz(market)).tz_localize(None).normalize().as_unit("ns").asi8
            covered = np.unique(ikey)
            hit = ilow <= iprev * limit
            if hit.any():
                t_hit, k_hit = intra.index.asi8[hit], ikey[hit]
                first = np.unique(k_hit, return_index=True)[1]
                cand_t.append(t_hit[first])
                cand_k.append(k_hit[first])
        dhit = (low <= prev * limit) & ~np.isin(day_key, covered)
        cand_t.append(stamps.asi8[dhit])
        cand_k.append(day_key[dhit])
        if use_catalogue:
            ev = ctx.events(event_kind)
            if len(ev):
                et = pd.DatetimeIndex(ev["time_utc"]).tz_convert("UTC").as_unit("ns")
                ek = pd.DatetimeIndex(pd.to_datetime(ev["date"])).tz_localize(None).normalize().as_unit("ns")
                keep = et.asi8 >= ctx.index.asi8[0] if len(ctx.index) else np.zeros(len(et), bool)
                cand_t.append(et.asi8[keep])
                cand_k.append(ek.asi8[keep])
        t = np.concatenate(cand_t) if cand_t else np.array([], dtype="int64")
        k = np.concatenate(cand_k) if cand_k else np.array([], dtype="int64")
        order = np.lexsort((t, k))
        t, k = t[order], k[order]
        first = np.unique(k, return_index=True)[1]  # earliest trigger of each session
        return np.sort(t[first])

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
        extra = np.unique(np.concatenate(list(triggers.values()))) if triggers else np.array([], dtype="int64")
        out_index = ctx.index.union(pd.DatetimeIndex(extra, tz="UTC").as_unit("ns"))
        out = np.zeros((len(out_index), len(grid), len(symbols)))
        atr_cache: dict[int, pd.Series] = {}
        for (*key, vehicle), rows in grid.groupby([*keys, "vehicle"], sort=True).groups.items():
            trig = triggers[tuple(key)]
            if len(trig) == 0:
                continue
            role = VEHICLES[vehicle]
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
