"""The guard around every call into plug-in code.

A plug-in's mistake is one line naming the plug-in and the place in its own file, never a
traceback and never the end of the process (in the spirit of freqtrade's strategy wrapper):

* :func:`plugin_call` runs plug-in code (import, ``__init__``, ``check_params``,
  ``weights``/``target_weights``). An exception becomes a :class:`StrategyError` pointing at the
  last line of the plug-in's own file in the traceback; so does any other ``BaseException`` a
  plug-in raises (``GeneratorExit``, its own subclasses, a subclass of ``KeyboardInterrupt``).
  ``sys.exit()`` and ``os._exit()`` are errors naming the plug-in (a plug-in may not end the
  process: ``os._exit`` is replaced while plug-in code runs, so it raises instead of ending it). A
  plain ``KeyboardInterrupt`` is left alone: it is the user pressing Ctrl-C (or SIGTERM) and the
  runner treats it as an interruption.
* A call runs under the time bound in force (:mod:`backtests.strategy.bounds`,
  ``limits.plugin_call_seconds``): past it, one line naming the plug-in and the line it was on.
* A plug-in that forks (``os.fork``, multiprocessing's ``fork`` start method) is an error naming
  the line that forked: the child would otherwise carry on scare's run and write into the same
  output folder. A forked child that comes back into scare ends at once, silently, without
  running any of scare's code (it writes nothing and releases nothing).
* :func:`guard` is :func:`plugin_call` around one call of a strategy's method.

What the plug-in returns is checked elsewhere (:mod:`backtests.strategy.contract`); this module
knows nothing about strategies beyond their source files. Set ``SCARE_DEBUG=1`` to see the full
traceback of a plug-in's error as well.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from backtests.errors import ScareInputError, StrategyError
from backtests.strategy.bounds import PluginTimeout, bounded, current_limit, real_exit


# ------------------------------------------------------------------------------- locations
def source_file(obj: Any) -> str | None:
    """The ``.py`` file that defines a class, function or module (None when unknown)."""
    try:
        f = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        mod = sys.modules.get(getattr(obj, "__module__", "") or "")
        f = getattr(mod, "__file__", None)
    return str(Path(f).resolve()) if f else None


def shown_path(path: str) -> str:
    """A path relative to the working directory when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def definition_line(func: Any) -> str | None:
    """``file:line`` of the ``def`` of ``func`` (a plug-in method, or a class)."""
    func = inspect.unwrap(getattr(func, "__func__", func))
    try:
        return _definition_line(func, Path.cwd())
    except TypeError:  # not hashable
        return _definition_line.__wrapped__(func, Path.cwd())


@lru_cache(maxsize=4096)
def _definition_line(func: Any, cwd: Path) -> str | None:
    """:func:`definition_line` once per function and working directory: a sweep asks it for every
    guarded call (once per parameter combination in planning), and locating a file resolves paths."""
    f = source_file(func)
    if f is None:
        return None
    line = _first_line(func, getattr(func, "__code__", None))
    return shown_path(f) if line is None else f"{shown_path(f)}:{line}"


@lru_cache(maxsize=4096)
def _first_line(func: Any, code: Any) -> int | None:
    """The first line of ``func``'s source; asked once per function and code (``inspect`` reads and
    tokenizes the whole file each time, which a sweep of many chunks paid on every chunk)."""
    if code is not None:
        return code.co_firstlineno
    try:
        return inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return None


def raise_site(exc: BaseException, files: Sequence[str | None], own_only: bool = False) -> str | None:
    """``file:line`` of the last traceback frame inside one of ``files`` (the plug-in's own code),
    else (unless ``own_only``) of the last frame outside scare and the standard library, else None."""
    frames = traceback.extract_tb(exc.__traceback__)
    wanted = {str(Path(f).resolve()) for f in files if f}
    for fr in reversed(frames):
        if fr.filename and str(Path(fr.filename).resolve()) in wanted:
            return f"{shown_path(fr.filename)}:{fr.lineno}"
    if own_only:
        return None
    scare = str(Path(__file__).resolve().parents[1])
    for fr in reversed(frames):
        name = fr.filename or ""
        if name.startswith("<") or str(Path(name).resolve()).startswith((scare, sys.prefix, sys.base_prefix)):
            continue
        return f"{shown_path(name)}:{fr.lineno}"
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------ os._exit and fork while plug-in code runs
#: Calls made once per parameter combination: bounded by the signal only (see :func:`bounds.bounded`).
PER_COMBINATION = frozenset({"check_params()"})


