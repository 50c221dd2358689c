"""docs/api.md's column tables are the ones declared in backtests/api/columns.py, and it names
every public name backtests exports."""

from __future__ import annotations

from pathlib import Path

import backtests
from backtests.api.columns import FRAMES

ROOT = Path(__file__).resolve().parents[2]


def test_the_column_tables_are_generated_from_the_declarations() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_docs", ROOT / "scripts" / "api_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert module.rewritten(text) == text, "docs/api.md is out of date: run python scripts/api_docs.py"
    for frame in FRAMES:
        assert f"### `{frame}`" in text


def test_every_public_name_is_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for name in backtests.__all__:
        assert f"`{name}" in text, name
