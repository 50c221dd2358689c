"""``backtests.run`` goes through what ``scare run`` goes through: the same metrics.json, byte for
byte, written with ``out=`` or kept in memory; nothing written without ``out=``; ``load_run`` on
the CLI's folder gives the same frames as the run in memory; strategies given as classes (one
defined in ``__main__`` or a notebook cell included) are audited and a look-ahead one is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import backtests
from backtests.api.frames import BUILDERS
from backtests.audit.stage import LookAheadRefused
from backtests.digest import strategy_digest
from backtests.errors import ConfigError
from backtests.jsonfmt import dumps

from tests.conftest import DEFAULT_STUDY, ROOT

SMALL = ROOT / "tests" / "configs" / "small.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def in_memory() -> backtests.Result:
    """The default study run in memory (no out=)."""
    return backtests.run(DEFAULT_STUDY)


def test_run_with_out_writes_the_metrics_json_scare_run_writes(default_run: Path, tmp_path: Path) -> None:
    result = backtests.run(DEFAULT_STUDY, out=tmp_path / "api")
    assert (tmp_path / "api" / "metrics.json").read_bytes() == (default_run / "metrics.json").read_bytes()
    assert result.folder == tmp_path / "api"
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == sorted(p.name for p in default_run.iterdir())


def test_the_run_in_memory_holds_the_same_metrics_json(in_memory: backtests.Result, default_run: Path) -> None:
    assert dumps(in_memory.metrics).encode() == (default_run / "metrics.json").read_bytes()
    assert in_memory.folder is None


def test_load_run_of_the_cli_folder_gives_the_frames_of_the_run_in_memory(in_memory: backtests.Result,
                                                                          default_run: Path) -> None:
    loaded = backtests.load_run(default_run)
    for name in BUILDERS:
        a, b = getattr(loaded, name), getattr(in_memory, name)
        if name == "audit":  # two runs: the second reuses the first one's cached verdicts
            a, b = a[["strategy", "verdict", "cuts_candidates"]], b[["strategy", "verdict", "cuts_candidates"]]
        pd.testing.assert_frame_equal(a, b, obj=name)
    assert len(loaded.verdict) > len(loaded.metrics["strategies"]) // 2  # strategies and their baselines
    assert set(loaded.episodes["row"]) == {"strategy", "matched", "contract"}


def test_run_writes_nothing_without_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = {"name": "nothing_written", "windows": ["deepseek_r1"], "benchmark": "QQQ",
             "strategies": [{"name": "buy_and_hold", "roles": {"asset": "NVDA"}, "params": {"weight": [0.5, 1.0]}}]}
    result = backtests.run(study, audit=False)
    assert list(tmp_path.iterdir()) == []  # not runs/nothing_written, not a checkpoint
    assert result.metrics["study"] == "nothing_written" and len(result.runs) == 2


def test_overrides_are_merged_like_the_command_lines_set(tmp_path: Path) -> None:
    a = backtests.run(SMALL, execution={"fill": "close"}, audit=False)
    b = backtests.run(SMALL, set=["execution.fill=close"], audit=False)
    assert dumps(a.metrics) == dumps(b.metrics)
    assert a.manifest["config"]["execution"]["fill"] == "close"
    assert a.manifest["config"]["execution"]["max_leverage"] == b.manifest["config"]["execution"]["max_leverage"]
    with pytest.raises(ConfigError, match="unknown key 'fil'"):
        backtests.run(SMALL, execution={"fil": "close"})


# ---------------------------------------------------------------------- strategies as classes
CLASSES = '''
import pandas as pd
from backtests import FloatParam, Role, Strategy


class Dip(Strategy):
    """Hold the asset from the session after a daily drop (known at that close)."""

    roles = {"asset": Role("QQQ")}
    drop = FloatParam(0.02, low=0.0, high=0.5, unit="fraction")

    def weights(self, ctx, drop):
        close = ctx.close("asset")
        return (close.pct_change() <= -drop).astype(float).to_frame(ctx.symbol("asset"))


class PeekingDip(Strategy):
    """The same, deciding on tomorrow's close: look-ahead."""

    roles = {"asset": Role("QQQ")}
    drop = FloatParam(0.02, low=0.0, high=0.5, unit="fraction")

    def weights(self, ctx, drop):
        close = ctx.close("asset")
        return (close.pct_change().shift(-1) <= -drop).astype(float).to_frame(ctx.symbol("asset"))
