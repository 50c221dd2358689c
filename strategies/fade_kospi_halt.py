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
* **Catalogue halts** (``use_catalogue``): events of kind ``krx_circuit_breaker`` trigger at their
  ``time_utc`` (the reported halt time, or the session close when no time was reported, as for
  2026-06-23). They are unscheduled and never used before that instant.

Entry: ``size`` (or the volatility-targeted size, see below) of portfolio value in the ``vehicle``:
``kodex200`` = the ``kodex`` role (KODEX 200 ETF, ``069500.KS``), ``ewy`` = the ``ewy`` role (iShares
MSCI South Korea, ``EWY``). The ``index`` role (``^KS11``) is read for the signal and not traded.
Triggers while a position is open are ignored.

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
use_catalogue : bool, also trigger on catalogue ``krx_circuit_breaker`` events.
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
from typing import Any

import numpy as np
import pandas as pd
from ta.volatility import AverageTrueRange

from backtests.time.calendars import local_session_dates
from backtests.strategy import BoolParam, ChoiceParam, FloatParam, IntParam, Role, Strategy, StrategyContext

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
    use_catalogue = BoolParam(True, doc="Also trigger on catalogue events of kind krx_circuit_breaker.")
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
    def _triggers(self, ctx: StrategyContext, threshold: float, use_catalogue: bool) -> np.ndarray:
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
            ev = ctx.events(CATALOGUE_KIND)
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
        groups = grid.groupby(["threshold", "use_catalogue"], sort=True).groups
        triggers = {key: self._triggers(ctx, float(key[0]), bool(key[1])) for key in groups}
        extra = np.unique(np.concatenate(list(triggers.values()))) if triggers else np.array([], dtype="int64")
        out_index = ctx.index.union(pd.DatetimeIndex(extra, tz="UTC").as_unit("ns"))
        pos_of = out_index.asi8
        n_rows, n_combo = len(out_index), len(grid)
        out = np.zeros((n_rows, n_combo, len(symbols)))
        atr_cache: dict[int, pd.Series] = {}

        for (threshold, use_cat, vehicle), rows in grid.groupby(["threshold", "use_catalogue", "vehicle"], sort=True).groups.items():
            trig = triggers[(threshold, use_cat)]
            if len(trig) == 0:
                continue
            role = VEHICLES[vehicle]
            col = symbols.index(ctx.symbol(role))
            sub = grid.loc[rows]
            cidx = grid.index.get_indexer(rows)
            hold = sub["hold"].to_numpy(dtype="int64")
            stop = sub["stop_loss"].to_numpy(dtype="float64") / 100.0
            take = sub["take_profit"].to_numpy(dtype="float64") / 100.0
            base = sub["size"].to_numpy(dtype="float64")
            vt = sub["vol_target"].to_numpy(dtype="float64")
            aw = sub["atr_window"].to_numpy(dtype="int64")

            vb = ctx.bars(role)
            v_t = vb.index.asi8
            v_open_t = pd.DatetimeIndex(vb["open_time"]).as_unit("ns").asi8
            v_close = vb["close"].to_numpy(dtype="float64")
            v_open = vb["open"].to_numpy(dtype="float64") if "open" in vb else np.full(len(vb), np.nan)
            n_v = len(v_t)
            busy = np.zeros(len(cidx), dtype="int64")  # first row each combo is free again
            max_hold = int(hold.max())

            for tau in trig:
                p_start = int(np.searchsorted(pos_of, tau))
                size = base.copy()
                if (vt > 0).any():
                    for w in np.unique(aw[vt > 0]):
                        if w not in atr_cache:
                            atr_cache[w] = self._size_factor(ctx, int(w))
                        atr_pct = atr_cache[w].dropna()  # (backtests' asof fails on an all-NaN series)
                        known = ctx.known_at(atr_pct, pd.DatetimeIndex([tau], tz="UTC")).iloc[0] \
                            if len(atr_pct) else np.nan
                        m = (vt > 0) & (aw == w)
                        size[m] = np.minimum(base[m], vt[m] / known) if np.isfinite(known) and known > 0 else np.nan
                f = int(np.searchsorted(v_t, tau, side="right"))  # first vehicle bar after the decision
                if f >= n_v:
                    p_end = np.full(len(cidx), n_rows)
                else:
                    at_open = v_open_t[f] > tau and np.isfinite(v_open[f])
                    entry = v_open[f] if at_open else v_close[f]
                    first = f if at_open else f + 1
                    e_hold = first + hold - 1  # bar whose close stamps the exit decision
                    if not at_open:
                        # the exit would fill at the next bar's close when that bar has no open
                        # (close-only data): decide the scheduled exit one close earlier, a
                        # market-on-close order, so `hold` sessions are held with or without opens
                        nxt = np.clip(e_hold + 1, 0, n_v - 1)
                        e_hold = np.where(np.isfinite(v_open[nxt]), e_hold, e_hold - 1)
                    last = min(first + max_hold, n_v)
                    path = v_close[f:last] / entry - 1.0
                    offs = np.arange(f, last)
                    hit = ((stop[:, None] > 0) & (path[None, :] <= -stop[:, None])) | (
                        (take[:, None] > 0) & (path[None, :] >= take[:, None]))
                    hit &= offs[None, :] < e_hold[:, None]
                    any_hit = hit.any(axis=1)
                    e_bar = np.where(any_hit, f + hit.argmax(axis=1), e_hold)
                    has_exit = e_bar < n_v
                    e_stamp = v_t[np.clip(e_bar, 0, n_v - 1)]
                    p_end = np.where(has_exit, np.searchsorted(pos_of, e_stamp), n_rows)
                take_it = (p_start >= busy) & np.isfinite(size) & (size > 0)
                if not take_it.any():
                    continue
                busy = np.where(take_it, p_end, busy)
                span = np.arange(n_rows)[:, None]
                live = (span >= p_start) & (span < p_end[None, :]) & take_it[None, :]
                block = out[:, cidx, col]
                out[:, cidx, col] = np.where(live, size[None, :], block)

        cols = pd.MultiIndex.from_product([grid.index, symbols], names=["combo", "symbol"])
        return pd.DataFrame(out.reshape(n_rows, -1), index=out_index, columns=cols)


def _tz(market: str) -> str:
    from backtests.time.calendars import get_market

    return get_market(market).tz
