"""The framework's benchmarks: overhead vs vectorbt, speed vs backtesting.py, cold start, scaling.

Every figure is the median of several runs (see ``repeat`` of each function); results agree
between the compared tools before any time is reported (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bars (inherited by its pool)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import (  # noqa: E402
    INIT_CASH, ROOT, daily_data, free_rules, goog_data, ma_grid, run_runner, runner_plan, span_window, timed,
)

SYMBOL = "SPY"
TARGETS = {"overhead_vs_vbt": 1.2, "speedup_vs_backtesting": 100.0, "cold_run_vs_import": 1.3,
           "fast_command_s": 0.5, "scaling_100k_s": 60.0, "scaling_100k_mb": 4096.0}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ============================================================================ 1. vs vectorbt
def _final_from_returns(returns: np.ndarray, init: float) -> np.ndarray:
    return init * np.prod(1.0 + returns, axis=0)


def bench_vs_vectorbt(sizes: list[int], repeat: int = 5, runner: bool = True) -> dict[str, Any]:
    """Our engine (and the runner path) vs a hand-written ``vbt.Portfolio.from_orders`` call.

    Same data (synthetic SPY, last 252 sessions simulated, earlier bars feed the averages), same
    ``ma_cross`` weights, zero costs, fill at the next open, flat at the window's last close.
    """
    from backtests.engine.simulate import simulate
    from backtests.strategy.context import StrategyContext
    from benchmarks.worker import handwritten_vbt
    from strategies.ma_cross import MACross

    data = daily_data(2).select([SYMBOL])
    window = span_window(data, SYMBOL, last=252)
    ctx = StrategyContext(data, {"asset": SYMBOL})
    frame = data.bars[SYMBOL]
    rows = []
    for n in sizes:
        reps = repeat if n <= 1_000 else max(1, min(repeat, 3))
        grid = ma_grid(n)
        w = MACross().target_weights(ctx, grid)
        t_eng, res = timed(lambda: simulate(data, w, n, [window], free_rules(data, [SYMBOL])), reps)
        t_vbt, value = timed(lambda: handwritten_vbt(w, frame, window), reps)
        ours = _final_from_returns(res[0].returns, INIT_CASH)
        theirs = value[-1]
        row: dict[str, Any] = {
            "combos": n, "rows": len(res[0].stamps), "engine_s": t_eng["median_s"], "vbt_s": t_vbt["median_s"],
            "overhead": t_eng["median_s"] / t_vbt["median_s"],
            "max_rel_diff_final": float(np.max(np.abs(ours / theirs - 1.0))),
            "engine_runs_s": t_eng["runs_s"], "vbt_runs_s": t_vbt["runs_s"],
        }
        if runner and n <= 10_000:
            plan = runner_plan(n, SYMBOL, window)
            t_run, out = timed(lambda: run_runner(plan, data, score=False), max(1, min(reps, 3)))
            t_hw, _ = timed(lambda: handwritten_vbt(MACross().target_weights(ctx, grid), frame, window),
                            max(1, min(reps, 3)))
            rr = out["result"].returns  # per-session period returns, one column per run
            run_final = _final_from_returns(rr.to_numpy(), INIT_CASH)
            row.update({
                "runner_s": t_run["median_s"], "vbt_with_weights_s": t_hw["median_s"],
                "runner_overhead": t_run["median_s"] / t_hw["median_s"],
                "runner_max_rel_diff_final": float(np.max(np.abs(run_final / theirs - 1.0))),
            })
        rows.append(row)
        log(f"  vs vectorbt {n:>7} combos: engine {row['engine_s']:.4f} s, vbt {row['vbt_s']:.4f} s, "
            f"x{row['overhead']:.2f}, max rel diff {row['max_rel_diff_final']:.1e}"
            + (f"; runner x{row['runner_overhead']:.1f}" if "runner_overhead" in row else ""))
    return {"rows": rows, "window": {"start": str(window.start_utc), "end": str(window.end_utc)},
            "target_overhead": TARGETS["overhead_vs_vbt"]}


# ============================================================================ 2. vs backtesting.py
def bench_vs_backtesting(fast: list[int], slow: list[int], repeat: int = 5, check: int = 4,
                         ours_sizes: tuple[int, ...] = ()) -> dict[str, Any]:
    """``Backtest.optimize`` vs our runner on the same grid and GOOG data; results shown to agree.

    Conventions aligned: orders at the close signal fill at the next bar's open
    (``trade_on_close=False``), no commission, long 100% of equity. Unavoidable differences, handled
    in the agreement check only: backtesting.py buys whole shares (cash 1e10 makes the rounding
    < 1e-7), and makes its first decision one bar after the longer average exists (our weights are
    zeroed up to that bar for the check). backtesting.py leaves the last trade open and marks it at
    the last close; we close it at the last close: the same equity without costs.
    """
    from backtesting import Backtest

    from backtests.engine.simulate import simulate
    from backtests.strategy.context import StrategyContext
    from strategies.ma_cross import MACross

    data, goog = goog_data()
    window = span_window(data, "GOOG", window_id="goog")
    cash = 1e10
    from benchmarks.bt_strategy import BtMACross

    bt = Backtest(goog, BtMACross, cash=cash, commission=0.0, trade_on_close=False,
                  exclusive_orders=False, finalize_trades=False)
    grid = pd.DataFrame([(f, s) for f in fast for s in slow], columns=["fast", "slow"])
    n = len(grid)
    bt_reps = max(1, repeat)

    def run_bt():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bt.optimize(fast=fast, slow=slow, maximize="Equity Final [$]", return_heatmap=True)

    t_bt, (_, heat) = timed(run_bt, bt_reps, warmup=1)

    # ours: the runner's path over the same grid (config -> plan -> run_strategy -> score_strategy)
    spec_grid = {"fast": fast, "slow": slow}
    plan = _goog_plan(spec_grid, window)
    t_ours, out = timed(lambda: run_runner(plan, data, score=True), repeat)
    t_ours_ns, _ = timed(lambda: run_runner(plan, data, score=False), repeat)

    # agreement on a few combos (final equity), with the warm-up convention aligned
    ctx = StrategyContext(data, {"asset": "GOOG"})
    picks = grid.iloc[np.linspace(0, n - 1, min(check, n)).round().astype(int)].reset_index(drop=True)
    agree = []
    for _, (f, s) in picks.iterrows():
        g = pd.DataFrame({"fast": [f], "slow": [s]})
        w = MACross().target_weights(ctx, g)
        w.iloc[: max(f, s)] = 0.0  # backtesting.py's first next() is one bar after warm-up
        res = simulate(data, w, 1, [window], free_rules(data, ["GOOG"], init_cash=cash))
        ours_eq = float(_final_from_returns(res[0].returns, cash)[0])
        theirs_eq = float(heat.loc[(f, s)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            single = bt.run(fast=int(f), slow=int(s))
        agree.append({"fast": int(f), "slow": int(s), "ours_final": ours_eq, "backtesting_final": theirs_eq,
                      "rel_diff": abs(ours_eq / theirs_eq - 1.0), "backtesting_trades": int(single["# Trades"]),
                      "ours_entries": int(res[0].stats["entries"][0])})
    # unaligned: the framework's own returns (no warm-up alignment) vs backtesting.py's, same combos
    runs = out["result"].returns
    grid_our = plan.strategies[0].grid
    unaligned = []
    for a in agree:
        combo = int(grid_our.index[(grid_our["fast"] == a["fast"]) & (grid_our["slow"] == a["slow"])][0])
        col = out["result"].runs.index[out["result"].runs["combo"] == combo][0]
        unaligned.append(float(abs(cash * np.prod(1 + runs[col].to_numpy()) / a["backtesting_final"] - 1.0)))

    scale = []
    for m in ours_sizes:
        f_vals = list(range(2, 2 + int(np.sqrt(m))))
        s_vals = list(range(10, 10 + m // len(f_vals)))
        p = _goog_plan({"fast": f_vals, "slow": s_vals}, window)
        t, _ = timed(lambda: run_runner(p, data, score=True), max(1, min(repeat, 3)))
        k = len(f_vals) * len(s_vals)
        scale.append({"combos": k, "runner_s": t["median_s"], "per_combo_ms": 1e3 * t["median_s"] / k})

    res = {
        "data": f"GOOG daily {goog.index[0].date()}..{goog.index[-1].date()} ({len(goog)} bars)",
        "combos": n, "grid": {"fast": fast, "slow": slow},
        "backtesting_optimize_s": t_bt["median_s"], "backtesting_runs_s": t_bt["runs_s"],
        "backtesting_per_combo_ms": 1e3 * t_bt["median_s"] / n,
        "ours_runner_s": t_ours["median_s"], "ours_runner_runs_s": t_ours["runs_s"],
        "ours_per_combo_ms": 1e3 * t_ours["median_s"] / n,
        "ours_no_scoring_s": t_ours_ns["median_s"], "ours_no_scoring_per_combo_ms": 1e3 * t_ours_ns["median_s"] / n,
        "speedup": t_bt["median_s"] / t_ours["median_s"],
        "speedup_no_scoring": t_bt["median_s"] / t_ours_ns["median_s"],
        "agreement": agree, "max_rel_diff": max(a["rel_diff"] for a in agree),
        "unaligned_max_rel_diff": max(unaligned) if unaligned else None,
        "ours_larger_grids": scale, "backtesting_workers": os.cpu_count(),
        "target_speedup": TARGETS["speedup_vs_backtesting"],
    }
    log(f"  vs backtesting.py {n} combos: optimize {t_bt['median_s']:.2f} s, ours {t_ours['median_s']:.3f} s "
        f"(x{res['speedup']:.0f}), max rel diff {res['max_rel_diff']:.1e}")
    return res


def _goog_plan(params: dict[str, list[int]], window):
    plan = runner_plan(1, "GOOG", window)
    from backtests.strategy.params import expand_grid

    sp = plan.strategies[0]
    sp.grid = expand_grid(sp.strategy.params, params, sp.strategy.name)
    return plan


# ============================================================================ 3. cold start
def _scare_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "scare"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "backtests"]


def _wall(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    return dt


def _median_wall(make_cmd, repeat: int, env_for=None) -> dict[str, Any]:
    times = []
    for i in range(repeat):
        env = env_for(i) if env_for else None
        times.append(_wall(make_cmd(i), env))
    return {"median_s": statistics.median(times), "runs_s": [round(t, 4) for t in times], "n": len(times)}


_PROBE = """
import json, sys, atexit
def _report():
    mods = sys.modules
    heavy = [m for m in ("vectorbt", "numba", "pandas", "numpy", "scipy", "plotly", "pydantic",
                         "exchange_calendars", "yaml", "arch", "pyarrow") if m in mods]
    sys.stderr.write("BENCH_MODULES " + json.dumps(heavy) + "\\n")
