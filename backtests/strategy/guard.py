"""The guard around every call into plug-in code.

A plug-in's mistake is one line naming the plug-in and the place in its own file, never a
traceback and never the end of the process (in the spirit of freqtrade's strategy wrapper):

* :func:`plugin_call` runs plug-in code (import, ``__init__``, ``check_params``,
  ``weights``/``target_weights``). An exception becomes a :class:`StrategyError` pointing at the
  last line of the plug-in's own file in the traceback; ``sys.exit()`` is an error naming the
  plug-in (a plug-in may not end the process); ``KeyboardInterrupt`` is left alone, it is the user
  pressing Ctrl-C and the runner treats it as an interruption.
* :func:`guard` is :func:`plugin_call` around one call of a strategy's method.

What the plug-in returns is checked elsewhere (:mod:`backtests.strategy.contract`); this module
knows nothing about strategies beyond their source files. Set ``SCARE_DEBUG=1`` to see the full
traceback of a plug-in's error as well.
"""

from __future__ import annotations

import inspect
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backtests.errors import ScareInputError, StrategyError


# ------------------------------------------------------------------------------- locations
def source_file(obj: Any) -> str | None:
    """The ``.py`` file that defines a class, function or module (None when unknown)."""
    try:
        f = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        mod = sys.modules.get(getattr(obj, "__module__", "") or "")
        f = getattr(mod, "__file__", None)
    return str(Path(f).resolve()) if f else None


def _shown(path: str) -> str:
    """A path relative to the working directory when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def definition_line(func: Any) -> str | None:
    """``file:line`` of the ``def`` of ``func`` (a plug-in method)."""
    func = inspect.unwrap(getattr(func, "__func__", func))
    f = source_file(func)
    if f is None:
        return None
    try:
        line = inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return _shown(f)
    return f"{_shown(f)}:{line}"


def raise_site(exc: BaseException, files: Sequence[str | None], own_only: bool = False) -> str | None:
    """``file:line`` of the last traceback frame inside one of ``files`` (the plug-in's own code),
    else (unless ``own_only``) of the last frame outside scare and the standard library, else None."""
    frames = traceback.extract_tb(exc.__traceback__)
    wanted = {str(Path(f).resolve()) for f in files if f}
    for fr in reversed(frames):
        if fr.filename and str(Path(fr.filename).resolve()) in wanted:
            return f"{_shown(fr.filename)}:{fr.lineno}"
    if own_only:
        return None
    scare = str(Path(__file__).resolve().parents[1])
    for fr in reversed(frames):
        name = fr.filename or ""
        if name.startswith("<") or str(Path(name).resolve()).startswith((scare, sys.prefix, sys.base_prefix)):
            continue
        return f"{_shown(name)}:{fr.lineno}"
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def plugin_call(owner: str, what: str, files: Sequence[str | None], fallback: str | None = None) -> Iterator[None]:
    """Run plug-in code; turn its exceptions and ``sys.exit`` into one :class:`StrategyError`.

    Parameters
    ----------
    owner
        How to name the plug-in in the message, e.g. ``"strategy 'fade'"`` or ``"module 'my.mod'"``.
    what
        The call, e.g. ``"weights()"``, ``"import"``.
    files
        The plug-in's source file(s): the error points at the last line inside them.
    fallback
        ``file:line`` to name when no frame is in the plug-in (e.g. the method's ``def`` line).
    """
    try:
        yield
    except KeyboardInterrupt:
        raise
    except ScareInputError as exc:
        # scare's own checks (a role the config names wrongly, ...) keep their message; raised
        # while running the plug-in's code they also say where in it
        where = None if exc.where else raise_site(exc, files, own_only=True)
        if where is None:
            raise
        raise type(exc)(f"{owner}: {exc.bare_message}", where=where) from exc
    except SystemExit as exc:
        where = raise_site(exc, files) or fallback
        raise StrategyError(f"{owner} called sys.exit({exc.code!r}) in {what}: a plug-in must raise an "
                            "exception or return, never end the process", where=where) from exc
    except Exception as exc:  # noqa: BLE001 - any bug of a plug-in is reported, not a traceback
        where = raise_site(exc, files) or fallback
        message = _one_line(str(exc))
        raise StrategyError(f"{owner} failed in {what}: {type(exc).__name__}"
                            + (f": {message}" if message else ""), where=where) from exc


def strategy_files(strategy: Any) -> list[str | None]:
    """Source files of a strategy's class and of every base class outside scare."""
    cls = strategy if isinstance(strategy, type) else type(strategy)
    scare = str(Path(__file__).resolve().parents[1])
    out = [source_file(k) for k in cls.__mro__ if k is not object]
    return [f for f in dict.fromkeys(out) if f and not f.startswith(scare)]


def guard(strategy: Any, label: str, what: str, func: Callable[..., Any], *args: Any,
          at: Any = None, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` inside :func:`plugin_call` for ``strategy`` (named ``label``);
    ``at`` is the method whose ``def`` line to name when no frame is in the plug-in's files."""
    with plugin_call(f"strategy {label!r}", what, strategy_files(strategy), definition_line(at or func)):
        return func(*args, **kwargs)