class PluginExit(BaseException):
    """What ``os._exit(code)`` raises while plug-in code runs (see :func:`_refuse_exit`)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _State:
    """Plug-in calls in progress in this process (depth), the files they run, and a fork seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.files: list[set[str]] = []
        self.forked_at: str | None = None
        self.forked = False
        self.child = False
        self.saved_exit: tuple[Any, Any] | None = None  # os._exit and posix._exit before the first call


_STATE = _State()


def _refuse_exit(code: int = 0) -> None:
    """``os._exit`` while plug-in code runs: raise :class:`PluginExit` instead (a forked child, or
    any call outside plug-in code, exits for real)."""
    if _STATE.depth > 0 and not _STATE.child:
        raise PluginExit(code)
    real_exit(code)


def _before_fork() -> None:
    if _STATE.depth > 0 and not _STATE.child:
        wanted = set().union(*_STATE.files) if _STATE.files else set()
        for fr in reversed(traceback.extract_stack()):
            if fr.filename and str(Path(fr.filename).resolve()) in wanted:
                _STATE.forked_at = f"{shown_path(fr.filename)}:{fr.lineno}"
                break


def _after_fork_in_parent() -> None:
    if _STATE.depth > 0 and not _STATE.child:
        _STATE.forked = True


def _after_fork_in_child() -> None:
    if _STATE.depth > 0:
        _STATE.child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


def _enter(files: Sequence[str | None]) -> None:
    with _STATE.lock:
        if _STATE.depth == 0:
            _STATE.forked, _STATE.forked_at = False, None
            posix = sys.modules.get("posix")
            _STATE.saved_exit = (os._exit, getattr(posix, "_exit", None))
            os._exit = _refuse_exit
            if posix is not None and hasattr(posix, "_exit"):
                posix._exit = _refuse_exit
        _STATE.depth += 1
        _STATE.files.append({str(Path(f).resolve()) for f in files if f})


def _leave() -> str | None:
    """End one plug-in call: a forked child ends here; the parent gets where the fork happened
    (``"?"`` when not in the plug-in's files), or None when nothing forked."""
    if _STATE.child:
        real_exit(2)  # a forked child back in scare's code: it must run none of it
    with _STATE.lock:
        _STATE.depth -= 1
        _STATE.files.pop()
        forked = (_STATE.forked_at or "?") if _STATE.forked else None
        if _STATE.depth == 0:
            saved_os, saved_posix = _STATE.saved_exit or (real_exit, real_exit)
            os._exit = saved_os
            posix = sys.modules.get("posix")
            if posix is not None and saved_posix is not None:
                posix._exit = saved_posix
            _STATE.forked, _STATE.forked_at = False, None
    return forked


@contextmanager
def plugin_call(owner: str, what: str, files: Sequence[str | None],
                fallback: str | Callable[[], str | None] | None = None) -> Iterator[None]:
    """Run plug-in code; turn anything it raises, ``sys.exit``, ``os._exit``, a fork or running past the
    time bound into one :class:`StrategyError` (see the module docstring).

    Parameters
    ----------
    owner
        How to name the plug-in in the message, e.g. ``"strategy 'fade'"`` or ``"module 'my.mod'"``.
    what
        The call, e.g. ``"weights()"``, ``"import"``.
    files
        The plug-in's source file(s): the error points at the last line inside them.
    fallback
        ``file:line`` to name when no frame is in the plug-in (e.g. the method's ``def`` line), or a
        function that says it: asked only when something goes wrong (finding a class's ``def`` line
        parses its file, which planning would otherwise pay once per parameter combination).
    """
    if callable(fallback):
        fallback = _once(fallback)
    else:
        fallback = _once(lambda site=fallback: site)
    _enter(files)

    def stuck(frame: Any) -> str:
        """What the last resort of the time bound says: where the call is stuck, and whose it is."""
        return f"{frame_site(frame, files) or fallback()}: {owner} {_not_done(what)}"

    try:
        with bounded(stuck, last_resort=what not in PER_COMBINATION):
            yield
    except BaseException as exc:
        forked = _leave()
        if forked is not None:
            raise _fork_error(owner, what, forked, fallback()) from exc
        error = _translate(exc, owner, what, files, fallback())
        if error is exc:
            raise
        raise error from exc
    forked = _leave()
    if forked is not None:
        raise _fork_error(owner, what, forked, fallback())


