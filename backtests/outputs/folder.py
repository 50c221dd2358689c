"""Write a run's contract files atomically: all of them or none.

Files are written into a hidden staging folder beside the destination, then swapped in with two
renames. A run that fails before the swap leaves the destination (and any earlier results in it)
untouched; the staging folder is removed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from backtests.errors import ScareInputError

#: The files DESIGN.md promises; a run also writes benchmark.parquet and orders.parquet.
CONTRACT_FILES = ("metrics.json", "returns.parquet", "weights.parquet", "manifest.json", "tearsheet.html")
RUN_FILES = (*CONTRACT_FILES, "benchmark.parquet", "orders.parquet")


def check_destination(out_dir: Path) -> None:
    """Refuse to replace a folder that is not empty and not a previous scare run."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ScareInputError("output path exists and is not a folder", where=str(out_dir))
        entries = list(out_dir.iterdir())
        if entries and not (out_dir / "manifest.json").is_file():
            raise ScareInputError("output folder is not empty and holds no scare run (manifest.json); "
                                  "choose another --out", where=str(out_dir))


def write_atomically(out_dir: Path, writers: dict[str, Callable[[Path], None]]) -> Path:
    """Run each ``writer(path)`` into a staging folder, then replace ``out_dir`` with it."""
    check_destination(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    stage = out_dir.parent / f".{out_dir.name}.staging-{tag}"
    old = out_dir.parent / f".{out_dir.name}.old-{tag}"
    stage.mkdir()
    try:
        for name, writer in writers.items():
            writer(stage / name)
        for f in stage.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out_dir
