"""Read bars from CSV or parquet files with a column mapping for common layouts.

Layouts recognised by ``layout: auto`` (from the header):

=============  ===================================================  ==========================
layout         header                                               time column means
=============  ===================================================  ==========================
yfinance       Date, Open, High, Low, Close[, Adj Close], Volume    local session date
ohlcv          date, open, high, low, close[, adj_close, volume]    local session date
close_only     date, close                                          local session date
fred           date, value                                          local date (a fixing)
coinglass      datetime_utc / time_ms, ... (liquidations, OHLC)     bar OPEN time, UTC
=============  ===================================================  ==========================

CoinGlass liquidation columns become ``long_liquidations_usd`` / ``short_liquidations_usd``.
Non-numeric metadata columns (``source``, ``source_commit`` ...) are dropped. Rows with an empty
close are dropped with a warning; anything else malformed is a :class:`DataError` naming the file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.time.calendars import parse_frequency
from backtests.data.frames import daily_bars, intraday_bars
from backtests.errors import DataError

COINGLASS_RENAME = {
    "aggregated_long_liquidation_usd": "long_liquidations_usd",
    "aggregated_short_liquidation_usd": "short_liquidations_usd",
    "volume_usd": "volume",
}
TIME_COLUMNS = ("date", "Date", "datetime", "Datetime", "timestamp", "time", "datetime_utc")
#: Provenance columns some dumps carry; numeric but not market data.
METADATA_COLUMNS = ("source", "source_commit", "source_snapshot", "scaled_factor", "time_ms")


@dataclass
class LoadedFile:
    """Bars read from one file, stamped, plus the warnings met on the way.

    ``labels`` names each kept row where it is in the file (``line 12`` of a CSV, ``row 11`` of a
    parquet file), aligned with ``frame``, so quality errors can point at it.
    """

    frame: pd.DataFrame
    layout: str
    warnings: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (UTF-8, BOM tolerated) or parquet file into a DataFrame."""
    if not path.is_file():
        raise DataError("data file not found", where=str(path))
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds on a damaged or foreign file
            raise DataError(f"cannot read parquet file: {_first_line(exc)}", where=str(path)) from None
    try:
        return pd.read_csv(path, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"cannot read CSV file: {_first_line(exc)}", where=str(path)) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def detect_layout(columns: list[str]) -> str:
    """Name of the layout a header matches (see module table)."""
    cols = set(columns)
    if "datetime_utc" in cols or "time_ms" in cols:
        return "coinglass"
    if {"Date", "Close"} <= cols:
        return "yfinance"
    if "value" in cols and "close" not in cols and "date" in cols:
        return "fred"
    if {"open", "high", "low", "close"} <= cols:
        return "ohlcv"
    if "close" in cols:
        return "close_only"
    if cols & {"open", "high", "low", "Open", "High", "Low"}:
        raise DataError(f"required column 'close' is missing (have: {', '.join(columns)})")
    raise DataError(f"unrecognised column layout {sorted(cols)}; give 'layout' or 'columns'")


def _normalise(raw: pd.DataFrame, layout: str, mapping: dict[str, str], where: str) -> tuple[pd.DataFrame, str]:
    """Rename to our fields, return (table with a 'time' column, time convention)."""
    df = raw.copy()
    if layout == "yfinance":
        df = df.rename(columns={c: c.lower().replace(" ", "_") for c in df.columns})
    elif layout == "fred":
        df = df.rename(columns={"value": "close"})
    elif layout == "coinglass":
        df = df.rename(columns=COINGLASS_RENAME)
    for ours, theirs in mapping.items():
        if theirs not in raw.columns:
            raise DataError(f"mapped column {theirs!r} (for {ours}) is not in the file (have: {', '.join(raw.columns)})",
                            where=where)
        df[ours] = raw[theirs]
    if layout == "coinglass" and "datetime_utc" in df.columns:
        tcol, parse = "datetime_utc", lambda v: pd.to_datetime(v, utc=True)
    elif layout == "coinglass" and "time_ms" in df.columns:
        tcol, parse = "time_ms", lambda v: pd.to_datetime(pd.to_numeric(v, errors="raise"), unit="ms", utc=True)
    else:
        tcol = mapping.get("time") or next((c for c in TIME_COLUMNS if c in df.columns), None)
        if tcol is None:
            raise DataError(f"no date/time column (have: {', '.join(map(str, raw.columns))})", where=where)
        parse = lambda v: pd.to_datetime(v, format="mixed")  # noqa: E731
    try:
        time = parse(df[tcol])
    except (ValueError, TypeError, OverflowError) as exc:  # DateParseError, OutOfBoundsDatetime are ValueErrors
        raise DataError(f"field {tcol}: unreadable dates ({_first_line(exc)})", where=where) from None
    convention = "utc_open" if layout == "coinglass" else "local_date"
    df = df.drop(columns=[c for c in ("date", "Date", "datetime_utc", "time_ms", "time", "datetime", "timestamp")
                          if c in df.columns and c not in mapping])
    df.index = pd.DatetimeIndex(time)
    df.index.name = "time"
    return df, convention


