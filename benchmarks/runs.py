"""Whole ``scare run`` processes, timed from outside and by stage: the ladder's headline figures.

Every figure is a fresh process (``python -m benchmarks.stages -- run STUDY ...``, see
:mod:`benchmarks.stages`), timed from the outside (wall clock of the whole process: interpreter
start, imports, every stage, exit), with the stage split and the peak resident memory the
process reported. Variants of one study run in alternating order, rounds of them, and a figure is
the median over rounds:

``audit first``
    an empty verdict cache (a copy of the exchange-calendar cache only): the look-ahead audit
    runs, inside its budget;
``audit cached``
    the verdict of an earlier run reused (the normal case once code and data were audited);
``tearsheet``
    audit cached, ``output.tearsheet: true``.

Studies come from :mod:`benchmarks.study`: ``ma_cross`` on one year of synthetic daily SPY, the
same bars in one window or split into four (the same combination-bars, four times the runs).

:func:`goog_vs_backtesting` compares whole processes with backtesting.py's ``optimize`` on its
bundled GOOG data over the same grids: each tool's marginal cost per combination (the slope between
two grid sizes) and the whole-process times at the smaller size.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("audit first", "audit cached", "tearsheet")
#: stages whose cost scare (not the engine) controls, checked for a flat cost per combination
OWN_STAGES = ("audit", "score", "write")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "SCARE_CACHE_DIR": str(cache), "TQDM_DISABLE": "1"}


def _calendars(dest: Path) -> Path:
    """A fresh cache folder holding only the exchange-calendar cache (no verdicts)."""
    from backtests.time.calendars import cache_root

    dest.mkdir(parents=True, exist_ok=True)
    for f in cache_root().glob("calendar-*"):
        shutil.copy2(f, dest / f.name)
    return dest


def run_once(config: Path, out: Path, cache: Path, timeout: float) -> dict[str, Any]:
    """One whole ``scare run`` process: wall seconds, peak MB and the stage split."""
    if out.exists():
        shutil.rmtree(out)
    stages = out.parent / f"{out.name}.stages.json"
    cmd = [sys.executable, "-m", "benchmarks.stages", "--json", str(stages), "--", "run", str(config), "--out", str(out),
           "--no-progress"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=_env(cache), capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1], "wall_s": wall}
    rec = json.loads(stages.read_text())
    shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "peak_mb": rec["process_peak_rss_mb"], "imports_s": rec["imports_s"],
            "stages": {k: v["seconds"] for k, v in rec["stages"].items()},
            "stage_peak_mb": {k: v["peak_rss_mb"] for k, v in rec["stages"].items()}}


def _median_row(samples: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [s for s in samples if "error" not in s]
    if not ok:
        return {"errors": [s.get("error") for s in samples]}
    names = list(dict.fromkeys(k for s in ok for k in s["stages"]))
    return {"wall_s": statistics.median(s["wall_s"] for s in ok), "peak_mb": statistics.median(s["peak_mb"] for s in ok),
            "imports_s": statistics.median(s["imports_s"] for s in ok),
            "stages": {k: statistics.median(s["stages"].get(k, 0.0) for s in ok) for k in names},
            "stage_peak_mb": {k: max(s["stage_peak_mb"].get(k, 0.0) for s in ok) for k in names},
            "samples_wall_s": [round(s["wall_s"], 2) for s in ok], "errors": [s["error"] for s in samples if "error" in s]}


def whole_runs(sizes: list[int], windows: list[int], rounds: int, timeout: float = 1800.0) -> dict[str, Any]:
    """:data:`VARIANTS` of each (combinations, windows) study, ``rounds`` fresh processes each."""
    from benchmarks.study import write_study

    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="scare-ladder-runs-") as tmp:
        base = _calendars(Path(tmp) / "calendars")
        for n in sizes:
            for w in windows:
                plain = write_study(Path(tmp) / f"s{n}x{w}.yaml", n, w)
                sheet = write_study(Path(tmp) / f"s{n}x{w}-sheet.yaml", n, w, tearsheet=True)
                warm = Path(tmp) / f"warm-{n}-{w}"
                shutil.copytree(base, warm)
                run_once(plain, Path(tmp) / "out", warm, timeout)  # untimed: fills the verdict cache
                samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
                for r in range(rounds):
                    for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
                        if v == "audit first":
                            cold = Path(tmp) / f"cold-{n}-{w}-{r}"
                            shutil.copytree(base, cold)
                            samples[v].append(run_once(plain, Path(tmp) / "out", cold, timeout))
                            shutil.rmtree(cold, ignore_errors=True)
                        else:
                            samples[v].append(run_once(sheet if v == "tearsheet" else plain, Path(tmp) / "out", warm,
                                                       timeout))
                        got = samples[v][-1]
                        print(f"  whole run {n:,} x {w} window(s), round {r + 1}, {v}: "
                              f"{got.get('wall_s', 0):.1f} s, {got.get('peak_mb', 0):.0f} MB {got.get('error', '')}",
                              file=sys.stderr, flush=True)
                rows[f"{n}x{w}"] = {"combos": n, "windows": w, "runs": n * w,
                                    **{v: _median_row(samples[v]) for v in VARIANTS}}
    return {"rows": rows, "flatness": flatness(rows), "loadavg_end": list(os.getloadavg())}


def flatness(rows: dict[str, Any]) -> dict[str, Any]:
    """Per window count and stage of :data:`OWN_STAGES` (audit first, score and write with the
    audit cached): microseconds per combination at each size, and the growth from one size to the
    next (seconds per combination at the larger over the smaller; 1.0 is linear, the target is at
    most 1.5)."""
    out: dict[str, Any] = {}
    for w in sorted({r["windows"] for r in rows.values()}):
        same = sorted((r for r in rows.values() if r["windows"] == w), key=lambda r: r["combos"])
        for stage in OWN_STAGES:
            variant = "audit first" if stage == "audit" else "audit cached"
            pts = [(r["combos"], r[variant].get("stages", {}).get(stage)) for r in same]
            pts = [(n, s) for n, s in pts if s]
            per = {str(n): round(s / n * 1e6, 2) for n, s in pts}
            growth = [round((b[1] / b[0]) / (a[1] / a[0]), 2) for a, b in zip(pts, pts[1:])]
            out[f"{w} window(s) {stage}"] = {"us_per_combination": per, "growth": growth}
    return out


# ------------------------------------------------------------------------------ vs backtesting.py
BT_SCRIPT = """
import sys, warnings
from backtesting import Backtest
from backtesting.test import GOOG
from benchmarks.bt_strategy import BtMACross
fast, slow = list(range(2, 2 + int(sys.argv[1]))), list(range(10, 10 + int(sys.argv[2])))
bt = Backtest(GOOG, BtMACross, cash=1e10, commission=0.0, trade_on_close=False, exclusive_orders=False,
              finalize_trades=False)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bt.optimize(fast=fast, slow=slow, maximize="Equity Final [$]", return_heatmap=True)
