"""The state model run over many sessions: one symbol's effective timeline, its checks, its bans.

The rule functions of :mod:`.krx` and :mod:`.us` read one session each; this module runs them over
a list of local session dates and joins the days (:func:`~backtests.exchange.states.concat`).
For each day it uses the best evidence the data has, and records which:

- **market** (``XKRX``: KOSPI or KOSDAQ circuit breakers; ``XNYS``: S&P 500 circuit breakers):
  intraday bars of the index that day (the rules applied to them: ``intraday``); else a halt the
  event catalogue records with its time (``catalogue``); else the calendar (``schedule``). Where
  both intraday bars and a catalogue record exist they are compared (``halt_mismatch``,
  ``halt_not_derived``, ``halt_not_recorded``); intraday bars are checked for trading inside a
  derived halt and unexplained gaps; daily index bars are checked against the catalogue's level-1
  halts (``halt_not_derived``, ``halt_possible_not_recorded``).
- **symbol** (overlaid on the market): intraday bars of the symbol (KRX volatility interruptions
  and limit locks, US LULD pauses: ``intraday``); else what its daily bars show (a KRX close or a
  whole day at the daily limit: ``daily``).
- **short-sale availability** per local calendar day (:func:`short_sale_intervals`).

Everything is plain frames in, plain data out: daily frames are indexed by naive local session
dates, intraday frames by UTC bar-end stamps (columns ``open``, ``high``, ``low``, ``close``).
Crypto has no state here (no halts, limits, auctions or bans): callers skip it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from backtests.exchange.bars import as_bars
from backtests.exchange.compare import catalogue_halts, compare_bars, compare_daily_halts, compare_halts
from backtests.exchange.krx import (krx_daily_symbol_state, krx_halt_from_catalogue, krx_market_state,
                                    krx_price_limits, krx_symbol_state)
from backtests.exchange.membership import luld_tier, membership, vi_class
from backtests.exchange.rules import krx_cb_regime, krx_price_limit
from backtests.exchange.schedule import session_regime
from backtests.exchange.short_sale import BorrowOverride, short_sale_allowed
from backtests.exchange.states import AUCTIONS, NAT, State, Timeline, concat, make_timeline, overlay
from backtests.exchange.us import luld_state, us_market_state
from backtests.notices import Notice
from backtests.time.calendars import get_market, sessions

#: Index whose circuit breakers halt a symbol's market, by market and listing suffix.
KRX_INDEX_BY_SUFFIX = {".KQ": "KOSDAQ"}
#: Conventional tickers of those indices (Yahoo Finance's), looked up in the data.
INDEX_SYMBOLS = {"KOSPI": "^KS11", "KOSDAQ": "^KQ11", "SPX": "^GSPC"}
#: Auction states whose print the engine cannot read off daily bars (the open and the close it can).
INTRADAY_PRINTS = tuple(s for s in AUCTIONS if s not in (State.CALL_OPEN, State.CLOSING_AUCTION))


def market_index(market: str, symbol: str) -> str | None:
    """The index whose circuit breakers govern ``symbol``: ``KOSPI``/``KOSDAQ`` (XKRX), ``SPX`` (XNYS)."""
    if market == "XKRX":
        return next((ix for sfx, ix in KRX_INDEX_BY_SUFFIX.items() if symbol.upper().endswith(sfx)), "KOSPI")
    if market == "XNYS":
        return "SPX"
    return None


@dataclass
class MarketInputs:
    """What the data offers about one market's index (any part may be None)."""

    market: str
    index: str
    daily: pd.DataFrame | None = None  # local dates -> close, low
    intraday: pd.DataFrame | None = None  # UTC bar ends -> open, high, low, close
    recorded: pd.DataFrame | None = None  # the catalogue's halts (compare.catalogue_halts layout)


@dataclass
class SymbolInputs:
    """What the data offers about one traded symbol (any part may be None)."""

    symbol: str
    market: str
    daily: pd.DataFrame | None = None  # local dates -> high, low, close (NaN where absent)
    intraday: pd.DataFrame | None = None  # UTC bar ends -> open, high, low, close
    leverage: float = 1.0
    members: Mapping[str, Iterable[str]] | None = None  # the study's index membership


