"""arch's stationary bootstrap, imported without the plotting stack scare never asks arch for.

``import arch.bootstrap`` first runs ``arch/__init__``, which imports arch's univariate models;
their module (``arch/univariate/base.py``) tries ``import matplotlib`` at import time only to read
its version for plotting (``MPL_LT_310``). That import is about half a second of every
``scare run`` (measured: docs/benchmarks.md), for plots scare never draws with arch. When nothing
has imported matplotlib yet, :func:`bootstrap_tools` imports arch with matplotlib marked absent,
so arch takes its own "no matplotlib" branch (``MPL_LT_310 = False``, which is also its value for
the matplotlib >= 3.10 that vectorbt installs), then restores the import system at once: arch
imports matplotlib itself inside its plotting methods, should anyone call them, and any other
code imports it as usual.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def _absent(name: str) -> Iterator[None]:
    """``import name`` raises ImportError inside the block, unless it was imported before."""
    if name in sys.modules:
        yield
        return
    sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not installed"
    try:
        yield
    finally:
        if sys.modules.get(name, 0) is None:
            del sys.modules[name]


def bootstrap_tools() -> tuple[type, Callable[..., Any]]:
    """``(StationaryBootstrap, optimal_block_length)`` of :mod:`arch.bootstrap` (the real ones)."""
    module = sys.modules.get("arch.bootstrap")
    if module is None:
        with _absent("matplotlib"):
            module = importlib.import_module("arch.bootstrap")
    return module.StationaryBootstrap, module.optimal_block_length
