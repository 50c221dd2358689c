"""Digests: of code (what a checkpoint, an audit verdict or a manifest was computed with) and the
stable ids of runs and combinations (hashes of what they are).

A result computed by one version of a strategy must never be reused for another. A strategy's
digest covers the file that defines its class (helpers it imports from other files are not
covered: say so where it matters). scare's digest covers every ``.py`` file of the ``backtests``
package and the catalogue, so any change to the framework invalidates what it computed.

All digests are SHA-256 hex strings; they depend only on file bytes, never on paths or mtimes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from backtests.jsonfmt import clean_json


def _sha(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(len(c).to_bytes(8, "little"))
        h.update(c)
    return h.hexdigest()


@lru_cache(maxsize=1)
def scare_digest() -> str:
    """SHA-256 over the framework's own source (``backtests/**/*.py`` and the catalogue files)."""
    root = Path(__file__).resolve().parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".csv")
                   and "__pycache__" not in p.parts)
    return _sha(*(f"{p.relative_to(root).as_posix()}\0".encode() + p.read_bytes() for p in files))


def strategy_digest(cls: type) -> tuple[str, str]:
    """``(digest, what)`` of a strategy class's code: the bytes of the file defining it.

    ``what`` names what was hashed (``"file:<name>"`` or ``"qualname"`` when the class has no
    source file, e.g. one defined in an interactive session; then edits cannot be detected).
    """
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    qual = f"{cls.__module__}.{cls.__qualname__}".encode()
    if path and Path(path).is_file():
        return _sha(qual, Path(path).read_bytes()), f"file:{Path(path).name}"
    return _sha(qual), "qualname"


def table_digest(frame: Any) -> str:
    """SHA-256 of a pandas table's contents as text (column names, index and every value), for
    small tables such as the event catalogue or a chunk's parameter rows; ``None`` hashes as empty."""
    text = "" if frame is None or not len(frame) else frame.astype(str).to_csv()
    return _sha(text.encode())


def record_digest(value: Any) -> str:
    """SHA-256 of a JSON-ready value (canonical JSON: sorted keys)."""
    return _sha(json.dumps(clean_json(value), sort_keys=True, separators=(",", ":"), default=str).encode())


def run_id(label: str, params: dict[str, Any], window: str) -> str:
    """Stable id of a (strategy, params, window) run: 12 hex digits of a SHA-256."""
    key = json.dumps([label, clean_json(params), window], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def combo_id(label: str, params: dict[str, Any]) -> str:
    """Stable id of a (strategy, params) combination across windows."""
    key = json.dumps([label, clean_json(params)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]