@dataclass(frozen=True)
class Bounds:
    """Open and close (UTC ns) of each session of ``dates``: arrays, looked up by date."""

    dates: pd.DatetimeIndex
    opens: np.ndarray
    closes: np.ndarray

    def __contains__(self, d: object) -> bool:
        return d in self.dates

    def __getitem__(self, d: pd.Timestamp) -> tuple[int, int]:
        i = self.dates.get_loc(d)
        return int(self.opens[i]), int(self.closes[i])


@dataclass
class DayStates:
    """A market's state over a list of sessions: the days the rules or the catalogue changed (every
    other day runs its schedule), the source of each day, the joined timeline, and the notices of
    its checks."""

    days: dict[pd.Timestamp, Timeline]
    derived: dict[pd.Timestamp, str]  # the days of ``days``: ``intraday`` or ``catalogue``
    notices: list[Notice] = field(default_factory=list)
    base: Timeline | None = None  # every session joined (schedule days built in bulk)
    dates: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))  # every session

    @property
    def sources(self) -> set[str]:
        """Where the days' states came from (``schedule`` for the days no rule or record changed)."""
        return set(self.derived.values()) | ({"schedule"} if len(self.dates) > len(self.derived) else set())


def _by_day(frame: pd.DataFrame | None, tz: str) -> dict[pd.Timestamp, pd.DataFrame]:
    """Intraday bars split by local date of their start (bar-end stamps; the start is the end
    minus the smallest step)."""
    if frame is None or not len(frame):
        return {}
    local = pd.DatetimeIndex(frame.index).tz_convert(tz)
    step = pd.Timedelta(np.diff(frame.index.asi8).min()) if len(frame) > 1 else pd.Timedelta(minutes=1)
    days = (local - step).tz_localize(None).normalize()
    return {pd.Timestamp(d): g for d, g in frame.groupby(days, sort=True)}


def _prev_close(daily: pd.DataFrame | None, intraday_days: dict[pd.Timestamp, pd.DataFrame],
                d: pd.Timestamp) -> float | None:
    """The last close before local date ``d``: from daily bars, else the last intraday bar of an earlier day."""
    if daily is not None and len(daily):
        before = daily.loc[daily.index < d, "close"].dropna()
        if len(before):
            return float(before.iloc[-1])
    earlier = [k for k in intraday_days if k < d]
    if earlier:
        return float(intraday_days[max(earlier)]["close"].iloc[-1])
    return None


def _local_time(instant: int, tz: str) -> str:
    return pd.Timestamp(int(instant), tz="UTC").tz_convert(tz).strftime("%H:%M:%S")


def market_days(inputs: MarketInputs, dates: pd.DatetimeIndex, bounds: Bounds) -> DayStates:
    """The market-wide state of each session in ``dates`` (see the module docstring).

    Parameters
    ----------
    inputs
        The index's bars and the recorded halts.
    dates
        Local session dates (sorted, sessions of ``inputs.market``).
    bounds
        Open and close (UTC ns) of those sessions (:func:`session_dates`).
    """
    market, index = inputs.market, inputs.index
    tz = get_market(market).tz
    intraday = _by_day(inputs.intraday, tz)
    rec = inputs.recorded if inputs.recorded is not None else pd.DataFrame(
        columns=["date", "level", "instant", "approximate"])
    rec = rec[rec["date"].isin(dates)] if len(rec) else rec
    by_date = {pd.Timestamp(d): g for d, g in rec.groupby("date")} if len(rec) and market == "XKRX" else {}
    out = DayStates({}, {}, dates=dates)
    for d in sorted(set(intraday) | set(by_date)):
        if d not in bounds:
            continue
        bars = intraday.get(d)
        prev = _prev_close(inputs.daily, intraday, d) if bars is not None else None
        if bars is not None and prev is not None:
            tl = (krx_market_state(bars, prev, d, index) if market == "XKRX" else us_market_state(bars, prev, d))
            out.notices += compare_bars(tl, as_bars(bars, where=index), where=index)
            if market == "XKRX":
                out.notices += compare_halts(tl, rec, d, where=index)
            out.days[d], out.derived[d] = tl, "intraday"
            continue
        tl, notes = _recorded_day(d, by_date.get(d), index, tz)
        out.notices += notes
        if tl is not None:
            out.days[d], out.derived[d] = tl, "catalogue"
    daily_only = dates[~dates.isin([d for d, v in out.derived.items() if v == "intraday"])]
    if market == "XKRX" and inputs.daily is not None and len(daily_only) and krx_cb_regime(daily_only[0], index):
        out.notices += _daily_checks(inputs.daily, daily_only, rec, index)
    out.base = replace_days(schedule_timeline(market, dates, bounds), out.days) if len(dates) else None
    return out


