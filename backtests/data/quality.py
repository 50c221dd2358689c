"""Data-quality checks run on every symbol's bars before a study trusts them.

Each check returns :class:`Finding` objects, ``error`` (the run stops: :func:`enforce` raises a
:class:`~backtests.errors.DataError` naming the symbol and file) or ``warning`` (carried into
``MarketData.warnings``, hence the manifest, ``metrics.json`` ``data.warnings`` and the tearsheet).

=================  ======================================================  ========================
check              what                                                    level
=================  ======================================================  ========================
``timezone``       stamps not tz-aware/sorted/unique, bar opens after its   error
                   close, daily dates mostly on non-sessions (dates shifted
                   by a time zone), intraday bars mostly outside the
                   session
``non_positive``   a price <= 0 (yfinance adjustment artefacts)             error
``split``          close/previous close beyond x3 or below x1/3 for an     error
                   equity, ETF or index (an unadjusted split)
``possible_split`` a move within 2% of an exact 2:1, 3:1, 1:2, 1:3 ratio    warning
``ohlc``           high below open/close/low, or low above them             warning (error if >5%)
``off_calendar``   a few bars on dates that are not sessions                warning
``gap``            sessions of the market with no bar                      warning
``stale``          the same close for 5+ bars in a row; zero volume        warning
=================  ======================================================  ========================

Stablecoins, FX and ``series`` (indicators, funding, open interest) skip the split and stale checks;
FX rates are checked for gaps against weekdays, crypto against every UTC day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.calendars import CRYPTO, get_market, parse_frequency, sessions
from backtests.errors import DataError

PRICES = ("open", "high", "low", "close")
SPLIT_KINDS = {"equity", "etf", "index"}
STALE_SKIP = {"stablecoin", "series", "fx"}
STALE_RUN = 5
SPLIT_LIMIT = 3.0
OHLC_ERROR_SHARE = 0.05


@dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    check: str
    symbol: str
    message: str

    def text(self) -> str:
        return f"{self.symbol}: {self.message} [{self.check}]"


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
               frequency: str = "1D") -> list[Finding]:
    """Every check of the module table on one symbol's stamped bars."""
    out: list[Finding] = []

    def add(level: str, check: str, msg: str) -> None:
        out.append(Finding(level, check, symbol, msg))

    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        add("error", "timezone", "bar stamps are not tz-aware UTC instants")
        return out
    if len(frame) == 0:
        add("error", "empty", "no bars")
        return out
    if idx.has_duplicates:
        add("error", "timezone", f"duplicate stamp {idx[idx.duplicated()][0].isoformat()} (two bars at one instant)")
    if not idx.is_monotonic_increasing:
        add("error", "timezone", "stamps are not in time order")
    if out:
        return out
    local = local_dates(frame, market)
    if "open_time" in frame.columns:
        ot = pd.DatetimeIndex(frame["open_time"])
        bad = np.flatnonzero(np.asarray(ot > idx))
        if bad.size:
            add("error", "timezone", f"{bad.size} bar(s) open after they close (first {idx[bad[0]].isoformat()})")

    # -- prices (a plain series such as a sentiment index may be 0 or negative)
    for col in PRICES if kind != "series" else ():
        if col not in frame.columns:
            continue
        v = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.flatnonzero(v <= 0)
        if bad.size:
            add("error", "non_positive",
                f"{bad.size} non-positive {col} value(s) from {_d(local[bad[0]])} to {_d(local[bad[-1]])} "
                f"(first {v[bad[0]]:g}); start the data after {_d(local[bad[-1]])} (data.start) or fix the file")
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
        bad = np.flatnonzero(wrong)
        if bad.size:
            share = bad.size / len(frame)
            lvl = "error" if share > OHLC_ERROR_SHARE and bad.size > 3 else "warning"
            add(lvl, "ohlc", f"{bad.size} bar(s) with high/low not enclosing open/close: "
                f"{_dates(idx, bad, local)}")
    if kind in SPLIT_KINDS and len(frame) > 1:
        c = frame["close"].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = c[1:] / c[:-1]
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
        out.extend(_daily_calendar(frame, symbol, market, kind, local))
    else:
        out.extend(_intraday_calendar(frame, symbol, market, bar))
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


def _daily_calendar(frame: pd.DataFrame, symbol: str, market: str, kind: str,
                    local: pd.DatetimeIndex) -> list[Finding]:
    out: list[Finding] = []
    first, last = local.min(), local.max()
    if market == CRYPTO:
        expected = pd.date_range(first, last, freq="D")
        if kind == "fx":
            expected = expected[expected.day_of_week < 5]
    else:
        expected = pd.DatetimeIndex(sessions(market, first, last).index)
    have = pd.DatetimeIndex(local.unique())
    off = have.difference(expected)
    if market != CRYPTO and len(off):
        share = len(off) / len(have)
        weekend = int((off.day_of_week >= 5).sum())
        if share > 0.2 and len(have) >= 10:
            out.append(Finding("error", "timezone", symbol,
                               f"{len(off)} of {len(have)} bars ({weekend} on weekends) fall on dates that are not "
                               f"{market} sessions: dates look shifted by a time zone (first {_d(off[0])})"))
        else:
            shown = ", ".join(_d(d) for d in off[:5]) + (" ..." if len(off) > 5 else "")
            out.append(Finding("warning", "off_calendar", symbol,
                               f"{len(off)} bar(s) on dates that are not {market} sessions: {shown}"))
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


def _intraday_calendar(frame: pd.DataFrame, symbol: str, market: str, bar: pd.Timedelta) -> list[Finding]:
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
    tz = get_market(market).tz
    dates = opens.tz_convert(tz).tz_localize(None).normalize()
    sched = sessions(market, dates.min(), dates.max())
    so = pd.Series(sched["open"]).reindex(dates).to_numpy()
    sc = pd.Series(sched["close"]).reindex(dates).to_numpy()
    o = opens.to_numpy()
    with np.errstate(invalid="ignore"):
        outside = pd.isna(so) | (o < so) | (o >= sc)
    n = int(np.asarray(outside).sum())
    if n:
        lvl = "error" if n > 0.5 * len(frame) else "warning"
        first = opens[np.flatnonzero(outside)[0]]
        out.append(Finding(lvl, "timezone", symbol, f"{n} of {len(frame)} bar(s) open outside the {market} session "
                           f"(first {first.isoformat()})" + (": wrong time zone?" if lvl == "error" else "")))
    return out


def enforce(findings: list[Finding], where: str | None = None) -> list[str]:
    """Raise a :class:`DataError` for the error findings (all of them, one line); return warnings as text."""
    errors = [f for f in findings if f.level == "error"]
    if errors:
        sym = errors[0].symbol
        msg = "; ".join(f"{f.message} [{f.check}]" for f in errors)
        raise DataError(f"bad data for {sym}: {msg}", where=where or sym)
    return [f.text() for f in findings if f.level == "warning"]
