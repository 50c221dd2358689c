"""The hostile-input corpus: every case must give exit 2, one line on stderr, no traceback, and
leave the output folder and the data cache exactly as they were.

Cases are data files (see tests/hostile/README.md to add one):

* ``configs/NAME.yaml``: a study config on its own;
* ``cases/NAME/study.yaml``: a study config with the files it uses (plug-in modules, data files,
  event files) beside it.

The expected message fragments and the commands to try are in ``# expect:`` / ``# commands:`` /
``# args:`` comment lines of the config, or in ``NAME.expect`` (``configs/``) or ``MANIFEST``
(``cases/NAME/``) for configs that cannot hold comments. Cases run in-process through
``backtests.orchestration.cli.main``; a few run as real processes at the end (memory and exit code as the shell
sees them).
"""

from __future__ import annotations

import copy
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
COMMANDS = ("validate", "run")


@dataclass
class Case:
    name: str
    config: Path  # inside the corpus
    folder: Path | None  # the case folder to copy (None: the config alone)
    expect: list[str] = field(default_factory=list)
    commands: tuple[str, ...] = COMMANDS
    args: list[str] = field(default_factory=list)


def _manifest(lines: list[str], case: Case) -> None:
    for raw in lines:
        line = raw.strip().lstrip("#").strip()
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "expect":
            case.expect.append(value)
        elif key == "commands":
            case.commands = tuple(value.split())
            assert set(case.commands) <= set(COMMANDS), (case.name, value)
        elif key == "args":
            case.args.extend(shlex.split(value))


