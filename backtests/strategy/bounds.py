"""A time bound on one call into plug-in code (``limits.plugin_call_seconds``).

A plug-in's call (its import, ``__init__``, ``check_params``, ``weights``/``target_weights``) must
return within the bound in force (:func:`call_limit`); when it does not, :class:`PluginTimeout` is
raised inside it and the guard (:mod:`backtests.strategy.guard`) reports one line naming the
plug-in. How the call is stopped depends on where it runs:

* **the main thread** (every scare command; ``signal.setitimer`` exists on POSIX): ``SIGALRM``
  fires at the deadline and its handler raises :class:`PluginTimeout` at the next bytecode the
  interpreter runs. That stops a pure-Python loop, and a call blocked in a system call (a socket
  ``recv``/``connect``, ``time.sleep``, a lock): the signal interrupts the call, Python runs the
  handler (PEP 475) and the exception propagates. The alarm repeats every second after the
  deadline, so a plug-in that swallows the first one with a bare ``except:`` meets the next.
* **another thread** (a Dask worker runs chunks in its threads): a watchdog thread raises
  :class:`PluginTimeout` in the calling thread (``PyThreadState_SetAsyncExc``) at the deadline and
  every second after. That stops pure-Python loops, but not a call blocked in a system call: the
  exception is seen only when the call returns to the interpreter.
* **compiled code that never returns to the interpreter** (a numba ``@njit`` loop, a C extension
  spinning, a blocking call that retries on ``EINTR`` inside C) sees neither: a signal handler
  and an asynchronous exception both wait for the interpreter. For calls on the main thread two
  last resorts end the process instead of letting it hang:

  1. if the compiled code released the GIL (numba ``nogil=True``, most blocking C calls), the
     watchdog thread can still run: :data:`HARD_GRACE` seconds (or a tenth of the bound, if
     longer) after the deadline it runs the cleanups registered with :func:`at_hard_exit` (the
     run folder's lock, the folders the run created), prints one line naming the plug-in and its
     call, and ends the process with exit code 2;
  2. if it holds the GIL (numba's default), no Python thread can run until it returns; then
     :mod:`faulthandler`'s own C thread, armed at twice that grace, prints where every thread is
     (the plug-in's file and line on top) and ends the process with exit code 1. Nothing is
     cleaned up: the lock file stays (the kernel released the lock with the process; the next
     run takes it over).

  In a Dask worker thread there is no last resort: such a call runs until it returns.

:func:`renew` restarts the deadline: the base class's default ``target_weights`` calls it before
each ``weights()`` call, so the bound is per ``weights()`` call for strategies that write only that.
"""

from __future__ import annotations

import contextvars
import ctypes
import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Seconds after the deadline before the last resort ends the process (a tenth of the bound if longer).
HARD_GRACE = 2.0
#: Seconds between repeats of the stop signal once the deadline has passed.
REPEAT = 1.0
#: The bound in force for plug-in calls, seconds (None: unbounded), and its name in messages.
_LIMIT: contextvars.ContextVar[tuple[float | None, str]] = contextvars.ContextVar(
    "scare_plugin_call_limit", default=(None, ""))


class PluginTimeout(BaseException):
    """Raised inside a plug-in call that ran past its time bound (a ``BaseException``, so that a
    plug-in's ``except Exception`` does not swallow it)."""

    def __init__(self, seconds: float = 0.0, source: str = "") -> None:
        super().__init__(seconds, source)
        self.seconds, self.source = seconds, source


@contextmanager
def call_limit(seconds: float | None, source: str = "limits.plugin_call_seconds") -> Iterator[None]:
    """Bound every plug-in call made inside the block by ``seconds`` (None or 0: no bound);
    ``source`` names where the bound comes from in the error line. An inner block with a smaller
    bound (the look-ahead audit's budget) tightens it; a larger one does not loosen it."""
    outer, outer_source = _LIMIT.get()
    if seconds is not None and seconds <= 0:
        seconds = None
    if outer is not None and (seconds is None or outer <= seconds):
        seconds, source = outer, outer_source
    token = _LIMIT.set((seconds, source))
    try:
        yield
    finally:
        _LIMIT.reset(token)


def current_limit() -> tuple[float | None, str]:
    """``(seconds, source)`` of the bound in force (``(None, "")``: none)."""
    return _LIMIT.get()


# ----------------------------------------------------------------------------- last resort
_HARD_EXIT: list[Callable[[], None]] = []
#: the real ``os._exit`` (the guard replaces ``os._exit`` while plug-in code runs)
real_exit = os._exit


def at_hard_exit(cleanup: Callable[[], None]) -> Callable[[], None]:
    """Run ``cleanup`` if the first last resort ends the process (the run folder registers its lock
    and the folders it created, the checkpoints their folder); returns the function that
    unregisters it. Cleanups run newest first, in the watchdog thread while the main thread is
    stuck in compiled code, and must not raise."""
    _HARD_EXIT.append(cleanup)

    def forget() -> None:
        try:
            _HARD_EXIT.remove(cleanup)
        except ValueError:
            pass

    return forget


def _hard_exit(line: str) -> None:
    for cleanup in reversed(list(_HARD_EXIT)):
        try:
            cleanup()
        except Exception:  # noqa: BLE001 - the process ends either way; clean up what we can
            pass
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    finally:
        real_exit(2)


