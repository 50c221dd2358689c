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
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.bounded import DataLimits, open_regular, size_text
from backtests.time.calendars import CRYPTO, LocalTimeError, get_market, localize, parse_frequency
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
    parquet file), aligned with ``frame``, so quality errors can point at it. ``frequency`` is the
    file's bar frequency (declared, or inferred from the spacing of its times).
    """

    frame: pd.DataFrame
    layout: str
    warnings: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    frequency: str = "1D"


def _limit_hint(name: str) -> str:
    return f"limits.{name} in the study config, or --max-{name.split('_')[-1]} of scare data import"


def check_file_size(path: Path, limits: DataLimits | None = None) -> int:
    """The size of a data file, refused (one line naming ``limits.max_data_bytes``) before any parsing
    when it is larger; a FIFO, a device or a folder is refused without being read."""
    limits = limits or DataLimits()
    fd = open_regular(path, error=DataError)
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > limits.max_data_bytes:
        shown = f" ({size_text(limits.max_data_bytes)})" if limits.max_data_bytes >= 1024 else ""
        raise DataError(f"data file is {size_text(size)}, above limits.max_data_bytes = {limits.max_data_bytes:,} "
                        f"bytes{shown}; cut the file to the dates the study needs, or raise "
                        f"{_limit_hint('max_data_bytes')}", where=str(path))
    return size


def too_many_rows(rows: int, limits: DataLimits, where: str) -> DataError:
    exact = f": {rows:,}" if rows > limits.max_data_rows + 1 else ""
    return DataError(f"data file has more than {limits.max_data_rows:,} rows (limits.max_data_rows){exact}; cut the "
                     f"file to the dates the study needs, or raise {_limit_hint('max_data_rows')}", where=where)


def read_table(path: Path, limits: DataLimits | None = None) -> pd.DataFrame:
    """Read a CSV (UTF-8, BOM tolerated) or parquet file into a DataFrame, within ``limits``.

    The size is checked before parsing; a CSV is parsed for at most ``max_data_rows + 1`` rows and
    a parquet file's row count is read from its footer first, so memory stays bounded.
    """
    limits = limits or DataLimits()
    if not path.exists():
        raise DataError("data file not found", where=str(path))
    check_file_size(path, limits)
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(path).metadata.num_rows
            if rows > limits.max_data_rows:
                raise too_many_rows(rows, limits, str(path))
            return pd.read_parquet(path)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds on a damaged or foreign file
            raise DataError(f"cannot read parquet file: {_first_line(exc)}", where=str(path)) from None
    try:
        table = pd.read_csv(path, encoding="utf-8-sig", nrows=limits.max_data_rows + 1)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"cannot read CSV file: {_first_line(exc)}", where=str(path)) from None
    if len(table) > limits.max_data_rows:
        raise too_many_rows(len(table), limits, str(path))
    return _single_header(table, str(path))


def _single_header(table: pd.DataFrame, where: str) -> pd.DataFrame:
    """A ``yf.download(...).to_csv()`` file has three header lines (``Price, Close, High ...``,
    ``Ticker, MU, MU ...``, ``Datetime,,,``): keep one, named as yfinance's own single-level export
    (``Datetime, Close, High ...``). ``attrs["header_lines"]`` says how many lines precede the data."""
    table.attrs["header_lines"] = 1
    cols = list(table.columns)
    if not cols or str(cols[0]) != "Price" or len(table) < 2:
        return table
    first = table.iloc[:, 0].astype(str)
    if first.iloc[0] != "Ticker" or first.iloc[1] not in ("Date", "Datetime"):
        return table
    tickers = sorted({str(t) for t in table.iloc[0, 1:]})
    if len(tickers) > 1:
        raise DataError(f"the yfinance export holds {len(tickers)} tickers ({', '.join(tickers[:5])}); write one "
                        "ticker per file", where=where)
    out = table.iloc[2:].rename(columns={cols[0]: first.iloc[1]}).reset_index(drop=True)
    out.attrs["header_lines"] = 3
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def detect_layout(columns: list[str]) -> str:
    """Name of the layout a header matches (see module table)."""
    cols = set(columns)
    if "datetime_utc" in cols or "time_ms" in cols:
        return "coinglass"
    if "Close" in cols and (cols & {"Date", "Datetime"} or columns[:1] == ["Price"]):
        return "yfinance"  # a single-level export, or yf.download(...).to_csv() (Price/Ticker header rows)
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
    dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup:
        raise DataError(f"two columns become {dup[0]!r} under the {layout} layout (have: {', '.join(raw.columns)}); "
                        "give 'columns' (e.g. {close: value}) or another 'layout'", where=where)
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
        parse = _parse_times
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


def _parse_times(values: pd.Series) -> pd.Series:
    """Dates or date-times as written; times with UTC offsets that change inside the file (an
    export spanning a daylight-saving change: ``-05:00`` then ``-04:00``) become UTC instants."""
    try:
        return pd.to_datetime(values, format="mixed")
    except ValueError as exc:
        if "Mixed timezones" not in str(exc):
            raise
        return pd.to_datetime(values, format="mixed", utc=True)


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
    frequency: str = "auto", close_time: str | None = None,
    start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, require_close: bool = True,
    limits: DataLimits | None = None, time_zone: str | None = None, bar_time: str = "open",
) -> LoadedFile:
    """Read, map, check and stamp one file of bars.

    Parameters
    ----------
    path
        CSV or parquet.
    market
        Market whose calendar stamps daily bars and whose sessions intraday bars belong to.
    layout, columns
        Column layout (``auto`` detects) and explicit ``{our_field: file_column}`` mapping.
    frequency
        ``auto`` (default): inferred from the spacing of the times (:func:`infer_frequency`);
        ``1D`` for daily bars labelled by local date; an intraday length (``1min``, ``5min``,
        ``4h``) for bars labelled by a time. A file whose spacing contradicts the declared
        frequency is refused (:func:`check_spacing`).
    start, end
        Local dates to keep (inclusive), applied before the checks (so a known bad early stretch
        can be cut off).
    require_close
        False for files of extra series (liquidations) merged into another symbol.
    limits
        ``max_data_bytes`` / ``max_data_rows`` (a study's ``limits``; default: the documented defaults).
    time_zone
        Intraday files: the zone of times written without a UTC offset: ``UTC``, ``exchange`` (the
        market's own zone) or an IANA name. Default: the market's zone for XKRX/XNYS (exports in
        local time), UTC for CRYPTO and the CoinGlass layout. Times with an offset are taken as
        written. A local time in a daylight-saving gap or repeated hour is refused, not guessed.
    bar_time
        Intraday files: ``open`` (default) when a bar is labelled by its start (yfinance, ccxt,
        most exports), ``close`` when by its end.

    Returns
    -------
    LoadedFile
        Stamped bars (``open_time`` kept), the layout, warnings, row labels and the frequency.
    """
    where = str(path)
    raw = read_table(path, limits)
    if raw.empty:
        raise DataError("file has no rows", where=where)
    csv = path.suffix.lower() not in {".parquet", ".pq"}
    skip = int(raw.attrs.get("header_lines", 1)) + 1
    labels = np.array([f"line {i + skip}" if csv else f"row {i + 1}" for i in range(len(raw))], dtype=object)
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
    if df.index.hasnans:
        i = int(np.flatnonzero(df.index.isna())[0])
        raise DataError(f"field date: empty date ({labels[i]})", where=where)
    _representable(df.index, labels, where)
    freq = resolve_frequency(df.index, frequency, where)
    bar = parse_frequency(freq)
    if bar is not None:  # intraday: the instants first, so dates are the market's local dates
        df = df.set_axis(_instants(df.index, market, time_zone, convention, labels, where))
        check_spacing(df.index, bar, freq, labels, where)
        local = df.index.tz_convert(get_market(market).tz).tz_localize(None)
    else:
        local = df.index.tz_convert(None) if df.index.tz is not None else df.index
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
    try:
        if bar is None:
            if convention == "utc_open":  # UTC times (a naive one is read as UTC)
                idx = pd.DatetimeIndex(df.index)
                df.index = idx.tz_localize(None) if idx.tz is None else idx.tz_convert("UTC").tz_localize(None)
            frame = daily_bars(df, market, close_time=close_time)
        else:
            frame = intraday_bars(df, freq, stamped_at=bar_time, market=market)
    except LocalTimeError as exc:  # close_time in a daylight-saving gap or repeated hour on that date
        raise DataError(f"field date: close_time {close_time} on {labels[exc.row]}: {exc.bare_message}; scare does "
                        "not guess the instant: remove that date or choose a close_time that exists on every date",
                        where=where) from None
    except DataError as exc:  # a date outside the exchange calendar's range
        raise DataError(f"field date: {exc.bare_message}", where=where) from None
    return LoadedFile(frame=frame, layout=lay, warnings=warnings, labels=labels, frequency=freq)


# ------------------------------------------------------------------------ intraday files
DAY_NS = 86_400_000_000_000
#: Instants scare computes with (int64 nanoseconds) and a day of margin for time zones.
FIRST_TIME, LAST_TIME = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")


def _representable(times: pd.DatetimeIndex, labels: np.ndarray, where: str) -> None:
    """Refuse times beyond what int64 nanoseconds hold (year 1 is a typo, not a bar)."""
    wall = times.tz_localize(None) if times.tz is not None else times
    bad = np.flatnonzero(np.asarray((wall < FIRST_TIME) | (wall > LAST_TIME)))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"field date: {wall[i]} ({labels[i]}) is outside the dates scare handles "
                        f"({FIRST_TIME.year}..{LAST_TIME.year})", where=where)


def frequency_label(step_ns: int) -> str:
    """A bar length in ns as a frequency string: ``1D`` from a day up, else ``4h``, ``5min``, ``30s``."""
    if step_ns >= DAY_NS:
        return "1D"
    if step_ns % 3_600_000_000_000 == 0:
        return f"{step_ns // 3_600_000_000_000}h"
    if step_ns % 60_000_000_000 == 0:
        return f"{step_ns // 60_000_000_000}min"
    return f"{max(step_ns // 1_000_000_000, 1)}s"


def _steps(times: pd.DatetimeIndex) -> np.ndarray:
    """Positive steps (ns) between the distinct times, in time order."""
    t = np.unique(pd.DatetimeIndex(times).as_unit("ns").asi8)
    return np.diff(t)


def infer_frequency(times: pd.DatetimeIndex) -> str | None:
    """The bar frequency a file's times show: ``1D`` when every time is a midnight (dates) or the
    most common step is a day or more, else the most common step (``1min``, ``5min``, ``4h``);
    ``None`` when it cannot be told (one time of day on a single row)."""
    idx = pd.DatetimeIndex(times)
    wall = idx.tz_localize(None) if idx.tz is not None else idx
    if len(wall) and bool((wall == wall.normalize()).all()):
        return "1D"
    steps = _steps(idx)
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    return frequency_label(int(values[np.argmax(counts)]))


def resolve_frequency(times: pd.DatetimeIndex, declared: str, where: str) -> str:
    """The file's frequency: inferred when ``declared`` is ``auto``, else the declared one after
    checking that a daily declaration does not meet intraday bars (several bars on one date)."""
    inferred = infer_frequency(times)
    if str(declared).strip().lower() == "auto":
        if inferred is None:
            raise DataError("cannot infer the bar frequency from a single timed row; declare it (frequency: 1min, "
                            "5min, 4h ...)", where=where)
        return inferred
    if parse_frequency(declared) is None and inferred not in (None, "1D"):
        idx = pd.DatetimeIndex(times)
        day = (idx.tz_localize(None) if idx.tz is not None else idx).normalize()
        counts = pd.Series(1, index=day).groupby(level=0).size()
        if counts.max() > 1:
            busiest = counts.idxmax()
            raise DataError(f"field date: the file has {int(counts.max())} bars on {busiest.date()}, {inferred} apart: "
                            f"intraday bars, but frequency 1D is declared; declare frequency: {inferred} (or auto)",
                            where=where)
    return declared


def _instants(times: pd.DatetimeIndex, market: str, time_zone: str | None, convention: str,
              labels: np.ndarray, where: str) -> pd.DatetimeIndex:
    """UTC instants of intraday bar times (see ``time_zone`` of :func:`load_file`)."""
    idx = pd.DatetimeIndex(times)
    if idx.tz is not None:
        return idx.tz_convert("UTC").as_unit("ns")
    zone = time_zone or ("UTC" if market == CRYPTO or convention == "utc_open" else "exchange")
    tz = get_market(market).tz if zone == "exchange" else zone
    try:
        return localize(idx, tz).as_unit("ns")
    except LocalTimeError as exc:
        raise DataError(f"field date: {labels[exc.row]}: {exc.bare_message}; scare does not guess the instant: write "
                        "the time with its UTC offset, or remove the row", where=where) from None


def check_spacing(opens: pd.DatetimeIndex, bar: pd.Timedelta, label: str, labels: np.ndarray, where: str) -> None:
    """Refuse intraday bars whose spacing contradicts their declared length.

    Gaps are allowed (a night, a halt, a minute without trades): every step between two bars must
    be a whole number of bars, and the most common step must be one bar (1-minute bars declared
    as ``5min`` have steps that are whole minutes but mostly one minute).
    """
    t = pd.DatetimeIndex(opens).as_unit("ns").asi8
    order = np.argsort(t, kind="stable")
    ts = t[order]
    d = np.diff(ts)
    pos = np.flatnonzero(d > 0)
    if pos.size == 0:
        return
    steps = d[pos]
    values, counts = np.unique(steps, return_counts=True)
    mode = int(values[np.argmax(counts)])
    if mode != bar.value:
        raise DataError(f"field date: most bars are {frequency_label(mode)} apart ({int(counts.max())} of "
                        f"{steps.size} steps), not {label}: the spacing contradicts frequency {label}; declare "
                        f"frequency: {frequency_label(mode)} (or auto)", where=where)
    off = np.flatnonzero(steps % bar.value != 0)
    if off.size:
        i = pos[off[0]]
        a, b = order[i], order[i + 1]
        raise DataError(f"field date: bars at {pd.Timestamp(ts[i], tz='UTC').isoformat()} ({labels[a]}) and "
                        f"{pd.Timestamp(ts[i + 1], tz='UTC').isoformat()} ({labels[b]}) are "
                        f"{pd.Timedelta(int(steps[off[0]]))} apart, not a whole number of {label} bars: the spacing "
                        f"contradicts frequency {label} ({off.size} such step(s)); declare the file's frequency, "
                        "or auto", where=where)


#: A CSV header is found in the file's first bytes (a "line" longer than this is not a header).
MAX_HEADER_BYTES = 1 << 20


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV, read from its first line only (at most :data:`MAX_HEADER_BYTES`)."""
    fd = open_regular(path, error=DataError)
    try:
        head = os.read(fd, MAX_HEADER_BYTES)
    except OSError as exc:
        raise DataError(f"cannot read CSV header: {exc.strerror or exc}", where=str(path)) from None
    finally:
        os.close(fd)
    end = head.find(b"\n")
    if end < 0 and len(head) == MAX_HEADER_BYTES:
        raise DataError(f"no header line in the first {size_text(MAX_HEADER_BYTES)} (not a CSV file?)",
                        where=str(path))
    line = head if end < 0 else head[:end]
    try:
        return list(pd.read_csv(io.BytesIO(line + b"\n"), nrows=0, encoding="utf-8-sig").columns)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
        raise DataError(f"cannot read CSV header: {_first_line(exc)}", where=str(path)) from None


def declared_columns(path: Path, layout: str = "auto", columns: dict[str, str] | None = None) -> set[str]:
    """Our field names a file will provide, from its header only (no data read)."""
    if not path.exists():
        raise DataError("data file not found", where=str(path))
    os.close(open_regular(path, error=DataError))  # a FIFO would block the header read
    if path.suffix.lower() in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        try:
            header = list(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds on a damaged or foreign file
            raise DataError(f"cannot read parquet file: {_first_line(exc)}", where=str(path)) from None
    else:
        header = csv_header(path)
    try:
        lay = detect_layout(header) if layout == "auto" else layout
    except DataError as exc:
        raise DataError(exc.bare_message, where=str(path)) from None
    if lay == "yfinance":
        names = {c.lower().replace(" ", "_") for c in header if c != "Price"}
    elif lay == "fred":
        names = {"close" if c == "value" else c for c in header}
    elif lay == "coinglass":
        names = {COINGLASS_RENAME.get(c, c) for c in header}
    else:
        names = set(header)
    names |= set((columns or {}).keys())
    return (names - set(METADATA_COLUMNS) - set(TIME_COLUMNS)) | {"open_time"}
