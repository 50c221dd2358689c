"""arch's stationary bootstrap, imported without the rest of arch.

``import arch.bootstrap`` first runs ``arch/__init__``, which imports arch's univariate (GARCH)
models for its ``arch_model`` shortcut; their module imports statsmodels' regression and summary
tables, which import formulaic and patsy, and tries ``import matplotlib`` for its plots: about
0.1-0.2 s of every ``scare run`` (docs/benchmarks.md) for code scare never calls. The bootstrap
subpackage itself needs none of it (it imports ``arch._typing``, ``arch.utility`` and
``arch.compat.numba``).

:func:`bootstrap_tools` therefore registers the ``arch`` package object *before* running its
``__init__`` (what the import system itself does, minus executing the file), imports
``arch.bootstrap`` through it, and leaves the package's own ``__init__`` to run on the first name
asked of ``arch`` that the package has not got yet (``arch.arch_model``, ``from arch import
__version__``): to any later user, arch is arch, only initialised when first used. Nothing is
replaced: the classes and functions returned are arch's own (tests/test_startup.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()


def _package_before_init(name: str) -> ModuleType:
    """``name``'s package module with its search path set and its ``__init__`` not yet run; the
    ``__init__`` runs (once) when a name the module lacks is first asked for."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        raise ImportError(f"no package {name!r}")
    package = importlib.util.module_from_spec(spec)
    state = {"ran": False}

    def __getattr__(attr: str) -> Any:  # PEP 562: asked only for names the module lacks
        if state["ran"]:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        state["ran"] = True  # a name asked while ``__init__`` runs (``from . import x``) is a submodule
        try:
            spec.loader.exec_module(package)  # type: ignore[union-attr]
        except BaseException:
            state["ran"] = False
            raise
        try:
            return package.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    package.__getattr__ = __getattr__  # type: ignore[attr-defined]
    return package


def _bootstrap_module() -> ModuleType:
    module = sys.modules.get("arch.bootstrap")
    if module is not None:
        return module
    with _LOCK:
        if "arch" not in sys.modules:
            sys.modules["arch"] = _package_before_init("arch")
        return importlib.import_module("arch.bootstrap")


def bootstrap_tools() -> tuple[type, Callable[..., Any]]:
    """``(StationaryBootstrap, optimal_block_length)`` of :mod:`arch.bootstrap` (the real ones)."""
    module = _bootstrap_module()
    return module.StationaryBootstrap, module.optimal_block_length
