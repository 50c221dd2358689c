"""Facts about single symbols that the exchange rules need: index membership, LULD tier, sector.

- **Index membership** (KOSPI 200 / KOSDAQ 150) decides two KRX rules: the 2021-05-03..2023-11-05
  short-sale ban exempted the constituents of both indices, and the dynamic volatility
  interruption rate is 3% for KOSPI 200 constituents, 6% for other stocks. A dated table covers
  the symbols scare ships; a study adds its own (``execution.index_membership``). A symbol with no
  known membership is treated as **not a member** (the conservative reading for short sales: it
  could not be shorted in 2021-05..2023-11), and the engine says so (``index_membership_unknown``).
- **LULD tier** (US single stocks): Tier 1 is the S&P 500, the Russell 1000 and selected ETPs;
  everything else is Tier 2 (wider bands).
- **Financial companies**: the 2008 bans on financials (KRX 2008-10-01..2013-11-13, SEC
  2008-09-19..10-08). No symbol scare ships is a financial company; a study lists its own
  (``execution.financials``).

Dates are local session dates, inclusive; an empty end is open-ended. KRX symbols are matched by
their six-digit issue code, so ``000660.KS`` and a long close-only series named ``000660.KS_SKHynix``
are the same stock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Indices whose membership the rules read.
INDICES = ("KOSPI200", "KOSDAQ150")

_KOSPI200_SOURCE = ("Nikkei Asia 2021-02-03 ('the two indexes include companies such as Samsung Electronics, SK Hynix'); "
                    "aju.news 2021-04 (p=518433: KOSPI 200 includes Samsung Electronics, SK Hynix); the two largest "
                    "KOSPI companies, in none of the exclusions of the June/December revisions (infostockdaily.co.kr "
                    "139341, 2021-05-26; asiae.co.kr 2022052900041941899, 2022-05-29). Start: the dynamic VI regime "
                    "(2014-09-01), the first rule that reads the membership; they were members before")


@dataclass(frozen=True)
class Membership:
    """A symbol's membership of one index over a date range (local dates, inclusive)."""

    symbol: str
    index: str
    start: str
    end: str = ""
    source: str = ""


#: Dated index membership of the KRX symbols scare ships. KODEX 200 (069500.KS) is an ETF, not
#: a constituent: the bans are applied to it as to a stock (whether the 2020-2025 bans covered
#: ETFs was not verified).
INDEX_MEMBERSHIP: tuple[Membership, ...] = (
    Membership("000660.KS", "KOSPI200", "2014-09-01", "", _KOSPI200_SOURCE),
    Membership("005930.KS", "KOSPI200", "2014-09-01", "", _KOSPI200_SOURCE),
)

#: LULD Tier 1 symbols among those scare ships (S&P 500 members and high-volume ETPs); others Tier 2.
LULD_TIER1 = frozenset({"MU", "NVDA", "SPY", "QQQ", "SOXX", "SMH", "EWY", "TSM"})


def issue(symbol: str) -> str:
    """The six-digit KRX issue code a symbol starts with (``000660`` for ``000660.KS`` and
    ``000660.KS_SKHynix``), else the symbol itself."""
    m = re.match(r"^(\d{6})(?:\.|_|$)", symbol)
    return m.group(1) if m else symbol


def _same(a: str, b: str) -> bool:
    return a == b or issue(a) == issue(b)


def known_membership(symbol: str, extra: Mapping[str, Iterable[str]] | None = None) -> bool:
    """Whether the table (or the study's ``extra`` mapping) says anything about ``symbol``."""
    return any(_same(symbol, k) for k in (extra or {})) or any(_same(m.symbol, symbol) for m in INDEX_MEMBERSHIP)


def membership(symbol: str, instants_local_days: np.ndarray,
               extra: Mapping[str, Iterable[str]] | None = None) -> dict[str, np.ndarray]:
    """``{index: bool array}``: whether ``symbol`` was a member on each local date.

    Parameters
    ----------
    symbol
        The symbol.
    instants_local_days
        Local session dates as int64 ns of naive midnights (any order).
    extra
        ``{symbol: [index, ...]}`` from the study: a member throughout (overrides the table for
        that symbol).
    """
    days = np.asarray(instants_local_days, dtype=np.int64)
    out = {name: np.zeros(len(days), dtype=bool) for name in INDICES}
    given = next((v for k, v in (extra or {}).items() if _same(symbol, k)), None)
    if given is not None:
        for name in given:
            out[str(name)] = np.ones(len(days), dtype=bool)
        return out
    for m in INDEX_MEMBERSHIP:
        if not _same(m.symbol, symbol):
            continue
        lo = pd.Timestamp(m.start).value if m.start else np.iinfo(np.int64).min
        hi = pd.Timestamp(m.end).value if m.end else np.iinfo(np.int64).max
        out[m.index] |= (days >= lo) & (days <= hi)
    return out


def vi_class(symbol: str, date: pd.Timestamp, extra: Mapping[str, Iterable[str]] | None = None) -> str:
    """``kospi200`` (dynamic VI at 3%) or ``other`` (6%) for ``symbol`` on ``date``."""
    day = np.array([pd.Timestamp(date).normalize().value], dtype=np.int64)
    return "kospi200" if membership(symbol, day, extra)["KOSPI200"][0] else "other"


def luld_tier(symbol: str) -> int:
    """LULD tier of ``symbol`` (1 for :data:`LULD_TIER1`, else 2)."""
    return 1 if symbol in LULD_TIER1 else 2


def shortable(symbol: str, market: str, instants: np.ndarray,
              extra: Mapping[str, Iterable[str]] | None = None, financial: bool = False) -> np.ndarray:
    """Whether a new short sale of ``symbol`` was allowed at each instant by the dated bans
    (:func:`~backtests.exchange.short_sale.short_sale_allowed`) with its index membership from
    :data:`INDEX_MEMBERSHIP` (or ``extra``); crypto always. No borrow overrides: the engine reads
    those from the study (``execution.borrow_file``).

    Parameters
    ----------
    instants
        UTC int64 ns; each is judged on the market's local date.
    """
    from backtests.exchange.short_sale import short_sale_allowed
    from backtests.time.calendars import CRYPTO, get_market

    t = np.asarray(instants, dtype=np.int64)
    if market == CRYPTO or market not in ("XKRX", "XNYS"):
        return np.ones(len(t), dtype=bool)
    tz = get_market(market).tz
    days = pd.DatetimeIndex(pd.to_datetime(t, utc=True)).tz_convert(tz).tz_localize(None).normalize().as_unit("ns").asi8
    return short_sale_allowed(symbol, market, t, index_membership=membership(symbol, days, extra),
                              financial=financial).allowed
