"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, print tables, save JSON.

Results go to ``benchmarks/results/<UTC timestamp>.json`` (git-ignored) with the machine description.
``--quick`` uses small sizes and fewer repeats (a CI smoke run, ~1-2 minutes); the full run takes
~10-15 minutes on a 2-core machine. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

from benchmarks.common import describe_machine, machine_info, save_results  # noqa: E402

SECTIONS = ("vs_vectorbt", "vs_backtesting", "cold_start", "scaling", "audit", "others")

FULL = {
    "repeat": 5,
    "vs_vectorbt": [1, 100, 1_000, 10_000, 100_000],
    "bt_grid": (list(range(5, 55, 5)), list(range(10, 110, 10))),  # 100 combinations
    "bt_ours_sizes": (1_000, 10_000),
    "cold_repeat": 3,
    "daily": [10, 100, 1_000, 10_000, 100_000],
    "intraday": [10, 100, 1_000],
    "runner_daily": [10, 100, 1_000, 10_000, 100_000],
    "runner_intraday": [10, 100],
    "profile_at": 10_000,
    "audit": [1_000, 10_000, 100_000],
}
QUICK = {
    "repeat": 2,
    "vs_vectorbt": [1, 10],
    "bt_grid": ([5, 10], [20, 30]),
    "bt_ours_sizes": (),
    "cold_repeat": 1,
    "daily": [10, 100],
    "intraday": [10],
    "runner_daily": [10],
    "runner_intraday": [10],
    "profile_at": None,
    "audit": [1_000],
}


def run_others(quick: bool) -> dict[str, str]:
    """The other benchmark scripts of this folder, when they offer ``main()`` (full runs only)."""
    out = {}
    for mod in ("bench_scoring", "bench_strategies", "bench_data", "bench_audit", "bench_scenarios",
                "bench_scenario_sweep"):
        if quick:
            out[mod] = "skipped (--quick)"
            continue
        try:
            module = __import__(f"benchmarks.{mod}", fromlist=["main"])
        except ImportError as exc:
            out[mod] = f"not available ({exc})"
            continue
        main = getattr(module, "main", None)
        if main is None:
            out[mod] = "no main()"
            continue
        saved = sys.argv
        sys.argv = [f"benchmarks/{mod}.py"]
        try:
            print(f"\n## {mod}", flush=True)
            main()
            out[mod] = "ran (figures printed above)"
        except (Exception, SystemExit) as exc:  # another engineer's script must not sink ours
            out[mod] = f"failed: {exc!r}"
        finally:
            sys.argv = saved
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (CI smoke)")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    ap.add_argument("--repeat", type=int, help="runs per figure (median); default 5, 2 with --quick")
    ap.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/<timestamp>.json)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per scaling child process")
    args = ap.parse_args(argv)

    from benchmarks import compare

    cfg = dict(QUICK if args.quick else FULL)
    repeat = args.repeat or cfg["repeat"]
    sections = args.only or [s for s in SECTIONS if not (args.quick and s == "others")]
    cmd = "python -m benchmarks" + (" --quick" if args.quick else "") + (
        f" --only {' '.join(args.only)}" if args.only else "")
    results: dict = {"command": cmd, "quick": args.quick, "repeat": repeat, "machine": machine_info(),
                     "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"# scare benchmarks ({'quick' if args.quick else 'full'})\n{describe_machine(results['machine'])}",
          flush=True)
    t0 = time.perf_counter()
    if "vs_vectorbt" in sections:
        compare.log("vs vectorbt ...")
        results["vs_vectorbt"] = compare.bench_vs_vectorbt(cfg["vs_vectorbt"], repeat)
    if "vs_backtesting" in sections:
        compare.log("vs backtesting.py ...")
        try:
            fast, slow = cfg["bt_grid"]
            results["vs_backtesting"] = compare.bench_vs_backtesting(fast, slow, repeat,
                                                                     ours_sizes=cfg["bt_ours_sizes"])
        except ImportError as exc:
            results["vs_backtesting_skipped"] = f"backtesting.py not installed ({exc})"
            compare.log(f"  skipped: {results['vs_backtesting_skipped']}")
    if "cold_start" in sections:
        compare.log("cold start ...")
        results["cold_start"] = compare.bench_cold_start(repeat, cfg["cold_repeat"])
    if "scaling" in sections:
        compare.log("scaling ...")
        results["scaling"] = compare.bench_scaling(cfg["daily"], cfg["intraday"], cfg["runner_daily"],
                                                   cfg["runner_intraday"], repeat, args.timeout, cfg["profile_at"])
    if "audit" in sections:
        from benchmarks import bench_audit

        compare.log("audit comparison, linear in combinations ...")
        results["audit"] = bench_audit.linear(cfg["audit"])
    if "others" in sections:
        results["others"] = run_others(args.quick)
    results["elapsed_s"] = round(time.perf_counter() - t0, 1)
    results["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    table = compare.markdown(results)
    print("\n" + table, flush=True)
    out = args.out or Path(__file__).resolve().parent / "results" / (
        datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "") + ".json")
    save_results(results, table, out)
    print(f"\nresults: {out} ({results['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
