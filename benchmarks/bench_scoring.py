"""Time the scoring stage on a sweep-sized problem.

1,000 parameter combinations x 10 shock windows x ~20 daily bars (10,000 runs): per-run
``metrics_table``, ``pooled_metrics`` across windows, PBO (CSCV, S = 8) on the pooled returns and
stationary-bootstrap CIs (1,000 resamples) for the pooled runs and for every per-window run.

Run: ``python benchmarks/bench_scoring.py [--repeat N]``; prints the median of N runs of each step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from backtests.scoring import bootstrap_ci, metrics_table, pooled_metrics, pool_returns
from backtests.scoring import probability_of_backtest_overfitting

N_COMBOS, N_WINDOWS, BARS = 1_000, 10, 20


def make_sweep(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Wide per-bar returns (one column per run, NaN outside its window), run map, benchmark."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-02", periods=N_WINDOWS * 40, freq="B", tz="UTC")
    data = np.full((len(index), N_COMBOS * N_WINDOWS), np.nan)
    for w in range(N_WINDOWS):
        bars = BARS + int(rng.integers(-2, 3))  # windows of ~20 sessions
        block = rng.standard_t(4, (bars, N_COMBOS)) * 0.01 + rng.normal(0, 0.0005, N_COMBOS)
        data[w * 40 : w * 40 + bars, w * N_COMBOS : (w + 1) * N_COMBOS] = block
    columns = [f"c{c:04d}@w{w}" for w in range(N_WINDOWS) for c in range(N_COMBOS)]
    runs = pd.DataFrame(
        {"combo": [c.split("@")[0] for c in columns], "window": [c.split("@")[1] for c in columns]},
        index=columns,
    )
    bench = pd.Series(rng.normal(0.0003, 0.012, len(index)), index=index)
    return pd.DataFrame(data, index=index, columns=columns), runs, bench


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    returns, runs, bench = make_sweep()
    pooled, _ = pool_returns(returns, runs)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("metrics_table, 10,000 runs (+benchmark)", lambda: metrics_table(returns, 252, bench)),
        ("pooled_metrics, 1,000 combos", lambda: pooled_metrics(returns, runs, 252)),
        ("PBO (S=8, 70 splits), 1,000 combos", lambda: probability_of_backtest_overfitting(pooled)),
        ("PBO, generic metric path (total_return)", lambda: probability_of_backtest_overfitting(pooled, metric="total_return")),
        ("bootstrap CIs, 1,000 pooled runs x 1,000", lambda: bootstrap_ci(pooled, 252, 1000, seed=0)),
        ("bootstrap CIs, 10,000 window runs x 1,000", lambda: bootstrap_ci(returns, 252, 1000, seed=0)),
    ]
    print(
        f"scoring benchmark: {N_COMBOS} combos x {N_WINDOWS} windows x ~{BARS} bars "
        f"(pooled {pooled.shape[0]} rows); median of {args.repeat} runs"
    )
    total = 0.0
    for name, fn in steps:
        seconds = median_time(fn, args.repeat)
        total += seconds
        print(f"  {name:<45s} {seconds * 1000:9.1f} ms")
    print(f"  {'total':<45s} {total * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
