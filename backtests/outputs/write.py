"""Write a finished study's files into its run folder (all of them or none)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from backtests.outputs.documents import manifest_document, metrics_document
from backtests.outputs.folder import write_atomically
from backtests.outputs.jsonfmt import dumps
from backtests.results import StudyResult


def write_outputs(study: StudyResult, out_dir: Path) -> Path:
    """Write metrics.json, returns.parquet, weights.parquet, orders.parquet, manifest.json and
    tearsheet.html atomically."""
    from backtests.report import render_tearsheet

    metrics = metrics_document(study)
    manifest = manifest_document(study)
    returns = pd.concat([r.returns for r in study.strategies], axis=1, sort=True) if study.strategies else pd.DataFrame()
    returns = returns.sort_index()
    returns.index.name = "time"
    bench_parts = [r.benchmark for r in study.strategies if r.benchmark is not None]
    benchmark = pd.concat(bench_parts, axis=1, sort=True).reindex(index=returns.index) if bench_parts else pd.DataFrame(
        index=returns.index)
    benchmark.index.name = "time"
    weights = pd.concat([r.weights for r in study.strategies], ignore_index=True)
    orders = pd.concat([r.orders for r in study.strategies], ignore_index=True)

    def parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
        return lambda p: frame.to_parquet(p, index=frame.index.name is not None)

    writers: dict[str, Callable[[Path], None]] = {
        "metrics.json": lambda p: p.write_text(dumps(metrics), encoding="utf-8"),
        "returns.parquet": parquet(returns),
        "benchmark.parquet": parquet(benchmark),
        "weights.parquet": parquet(weights),
        "orders.parquet": parquet(orders),
        "manifest.json": lambda p: p.write_text(dumps(manifest), encoding="utf-8"),
    }
    if study.plan.config.output.tearsheet:
        writers["tearsheet.html"] = lambda p: p.write_text(
            render_tearsheet(metrics, manifest, returns, weights, orders, benchmark), encoding="utf-8")
    manifest["files"] = sorted(writers)  # what this run wrote (the run folder's marker lists the same)
    return write_atomically(out_dir, writers)
