"""Time the SCENARIO generator (backtests.scenarios): paths, exchange rules, chunked memory.

Every case runs in a fresh Python process (imports and the numba cache load are outside the timed
part, and are reported separately as ``start``); the figure is the median over ``--repeat``
processes, with the peak resident memory of the process and the machine's load average.

Cases:

- ``issue``: 10,000 scenarios x 390 one-minute bars x 5 assets (KOSPI, SK Hynix, Samsung, EWY,
  MU; one session each), chunks of 500 scenarios: the shape of issue #20's budget.
- ``issue-big-chunks``: the same in chunks of 2,000 (memory grows with the chunk, not the total).
- ``default-family``: 10,000 scenarios of the default family (10 assets with BTC and its
  liquidation cascade; the shock session and the next one: 780 bars a day per asset, 2,640 for
  crypto).
- ``symbol-rules``: 1,000 scenarios of the 5-asset family with single-stock rules derived
  (KRX VI, LULD): the exact but slow option.

Run: ``python benchmarks/bench_scenarios.py [--repeat N] [--quick] [--only CASE ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIVE = ("^KS11", "000660.KS", "005930.KS", "EWY", "MU")
CASES = {
    "issue": dict(symbols=FIVE, after=0, n=10_000, chunk=500, rules=False),
    "issue-big-chunks": dict(symbols=FIVE, after=0, n=10_000, chunk=2_000, rules=False),
    "default-family": dict(symbols=None, after=1, n=10_000, chunk=500, rules=False),
    "symbol-rules": dict(symbols=FIVE, after=0, n=1_000, chunk=500, rules=True),
}


def worker(case: str, n: int | None) -> None:
    """Generate one case in this process; print a JSON line with the figures."""
    t0 = time.perf_counter()
    import resource

    import numpy as np

    from backtests.scenarios import ScenarioSpec, generate_chunks, grid, kospi_crash_family

    cfg = CASES[case]
    total = n or cfg["n"]
    fam = kospi_crash_family(cfg["symbols"], sessions_after=cfg["after"], symbol_rules=cfg["rules"])
    params = grid(depth=list(np.linspace(0.02, 0.20, 10)), shock_time=["09:30", "11:00", "13:00", "14:30"],
                  rebound=[0.0, 0.5, 1.0], time_to_trough=[10, 60])
    spec = ScenarioSpec(fam, params, replicates=-(-total // len(params)), seed=2026, streams="independent")
    warm = list(generate_chunks(spec, 2, stop=2))  # compiled kernels and calendars loaded
    start = time.perf_counter() - t0
    t1 = time.perf_counter()
    halted = bars = 0
    for b in generate_chunks(spec, cfg["chunk"], stop=total):
        halted += int((b.halts["market"] == "XKRX").sum())
        bars += sum(int(ab.close.size) for ab in b.bars.values())
    seconds = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "n": total, "seconds": seconds, "start": start, "maxrss_mb": rss,
                      "halted": halted, "bar_values": bars, "warm": len(warm)}))


def run_case(case: str, repeat: int, n: int | None) -> dict:
    """Median figures over ``repeat`` fresh processes."""
    runs = []
    for _ in range(repeat):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case] + (["--n", str(n)] if n else [])
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "start", "maxrss_mb")}
    return {**runs[0], **med, "repeat": repeat, "all_seconds": [r["seconds"] for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1,000 scenarios per case, one process each")
    ap.add_argument("--only", nargs="*", choices=sorted(CASES))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.n)
        return
    repeat = 1 if args.quick else args.repeat
    cases = args.only or list(CASES)
    load = os.getloadavg()
    print(f"scenario generator benchmark: median of {repeat} fresh process(es) per case; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"  {'case':<18s} {'scenarios':>9s} {'seconds':>8s} {'per 1k':>7s} {'start':>6s} {'peak MB':>8s} "
          f"{'KRX halts':>9s}  runs")
    for case in cases:
        n = 1_000 if args.quick else None
        r = run_case(case, repeat, n)
        print(f"  {case:<18s} {r['n']:>9,d} {r['seconds']:8.2f} {r['seconds'] / r['n'] * 1000:7.2f} "
              f"{r['start']:6.2f} {r['maxrss_mb']:8.0f} {r['halted']:>9,d}  "
              + ", ".join(f"{s:.2f}" for s in r["all_seconds"]), flush=True)
    load = os.getloadavg()
    print(f"  load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
