"""The Python API: run a study, or read a run folder, and get the verdict as data.

``run(study, strategies=None, *, data=None, out=None, ...)`` and ``load_run(folder)`` return a
:class:`Result` whose frames (``verdict``, ``episodes``, ``pooled``, ``sweep``, ``runs``,
``orders``, ``weights``, ``warnings``, ``audit``, ``data``) are documented in docs/api.md. This
layer sits above orchestration: it calls the runner ``scare run`` calls and reads run folders
through the output stage's and the report's readers. Exported from :mod:`backtests` (lazily).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {"run": "backtests.api.run", "load_run": "backtests.api.run", "Result": "backtests.api.result",
         "Tearsheet": "backtests.api.result", "FRAMES": "backtests.api.columns", "Column": "backtests.api.columns"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'backtests.api' has no attribute {name!r}")
