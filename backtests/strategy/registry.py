"""Find strategies: built-ins in the ``strategies`` package, entry points, ``module:Class`` paths.

Resolution order for a name: a ``module:Class`` path; then strategies discovered in the
``strategies`` package (every module is imported and its :class:`Strategy` subclasses with a
``name`` are registered); then the ``scare.strategies`` entry-point group of installed packages.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import entry_points
from types import ModuleType

from backtests.errors import StrategyError
from backtests.strategy.base import Strategy
from backtests.strategy.guard import plugin_call, shown_path
from backtests.strategy.integrity import verify

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
            module = _import(f"strategies.{info.name}")
            for cls in _strategies_in(module):
                found.setdefault(cls.name, cls)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        owner, file = f"entry point {ep.name!r} ({ep.value})", _module_file(ep.module)
        with plugin_call(owner, "import", [file]):
            cls = ep.load()
        verify(owner, "when it was imported", where=shown_path(file) if file else None)
        if isinstance(cls, type) and issubclass(cls, Strategy):
            found.setdefault(cls.name or ep.name, cls)
    return found


def _module_file(name: str) -> str | None:
    """The source file a module would be imported from, without importing it (None if unknown)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    except Exception:  # noqa: BLE001 - a parent package that fails on import: reported by _import
        return None
    return spec.origin if spec is not None and spec.origin not in (None, "built-in", "frozen") else None


def _import(name: str) -> ModuleType:
    """Import a plug-in module; its failures (anything raised, ``sys.exit``, ``os._exit``, a fork, an
    import that does not finish within the time bound) are one-line errors, and so is a module that
    replaced scare's own code (:mod:`backtests.strategy.integrity`)."""
    file = _module_file(name)
    with plugin_call(f"module {name!r}", "import", [file]):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name and (name == exc.name or name.startswith(exc.name + "."))):
                raise  # a module the plug-in imports is missing: point at the plug-in's line
            missing = str(exc)
        else:
            missing = None
    verify(f"module {name!r}", "when it was imported", where=shown_path(file) if file else None)
    if missing is None:
        return module
    raise StrategyError(f"cannot import module {name!r}: {missing}")


def class_name(cls: type) -> str:
    """The name a class given in Python stands under in a study config: ``module:QualName``
    (``__main__:DipBuyer`` for a class of a notebook cell or a script)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def load_path(path: str) -> type[Strategy]:
    """Load ``package.module:Class``."""
    mod_name, _, cls_name = path.partition(":")
    if not mod_name or not cls_name:
        raise StrategyError(f"{path!r}: expected 'package.module:Class'")
    module = _import(mod_name)
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"{path!r} is not a Strategy subclass")
    return cls


def resolve(name: str, given: Mapping[str, type[Strategy]] | None = None) -> type[Strategy]:
    """The strategy class for a registered name or a ``module:Class`` path.

    ``given`` maps names to classes handed over in Python (``backtests.run(study,
    strategies=[MyStrategy])``, :func:`class_name`): such a name is that class, whatever is
    importable under it (a class defined in a notebook cell or inside a function cannot be imported).
    """
    if given and name in given:
        cls = given[name]
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise StrategyError(f"{name!r} is not a Strategy subclass")
        return cls
    if ":" in name:
        return load_path(name)
    available = discover()
    if name in available:
        return available[name]
    hint = difflib.get_close_matches(name, list(available), n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else f" (available: {', '.join(sorted(available))})"
    raise StrategyError(f"unknown strategy {name!r}{extra}")
