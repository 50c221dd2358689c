"""Hostile plug-ins that need a real process: ``os._exit``, forks, signals, calls stuck in compiled
code, and what the exit code is as the shell sees it.

Each case is a folder ``processes/NAME/`` holding the plug-in modules and study files it uses and a
``MANIFEST`` of directives, one per line (``#`` starts a comment):

``previous-run DIR``
    Before anything, put a copy of a finished run folder at ``DIR`` (a real ``scare run`` of a good
    study): a hostile run pointed at it must leave it byte-identical.
``command ARGS`` (repeatable, run in order)
    Run ``python -m backtests ARGS`` (shell-quoted) in the work folder (a copy of the case, on
    ``PYTHONPATH``). The directives below apply to the command above them.
``exit N``
    Its exit code (default 2).
``lines N``
    Lines on stderr (default 1 for a non-zero exit, 0 for exit 0; ``any``: not counted).
``expect TEXT`` (repeatable)
    A fragment of stderr (of its one line when ``lines`` is 1, which must start ``scare:``).
``signal NAME after FILE``
    Send signal ``NAME`` (``TERM``, ``INT``) once the plug-in has written ``FILE`` in the work folder
    (the handshake: the plug-in writes it when it is inside the code to interrupt).
``within SECONDS``
    The command must end within this time (default 120).
``same-runs LABEL A B``
    After the commands: the run records of strategy ``LABEL`` in ``A/metrics.json`` and
    ``B/metrics.json`` have the same metrics.
``may-change GLOB`` (repeatable)
    Paths (relative to the work folder) the case may create or change: the plug-in's handshake
    files, the output folders of successful commands. Everything else must be byte-identical
    after the commands, and no ``.scare-lock`` may be left anywhere.
``kill-pids FILE``
    At the end, kill the processes whose pids the plug-in wrote into ``FILE`` (a forked child that
    lingers), and check that they were still running (so the case proved what it claims).

Every command runs with no traceback on stderr (unless ``lines any``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hostile.test_hostile import previous_run  # noqa: F401 - the finished run the corpus shares

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = sorted(p for p in (HERE / "processes").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


@dataclass
class Command:
    args: list[str]
    exit: int = 2
    lines: int | None = None
    expect: list[str] = field(default_factory=list)
    signal: tuple[str, str] | None = None
    within: float = 120.0


@dataclass
class Case:
    name: str
    folder: Path
    previous: str | None = None
    commands: list[Command] = field(default_factory=list)
    same_runs: list[tuple[str, str, str]] = field(default_factory=list)
    may_change: list[str] = field(default_factory=list)
    kill_pids: str | None = None


def parse(folder: Path) -> Case:
    case = Case(folder.name, folder)
    for raw in (folder / "MANIFEST").read_text().splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("expect") else raw.strip()
        if not line:
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        cmd = case.commands[-1] if case.commands else None
        if key == "previous-run":
            case.previous = value
        elif key == "command":
            case.commands.append(Command(shlex.split(value)))
        elif key == "exit":
            cmd.exit = int(value)
        elif key == "lines":
            cmd.lines = -1 if value == "any" else int(value)
        elif key == "expect":
            cmd.expect.append(value)
        elif key == "signal":
            name, _, rest = value.partition(" after ")
            cmd.signal = (name.strip(), rest.strip())
        elif key == "within":
            cmd.within = float(value)
        elif key == "same-runs":
            label, a, b = value.split()
            case.same_runs.append((label, a, b))
        elif key == "may-change":
            case.may_change.append(value)
        elif key == "kill-pids":
            case.kill_pids = value
        else:
            raise AssertionError(f"{folder.name}: unknown directive {key!r}")
    assert case.commands, f"{folder.name}: no command"
    return case


def snapshot(root: Path, allowed: list[str]) -> dict[str, str]:
    """Every entry under ``root`` (not following links) with a digest, except allowed paths."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(rel.split("/")[0], g) for g in allowed):
                continue
            if p.is_symlink():
                out[rel] = f"link:{os.readlink(p)}"
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _run(cmd: Command, work: Path, env: dict[str, str], case: str, logs: Path) -> subprocess.CompletedProcess:
    # files, not pipes: a forked child that lingers keeps its copies open and a pipe would not end
    with open(logs / "stdout", "w+") as out_f, open(logs / "stderr", "w+") as err_f:
        proc = subprocess.Popen([sys.executable, "-m", "backtests", *cmd.args], cwd=work, env=env, text=True,
                                stdout=out_f, stderr=err_f, start_new_session=True)
        code = _wait(proc, cmd, work, case)
        out_f.seek(0)
        err_f.seek(0)
        return subprocess.CompletedProcess(proc.args, code, out_f.read(), err_f.read())


