"""One scaling measurement in its own process, so its peak memory is its own.

``python -m benchmarks.worker --mode engine --combos 1000 --freq 1D --repeat 3``

Modes (all on the same ``ma_cross`` grid of ``--combos`` combinations):

``engine``
    Strategy weights (``MACross.target_weights``) then ``backtests.engine.simulate.simulate`` on
    one window (the last ~252 sessions of daily data, or the whole 5-minute year).
``runner``
    The runner's per-strategy path ``run_strategy`` (strategy, engine, per-run bookkeeping) and then
    ``score_strategy`` (metrics, pooling, ranking with DSR/PBO, bootstrap of the top runs).
``vbt``
    The same weights turned into orders and simulated by one hand-written
    ``vbt.Portfolio.from_orders`` call (the reference).

Before timing, the process imports vectorbt and runs a 1-combination warm-up (loads the numba
kernels), reported as ``warmup_s``. Prints one JSON object on stdout: median time, per-stage
times, peak RSS (VmHWM) and the stages during which that peak grew, and with
``--profile`` the top functions of a cProfile run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import (  # noqa: E402
    INIT_CASH, daily_data, free_rules, intraday_data, ma_grid, peak_rss_mb, run_runner, runner_plan, span_window,
)

SYMBOL = "SPY"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class StagePeaks:
    """Which stage raised the process's peak memory: VmHWM read at each stage boundary.

    No sampler thread: a thread polling /proc every few ms holds up the GIL and made the
    pure-Python parts of the runner ~10x slower. VmHWM only grows, so the stage during which it grew
    is the one that set (or raised) the peak; the value recorded is the peak at that stage's end.
    """

    def __init__(self) -> None:
        self.stage = "setup"
        self.peaks: dict[str, float] = {}
        self._last = peak_rss_mb() or 0.0

    def set(self, stage: str) -> None:
        hwm = peak_rss_mb() or 0.0
        if hwm > self._last:
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), hwm)
        self._last = hwm
        self.stage = stage

    def stop(self) -> dict[str, float]:
        self.set("done")
        return {k: round(v, 1) for k, v in self.peaks.items()}


def load(freq: str):
    if freq == "1D":
        data = daily_data(2)
        window = span_window(data, SYMBOL, last=252)
    else:
        data, _ = intraday_data(SYMBOL)
        window = span_window(data, SYMBOL)
    return data.select([SYMBOL]), window


def handwritten_vbt(weights: pd.DataFrame, frame: pd.DataFrame, window, init_cash: float = INIT_CASH):
    """What a vectorbt user writes for 'target weight decided at the close, filled at the next open,
    flat at the window's last close': one ``from_orders`` call, orders only where the target changes."""
    import vectorbt as vbt

    part = frame.loc[window.contains(frame.index)]
    w = weights.droplevel("symbol", axis=1)
    tgt = w.shift(1).reindex(part.index).fillna(0.0)  # decided at the previous close
    tgt.iloc[0] = 0.0  # decided before the window's start: a window is an episode and starts flat
    tgt.iloc[-1] = 0.0  # flat at the window's end
    size = tgt.where(tgt.ne(tgt.shift(1).fillna(0.0)))  # an order only when the target changes
    price = np.repeat(part["open"].to_numpy()[:, None], w.shape[1], axis=1)
    price[-1] = part["close"].iloc[-1]
    pf = vbt.Portfolio.from_orders(part["close"], size=size, size_type="targetpercent", price=price,
                                   init_cash=init_cash, freq="1D")
    return pf.value().to_numpy()


def one_run(mode: str, n: int, data, window, peaks: StagePeaks | None = None) -> dict[str, float]:
    from backtests.engine.simulate import simulate
    from backtests.strategy.context import StrategyContext
    from strategies.ma_cross import MACross

    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    if mode == "runner":
        plan = runner_plan(n, SYMBOL, window)
        stages["plan_s"] = time.perf_counter() - t0
        if peaks:
            peaks.set("run_strategy+score")
        out = run_runner(plan, data, score=True)
        stages["run_strategy_s"] = out["run_strategy_s"]
        stages["score_s"] = out["score_s"]
        stages["total_s"] = time.perf_counter() - t0
        return stages
    grid = ma_grid(n)
    ctx = StrategyContext(data, {"asset": SYMBOL})
    if peaks:
        peaks.set("weights")
    w = MACross().target_weights(ctx, grid)
    t1 = time.perf_counter()
    stages["weights_s"] = t1 - t0
    if peaks:
        peaks.set("simulate" if mode == "engine" else "vbt")
    if mode == "engine":
        simulate(data, w, len(grid), [window], free_rules(data, [SYMBOL]))
        stages["simulate_s"] = time.perf_counter() - t1
    else:
        handwritten_vbt(w, data.bars[SYMBOL], window)
        stages["vbt_s"] = time.perf_counter() - t1
    stages["total_s"] = time.perf_counter() - t0
    return stages


def profile_text(fn, top: int = 25) -> dict[str, str]:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = {}
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        text = buf.getvalue()
        out[key] = text[text.find("   ncalls"):] if "   ncalls" in text else text
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="one scaling measurement (see module docstring)")
    ap.add_argument("--mode", choices=["engine", "runner", "vbt"], required=True)
    ap.add_argument("--combos", type=int, required=True)
    ap.add_argument("--freq", choices=["1D", "5min"], default="1D")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="add a cProfile run (not timed)")
    args = ap.parse_args(argv)

    peaks = StagePeaks()
    t0 = time.perf_counter()
    import vectorbt  # noqa: F401

    data, window = load(args.freq)
    one_run("engine", 1, data, window)  # numba kernels loaded, caches of pandas/calendars warm
    warmup = time.perf_counter() - t0
    base_rss = rss_mb()
    runs = []
    for _ in range(max(1, args.repeat)):
        runs.append(one_run(args.mode, args.combos, data, window, peaks))
        peaks.set("between")
    stage_peaks = peaks.stop()
    rows = len(window.sessions) if args.freq == "1D" else int(window.contains(data.bars[SYMBOL].index).sum())
    result = {
        "mode": args.mode, "combos": args.combos, "freq": args.freq, "rows": rows,
        "warmup_s": round(warmup, 4), "median_s": statistics.median(r["total_s"] for r in runs),
        "runs_s": [round(r["total_s"], 4) for r in runs],
        "stages_median_s": {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]},
        "rss_after_warmup_mb": round(base_rss, 1), "peak_rss_mb": round(peak_rss_mb() or float("nan"), 1),
        "stage_peak_rss_mb": stage_peaks,
    }
    if args.profile:
        result["profile"] = profile_text(lambda: one_run(args.mode, args.combos, data, window))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