# ----------------------------------------------------------------------------- one bounded call
class _Call:
    """The bound of the call in progress (one per thread; nested calls share the outer one)."""

    def __init__(self, seconds: float, source: str, describe: Callable[[Any], str], last_resort: bool) -> None:
        self.seconds, self.source, self.describe = seconds, source, describe
        self.deadline = time.monotonic() + seconds
        self.thread = threading.current_thread()
        self.on_main = self.thread is threading.main_thread() and hasattr(signal, "setitimer")
        self.last_resort = last_resort and self.on_main
        self.faults = _stderr() if self.last_resort else None
        self.fault_at = 0.0  # when faulthandler's last resort fires (monotonic)
        self.active = True


def _stderr() -> object | None:
    """stderr for faulthandler (it needs a real file descriptor), None when there is none."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured by a test harness: no second last resort
        return None
    return sys.stderr


def _grace(seconds: float) -> float:
    return max(HARD_GRACE, 0.1 * seconds)


def _arm_faults(call: _Call) -> None:
    """(Re)arm faulthandler's last resort to fire twice the grace after the deadline. Arming costs
    about half a millisecond (it starts a C thread), so :func:`renew` re-arms only when the deadline
    has moved past what the armed time still covers."""
    if call.faults is None:
        return
    now = time.monotonic()
    if call.fault_at and call.fault_at >= call.deadline + _grace(call.seconds):
        return
    call.fault_at = now + call.seconds + 2 * _grace(call.seconds)
    faulthandler.dump_traceback_later(call.fault_at - now, exit=True, file=call.faults)


_CURRENT = threading.local()


def renew() -> None:
    """Restart the deadline of the call in progress (no-op outside a bounded call)."""
    call = getattr(_CURRENT, "call", None)
    if call is None or not call.active:
        return
    call.deadline = time.monotonic() + call.seconds
    if call.on_main:
        signal.setitimer(signal.ITIMER_REAL, call.seconds, REPEAT)
        _arm_faults(call)


@contextmanager
def bounded(describe: Callable[[Any], str], last_resort: bool = True) -> Iterator[None]:
    """Run the block under the bound in force (see the module docstring).

    ``describe(frame)`` gives the words the first last resort prints, ``"FILE:LINE: <plug-in> did
    not return from <call>"``, from the frame the stuck thread is in; it is only called then. ``last_resort=False`` (calls made once per combination, such as
    ``check_params``: arming the last resorts costs more than such a call) keeps only the signal.
    Raises :class:`PluginTimeout` inside the block at the deadline.
    """
    seconds, source = _LIMIT.get()
    if seconds is None or getattr(_CURRENT, "call", None) is not None:
        yield  # unbounded, or inside a bounded call already (the outer bound governs)
        return
    call = _Call(seconds, source, describe, last_resort)
    _CURRENT.call = call
    installed, previous = False, None

    def alarm(signum: int, frame: object) -> None:
        if call.active and time.monotonic() >= call.deadline - 0.01:
            raise PluginTimeout(seconds, source)

    # Armed inside the try: a bound shorter than the arming itself fires before the block starts,
    # and the call, the handler and the timer must still be taken down (left behind, they stopped
    # every later call of the process with this bound).
    try:
        if call.on_main:
            previous = signal.signal(signal.SIGALRM, alarm)
            installed = True
            signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT)
            _arm_faults(call)
        if call.last_resort or not call.on_main:
            _WATCHDOG.add(call)
        yield
    finally:
        call.active = False  # first: an alarm arriving from here on is ignored
        _CURRENT.call = None
        if call.on_main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if call.fault_at:
                faulthandler.cancel_dump_traceback_later()
            if installed:
                signal.signal(signal.SIGALRM, previous)
        _WATCHDOG.discard(call)


class _Watchdog:
    """One daemon thread per process watching the bounded calls that need it: asynchronous
    exceptions for calls off the main thread, the first last resort for calls on it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.calls: list[_Call] = []
        self.thread: threading.Thread | None = None

    def add(self, call: _Call) -> None:
        with self.cond:
            self.calls.append(call)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, daemon=True, name="scare-plugin-watchdog")
                self.thread.start()
            self.cond.notify()

    def discard(self, call: _Call) -> None:
        with self.cond:
            if call in self.calls:
                self.calls.remove(call)

    def _due(self, call: _Call) -> float:
        return call.deadline if not call.on_main else call.deadline + _grace(call.seconds)

    def _run(self) -> None:
        with self.cond:
            while True:
                live = [c for c in self.calls if c.active]
                if not live:
                    self.cond.wait()
                    continue
                now = time.monotonic()
                due = [c for c in live if self._due(c) <= now]
                if not due:
                    self.cond.wait(min(self._due(c) for c in live) - now)
                    continue
                for call in due:
                    if call.on_main:
                        _stop_process(call)
                    _raise_in(call)
                    call.deadline = now + REPEAT  # again in a second if it is swallowed
                self.cond.wait(REPEAT)


_WATCHDOG = _Watchdog()


def _stop_process(call: _Call) -> None:
    """The first last resort: the main thread did not come back to the interpreter in time."""
    try:
        text = call.describe(sys._current_frames().get(call.thread.ident))
    except Exception:  # noqa: BLE001 - the line is best effort
        text = "a plug-in call"
    _hard_exit(f"scare: error: {text} within {call.seconds:g} s ({call.source}) and could not be stopped (compiled "
               "code that does not return to the interpreter?): scare ended the process")


def _raise_in(call: _Call) -> None:
    if not call.active or call.thread.ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(call.thread.ident), ctypes.py_object(PluginTimeout))
