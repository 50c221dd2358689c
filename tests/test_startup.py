"""The console entry flushes, runs atexit handlers and keeps exit codes; light commands stay light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ENTRY = """
import atexit, sys
atexit.register(lambda: print("atexit ran", flush=True))
sys.argv = ["scare", *sys.argv[1:]]
from backtests.orchestration.cli import entry
entry()
"""


def _entry(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_entry_flushes_output_and_runs_atexit_handlers():
    done = _entry("--version")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].startswith("scare ")
    assert done.stdout.splitlines()[-1] == "atexit ran"


def test_entry_keeps_the_bad_input_exit_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    done = _entry("validate", str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "bad.yaml" in done.stderr
    assert done.stdout.strip() == "atexit ran"


def test_light_commands_do_not_import_the_engine():
    code = ("import sys; from backtests.orchestration.cli import main; main(['schema']); "
            "print(sorted(m for m in ('vectorbt', 'numba', 'plotly', 'backtests.engine.kernels') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
