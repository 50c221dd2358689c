"""Write a finished study's files into its run folder (all of them or none).

The per-run and per-combination series are written in the **long** layout (docs/outputs.md):
``returns.parquet`` one row per (run, period end) at which the run has a return, ``pooled.parquet``
one row per (pooled id, period end), never one column per run. They are streamed to the file in
row groups of :data:`ROW_GROUP_CELLS` values built straight from the in-memory panels, so writing
costs what encoding the values costs, in memory bounded by a row group.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtests.jsonfmt import encode
from backtests.outputs.documents import RUNS_FILE, manifest_document, metrics_document
from backtests.outputs.folder import write_atomically
from backtests.report.view import PATH_COLUMNS, shown_ids
from backtests.sweep.results import StudyResult

if TYPE_CHECKING:
    from backtests.report import SavedRun

#: values (rows of a long table) per row group of returns.parquet and pooled.parquet
ROW_GROUP_CELLS = 1 << 22


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


def _union_index(frames: list[pd.DataFrame | None]) -> pd.DatetimeIndex:
    """The sorted union of the frames' UTC period ends (index ``time``)."""
    stamps = [np.asarray(pd.DatetimeIndex(f.index).as_unit("ns").asi8) for f in frames if f is not None]
    ns = np.unique(np.concatenate(stamps)) if stamps else np.zeros(0, dtype=np.int64)
    return pd.DatetimeIndex(ns.view("M8[ns]"), tz="UTC", name="time")


# ------------------------------------------------------------------ long tables
def _long_batches(frames: list[pd.DataFrame], key: str, paths: bool) -> Iterator[object]:
    """Record batches of a long table from wide frames (one column per id, index UTC time): per
    block of ids, the rows ``(id, time, return)`` where the return is not NaN, id-major then time,
    and with ``paths`` the columns :data:`~backtests.report.view.PATH_COLUMNS` read from the
    frame's ``<id>|<path>`` columns (null for ids without them)."""
    import pyarrow as pa

    nulls = [pa.nulls(0, pa.float64())]

    def null_column(n: int) -> object:  # one all-null array, sliced (not a buffer per block and path)
        if n > len(nulls[0]):
            nulls[0] = pa.nulls(n, pa.float64())
        return nulls[0].slice(0, n)

    for frame in frames:
        names = frame.columns.astype(str)
        is_path = np.asarray(names.str.contains("|", regex=False), dtype=bool)
        cols = np.flatnonzero(~is_path)
        if not cols.size:
            continue
        ids = names[cols].tolist()
        contiguous = cols[-1] - cols[0] + 1 == cols.size
        values = frame.to_numpy(copy=False)
        stamps = np.asarray(pd.DatetimeIndex(frame.index).as_unit("ns").asi8)
        by_path: dict[str, dict[str, int]] = {p: {} for p in PATH_COLUMNS}
        for j in np.flatnonzero(is_path).tolist():
            pid, _, p = names[j].partition("|")
            if p in by_path:
                by_path[p][pid] = j
        step = max(1, ROW_GROUP_CELLS // max(1, len(stamps)))
        for lo in range(0, len(ids), step):
            hi = min(len(ids), lo + step)
            part = slice(cols[0] + lo, cols[0] + hi) if contiguous else cols[lo:hi]
            block = np.ascontiguousarray(values[:, part].T if values.dtype == np.float64 else
                                         frame.iloc[:, part].to_numpy(dtype=float, na_value=np.nan).T)
            keep = ~np.isnan(block)
            counts = keep.sum(axis=1)
            n = int(counts.sum())
            codes = np.repeat(np.arange(hi - lo, dtype=np.int32), counts)
            arrays = {
                key: pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(ids[lo:hi], pa.string())),
                "time": pa.array(np.broadcast_to(stamps, block.shape)[keep].view("M8[ns]"),
                                 pa.timestamp("ns", tz="UTC")),
                "return": pa.array(block[keep], pa.float64()),
            }
            if paths:
                for p in PATH_COLUMNS:
                    have = [(k, by_path[p][i]) for k, i in enumerate(ids[lo:hi]) if i in by_path[p]]
                    arrays[p] = _path_column(values, have, keep) if have else null_column(n)
            yield pa.RecordBatch.from_pydict(arrays)


def _path_column(values: np.ndarray, have: list[tuple[int, int]], keep: np.ndarray) -> object:
    """One path column of a block of ids: ``have`` lists (id position in the block, column of its
    ``<id>|<path>`` values); the values on the ids' rows, null for the other ids."""
    import pyarrow as pa

    out = np.full(keep.shape, np.nan)
    valid = np.zeros(keep.shape, dtype=bool)
    for k, j in have:
        out[k] = values[:, j]
        valid[k] = True
    return pa.array(out[keep], pa.float64(), mask=~valid[keep])


