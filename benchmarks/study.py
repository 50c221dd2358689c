"""Study configs for whole-process benchmarks: ``ma_cross`` over one year of synthetic daily bars.

``python -m benchmarks.study --combos 100000 --windows 4 > big.yaml`` writes a study whose year
(the 252 New York sessions ending 2026-08-31) is split into ``--windows`` consecutive,
non-overlapping windows of equal length (explicit events on XNYS, ``pre``/``post`` sessions
around each), traded by one ``ma_cross`` grid of ``--combos`` combinations (fast 2.., slow 10..,
the grid shapes of :data:`benchmarks.common.GRID_SHAPES`) on SPY with QQQ as its benchmark. The
same bars split into one or four windows give the same combination-bars and 1 or 4 runs per
combination: what the ladder's single- and multi-window rows compare.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

from benchmarks.common import grid_spec

YEAR_END = "2026-08-31"
YEAR_SESSIONS = 252
#: the slowest average (409 bars) needs this much history before the year
HISTORY_START = "2024-08-30"


def year_sessions() -> pd.DatetimeIndex:
    """The 252 New York session dates ending at :data:`YEAR_END`."""
    from backtests.time.calendars import sessions

    sched = sessions("XNYS", pd.Timestamp("2025-06-01"), pd.Timestamp(YEAR_END))
    return pd.DatetimeIndex(sched.index)[-YEAR_SESSIONS:]


def windows_spec(n_windows: int) -> list[dict[str, Any]]:
    """``n_windows`` explicit XNYS windows splitting the year into consecutive equal parts."""
    days = year_sessions()
    size = YEAR_SESSIONS // n_windows
    out = []
    for k in range(n_windows):
        part = days[k * size:(k + 1) * size]
        pre = len(part) // 2
        out.append({"id": f"part{k + 1}", "date": part[pre].date().isoformat(), "market": "XNYS",
                    "timing": "intraday", "pre": pre, "post": len(part) - pre - 1})
    return out


def study_spec(combos: int, n_windows: int, *, tearsheet: bool = False, benchmark: str | None = "QQQ",
               chunk_runs: int | None = None) -> dict[str, Any]:
    """The study as a dict (see the module docstring)."""
    spec: dict[str, Any] = {
        "name": f"bench_{combos}x{n_windows}w",
        "description": f"ma_cross, {combos} combinations, one year of synthetic SPY in {n_windows} window(s)",
        "data": {"source": "synthetic", "start": HISTORY_START, "end": YEAR_END},
        "windows": windows_spec(n_windows),
        "benchmark": benchmark,
        "strategies": [{"name": "ma_cross", "roles": {"asset": "SPY"}, "params": grid_spec(combos)}],
        "costs": {"markets": {"XNYS": {"commission_bps": 0.5, "slippage_bps": 2.0}}},
        "output": {"tearsheet": tearsheet},
        "limits": {"max_runs": max(1_000_000, combos * n_windows)},
    }
    if chunk_runs:
        spec["executor"] = {"chunk_runs": chunk_runs}
    return spec


def write_study(path: Any, combos: int, n_windows: int, **kw: Any) -> Any:
    """Write :func:`study_spec` as YAML to ``path`` and return it."""
    import yaml

    from pathlib import Path

    path = Path(path)
    path.write_text(yaml.safe_dump(study_spec(combos, n_windows, **kw), sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    import yaml

    ap = argparse.ArgumentParser(prog="python -m benchmarks.study", description=__doc__.splitlines()[0])
    ap.add_argument("--combos", type=int, default=1_000)
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--tearsheet", action="store_true")
    ap.add_argument("--no-benchmark", action="store_true")
    ap.add_argument("--chunk-runs", type=int)
    args = ap.parse_args(argv)
    spec = study_spec(args.combos, args.windows, tearsheet=args.tearsheet,
                      benchmark=None if args.no_benchmark else "QQQ", chunk_runs=args.chunk_runs)
    sys.stdout.write(yaml.safe_dump(spec, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
