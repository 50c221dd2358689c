"""Hypothesis: the run folder and cache operations never touch what scare did not write.

Each example builds a work folder with

* optionally a real run folder (``out``, written by :func:`write_atomically`) and a real cache
  (``cache``, written by :meth:`Cache.store`): scare's own files;
* then random *foreign* entries planted anywhere in ``out`` and ``cache`` (scare's hidden names
  and run-file names included): files, folders, symbolic links to files and folders outside the
  work folder, dangling links, FIFOs. A foreign entry planted at a path scare wrote makes that
  path foreign;

and runs a random sequence of operations: run-file writes, ``scare report``-style updates, a run
folder opened by a run that fails, cache stores, ``verify``, ``verify --fix``, ``clear``. Each
either succeeds or raises a :class:`ScareInputError` (one line for the CLI); anything else fails.

The oracle: every foreign entry, and everything outside ``out`` and ``cache`` (the targets of the
links included), keeps its type, mode, bytes, mtime and link target; nothing new appears outside
``out`` and ``cache``. scare's own entries may change, and so may the names scare documents as
its own in a run folder: the lock ``.scare-lock`` (a regular file with one link), and a killed
run's ``.scare-staging-<8 hex>`` folder holding only run-file names.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.data.providers import Meta
from backtests.data.store import Cache
from backtests.data.upkeep import clear, verify
from backtests.errors import ScareInputError
from backtests.outputs.folder import RunFolder, write_atomically
from tests.hostile.test_files_scare_touches import snapshot

NAMES = ["metrics.json", "tearsheet.html", "returns.parquet", "manifest.json", ".scare-run.json", ".scare-lock",
         ".scare-chunks", ".scare-staging-0badc0de", ".lock", "README.md", "import", "yfinance", "MU", "NVDA",
         "bars-1D.0123456789ab.parquet", "notes.txt", "index.html", "a.parquet", ".bars-1D.x.parquet.tmp-1"]
KINDS = ["file", "dir", "link_file", "link_dir", "dangling", "fifo"]
SCARE_BY_NAME = re.compile(r"^out/(\.scare-lock|\.scare-staging-[0-9a-f]{8}(/.*)?)$")

#: Where a hostile or careless user puts things: scare's own names first.
PLACES = [("out", ["metrics.json"]), ("out", ["tearsheet.html"]), ("out", ["notes.txt"]), ("out", [".scare-lock"]),
          ("out", [".scare-run.json"]), ("out", [".scare-chunks"]), ("out", [".scare-chunks", "notes.txt"]),
          ("out", [".scare-staging-0badc0de", "notes.txt"]), ("out", [".scare-staging-0badc0de", "metrics.json"]),
          ("cache", ["manifest.json"]), ("cache", [".lock"]), ("cache", ["notes.txt"]),
          ("cache", ["import", "MU", "a.parquet"]), ("cache", ["import", "MU", "bars-1D.0123456789ab.parquet"]),
          ("cache", ["yfinance", "NVDA", "bars-1D.0123456789ab.parquet"]),
          ("cache", ["import", "MU", ".bars-1D.x.parquet.tmp-1"]), ("cache", ["import", "NVDA"])]
place = st.one_of(st.sampled_from(PLACES),
                  st.tuples(st.sampled_from(["out", "cache"]), st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)))
planted = st.lists(st.tuples(place, st.sampled_from(KINDS), st.binary(max_size=40)), max_size=6)
operations = st.lists(st.sampled_from(["write", "update", "open_fail", "store", "verify", "fix", "clear",
                                       "clear_mu"]), min_size=1, max_size=3)


def _frame(n: int = 5) -> pd.DataFrame:
    days = pd.bdate_range("2025-01-02", periods=n, tz="UTC") + pd.Timedelta(hours=21)
    c = 100.0 + np.arange(n)
    return pd.DataFrame({"open": c, "high": c + 1, "low": c - 1, "close": c, "volume": 1e6,
                         "open_time": days - pd.Timedelta(hours=6, minutes=30)}, index=days)


def _store(cache: Cache, symbol: str) -> None:
    cache.store("import", symbol, "bars", "1D", _frame(), Meta("XNYS"),
                [(pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-08"))], "test", "test")


def _writers(payload: bytes) -> dict:
    return {"metrics.json": lambda p: p.write_bytes(payload), "tearsheet.html": lambda p: p.write_bytes(payload[::-1])}


def _plant(root: Path, outside: Path, where: str, parts: list[str], kind: str, data: bytes) -> None:
    path = root / where
    path.mkdir(exist_ok=True)
    for part in parts[:-1]:
        path = path / part
        if os.path.lexists(path) and not (path.is_dir() and not path.is_symlink()):
            return  # a file or link is in the way: nothing planted
        path.mkdir(exist_ok=True)
    path = path / parts[-1]
    if os.path.lexists(path):
        if path.is_dir() and not path.is_symlink():
            return  # keep it simple: never replace a folder
        path.unlink()
    if kind == "file":
        path.write_bytes(data)
    elif kind == "dir":
        path.mkdir()
        (path / "inside.txt").write_bytes(data)
    elif kind == "link_file":
        os.symlink(outside / "precious.txt", path)
    elif kind == "link_dir":
        os.symlink(outside / "folder", path)
    elif kind == "dangling":
        os.symlink(outside / "nowhere", path)
    else:
        os.mkfifo(path)


def _run(op: str, out: Path, cache: Cache, payload: bytes) -> None:
    try:
        if op == "write":
            write_atomically(out, _writers(payload))
        elif op == "update":
            write_atomically(out, {"tearsheet.html": lambda p: p.write_bytes(payload)}, update=True)
        elif op == "open_fail":
            with pytest.raises(RuntimeError):
                with RunFolder(out):
                    raise RuntimeError("the run failed")
        elif op == "store":
            _store(cache, "NVDA")
        elif op == "verify":
            verify(cache)
        elif op == "fix":
            verify(cache, fix=True)
        elif op == "clear":
            clear(cache)
        else:
            clear(cache, ["MU"])
    except ScareInputError:
        pass  # refused, in one line: fine, as long as nothing foreign changed


def _scare_written(before: dict, after: dict) -> set[str]:
    return {k for k in after if before.get(k) != after[k]}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(run=st.booleans(), cached=st.booleans(), foreign=planted, ops=operations, payload=st.binary(max_size=64))
def test_operations_never_touch_what_scare_did_not_write(tmp_path_factory, run, cached, foreign, ops, payload):
    root = tmp_path_factory.mktemp("tree")
    outside = root / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "precious.txt").write_text("precious\n")
    (outside / "folder" / "keep.txt").write_text("keep\n")
    out, cache = root / "out", Cache(root / "cache")
    empty = snapshot(root)
    if run:
        write_atomically(out, _writers(b"first"))
    if cached:
        _store(cache, "MU")
    scare = _scare_written(empty, snapshot(root))
    before_plant = snapshot(root)
    for (where, parts), kind, data in foreign:
        _plant(root, outside, where, parts, kind, data)
    planted_now = snapshot(root)
    scare -= _scare_written(before_plant, planted_now)  # a path a foreign entry replaced is foreign
    foreign_paths = set(planted_now) - scare
    before = planted_now
    for op in ops:
        _run(op, out, cache, payload)
        after = snapshot(root)
        touched = [p for p in sorted(foreign_paths)
                   if before.get(p) != after.get(p) and not SCARE_BY_NAME.match(p)]
        assert not touched, f"{op} touched foreign entries {touched} (planted {foreign})"
        new_outside = [p for p in set(after) - set(before) if not p.startswith(("out", "cache"))]
        assert not new_outside, f"{op} created {new_outside}"
        # what this operation made is scare's from now on
        made = {p for p in after if p not in before}
        scare |= made
        foreign_paths -= made
        before = after
