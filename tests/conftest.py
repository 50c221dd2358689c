"""Shared test helpers: where ../shared/data is, and a way to call the CLI in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout; $SCARE_SHARED_DATA points elsewhere (a git worktree, CI).
SHARED_DATA = Path(os.environ.get("SCARE_SHARED_DATA") or ROOT.parent / "shared" / "data")


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