def _wait(proc: subprocess.Popen, cmd: Command, work: Path, case: str) -> int:
    t0 = time.monotonic()
    try:
        if cmd.signal is not None:
            name, flag = cmd.signal
            while not (work / flag).exists():
                assert proc.poll() is None, f"{case}: ended before {flag} appeared"
                assert time.monotonic() - t0 < cmd.within, f"{case}: {flag} did not appear"
                time.sleep(0.05)
            proc.send_signal(getattr(signal, f"SIG{name}"))
        return proc.wait(timeout=max(1.0, cmd.within - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"{case}: {cmd.args} did not end within {cmd.within:g} s") from None


def _metrics_of(path: Path, label: str) -> list[dict]:
    doc = json.loads(path.read_text())
    return [{k: r[k] for k in ("params", "window", "metrics")} for r in doc["runs"] if r["strategy"] == label]


@pytest.mark.slow
@pytest.mark.parametrize("folder", CASES, ids=[c.name for c in CASES])
def test_hostile_plugin_in_a_real_process(folder: Path, tmp_path: Path, previous_run: Path):
    case = parse(folder)
    work = tmp_path / "work"
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("__pycache__", "MANIFEST"))
    if case.previous:
        shutil.copytree(previous_run, work / case.previous)
    (tmp_path / "cache").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work), str(ROOT)]), "PYTHONDONTWRITEBYTECODE": "1",
           "SCARE_DATA_CACHE": str(tmp_path / "cache"), "SCARE_CACHE_DIR": str(tmp_path / "scare-cache")}
    before = snapshot(work, case.may_change)
    try:
        for cmd in case.commands:
            done = _run(cmd, work, env, case.name, tmp_path)
            lines = done.stderr.splitlines()
            want = cmd.lines if cmd.lines is not None else (1 if cmd.exit else 0)
            said = f"{case.name} {cmd.args}: exit {done.returncode}, stderr {done.stderr!r}"
            assert done.returncode == cmd.exit, said
            if want >= 0:
                assert len(lines) == want, said
                assert "Traceback" not in done.stderr, said
            if want == 1:
                assert lines[0].startswith("scare: "), said
            for fragment in cmd.expect:
                assert fragment in (lines[0] if want == 1 else done.stderr), f"{fragment!r} missing: {said}"
        for label, a, b in case.same_runs:
            left, right = _metrics_of(work / a / "metrics.json", label), _metrics_of(work / b / "metrics.json", label)
            assert left and left == right, f"{case.name}: {label} differs between {a} and {b}"
        assert snapshot(work, case.may_change) == before, f"{case.name}: files changed"
        left = [p for p in work.rglob(".scare-lock") if str(p.relative_to(work)) not in case.may_change]
        assert not left, f"{case.name}: a lock was left: {left}"
    finally:
        if case.kill_pids and (work / case.kill_pids).exists():
            for pid in map(int, (work / case.kill_pids).read_text().split()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pytest.fail(f"{case.name}: process {pid} had already ended: the case proved nothing")


def test_every_case_is_well_formed():
    for folder in CASES:
        case = parse(folder)
        assert (folder / "MANIFEST").read_text().lstrip().startswith("#"), f"{folder.name}: say what it is"
        for cmd in case.commands:
            assert cmd.expect or cmd.exit == 0, f"{folder.name}: a failing command must say what stderr holds"
