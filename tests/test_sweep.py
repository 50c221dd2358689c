"""Chunked, distributed and resumed sweeps give the same results as one plain run."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

import backtests.sweep.chunks as sweep
from tests.conftest import ROOT

CFG = ROOT / "tests" / "configs" / "small.yaml"
GRID = "strategies.0.params.weight=[0.25, 0.5, 0.75, 1.0, -0.5]"


def test_chunk_size_respects_limits():
    assert sweep.chunk_size(1000, rows=40, n_windows=10, n_symbols=2, chunk_runs=100, memory_limit_gb=None) == 10
    small = sweep.chunk_size(10**6, rows=252, n_windows=1, n_symbols=1, chunk_runs=None, memory_limit_gb=0.5)
    assert small == int(0.5e9 / sweep.BYTES_PER_CELL) // 252
    assert sweep.chunk_size(5, 10, 1, 1, None, None) == 5


def test_chunked_equals_unchunked(tmp_path, cli):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("run", CFG, "--out", a, "--no-progress", "--set", GRID)[0] == 0
    assert cli("run", CFG, "--out", b, "--no-progress", "--set", GRID, "--set", "executor.chunk_runs=1")[0] == 0
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
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
    assert [p.name for p in out.iterdir()] == [".scare-chunks"]  # nothing visible, no lock, no staging
    calls.clear()
    monkeypatch.setattr(sweep, "compute_chunk", lambda t: (calls.append(t.grid.index[0]), real(t))[1])
    code, _, err = cli("run", CFG, "--out", out, "--no-progress", "--set", GRID, "--set", "executor.chunk_runs=2",
                       "--resume")
    assert code == 0, err
    assert 0 not in calls and len(calls) == 4  # the first chunk came from its checkpoint
    assert (out / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()
    assert not (out / ".scare-chunks").exists() and not list(tmp_path.glob(".*"))


TWO = """name: two
windows: [deepseek_r1, kospi_crash_2026]
benchmark: SPY
strategies:
  - {name: buy_and_hold, label: hold_qqq, roles: {asset: QQQ}, params: {weight: [0.25, 0.5, 1.0]}}
  - {name: buy_and_hold, label: hold_spy, roles: {asset: SPY}, params: {weight: [0.5, -0.5]}}