def _once(make: Callable[[], str | None]) -> Callable[[], str | None]:
    """``make`` called at most once, when first asked."""
    done: list[str | None] = []

    def site() -> str | None:
        if not done:
            done.append(make())
        return done[0]
    return site


def _not_done(what: str) -> str:
    return "did not finish importing" if what == "import" else f"did not return from {what}"


def frame_site(frame: Any, files: Sequence[str | None]) -> str | None:
    """``file:line`` of the innermost frame of the stack ending in ``frame`` that is in ``files``."""
    wanted = {str(Path(f).resolve()) for f in files if f}
    while frame is not None:
        name = frame.f_code.co_filename
        if name and str(Path(name).resolve()) in wanted:
            return f"{shown_path(name)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _fork_error(owner: str, what: str, at: str, fallback: str | None) -> StrategyError:
    return StrategyError(f"{owner} forked the process in {what}: a plug-in may not fork (the child would carry on "
                         "scare's run and write into the same output folder); use threads, vectorized code, or "
                         "processes started with 'spawn'", where=at if at != "?" else fallback)


def _translate(exc: BaseException, owner: str, what: str, files: Sequence[str | None],
               fallback: str | None) -> BaseException:
    """The one-line error for what a plug-in raised (``exc`` itself when it is to propagate as is)."""
    if type(exc) is KeyboardInterrupt:
        return exc  # Ctrl-C or SIGTERM: an interruption, not the plug-in's error
    if isinstance(exc, ScareInputError):
        # scare's own checks (a role the config names wrongly, ...) keep their message; raised
        # while running the plug-in's code they also say where in it
        where = None if exc.where else raise_site(exc, files, own_only=True)
        return exc if where is None else type(exc)(f"{owner}: {exc.bare_message}", where=where)
    where = raise_site(exc, files) or fallback
    if isinstance(exc, SystemExit):
        return StrategyError(f"{owner} called sys.exit({exc.code!r}) in {what}: a plug-in must raise an "
                             "exception or return, never end the process", where=where)
    if isinstance(exc, PluginExit):
        return StrategyError(f"{owner} called os._exit({exc.code!r}) in {what}: a plug-in must raise an "
                             "exception or return, never end the process", where=where)
    if isinstance(exc, PluginTimeout):
        seconds, source = current_limit()
        seconds = exc.seconds or seconds or 0.0
        return StrategyError(f"{owner} {_not_done(what)} within {seconds:g} s ({exc.source or source}); it was stopped here",
                             where=where)
    message = _one_line(str(exc))
    kind = "" if isinstance(exc, Exception) else " (a BaseException: plug-ins raise Exception subclasses)"
    return StrategyError(f"{owner} failed in {what}: {type(exc).__name__}{kind}"
                         + (f": {message}" if message else ""), where=where)


def strategy_files(strategy: Any) -> list[str | None]:
    """Source files of a strategy's class and of every base class outside scare."""
    return list(_strategy_files(strategy if isinstance(strategy, type) else type(strategy)))


@lru_cache(maxsize=1024)
def _strategy_files(cls: type) -> tuple[str, ...]:
    """:func:`strategy_files` once per class (asked for every guarded call)."""
    scare = str(Path(__file__).resolve().parents[1])
    out = [source_file(k) for k in cls.__mro__ if k is not object]
    return tuple(f for f in dict.fromkeys(out) if f and not f.startswith(scare))


def guard(strategy: Any, label: str, what: str, func: Callable[..., Any], *args: Any,
          at: Any = None, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` inside :func:`plugin_call` for ``strategy`` (named ``label``);
    ``at`` is the method whose ``def`` line to name when no frame is in the plug-in's files."""
    with plugin_call(f"strategy {label!r}", what, strategy_files(strategy), lambda: definition_line(at or func)):
        return func(*args, **kwargs)
