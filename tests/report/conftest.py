"""Fixtures for the report tests (the runs of the default study and the KOSPI replay are in
tests/conftest.py, shared with the API tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def run_copy(default_run: Path, tmp_path: Path) -> Path:
    """A copy of the default run at a new path (as if moved from another machine)."""
    dst = tmp_path / "elsewhere" / "copied_run"
    shutil.copytree(default_run, dst)
    return dst
