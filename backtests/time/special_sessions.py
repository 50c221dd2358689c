"""Special sessions and closures that ``exchange_calendars`` misses, as a small sourced table.

:mod:`backtests.time.calendars` applies :func:`apply_special_sessions` to every exchange schedule it
builds (and keys its on-disk cache on :func:`digest`, so editing this table rebuilds the cache).

- **KRX College Scholastic Ability Test (CSAT) days**: the stock market opens at 10:00 and closes
  at 16:30 KST, one hour later than usual (since 2016-08-01, when the regular close became 15:30).
  exchange_calendars 4.13 lists CSAT days only up to 2020; later ones are missing entirely.
- **Closures**: election days and other ad-hoc market holidays (a nationwide election day is a
  public holiday in Korea, and KRX closes on public holidays).

Entries that exchange_calendars already has right are kept too, so every special day scare relies
on has a source here; applying them changes nothing. docs/exchange.md shows the table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

_TZ = {"XKRX": "Asia/Seoul", "XNYS": "America/New_York"}

_CSAT_RULE = "KRX delays the regular session by one hour on the CSAT day: 10:00-16:30 KST"


@dataclass(frozen=True)
class SpecialSession:
    """One special day of one market.

    Attributes
    ----------
    date
        Local session date ``YYYY-MM-DD``.
    market
        ``XKRX`` or ``XNYS``.
    kind
        ``hours`` (a session with other hours) or ``closed`` (no session).
    open, close
        Local ``HH:MM`` of the special hours (``kind="hours"``).
    rule
        Why: the standing rule behind the day.
    source
        The page(s) stating it.
    status
        ``announced`` (the exchange's notice was reported) or ``expected`` (the exam or election
        date is sourced and the standing rule gives the hours, but no market notice was found).
    """

    date: str
    market: str
    kind: str
    open: str | None
    close: str | None
    rule: str
    source: str
    status: str = "announced"


def _csat(date: str, source: str, status: str = "announced") -> SpecialSession:
    return SpecialSession(date, "XKRX", "hours", "10:00", "16:30", _CSAT_RULE, source, status)


def _closed(date: str, rule: str, source: str, status: str = "announced") -> SpecialSession:
    return SpecialSession(date, "XKRX", "closed", None, None, rule, source, status)


SPECIAL_SESSIONS: tuple[SpecialSession, ...] = (
    _csat("2016-11-17", "moneys.co.kr 2016111707198088217; ajunews (KRX notice 2016-11-03)"),
    _csat("2017-11-16", "exam postponed to 11-23 after the Pohang earthquake, but KRX kept the announced "
          "10:00-16:30 hours: hankyung.com 2017111558426; donga.com 20171116/87286369; kmib.co.kr 0011907913"),
    _csat("2017-11-23", "ikoreadaily.co.kr 259489; mediapen.com 313857 (KRX: hours delayed on the new exam day)"),
    _csat("2018-11-15", "newsis.com NISX20181114_0000473519"),
    _csat("2019-11-14", "bizn.donga.com 20191114/98354291; Yonhap AEN20191104003800320"),
    _csat("2020-12-03", "newspim.com 20201123000469 (KRX notice); kpenews.com 1366651"),
    _csat("2021-11-18", "donga.com 20211104/110076830 (News1, KRX notice 2021-11-04)"),
    _csat("2022-11-17", "khan.co.kr 202211161242001; wowtv.co.kr 202211033725i; biz.newdaily.co.kr 2022110300074"),
    _csat("2023-11-16", "etoday.co.kr 2298674 (KRX notice 2023-11-02)"),
    _csat("2024-11-14", "khan.co.kr 202410311029001 (KRX notice 2024-10-31)"),
    _csat("2025-11-13", "edaily.co.kr 05520246642365064; donga.com 20251113/132759579; tf.co.kr 2261781"),
    _csat("2026-11-19", "exam date: Ministry of Education plan for the 2027 CSAT (news1.kr 5511338; "
          "gosiweek.com 1065580478964703); hours: the standing KRX practice, no KRX notice found yet",
          status="expected"),
    _closed("2017-05-09", "presidential election (public holiday)",
            "wowtv.co.kr A201705090011; moneys.co.kr 2017050813598056855"),
    _closed("2018-06-13", "local elections (public holiday)", "Korea Herald 20180604000669"),
    _closed("2022-03-09", "presidential election (public holiday)",
            "blog.naver.com gimdh0930/222661756883 (secondary)"),
    _closed("2022-06-01", "local elections (public holiday)",
            "blog.naver.com gimdh0930/222661756883 (secondary)"),
    _closed("2024-04-10", "parliamentary election (public holiday)", "businesspost.co.kr 347114 (KRX notice)"),
    _closed("2025-06-03", "presidential election (temporary public holiday)",
            "Korea JoongAng Daily 2025-05-20; sedaily.com 2GSVE1J2Y5 (KRX notice)"),
    _closed("2026-06-03", "local elections (public holiday under the Public Official Election Act)",
            "election date and holiday: rivers.ontheside.work/67 (secondary); no KRX notice found, but no "
            "KOSPI, SK Hynix or KODEX 200 row exists for 2026-06-03 in ../shared/data (SOURCES.md)",
            status="expected"),
)


def digest(table: tuple[SpecialSession, ...] = SPECIAL_SESSIONS) -> str:
    """Short hash of the table (part of the calendar cache key)."""
    text = "\n".join(f"{s.date}|{s.market}|{s.kind}|{s.open}|{s.close}" for s in table)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def special_sessions(market: str, table: tuple[SpecialSession, ...] = SPECIAL_SESSIONS) -> tuple[SpecialSession, ...]:
    """The table's entries for ``market``."""
    return tuple(s for s in table if s.market == market)


def apply_special_sessions(code: str, sched: pd.DataFrame,
                           table: tuple[SpecialSession, ...] = SPECIAL_SESSIONS) -> pd.DataFrame:
    """``sched`` (naive session dates -> UTC ``open``/``close``) with the table applied.

    ``hours`` entries set (or add) the session's open and close; ``closed`` entries remove it.
    Dates outside the schedule's span are left alone.
    """
    entries = special_sessions(code, table)
    if not entries or sched.empty:
        return sched
    out = sched.copy()
    lo, hi = out.index.min(), out.index.max()
    tz = _TZ[code]
    for s in entries:
        d = pd.Timestamp(s.date)
        if not lo <= d <= hi:
            continue
        if s.kind == "closed":
            out = out.drop(index=d, errors="ignore")
            continue
        opens = pd.Timestamp(f"{s.date} {s.open}").tz_localize(tz).tz_convert("UTC").as_unit("ns")
        close = pd.Timestamp(f"{s.date} {s.close}").tz_localize(tz).tz_convert("UTC").as_unit("ns")
        out.loc[d, ["open", "close"]] = [opens, close]
    return out.sort_index()
