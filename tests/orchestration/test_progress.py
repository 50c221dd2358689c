"""A newcomer's run talks: each stage said on stderr (one line per lasting stage when stderr is not a
terminal, a status line on a terminal), dropped windows named on the console, no tearsheet line
when there is no tearsheet."""

from __future__ import annotations

import io
import time

import pytest

from backtests.config import load_config
from backtests.orchestration.progress import Stages
from backtests.orchestration.runner import run_study
from tests.conftest import ROOT


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_stage_that_lasts_is_one_line_and_a_quick_one_is_none():
    out = io.StringIO()
    with Stages(stream=out, tick=0.01, quiet=0.2) as stages:
        stages.say("quick")
        stages.say("slow ...")
        time.sleep(0.6)
        stages.note("a line that stays")
        stages.say("quiet for longer", quiet=10)
        time.sleep(0.3)
    assert out.getvalue() == "scare: slow ...\nscare: a line that stays\n"


def test_on_a_terminal_one_status_line_rewritten_then_cleared():
    term = Terminal()
    with Stages(stream=term, tick=0.01) as stages:
        stages.say("loading data ...")
        stages.note("window_dropped: w")
        stages.say("sweep ...")
    text = term.getvalue()
    assert "\r\x1b[Kscare: loading data ..." in text and "scare: window_dropped: w\n" in text
    assert text.endswith("\r\x1b[K")  # nothing of the status line is left
    assert text.count("\n") == 1  # only the note stays


def test_disabled_says_nothing():
    out = Terminal()
    with Stages(enabled=False, stream=out, quiet=0) as stages:
        stages.say("x")
        stages.note("y")
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_a_run_says_every_stage(tmp_path):
    out = io.StringIO()
    loaded = load_config(ROOT / "tests" / "configs" / "small.yaml", [])
    with Stages(stream=out, tick=0.005, quiet=0) as stages:
        run_study(loaded, tmp_path / "run", progress=False, stages=stages, audit_budget=2)
    said = out.getvalue()  # planning is said only when it lasts 5 s (bad input is found there)
    for stage in ("loading data", "look-ahead audit of", "sweep:", "scoring",
                  "writing"):
        assert f"scare: {stage}" in said, (stage, said)


DROPS = """name: drops
windows: [{kind: krx_circuit_breaker}]
benchmark: null
strategies:
  - {name: buy_and_hold, roles: {asset: 069500.KS}}
"""


@pytest.mark.parametrize("tearsheet", [True, False])
def test_run_names_dropped_windows_like_validate_and_the_tearsheet_only_when_written(tmp_path, cli, tearsheet):
    cfg = tmp_path / "drops.yaml"
    cfg.write_text(DROPS)
    code, validated, _ = cli("validate", cfg)
    assert code == 0
    dropped = [line for line in validated.splitlines() if line.startswith("  window_dropped: ")]
    assert dropped
    code, ran, err = cli("run", cfg, "--out", tmp_path / "out", "--no-progress", "--no-audit",
                         "--set", f"output.tearsheet={str(tearsheet).lower()}")
    assert code == 0, err
    assert [line for line in ran.splitlines() if line.startswith("  window_dropped: ")] == dropped
    # the counts agree: runs and windows as validate said them
    head = validated.splitlines()[0]
    runs, windows = head.split(", ")[-1].split()[0], head.split(", ")[-2].split()[0]
    assert ran.splitlines()[0].startswith(f"drops: {runs} runs over {windows} windows")
    assert ("tearsheet: " in ran) is tearsheet