def _recorded_day(d: pd.Timestamp, rows: pd.DataFrame | None, index: str, tz: str
                  ) -> tuple[Timeline | None, list[Notice]]:
    """The session ``d`` with the catalogue's timed halts (None: none can be placed), and notices."""
    if rows is None or not len(rows):
        return None, []
    notes: list[Notice] = []
    timed = rows[np.isfinite(rows["instant"].to_numpy(dtype=float))]
    if not len(timed):
        notes.append(Notice("halt_time_unknown", f"{d.date()}: the catalogue records a {index} halt without a "
                            "time; the state cannot place it (the session keeps its schedule)", symbol=index))
    tl = None
    for _, r in timed.sort_values("instant").iterrows():
        try:
            one = krx_halt_from_catalogue(d, _local_time(int(r["instant"]), tz), int(r["level"]), index)
        except Exception as exc:  # noqa: BLE001 - a record the rules cannot place is a notice, not a crash
            notes.append(Notice("halt_not_derived", f"{d.date()}: the catalogue's level-{int(r['level'])} halt "
                                f"cannot be placed under the rules in force ({exc})", symbol=index))
            continue
        tl = one if tl is None else replace(overlay(tl, one), symbol=None, derived_from="catalogue")
    return tl, notes


def schedule_timeline(market: str, dates: pd.DatetimeIndex, bounds: Bounds) -> Timeline:
    """Every session of ``dates`` with its scheduled call auctions, joined (``CLOSED`` between), built
    in one pass: the same segments as joining :func:`~backtests.exchange.schedule.session_day` of
    each date."""
    i = bounds.dates.get_indexer(dates)
    o, c = bounds.opens[i], bounds.closes[i]
    oa, ca = _auction_lengths(market, pd.DatetimeIndex(dates))
    n = len(dates)
    # per day: [o - oa, o) opening call, [o, c - ca) continuous, [c - ca, c) closing call, then closed
    starts = np.stack([o - oa, o, c - ca, c], axis=1)
    codes = np.tile(np.array([State.CALL_OPEN, State.CONTINUOUS, State.CLOSING_AUCTION, State.CLOSED], np.int8), (n, 1))
    unc = np.stack([o, np.full(n, NAT), c, np.full(n, NAT)], axis=1)
    ends = np.concatenate([starts.ravel()[1:], [c[-1]]]) if n else np.zeros(0, np.int64)
    keep = (ends > starts.ravel())
    keep[-1] = False  # the last day's closed tail
    edges = np.append(starts.ravel()[keep], c[-1]) if n else np.zeros(1, np.int64)
    return make_timeline(market, edges, codes.ravel()[keep], unc.ravel()[keep], derived_from="schedule")


