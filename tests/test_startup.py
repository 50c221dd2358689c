"""The console entry flushes, runs atexit handlers and keeps exit codes; light commands stay light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


#: what a command that only reads configs, the catalogue or the registry must not load
HEAVY = ("vectorbt", "numba", "scipy", "arch", "statsmodels", "matplotlib", "patsy", "plotly", "sklearn",
         "backtests.engine.kernels", "backtests.scoring.kernels")


def _loaded(argv: list[str], modules: tuple[str, ...], tmp_path: Path) -> list[str]:
    """Run the command line in a fresh process; the listed modules it left in sys.modules."""
    code = ("import json, sys; from backtests.orchestration.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCARE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["validate", "configs/scare_trades.yaml"], ["list", "strategies"],
                                  ["list", "windows"]], ids=" ".join)
def test_validate_and_list_import_nothing_heavy(argv, tmp_path):
    assert _loaded(argv, HEAVY, tmp_path) == []


#: what arch's package ``__init__`` (its GARCH models) would pull in, and a run never uses
ARCH_EXTRAS = ("arch.univariate", "statsmodels", "patsy", "formulaic", "matplotlib")


def test_a_run_imports_arch_s_bootstrap_only(tmp_path):
    """arch's bootstrap is imported without arch's package ``__init__`` (backtests/scoring/_arch.py):
    a run loads none of arch's GARCH models, matplotlib, or statsmodels' ``api`` modules; statsmodels'
    OLS (and what its module imports) comes with the calendar-time regression that uses it."""
    out = tmp_path / "out"
    loaded = _loaded(["run", "configs/scare_trades.yaml", "--no-progress", "--no-audit", "--out", str(out)],
                     ("arch", "arch.bootstrap", "arch.univariate", "matplotlib", "statsmodels.api",
                      "statsmodels.formula.api", "statsmodels.regression.linear_model"), tmp_path)
    assert loaded == ["arch", "arch.bootstrap", "statsmodels.regression.linear_model"]
    assert (out / "metrics.json").is_file()


def _printed(code: str) -> object:
    """Run ``code`` in a fresh interpreter; the JSON its last line printed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_arch_bootstrap_tools_are_arch_s_own():
    code = ("import json, sys; from backtests.scoring._arch import bootstrap_tools; sb, obl = bootstrap_tools(); "
            f"heavy = sorted(m for m in {ARCH_EXTRAS!r} if m in sys.modules); "
            "import arch.bootstrap as ab; same = [sb is ab.StationaryBootstrap, obl is ab.optimal_block_length]; "
            "import arch; from arch.univariate import arch_model as am; "
            "print(json.dumps([heavy, same, arch.arch_model is am, arch.__version__ == arch._version.version, "
            "arch.bootstrap is ab, hasattr(arch, 'no_such_name')]))")
    heavy, same, *package = _printed(code)
    assert heavy == [] and same == [True, True]
    assert package == [True, True, True, False]  # arch's own __init__ ran on first use: arch is whole


def test_arch_s_bootstrap_draws_the_same_before_and_after_arch_s_init():
    """The bootstrap got through :func:`bootstrap_tools` is arch's: same indices as arch imported whole."""
    code = ("import json, numpy as np; from backtests.scoring._arch import bootstrap_tools; SB, obl = bootstrap_tools(); "
            "draw = lambda cls: [p[0].tolist() for p, _ in cls(3.0, np.arange(20), seed=np.random.default_rng(7)).bootstrap(3)]; "
            "a = draw(SB); import arch; arch.arch_model; from arch.bootstrap import StationaryBootstrap; "
            "x = np.random.default_rng(1).standard_normal((60, 2)); "
            "print(json.dumps([a == draw(StationaryBootstrap), obl(x).to_dict()]))")
    same, lengths = _printed(code)
    assert same is True
    assert set(lengths) == {"stationary", "circular"}