def _numeric(df: pd.DataFrame, where: str) -> pd.DataFrame:
    keep = {}
    for col in df.columns:
        if col in METADATA_COLUMNS:
            continue
        series = df[col]
        if pd.api.types.is_numeric_dtype(series):
            keep[col] = series.astype("float64")
            continue
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna() & series.notna() & (series.astype(str).str.strip() != "")
        if col in ("open", "high", "low", "close", "volume") or col.endswith("_usd"):
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"non-numeric {col} {series.iloc[i]!r} at {df.index[i]}", where=where)
            keep[col] = converted.astype("float64")
        # other non-numeric columns are metadata (source, commit ids): dropped
    return pd.DataFrame(keep, index=df.index)


def load_file(
    path: Path, market: str, layout: str = "auto", columns: dict[str, str] | None = None,
    frequency: str = "1D", close_time: str | None = None,
    start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, require_close: bool = True,
) -> LoadedFile:
    """Read, map, check and stamp one file of bars.

    Parameters
    ----------
    path
        CSV or parquet.
    market
        Market whose calendar stamps daily bars.
    layout, columns
        Column layout (``auto`` detects) and explicit ``{our_field: file_column}`` mapping.
    frequency
        ``1D`` for daily bars labelled by local date; intraday (``4h``, ``5min``) for bars
        labelled by their UTC open time.
    start, end
        Local dates to keep (inclusive), applied before the checks (so a known bad early stretch
        can be cut off).
    require_close
        False for files of extra series (liquidations) merged into another symbol.
    """
    where = str(path)
    raw = read_table(path)
    if raw.empty:
        raise DataError("file has no rows", where=where)
    csv = path.suffix.lower() not in {".parquet", ".pq"}
    labels = np.array([f"line {i + 2}" if csv else f"row {i + 1}" for i in range(len(raw))], dtype=object)
    try:
        lay = detect_layout(list(raw.columns)) if layout == "auto" else layout
    except DataError as exc:
        raise DataError(exc.bare_message, where=where) from None
    df, convention = _normalise(raw, lay, dict(columns or {}), where)
    df = _numeric(df, where)
    warnings: list[str] = []
    if require_close:
        if "close" not in df.columns:
            raise DataError(f"required column 'close' is missing (have: {', '.join(raw.columns)})", where=where)
        empty = df["close"].isna()
        if empty.any():
            warnings.append(f"{where}: dropped {int(empty.sum())} row(s) with an empty close "
                            f"(first {df.index[empty.to_numpy()][0].date()}, {labels[empty.to_numpy()][0]})")
            df = df.loc[~empty.to_numpy()]
            labels = labels[~empty.to_numpy()]
    local = df.index.tz_convert(None) if df.index.tz is not None else df.index
    if local.hasnans:
        i = int(np.flatnonzero(local.isna())[0])
        raise DataError(f"field date: empty date ({labels[i]})", where=where)
    keep = np.ones(len(df), dtype=bool)
    if start is not None:
        keep &= local >= pd.Timestamp(start)
    if end is not None:
        keep &= local < pd.Timestamp(end) + pd.Timedelta(days=1)
    df = df.loc[keep]
    labels = labels[keep]
    if df.empty:
        raise DataError("no rows left in the requested date range", where=where)
    # a row dated after today is a typo or a file from the future, and beyond the exchange calendars
    late = np.flatnonzero(np.asarray(local[keep] > pd.Timestamp.now().normalize() + pd.Timedelta(days=1)))
    if late.size:
        raise DataError(f"field date: {late.size} row(s) dated after today, first {local[keep][late[0]].date()} "
                        f"({labels[late[0]]}) [future]", where=where)
    bar = parse_frequency(frequency)
    try:
        if bar is None:
            if convention == "utc_open" and df.index.tz is not None:
                df.index = df.index.tz_convert("UTC").tz_localize(None)
            frame = daily_bars(df, market, close_time=close_time)
        else:
            frame = intraday_bars(df, frequency, stamped_at="open")
    except DataError as exc:  # a date outside the exchange calendar's range
        raise DataError(f"field date: {exc.bare_message}", where=where) from None
    except (pd.errors.OutOfBoundsDatetime, OverflowError):  # e.g. year 1: beyond nanosecond timestamps
        raise DataError("field date: a date outside 1677-2262 (nanosecond timestamps)", where=where) from None
    return LoadedFile(frame=frame, layout=lay, warnings=warnings, labels=labels)


def declared_columns(path: Path, layout: str = "auto", columns: dict[str, str] | None = None) -> set[str]:
    """Our field names a file will provide, from its header only (no data read)."""
    if not path.is_file():
        raise DataError("data file not found", where=str(path))
    if path.suffix.lower() in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        try:
            header = list(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds on a damaged or foreign file
            raise DataError(f"cannot read parquet file: {_first_line(exc)}", where=str(path)) from None
    else:
        try:
            header = list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
            raise DataError(f"cannot read CSV header: {_first_line(exc)}", where=str(path)) from None
    try:
        lay = detect_layout(header) if layout == "auto" else layout
    except DataError as exc:
        raise DataError(exc.bare_message, where=str(path)) from None
    if lay == "yfinance":
        names = {c.lower().replace(" ", "_") for c in header}
    elif lay == "fred":
        names = {"close" if c == "value" else c for c in header}
    elif lay == "coinglass":
        names = {COINGLASS_RENAME.get(c, c) for c in header}
    else:
        names = set(header)
    names |= set((columns or {}).keys())
    return (names - set(METADATA_COLUMNS) - set(TIME_COLUMNS)) | {"open_time"}
