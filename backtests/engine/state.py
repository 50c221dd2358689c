"""The exchange state a strategy's runs are executed under, as flat arrays the engine reads.

:func:`build_state` runs the exchange model (:mod:`backtests.exchange.history`) over the sessions
of a strategy's windows for each traded symbol, from what the data has (intraday bars of the
symbol and of its market's index, else daily bars and the event catalogue's halts), and returns
one frozen :class:`ExchangeState`. It is held by the strategy's
:class:`~backtests.engine.rules.Rules` and read by the schedule
(:mod:`backtests.engine.schedule`): no fill while halted or paused, orders placed in a halt fill at
the reopening print, orders into a locked limit do not fill, no new short sale during a ban.

Layout (one row per segment, all symbols stacked; ``j`` = the symbol's position in ``Rules.assets``):

=================  ==========  ===========================================================
array              dtype       meaning
=================  ==========  ===========================================================
``seg_offsets``    int64       (symbols + 1,) symbol ``j``'s segments are
                               ``seg_offsets[j]:seg_offsets[j + 1]`` (empty: no state, crypto)
``seg_start``      int64       UTC ns, segment start (contiguous per symbol)
``seg_end``        int64       UTC ns, segment end (= the next segment's start)
``seg_code``       int8        :class:`~backtests.exchange.states.State`
``seg_lock``       int8        :class:`~backtests.exchange.states.Lock` (+1 up, -1 down)
``seg_uncross``    int64       UTC ns of an auction segment's print (``NAT`` otherwise)
``seg_print_at``   int64       UTC ns of the print an order waiting in the segment gets when
                               only intraday bars show it (reopening / VI auctions, the US
                               reopening after a halt or pause); ``NAT`` otherwise
``seg_print_px``   float64     USD price of that print (NaN: the data does not show it)
``short_offsets``  int64       (symbols + 1,) into the short-sale intervals
``short_start``    int64       UTC ns of the local midnight opening each interval
``short_ok``       bool        a new short sale is allowed in the interval
``short_reason``   int16       index into :attr:`ExchangeState.reasons` (0 = allowed)
=================  ==========  ===========================================================

The digest covers every array, the reasons, the sources and the notices; it is part of the run's
data fingerprint and of every checkpoint key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData, asof
from backtests.exchange.compare import catalogue_halts
from backtests.exchange.history import (INDEX_SYMBOLS, MarketInputs, SymbolInputs, market_days,
                                        market_index, print_prices, session_dates, short_sale_intervals,
                                        symbol_days)
from backtests.exchange.membership import known_membership
from backtests.exchange.short_sale import BorrowOverride
from backtests.exchange.states import NAT, Lock, State, Timeline
from backtests.notices import Notice
from backtests.time.calendars import local_session_dates

#: Markets the exchange model covers; any other (crypto) trades continuously, without bans.
MODELLED = ("XKRX", "XNYS")
CRYPTO_NOTE = "no halts, price limits, call auctions or short-sale bans (24/7 continuous trading)"
#: States in which an order waits for a print the daily bars do not show.
STOPPED = (State.HALTED, State.PAUSED, State.CALL_REOPEN, State.CALL_VI)


@dataclass(frozen=True)
class StateSettings:
    """What the study says about the state (``execution`` section).

    Attributes
    ----------
    enabled
        ``execution.exchange_state``: False runs without any state (the record says so).
    members
        ``execution.index_membership``: ``{symbol: (index, ...)}``, members throughout.
    financials
        ``execution.financials``: symbols that are financial companies.
    overrides
        Rows of ``execution.borrow_file`` (:func:`~backtests.exchange.short_sale.load_borrow_overrides`).
    borrow_file
        Its path, for the record.
    """

    enabled: bool = True
    members: tuple[tuple[str, tuple[str, ...]], ...] = ()
    financials: tuple[str, ...] = ()
    overrides: tuple[BorrowOverride, ...] = ()
    borrow_file: str | None = None

    @property
    def member_map(self) -> dict[str, tuple[str, ...]]:
        return dict(self.members)


@dataclass(frozen=True, eq=False)
class ExchangeState:
    """Exchange state of a strategy's traded symbols over its windows (see the module docstring).

    Equality and hashing go by :attr:`digest`, so :class:`~backtests.engine.rules.Rules` stays
    hashable and a chunk of a sweep carries it to a worker as is.
    """

    symbols: tuple[str, ...]
    markets: tuple[str, ...]
    derived_from: tuple[str, ...]
    seg_offsets: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    seg_code: np.ndarray
    seg_lock: np.ndarray
    seg_uncross: np.ndarray
    seg_print_at: np.ndarray
    seg_print_px: np.ndarray
    short_offsets: np.ndarray
    short_start: np.ndarray
    short_ok: np.ndarray
    short_reason: np.ndarray
    reasons: tuple[str, ...] = ("",)
    notices: tuple[Notice, ...] = ()
    summary: tuple[tuple[str, str], ...] = ()  # per symbol: JSON of its event counts (for the record)
    unknown_membership: tuple[str, ...] = ()
    borrow_file: str | None = None
    enabled: bool = True

    # ----------------------------------------------------------------- identity
    @cached_property
    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.symbols, self.markets, self.derived_from, self.reasons, self.summary,
                             self.unknown_membership, self.enabled,
                             [n.record() for n in self.notices]], sort_keys=True, default=str).encode())
        for a in (self.seg_offsets, self.seg_start, self.seg_end, self.seg_code, self.seg_lock, self.seg_uncross,
                  self.seg_print_at, self.seg_print_px, self.short_offsets, self.short_start, self.short_ok,
                  self.short_reason):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExchangeState) and other.digest == self.digest

    # ----------------------------------------------------------------- reading
    def segments(self, j: int) -> slice:
        return slice(int(self.seg_offsets[j]), int(self.seg_offsets[j + 1]))

    def has_state(self, j: int) -> bool:
        """Symbol ``j`` has a timeline (False for crypto, or with the state off)."""
        return self.enabled and self.seg_offsets[j + 1] > self.seg_offsets[j]

    @cached_property
    def _timelines(self) -> dict[int, Timeline]:
        return {}

    def timeline(self, j: int) -> Timeline | None:
        """Symbol ``j``'s effective timeline (market and own state overlaid), or None."""
        if not self.has_state(j):
            return None
        if j not in self._timelines:
            s = self.segments(j)
            self._timelines[j] = Timeline(self.markets[j], np.append(self.seg_start[s], self.seg_end[s][-1]),
                                          self.seg_code[s], self.seg_lock[s], self.seg_uncross[s],
                                          derived_from=self.derived_from[j], symbol=self.symbols[j])
        return self._timelines[j]

    def special(self, j: int, lo: int, hi: int) -> bool:
        """Whether symbol ``j`` has a halt, pause, reopening or VI auction or a lock in ``[lo, hi]``:
        outside those the state changes no fill of daily or intraday bars."""
        if not self.has_state(j):
            return False
        s = self.segments(j)
        a = int(np.searchsorted(self.seg_end[s], lo, side="right"))
        b = int(np.searchsorted(self.seg_start[s], hi, side="right"))
        return a < b and bool(self._special[s][a:b].any())

    @cached_property
    def _special(self) -> np.ndarray:
        """Per segment: a halt, a pause, an intraday auction or a lock (what :meth:`special` looks for)."""
        return np.isin(self.seg_code, np.asarray(STOPPED, dtype=np.int8)) | (self.seg_lock != Lock.NONE)

    def short_allowed(self, j: int, instants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per instant (UTC ns): a new short sale allowed, and the reason index (0 when allowed)."""
        t = np.asarray(instants, dtype=np.int64)
        a, b = int(self.short_offsets[j]), int(self.short_offsets[j + 1])
        if not self.enabled or a == b:
            return np.ones(t.shape, dtype=bool), np.zeros(t.shape, dtype=np.int16)
        k = np.searchsorted(self.short_start[a:b], t, side="right") - 1
        inside = k >= 0
        kk = np.clip(k, 0, None) + a
        return np.where(inside, self.short_ok[kk], True), np.where(inside, self.short_reason[kk], 0).astype(np.int16)

    def bans_in(self, j: int, lo: int, hi: int) -> bool:
        """Whether a short sale of symbol ``j`` is forbidden anywhere in ``[lo, hi]``."""
        a, b = int(self.short_offsets[j]), int(self.short_offsets[j + 1])
        if not self.enabled or a == b:
            return False
        start = self.short_start[a:b]
        i = max(int(np.searchsorted(start, lo, side="right")) - 1, 0)
        k = int(np.searchsorted(start, hi, side="right"))
        return bool((~self.short_ok[a:b][i:k]).any())

    def record(self) -> dict[str, Any]:
        """JSON-ready: ``metrics.json`` ``strategies[].execution.exchange_state``."""
        if not self.enabled:
            return {"enabled": False, "note": "execution.exchange_state: false; fills ignore halts, limits and bans"}
        out: dict[str, Any] = {"enabled": True, "digest": self.digest, "symbols": {}}
        summary = dict(self.summary)
        for j, (sym, market) in enumerate(zip(self.symbols, self.markets)):
            if market not in MODELLED:
                out["symbols"][sym] = {"market": market, "derived_from": "none", "note": CRYPTO_NOTE}
                continue
            a, b = int(self.short_offsets[j]), int(self.short_offsets[j + 1])
            bans = sorted({self.reasons[r] for r in self.short_reason[a:b] if r})
            rec = {"market": market, "derived_from": self.derived_from[j], **json.loads(summary.get(sym, "{}")),
                   "short_sale_bans": bans}
            if market == "XKRX":
                rec["index_membership"] = ("unknown (treated as not a member of KOSPI 200 / KOSDAQ 150)"
                                           if sym in self.unknown_membership else "known")
            out["symbols"][sym] = rec
        if self.borrow_file:
            out["borrow_file"] = self.borrow_file
        return out


_SEG = (("start", np.int64), ("end", np.int64), ("code", np.int8), ("lock", np.int8), ("uncross", np.int64),
        ("print_at", np.int64), ("print_px", np.float64))


def _empty() -> dict[str, list[np.ndarray]]:
    return {k: [] for k, _ in _SEG}


def _stack(parts: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate(parts[k]).astype(t) if parts[k] else np.zeros(0, t) for k, t in _SEG}


def disabled_state(symbols: list[str], markets: list[str]) -> ExchangeState:
    """A state that constrains nothing (``execution.exchange_state: false``)."""
    n = len(symbols)
    z64, zoff = np.zeros(0, np.int64), np.zeros(n + 1, np.int64)
    return ExchangeState(tuple(symbols), tuple(markets), ("none",) * n, zoff, z64, z64, np.zeros(0, np.int8),
                         np.zeros(0, np.int8), z64, z64, np.zeros(0), zoff.copy(), z64, np.zeros(0, bool),
                         np.zeros(0, np.int16), enabled=False)


def recorded_halts(events: pd.DataFrame | None, index: str) -> pd.DataFrame | None:
    """The catalogue's halts of ``index`` (:func:`~backtests.exchange.compare.catalogue_halts`
    layout); a reported ``time_utc`` is the halt time, other rows have none."""
    if events is None or not len(events) or "kind" not in events:
        return None
    ev = events[events["kind"].isin(("circuit_breaker_level1", "circuit_breaker_level2",
                                     "circuit_breaker_level3", "krx_circuit_breaker"))]
    if not len(ev):
        return None
    when = pd.DatetimeIndex(pd.to_datetime(ev["time_utc"], utc=True)).tz_convert("Asia/Seoul")
    reported = (ev["time_rule"] == "reported").to_numpy() if "time_rule" in ev else np.ones(len(ev), bool)
    frame = pd.DataFrame({"date": pd.to_datetime(ev["date"]).to_numpy(), "kind": ev["kind"].to_numpy(),
                          "market": ev["market"].astype(str).to_numpy(),
                          "time_local": np.where(reported, when.strftime("%H:%M:%S"), "")})
    return catalogue_halts(frame, index=index)


def _local_daily(data: MarketData, symbol: str) -> pd.DataFrame | None:
    """A symbol's daily bars indexed by local session date (columns high, low, close; NaN where absent)."""
    if data.frequency != "1D" or symbol not in data.bars:
        return None
    frame = data.bars[symbol]
    idx = local_session_dates(data.market_of(symbol), frame.index)
    cols = {c: frame[c].to_numpy(dtype=float) if c in frame else np.full(len(frame), np.nan)
            for c in ("high", "low", "close")}
    return pd.DataFrame(cols, index=idx)


