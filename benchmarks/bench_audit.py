"""Cost of the look-ahead audit inside ``scare run`` on the default study (issue #13).

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


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(prog="bench_audit")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
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