"""


def goog_study(path: Path, n: int) -> Path:
    """A study of ``ma_cross`` over all of GOOG (backtesting.py's bundled bars, written to a CSV
    beside ``path``) with the grid of :func:`benchmarks.common.grid_shape` for ``n``: no costs, no
    benchmark, no tearsheet, one window over every session."""
    import pandas as pd
    import yaml
    from backtesting.test import GOOG

    from backtests.time.calendars import sessions
    from benchmarks.common import grid_shape

    csv = path.parent / "GOOG.csv"
    if not csv.exists():
        GOOG.rename_axis("Date").to_csv(csv)
    days = pd.DatetimeIndex(sessions("XNYS", GOOG.index[0], GOOG.index[-1]).index)
    days = days[days.isin(GOOG.index.normalize())]
    pre = len(days) // 2
    nf, ns = grid_shape(n)
    spec = {
        "name": f"goog_{n}", "data": {"source": "files", "files": [{"path": str(csv), "symbol": "GOOG", "market": "XNYS"}],
                                      "closed_session_bars": "drop"},
        "windows": [{"id": "goog", "date": days[pre].date().isoformat(), "market": "XNYS", "timing": "intraday",
                     "pre": pre, "post": len(days) - pre - 1}],
        "benchmark": None,
        "strategies": [{"name": "ma_cross", "roles": {"asset": "GOOG"},
                        "params": {"fast": {"start": 2, "stop": 1 + nf, "step": 1},
                                   "slow": {"start": 10, "stop": 9 + ns, "step": 1}}}],
        "costs": {"markets": {"XNYS": {"commission_bps": 0.0, "slippage_bps": 0.0}}},
        "output": {"tearsheet": False},
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def goog_vs_backtesting(scare_sizes: tuple[int, int], bt_sizes: tuple[int, int], rounds: int,
                        timeout: float = 3600.0) -> dict[str, Any]:
    """Whole processes: ``scare run`` (audit cached) and backtesting.py's ``optimize`` on GOOG at
    two grid sizes each; the marginal cost per combination of each and their ratio."""
    from benchmarks.common import grid_shape

    with tempfile.TemporaryDirectory(prefix="scare-ladder-goog-") as tmp:
        base = _calendars(Path(tmp) / "cache")
        studies = {n: goog_study(Path(tmp) / f"goog{n}.yaml", n) for n in scare_sizes}
        for n in scare_sizes:
            run_once(studies[n], Path(tmp) / "out", base, timeout)  # verdicts cached, files read once
        times: dict[str, list[float]] = {f"scare {n}": [] for n in scare_sizes}
        times.update({f"backtesting {n}": [] for n in bt_sizes})
        keys = list(times)
        for r in range(rounds):
            for k in (keys if r % 2 == 0 else keys[::-1]):
                tool, n = k.split()
                if tool == "scare":
                    got = run_once(studies[int(n)], Path(tmp) / "out", base, timeout)
                    if "error" in got:
                        raise RuntimeError(f"scare run on GOOG: {got['error']}")
                    times[k].append(got["wall_s"])
                else:
                    nf, ns = grid_shape(int(n))
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, "-c", BT_SCRIPT, str(nf), str(ns)], cwd=ROOT, env=_env(base),
                                   check=True, capture_output=True, timeout=timeout)
                    times[k].append(time.perf_counter() - t0)
                print(f"  GOOG round {r + 1} {k}: {times[k][-1]:.1f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    (a, b), (c, d) = scare_sizes, bt_sizes
    scare_marginal = (med[f"scare {b}"] - med[f"scare {a}"]) / (b - a)
    bt_marginal = (med[f"backtesting {d}"] - med[f"backtesting {c}"]) / (d - c)
    same = f"scare {c}" in med
    return {"median_s": med, "samples_s": times, "scare_marginal_ms": scare_marginal * 1e3,
            "backtesting_marginal_ms": bt_marginal * 1e3,
            "marginal_ratio": bt_marginal / scare_marginal if scare_marginal > 0 else None,
            "whole_process_ratio_at_smaller": (med[f"backtesting {c}"] / med[f"scare {c}"]) if same else None,
            "loadavg_end": list(os.getloadavg())}


# ------------------------------------------------------------------------------ tables
def markdown(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if "runs" in result:
        lines += ["\nWhole `scare run` processes (medians; s and peak MB; stages of the audit-cached run)\n",
                  "| combinations x windows | audit first | audit cached | tearsheet | peak MB (cached) | "
                  "imports | data | audit (first) | sweep | score | write |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["runs"]["rows"].values():
            c, f, t = r["audit cached"], r["audit first"], r["tearsheet"]
            st = c.get("stages", {})
            if "wall_s" not in c:
                lines.append(f"| {r['combos']:,} x {r['windows']} | failed: {c.get('errors')} |")
                continue
            lines.append(f"| {r['combos']:,} x {r['windows']} | {f.get('wall_s', 0):.1f} | {c['wall_s']:.1f} | "
                         f"{t.get('wall_s', 0):.1f} | {c['peak_mb']:,.0f} | {c['imports_s']:.2f} | "
                         f"{st.get('plan', 0) + st.get('data', 0):.2f} | {f.get('stages', {}).get('audit', 0):.2f} | "
                         f"{st.get('sweep', 0):.2f} | {st.get('score', 0):.2f} | {st.get('write', 0):.2f} |")
        lines += ["\nCost per combination of the stages scare controls (us; growth = per-combination cost at "
                  "the larger size over the smaller, target <= 1.5)\n", "| stage | us per combination | growth |",
                  "|---|---|---|"]
        for k, v in result["runs"]["flatness"].items():
            lines.append(f"| {k} | {', '.join(f'{n}: {u}' for n, u in v['us_per_combination'].items())} | "
                         f"{', '.join(map(str, v['growth']))} |")
    if "goog" in result:
        g = result["goog"]
        lines += ["\nWhole processes on GOOG vs backtesting.py `optimize` (medians)\n", "| process | s |", "|---|---:|"]
        lines += [f"| {k} combinations | {v:.1f} |" for k, v in g["median_s"].items()]
        ratio = g["marginal_ratio"]
        lines.append(f"\nmarginal cost per combination: scare {g['scare_marginal_ms']:.2f} ms, backtesting.py "
                     f"{g['backtesting_marginal_ms']:.1f} ms ({ratio:.0f}x)" if ratio else "")
        if g.get("whole_process_ratio_at_smaller"):
            lines.append(f"whole processes at the smaller grid: backtesting.py / scare = "
                         f"{g['whole_process_ratio_at_smaller']:.2f}x")
    return "\n".join(lines)
