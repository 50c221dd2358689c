"""``python -m benchmarks.ladder``: whole ``scare run`` processes by stage, GOOG against backtesting.py, the paths around vectorbt's kernel, start-up.

The README's speed figures. Every figure is a median over fresh processes run in alternating order
(A B C ..., then ... C B A), with the load average recorded at the start and the end. Sections
(``--only``):

``runs``
    whole ``scare run`` processes of :mod:`benchmarks.study` (``ma_cross``, one year of daily
    bars in one window and in four) at 1k/10k/100k combinations: audit first and cached,
    tearsheet off and on, each split by stage with its peak memory (:mod:`benchmarks.runs`), and the
    cost per combination of the stages scare controls (audit, scoring, outputs) across sizes;
``goog``
    whole processes on backtesting.py's GOOG: ``scare run`` against ``Backtest.optimize`` on the
    same grids, each tool's marginal cost per combination (:func:`benchmarks.runs.goog_vs_backtesting`);
``paths``
    nanoseconds per combination-bar of the paths below, each in its own process, the first call
    of the size and the second (the table's figure);
``startup``
    a warm ``scare run`` of the default study against ``import vectorbt``, ``validate`` / ``list``
    against ``import pandas``, and a run with an empty numba cache against the run after it.

Paths (section ``paths``):

``backtesting``
    backtesting.py's ``Backtest.optimize`` over the grid (its default: one process per core).
``runner``
    scare's per-strategy path with scoring: ``run_strategy`` + ``score_strategy`` (metrics, pooling,
    DSR/PBO ranking, bootstrap), as ``scare run`` does it, without writing files.
``runner_noscore``
    the same without scoring.
``engine``
    ``backtests.engine.simulate.simulate`` on the strategy's weights: schedule + kernel + accounting.
``kernel_numba`` / ``kernel_rust``
    vectorbt's ``simulate_from_orders`` alone, numba or Rust engine, on the exact arrays scare's
    engine passes it (captured from one ``simulate`` call); ``_compact`` variants pass the close as
    one column and the fees as one row where the values allow (same records).
``floor``
    a minimal hand-written numba target-weight kernel (fills at the open, value at the close): what
    one pass over combinations x bars costs on this machine.

``--data goog`` is backtesting.py's GOOG (2,148 daily bars); ``--data daily`` one year (252
sessions) of the synthetic SPY. Results: markdown tables on stdout and JSON in
``benchmarks/results/ladder-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")

ROOT = Path(__file__).resolve().parents[1]
PATHS = ("backtesting", "runner", "runner_noscore", "engine", "kernel_numba", "kernel_rust",
         "kernel_numba_compact", "kernel_rust_compact", "floor")


# ------------------------------------------------------------------------------------ worker
def _grid(n: int) -> tuple[list[int], list[int]]:
    from benchmarks.common import grid_shape

    nf, ns = grid_shape(n)
    return list(range(2, 2 + nf)), list(range(10, 10 + ns))


def _setup(data_name: str):
    from benchmarks.common import daily_data, goog_data, span_window

    if data_name == "goog":
        data, _ = goog_data()
        return data, "GOOG", span_window(data, "GOOG", window_id="goog")
    data = daily_data(2)
    return data.select(["SPY"]), "SPY", span_window(data, "SPY", last=252)


def _captured_kernel_inputs(data, symbol, window, weights, n):
    """The arrays scare's engine hands vectorbt's kernel for these weights."""
    from backtests.engine import simulate as sim
    from benchmarks.common import free_rules

    seen: dict[str, Any] = {}
    real = sim._kernel

    def spy(close, size, price, fees, slippage, n_syms, init_cash, engine=None):
        seen.update(close=close, size=size, price=price, fees=fees, slippage=slippage, n_syms=n_syms,
                    init_cash=init_cash)
        return real(close, size, price, fees, slippage, n_syms, init_cash, engine)

    sim._kernel = spy
    try:
        sim.simulate(data, weights, n, [window], free_rules(data, [symbol]))
    finally:
        sim._kernel = real
    return seen


def _kernel_call(inputs: dict[str, Any], engine: str, compact: bool):
    import numpy as np

    from backtests.engine.kernels import DIRECTION_BOTH, SIZE_TARGET_PERCENT, from_orders
    from backtests.engine.simulate import MIN_SIZE

    close, fees, slip = inputs["close"], inputs["fees"], inputs["slippage"]
    if compact:
        if (close == close[:, :1]).all():
            close = np.ascontiguousarray(close[:, :1])
        if (fees == fees[:1]).all():
            fees = np.ascontiguousarray(fees[:1])
            if (fees == fees[0, 0]).all():
                fees = np.asarray(fees[0, 0])
        if (slip == slip.flat[0]).all():
            slip = np.asarray(slip.flat[0])
    shape = inputs["size"].shape
    n_syms = inputs["n_syms"]
    groups = shape[1] // n_syms
    max_orders = max(1, int(np.count_nonzero(~np.isnan(inputs["size"]))))

    def call():
        return from_orders(shape, np.full(groups, n_syms, dtype=np.int64), np.full(groups, inputs["init_cash"]),
                           engine=engine, size=inputs["size"], price=inputs["price"], size_type=SIZE_TARGET_PERCENT,
                           direction=DIRECTION_BOTH, fees=fees, slippage=slip, min_size=MIN_SIZE, close=close,
                           max_orders=max_orders)[0]
    return call


def _target_weight_values(opn, close, target, cash0):
    """Final value per column: target weights filled at the open, no costs (the machine's floor)."""
    rows, cols = target.shape
    out = np.empty(cols)
    for j in range(cols):
        cash, units, prev = cash0, 0.0, 0.0
        for t in range(rows):
            w = target[t, j]
            if w != prev:
                value = cash + units * opn[t]
                new_units = w * value / opn[t]
                cash -= (new_units - units) * opn[t]
                units = new_units
                prev = w
        out[j] = cash + units * close[rows - 1]
    return out


def _floor_kernel():
    from numba import njit

    return njit(nogil=True)(_target_weight_values)


def _make(path: str, n: int, data_name: str):
    """A zero-argument callable doing ``path`` once for ``n`` combinations, and the bar count."""
    import numpy as np
    import pandas as pd

    data, symbol, window = _setup(data_name)
    frame = data.bars[symbol]
    inside = window.contains(frame.index)
    bars = int(inside.sum())
    fast, slow = _grid(n)
    if path == "backtesting":
        from backtesting import Backtest

        from benchmarks.bt_strategy import BtMACross
        from benchmarks.common import goog_data

        if data_name != "goog":
            raise SystemExit("backtesting path runs on --data goog")
        _, goog = goog_data()
        bt = Backtest(goog, BtMACross, cash=1e10, commission=0.0, trade_on_close=False,
                      exclusive_orders=False, finalize_trades=False)

        def run_bt():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bt.optimize(fast=fast, slow=slow, maximize="Equity Final [$]", return_heatmap=True)
        return run_bt, bars
    if path in ("runner", "runner_noscore"):
        from benchmarks.common import run_runner
        from benchmarks.compare import _goog_plan

        plan = _goog_plan({"fast": fast, "slow": slow}, window)
        if data_name != "goog":
            from benchmarks.common import runner_plan
            from backtests.strategy.params import expand_grid

            plan = runner_plan(1, symbol, window)
            sp = plan.strategies[0]
            sp.grid = expand_grid(sp.strategy.params, {"fast": fast, "slow": slow}, sp.strategy.name)
        return (lambda: run_runner(plan, data, score=path == "runner")), bars
    from backtests.strategy.context import StrategyContext
    from strategies.ma_cross import MACross

    grid = pd.DataFrame([(f, s) for f in fast for s in slow], columns=["fast", "slow"])
    weights = MACross().target_weights(StrategyContext(data, {"asset": symbol}), grid)
    if path == "engine":
        from backtests.engine.simulate import simulate
        from benchmarks.common import free_rules

        return (lambda: simulate(data, weights, len(grid), [window], free_rules(data, [symbol]))), bars
    if path.startswith("kernel_"):
        inputs = _captured_kernel_inputs(data, symbol, window, weights, len(grid))
        engine = "rust" if "rust" in path else "numba"
        return _kernel_call(inputs, engine, path.endswith("_compact")), bars
    if path == "floor":
        kern = _floor_kernel()
        part = frame.loc[inside]
        opn = part["open"].to_numpy(dtype=float)
        close = part["close"].to_numpy(dtype=float)
        w = weights.droplevel("symbol", axis=1).shift(1).reindex(part.index).fillna(0.0).to_numpy(dtype=float)
        w = np.ascontiguousarray(w)
        return (lambda: kern(opn, close, w, 1e6)), bars
    raise SystemExit(f"unknown path {path}")


def worker(path: str, n: int, data_name: str) -> dict[str, Any]:
    """One path in this process: the first call of the size (compiled code loaded from the cache,
    pandas and calendar caches filled) and, except for backtesting.py (seconds per call, nothing
    to compile), a second call of the same size, the figure of the table."""
    call, bars = _make(path, n, data_name)
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    seconds = first
    if path != "backtesting":
        t0 = time.perf_counter()
        call()
        seconds = time.perf_counter() - t0
    combos = len(_grid(n)[0]) * len(_grid(n)[1])
    return {"path": path, "combos": combos, "bars": bars, "seconds": seconds, "first_s": first,
            "ns_per_combo_bar": seconds * 1e9 / (combos * bars)}


# ------------------------------------------------------------------------------------ driver
def _child(path: str, n: int, data_name: str, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "benchmarks.ladder", "worker", "--path", path, "--combos", str(n),
           "--data", data_name]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    if done.returncode != 0:
        return {"path": path, "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def ladder(paths: list[str], n: int, data_name: str, rounds: int, timeout: float) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
    for r in range(rounds):
        for p in (paths if r % 2 == 0 else paths[::-1]):  # alternate the order: no path always first
            samples[p].append(_child(p, n, data_name, timeout))
            print(f"  {data_name} n={n} round {r + 1} {p}: {samples[p][-1].get('ns_per_combo_bar', samples[p][-1])}",
                  file=sys.stderr, flush=True)
    out = {}
    for p, s in samples.items():
        ok = [x for x in s if "ns_per_combo_bar" in x]
        out[p] = {"median_ns_per_combo_bar": statistics.median(x["ns_per_combo_bar"] for x in ok) if ok else None,
                  "median_s": statistics.median(x["seconds"] for x in ok) if ok else None,
                  "median_first_s": statistics.median(x["first_s"] for x in ok) if ok else None,
                  "samples_ns": [round(x["ns_per_combo_bar"], 2) for x in ok],
                  "combos": ok[0]["combos"] if ok else None, "bars": ok[0]["bars"] if ok else None,
                  "errors": [x["error"] for x in s if "error" in x]}
    return out


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - t0


def startup(rounds: int, out_dir: Path) -> dict[str, Any]:
    """Whole processes, alternating: a warm ``scare run`` of the default study against a bare
    ``import vectorbt``, light commands against ``import pandas``, and a first run with an empty
    numba cache (what ``python -m backtests.orchestration.warm`` at install avoids) against a later one.

    Warm means scare's bytecode is written too (as Python does on a user's first run): with
    ``PYTHONDONTWRITEBYTECODE`` set, every scare process would otherwise compile its ~300 modules
    from source while the installed packages it is compared with load theirs."""
    import compileall

    for folder in ("backtests", "strategies"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)
    py = sys.executable
    scare = [py, "-m", "backtests"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmds = {
        "scare run (default study, warm cache)": scare + ["run", "configs/scare_trades.yaml", "--no-progress",
                                                           "--out", str(out_dir / "warm")],
        "import vectorbt": [py, "-c", "import vectorbt"],
        "scare validate": scare + ["validate", "configs/scare_trades.yaml"],
        "scare list strategies": scare + ["list", "strategies"],
        "scare list windows": scare + ["list", "windows"],
        "import pandas": [py, "-c", "import pandas"],
        "python -c pass": [py, "-c", "pass"],
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    names = list(cmds)
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            times[k].append(_wall(cmds[k], env))
            print(f"  startup round {r + 1} {k}: {times[k][-1]:.2f} s", file=sys.stderr, flush=True)
    first, later = [], []
    for r in range(rounds):  # first run with an empty cache, then a later one, in pairs
        cache = out_dir / f"numba-cache-{r}"
        e = {**env, "NUMBA_CACHE_DIR": str(cache)}
        first.append(_wall(cmds["scare run (default study, warm cache)"][:-1] + [str(out_dir / f"first{r}")], e))
        later.append(_wall(cmds["scare run (default study, warm cache)"][:-1] + [str(out_dir / f"later{r}")], e))
        print(f"  first/later round {r + 1}: {first[-1]:.1f} / {later[-1]:.1f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    med["scare run, empty numba cache (no install warm-up)"] = statistics.median(first)
    med["scare run after it"] = statistics.median(later)
    return {"median_s": med, "samples_s": {**times, "first": first, "later": later},
            "warm_run_over_import_vectorbt": med["scare run (default study, warm cache)"] / med["import vectorbt"],
            "first_over_later_without_warm_step": statistics.median(first) / statistics.median(later)}


def markdown(result: dict[str, Any]) -> str:
    lines = []
    for key, table in result.get("tables", {}).items():
        lines += [f"\n{key}\n", "| path | ns per combination-bar | s per call | s first call | combos x bars |",
                  "|---|---:|---:|---:|---:|"]
        for p, v in table.items():
            ns = v["median_ns_per_combo_bar"]
            first = v.get("median_first_s")
            lines.append(f"| {p} | {ns:,.1f} | {v['median_s']:.3f} | {first if first is None else f'{first:.3f}'} | "
                         f"{v['combos']:,} x {v['bars']:,} |" if ns else f"| {p} | failed: {v['errors'][:1]} | | | |")
    if "startup" in result:
        st = result["startup"]
        lines += ["\nStart-up (whole processes, medians)\n", "| command | s |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in st["median_s"].items()]
        lines.append(f"\nwarm scare run / import vectorbt: {st['warm_run_over_import_vectorbt']:.2f}x; "
                     f"first run with an empty cache / later: {st['first_over_later_without_warm_step']:.2f}x")
    return "\n".join(lines)


SECTIONS = ("runs", "goog", "paths", "startup")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ladder", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--path", choices=PATHS, required=True)
    w.add_argument("--combos", type=int, required=True)
    w.add_argument("--data", choices=["goog", "daily"], default="goog")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 2 rounds")
    ap.add_argument("--rounds", type=int, help="fresh processes per figure (default 3, 2 with --quick)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections (default: all)")
    ap.add_argument("--sizes", type=int, nargs="+", help="combinations of the whole-run studies")
    ap.add_argument("--no-startup", action="store_true", help="skip the whole-process start-up table")
    ap.add_argument("--only-startup", action="store_true", help="only the start-up table")
    args = ap.parse_args(argv)
    if args.cmd == "worker":
        print(json.dumps(worker(args.path, args.combos, args.data)))
        return 0
    from benchmarks import runs
    from benchmarks.common import describe_machine, machine_info, save_results

    sections = ["startup"] if args.only_startup else list(args.only or SECTIONS)
    if args.no_startup and "startup" in sections:
        sections.remove("startup")
    rounds = args.rounds or (2 if args.quick else 3)
    result: dict[str, Any] = {"command": "python -m benchmarks.ladder" + (" --quick" if args.quick else ""),
                              "machine": machine_info(), "rounds": rounds, "sections": sections,
                              "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "loadavg_start": list(os.getloadavg()), "tables": {}}
    print(f"# scare ladder\n{describe_machine(result['machine'])}; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if "runs" in sections:
        sizes = args.sizes or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
        result["runs"] = runs.whole_runs(sizes, [1, 4], rounds, args.timeout)
    if "goog" in sections:
        try:
            import backtesting  # noqa: F401
        except ImportError as exc:
            result["goog_skipped"] = f"backtesting.py not installed ({exc})"
        else:
            result["goog"] = runs.goog_vs_backtesting((100, 1_000), (10, 20) if args.quick else (100, 200), rounds,
                                                      args.timeout)
    if "paths" in sections:
        goog_n = 100 if args.quick else 1_000
        for n in ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]):
            result["tables"][f"1 year daily (252 bars), {n:,} combinations"] = ladder(
                ["engine", "kernel_rust", "kernel_rust_compact"], n, "daily", rounds, args.timeout)
        result["tables"][f"GOOG 2,148 daily bars, {goog_n:,} combinations"] = ladder(
            list(PATHS), goog_n, "goog", rounds, args.timeout)
    if "startup" in sections:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="scare-ladder-") as tmp:
            result["startup"] = startup(rounds, Path(tmp))
    result["loadavg_end"] = list(os.getloadavg())
    text = runs.markdown(result) + "\n" + markdown(result)
    text += f"\n\nload average: start {result['loadavg_start'][0]:.1f}, end {result['loadavg_end'][0]:.1f}"
    print(text)
    out = save_results(result, text, ROOT / "benchmarks" / "results" /
                       f"ladder-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
