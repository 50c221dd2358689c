"""Write a finished study's files into its run folder (all of them or none)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from backtests.outputs.documents import RUNS_FILE, manifest_document, metrics_document
from backtests.outputs.folder import write_atomically
from backtests.jsonfmt import clean_json, dumps
from backtests.sweep.results import StudyResult

if TYPE_CHECKING:
    from backtests.report import SavedRun


def benchmark_column(strategy: str, window: str) -> str:
    """Column of ``benchmark.parquet`` holding a strategy's benchmark over one window."""
    return f"{strategy}|{window}"


def benchmark_frame(study: StudyResult, index: pd.Index) -> pd.DataFrame:
    """The benchmark's returns once per (strategy, window), on ``index``.

    Every run of a strategy in a window has the same benchmark series (the benchmark over that
    window's periods), so the file holds it once, not once per run: columns
    :func:`benchmark_column` ``(label, window)``, in the order of the strategies and their windows.
    """
    cols: dict[str, pd.Series] = {}
    for r in study.strategies:
        if r.benchmark is None:
            continue
        first = r.runs["window"].drop_duplicates()  # the first run of each window
        for rid, window in first.items():
            cols[benchmark_column(r.plan.label, str(window))] = r.benchmark[rid]
    frame = pd.DataFrame(cols).reindex(index=index) if cols else pd.DataFrame(index=index)
    frame.index.name = "time"
    return frame


def _by_time(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
    """Frames side by side on the union of their UTC period ends (index ``time``)."""
    frames = [f for f in frames if f is not None]
    out = pd.concat(frames, axis=1, sort=True).sort_index() if frames else pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
    out.index.name = "time"
    return out


def run_contents(study: StudyResult) -> SavedRun:
    """Everything a run folder holds, in memory: the documents and every table, built once here for
    :func:`write_outputs` and for the Python API's result of a run that writes nothing
    (:func:`backtests.api.run`)."""
    from backtests.report import SavedRun

    metrics = metrics_document(study)
    manifest = manifest_document(study)
    returns = _by_time([r.returns for r in study.strategies])
    manifest["files"] = []  # nothing written yet: write_outputs lists the files it writes
    return SavedRun(metrics, manifest, returns, pd.concat([r.orders for r in study.strategies], ignore_index=True),
                    _by_time([r.pooled for r in study.strategies]),
                    _by_time([r.pooled_benchmark for r in study.strategies]),
                    weights=pd.concat([r.weights for r in study.strategies], ignore_index=True),
                    benchmark=benchmark_frame(study, returns.index),
                    runs=runs_table(study) if metrics["runs_file"] else None)


def write_outputs(study: StudyResult, out_dir: Path, contents: SavedRun | None = None) -> Path:
    """Write metrics.json, returns.parquet, pooled.parquet, benchmark.parquet,
    pooled_benchmark.parquet, weights.parquet, orders.parquet, manifest.json and tearsheet.html
    atomically (:data:`~backtests.outputs.folder.RUN_FILES`): ``contents``, or
    :func:`run_contents` of ``study``."""
    from backtests.report import render_tearsheet

    saved = contents if contents is not None else run_contents(study)
    metrics, manifest = saved.metrics, saved.manifest

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="scare-parquet") as pool:
        # parquet encoding (pyarrow, outside the GIL) overlaps the JSON documents and the tearsheet
        def parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
            encoded: Future[bytes] = pool.submit(_parquet_bytes, frame)
            return lambda p: p.write_bytes(encoded.result())

        writers: dict[str, Callable[[Path], None]] = {
            "metrics.json": lambda p: p.write_text(dumps(metrics), encoding="utf-8"),
            "returns.parquet": parquet(saved.returns),
            "benchmark.parquet": parquet(saved.benchmark),
            "pooled.parquet": parquet(saved.pooled),
            "pooled_benchmark.parquet": parquet(saved.pooled_benchmark),
            "weights.parquet": parquet(saved.weights),
            "orders.parquet": parquet(saved.orders),
            "manifest.json": lambda p: p.write_text(dumps(manifest), encoding="utf-8"),
        }
        if saved.runs is not None:
            writers[RUNS_FILE] = parquet(saved.runs)
        if study.scenarios is not None:
            writers[SCENARIOS_FILE] = parquet(scenario_table(study.scenarios))
        if study.plan.config.output.tearsheet:
            writers["tearsheet.html"] = lambda p: p.write_text(render_tearsheet(saved), encoding="utf-8")
        manifest["files"] = sorted(writers)  # what this run wrote (the run folder's marker lists the same)
        return write_atomically(out_dir, writers)


#: One row per (scenario strategy, combination, scenario): SCENARIO results, never pooled with runs.
SCENARIOS_FILE = "scenarios.parquet"


def scenario_table(sweep) -> pd.DataFrame:
    """scenarios.parquet: per scenario strategy, combination and scenario its total return, drawdown,
    orders and first fill, with the scenario's parameters, measured leader path and derived halts;
    every row labelled with the generator's family, seed and spec digest (``label``)."""
    label = sweep.scored["label"]
    parts = []
    for p in sweep.plan.strategies:
        t = sweep.runs[p.label].merge(sweep.scenarios, on="scenario", how="left")
        parts.append(t.assign(strategy=p.label, label=label))
    out = pd.concat(parts, ignore_index=True)
    first = ["label", "strategy", "combo", "scenario"]
    return out[first + [c for c in out.columns if c not in first]]


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=frame.index.name is not None)
    return buf.getvalue()


def _compact_json(value: dict) -> str:
    return json.dumps(clean_json(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def runs_table(study: StudyResult) -> pd.DataFrame:
    """Every run of the study, one row each (``runs.parquet``): the fields of metrics.json's run
    records, ``params`` and ``nan_reasons`` as JSON text, one column per metric."""
    records = [r for res in study.strategies for r in res.scored["runs"]]
    head = pd.DataFrame({
        "id": [r["id"] for r in records], "strategy": [r["strategy"] for r in records],
        "strategy_name": [r["strategy_name"] for r in records],
        "combo": pd.array([r["combo"] for r in records], dtype="int64"),
        "window": [r["window"] for r in records],
        "first_fill_utc": pd.DatetimeIndex([r.get("first_fill_utc") for r in records], tz="UTC"),
        "params": [_compact_json(r["params"]) for r in records],
        "nan_reasons": [_compact_json(r["nan_reasons"]) for r in records],
    })
    metrics = pd.DataFrame.from_records([r["metrics"] for r in records])
    return pd.concat([head, metrics], axis=1)