def build_state(data: MarketData, events: pd.DataFrame | None, spans: Iterable[tuple[pd.Timestamp, pd.Timestamp]],
                symbols: list[str], settings: StateSettings | None = None) -> ExchangeState:
    """The exchange state of ``symbols`` over the sessions touching ``spans`` (UTC windows).

    Parameters
    ----------
    data
        The study's data (all of it: the index of a symbol's market is read even when the strategy
        does not trade or name it: ``^KS11`` / ``^KQ11`` / ``^GSPC``).
    events
        The study's event catalogue (its circuit-breaker rows are the recorded halts).
    spans
        ``(start_utc, end_utc)`` of the strategy's windows.
    symbols
        The traded symbols, in the order of the rules' assets.
    settings
        Membership, financials, borrow overrides and the on/off switch.
    """
    settings = settings or StateSettings()
    markets = [data.market_of(s) for s in symbols]
    if not settings.enabled:
        return disabled_state(symbols, markets)
    spans = list(spans)
    segs, offs, shorts, soffs = _empty(), [0], {"start": [], "ok": [], "reason": []}, [0]
    reasons: list[str] = [""]
    notices: list[Notice] = []
    derived, summary, unknown = [], [], []
    cache: dict[tuple[str, str], tuple[Any, Any]] = {}
    members = settings.member_map
    for sym, market in zip(symbols, markets):
        if market not in MODELLED:
            derived.append("none")
            offs.append(offs[-1])
            soffs.append(soffs[-1])
            continue
        index = market_index(market, sym)
        key = (market, index)
        if key not in cache:
            dates, bounds = session_dates(market, spans)
            ix_sym = INDEX_SYMBOLS.get(index or "")
            ix_intraday = data.intraday.get(ix_sym) if ix_sym else None
            # daily index bars serve the KRX daily checks and the previous close of intraday days
            ix_daily = _local_daily(data, ix_sym) if ix_sym and (market == "XKRX" or ix_intraday is not None) else None
            mdays = market_days(MarketInputs(market, index, ix_daily, ix_intraday,
                                             recorded_halts(events, index) if market == "XKRX" else None),
                                dates, bounds)
            notices.extend(mdays.notices)
            cache[key] = (mdays, dates)
        mdays, dates = cache[key]
        sym_intraday = data.intraday.get(sym)
        # daily bars serve KRX limit-locked closes and the previous close of intraday days
        sym_daily = _local_daily(data, sym) if market == "XKRX" or sym_intraday is not None else None
        tl, sym_notices, used = symbol_days(SymbolInputs(sym, market, sym_daily, sym_intraday, members=members), mdays)
        notices.extend(sym_notices)
        derived.append(used)
        if tl is not None:
            when, px = print_prices(tl, data.intraday.get(sym))
            _append_timeline(segs, tl, when, _to_usd(data, sym, when, px))
            summary.append((sym, json.dumps(_summarise(tl), sort_keys=True)))
        offs.append(offs[-1] + (len(tl.codes) if tl is not None else 0))
        if market == "XKRX" and not known_membership(sym, members):
            unknown.append(sym)
        if len(dates):
            starts, ok, why = short_sale_intervals(sym, market, dates.min(), dates.max(), members=members,
                                                   financial=sym in settings.financials,
                                                   overrides=settings.overrides)
            for r in why:
                if r not in reasons:
                    reasons.append(r)
            if sym in unknown and "krx_ban_2021_partial" in set(why):
                notices.append(Notice("index_membership_unknown", f"{sym}: no KOSPI 200 / KOSDAQ 150 membership known; "
                                      "treated as not a member, so it cannot be shorted 2021-05-03..2023-11-05 (add it to "
                                      "execution.index_membership if it was one)", symbol=sym))
            shorts["start"].append(starts)
            shorts["ok"].append(ok)
            shorts["reason"].append(np.array([reasons.index(r) for r in why], dtype=np.int16))
        soffs.append(soffs[-1] + (len(starts) if len(dates) else 0))
    seg = _stack(segs)
    return ExchangeState(
        tuple(symbols), tuple(markets), tuple(derived), np.asarray(offs, np.int64),
        seg["start"], seg["end"], seg["code"], seg["lock"], seg["uncross"], seg["print_at"], seg["print_px"],
        np.asarray(soffs, np.int64), _cat(shorts["start"], np.int64), _cat(shorts["ok"], bool),
        _cat(shorts["reason"], np.int16), tuple(reasons), tuple(_dedup(notices)), tuple(summary),
        tuple(unknown), settings.borrow_file, True)