def write_long(path: Path, frames: list[pd.DataFrame], key: str, paths: bool = False) -> None:
    """Stream a long table (see :func:`_long_batches`) into a parquet file, one row group per batch."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field(key, pa.dictionary(pa.int32(), pa.string())), pa.field("time", pa.timestamp("ns", tz="UTC")),
              pa.field("return", pa.float64())] + ([pa.field(p, pa.float64()) for p in PATH_COLUMNS] if paths else [])
    schema = pa.schema(fields)
    with pq.ParquetWriter(path, schema, use_dictionary=[key, "time"], compression="snappy") as writer:
        wrote = False
        for batch in _long_batches(frames, key, paths):
            writer.write_batch(batch)
            wrote = True
        if not wrote:
            writer.write_table(schema.empty_table())


def _shown_frames(study: StudyResult, metrics: dict) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The returns of the runs and the pooled series (with paths) of the combinations the page
    draws (:func:`~backtests.report.view.shown_ids`), wide: what the in-process tearsheet reads."""
    runs, pooled = shown_ids(metrics)
    runs_set, pooled_set = set(runs), set(pooled)
    ret = [r.returns[[c for c in r.returns.columns if c in runs_set]] for r in study.strategies]
    pool = [r.pooled[[c for c in r.pooled.columns if str(c).split("|", 1)[0] in pooled_set]]
            for r in study.strategies if r.pooled is not None]
    return _by_time(ret), (_by_time(pool) if pool else None)


def run_contents(study: StudyResult) -> SavedRun:
    """Everything a run folder holds, in memory and wide (one column per run and pooled id, index
    ``time``), for the Python API's result of a run that writes nothing (:func:`backtests.api.run`):
    the documents and every table, from the same builders :func:`write_outputs` writes with."""
    from backtests.report import SavedRun

    metrics = metrics_document(study)
    manifest = manifest_document(study)
    returns = _by_time([r.returns for r in study.strategies])
    manifest["files"] = []  # nothing written: write_outputs lists the files it writes
    return SavedRun(metrics, manifest, returns, pd.concat([r.orders for r in study.strategies], ignore_index=True),
                    _by_time([r.pooled for r in study.strategies if r.pooled is not None] or [None]),
                    _by_time([r.pooled_benchmark for r in study.strategies]),
                    weights=pd.concat([r.weights for r in study.strategies], ignore_index=True),
                    benchmark=benchmark_frame(study, returns.index),
                    runs=runs_table(study) if metrics["runs_file"] else None)


# ------------------------------------------------------------------ the run folder
def write_outputs(study: StudyResult, out_dir: Path) -> Path:
    """Write metrics.json, returns.parquet, pooled.parquet, benchmark.parquet,
    pooled_benchmark.parquet, weights.parquet, orders.parquet, manifest.json and tearsheet.html
    atomically (:data:`~backtests.outputs.folder.RUN_FILES`)."""
    from backtests.report import SavedRun, render_tearsheet

    metrics = metrics_document(study)
    manifest = manifest_document(study)
    returns = [r.returns for r in study.strategies]
    pooled = [r.pooled for r in study.strategies if r.pooled is not None]
    benchmark = benchmark_frame(study, _union_index(returns))
    pooled_benchmark = _by_time([r.pooled_benchmark for r in study.strategies])
    weights = pd.concat([r.weights for r in study.strategies], ignore_index=True)
    orders = pd.concat([r.orders for r in study.strategies], ignore_index=True)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="scare-parquet") as pool:
        # the small tables are encoded (pyarrow, outside the GIL) while the rest is written
        def parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
            encoded: Future[bytes] = pool.submit(_parquet_bytes, frame)
            return lambda p: p.write_bytes(encoded.result())

        writers: dict[str, Callable[[Path], None]] = {
            "metrics.json": lambda p: p.write_bytes(encode(metrics)),
            "returns.parquet": lambda p: write_long(p, returns, "run"),
            "benchmark.parquet": parquet(benchmark),
            "pooled.parquet": lambda p: write_long(p, pooled, "id", paths=True),
            "pooled_benchmark.parquet": parquet(pooled_benchmark),
            "weights.parquet": parquet(weights),
            "orders.parquet": parquet(orders),
            "manifest.json": lambda p: p.write_bytes(encode(manifest)),
        }
        if metrics["runs_file"]:
            writers[RUNS_FILE] = parquet(runs_table(study))
        if study.scenarios is not None:
            writers[SCENARIOS_FILE] = parquet(scenario_table(study.scenarios))
        if study.plan.config.output.tearsheet:
            shown_returns, shown_pooled = _shown_frames(study, metrics)
            saved = SavedRun(metrics, manifest, shown_returns, orders, shown_pooled, pooled_benchmark)
            writers["tearsheet.html"] = lambda p: p.write_text(render_tearsheet(saved), encoding="utf-8")
        manifest["files"] = sorted(writers)  # what this run wrote (the run folder's marker lists the same)
        return write_atomically(out_dir, writers)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=frame.index.name is not None)
    return buf.getvalue()


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


def runs_table(study: StudyResult) -> pd.DataFrame:
    """Every run of the study, one row each (``runs.parquet``): the fields of metrics.json's run
    records, ``params`` and ``nan_reasons`` as JSON text, one column per metric; built from the
    scoring stage's columns (:meth:`~backtests.scoring.records.RunRecords.frame`)."""
    frames = [res.scored["runs"].frame() for res in study.strategies]
    return pd.concat(frames, ignore_index=True) if len(frames) != 1 else frames[0]
