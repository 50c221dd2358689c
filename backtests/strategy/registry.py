"""Find strategies: built-ins in the ``strategies`` package, entry points, ``module:Class`` paths.

Resolution order for a name: a ``module:Class`` path; then strategies discovered in the
``strategies`` package (every module is imported and its :class:`Strategy` subclasses with a
``name`` are registered); then the ``scare.strategies`` entry-point group of installed packages.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from functools import lru_cache
from importlib.metadata import entry_points

from backtests.errors import StrategyError
from backtests.strategy.base import Strategy

ENTRY_POINT_GROUP = "scare.strategies"


def _strategies_in(module: object) -> list[type[Strategy]]:
    out = []
    for obj in vars(module).values():
        if (isinstance(obj, type) and issubclass(obj, Strategy) and obj is not Strategy
                and obj.name and obj.__module__ == getattr(module, "__name__", None)):
            out.append(obj)
    return out


@lru_cache(maxsize=1)
def discover() -> dict[str, type[Strategy]]:
    """All strategies available by name (built-in package first, then entry points)."""
    found: dict[str, type[Strategy]] = {}
    try:
        pkg = importlib.import_module("strategies")
    except ImportError:
        pkg = None
    if pkg is not None:
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"strategies.{info.name}")
            for cls in _strategies_in(module):
                found.setdefault(cls.name, cls)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party plug-in must not hide the others
            raise StrategyError(f"entry point {ep.name!r} ({ep.value}) failed to load: {exc}") from None
        if isinstance(cls, type) and issubclass(cls, Strategy):
            found.setdefault(cls.name or ep.name, cls)
    return found


def load_path(path: str) -> type[Strategy]:
    """Load ``package.module:Class``."""
    mod_name, _, cls_name = path.partition(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise StrategyError(f"cannot import module {mod_name!r}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"{path!r} is not a Strategy subclass")
    return cls


def resolve(name: str) -> type[Strategy]:
    """The strategy class for a registered name or a ``module:Class`` path."""
    if ":" in name:
        return load_path(name)
    available = discover()
    if name in available:
        return available[name]
    hint = difflib.get_close_matches(name, list(available), n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else f" (available: {', '.join(sorted(available))})"
    raise StrategyError(f"unknown strategy {name!r}{extra}")
