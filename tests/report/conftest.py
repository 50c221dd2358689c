"""Fixtures for the report tests: one real run of the default study, shared by the session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backtests.orchestration.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STUDY = ROOT / "configs" / "scare_trades.yaml"


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`scare run configs/scare_trades.yaml` into a fresh folder (never modify it: copy it)."""
    out = tmp_path_factory.mktemp("runs") / "default"
    assert main(["run", str(DEFAULT_STUDY), "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture
def run_copy(default_run: Path, tmp_path: Path) -> Path:
    """A copy of the default run at a new path (as if moved from another machine)."""
    dst = tmp_path / "elsewhere" / "copied_run"
    shutil.copytree(default_run, dst)
    return dst


@pytest.fixture(scope="session")
def kospi_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`scare run configs/replay_kospi_crash_2026.yaml` on a cache imported from ../shared/data (real
    data; skipped when the folder is absent)."""
    from tests.conftest import SHARED_DATA

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
