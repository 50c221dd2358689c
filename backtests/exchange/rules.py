"""The exchange rules as data: one frozen object per market regime, with its effective dates and source.

Every number the state model uses lives here, once. A regime applies to the local session dates
``effective_from <= date <= effective_to`` (``effective_to=None``: still in force). History before a
rule change is evaluated under the older regime (e.g. the single -10% KOSPI circuit breaker before
2015-06-15). docs/exchange.md lists each regime with its source page and the date it took effect.

Conventions: declines and limits are fractions (``0.08`` = 8%); durations are ``numpy.timedelta64``
in seconds; clock cut-offs are measured back from the day's *actual* session close (so an exam day
closing at 16:30 KST moves the 40-minute circuit-breaker cut-off to 15:50).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.errors import DataError

#: ``numpy.timedelta64`` in nanoseconds, the unit of every instant in this package.
NS = np.int64(1_000_000_000)


def seconds(n: float) -> int:
    """``n`` seconds as int64 nanoseconds."""
    return int(round(n * 1e9))


def minutes(n: float) -> int:
    """``n`` minutes as int64 nanoseconds."""
    return seconds(60 * n)


@dataclass(frozen=True)
class Regime:
    """Base of every rule regime: an id, the dates it is in force, and where it is written.

    Attributes
    ----------
    id
        Stable name, e.g. ``"krx_cb_2015"``; events record which regime produced them.
    effective_from, effective_to
        First and last local session date (ISO ``YYYY-MM-DD``) the regime governs; ``None`` = open
        (for ``effective_from``: the start date was not found in a source, and the regime is applied
        to all modelled history before ``effective_to``; docs/exchange.md says so per regime).
    source
        The page(s) the numbers come from (docs/exchange.md has the full table).
    """

    id: str
    effective_from: str | None
    effective_to: str | None
    source: str

    def covers(self, date: pd.Timestamp | str) -> bool:
        d = pd.Timestamp(date).normalize()
        lo = pd.Timestamp(self.effective_from) if self.effective_from else pd.Timestamp.min
        hi = pd.Timestamp(self.effective_to) if self.effective_to else pd.Timestamp.max
        return bool(lo <= d <= hi)


@dataclass(frozen=True)
class CircuitBreakerLevel:
    """One level of a market-wide circuit breaker.

    Attributes
    ----------
    level
        1, 2 or 3.
    decline
        Fall from the previous close that arms the level (fraction, ``0.08`` = -8%).
    extra_below_previous
        KRX levels 2-3: the index must also be this fraction below the index value at which the
        previous level fired (``0.01``); ``0`` where the rule has no such condition.
    halt
        Length of the trading halt (ns); ``None`` = trading ends for the day.
    reopen_auction
        Length of the single-price call auction that reopens trading (ns); ``0`` = the reopening
        print is at the end of the halt (US primary-market reopening cross).
    cutoff_before_close
        The level can fire only at or before ``session close - cutoff`` (ns); ``None`` = any time
        until the end of continuous trading.
    """

    level: int
    decline: float
    extra_below_previous: float
    halt: int | None
    reopen_auction: int
    cutoff_before_close: int | None


@dataclass(frozen=True)
class CircuitBreakerRegime(Regime):
    """A market-wide circuit breaker: levels, persistence and the session-end exclusion.

    Attributes
    ----------
    market
        Exchange calendar code (``XKRX``, ``XNYS``).
    index
        The index the rule watches (``KOSPI``, ``KOSDAQ``, ``S&P 500``, ``DJIA``).
    levels
        The levels in firing order.
    persistence
        How long the decline must last before the level fires (ns); ``0`` = on the decline.
    needs_previous_level
        Levels after the first fire only after the previous level fired (KRX: "after phase 1 ...
        and resumption thereafter").
    continuous_end_before_close
        Continuous trading (and thus any level) ends this long before the close (KRX closing call
        auction, 10 minutes); ``0`` for markets without a closing call period in the model.
    """

    market: str
    index: str
    levels: tuple[CircuitBreakerLevel, ...]
    persistence: int
    needs_previous_level: bool
    continuous_end_before_close: int


@dataclass(frozen=True)
class PriceLimitRegime(Regime):
    """Daily price limits around the base price (the previous close).

    Attributes
    ----------
    limit
        Maximum move from the base price, as a fraction (``0.30``); leveraged ETFs multiply it by
        their leverage (2x: ``0.60``).
    """

    market: str
    limit: float


@dataclass(frozen=True)
class ViRegime(Regime):
    """KRX volatility interruptions (single stocks): a 2-minute call auction when a trade would print
    too far from its reference.

    Attributes
    ----------
    static
        Static VI trigger: move from the reference (the base price before the open, then the price
        of the last single-price auction) as a fraction; ``None`` before static VI existed.
    dynamic_continuous, dynamic_closing
        Dynamic VI trigger vs the last trade, per VI class (``kospi200`` / ``other``), in the
        continuous session and in the closing call auction.
    auction
        Length of the VI call auction (ns).
    random_end
        The VI auction may end up to this long after ``auction`` (random end, ns).
    """

    static: float | None
    dynamic_continuous: tuple[tuple[str, float], ...]
    dynamic_closing: tuple[tuple[str, float], ...]
    auction: int
    random_end: int

    def dynamic_rate(self, vi_class: str, closing: bool = False) -> float:
        table = dict(self.dynamic_closing if closing else self.dynamic_continuous)
        if vi_class not in table:
            raise DataError(f"unknown VI class {vi_class!r} (known: {', '.join(sorted(table))})")
        return table[vi_class]


@dataclass(frozen=True)
class SidecarRegime(Regime):
    """KRX sidecar: program-trading orders paused for a while when index futures move sharply.

    Attributes
    ----------
    futures_move
        Move of the index futures from their base price (fraction) that arms the sidecar.
    index_move
        KOSDAQ only: the KOSDAQ 150 index must also have moved this much (fraction); ``None`` = no
        such condition.
    persistence
        The move must last this long (ns).
    pause
        Length of the program-trading pause (ns). Other orders are not affected.
    no_trigger_after_open, cutoff_before_close
        Not in the first ``no_trigger_after_open`` of the session, nor after ``close - cutoff`` (ns).
    """

    market: str
    futures: str
    futures_move: float
    index_move: float | None
    persistence: int
    pause: int
    no_trigger_after_open: int
    cutoff_before_close: int


@dataclass(frozen=True)
class SessionRegime(Regime):
    """Call auctions around the continuous session.

    Attributes
    ----------
    opening_auction
        Order collection before the open; the opening price is set at the open (ns, ``0`` = the
        opening cross is an instant at the open).
    closing_auction
        The closing single-price call auction: the last ``closing_auction`` of the session (ns),
        uncrossed at the close; ``0`` = continuous trading until the close.
    """

    market: str
    opening_auction: int
    closing_auction: int


@dataclass(frozen=True)
class LuldRegime(Regime):
    """US Limit Up-Limit Down bands for single stocks (the NMS Plan to Address Extraordinary Market
    Volatility).

    Attributes
    ----------
    tier1, tier2
        Band percentages by previous-close bracket: ``(above_3, from_075_to_3, below_075)``; the
        last is the lesser of ``below_075_abs`` dollars and this fraction.
    below_075_abs
        Dollar floor of the band for stocks closing below $0.75 (``0.15``).
    bands_from, bands_to
        Minutes after the open at which bands start and minutes before the close at which they
        stop (Phase I: 15 and 30).
    double_open, double_close
        Minutes after the open / before the close during which bands are doubled.
    double_close_tier2_above_3
        Whether Tier 2 stocks above $3.00 also get doubled bands before the close.
    limit_state, pause
        How long a limit state may last before a trading pause, and the pause length (ns).
    reference_window, reference_min_move
        The reference price is the mean price of the last ``reference_window`` (ns), and is only
        updated when it moves at least ``reference_min_move`` (fraction).
    """

    tier1: tuple[float, float, float]
    tier2: tuple[float, float, float]
    below_075_abs: float
    bands_from: int
    bands_to: int
    double_open: int
    double_close: int
    double_close_tier2_above_3: bool
    limit_state: int
    pause: int
    reference_window: int
    reference_min_move: float


@dataclass(frozen=True)
class ShortSaleBan(Regime):
    """A dated short-sale ban.

    Attributes
    ----------
    market
        ``XKRX`` or ``XNYS``.
    scope
        ``all`` (every listed stock), ``financials`` (stocks flagged financial), or
        ``all_but_index`` (every stock except constituents of ``exempt_indices``).
    exempt_indices
        Index memberships that lift the ban (``KOSPI200``, ``KOSDAQ150``).
    """

    market: str
    scope: str
    exempt_indices: tuple[str, ...] = ()


_KRX_CB_PAGE = ("KRX global site, 'Circuit Breakers in stock market' (global.krx.co.kr GLB0602010204T2) "
                "and KOSDAQ 'Circuit Breakers' (GLB0602020204T2)")

KRX_CB: tuple[CircuitBreakerRegime, ...] = (
    CircuitBreakerRegime(
        id="krx_cb_1998", effective_from=None, effective_to="2015-06-12",
        source="single -10% level held 1 minute, 20-minute halt then 10-minute call auction: "
               "mbn.co.kr news 248546 (KOSDAQ CB 2007-08-16: halt 13:20, orders 13:40-13:50, trading 13:50); "
               "etoday.co.kr 190662 (2008-10-23, threshold -10% for 1 minute). Introduced December 1998 "
               "(mediapen.com 117264 history); the day was not found, so the regime covers all history "
               "before 2015-06-15",
        market="XKRX", index="KOSPI",
        levels=(CircuitBreakerLevel(1, 0.10, 0.0, minutes(20), minutes(10), minutes(40)),),
        persistence=seconds(60), needs_previous_level=True, continuous_end_before_close=minutes(10)),
    CircuitBreakerRegime(
        id="krx_cb_2015", effective_from="2015-06-15", effective_to=None,
        source=_KRX_CB_PAGE + "; levels 1-2 cut-off 40 minutes before the close and level 3 until the "
               "closing auction: hankyung (wowtv.co.kr X20160728181845, 2016-07-28)",
        market="XKRX", index="KOSPI",
        levels=(CircuitBreakerLevel(1, 0.08, 0.0, minutes(20), minutes(10), minutes(40)),
                CircuitBreakerLevel(2, 0.15, 0.01, minutes(20), minutes(10), minutes(40)),
                CircuitBreakerLevel(3, 0.20, 0.01, None, 0, None)),
        persistence=seconds(60), needs_previous_level=True, continuous_end_before_close=minutes(10)),
)

KOSDAQ_CB: tuple[CircuitBreakerRegime, ...] = tuple(
    CircuitBreakerRegime(
        id=r.id.replace("krx", "kosdaq"),
        effective_from="2001-10-15" if r.id == "krx_cb_1998" else r.effective_from,
        effective_to=r.effective_to, source=r.source + "; KOSDAQ CB introduced 2001-10-15 (mediapen.com 117264)",
        market="XKRX", index="KOSDAQ", levels=r.levels, persistence=r.persistence,
        needs_previous_level=r.needs_previous_level, continuous_end_before_close=r.continuous_end_before_close)
    for r in KRX_CB)

_NYSE_80B = ("NYSE 'Circuit Breakers' page (usequities.nyx.com/markets/nyse-equities/circuit-breakers): "
             "amended Rule 80B effective 2013-04-08; Nasdaq Equity Technical Update 2013-13")

US_MWCB: tuple[CircuitBreakerRegime, ...] = (
    CircuitBreakerRegime(
        id="us_mwcb_2013", effective_from="2013-04-08", effective_to=None,
        source=_NYSE_80B + "; now NYSE Rule 7.12 / Nasdaq Rule 4121 (same levels)",
        market="XNYS", index="S&P 500",
        levels=(CircuitBreakerLevel(1, 0.07, 0.0, minutes(15), 0, minutes(35)),
                CircuitBreakerLevel(2, 0.13, 0.0, minutes(15), 0, minutes(35)),
                CircuitBreakerLevel(3, 0.20, 0.0, None, 0, None)),
        persistence=0, needs_previous_level=False, continuous_end_before_close=0),
)

#: The 1998-2013 NYSE Rule 80B (DJIA 10/20/30%, quarterly point triggers, halt length by time of day)
#: is documented in docs/exchange.md but not modelled: its triggers were DJIA points fixed each quarter.
US_MWCB_FIRST_DATE = "2013-04-08"

_KRX_LIMIT_PAGE = "KRX global site, 'Daily price limit' (global.krx.co.kr GLB0602010201T5)"

KRX_PRICE_LIMITS: tuple[PriceLimitRegime, ...] = (
    PriceLimitRegime("krx_limit_1995", "1995-04-01", "1996-11-23", _KRX_LIMIT_PAGE, "XKRX", 0.06),
    PriceLimitRegime("krx_limit_1996", "1996-11-24", "1998-03-01", _KRX_LIMIT_PAGE, "XKRX", 0.08),
    PriceLimitRegime("krx_limit_1998a", "1998-03-02", "1998-12-06", _KRX_LIMIT_PAGE, "XKRX", 0.12),
    PriceLimitRegime("krx_limit_1998", "1998-12-07", "2015-06-14", _KRX_LIMIT_PAGE, "XKRX", 0.15),
    PriceLimitRegime("krx_limit_2015", "2015-06-15", None,
                     _KRX_LIMIT_PAGE + "; Korea Herald 2015-06-16 'Eased limits on stock price changes'",
                     "XKRX", 0.30),
)

_KRX_VI_PAGE = "KRX global site, 'Volatility Interruption' (global.krx.co.kr GLB0602010204T9 and GLB0602020204T7)"

KRX_VI: tuple[ViRegime, ...] = (
    ViRegime("krx_vi_2014", "2014-09-01", "2015-06-14",
             "dynamic VI from 2014-09-01 (Naver encyclopedia entry 'VI', naver.me/FR7R3vtH; daum cafe post); "
             "rates as on " + _KRX_VI_PAGE,
             static=None,
             dynamic_continuous=(("kospi200", 0.03), ("other", 0.06)),
             dynamic_closing=(("kospi200", 0.02), ("other", 0.04)),
             auction=minutes(2), random_end=seconds(30)),
    ViRegime("krx_vi_2015", "2015-06-15", None,
             _KRX_VI_PAGE + "; static VI introduced with the +-30% limits on 2015-06-15 (naver.me/FR7R3vtH); "
             "random end up to 30 s (naver.me/FR7R3vtH, infostockdaily.co.kr 141497)",
             static=0.10,
             dynamic_continuous=(("kospi200", 0.03), ("other", 0.06)),
             dynamic_closing=(("kospi200", 0.02), ("other", 0.04)),
             auction=minutes(2), random_end=seconds(30)),
)

KRX_SIDECAR: tuple[SidecarRegime, ...] = (
    SidecarRegime("krx_sidecar_kospi", None, None,
                  "KBS World 2024-07-26 (Seq_Code 187129) and 2026-01-30 (199261): KOSPI 200 futures +-5% "
                  "held 1 minute, program orders paused 5 minutes; once a day, not in the first 5 minutes "
                  "nor the last 40 (asiae.co.kr 2025041009322571418; cut-off 14:50 since 2016-08-01, "
                  "wowtv.co.kr X20160728181845). Start date not found in the pages read: applied to all "
                  "modelled history",
                  market="XKRX", futures="KOSPI200 futures", futures_move=0.05, index_move=None,
                  persistence=seconds(60), pause=minutes(5), no_trigger_after_open=minutes(5),
                  cutoff_before_close=minutes(40)),
    SidecarRegime("krx_sidecar_kosdaq", None, None,
                  "asiae.co.kr 2026012610321775119 and KBS World 2026-01-23 (199081): KOSDAQ 150 futures "
                  "+-6% and the KOSDAQ 150 index +-3%, both held 1 minute; program orders paused 5 minutes",
                  market="XKRX", futures="KOSDAQ150 futures", futures_move=0.06, index_move=0.03,
                  persistence=seconds(60), pause=minutes(5), no_trigger_after_open=minutes(5),
                  cutoff_before_close=minutes(40)),
)

KRX_SESSIONS: tuple[SessionRegime, ...] = (
    SessionRegime("krx_session", None, None,
                  "opening call 08:30-09:00 (KRX 'Introduction to trading at KRX stock markets', 2011, "
                  "docslib.org 8060431); closing call the last 10 minutes: 14:50-15:00 until 2016-07-29, "
                  "15:20-15:30 from 2016-08-01 (KRX VI page: 'Closing Auction (15:20~15:30)'; "
                  "wowtv.co.kr X20160728181845); the session times themselves come from the calendar. "
                  "Start date of this layout not found: applied to all modelled history",
                  market="XKRX", opening_auction=minutes(30), closing_auction=minutes(10)),
)

US_SESSIONS: tuple[SessionRegime, ...] = (
    SessionRegime("nyse_session", None, None,
                  "NYSE opening and closing auctions are crosses at 09:30 and at the close; continuous "
                  "trading in between (the LULD plan's regular trading hours 9:30-4:00 ET, luldplan.com)",
                  market="XNYS", opening_auction=0, closing_auction=0),
)

_LULD_PAGE = "luldplan.com (plan overview; approved 2012-05-31, permanent 2019-04-11)"

US_LULD: tuple[LuldRegime, ...] = (
    LuldRegime("luld_phase1", "2013-04-08", "2013-08-04",
               _LULD_PAGE + "; Phase I from 2013-04-08 for Tier 1 (Nasdaq Equity Technical Update 2013-13), "
               "bands 9:45 a.m. to 3:30 p.m. (plan Phase I hours)",
               tier1=(0.05, 0.20, 0.75), tier2=(0.10, 0.20, 0.75), below_075_abs=0.15,
               bands_from=minutes(15), bands_to=minutes(30), double_open=0, double_close=0,
               double_close_tier2_above_3=False, limit_state=seconds(15), pause=minutes(5),
               reference_window=minutes(5), reference_min_move=0.01),
    LuldRegime("luld_phase2a", "2013-08-05", "2014-02-23",
               _LULD_PAGE + "; Phase II(A) bands 9:30 to 3:45 p.m. (Nasdaq Equity Regulatory Alert 2013-9, "
               "Equity Trader Alert 2013-111)",
               tier1=(0.05, 0.20, 0.75), tier2=(0.10, 0.20, 0.75), below_075_abs=0.15,
               bands_from=0, bands_to=minutes(15), double_open=minutes(15), double_close=minutes(25),
               double_close_tier2_above_3=True, limit_state=seconds(15), pause=minutes(5),
               reference_window=minutes(5), reference_min_move=0.01),
    LuldRegime("luld_2014", "2014-02-24", "2019-04-10",
               _LULD_PAGE + "; Phase II(B) full day 9:30-4:00 from 2014-02-24 (Nasdaq Equity Trader "
               "Alert 2014-17); doubled bands 9:30-9:45 and 3:35-4:00",
               tier1=(0.05, 0.20, 0.75), tier2=(0.10, 0.20, 0.75), below_075_abs=0.15,
               bands_from=0, bands_to=0, double_open=minutes(15), double_close=minutes(25),
               double_close_tier2_above_3=True, limit_state=seconds(15), pause=minutes(5),
               reference_window=minutes(5), reference_min_move=0.01),
    LuldRegime("luld_2019", "2019-04-11", None,
               _LULD_PAGE + "; doubled bands in the last 25 minutes only for Tier 1 and Tier 2 at or below "
               "$3.00 (Eighteenth Amendment, Federal Register 2018-12-26; secondary: broker text quoted "
               "on 360990.zyfc.asia). Start = the SEC approval date of the amendment; the operative date "
               "of this change was not found in the pages read",
               tier1=(0.05, 0.20, 0.75), tier2=(0.10, 0.20, 0.75), below_075_abs=0.15,
               bands_from=0, bands_to=0, double_open=minutes(15), double_close=minutes(25),
               double_close_tier2_above_3=False, limit_state=seconds(15), pause=minutes(5),
               reference_window=minutes(5), reference_min_move=0.01),
)


def regime_for(regimes: tuple[Regime, ...], date: pd.Timestamp | str, what: str) -> Regime | None:
    """The regime of ``regimes`` in force on local session ``date`` (``None`` before the first).

    Raises
    ------
    DataError
        If two regimes claim the date (a broken table).
    """
    hits = [r for r in regimes if r.covers(date)]
    if len(hits) > 1:
        raise DataError(f"{what}: regimes {[r.id for r in hits]} overlap on {pd.Timestamp(date).date()}")
    return hits[0] if hits else None


def krx_cb_regime(date: pd.Timestamp | str, index: str = "KOSPI") -> CircuitBreakerRegime | None:
    """The KRX circuit-breaker regime for ``index`` (``KOSPI`` or ``KOSDAQ``) on ``date``."""
    table = {"KOSPI": KRX_CB, "KOSDAQ": KOSDAQ_CB}.get(index.upper())
    if table is None:
        raise DataError(f"unknown KRX index {index!r} (KOSPI or KOSDAQ)")
    return regime_for(table, date, f"KRX {index} circuit breaker")  # type: ignore[return-value]


def krx_price_limit(date: pd.Timestamp | str, leverage: float = 1.0) -> float:
    """KRX daily price limit (fraction of the base price) on ``date`` for a product of ``leverage``.

    Raises
    ------
    DataError
        Before 1995-04-01, when limits were fixed amounts by price bracket (not modelled).
    """
    reg = regime_for(KRX_PRICE_LIMITS, date, "KRX price limit")
    if reg is None:
        raise DataError(f"KRX price limits before 1995-04-01 were fixed amounts by price level; "
                        f"{pd.Timestamp(date).date()} is not modelled")
    return reg.limit * abs(float(leverage))  # type: ignore[attr-defined]