atexit.register(_report)
sys.argv = ["scare"] + {argv!r}
from backtests.orchestration.cli import main
try:
    code = main()
except SystemExit as e:
    code = e.code
sys.exit(code or 0)
"""


def import_profile(argv: list[str], top: int = 8) -> dict[str, Any]:
    """Which packages a command imports (``-X importtime``) and whether vectorbt is among them."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", _PROBE.format(argv=argv)], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tops: dict[str, int] = {}
    total = 0
    loaded: list[str] = []
    for line in p.stderr.splitlines():
        if line.startswith("BENCH_MODULES "):
            loaded = json.loads(line.split(" ", 1)[1])
            continue
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if not m:
            continue
        cum, indent, name = int(m.group(2)), len(m.group(3)), m.group(4)
        root = name.split(".")[0]
        # a package's own import line includes its submodules: keep the largest per root package
        # (nested packages are also counted inside the one that imported them)
        tops[root] = max(tops.get(root, 0), cum)
        if indent <= 1:
            total += cum
    skip = {"backtests", "strategies", "benchmarks", "site", "importlib", "encodings"}
    ranked = sorted(((k, v) for k, v in tops.items() if k not in skip and not k.startswith("__editable")),
                    key=lambda kv: -kv[1])[:top]
    return {"vectorbt_imported": "vectorbt" in loaded, "heavy_modules": loaded,
            "top_imports_ms": {k: round(v / 1e3, 1) for k, v in ranked}, "import_total_ms": round(total / 1e3, 1)}


