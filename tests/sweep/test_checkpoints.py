"""Checkpoint files: what is written comes back exactly, and a changed context is not reused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backtests.engine.results import RUN_STATS, run_stats
from backtests.notices import Notice
from backtests.sweep.checkpoints import ARRAYS, Checkpoints
from backtests.sweep.chunks import WindowBlock


def _stats(k: int, paired: bool) -> dict[str, np.ndarray]:
    return {s.name: np.arange(k).astype(s.numpy_dtype) + 1 for s in run_stats(paired)}


class _Task:
    """What a checkpoint's key reads of a :class:`~backtests.sweep.chunks.ChunkTask`."""

    label, keep_weights, benchmark, events, windows = "x", True, None, None, []
    grid = pd.DataFrame({"weight": [0.5, 1.0]}, index=[3, 4])

    class strategy:
        symbols = {"asset": "QQQ"}

    class data:
        @staticmethod
        def content_digest():
            return "data digest"

    class rules:
        @staticmethod
        def record():
            return {"fill": "open"}


def test_checkpoint_round_trip_keeps_every_field(tmp_path):
    """Blocks (orders with text columns, notices, optional arrays, the engine's statistics) come back exactly."""
    orders = pd.DataFrame({"combo": np.array([0, 1]), "symbol": np.array(["QQQ", "SPY"]), "row": np.array([0, 3]),
                           "size": [1.5, -2.0], "price": [10.0, 11.0], "fees": [0.0, 0.1],
                           "side": np.where(np.array([0, 1]) == 0, "buy", "sell"),
                           "fill_time": np.array([5, 6], dtype=np.int64)})
    blocks = [
        WindowBlock(window="w1", combos=np.array([3, 4]), stamps=np.array([7, 8], dtype=np.int64),
                    returns=np.ones((2, 2)), bench=None, held=np.zeros((2, 2, 1)), target=None, orders=orders,
                    stats=_stats(2, paired=True),
                    notices=[Notice("weights_clipped", "clipped", window="w1", count=2).record()]),
        WindowBlock(window="w2", combos=np.array([3, 4]), stamps=np.array([], dtype=np.int64),
                    returns=np.zeros((0, 2)), bench=np.zeros(0), held=None, target=None, orders=orders.iloc[:0],
                    stats=_stats(2, paired=False)),
    ]

    Task = _Task()

    ck = Checkpoints(tmp_path / "ck", {"config_hash": "c", "data": "d", "scare_code": "s"})
    ck.save(Task, 0, 2, blocks)
    back = ck.load(Task, 0, 2)
    assert back is not None and len(back) == 2
    for a, b in zip(blocks, back):
        assert (a.window, a.notices) == (b.window, b.notices)
        for f in ARRAYS:
            x, y = getattr(a, f), getattr(b, f)
            assert (x is None and y is None) or (np.array_equal(x, y) and x.dtype == y.dtype)
        assert list(a.stats) == list(b.stats)
        for name in a.stats:
            assert np.array_equal(a.stats[name], b.stats[name]) and a.stats[name].dtype == b.stats[name].dtype
        pd.testing.assert_frame_equal(a.orders, b.orders)
    assert set(back[0].stats) == {s.name for s in RUN_STATS}  # a paired strategy's block has them all
    other = Checkpoints(tmp_path / "ck", {"config_hash": "c", "data": "CHANGED", "scare_code": "s"})
    assert other.load(Task, 0, 2) is None and other.recomputed[0][2] == "the data changed"

    class Stated(_Task):  # same data, config and code, another exchange state (e.g. a new borrow file)
        class rules(_Task.rules):  # noqa: N801 - a stand-in with the attributes the key reads
            state = type("S", (), {"digest": "other"})()

    assert ck.load(Stated(), 0, 2) is None
    assert ck.recomputed[-1][2] == "the exchange state derived from the data changed"

# ----------------------------------------------------------------------------- resume after an edit
EVENTS = """events:
  - {{id: my_shock, kind: my_shock, market: XNYS, date: {date}, timing: after_close, label: my shock}}
"""
STUDY = """name: edited
events_files:
  - path: events.yaml
windows: [{id: my_shock, pre: 2, post: 5}]
benchmark: SPY
strategies:
  - {name: buy_and_hold, roles: {asset: QQQ}, params: {weight: [0.25, 0.5, 0.75, 1.0, -0.5]}}
"""


def test_resume_after_moving_an_event_in_an_events_file_recomputes_every_chunk(tmp_path, cli, monkeypatch):
    """The config names the events file, not its contents: the checkpoints' key must cover the
    catalogue and the windows, or --resume keeps the old window's returns under the new date."""
    import backtests.sweep.chunks as chunks

    (tmp_path / "events.yaml").write_text(EVENTS.format(date="2025-01-27"))
    cfg = tmp_path / "study.yaml"
    cfg.write_text(STUDY)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    real, calls = chunks.compute_chunk, []

    def interrupted(task):
        calls.append(task.grid.index[0])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(chunks, "compute_chunk", interrupted)
    args = ("--no-progress", "--no-audit", "--set", "executor.chunk_runs=1")
    code, _, err = cli("run", cfg, "--out", out, *args)
    assert code == 130 and "2 finished chunk(s) kept" in err, err
    (tmp_path / "events.yaml").write_text(EVENTS.format(date="2025-03-10"))  # the event moved
    calls.clear()
    monkeypatch.setattr(chunks, "compute_chunk", lambda t: (calls.append(t.grid.index[0]), real(t))[1])
    code, _, err = cli("run", cfg, "--out", out, *args, "--resume")
    assert code == 0, err
    assert sorted(calls) == [0, 1, 2, 3, 4]  # nothing reused
    # the exchange state covers the windows' sessions, so it (and the rules that carry it) moved too
    assert "2 checkpoint(s) not reused (the event catalogue changed; the windows changed; the execution rules " \
           "changed; the exchange state derived from the data changed): recomputed" in err
    assert cli("run", cfg, "--out", fresh, *args)[0] == 0
    assert (out / "metrics.json").read_bytes() == (fresh / "metrics.json").read_bytes()
    assert (out / "returns.parquet").read_bytes() == (fresh / "returns.parquet").read_bytes()
    window = json.loads((out / "metrics.json").read_text())["windows"][0]
    assert window["event_date"] == "2025-03-10"


def test_every_field_of_a_chunk_task_is_in_its_key(tmp_path):
    """A field added to ChunkTask must be covered by the key (or named here as not changing a result)."""
    import dataclasses

    from backtests.sweep.chunks import ChunkTask

    not_results = {"call_limit"}  # how long a plug-in call may take changes no result
    key_names = {"label": "strategy", "strategy": "strategy_code", "data": "strategy_data", "events": "events",
                 "grid": "grid", "windows": "windows", "rules": "rules", "benchmark": "benchmark",
                 "keep_weights": "keep_weights"}
    fields = {f.name for f in dataclasses.fields(ChunkTask)}
    assert fields - not_results == set(key_names), "a new ChunkTask field: put it in Checkpoints.key"
    key = Checkpoints(tmp_path, {}).key(_Task(), 0, 2)
    assert set(key_names.values()) <= set(key) and {"roles", "lo", "hi", "libraries"} <= set(key)
