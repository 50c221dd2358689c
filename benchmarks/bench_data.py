"""Time the data layer on a year of daily bars for ten symbols: import, fetch (provider answering
instantly, so only our code is timed) and cache reads for a study (with quality checks).

Run: ``python benchmarks/bench_data.py [--repeat N]``; prints the median of N runs of each step.
With ``../shared/data`` present it also times ``scare data import`` of that whole folder.
A real fetch is bounded by the provider: Yahoo answers one ticker-year in ~0.3-1 s, so ten symbols
cost seconds of network against the milliseconds measured here.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.time.calendars import sessions
from backtests.config.model import DataConfig
from backtests.data.cache import Cache, fetch, load_market_data
from backtests.data.importer import import_path
from backtests.data.providers.yahoo import YahooProvider

SYMBOLS = ("MU", "NVDA", "SOXX", "QQQ", "SPY", "EWY", "^KS11", "000660.KS", "005930.KS", "069500.KS")
START, END = "2025-01-02", "2025-12-30"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def yf_answer(symbol: str) -> pd.DataFrame:
    """What ``yf.download(symbol, auto_adjust=True)`` returns for a year: (Price, Ticker) columns."""
    market = "XKRX" if symbol.endswith(".KS") or symbol == "^KS11" else "XNYS"
    days = sessions(market, START, END).index
    rng = np.random.default_rng(abs(hash(symbol)) % 2**32)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
    cols = pd.MultiIndex.from_product([["Close", "High", "Low", "Open", "Volume"], [symbol]], names=["Price", "Ticker"])
    df = pd.DataFrame(np.c_[c, c * 1.01, c * 0.99, c * 1.001, np.full(len(c), 1e6)], columns=cols,
                      index=pd.DatetimeIndex(days, name="Date"))
    return df


def write_csvs(folder: Path) -> None:
    for s in SYMBOLS:
        df = yf_answer(s).xs(s, axis=1, level="Ticker")
        df.to_csv(folder / f"{s}.csv")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    answers = {s: yf_answer(s) for s in SYMBOLS}
    provider = YahooProvider(download=lambda t, **kw: answers[t])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "csv"
        src.mkdir()
        write_csvs(src)
        sessions("XKRX", START, END)  # warm the calendar cache once, as every later run has it

        def do_import() -> None:
            import_path(Cache(tmp / f"imp{time.perf_counter_ns()}"), src)

        def do_fetch() -> None:
            c = Cache(tmp / f"fetch{time.perf_counter_ns()}")
            for s in SYMBOLS:
                fetch(c, s, "bars", "1D", START, END, provider=provider)

        read_root = tmp / "read"
        for s in SYMBOLS:
            fetch(Cache(read_root), s, "bars", "1D", START, END, provider=provider)
        cfg = DataConfig(source="cache", cache_dir=str(read_root), symbols=SYMBOLS, start=START, end=END, fx={})

        def do_read() -> None:
            load_market_data(cfg, offline=True)

        def do_uptodate() -> None:
            for s in SYMBOLS:
                fetch(Cache(read_root), s, "bars", "1D", START, END, provider=provider)

        print(f"data layer, {len(SYMBOLS)} symbols x 1 year of daily bars (median of {args.repeat})")
        print(f"  import 10 CSV files            {median_time(do_import, args.repeat) * 1000:8.1f} ms")
        print(f"  fetch 10 symbols (instant API) {median_time(do_fetch, args.repeat) * 1000:8.1f} ms")
        print(f"  re-fetch, already cached      {median_time(do_uptodate, args.repeat) * 1000:8.1f} ms")
        print(f"  study read + quality checks    {median_time(do_read, args.repeat) * 1000:8.1f} ms")
        if SHARED.is_dir():
            def do_shared() -> None:
                import_path(Cache(tmp / f"shared{time.perf_counter_ns()}"), SHARED)

            n = sum(1 for p in SHARED.rglob("*") if p.is_file())
            print(f"  import ../shared/data ({n} files) {median_time(do_shared, max(1, args.repeat // 2)):7.2f} s")


if __name__ == "__main__":
    main()