def bench_cold_start(repeat: int = 5, cold_repeat: int = 3, config: str = "configs/scare_trades.yaml") -> dict[str, Any]:
    """New processes: ``scare run`` (numba cache warm and cold) vs ``python -c 'import vectorbt'``,
    and the fast commands that must not import vectorbt."""
    scare = _scare_cmd()
    tmp = Path(tempfile.mkdtemp(prefix="scare-bench-"))
    try:
        base_env = dict(os.environ)
        base_env.pop("TQDM_DISABLE", None)

        def run_cmd(i: int) -> list[str]:
            return [*scare, "run", config, "--out", str(tmp / f"out{i}-{time.monotonic_ns()}"), "--no-progress"]

        _wall(run_cmd(0), base_env)  # warm the kernel cache (and the calendar cache) first
        bare = _median_wall(lambda i: [sys.executable, "-c", "import vectorbt"], repeat, lambda i: base_env)
        warm = _median_wall(run_cmd, repeat, lambda i: base_env)

        def cold_env(i: int) -> dict[str, str]:
            d = tmp / f"numba-cold-{i}"
            d.mkdir()
            return {**base_env, "NUMBA_CACHE_DIR": str(d)}

        cold = _median_wall(run_cmd, cold_repeat, cold_env)
        fast = {}
        for name, argv in {"scare --help": ["--help"], f"scare validate {config}": ["validate", config],
                           "scare list strategies": ["list", "strategies"]}.items():
            fast[name] = {**_median_wall(lambda i, a=argv: [*scare, *a], repeat, lambda i: base_env),
                          **import_profile(argv)}
        bare_py = _median_wall(lambda i: [sys.executable, "-c", "pass"], repeat, lambda i: base_env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res = {
        "config": config, "python_startup_s": bare_py["median_s"], "import_vectorbt_s": bare["median_s"],
        "import_vectorbt_runs_s": bare["runs_s"],
        "run_warm_cache_s": warm["median_s"], "run_warm_runs_s": warm["runs_s"],
        "run_cold_cache_s": cold["median_s"], "run_cold_runs_s": cold["runs_s"],
        "warm_vs_import": warm["median_s"] / bare["median_s"], "cold_vs_import": cold["median_s"] / bare["median_s"],
        "fast_commands": fast, "target_warm_vs_import": TARGETS["cold_run_vs_import"],
        "target_fast_command_s": TARGETS["fast_command_s"],
    }
    log(f"  cold start: import vectorbt {bare['median_s']:.2f} s, scare run warm-cache {warm['median_s']:.2f} s "
        f"(x{res['warm_vs_import']:.2f}), cold-cache {cold['median_s']:.2f} s")
    for k, v in fast.items():
        log(f"  {k}: {v['median_s']:.3f} s, vectorbt imported: {v['vectorbt_imported']}")
    return res


# ============================================================================ 4. scaling
def _run_worker(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``benchmarks.worker`` in a child; its own VmHWM and the child's ru_maxrss (wait4).

    VmHWM (reported by the child after exec) is the figure. ru_maxrss also counts the moments
    between fork and exec, when the child still maps the parent's pages: it is only a valid
    cross-check when the parent is small (``--only scaling``), not after the in-process sections.
    """
    cmd = [sys.executable, "-m", "benchmarks.worker", *args]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = threading.Event()

    def kill():
        killed.set()
        p.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        out, err = p.stdout.read(), p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    if killed.is_set():
        return {"error": f"timeout after {timeout:.0f} s", "wall_s": wall}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {err.strip()[-800:]}", "wall_s": wall,
                "ru_maxrss_mb": usage.ru_maxrss / 1024}
    res = json.loads(out.strip().splitlines()[-1])
    res["ru_maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    res["process_wall_s"] = round(wall, 3)
    return res


def _slope(xs: list[float], ys: list[float]) -> float | None:
    pts = [(np.log(x), np.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    a = np.array(pts)
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def bench_scaling(daily: list[int], intraday: list[int], runner_daily: list[int], runner_intraday: list[int],
                  repeat: int = 5, timeout: float = 900.0, profile_at: int | None = None) -> dict[str, Any]:
    """Time and peak memory per size, one child process per (mode, size)."""
    out: dict[str, Any] = {}

    def reps(n: int) -> int:
        return repeat if n <= 1_000 else (min(repeat, 3) if n <= 10_000 else min(repeat, 2))

    for freq, sizes, rsizes in (("1D", daily, runner_daily), ("5min", intraday, runner_intraday)):
        series: dict[str, list[dict[str, Any]]] = {}
        for mode, ms in (("engine", sizes), ("vbt", sizes), ("runner", rsizes)):
            rows = []
            for n in ms:
                args = ["--mode", mode, "--combos", str(n), "--freq", freq,
                        "--repeat", str(reps(n) if mode != "runner" else max(1, min(reps(n), 3 if n <= 1000 else 1)))]
                if profile_at is not None and n == profile_at and freq == "1D" and mode in ("engine", "runner"):
                    args.append("--profile")
                r = _run_worker(args, timeout)
                r.setdefault("combos", n)
                rows.append(r)
                if "error" in r:
                    log(f"  scaling {freq} {mode:<6} {n:>7}: {r['error']}")
                    break  # larger sizes would fail the same way
                log(f"  scaling {freq} {mode:<6} {n:>7}: {r['median_s']:.3f} s, peak {r['peak_rss_mb']:.0f} MB "
                    f"({r['median_s'] / n * 1e6:.1f} us/combo)")
            ok = [r for r in rows if "error" not in r]
            series[mode] = rows
            series[f"{mode}_slope"] = _slope([r["combos"] for r in ok if r["combos"] >= 100],
                                             [r["median_s"] for r in ok if r["combos"] >= 100])
        out[freq] = series
    out["targets"] = {"seconds_100k_daily": TARGETS["scaling_100k_s"], "peak_mb_100k_daily": TARGETS["scaling_100k_mb"]}
    return out


# ============================================================================ tables
def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def markdown(results: dict[str, Any]) -> str:
    from benchmarks.common import describe_machine

    lines = [f"Machine: {describe_machine(results['machine'])}", f"Command: `{results['command']}`", ""]
    if "vs_vectorbt" in results:
        lines += ["**Overhead vs hand-written vectorbt** (synthetic SPY, 252 daily bars, MA-cross weights; "
                  f"target engine <= {TARGETS['overhead_vs_vbt']}x)", "",
                  "| combos | our engine | vbt.from_orders | overhead | runner path | vbt + weights | runner overhead | max rel. diff of final values |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["vs_vectorbt"]["rows"]:
            diff = max(r["max_rel_diff_final"], r.get("runner_max_rel_diff_final", 0.0))
            lines.append(f"| {r['combos']:,} | {_fmt_s(r['engine_s'])} | {_fmt_s(r['vbt_s'])} | {r['overhead']:.2f}x | "
                         f"{_fmt_s(r.get('runner_s'))} | {_fmt_s(r.get('vbt_with_weights_s'))} | "
                         + (f"{r['runner_overhead']:.1f}x" if "runner_overhead" in r else "-") + f" | {diff:.1e} |")
        lines.append("")
    if "vs_backtesting" in results:
        b = results["vs_backtesting"]
        lines += [f"**vs backtesting.py `Backtest.optimize`** ({b['data']}, {b['combos']} combinations; "
                  f"target >= {TARGETS['speedup_vs_backtesting']:.0f}x per combination)", "",
                  "| | total | per combination | speed-up |", "|---|---:|---:|---:|",
                  f"| backtesting.py optimize ({b['backtesting_workers']} processes) | {_fmt_s(b['backtesting_optimize_s'])} | "
                  f"{b['backtesting_per_combo_ms']:.2f} ms | 1x |",
                  f"| scare runner path, with scoring | {_fmt_s(b['ours_runner_s'])} | {b['ours_per_combo_ms']:.3f} ms | "
                  f"{b['speedup']:.0f}x |",
                  f"| scare runner path, no scoring | {_fmt_s(b['ours_no_scoring_s'])} | "
                  f"{b['ours_no_scoring_per_combo_ms']:.3f} ms | {b['speedup_no_scoring']:.0f}x |"]
        for s in b.get("ours_larger_grids", []):
            lines.append(f"| scare runner path, with scoring, {s['combos']:,} combos | {_fmt_s(s['runner_s'])} | "
                         f"{s['per_combo_ms']:.3f} ms | {b['backtesting_per_combo_ms'] / s['per_combo_ms']:.0f}x |")
        lines += ["", f"Final equity agrees within {b['max_rel_diff']:.1e} (relative) on "
                  f"{len(b['agreement'])} combinations with conventions aligned (see docs/benchmarks.md).", ""]
    if "cold_start" in results:
        c = results["cold_start"]
        lines += [f"**Cold start** (new process each; target warm-cache run <= {TARGETS['cold_run_vs_import']}x "
                  f"import, fast commands < {TARGETS['fast_command_s']} s without vectorbt)", "",
                  "| command | wall time | vs `import vectorbt` | imports vectorbt |", "|---|---:|---:|---|",
                  f"| `python -c pass` | {_fmt_s(c['python_startup_s'])} | | no |",
                  f"| `python -c \"import vectorbt\"` | {_fmt_s(c['import_vectorbt_s'])} | 1.00x | yes |",
                  f"| `scare run {c['config']}` (numba cache warm) | {_fmt_s(c['run_warm_cache_s'])} | "
                  f"{c['warm_vs_import']:.2f}x | yes |",
                  f"| `scare run {c['config']}` (numba cache cold) | {_fmt_s(c['run_cold_cache_s'])} | "
                  f"{c['cold_vs_import']:.2f}x | yes |"]
        for k, v in c["fast_commands"].items():
            heavy = ", ".join(f"{m} {t:.0f} ms" for m, t in list(v["top_imports_ms"].items())[:4])
            lines.append(f"| `{k}` | {_fmt_s(v['median_s'])} | {v['median_s'] / c['import_vectorbt_s']:.2f}x | "
                         f"{'yes' if v['vectorbt_imported'] else 'no'} (heaviest: {heavy}) |")
        lines.append("")
    if "scaling" in results:
        s = results["scaling"]
        for freq, label in (("1D", "one year of daily bars (252 rows)"), ("5min", "one year of 5-minute bars")):
            if freq not in s:
                continue
            lines += [f"**Scaling, {label}** (child process per size; peak = VmHWM of that process)", "",
                      "| combos | engine | engine peak | vbt by hand | vbt peak | runner + scoring | runner peak | engine us/combo |",
                      "|---:|---:|---:|---:|---:|---:|---:|---:|"]
            by = {m: {r["combos"]: r for r in s[freq].get(m, [])} for m in ("engine", "vbt", "runner")}
            sizes = sorted(set().union(*[set(v) for v in by.values()]))

            def cell(m: str, n: int, key: str) -> str:
                r = by[m].get(n)
                if r is None:
                    return "-"
                if "error" in r:
                    return "timeout" if "timeout" in r["error"] else "error"
                return _fmt_s(r["median_s"]) if key == "t" else f"{r['peak_rss_mb']:,.0f} MB"

            for n in sizes:
                e = by["engine"].get(n)
                per = f"{e['median_s'] / n * 1e6:.0f}" if e and "error" not in e else "-"
                lines.append(f"| {n:,} | {cell('engine', n, 't')} | {cell('engine', n, 'm')} | {cell('vbt', n, 't')} | "
                             f"{cell('vbt', n, 'm')} | {cell('runner', n, 't')} | {cell('runner', n, 'm')} | {per} |")
            sl = {m: s[freq].get(f"{m}_slope") for m in ("engine", "vbt", "runner")}
            lines += ["", "log-log slope of time vs combos (1 = linear, sizes >= 100): " + ", ".join(
                f"{m} {v:.2f}" for m, v in sl.items() if v is not None), ""]
    if "audit" in results:
        a = results["audit"]
        lines += ["**Look-ahead audit, linear in combinations** (ma_cross on 2 years of synthetic SPY; one "
                  "comparison of the full run with a run truncated at 60% of the clock; fresh process per size)", "",
                  "| combos | decisions compared | compare | ns/decision | with a column more | ns/decision | "
                  "audit of 3 cuts | strategy call | peak |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in a["rows"]:
            if "error" in r:
                lines.append(f"| {r['combos']:,} | error: {r['error']} |")
                continue
            lines.append(f"| {r['combos']:,} | {r['cells_compared']:,} | {_fmt_s(r['compare_s'])} | "
                         f"{r['compare_ns_per_decision']:.1f} | {_fmt_s(r['compare_extra_column_s'])} | "
                         f"{r['compare_extra_column_ns_per_decision']:.1f} | {_fmt_s(r['audit_3_cuts_s'])} | "
                         f"{_fmt_s(r['audit_call_s'])} | {r['peak_rss_mb']:,.0f} MB |")
        if a.get("flatness"):
            lines += ["", f"ns per decision, largest over smallest size: {a['flatness']:.2f}x (linear: ~1x)", ""]
    return "\n".join(lines)
