"""Shared test helpers: where ../shared/data is, and a way to call the CLI in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout; $SCARE_SHARED_DATA points elsewhere (a git worktree, CI).
SHARED_DATA = Path(os.environ.get("SCARE_SHARED_DATA") or ROOT.parent / "shared" / "data")
DEFAULT_STUDY = ROOT / "configs" / "scare_trades.yaml"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip the test cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def cli(capsys):
    """Run ``scare`` in-process: returns (exit code, stdout, stderr)."""
    from backtests.orchestration.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`scare run configs/scare_trades.yaml` into a fresh folder (never modify it: copy it)."""
    from backtests.orchestration.cli import main

    out = tmp_path_factory.mktemp("runs") / "default"
    assert main(["run", str(DEFAULT_STUDY), "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="session")
def kospi_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`scare run configs/replay_kospi_crash_2026.yaml` on a cache imported from ../shared/data (real
    data; skipped when the folder is absent)."""
    from backtests.orchestration.cli import main
    from backtests.data.cache import ENV_DIR, Cache
    from backtests.data.importer import import_path

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    root = tmp_path_factory.mktemp("kospi_cache")
    import_path(Cache(root), SHARED_DATA)
    out = tmp_path_factory.mktemp("runs") / "kospi"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_DIR, str(root))
        assert main(["run", str(ROOT / "configs" / "replay_kospi_crash_2026.yaml"), "--offline", "--out", str(out),
                     "--no-progress"]) == 0
    return out
