"""Time the SCENARIO sweep: scenarios x parameter sets through the engine (issue #20's budget).

The issue's budget: 10,000 scenarios x 100 parameter sets x 390 one-minute bars in under 60 s on
this 2-core machine, memory bounded by chunking. The case here: the fade (``fade_kospi_halt``)
with 100 combinations (threshold 2 x hold 5 x stop-loss 2 x take-profit 5) over one KRX session
(390 one-minute bars) of KOSPI, KODEX 200, USD/KRW and EWY, depth x rebound axes, in chunks of
``--chunk`` scenarios, in this process or on a Dask local cluster (``--dask``: 2 workers). Every
scenario goes the way a study's does (:func:`backtests.sweep.scenarios.compute_scenario_chunk`:
generation, the episode's MarketData, the strategy call, the engine, the per-run metrics).

Run: ``python benchmarks/bench_scenario_sweep.py [--n 200] [--chunk 50] [--dask]``; prints seconds,
seconds per 1,000 scenarios, the projection to 10,000, the peak resident memory and the load. One
scenario runs untimed first (imports: vectorbt's kernel, numba caches; printed as the warm-up), so
the figure is the sweep's own rate.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def plan(n: int, chunk: int):
    import math

    from backtests.config.model import StudyConfig
    from backtests.config.plan import ScenarioPlan, StrategyPlan
    from backtests.scenarios import ScenarioSpec, grid, kospi_crash_family
    from backtests.scenarios.study import ScenarioGrid
    from backtests.strategy.params import expand_grid
    from strategies.fade_kospi_halt import FadeKospiHalt

    s = FadeKospiHalt()
    axes = {"threshold": [8.0, 9.0], "hold": [1, 2, 3, 4, 5], "stop_loss": [0.0, 5.0],
            "take_profit": [0.0, 2.0, 4.0, 6.0, 8.0], "use_catalogue": False}
    g = expand_grid(s.params, axes, s.name)
    depths = [0.05, 0.07, 0.09, 0.11, 0.13]
    rebounds = [0.0, 0.25, 0.5, 0.75, 1.0]
    reps = max(1, math.ceil(n / (len(depths) * len(rebounds))))
    fam = kospi_crash_family(("^KS11", "069500.KS", "KRW=X", "EWY"), sessions_after=0)
    spec = ScenarioSpec(fam, grid(depth=depths, rebound=rebounds, shock_time="10:00"), replicates=reps, seed=1)
    cfg = StudyConfig.model_validate({"name": "bench", "windows": ["kospi_crash_2026"],
                                      "strategies": [{"name": "fade_kospi_halt"}]})
    sp = StrategyPlan(0, cfg.strategies[0], s, "fade_kospi_halt", g, [], None)
    sgrid = ScenarioGrid(spec, {"depth": tuple(depths), "rebound": tuple(rebounds)}, ("depth", "rebound"))
    return ScenarioPlan(sgrid, (sp,), 0.05, 10, chunk, None), cfg, len(g)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="scenarios (default 200; the issue's shape: 10000)")
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--dask", action="store_true", help="run the chunks on a 2-worker Dask local cluster")
    a = ap.parse_args(argv)
    from backtests.sweep.executor import Executor
    from backtests.sweep.scenarios import assemble_scenarios, compute_scenario_chunk, scenario_tasks

    from backtests.scoring.scenarios import run_metrics

    sp, cfg, n_combos = plan(a.n, a.chunk)
    tasks = scenario_tasks(sp, cfg, run_metrics)
    last = tasks[-1]
    tasks[-1] = type(last)(last.spec, last.lo, min(last.hi, a.n), last.config, last.strategies, run_metrics)
    sp = type(sp)(sp.grid, sp.strategies, sp.loss_threshold, sp.worst, sp.chunk, None)
    # the first scenario pays once per process for imports (vectorbt's kernel, numba caches): run
    # one untimed so the figure is the sweep's rate (the warm-up is printed beside it)
    w0 = time.perf_counter()
    first = tasks[0]
    with Executor("dask" if a.dask else "local") as ex:
        warm = [type(first)(first.spec, first.lo, first.lo + 1, first.config, first.strategies, run_metrics)]
        list(ex.map_fn(compute_scenario_chunk, warm * (2 if a.dask else 1)))
        warm_s = time.perf_counter() - w0
        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        blocks = list(ex.map_fn(compute_scenario_chunk, [t for t in tasks if t.lo < a.n]))
    sweep = assemble_scenarios(sp, blocks)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(sweep.scenarios)
    runs = len(sweep.runs["fade_kospi_halt"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario sweep: {n} scenarios x {n_combos} parameter sets x 390 one-minute bars = {runs:,} runs "
          f"in {dt:.1f} s ({'dask, 2 workers' if a.dask else f'one process, CPU {cpu:.1f} s'}, chunks of {a.chunk}); "
          f"{1000 * dt / n:.0f} s per 1,000 scenarios, projected {10_000 * dt / n:.0f} s for 10,000; "
          f"peak RSS of this process {peak:.0f} MB; load average at start {load:.1f}; "
          f"warm-up (imports, one scenario, untimed) {warm_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
