"""Cost of the look-ahead audit: linear in combinations, and inside ``scare run`` on the default study.

``python -m benchmarks.bench_audit --linear [--sizes 1000 10000 100000]`` (the ``audit`` section of
``python -m benchmarks``) times, per grid size of ``ma_cross`` on two years of synthetic daily SPY,
one comparison of the full run's decisions with a truncated run's (:func:`first_difference`, the
same columns, and with one column more) and one whole :class:`~backtests.audit.check.Audit` of
three cuts, each in its own process: seconds, nanoseconds per decision compared (flat from 1,000
to 100,000 combinations when the comparison is linear) and the audit's peak memory.

``python benchmarks/bench_audit.py [--repeat N]`` (also run by ``python -m benchmarks``) times, in
fresh processes and alternating A/B so that machine load hits both sides alike:

* ``no-audit``: ``scare run configs/scare_trades.yaml --no-audit``;
* ``warm``: ``scare run configs/scare_trades.yaml`` with every verdict already cached (the normal
  case: the code and data were audited before);
* ``first``: the same with an empty verdict cache (the strategies are audited, within the default
  ``--audit-budget``).

Each process gets its own ``SCARE_CACHE_DIR`` holding a copy of the exchange calendars (so no side
rebuilds them) and, for ``warm``, the verdicts. Prints wall-clock medians and the overhead ratios;
the target is a warm overhead under 15%.
"""

from __future__ import annotations

import argparse
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
CONFIG = "configs/scare_trades.yaml"


def _run(cache: Path, out: Path, *extra: str) -> float:
    env = {**os.environ, "SCARE_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "backtests", "run", CONFIG, "--out", str(out), "--no-progress", *extra],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def linear_worker(n: int) -> dict[str, Any]:
    """One size, in this process: the comparison alone and a three-cut audit (see module docstring)."""
    import numpy as np
    import pandas as pd

    from backtests.audit.check import Audit
    from backtests.audit.compare import decisions, first_difference
    from backtests.audit.truncate import truncate
    from benchmarks.common import daily_data, ma_grid, peak_rss_mb
    from strategies.ma_cross import MACross

    data = daily_data(2).select(["SPY"])
    grid = ma_grid(n)
    strategy = MACross({"asset": "SPY"})
    full = decisions(strategy, data, grid, None, "ma_cross")
    cut = full.index[int(len(full) * 0.6)]
    part, _ = truncate(data, None, cut)
    other = decisions(strategy, part, grid, None, "ma_cross")
    more = other.copy()
    more[(n, "SPY")] = np.nan  # a column the full run does not have: the 0.2 comparison's slow path
    rows = int(full.index.searchsorted(cut, side="right"))
    cells = rows * full.shape[1]
    out: dict[str, Any] = {"combos": n, "decision_stamps": len(full), "cells_compared": cells}
    for name, frame in (("compare_s", other), ("compare_extra_column_s", more)):
        first_difference(full, frame, cut)  # warm
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            first_difference(full, frame, cut)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
        out[name.replace("_s", "_ns_per_decision")] = out[name] * 1e9 / cells
    t0 = time.perf_counter()
    audit = Audit(strategy, data, grid, None)
    report = audit.run(budget=None, max_cuts=3)
    out["audit_3_cuts_s"] = time.perf_counter() - t0
    out["audit_calls"] = report.calls
    out["audit_call_s"] = getattr(audit, "call_seconds", None) or audit.per_call  # (scare 0.2: per_call)
    rate = getattr(audit, "compare_rate", None)
    out["audit_compare_ns_per_decision"] = None if rate is None else rate * 1e9
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def linear(sizes: list[int], timeout: float = 1800.0) -> dict[str, Any]:
    """:func:`linear_worker` for each size in a fresh process; prints a table."""
    import json

    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "TQDM_DISABLE": "1"}
    for n in sizes:
        done = subprocess.run([sys.executable, "-m", "benchmarks.bench_audit", "--linear-worker", str(n)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            rows.append({"combos": n, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        if "error" in r:
            print(f"  {n:>7,} combinations: {r['error']}", flush=True)
            continue
        print(f"  {n:>7,} combinations: compare {r['compare_s']:.4f} s ({r['compare_ns_per_decision']:.1f} ns per "
              f"decision), with a column more {r['compare_extra_column_s']:.4f} s "
              f"({r['compare_extra_column_ns_per_decision']:.1f} ns); audit of 3 cuts {r['audit_3_cuts_s']:.2f} s "
              f"(call {r['audit_call_s']:.2f} s), peak {r['peak_rss_mb']:.0f} MB", flush=True)
    ok = [r for r in rows if "error" not in r]
    per = [r["compare_extra_column_ns_per_decision"] for r in ok]
    return {"rows": rows, "flatness": max(per) / min(per) if per else None,
            "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="bench_audit")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--linear", action="store_true", help="the comparison's cost per size, fresh processes")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--linear-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    if args.linear_worker:
        import json

        print(json.dumps(linear_worker(args.linear_worker)))
        return {}
    if args.linear:
        res = linear(args.sizes)
        print(f"  ns per decision compared, largest / smallest size: {res['flatness']:.2f}x (linear: ~1x)")
        return res
    from backtests.time.calendars import cache_root

    with tempfile.TemporaryDirectory(prefix="scare-bench-audit-") as tmp:
        base = Path(tmp) / "calendars"
        base.mkdir()
        for f in cache_root().glob("calendar-*"):
            shutil.copy2(f, base / f.name)
        warm = Path(tmp) / "warm"
        shutil.copytree(base, warm)
        _run(warm, Path(tmp) / "out")  # fills the verdict cache (and warms the OS file cache)
        times: dict[str, list[float]] = {"no-audit": [], "warm": [], "first": []}
        for i in range(args.repeat):
            order = ["no-audit", "warm", "first"] if i % 2 == 0 else ["first", "warm", "no-audit"]
            for side in order:
                if side == "first":
                    cold = Path(tmp) / f"cold{i}"
                    shutil.copytree(base, cold)
                    times[side].append(_run(cold, Path(tmp) / "out"))
                elif side == "warm":
                    times[side].append(_run(warm, Path(tmp) / "out"))
                else:
                    times[side].append(_run(warm, Path(tmp) / "out", "--no-audit"))
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {f"{k}_median_s": round(v, 2) for k, v in med.items()}
    res["warm_overhead"] = round(med["warm"] / med["no-audit"] - 1.0, 4)
    res["first_overhead"] = round(med["first"] / med["no-audit"] - 1.0, 4)
    print(f"scare run {CONFIG}, {args.repeat} alternating runs per side, fresh processes (wall-clock medians):")
    for k, v in times.items():
        print(f"  {k:<9} median {med[k]:6.2f} s   runs {', '.join(f'{x:.2f}' for x in v)}")
    print(f"  warm-run overhead of the audit: {res['warm_overhead'] * 100:+.1f}% (target < 15%)")
    print(f"  first-run overhead (audit within the default budget): {res['first_overhead'] * 100:+.1f}%")
    if hasattr(os, "getloadavg"):
        print(f"  load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return res


if __name__ == "__main__":
    main()
