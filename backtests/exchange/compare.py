"""Check a derived timeline against what the data or the event catalogue records.

Every disagreement is a named :class:`~backtests.notices.Notice` (codes listed in docs/exchange.md):

- ``halt_mismatch``: both record a halt that day, at times further apart than the tolerance.
- ``halt_not_derived``: the catalogue records a halt the rules do not derive from the bars.
- ``halt_not_recorded``: the rules derive a halt the catalogue does not record.
- ``bars_during_halt``: the bars show trading inside a derived halt or pause.
- ``unexplained_bar_gap``: the bars have a gap in continuous trading that no derived halt explains.
- ``price_outside_limits``: a bar trades beyond the day's price limits (bad data or wrong regime).
- ``halt_possible_not_recorded``: on daily bars, the low reached the level-1 decline and no halt is
  recorded (daily bars cannot show whether the fall lasted a minute).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.exchange.bars import Bars
from backtests.exchange.rules import krx_cb_regime
from backtests.exchange.states import State, Timeline
from backtests.notices import Notice

#: Catalogue event kinds that are market-wide halts, with their level.
HALT_KINDS = {"circuit_breaker_level1": 1, "circuit_breaker_level2": 2, "circuit_breaker_level3": 3,
              "krx_circuit_breaker": 1}


def catalogue_halts(frame: pd.DataFrame, index: str = "KOSPI", tz: str = "Asia/Seoul") -> pd.DataFrame:
    """Recorded halts from an event table (the shared ``krx_circuit_breakers.csv`` layout, or the
    catalogue's ``krx_circuit_breaker`` events).

    Parameters
    ----------
    frame
        Columns ``date``, ``kind`` and a local time column (``time_kst`` or ``time_local``, may be
        empty or ``~HH:MM`` for approximate reports); ``market`` (``KOSPI``/``KOSDAQ``) when present.
    index
        Keep rows of this market only.

    Returns
    -------
    pandas.DataFrame
        ``date`` (naive local date), ``level``, ``instant`` (UTC int64 ns or NaN when no time was
        reported), ``approximate`` (the report says "around").
    """
    for col in ("date", "kind"):
        if col not in frame.columns:
            raise DataError(f"event table has no {col!r} column")
    tcol = "time_kst" if "time_kst" in frame.columns else "time_local" if "time_local" in frame.columns else None
    rows = frame[frame["kind"].isin(HALT_KINDS)]
    if "market" in rows.columns:
        mk = rows["market"].astype(str).str.upper()
        keep = mk == index.upper()
        if index.upper() == "KOSPI":
            keep |= mk == "XKRX"  # the built-in catalogue's KRX halts are KOSPI's
        rows = rows[keep]
    out = []
    for _, r in rows.iterrows():
        d = pd.Timestamp(r["date"]).normalize()
        raw = str(r[tcol]).strip() if tcol and pd.notna(r[tcol]) else ""
        approx = raw.startswith("~")
        raw = raw.lstrip("~").strip()
        instant = float(pd.Timestamp(f"{d.date()} {raw}").tz_localize(tz).value) if raw else np.nan
        out.append({"date": d, "level": HALT_KINDS[r["kind"]], "instant": instant, "approximate": approx})
    return pd.DataFrame(out, columns=["date", "level", "instant", "approximate"])


def _halt_starts(tl: Timeline) -> dict[int, int]:
    return {int(e.level): e.instant for e in tl.events
            if e.level is not None and e.code.endswith(f"level{e.level}") and not e.code.endswith("excluded")}


def compare_halts(derived: Timeline, recorded: pd.DataFrame, date: pd.Timestamp | str,
                  tolerance: pd.Timedelta | str = "2min", where: str = "KOSPI") -> list[Notice]:
    """Compare the halts of one session: derived from bars vs recorded (:func:`catalogue_halts`).

    ``tolerance`` absorbs the bar resolution and reports rounded to the minute ("around 12:40"
    doubles it).
    """
    d = pd.Timestamp(date).normalize()
    rec = recorded[recorded["date"] == d] if len(recorded) else recorded
    got = _halt_starts(derived)
    tol = int(pd.Timedelta(tolerance).value)
    out: list[Notice] = []
    for _, r in rec.iterrows():
        level = int(r["level"])
        if level not in got:
            out.append(Notice("halt_not_derived", f"{d.date()}: the catalogue records a level-{level} halt; the "
                              f"rules applied to the bars derive none", symbol=where))
            continue
        if np.isfinite(r["instant"]):
            gap = abs(got[level] - int(r["instant"]))
            allowed = tol * (2 if r["approximate"] else 1)
            if gap > allowed:
                out.append(Notice("halt_mismatch", f"{d.date()}: level-{level} halt derived at "
                                  f"{pd.Timestamp(got[level], tz='UTC'):%H:%M:%S} UTC, recorded at "
                                  f"{pd.Timestamp(int(r['instant']), tz='UTC'):%H:%M:%S} UTC "
                                  f"({gap / 60e9:.1f} min apart)", symbol=where))
    recorded_levels = set(rec["level"].astype(int)) if len(rec) else set()
    for level, instant in sorted(got.items()):
        if level not in recorded_levels:
            out.append(Notice("halt_not_recorded", f"{d.date()}: the rules derive a level-{level} halt at "
                              f"{pd.Timestamp(instant, tz='UTC'):%H:%M:%S} UTC that the catalogue does not "
                              f"record", symbol=where))
    return out


def compare_bars(derived: Timeline, bars: Bars, lower: float | None = None, upper: float | None = None,
                 where: str = "bars") -> list[Notice]:
    """Check bars against a derived timeline: trading in halts, unexplained gaps, prices beyond limits.

    A bar "trades" inside a halt when it lies within a ``HALTED``/``PAUSED`` segment and its range
    is not flat (an index may keep printing its last value). A gap is a missing bar of the bars'
    own step inside continuous trading.
    """
    out: list[Notice] = []
    stopped = derived.segments(State.HALTED, State.PAUSED)
    for s, e in stopped:
        inside = (bars.starts >= s) & (bars.ends <= e) & (bars.high > bars.low)
        if inside.any():
            out.append(Notice("bars_during_halt", f"{int(inside.sum())} bar(s) move inside the halt from "
                              f"{pd.Timestamp(int(s), tz='UTC'):%Y-%m-%d %H:%M} UTC", symbol=where,
                              count=int(inside.sum())))
    if len(bars) > 1:
        step = int(np.diff(bars.ends).min())
        gaps = np.flatnonzero(bars.starts[1:] > bars.ends[:-1])
        for g in gaps:
            a, b = int(bars.ends[g]), int(bars.starts[g + 1])
            mids = np.arange(a, b, step) + step // 2
            states = derived.state_at(mids)
            if np.any(states == State.CONTINUOUS):
                out.append(Notice("unexplained_bar_gap", f"no bars {pd.Timestamp(a, tz='UTC'):%Y-%m-%d %H:%M}-"
                                  f"{pd.Timestamp(b, tz='UTC'):%H:%M} UTC during continuous trading", symbol=where))
    if lower is not None or upper is not None:
        bad = np.zeros(len(bars), dtype=bool)
        if lower is not None:
            bad |= bars.low < lower * (1 - 1e-9)
        if upper is not None:
            bad |= bars.high > upper * (1 + 1e-9)
        if bad.any():
            out.append(Notice("price_outside_limits", f"{int(bad.sum())} bar(s) trade beyond the daily limits "
                              f"[{lower}, {upper}]", symbol=where, count=int(bad.sum())))
    return out


def compare_daily_halts(dates: pd.DatetimeIndex, prev_close: np.ndarray, low: np.ndarray,
                        recorded: pd.DataFrame, index: str = "KOSPI") -> list[Notice]:
    """What daily index bars can say about recorded level-1 halts.

    Daily bars cannot prove a circuit breaker (it needs the fall to last a minute), but they can
    rule one out: a recorded level-1 halt on a day whose low never reached the level-1 decline is
    ``halt_not_derived``; a day whose low reached it with no halt recorded is
    ``halt_possible_not_recorded`` (a candidate to check, not a finding).

    Parameters
    ----------
    dates
        Local session dates of the bars.
    prev_close, low
        Previous close and the day's low (index points), aligned with ``dates``.
    recorded
        Halts from :func:`catalogue_halts`.
    """
    out: list[Notice] = []
    rec_days = set(pd.DatetimeIndex(recorded.loc[recorded["level"] == 1, "date"])) if len(recorded) else set()
    for d, p, lo in zip(pd.DatetimeIndex(dates).normalize(), np.asarray(prev_close, float), np.asarray(low, float)):
        reg = krx_cb_regime(d, index)
        if reg is None or not (np.isfinite(p) and np.isfinite(lo)):
            continue
        reached = lo <= p * (1 - reg.levels[0].decline) * (1 + 1e-12)
        if d in rec_days and not reached:
            out.append(Notice("halt_not_derived", f"{d.date()}: a level-1 halt is recorded but the low "
                              f"({lo / p - 1:+.2%}) never reached -{reg.levels[0].decline:.0%}", symbol=index))
        elif reached and d not in rec_days:
            out.append(Notice("halt_possible_not_recorded", f"{d.date()}: the low ({lo / p - 1:+.2%}) reached "
                              f"-{reg.levels[0].decline:.0%} but no halt is recorded (daily bars cannot tell "
                              f"whether it lasted a minute)", symbol=index))
    return out
