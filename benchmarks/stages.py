"""``python -m benchmarks.stages [--json FILE] -- SCARE ARGS``: one whole ``scare`` process, timed by stage.

Runs the ``scare`` command line in this process (``backtests.orchestration.cli.main``) with the
runner's stages wrapped: for each stage its wall seconds and the process's peak resident memory
*during that stage* (VmHWM reset at the stage's start through ``/proc/self/clear_refs``; Linux),
plus the imports before the command starts. The figures are written as one JSON object to
``--json`` (or stderr). The caller times the whole process from outside; the stages add up to
slightly less (interpreter start, exit).

Stages, in the order ``scare run`` calls them: ``imports`` (``backtests.orchestration.cli`` and
what it loads), ``plan`` (config to plan, before data), ``data`` (load and check the data),
``audit`` (look-ahead audit, cached or not), ``sweep`` (strategy, engine, assembly), ``score``,
``result``, ``write`` (every file of the run folder, with sub-stages ``write.<file>`` for the
documents and tables it encodes).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
os.environ.setdefault("TQDM_DISABLE", "1")


def _status(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Stages:
    """Wall seconds and peak RSS (MB) per stage. A stage nested in another counts in its parent
    too: before a nested stage resets the peak, the peak so far is folded into every open stage."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}
        self.open: list[list[float]] = []  # running peak of each open stage
        self.process_peak = 0.0

    def _fold(self) -> float:
        peak = _status("VmHWM") or 0.0
        self.process_peak = max(self.process_peak, peak)
        for frame in self.open:
            frame[0] = max(frame[0], peak)
        return peak

    def wrap(self, name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._fold()
            _reset_peak()
            frame = [0.0]
            self.open.append(frame)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                self._fold()
                self.open.pop()
                row = self.rows.setdefault(name, {"seconds": 0.0, "peak_rss_mb": 0.0, "calls": 0})
                row["seconds"] += dt
                row["peak_rss_mb"] = max(row["peak_rss_mb"], frame[0])
                row["calls"] += 1
                row["rss_after_mb"] = _status("VmRSS") or 0.0
        return timed

    def patch(self, module: Any, attr: str, name: str) -> None:
        setattr(module, attr, self.wrap(name, getattr(module, attr)))


def install(stages: Stages) -> None:
    """Wrap the runner's stages and the output stage's encoders."""
    from backtests.orchestration import runner
    from backtests.outputs import write

    from backtests.orchestration import guards

    # the plan is made by ``planned`` (in the command line, before the runner imports the engine)
    stages.patch(guards, "planned", "plan")
    for attr, name in (("prepare_data", "data"), ("guarded_audit", "audit"),
                       ("sweep_study", "sweep"), ("score_study", "score"), ("study_result", "result"),
                       ("write_outputs", "write")):
        stages.patch(runner, attr, name)
    for attr in ("metrics_document", "manifest_document", "dumps", "runs_table", "_parquet_bytes",
                 "returns_table", "render_tearsheet"):
        if hasattr(write, attr):
            stages.patch(write, attr, f"write.{attr}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = None
    if argv[:1] == ["--json"]:
        out, argv = Path(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    stages = Stages()
    t0 = time.perf_counter()
    from backtests.orchestration import cli

    install(stages)
    imports = time.perf_counter() - t0
    peak_imports = _status("VmHWM") or 0.0
    sys.argv = ["scare", *argv]
    t1 = time.perf_counter()
    try:
        code = cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    result = {"argv": argv, "exit": code, "imports_s": round(imports, 4), "imports_peak_rss_mb": peak_imports,
              "command_s": round(time.perf_counter() - t1, 4), "in_process_s": round(time.perf_counter() - T_START, 4),
              "process_peak_rss_mb": max(stages._fold(), stages.process_peak, peak_imports),
              "stages": {k: {kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()}
                         for k, v in stages.rows.items()}}
    text = json.dumps(result)
    if out is not None:
        out.write_text(text + "\n")
    else:
        sys.stderr.write(text + "\n")
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
