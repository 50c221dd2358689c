"""Fuzz the files source: no input file leads to a traceback, a hang or unbounded memory.

Every generated file (random bytes, or CSV/parquet tables mixing real and hostile headers, dates
and values) goes through the whole ``source: files`` path (read, map, stamp, quality checks,
MarketData). The only acceptable outcomes are data or a :class:`ScareInputError` (one line, exit 2
at the CLI). Bounds stated and checked per example: at most 5 s (hypothesis ``deadline``) and
at most 64 MB of Python allocations at peak (``tracemalloc``), for files of up to 60 rows.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.config.model import DataConfig, FileSpec
from backtests.data.sources import load_market_data
from backtests.errors import ScareInputError

PEAK_BYTES = 64 * 2**20
LAYOUT_HEADERS = [["date", "open", "high", "low", "close", "volume"], ["Date", "Open", "High", "Low", "Close", "Volume"],
                  ["date", "close"], ["date", "value"], ["datetime_utc", "aggregated_long_liquidation_usd",
                                                         "aggregated_short_liquidation_usd"]]
COLUMNS = ["date", "Date", "datetime_utc", "time_ms", "open", "high", "low", "close", "Close", "volume",
           "value", "adj_close", "source", "junk", ""]
GOOD_DATES = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2025-01-02", "2025-03-31")]
HOSTILE_DATES = ["2025-01-28", "2025-01-25", "2025-02-30", "2099-01-05", "1800-01-01", "0001-01-01",
                 "2025-01-31T10:00:00", "2025-01-31 25:00", "31/01/2025", "1737936000000", "abc", "", "NaT",
                 "2262-04-12", "9999-12-31"]
GOOD_VALUES = ["100", "101.5", "99", "100.25", "98.5", "1000000"]
HOSTILE_VALUES = ["0", "-3", "inf", "-inf", "nan", "", "1e308", "1e-320", "12,5x", "True", "190",
                  "100000000000000000000000000", "\x00", "\u2212"]

dates = st.one_of(st.sampled_from(GOOD_DATES), st.sampled_from(GOOD_DATES), st.sampled_from(HOSTILE_DATES))
values = st.one_of(st.sampled_from(GOOD_VALUES), st.sampled_from(GOOD_VALUES), st.sampled_from(GOOD_VALUES),
                   st.sampled_from(HOSTILE_VALUES))
headers = st.one_of(st.sampled_from(LAYOUT_HEADERS), st.sampled_from(LAYOUT_HEADERS),
                    st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6))
tables = st.lists(st.tuples(dates, st.lists(values, min_size=6, max_size=6)), min_size=0, max_size=60)


def _run(path: Path, market: str, frequency: str, layout: str) -> None:
    cfg = DataConfig(source="files", frequency="1D",
                     files=(FileSpec(path=str(path), symbol="X", market=market, frequency=frequency, layout=layout),))
    tracemalloc.start()
    try:
        try:
            load_market_data(cfg, path.parent)
        except ScareInputError as exc:
            assert "\n" not in str(exc), str(exc)  # one line
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{peak / 2**20:.1f} MB"


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="scare-fuzz-") as d:
        # warm the calendars once so an example's time is the loader's, not the first schedule build
        from backtests.time.calendars import sessions

        for m in ("XKRX", "XNYS"):
            sessions(m, "1990-01-01", "2030-12-31")
        yield Path(d)


@settings(max_examples=80, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=headers, rows=tables,
       market=st.sampled_from(["XKRX", "XNYS", "CRYPTO"]), frequency=st.sampled_from(["1D", "auto", "4h", "1min"]),
       layout=st.sampled_from(["auto", "auto", "ohlcv", "close_only", "coinglass", "fred", "yfinance"]),
       parquet=st.booleans())
def test_tables_never_crash(folder, header, rows, market, frequency, layout, parquet):
    cols = list(header)
    width = len(cols)
    body = [[d, *vals][:width] + [""] * max(0, width - 1 - len(vals)) for d, vals in rows]
    if parquet:
        path = folder / "x.parquet"
        frame = pd.DataFrame(body, columns=None if not cols else range(width)).astype(object)
        frame.columns = [str(c) for c in cols] if len(set(cols)) == len(cols) else [f"{c}{i}" for i, c in
                                                                                   enumerate(cols)]
        # typed columns where the text is numeric, as a real parquet writer would store them
        for c in frame.columns[1:]:
            num = pd.to_numeric(frame[c], errors="coerce")
            if num.notna().all() and len(frame):
                frame[c] = num
        try:
            frame.to_parquet(path)
        except Exception:  # noqa: BLE001 - pyarrow refuses some mixed columns: nothing to load then
            return
    else:
        path = folder / "x.csv"
        text = ",".join(cols) + "\n" + "".join(",".join(r) + "\n" for r in body)
        path.write_text(text, encoding="utf-8")
    _run(path, market, frequency, layout)


@settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".parquet"]),
       prefix=st.sampled_from([b"", b"PAR1", b"date,close\n", b"\xef\xbb\xbfDate,Close\n"]))
def test_random_bytes_never_crash(folder, data, suffix, prefix):
    path = folder / f"r{suffix}"
    body = prefix + data + (b"PAR1" if suffix == ".parquet" and prefix == b"PAR1" else b"")
    path.write_bytes(body)
    _run(path, "XKRX", "1D", "auto")


def test_a_large_clean_file_stays_within_the_memory_bound(folder):
    """The bound holds for real sizes too: 10 years of daily bars (2,500 rows) load under 64 MB."""
    from backtests.time.calendars import sessions

    days = sessions("XNYS", "2015-01-02", "2024-12-31").index
    c = 100 * np.cumprod(1 + 0.001 * np.sin(np.arange(len(days))))
    path = folder / "big.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "open": c, "high": c * 1.01, "low": c * 0.99,
                  "close": c, "volume": 1e6}).to_csv(path, index=False)
    _run(path, "XNYS", "1D", "auto")