def _header(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append(line)
    return out


def collect() -> list[Case]:
    cases = []
    for cfg in sorted((HERE / "configs").glob("*.yaml")):
        case = Case(cfg.stem, cfg, None)
        sidecar = cfg.with_suffix(".expect")
        _manifest(sidecar.read_text().splitlines() if sidecar.exists() else _header(cfg), case)
        cases.append(case)
    for folder in sorted(p for p in (HERE / "cases").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        cfg = folder / "study.yaml"
        case = Case(folder.name, cfg, folder)
        manifest = folder / "MANIFEST"
        _manifest(manifest.read_text().splitlines() if manifest.exists() else _header(cfg), case)
        cases.append(case)
    for case in cases:
        assert case.expect, f"hostile case {case.name}: no '# expect:' line"
    return cases


CASES = collect()


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a digest of its bytes (folders: 'dir')."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        if "__pycache__" in p.parts:
            continue
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory) -> Path:
    """A real, finished run folder: hostile runs pointed at it must leave it byte-identical."""
    from backtests.orchestration.cli import main

    root = tmp_path_factory.mktemp("previous")
    cfg = root / "good.yaml"
    cfg.write_text("name: good\ndata: {source: synthetic}\nwindows: [deepseek_r1]\nbenchmark: null\n"
                   "strategies:\n  - name: buy_and_hold\n    roles: {asset: QQQ}\n")
    assert main(["run", str(cfg), "--out", str(root / "run"), "--no-progress"]) == 0
    return root / "run"


_SYNTHETIC: dict[tuple, object] = {}


def _memo_synthetic(monkeypatch) -> None:
    """Generate the synthetic data once per seed for the whole corpus (a private copy each call)."""
    from backtests.data import synthetic

    real = synthetic.generate

    def generate(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in _SYNTHETIC:
            _SYNTHETIC[key] = real(*args, **kwargs)
        return copy.deepcopy(_SYNTHETIC[key])

    monkeypatch.setattr(synthetic, "generate", generate)


@pytest.fixture
def sandbox(tmp_path, previous_run, monkeypatch):
    """A work folder holding a copy of the previous run and an empty data cache (as $SCARE_DATA_CACHE)."""
    _memo_synthetic(monkeypatch)
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "README.md").write_text("cache that no hostile case may touch\n")
    monkeypatch.setenv("SCARE_DATA_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return tmp_path


def _install(case: Case, sandbox: Path) -> Path:
    if case.folder is None:
        dest = sandbox / case.config.name
        shutil.copyfile(case.config, dest)
        return dest
    dest = sandbox / "case"
    shutil.copytree(case.folder, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest / case.config.name


def _forget_modules(folder: Path) -> None:
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None) or ""
        if f and Path(f).resolve().is_relative_to(folder.resolve()):
            del sys.modules[name]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, sandbox: Path, capsys, monkeypatch):
    from backtests.orchestration.cli import main

    cfg = _install(case, sandbox)
    monkeypatch.syspath_prepend(str(cfg.parent))
    before = snapshot(sandbox)
    try:
        for command in case.commands:
            argv = [command, str(cfg), *case.args]
            if command == "run":
                argv += ["--out", str(sandbox / "out"), "--no-progress"]
            code = main(argv)
            out, err = capsys.readouterr()
            lines = err.splitlines()
            assert code == 2, f"{case.name} {command}: exit {code}, stderr {err!r}, stdout {out!r}"
            assert len(lines) == 1, f"{case.name} {command}: {len(lines)} lines on stderr: {err!r}"
            assert "Traceback" not in err
            assert lines[0].startswith("scare: error: "), lines[0]
            assert lines[0].isprintable(), f"{case.name} {command}: raw control characters on stderr: {lines[0]!r}"
            for fragment in case.expect:
                assert fragment in lines[0], f"{case.name} {command}: {fragment!r} not in {lines[0]!r}"
            assert snapshot(sandbox) == before, f"{case.name} {command}: files changed"
    finally:
        _forget_modules(cfg.parent)


def test_corpus_is_large_and_named():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 60


# ------------------------------------------------------------------- real processes
def _real(args: list[str], cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [ROOT, *pythonpath])), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "backtests", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_alias_bomb_fails_fast_in_a_few_megabytes():
    """The 9-level bomb (10**9 values once expanded) is refused before any object is built:
    under 5 MB allocated by the loader (tracemalloc peak) and well inside a 10 s guard."""
    from backtests.config import load_config
    from backtests.errors import ConfigError

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ConfigError, match="expands to more than"):
            load_config(HERE / "configs" / "alias_bomb_9_levels.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 10
    assert peak < 5 * 2**20, f"{peak / 2**20:.1f} MB"


def test_alias_bomb_in_a_real_process(tmp_path):
    """As the shell sees it: exit 2, one line, and the whole process (imports included) under 300 MB."""
    cfg = tmp_path / "bomb.yaml"
    shutil.copyfile(HERE / "configs" / "alias_bomb_9_levels.yaml", cfg)
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (VmHWM) to measure the child's own peak memory")
    # VmHWM is the peak of this process image (ru_maxrss would include the forked parent's pages)
    driver = ("import re, sys\nfrom backtests.orchestration.cli import main\ncode = main(['validate', sys.argv[1]])\n"
              "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\nsys.exit(code)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", driver, str(cfg)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "expands to more than" in proc.stderr and "Traceback" not in proc.stderr
    assert int(proc.stdout.split()[-1]) < 300 * 1024, f"peak RSS {int(proc.stdout.split()[-1]) / 1024:.0f} MB"


def test_sys_exit_in_weights_is_exit_2_in_a_real_process(tmp_path):
    shutil.copytree(HERE / "cases" / "weights_sys_exit", tmp_path / "case")
    proc = _real(["run", "case/study.yaml", "--out", "out", "--no-progress"], tmp_path, [tmp_path / "case"])
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "called sys.exit(0) in weights()" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_keyboard_interrupt_in_plugin_is_an_interruption(tmp_path, capsys, monkeypatch):
    """Ctrl-C while a plug-in computes is what it is: exit 130, 'interrupted', not a plug-in error."""
    from backtests.orchestration.cli import main

    (tmp_path / "hostile_ctrl_c.py").write_text(
        "from backtests.strategy import Strategy\nfrom backtests.strategy.base import Role\n\n\n"
        "class S(Strategy):\n    name = 'ctrl_c'\n    roles = {'asset': Role('QQQ')}\n\n"
        "    def weights(self, ctx, **params):\n        raise KeyboardInterrupt\n")
    cfg = tmp_path / "study.yaml"
    cfg.write_text("name: hostile\ndata: {source: synthetic}\nwindows: [deepseek_r1]\nbenchmark: null\n"
                   "strategies:\n  - name: 'hostile_ctrl_c:S'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    try:
        code = main(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-progress"])
    finally:
        _forget_modules(tmp_path)
    err = capsys.readouterr().err
    assert code == 130 and err.startswith("scare: interrupted") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