'''
STUDY = {"name": "classes", "windows": ["deepseek_r1"], "window_defaults": {"pre": 3, "post": 5}, "benchmark": "QQQ"}


def test_a_class_defined_in_main_runs_and_its_look_ahead_variant_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "notebook_like.py"
    script.write_text(CLASSES + textwrap.dedent(f'''
        from backtests import run
        from backtests.audit.stage import LookAheadRefused

        study = {STUDY!r}
        result = run(study, strategies=[{{"name": Dip, "params": {{"drop": [0.01, 0.02]}}}}])
        print("RAN", result.verdict.loc[0, "strategy"], result.audit.loc[0, "verdict"], result.metrics["strategies"][0]["name"])
        try:
            run(study, strategies=[PeekingDip])
        except LookAheadRefused as exc:
            print("REFUSED", exc)
        '''))
    env = {**os.environ, "SCARE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "RAN Dip pass " in lines[0] + " "
    assert lines[1].startswith("REFUSED") and "PeekingDip" in lines[1] and "look-ahead" in lines[1]


def _cell(source: str, name: str = "__main__") -> dict:
    """Run ``source`` as a notebook cell does: compiled from a file that does not exist, in ``__main__``."""
    namespace = {"__name__": name}
    exec(compile(source, "/tmp/ipykernel_0/cell-1.py", "exec"), namespace)  # noqa: S102 - the test's own code
    return namespace


def test_a_class_of_a_notebook_cell_is_audited_on_its_own_code() -> None:
    first = _cell(CLASSES)
    again = _cell(CLASSES)
    edited = _cell(CLASSES.replace("<= -drop", "<= -drop * 1.5"))
    digest, what = strategy_digest(first["Dip"])
    assert what == "class code"
    assert strategy_digest(again["Dip"])[0] == digest  # the same cell run twice: the same code
    assert strategy_digest(edited["Dip"])[0] != digest  # an edit is new code: never a cached verdict
    assert strategy_digest(first["PeekingDip"])[0] != digest
    result = backtests.run(STUDY, strategies=[first["Dip"]])
    assert result.audit.loc[0, "verdict"] == "pass"
    assert result.manifest["code"]["strategies"]["Dip"]["hashed"] == "class code"
    with pytest.raises(LookAheadRefused, match="PeekingDip"):
        backtests.run(STUDY, strategies=[edited["PeekingDip"]])


def test_a_plugin_file_is_still_hashed_by_its_file() -> None:
    from strategies.fade_kospi_halt import FadeKospiHalt

    assert strategy_digest(FadeKospiHalt)[1] == "file:fade_kospi_halt.py"


def test_two_classes_under_one_name_are_refused() -> None:
    a, b = _cell(CLASSES), _cell(CLASSES)
    with pytest.raises(ConfigError, match="two different classes"):
        backtests.run(STUDY, strategies=[a["Dip"], {"name": b["Dip"], "label": "dip_b"}])


def test_a_path_a_dict_and_a_study_config_are_the_same_study() -> None:
    import yaml

    from backtests import load_config

    by_path = backtests.run(SMALL, audit=False)
    by_config = backtests.run(load_config(SMALL).config, audit=False)
    by_dict = backtests.run(yaml.safe_load(SMALL.read_text()), audit=False)
    assert dumps(by_config.metrics) == dumps(by_path.metrics) == dumps(by_dict.metrics)