"""


@pytest.mark.slow
def test_dask_one_local_cluster_per_run_identical_bytes_nothing_left(tmp_path, cli, monkeypatch):
    distributed = pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    cfg = tmp_path / "two.yaml"
    cfg.write_text(TWO)
    clusters = []

    class Counted(distributed.LocalCluster):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            port = self.scheduler.services["dashboard"].port  # distributed's name for its HTTP server
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10)
            clusters.append((self, port))

    monkeypatch.setattr(distributed, "LocalCluster", Counted)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert cli("run", cfg, "--out", local, "--no-progress")[0] == 0  # one chunk per strategy, in-process
    code, _, err = cli("run", cfg, "--out", dask, "--no-progress", "--set", "executor.chunk_runs=2",
                       "--executor", "dask")
    assert code == 0, err
    assert len(clusters) == 1  # one cluster for both strategies (5 chunks), no dashboard
    assert clusters[0][0].status.name == "closed" and clusters[0][1] != 8787
    # multiprocessing's resource tracker lives as long as this process (it ends with `scare`): not a worker
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]
    assert not left, left
    for name in ("metrics.json", "returns.parquet", "weights.parquet"):
        assert (local / name).read_bytes() == (dask / name).read_bytes(), name


def test_executor_settings_do_not_change_the_config_hash():
    from backtests.config import load_config

    base = load_config(CFG, []).config.config_hash()
    for extra in (["executor.kind=dask"], ["executor.chunk_runs=7"], ["executor.memory_limit_gb=0.5"],
                  ["executor.address=tcp://h:8786"]):
        assert load_config(CFG, extra).config.config_hash() == base
    assert load_config(CFG, ["execution.fill=close"]).config.config_hash() != base


# ----------------------------------------------------------------------------- checkpoints
PLUGIN = '''
import pandas as pd
from backtests.strategy import FloatParam, Role, Strategy


class Hold(Strategy):
    name = "resume_probe_hold"
    roles = {{"asset": Role("QQQ")}}
    windows = ("ai_shock",)
    weight = FloatParam(1.0, low=-1.0, high=1.0)

    def weights(self, ctx, weight):
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = {expr}
        return out
'''


def _plugin_config(tmp_path, monkeypatch, expr):
    """A study over a plug-in module in tmp_path; re-importable after each edit (like a new process)."""
    import importlib
    import sys

    mod = tmp_path / "resume_probe.py"
    mod.write_text(PLUGIN.format(expr=expr))
    sys.modules.pop("resume_probe", None)
    importlib.invalidate_caches()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    from backtests.strategy.registry import discover

    discover.cache_clear()
    cfg = tmp_path / "probe.yaml"
    cfg.write_text("name: probe\nwindows: [deepseek_r1, kospi_crash_2026]\nbenchmark: SPY\nstrategies:\n"
                   "  - {name: 'resume_probe:Hold', label: probe, params: {weight: [0.25, 0.5, 0.75, 1.0]}}\n")
    return cfg


def _interrupt_at(monkeypatch, n):
    real = sweep.compute_chunk
    calls = []

    def flaky(task):
        calls.append(task.grid.index[0])
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sweep, "compute_chunk", flaky)
    return real


def test_resume_after_editing_the_strategy_recomputes_with_the_new_code(tmp_path, cli, monkeypatch):
    new_code = "weight * 0.5"
    fresh, out = tmp_path / "fresh", tmp_path / "out"
    cfg = _plugin_config(tmp_path, monkeypatch, new_code)
    args = ["--no-progress", "--set", "executor.chunk_runs=2"]
    assert cli("run", cfg, "--out", fresh, *args)[0] == 0

    cfg = _plugin_config(tmp_path, monkeypatch, "weight")  # the old code, interrupted after 2 of 4 chunks
    real = _interrupt_at(monkeypatch, 3)
    code, _, err = cli("run", cfg, "--out", out, *args)
    assert code == 130 and "2 finished chunk(s) kept" in err

    cfg = _plugin_config(tmp_path, monkeypatch, new_code)  # edit the strategy, then resume
    computed = []
    monkeypatch.setattr(sweep, "compute_chunk", lambda t: (computed.append(t.grid.index[0]), real(t))[1])
    code, _, err = cli("run", cfg, "--out", out, *args, "--resume")
    assert code == 0, err
    assert "probe: 2 checkpoint(s) not reused (the strategy's code changed): recomputed" in err
    assert sorted(computed) == [0, 1, 2, 3]  # chunk_runs=2 over 2 windows: one combination per chunk
    assert (out / "metrics.json").read_bytes() == (fresh / "metrics.json").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    digest = manifest["code"]["strategies"]["probe"]
    assert digest["hashed"] == "file:resume_probe.py" and len(digest["digest"]) == 64
    assert len(manifest["code"]["scare"]) == 64
    assert [r["reason"] for r in manifest["checkpoints"]["recomputed"]] == ["the strategy's code changed"] * 2


class _Planted:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def test_resume_never_unpickles_and_recomputes_tampered_chunks(tmp_path, cli, monkeypatch):
    import pickle

    import numpy as np

    full, out = tmp_path / "full", tmp_path / "out"
    args = ["--no-progress", "--set", GRID, "--set", "executor.chunk_runs=2"]
    assert cli("run", CFG, "--out", full, *args)[0] == 0
    real = _interrupt_at(monkeypatch, 4)
    assert cli("run", CFG, "--out", out, *args)[0] == 130
    chunks = sorted((out / ".scare-chunks").glob("*.npz"))
    assert len(chunks) == 3
    sentinel = tmp_path / "pwned"
    planted = pickle.dumps(_Planted(sentinel))
    (out / ".scare-chunks" / "evil.pkl").write_bytes(planted)
    (out / ".scare-chunks" / (chunks[0].stem.split("-")[0] + "-000000000-000000001.pkl")).write_bytes(planted)
    # files scare did not write in its checkpoint folder: refused before anything is opened (the
    # folder is removed when a run ends, and they are not scare's to delete)
    code, _, err = cli("run", CFG, "--out", out, *args, "--resume")
    assert code == 2 and "evil.pkl, which scare did not write" in err and not sentinel.exists()
    for p in (out / ".scare-chunks").glob("*.pkl"):
        p.unlink()
    chunks[0].write_bytes(planted)  # a pickle where a chunk should be
    with np.load(chunks[1], allow_pickle=False) as z:  # an edited chunk, its metadata left as it was
        members = {k: z[k] for k in z.files}
    returns = next(k for k in members if k.endswith(".returns"))
    members[returns] = members[returns] + 0.01
    with chunks[1].open("wb") as fh:
        np.savez(fh, **members)

    computed = []
    monkeypatch.setattr(sweep, "compute_chunk", lambda t: (computed.append(t.grid.index[0]), real(t))[1])
    code, _, err = cli("run", CFG, "--out", out, *args, "--resume")
    assert code == 0, err
    assert not sentinel.exists()
    assert "1 checkpoint(s) not reused (not a readable scare checkpoint (ValueError)): recomputed" in err
    assert "1 checkpoint(s) not reused (its arrays do not match their digest (damaged or edited)): recomputed" in err
    assert sorted(computed) == [0, 1, 3, 4]  # chunk 2 was intact and reused
    assert (out / "metrics.json").read_bytes() == (full / "metrics.json").read_bytes()