def _append_timeline(segs: dict[str, list[np.ndarray]], tl: Timeline, when: np.ndarray, px: np.ndarray) -> None:
    for k, a in zip(("start", "end", "code", "lock", "uncross", "print_at", "print_px"),
                    (tl.edges[:-1], tl.edges[1:], tl.codes, tl.locks, tl.uncross, when, px)):
        segs[k].append(a)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _to_usd(data: MarketData, symbol: str, when: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Prints in USD with the FX rate known at each print (NaN where none is known)."""
    cur = data.info[symbol].currency
    if cur == "USD" or not np.isfinite(px).any():
        return px
    fx = data.fx.get(cur)
    if fx is None:
        return np.full(len(px), np.nan)
    ok = np.isfinite(px)
    rate = asof(data.series(fx, "close"), pd.DatetimeIndex(when[ok], tz="UTC")).to_numpy()
    out = np.full(len(px), np.nan)
    out[ok] = px[ok] / rate
    return out


def _summarise(tl: Timeline) -> dict[str, Any]:
    """Counts of what the state holds (for the record): halts, pauses, VIs, locks, their first instants."""
    counts: dict[str, int] = {}
    for e in tl.events:
        counts[e.code] = counts.get(e.code, 0) + 1
    halts = [pd.Timestamp(e.instant, tz="UTC").isoformat() for e in tl.events
             if e.code.startswith(("cb_level", "mwcb_level")) and not e.code.endswith("excluded")]
    return {"events": dict(sorted(counts.items())), "halts_utc": halts,
            "locked_segments": int((tl.locks != Lock.NONE).sum())}


def _dedup(notices: list[Notice]) -> list[Notice]:
    seen, out = set(), []
    for n in notices:
        key = json.dumps(n.record(), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


def settings_from_config(ex: Any, overrides: tuple[BorrowOverride, ...] = ()) -> StateSettings:
    """:class:`StateSettings` from a study's ``execution`` section and the rows of its borrow file
    (read when the study is planned: :attr:`backtests.config.plan.StudyPlan.borrow_overrides`)."""
    members = tuple(sorted((str(k), tuple(str(x) for x in v))
                           for k, v in (getattr(ex, "index_membership", None) or {}).items()))
    path = getattr(ex, "borrow_file", None)
    return StateSettings(bool(getattr(ex, "exchange_state", True)), members,
                         tuple(sorted(getattr(ex, "financials", ()) or ())), tuple(overrides),
                         str(path) if path else None)


__all__ = ["ExchangeState", "StateSettings", "build_state", "disabled_state", "settings_from_config",
           "recorded_halts", "CRYPTO_NOTE", "STOPPED", "MODELLED", "NAT"]
