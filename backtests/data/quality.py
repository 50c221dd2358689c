"""Data-quality checks run on every symbol's bars before a study trusts them.

Each check returns :class:`Finding` objects, ``error`` (the run stops: :func:`enforce` raises a
:class:`~backtests.errors.DataError` naming the symbol and file) or ``warning`` (carried into
``MarketData.warnings``, hence the manifest, ``metrics.json`` ``data.warnings`` and the tearsheet).

====================  ======================================================  ========================
check                 what                                                    level
====================  ======================================================  ========================
``timezone``          stamps not tz-aware/sorted/unique, bar opens after its   error
                      close, daily dates mostly on non-sessions (dates shifted
                      by a time zone), intraday bars mostly outside the
                      session
``future``            a bar dated after today (UTC; not for synthetic data)   error
``non_finite``        a price that is +-inf                                    error
``non_positive``      a price <= 0 (yfinance adjustment artefacts)             error
``bad_price``         open/close more than 1% outside the bar's high..low, or  error
                      high more than 1% below low
``split``             close/previous close beyond x3 or below x1/3 for an     error
                      equity, ETF or index (an unadjusted split)
``possible_split``    a move within 2% of an exact 2:1, 3:1, 1:2, 1:3 ratio    warning
``ohlc``              high/low not enclosing open/close by less than 1%        warning (error if >5%)
``spike``             a high at least 10x (or a low at most 1/10 of) every    error (warning from 3x)
                      reference price of its bar: the bar's open and close
                      and the previous and next closes (a print that came
                      and went inside one bar)
``non_finite`` /      a volume that is +-inf (``1e999`` in a CSV), negative,  error
``bad_volume``        or above 1e18 (no traded quantity on record comes
                      near: that is a unit or parsing error)
``closed_session``    a daily bar on a date the market is closed (a holiday,   error, or dropped with a
                      a weekend; not for FX and crypto); an intraday bar       warning (``data.closed_session_bars: drop``)
                      outside its session (a halt is not a closure)
``gap``               sessions of the market with no bar                      warning
``stale``             the same close for 5+ bars in a row; zero volume        warning
====================  ======================================================  ========================

Every source (``files``, ``cache``, ``synthetic``) goes through :func:`vet`, so the same data gets
the same verdict wherever it comes from. Errors name the symbol, the file (``where``) and, for
files, the line of the first bad row (``labels``), the date and the field.

Stablecoins, FX and ``series`` (indicators, funding, open interest) skip the split and stale checks;
FX rates are checked for gaps against weekdays, crypto against every UTC day.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import CRYPTO, get_market, parse_frequency, sessions
from backtests.errors import DataError
from backtests.notices import Notice

PRICES = ("open", "high", "low", "close")
SPLIT_KINDS = {"equity", "etf", "index"}
STALE_SKIP = {"stablecoin", "series", "fx"}
STALE_RUN = 5
SPLIT_LIMIT = 3.0
#: Intraday bars further apart than this are not compared by the split check (10 days: a long
#: holiday still compares, two crash days a year apart do not).
SPLIT_PAIR_MAX_NS = 10 * 86_400 * 10**9
OHLC_ERROR_SHARE = 0.05
#: A high this many times every reference price of its bar (open, close, the neighbours' closes),
#: or a low that fraction of it: an error from SPIKE_ERROR, a warning from SPIKE_WARN.
SPIKE_ERROR = 10.0
SPIKE_WARN = 3.0
#: Largest volume taken as a traded quantity (memecoin volumes in tokens reach ~1e15 a day).
MAX_VOLUME = 1e18
#: open/close this far outside high..low (relative) is a wrong price, not rounding
BAD_PRICE_TOL = 0.01
CLOSED_POLICIES = ("error", "drop")


@dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    check: str
    symbol: str
    message: str

    def text(self) -> str:
        return f"{self.symbol}: {self.message} [{self.check}]"

    def notice(self) -> Notice:
        """A warning finding as a named warning (code ``data_<check>``)."""
        return Notice(f"data_{self.check}", self.text(), symbol=self.symbol)


def _d(ts: pd.Timestamp) -> str:
    return str(pd.Timestamp(ts).date())


def _dates(stamps: pd.DatetimeIndex | np.ndarray, idx: np.ndarray, local: pd.DatetimeIndex) -> str:
    shown = ", ".join(_d(local[i]) for i in idx[:3])
    return shown + (f" ... {_d(local[idx[-1]])}" if len(idx) > 3 else "")


def local_dates(frame: pd.DataFrame, market: str) -> pd.DatetimeIndex:
    """Local date each bar belongs to: the market-local date of its open."""
    opens = pd.DatetimeIndex(frame["open_time"]) if "open_time" in frame.columns else pd.DatetimeIndex(frame.index)
    tz = get_market(market).tz
    return opens.tz_convert(tz).tz_localize(None).normalize()


def check_bars(frame: pd.DataFrame, symbol: str, market: str, kind: str = "equity",
               frequency: str = "1D", labels: np.ndarray | None = None,
               now: pd.Timestamp | None = None) -> list[Finding]:
    """Every check of the module table on one symbol's stamped bars.

    Parameters
    ----------
    labels
        Optional per-row names (``line 12`` of a CSV), aligned with ``frame``, used in messages.
    now
        UTC instant after which a bar is "in the future" (``None``: no such check, e.g. for
        synthetic data generated ahead of the calendar).
    """
    out: list[Finding] = []

    def add(level: str, check: str, msg: str) -> None:
        out.append(Finding(level, check, symbol, msg))

    def at(i: int) -> str:
        return f"{_d(local[i])}" + (f" ({labels[i]})" if labels is not None else "")

    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        add("error", "timezone", "bar stamps are not tz-aware UTC instants")
        return out
    if len(frame) == 0:
        add("error", "empty", "no bars")
        return out
    if idx.has_duplicates:
        add("error", "timezone", f"duplicate timestamp {idx[idx.duplicated()][0].isoformat()} (two bars at one instant)")
    if not idx.is_monotonic_increasing:
        add("error", "timezone", "timestamps are not sorted (not in time order)")
    if out:
        return out
    local = local_dates(frame, market)
    if now is not None:
        late = np.flatnonzero(np.asarray(idx > now + pd.Timedelta(days=1)))
        if late.size:
            add("error", "future", f"field date: {late.size} bar(s) dated after today, first {at(late[0])}")
            return out
    if "open_time" in frame.columns:
        ot = pd.DatetimeIndex(frame["open_time"])
        bad = np.flatnonzero(np.asarray(ot > idx))
        if bad.size:
            add("error", "timezone", f"{bad.size} bar(s) open after they close (first {idx[bad[0]].isoformat()})")

    # -- prices (a plain series such as a sentiment index may be 0 or negative)
    for col in PRICES:
        if col not in frame.columns:
            continue
        v = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        inf = np.flatnonzero(np.isinf(v))
        if inf.size:
            add("error", "non_finite", f"field {col}: {v[inf[0]]:g} on {at(inf[0])}"
                + (f" and {inf.size - 1} more row(s)" if inf.size > 1 else ""))
    if "volume" in frame.columns:
        out.extend(_volume_findings(frame["volume"].to_numpy(dtype="float64", na_value=np.nan), symbol, at))
    if any(f.check == "non_finite" for f in out):
        return out
    for col in PRICES if kind != "series" else ():
        if col not in frame.columns:
            continue
        v = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.flatnonzero(v <= 0)
        if bad.size:
            add("error", "non_positive",
                f"field {col}: non-positive {col} {v[bad[0]]:g} on {at(bad[0])}"
                + (f"; {bad.size} such rows from {_d(local[bad[0]])} to {_d(local[bad[-1]])}" if bad.size > 1 else "")
                + f"; start the data after {_d(local[bad[-1]])} (data.start) or fix the file")
    if any(f.check == "non_positive" for f in out):
        return out  # ratios below are meaningless on negative prices
    cols = [c for c in PRICES if c in frame.columns]
    if {"high", "low"} <= set(cols):
        o = frame["open"].to_numpy(dtype="float64", na_value=np.nan) if "open" in cols else None
        h = frame["high"].to_numpy(dtype="float64", na_value=np.nan)
        lo = frame["low"].to_numpy(dtype="float64", na_value=np.nan)
        c = frame["close"].to_numpy(dtype="float64", na_value=np.nan)
        tol = 1e-9 * np.nanmax(np.abs(c)) if np.isfinite(c).any() else 0.0
        with np.errstate(invalid="ignore"):
            top = np.fmax(c, o) if o is not None else c
            bot = np.fmin(c, o) if o is not None else c
            wrong = (h < top - tol) | (lo > bot + tol) | (h < lo - tol)
            gross = (top > h * (1 + BAD_PRICE_TOL)) | (bot < lo * (1 - BAD_PRICE_TOL)) | (lo > h * (1 + BAD_PRICE_TOL))
        bad = np.flatnonzero(gross)
        if bad.size:
            i = int(bad[0])
            vals = {"open": o[i] if o is not None else np.nan, "high": h[i], "low": lo[i], "close": c[i]}
            fld, ref = next(((f, r) for f, r in (("close", "high"), ("open", "high"), ("close", "low"),
                                                 ("open", "low"), ("low", "high"))
                             if (vals[f] > vals[r] * (1 + BAD_PRICE_TOL) if r == "high"
                                 else vals[f] < vals[r] * (1 - BAD_PRICE_TOL))), ("close", "high"))
            add("error", "bad_price", f"field {fld}: {vals[fld]:g} on {at(i)} is outside the bar's range "
                f"({vals[fld] / vals[ref]:.3g}x the {ref} {vals[ref]:g})"
                + (f"; {bad.size - 1} more such row(s)" if bad.size > 1 else ""))
            return out
        bad = np.flatnonzero(wrong)
        if bad.size:
            share = bad.size / len(frame)
            lvl = "error" if share > OHLC_ERROR_SHARE and bad.size > 3 else "warning"
            add(lvl, "ohlc", f"{bad.size} bar(s) with high/low not enclosing open/close: "
                f"{_dates(idx, bad, local)}")
    if kind != "series" and {"high", "low", "close"} <= set(frame.columns):
        out.extend(_spikes(frame, symbol, at))
    if kind in SPLIT_KINDS and len(frame) > 1:
        c = frame["close"].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = c[1:] / c[:-1]
        if parse_frequency(frequency) is not None:  # intraday bars of a few days (crash days years apart)
            r[np.diff(idx.asi8) > SPLIT_PAIR_MAX_NS] = np.nan  # are not consecutive observations
        big = np.flatnonzero((r >= SPLIT_LIMIT) | (r <= 1 / SPLIT_LIMIT)) + 1
        for i in big[:3]:
            ratio = c[i] / c[i - 1]
            n = 1 / ratio if ratio < 1 else ratio
            add("error", "split", f"close jumps x{ratio:.4g} on {_d(local[i])} ({c[i - 1]:g} -> {c[i]:g}): looks like "
                f"an unadjusted split ({'1:' if ratio < 1 else ''}{n:.4g}{':1' if ratio >= 1 else ''}); start the "
                f"data after it (data.start) or use split-adjusted prices")
        if big.size > 3:
            add("error", "split", f"{big.size - 3} more split-like jumps")
        near = []
        for n in (2.0, 3.0):
            for target in (n, 1 / n):
                with np.errstate(invalid="ignore"):
                    hit = np.flatnonzero(np.abs(r / target - 1) <= 0.02) + 1
                near.extend(int(i) for i in hit if i not in set(big))
        for i in sorted(set(near))[:3]:
            add("warning", "possible_split", f"close moves x{c[i] / c[i - 1]:.4f} on {_d(local[i])}, close to a "
                "whole split ratio: check for an unadjusted split")

    # -- staleness
    if kind not in STALE_SKIP and len(frame) >= STALE_RUN:
        c = frame["close"].to_numpy(dtype="float64", na_value=np.nan)
        same = np.concatenate([[False], c[1:] == c[:-1]])
        runs = _runs(same)
        long_runs = [(a - 1, b) for a, b in runs if b - a + 2 >= STALE_RUN]
        if long_runs:
            a, b = long_runs[0]
            add("warning", "stale", f"close unchanged for {b - a + 1} bars from {_d(local[a])} to {_d(local[b])}"
                + (f" (+{len(long_runs) - 1} more such runs)" if len(long_runs) > 1 else ""))
    if kind in {"equity", "etf"} and "volume" in frame.columns:
        v = frame["volume"].to_numpy(dtype="float64", na_value=np.nan)
        zero = np.flatnonzero(v == 0)
        if zero.size:
            add("warning", "stale", f"{zero.size} bar(s) with zero volume ({_d(local[zero[0]])} .. "
                f"{_d(local[zero[-1]])})")

    # -- calendar
    bar = parse_frequency(frequency)
    if bar is None:
        out.extend(_daily_calendar(frame, symbol, market, kind, local, labels))
    else:
        out.extend(_intraday_calendar(frame, symbol, market, bar, labels))
    return out


def _volume_findings(v: np.ndarray, symbol: str, at: Any) -> list[Finding]:
    """Errors for a volume that is not a traded quantity: infinite, negative or absurdly large."""
    out = []
    for check, mask, what in (("non_finite", np.isinf(v), "is infinite"),
                              ("bad_volume", v < 0, "is negative"),
                              ("bad_volume", np.isfinite(v) & (v > MAX_VOLUME), f"is above {MAX_VOLUME:.0e}")):
        bad = np.flatnonzero(mask)
        if bad.size:
            out.append(Finding("error", check, symbol, f"field volume: {v[bad[0]]:g} on {at(int(bad[0]))} {what} "
                               f"(not a traded quantity)" + (f"; {bad.size - 1} more such row(s)" if bad.size > 1 else "")))
    return out


def _spikes(frame: pd.DataFrame, symbol: str, at: Any) -> list[Finding]:
    """High/low spikes: a high far above every reference price of its bar (open, close, the previous
    and the next close), or a low far below all of them. From :data:`SPIKE_ERROR` an error, from
    :data:`SPIKE_WARN` a warning; the ratio is to the nearest reference (the most lenient)."""
    c = frame["close"].to_numpy(dtype="float64", na_value=np.nan)
    h = frame["high"].to_numpy(dtype="float64", na_value=np.nan)
    lo = frame["low"].to_numpy(dtype="float64", na_value=np.nan)
    prev = np.concatenate([[np.nan], c[:-1]])
    nxt = np.concatenate([c[1:], [np.nan]])
    refs = [c, prev, nxt] + ([frame["open"].to_numpy(dtype="float64", na_value=np.nan)] if "open" in frame else [])
    stack = np.vstack(refs)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row with no reference price at all
        top = np.nanmax(stack, axis=0)
        bottom = np.nanmin(stack, axis=0)
        up = h / top
        down = bottom / lo
    out = []
    for ratio, field, word in ((up, "high", "above"), (down, "low", "below")):
        for level, limit in (("error", SPIKE_ERROR), ("warning", SPIKE_WARN)):
            hit = np.flatnonzero(ratio >= limit)
            if hit.size:
                i = int(hit[0])
                value = h[i] if field == "high" else lo[i]
                shown = f"{ratio[i]:.3g}x" if field == "high" else f"1/{ratio[i]:.3g}"
                out.append(Finding(level, "spike", symbol, f"field {field}: {value:g} on {at(i)} is {shown} {word} "
                                   f"the bar's open/close and its neighbours' closes: a spike (a bad print?); fix or "
                                   "drop the row" + (f"; {hit.size - 1} more such row(s)" if hit.size > 1 else "")))
                break  # the error covers the warning for the same field
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of consecutive True values."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def closed_mask(local: pd.DatetimeIndex, market: str, kind: str) -> np.ndarray:
    """Rows whose local date is not a session of ``market`` (crypto and FX: never).

    FX rates are quoted around the clock and fixed on exchange holidays (FRED's New York noon rate
    on a KRX holiday; Yahoo labels some bars by a Sunday in London), so they have no closed days.
    """
    if market == CRYPTO or kind == "fx" or len(local) == 0:
        return np.zeros(len(local), dtype=bool)
    open_days = pd.DatetimeIndex(sessions(market, local.min(), local.max()).index)
    return ~np.asarray(local.isin(open_days))


def _daily_calendar(frame: pd.DataFrame, symbol: str, market: str, kind: str,
                    local: pd.DatetimeIndex, labels: np.ndarray | None = None) -> list[Finding]:
    out: list[Finding] = []
    first, last = local.min(), local.max()
    if market == CRYPTO:
        expected = pd.date_range(first, last, freq="D")
        if kind == "fx":
            expected = expected[expected.day_of_week < 5]
    else:
        expected = pd.DatetimeIndex(sessions(market, first, last).index)
    have = pd.DatetimeIndex(local.unique())
    closed = np.flatnonzero(closed_mask(local, market, kind))
    if closed.size:
        off = pd.DatetimeIndex(local[closed].unique())
        share = len(off) / len(have)
        weekend = int((off.day_of_week >= 5).sum())
        if share > 0.2 and len(have) >= 10 and market != CRYPTO:
            out.append(Finding("error", "timezone", symbol,
                               f"{len(off)} of {len(have)} bars ({weekend} on weekends) fall on dates that are not "
                               f"{market} sessions: dates look shifted by a time zone (first {_d(off[0])})"))
        else:
            shown = ", ".join(_d(local[i]) + (f" ({labels[i]})" if labels is not None else "") for i in closed[:5])
            shown += " ..." if closed.size > 5 else ""
            out.append(Finding("error", "closed_session", symbol,
                               f"field date: {closed.size} bar(s) on dates {market} is closed: {shown}; "
                               "remove them, or set data.closed_session_bars: drop"))
    missing = expected.difference(have)
    if len(missing):
        pos = expected.get_indexer(missing)
        runs = _runs(np.isin(np.arange(len(expected)), pos))
        a, b = max(runs, key=lambda ab: ab[1] - ab[0])
        shown = ", ".join(_d(d) for d in missing[:3]) + (" ..." if len(missing) > 3 else "")
        what = "weekdays" if kind == "fx" and market == CRYPTO else ("days" if market == CRYPTO else f"{market} sessions")
        out.append(Finding("warning", "gap", symbol,
                           f"{len(missing)} {what} without a bar between {_d(first)} and {_d(last)}: {shown} "
                           f"(longest run {_d(expected[a])}..{_d(expected[b])})"))
    return out


def intraday_outside(frame: pd.DataFrame, market: str) -> np.ndarray:
    """Intraday bars that do not lie inside a session of ``market``: opening on a date that is not a
    session, before its open or at/after its close, or ending after its close (crypto: never).

    A bar inside a session is never "outside" for lack of trading: a KRX circuit-breaker halt or
    a volatility interruption is a stretch of a session without prints, not a closure.
    """
    if market == CRYPTO or len(frame) == 0:
        return np.zeros(len(frame), dtype=bool)
    opens = pd.DatetimeIndex(frame["open_time"]).as_unit("ns")
    ends = pd.DatetimeIndex(frame.index).as_unit("ns")
    dates = opens.tz_convert(get_market(market).tz).tz_localize(None).normalize()
    sched = sessions(market, dates.min(), dates.max())
    so = pd.DatetimeIndex(pd.Series(sched["open"]).reindex(dates)).as_unit("ns").asi8
    sc = pd.DatetimeIndex(pd.Series(sched["close"]).reindex(dates)).as_unit("ns").asi8
    nat = np.iinfo(np.int64).min
    o, e = opens.asi8, ends.asi8
    return (so == nat) | (o < so) | (o >= sc) | (e > sc)


def _intraday_calendar(frame: pd.DataFrame, symbol: str, market: str, bar: pd.Timedelta,
                       labels: np.ndarray | None = None) -> list[Finding]:
    out: list[Finding] = []
    opens = pd.DatetimeIndex(frame["open_time"] if "open_time" in frame.columns else frame.index - bar).as_unit("ns")
    if market == CRYPTO:
        misaligned = np.flatnonzero(opens.asi8 % bar.value != 0)
        if misaligned.size:
            out.append(Finding("warning", "timezone", symbol, f"{misaligned.size} bar(s) not on the {bar} UTC grid "
                               f"(first opens {opens[misaligned[0]].isoformat()})"))
        expected = pd.date_range(opens.min(), opens.max(), freq=bar)
        missing = expected.difference(opens)
        if len(missing):
            out.append(Finding("warning", "gap", symbol, f"{len(missing)} {bar} bar(s) missing between "
                               f"{opens.min().isoformat()} and {opens.max().isoformat()} (first {missing[0].isoformat()})"))
        return out
    outside = np.flatnonzero(intraday_outside(frame, market))
    n = int(outside.size)
    if n > 0.5 * len(frame):
        out.append(Finding("error", "timezone", symbol, f"{n} of {len(frame)} bar(s) open outside the {market} session "
                           f"(first {opens[outside[0]].isoformat()}): wrong time zone?"))
    elif n:
        tz = get_market(market).tz
        shown = ", ".join(f"{opens[i].tz_convert(tz):%Y-%m-%d %H:%M}" + (f" ({labels[i]})" if labels is not None else "")
                          for i in outside[:3]) + (" ..." if n > 3 else "")
        out.append(Finding("error", "closed_session", symbol,
                           f"field date: {n} bar(s) outside the {market} session (local bar opens {shown}); remove "
                           "them, or set data.closed_session_bars: drop"))
    return out


def enforce(findings: list[Finding], where: str | None = None) -> list[str]:
    """Raise a :class:`DataError` for the error findings (all of them, one line); return warnings as text."""
    errors = [f for f in findings if f.level == "error"]
    if errors:
        sym = errors[0].symbol
        msg = "; ".join(f"{f.message} [{f.check}]" for f in errors)
        raise DataError(f"bad data for {sym}: {msg}", where=where or sym)
    return [f.text() for f in findings if f.level == "warning"]


def vet(frame: pd.DataFrame, symbol: str, market: str, kind: str = "equity", frequency: str = "1D", *,
        where: str | None = None, labels: np.ndarray | None = None, closed: str = "error",
        synthetic: bool = False) -> tuple[pd.DataFrame, list[Notice]]:
    """The checks every source runs on every symbol: drop what the config allows, raise on errors.

    Parameters
    ----------
    frame
        One symbol's stamped bars (UTC close stamps, ``open_time`` column).
    where
        The file (or cache file) named in errors.
    labels
        Per-row names for messages (``line 12``), aligned with ``frame``.
    closed
        ``error`` (default): a daily bar on a date the market is closed is an error; ``drop``:
        such bars are removed with a ``closed_session_bar_dropped`` warning.
    synthetic
        Generated data: no "dated after today" check (the replay is generated ahead of the calendar).

    Returns
    -------
    (frame, notices)
        The bars kept and the named warnings (``data_<check>`` codes, see docs/outputs.md).

    Raises
    ------
    DataError
        One line naming ``where``, the symbol, the first bad row and the field.
    """
    if closed not in CLOSED_POLICIES:
        raise DataError(f"unknown closed_session_bars {closed!r} (use error or drop)", where="data.closed_session_bars")
    notices: list[Notice] = []
    idx = frame.index
    daily = parse_frequency(frequency) is None
    usable = isinstance(idx, pd.DatetimeIndex) and idx.tz is not None and len(frame) > 0
    if closed == "drop" and usable and (daily or "open_time" in frame.columns):
        local = local_dates(frame, market)
        mask = closed_mask(local, market, kind) if daily else intraday_outside(frame, market)
        if not daily and mask.sum() > 0.5 * len(frame):
            mask = np.zeros(len(frame), dtype=bool)  # mostly outside: a time-zone error, not bars to drop
        if mask.any():
            dates = ", ".join(_d(d) for d in pd.DatetimeIndex(local[mask]).unique()[:5])
            n = int(mask.sum())
            notices.append(Notice("closed_session_bar_dropped",
                                  f"{where or symbol}: dropped {n} bar(s) of {symbol} on dates {market} is closed: "
                                  f"{dates}{' ...' if n > 5 else ''}", symbol=symbol, count=n))
            frame = frame.loc[~mask]
            labels = labels[~mask] if labels is not None else None
    now = None if synthetic else pd.Timestamp.now(tz="UTC")
    findings = check_bars(frame, symbol, market, kind, frequency, labels=labels, now=now)
    enforce(findings, where=where or symbol)
    return frame, notices + [f.notice() for f in findings if f.level == "warning"]
