"""Chunked, distributed and resumed sweeps give the same results as one plain run."""

from __future__ import annotations

import json

import pytest

import backtests.sweep as sweep
from tests.conftest import ROOT

CFG = ROOT / "tests" / "configs" / "small.yaml"
GRID = "strategies.0.params.weight=[0.25, 0.5, 0.75, 1.0, -0.5]"


def _metrics(out):
    doc = json.loads((out / "metrics.json").read_text())
    doc.pop("config_hash")
    return doc


def test_chunk_size_respects_limits():
    assert sweep.chunk_size(1000, rows=40, n_windows=10, n_symbols=2, chunk_runs=100, memory_limit_gb=None) == 10
    small = sweep.chunk_size(10**6, rows=252, n_windows=1, n_symbols=1, chunk_runs=None, memory_limit_gb=0.5)
    assert small == int(0.5e9 / sweep.BYTES_PER_CELL) // 252
    assert sweep.chunk_size(5, 10, 1, 1, None, None) == 5


def test_chunked_equals_unchunked(tmp_path, cli):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("run", CFG, "--out", a, "--no-progress", "--set", GRID)[0] == 0
    assert cli("run", CFG, "--out", b, "--no-progress", "--set", GRID, "--set", "executor.chunk_runs=1")[0] == 0
    assert _metrics(a) == _metrics(b)
    assert (a / "returns.parquet").read_bytes() == (b / "returns.parquet").read_bytes()
    assert (a / "weights.parquet").read_bytes() == (b / "weights.parquet").read_bytes()


def test_interrupted_run_resumes_with_only_missing_chunks(tmp_path, cli, monkeypatch):
    full, out = tmp_path / "full", tmp_path / "out"
    assert cli("run", CFG, "--out", full, "--no-progress", "--set", GRID, "--set", "executor.chunk_runs=2")[0] == 0
    real = sweep.compute_chunk
    calls = []

    def flaky(task):
        calls.append(task.grid.index[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sweep, "compute_chunk", flaky)
    code, _, err = cli("run", CFG, "--out", out, "--no-progress", "--set", GRID, "--set", "executor.chunk_runs=2")
    assert code == 130 and "--resume" in err and "1 finished chunk" in err
    assert not out.exists()
    calls.clear()
    monkeypatch.setattr(sweep, "compute_chunk", lambda t: (calls.append(t.grid.index[0]), real(t))[1])
    code, _, err = cli("run", CFG, "--out", out, "--no-progress", "--set", GRID, "--set", "executor.chunk_runs=2",
                       "--resume")
    assert code == 0, err
    assert 0 not in calls and len(calls) == 4  # the first chunk came from its checkpoint
    assert _metrics(out) == _metrics(full)
    assert not list(tmp_path.glob(".out.chunks-*"))


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(tmp_path, cli):
    pytest.importorskip("distributed")
    a, b = tmp_path / "local", tmp_path / "dask"
    base = ["--no-progress", "--set", GRID, "--set", "executor.chunk_runs=2"]
    assert cli("run", CFG, "--out", a, *base)[0] == 0
    code, _, err = cli("run", CFG, "--out", b, *base, "--executor", "dask")
    assert code == 0, err
    assert _metrics(a) == _metrics(b)
    assert (a / "returns.parquet").read_bytes() == (b / "returns.parquet").read_bytes()