def _auction_lengths(market: str, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Opening and closing call-auction lengths (ns) of each date, from the session regimes in force
    (:func:`~backtests.exchange.schedule.session_regime`, read once per regime, not per date)."""
    oa, ca = np.zeros(len(dates), dtype=np.int64), np.zeros(len(dates), dtype=np.int64)
    if not len(dates):
        return oa, ca
    days = dates.normalize()
    # the regimes in force over the span change only at their effective dates
    for d in pd.DatetimeIndex(sorted({days[0], *[x for x in _regime_edges(market) if days[0] < x <= days[-1]]})):
        reg = session_regime(market, d)
        if reg is None:
            continue
        m = days >= d
        oa[m], ca[m] = reg.opening_auction, reg.closing_auction
    return oa, ca


def _regime_edges(market: str) -> list[pd.Timestamp]:
    """Dates at which a session regime of ``market`` starts or ends (the day after its last)."""
    from backtests.exchange.rules import KRX_SESSIONS, US_SESSIONS

    regs = KRX_SESSIONS if market == "XKRX" else US_SESSIONS if market == "XNYS" else ()
    out = []
    for r in regs:
        if r.effective_from:
            out.append(pd.Timestamp(r.effective_from))
        if r.effective_to:
            out.append(pd.Timestamp(r.effective_to) + pd.Timedelta(days=1))
    return out


def replace_days(base: Timeline, days: dict[pd.Timestamp, Timeline]) -> Timeline:
    """``base`` with the span of each timeline of ``days`` replaced by it (each covers one session)."""
    if not days:
        return base
    e0, e1 = base.edges[:-1], base.edges[1:]
    keep = np.ones(len(base.codes), dtype=bool)
    parts = []
    for tl in days.values():
        keep &= ~((e0 >= tl.start) & (e1 <= tl.end))
        parts.append((tl.edges[:-1], tl.edges[1:], tl.codes, tl.locks, tl.uncross))
    parts.append((e0[keep], e1[keep], base.codes[keep], base.locks[keep], base.uncross[keep]))
    s0 = np.concatenate([p[0] for p in parts])
    order = np.argsort(s0, kind="stable")
    s1 = np.concatenate([p[1] for p in parts])[order]
    s0 = s0[order]
    if np.any(s1[:-1] != s0[1:]):
        raise ValueError("internal: replaced days do not tile the base timeline")
    cat = lambda i: np.concatenate([p[i] for p in parts])[order]  # noqa: E731
    events = tuple(dict.fromkeys(base.events + sum((tl.events for tl in days.values()), ())))  # overlays repeat them
    derived = "+".join(sorted({base.derived_from, *(tl.derived_from for tl in days.values())}))
    return make_timeline(base.market, np.append(s0, s1[-1]), cat(2), cat(4), cat(3), events, derived, base.symbol)


def _daily_checks(daily: pd.DataFrame, days: pd.DatetimeIndex, rec: pd.DataFrame, index: str) -> list[Notice]:
    """``compare_daily_halts`` on the days without intraday bars that have a low and a previous close."""
    close = daily["close"].astype(float)
    prev = close.shift(1)
    low = daily["low"].astype(float) if "low" in daily else close
    keep = daily.index.isin(days) & np.isfinite(prev.to_numpy()) & np.isfinite(low.to_numpy())
    if not keep.any():
        return []
    return compare_daily_halts(pd.DatetimeIndex(daily.index[keep]), prev.to_numpy()[keep], low.to_numpy()[keep],
                               rec, index=index)


def symbol_days(inputs: SymbolInputs, mdays: DayStates) -> tuple[Timeline, list[Notice], str]:
    """The symbol's own state overlaid on its market's, over the sessions of ``mdays``.

    Returns
    -------
    (timeline, notices, derived_from)
        The symbol's effective timeline, the notices of its checks, and the sources used
        (``+``-joined: ``intraday``, ``daily``, ``catalogue``, ``schedule``).
    """
    tz = get_market(inputs.market).tz
    sym = inputs.symbol
    intraday = _by_day(inputs.intraday, tz)
    locked = _locked_daily(inputs, mdays.dates) if inputs.market == "XKRX" else {}
    own_days: dict[pd.Timestamp, Timeline] = {}
    notices: list[Notice] = []
    used = mdays.sources
    for d in sorted(d for d in set(intraday) | set(locked) if d in mdays.dates):
        own: Timeline | None = None
        bars = intraday.get(d)
        base = _prev_close(inputs.daily, intraday, d) if bars is not None else None
        limits: tuple[float, float] | None = None
        if bars is not None and base is not None:
            if inputs.market == "XKRX":
                own = krx_symbol_state(bars, base, d, sym, vi_class(sym, d, inputs.members), inputs.leverage)
                lo, hi = krx_price_limits(base, d, inputs.leverage)
                limits = (float(lo), float(hi))
            elif inputs.market == "XNYS":
                own = luld_state(bars, base, d, luld_tier(sym), sym)
            used.add("intraday")
        elif d in locked:
            own = locked[d]
            used.add("daily")
        if own is not None:
            market_day = mdays.days.get(d) or _day_of(mdays.base, own)
            own_days[d] = suspend_cut_auctions(overlay(market_day, own))
            if limits is not None:  # the symbol's bars against its effective state (a market halt is a gap too)
                notices += compare_bars(own_days[d], as_bars(bars, where=sym), *limits, where=sym)
    tl = replace(replace_days(mdays.base, own_days), symbol=sym) if mdays.base is not None else None
    return tl, notices, "+".join(sorted(used))


def _day_of(tl: Timeline, like: Timeline) -> Timeline:
    """The part of ``tl`` covering ``like``'s span (one session)."""
    i, k = int(np.searchsorted(tl.edges, like.start)), int(np.searchsorted(tl.edges, like.end))
    return Timeline(tl.market, tl.edges[i:k + 1], tl.codes[i:k], tl.locks[i:k], tl.uncross[i:k],
                    derived_from=tl.derived_from)


def suspend_cut_auctions(tl: Timeline) -> Timeline:
    """A call auction cut short by a more restrictive state cannot print: its orders wait.

    :func:`~backtests.exchange.states.overlay` keeps a symbol's auction where the market's state is
    less restrictive; when a market halt (or a pause) starts inside a volatility-interruption
    auction, the piece before the halt keeps an uncross that falls inside the halt. No print happens
    then: the orders of that piece join the halt and fill at the next print (the reopening auction).
    Here each such piece takes the state of the segment that cut it (``HALTED`` / ``PAUSED``).
    """
    cut = np.flatnonzero(np.isin(tl.codes[:-1], np.asarray(AUCTIONS, dtype=np.int8))
                         & (tl.uncross[:-1] > tl.edges[1:-1])
                         & np.isin(tl.codes[1:], (State.HALTED, State.PAUSED)))
    if not len(cut):
        return tl
    codes, unc = tl.codes.copy(), tl.uncross.copy()
    codes[cut], unc[cut] = codes[cut + 1], NAT
    return make_timeline(tl.market, tl.edges, codes, unc, tl.locks, tl.events, tl.derived_from, tl.symbol)


def _locked_daily(inputs: SymbolInputs, dates: pd.DatetimeIndex) -> dict[pd.Timestamp, Timeline]:
    """KRX daily bars at the limit (close or whole day), by date: only the flagged days are built."""
    daily = inputs.daily
    if daily is None or not len(daily) or not len(dates):
        return {}
    close = daily["close"].astype(float)
    base = close.shift(1)
    want = daily.index.isin(dates) & np.isfinite(base.to_numpy()) & np.isfinite(close.to_numpy())
    want &= daily.index >= pd.Timestamp("1995-04-01")  # percentage limits start then
    if not want.any():
        return {}
    idx = pd.DatetimeIndex(daily.index[want])
    lim = np.array([krx_price_limit(d, inputs.leverage) for d in idx])
    ret = close.to_numpy()[want] / base.to_numpy()[want] - 1.0
    hit = np.abs(np.abs(ret) - lim) <= 1e-3
    if not hit.any():
        return {}
    high = daily["high"].astype(float).to_numpy()[want] if "high" in daily else np.full(want.sum(), np.nan)
    low = daily["low"].astype(float).to_numpy()[want] if "low" in daily else np.full(want.sum(), np.nan)
    tls = krx_daily_symbol_state(idx[hit], base.to_numpy()[want][hit], high[hit], low[hit],
                                 close.to_numpy()[want][hit], inputs.symbol, inputs.leverage)
    return dict(zip(idx[hit], tls))


def session_dates(market: str, spans: Iterable[tuple[pd.Timestamp, pd.Timestamp]]) -> tuple[pd.DatetimeIndex, Bounds]:
    """The market's sessions touching any of the UTC ``spans`` (local dates), with their bounds."""
    tz = get_market(market).tz
    frames = []
    for lo, hi in spans:
        a = pd.Timestamp(lo).tz_convert(tz).tz_localize(None).normalize() - pd.Timedelta(days=1)
        b = pd.Timestamp(hi).tz_convert(tz).tz_localize(None).normalize() + pd.Timedelta(days=1)
        frames.append(sessions(market, a, b))
    if not frames:
        empty = pd.DatetimeIndex([])
        return empty, Bounds(empty, np.zeros(0, np.int64), np.zeros(0, np.int64))
    sched = pd.concat(frames)
    sched = sched[~sched.index.duplicated()].sort_index()
    opens = pd.DatetimeIndex(sched["open"]).as_unit("ns").asi8
    closes = pd.DatetimeIndex(sched["close"]).as_unit("ns").asi8
    idx = pd.DatetimeIndex(sched.index)
    return idx, Bounds(idx, opens, closes)


def print_prices(tl: Timeline, intraday: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the instant and the price of the print an order waiting there gets, when only
    intraday bars can show it.

    For the call auctions inside a session (reopening after a halt or pause, volatility
    interruptions) the print is at the auction's uncross; for continuous trading that resumes
    right after a halt or pause (the US reopening cross) it is at the segment's start. The price
    is the open of the first intraday bar starting at or after that instant in the same session
    (the first print after it). NaN where the bars do not show it (no intraday bars that day), and
    for every other segment (the opening and closing prints are the daily bars' open and close).

    Returns
    -------
    (instants, prices)
        int64 ns (NAT where none) and float64 in the symbol's currency, one per segment.
    """
    n = len(tl.codes)
    when = np.full(n, NAT, dtype=np.int64)
    prev_stop = np.concatenate([[False], np.isin(tl.codes[:-1], (State.HALTED, State.PAUSED))])
    auction = np.isin(tl.codes, np.asarray(INTRADAY_PRINTS, dtype=np.int8))
    when[auction] = tl.uncross[auction]
    resume = (tl.codes == State.CONTINUOUS) & prev_stop
    when[resume] = tl.edges[:-1][resume]
    price = np.full(n, np.nan)
    has = when != NAT
    if intraday is None or not len(intraday) or not has.any():
        return when, price
    bars = as_bars(intraday)
    # the next CLOSED edge after each print bounds its session
    closed_at = np.where(tl.codes == State.CLOSED, tl.edges[:-1], np.iinfo(np.int64).max)
    session_end = np.minimum.accumulate(np.append(closed_at, tl.edges[-1])[::-1])[::-1][1:]
    i = np.searchsorted(bars.starts, when[has], side="left")
    ok = i < len(bars)
    k = np.minimum(i, len(bars) - 1)
    ok &= bars.starts[k] < session_end[has]
    price[np.flatnonzero(has)[ok]] = bars.open[k[ok]]
    return when, price


def _any_ban(symbol: str, market: str, first: pd.Timestamp, last: pd.Timestamp,
             overrides: tuple[BorrowOverride, ...]) -> bool:
    """Whether any ban of ``market`` or override of ``symbol`` overlaps ``first..last`` (local dates)."""
    from backtests.exchange.short_sale import SHORT_SALE_BANS

    for b in SHORT_SALE_BANS:
        lo = pd.Timestamp(b.effective_from) if b.effective_from else pd.Timestamp.min
        hi = pd.Timestamp(b.effective_to) if b.effective_to else pd.Timestamp.max
        if b.market == market and lo <= last and hi >= first:
            return True
    return any(o.symbol == symbol and o.market == market and not o.available for o in overrides)


def short_sale_intervals(symbol: str, market: str, first: pd.Timestamp, last: pd.Timestamp, *,
                         members: Mapping[str, Iterable[str]] | None = None, financial: bool = False,
                         overrides: tuple[BorrowOverride, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether a new short sale of ``symbol`` was allowed, as intervals of local calendar days.

    Parameters
    ----------
    first, last
        Local dates (inclusive) to cover.
    members, financial, overrides
        The study's index membership, whether the symbol is a financial company, and its borrow
        overrides (:func:`~backtests.exchange.short_sale.short_sale_allowed`).

    Returns
    -------
    (starts, allowed, reason)
        ``starts`` int64 UTC ns of the local midnight opening each interval (sorted; an interval
        runs to the next start, the last one on: callers query inside ``first..last`` only);
        ``allowed`` bool; ``reason`` the ban or override id (``""`` where allowed).
    """
    tz = get_market(market).tz
    days = pd.date_range(pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize(), freq="D")
    if not len(days):
        return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, object)
    if not _any_ban(symbol, market, days[0], days[-1], overrides):
        start = days[:1].tz_localize(tz).tz_convert("UTC").as_unit("ns").asi8
        return start, np.ones(1, dtype=bool), np.array([""], dtype=object)
    midnights = days.tz_localize(tz).tz_convert("UTC").as_unit("ns").asi8
    ans = short_sale_allowed(symbol, market, midnights,
                             index_membership=membership(symbol, days.as_unit("ns").asi8, members),
                             financial=financial, overrides=overrides)
    change = np.ones(len(days), dtype=bool)
    change[1:] = ans.reason[1:] != ans.reason[:-1]
    return midnights[change].astype(np.int64), ans.allowed[change], ans.reason[change]
