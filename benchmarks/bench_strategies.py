"""Time the three seed strategies' ``target_weights`` on 1,000-combination sweeps.

One year of the embedded SYNTHETIC daily data (2025-07-01..2026-06-30: the 2026 KOSPI halts, four
Micron reports, the October 2025 cascade), plus a year of 4-hour crypto bars for the rotation. Data
generation and the event catalogue are built once, outside the timings; each timing is the whole
``target_weights`` call for all combinations (context built once, as the runner does).

Run: ``python benchmarks/bench_strategies.py [--repeat N]``; prints the median (and min/max) of N runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repo importable (and its package data)
    sys.path.insert(0, str(ROOT))

from backtests.data.synthetic import generate  # noqa: E402
from backtests.strategy import StrategyContext, expand_grid  # noqa: E402
from backtests.time.windows import load_builtin  # noqa: E402
from strategies.fade_kospi_halt import FadeKospiHalt  # noqa: E402
from strategies.memory_pair_earnings import MemoryPairEarnings  # noqa: E402
from strategies.stablecoin_rotation import StablecoinRotation  # noqa: E402

START, END = "2025-07-01", "2026-06-30"

SWEEPS = {
    "fade_kospi_halt": (FadeKospiHalt, "1D", {
        "threshold": [7.0, 7.5, 8.0, 8.5, 9.0], "use_catalogue": [False, True], "entry": ["close", "ny_open"],
        "hold": [1, 2, 3, 5, 10], "stop_loss": [0.0, 3.0, 5.0, 8.0, 10.0], "take_profit": [0.0, 5.0]}),
    "fade_kospi_halt (vol-targeted)": (FadeKospiHalt, "1D", {
        "threshold": [7.0, 8.0, 9.0, 10.0, 12.0], "entry": ["close", "ny_open"], "hold": [1, 2, 3, 5, 10],
        "stop_loss": [0.0, 5.0], "vol_target": [1.0, 1.5, 2.0, 3.0, 4.0], "atr_window": [10, 20]}),
    "memory_pair_earnings": (MemoryPairEarnings, "1D", {
        "lookback": [20, 40, 60, 90, 120], "entry_z": [1.5, 2.0, 2.5, 3.0, 3.5], "exit_z": [0.0, 0.5],
        "pre_sessions": [0, 1, 2, 3, 5], "post_sessions": [2, 3, 5, 10]}),
    "stablecoin_rotation (daily)": (StablecoinRotation, "1D", {
        "window": [1, 2, 3, 5, 7], "history": [30, 60, 90, 120], "entry_level": [2.0, 2.5, 3.0, 3.5, 4.0],
        "exit_level": [-0.5, 0.0, 0.5, 1.0, 1.5], "confirm": [False, True], "confirm_with": "any"}),
    "stablecoin_rotation (4h)": (StablecoinRotation, "4h", {
        "window": [3, 6, 12, 18, 24], "history": [180, 360, 540, 720], "entry_level": [2.0, 2.5, 3.0, 3.5, 4.0],
        "exit_level": [-0.5, 0.0, 0.5, 1.0, 1.5], "confirm": [False, True], "confirm_with": "any"}),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per sweep (median reported)")
    args = ap.parse_args(argv)

    events = load_builtin().frame()
    data = {f: generate(frequency=f, start=START, end=END) for f in ("1D", "4h")}
    print(f"seed strategies, one year of SYNTHETIC data ({START}..{END}), median of {args.repeat} runs")
    print(f"{'sweep':34s} {'combos':>6s} {'stamps':>6s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'ms/combo':>9s}")
    for label, (cls, freq, spec) in SWEEPS.items():
        s = cls()
        grid = expand_grid(s.params, spec, s.name)
        for combo in grid.to_dict("records"):
            cls.check_params(combo)
        ctx = StrategyContext(data[freq].select(list(s.symbols.values())), s.symbols, events)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            w = s.target_weights(ctx, grid)
            times.append(time.perf_counter() - t0)
        assert w.shape[1] == len(grid) * len(s.traded_symbols)
        med = statistics.median(times)
        print(f"{label:34s} {len(grid):6d} {len(ctx.index):6d} {med:9.3f} {min(times):7.3f} {max(times):7.3f} "
              f"{1000 * med / len(grid):9.3f}")


if __name__ == "__main__":
    main()
