"""--out never destroys what scare did not write: marker, lock, staging, bad paths."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backtests.errors import ScareInputError
from backtests.outputs.folder import CHUNKS, LOCK, MARKER, RunFolder, write_atomically
from tests.conftest import ROOT

CFG = ROOT / "tests" / "configs" / "small.yaml"


def _text(value: str):
    return lambda p: p.write_text(value)


def _one_line_exit_2(code: int, err: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and err.startswith("scare: error: ")


# ----------------------------------------------------------------------------- foreign files kept
def test_folder_with_a_foreign_manifest_is_refused_and_left_alone(tmp_path, cli):
    web = tmp_path / "webapp"
    (web / "src").mkdir(parents=True)
    (web / "manifest.json").write_text("{}")
    (web / "src" / "app.js").write_text("x")
    code, _, err = cli("run", CFG, "--out", web, "--no-progress")
    _one_line_exit_2(code, err)
    assert "not a scare run folder" in err and str(web) in err
    assert sorted(p.name for p in web.iterdir()) == ["manifest.json", "src"]
    assert (web / "manifest.json").read_text() == "{}" and (web / "src" / "app.js").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["webapp"]  # nothing staged beside it


def test_rerun_into_a_run_folder_replaces_only_scare_files(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("run", CFG, "--out", out, "--no-progress")[0] == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["scare_run"] == 2 and marker["complete"] is True
    assert "metrics.json" in marker["files"] and "tearsheet.html" in marker["files"]
    assert marker["sha256"]["metrics.json"] == hashlib.sha256((out / "metrics.json").read_bytes()).hexdigest()
    (out / "notes.txt").write_text("mine")
    (out / "figures").mkdir()
    (out / "figures" / "f.png").write_bytes(b"png")
    before = (out / "metrics.json").read_text()
    code, _, err = cli("run", CFG, "--out", out, "--no-progress", "--set", "strategies.0.params.weight=[0.25]",
                       "--set", "output.tearsheet=false")
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "mine" and (out / "figures" / "f.png").read_bytes() == b"png"
    assert (out / "metrics.json").read_text() != before
    assert not (out / "tearsheet.html").exists()  # scare's own file from the earlier run, not rewritten now
    assert sorted(json.loads((out / MARKER).read_text())["files"]) == sorted(
        p.name for p in out.iterdir() if p.is_file() and p.name not in (MARKER, "notes.txt"))
    assert not [p for p in out.iterdir() if p.name.startswith(".scare-") and p.name != MARKER]


def test_a_file_scare_would_write_but_did_not_is_refused(tmp_path):
    out = tmp_path / "run"
    write_atomically(out, {"metrics.json": _text("1")})
    (out / "tearsheet.html").write_text("my own page")
    with pytest.raises(ScareInputError, match="tearsheet.html that scare did not write"):
        write_atomically(out, {"metrics.json": _text("2"), "tearsheet.html": _text("new")})
    assert (out / "tearsheet.html").read_text() == "my own page" and (out / "metrics.json").read_text() == "1"


def test_a_forged_marker_cannot_make_scare_delete_outside_the_folder(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = tmp_path / "run"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"scare_run": 1, "files": ["../victim.txt"]}))
    with pytest.raises(ScareInputError, match="not a valid scare run marker"):
        write_atomically(out, {"metrics.json": _text("1")})
    assert victim.read_text() == "keep"


def test_out_dot(tmp_path, cli, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code, _, err = cli("run", CFG, "--out", ".", "--no-progress")
    assert code == 0, err
    assert (empty / "metrics.json").is_file() and (empty / MARKER).is_file()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "manifest.json").write_text("{}")
    monkeypatch.chdir(busy)
    _one_line_exit_2(*cli("run", CFG, "--out", ".", "--no-progress")[::2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "empty"]  # no ..chunks-* or staging
    assert sorted(p.name for p in busy.iterdir()) == ["manifest.json"]


# ----------------------------------------------------------------------------- staging, created folders
def test_failed_write_keeps_the_earlier_run_and_removes_staging(tmp_path):
    out = tmp_path / "run"
    write_atomically(out, {"metrics.json": _text("1"), "returns.parquet": _text("r")})
    marker = (out / MARKER).read_text()

    def boom(p):
        raise KeyboardInterrupt

    for failing in (boom, lambda p: 1 / 0):
        with pytest.raises((KeyboardInterrupt, ZeroDivisionError)):
            write_atomically(out, {"metrics.json": _text("2"), "returns.parquet": failing})
        assert (out / "metrics.json").read_text() == "1" and (out / MARKER).read_text() == marker
        assert sorted(p.name for p in out.iterdir()) == [MARKER, "metrics.json", "returns.parquet"]


def test_stale_staging_of_a_killed_run_is_removed_by_the_next(tmp_path, capsys):
    out = tmp_path / "run"
    write_atomically(out, {"metrics.json": _text("1")})
    stale = out / ".scare-staging-deadbeef"
    stale.mkdir()
    (stale / "metrics.json").write_text("half")
    (out / LOCK).write_text("999999\n")  # a killed run's lock file (the kernel released its lock)
    legacy = tmp_path / ".run.chunks-0123456789abcdef-01234567"  # scare 0.1's pickled checkpoints
    legacy.mkdir()
    write_atomically(out, {"metrics.json": _text("2")})
    err = capsys.readouterr().err
    assert "removed 1 staging folder(s)" in err and "1 folder(s) beside" in err and legacy.is_dir()
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "metrics.json"]


def test_new_empty_or_fresh_folder_counts_as_empty_only_with_scare_entries(tmp_path):
    out = tmp_path / "run"
    (out / CHUNKS).mkdir(parents=True)  # left by an interrupted first run into a new folder
    write_atomically(out, {"metrics.json": _text("1")})
    assert (out / "metrics.json").read_text() == "1"


def test_a_run_that_fails_removes_the_folders_it_created(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError):
        with RunFolder(out):
            raise RuntimeError("data failed to load")
    assert not (tmp_path / "a").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(RuntimeError):
        with RunFolder(kept):
            raise RuntimeError
    assert kept.is_dir() and not list(kept.iterdir())


# ----------------------------------------------------------------------------- the lock
def test_concurrent_run_into_the_same_folder_is_refused(tmp_path, cli):
    out = tmp_path / "run"
    with RunFolder(out) as held:
        assert (out / LOCK).read_text().strip() == str(os.getpid())
        code, _, err = cli("run", CFG, "--out", out, "--no-progress")
        _one_line_exit_2(code, err)
        assert f"another scare run (pid {os.getpid()}) is writing into this folder" in err
        assert (out / LOCK).read_text().strip() == str(os.getpid())  # the refused run left the lock alone
        write_atomically(tmp_path / "run" / ".." / "run", {"metrics.json": _text("ok")})  # through the holder
        assert (out / "metrics.json").read_text() == "ok" and held.path == out
    assert not (out / LOCK).exists()
    write_atomically(out, {"metrics.json": _text("again")})  # released on exit
    assert (out / "metrics.json").read_text() == "again"


# ----------------------------------------------------------------------------- bad --out paths
@pytest.mark.parametrize("where", ["file", "proc", "unwritable"])
def test_out_that_cannot_be_created_is_one_line_exit_2(tmp_path, cli, where):
    if where == "file":
        blocker = tmp_path / "plain.txt"
        blocker.write_text("x")
        out = blocker / "run"
    elif where == "proc":
        if not Path("/proc/self").exists():
            pytest.skip("no /proc")
        out = Path("/proc/x")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into any folder; /proc/x covers an unwritable place")
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        out = ro / "run"
    code, _, err = cli("run", CFG, "--out", out, "--no-progress")
    _one_line_exit_2(code, err)
    assert str(out) in err
    if where == "file":
        assert "is a file, not a folder" in err and (tmp_path / "plain.txt").read_text() == "x"


# ----------------------------------------------------------------------------- SIGTERM
SLOW_PLUGIN = '''
import time
from pathlib import Path
import pandas as pd
from backtests.strategy import FloatParam, Role, Strategy


class Slow(Strategy):
    name = "sigterm_probe"
    roles = {"asset": Role("QQQ")}
    weight = FloatParam(1.0, low=-1.0, high=1.0)

    def weights(self, ctx, weight):
        flag = Path(__file__).with_name("started")
        if flag.exists() and not Path(__file__).with_name("fast").exists():
            time.sleep(60)
        flag.write_text("1")
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = weight
        return out
'''


@pytest.mark.slow
def test_sigterm_keeps_finished_chunks_and_leaves_no_staging_or_lock(tmp_path):
    (tmp_path / "sigterm_probe.py").write_text(SLOW_PLUGIN)
    cfg = tmp_path / "probe.yaml"
    cfg.write_text("name: probe\nwindows: [deepseek_r1]\nbenchmark: SPY\nstrategies:\n"
                   "  - {name: 'sigterm_probe:Slow', label: slow, params: {weight: [0.5, 1.0]}}\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "PYTHONDONTWRITEBYTECODE": "1"}
    # --no-audit: the probe sleeps on every call after the first, and the look-ahead audit calls it
    # several times before the run starts
    cmd = [sys.executable, "-m", "backtests", "run", str(cfg), "--out", str(out), "--no-progress",
           "--set", "executor.chunk_runs=1", "--no-audit"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not list((out / CHUNKS).glob("*.npz")):  # the first chunk is saved; the second one sleeps
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no chunk finished in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    assert "1 finished chunk(s) kept" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [CHUNKS]
    (tmp_path / "fast").write_text("1")
    done = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / "metrics.json").is_file() and not (out / CHUNKS).exists() and not (out / LOCK).exists()


def test_scare_report_updates_the_marker_and_keeps_the_other_files(tmp_path, cli):
    out = tmp_path / "run"
    assert cli("run", CFG, "--out", out, "--no-progress", "--set", "output.tearsheet=false")[0] == 0
    files = json.loads((out / MARKER).read_text())["files"]
    assert "tearsheet.html" not in files
    assert json.loads((out / "manifest.json").read_text())["files"] == files
    code, _, err = cli("report", out)
    assert code == 0, err
    assert json.loads((out / MARKER).read_text())["files"] == sorted([*files, "tearsheet.html"])
    assert all((out / f).is_file() for f in files)


def test_update_writes_one_file_and_keeps_the_rest_listed(tmp_path):
    out = tmp_path / "run"
    write_atomically(out, {"metrics.json": _text("1"), "returns.parquet": _text("r")})
    write_atomically(out, {"tearsheet.html": _text("t")}, update=True)
    assert json.loads((out / MARKER).read_text())["files"] == ["metrics.json", "returns.parquet", "tearsheet.html"]
    assert (out / "metrics.json").read_text() == "1"
