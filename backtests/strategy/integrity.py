"""scare's own code checked for replacement by plug-in code.

A plug-in runs in scare's process and could replace the functions scare calls, by accident or on
purpose: ``backtests.audit.stage.audit_study = lambda *a, **k: {...}`` at import lets a look-ahead
strategy through. :func:`snapshot` records, before any plug-in code runs, every function and class
of every loaded ``backtests`` module (the object, its code, defaults and closure, and each method of
each class); :func:`changes` lists what differs since. The commands take a snapshot before they
import plug-ins (:func:`watching`), and :func:`verify` refuses with one line naming the plug-in
after each plug-in import and each call for decisions, and restores what was replaced, so the
process is left as scare shipped it.

What it does not promise: it checks scare's functions and classes only (not numpy, pandas or the
standard library, not module-level data), and only at those points; a plug-in that also replaces
this module's own code, or edits objects through ``gc`` or ``ctypes``, is not stopped. A plug-in is
trusted Python code (docs/strategies.md, "What scare guards against").
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FunctionType, ModuleType
from typing import Any

PACKAGE = "backtests"


@dataclass(frozen=True)
class _Entry:
    """One function or method as it was: the object and what its behaviour depends on."""

    holder: Any  # the module or class whose attribute it is
    space: Any  # its namespace (a module's dict, a class's mappingproxy: both show changes live)
    name: str
    obj: Any
    facts: tuple


def _functions(obj: Any) -> list[Any]:
    if isinstance(obj, property):
        return [f for f in (obj.fget, obj.fset, obj.fdel) if f is not None]
    return [getattr(obj, "__func__", obj)]  # staticmethod / classmethod: the function inside


def _facts(obj: Any) -> tuple:
    """What the behaviour of a function (a property's accessors) depends on, in fours: the function,
    its code, its defaults and keyword defaults; compared by identity."""
    return tuple(x for f in _functions(obj) if isinstance(f, FunctionType)
                 for x in (f, f.__code__, f.__defaults__, f.__kwdefaults__))


def _intact(facts: tuple) -> bool:
    """Each function of ``facts`` still has the code and defaults it had (by identity: ``==`` on a
    default value could run anything)."""
    for i in range(0, len(facts), 4):
        func = facts[i]
        if func.__code__ is not facts[i + 1] or func.__defaults__ is not facts[i + 2] \
                or func.__kwdefaults__ is not facts[i + 3]:
            return False
    return True


def _own(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "") or "").split(".")[0] == PACKAGE


class Snapshot:
    """scare's functions and classes as they were when the snapshot was taken."""

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        for name, module in sorted(sys.modules.items()):
            if not isinstance(module, ModuleType) or name.split(".")[0] != PACKAGE:
                continue
            for attr, value in list(vars(module).items()):
                if isinstance(value, (FunctionType, type)) and _own(value):
                    self.entries.append(_Entry(module, vars(module), attr, value, _facts(value)))
                    if isinstance(value, type) and value.__module__ == name:
                        self._methods(value)

    def _methods(self, cls: type) -> None:
        for attr, value in list(vars(cls).items()):
            if isinstance(value, (FunctionType, staticmethod, classmethod, property)):
                self.entries.append(_Entry(cls, cls.__dict__, attr, value, _facts(value)))

    def changes(self) -> list[_Entry]:
        """The entries replaced, removed or whose code changed since the snapshot (about a
        millisecond for scare's ~1,200 functions and methods)."""
        return [e for e in self.entries if e.space.get(e.name, _MISSING) is not e.obj or not _intact(e.facts)]

    def restore(self, entries: list[_Entry]) -> None:
        """Put ``entries`` back as they were."""
        for e in entries:
            for i in range(0, len(e.facts), 4):
                func, code, defaults, kwdefaults = e.facts[i:i + 4]
                func.__code__, func.__defaults__, func.__kwdefaults__ = code, defaults, kwdefaults
            setattr(e.holder, e.name, e.obj)


_MISSING = object()
_ACTIVE: contextvars.ContextVar[Snapshot | None] = contextvars.ContextVar("scare_code_snapshot", default=None)


def snapshot() -> Snapshot:
    """scare's loaded functions and classes, now."""
    return Snapshot()


@contextmanager
def watching() -> Iterator[Snapshot]:
    """Take a snapshot for the block (a command, before it imports any plug-in); :func:`verify`
    compares against it. Nested blocks keep the outer snapshot."""
    outer = _ACTIVE.get()
    if outer is not None:
        yield outer
        return
    snap = snapshot()
    token = _ACTIVE.set(snap)
    try:
        yield snap
    finally:
        _ACTIVE.reset(token)


def name_of(e: _Entry) -> str:
    holder = e.holder.__name__ if isinstance(e.holder, ModuleType) else \
        f"{e.holder.__module__}.{e.holder.__qualname__}"
    return f"{holder}.{e.name}"


def verify(owner: str, when: str, where: str | None = None) -> None:
    """Refuse (:class:`~backtests.errors.StrategyError`, naming ``owner`` and ``when``) if scare's code
    changed since the active snapshot; restore it first. No-op outside :func:`watching`."""
    snap = _ACTIVE.get()
    if snap is None:
        return
    changed = snap.changes()
    if not changed:
        return
    snap.restore(changed)
    from backtests.errors import StrategyError

    shown = ", ".join(name_of(e) for e in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    raise StrategyError(f"{owner} replaced scare's own {shown} {when}: a plug-in may not change scare's code "
                        "(the audit and the guards would no longer be scare's); scare refused the run and put it back",
                        where=where)
