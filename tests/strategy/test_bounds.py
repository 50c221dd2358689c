"""The time bound of one plug-in call (backtests.strategy.bounds) and the guard's handling of what a
plug-in does to the process (backtests.strategy.guard). The last resorts, which end the process, are
tested in real processes (tests/hostile/processes/)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from backtests.errors import StrategyError
from backtests.strategy.bounds import PluginTimeout, bounded, call_limit, current_limit, renew
from backtests.strategy.guard import plugin_call


def _describe(frame):
    return "test"


def test_a_pure_python_loop_on_the_main_thread_is_stopped():
    t0 = time.monotonic()
    with call_limit(0.3), pytest.raises(PluginTimeout):
        with bounded(_describe):
            while True:
                pass
    assert time.monotonic() - t0 < 5


def test_a_call_blocked_on_a_socket_is_stopped():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with server, call_limit(0.3), pytest.raises(PluginTimeout):
        with bounded(_describe):
            server.accept()


def test_a_swallowed_stop_comes_again():
    seen = 0
    with call_limit(0.2), pytest.raises(PluginTimeout):
        with bounded(_describe):
            try:
                while True:
                    pass
            except PluginTimeout:
                seen += 1
            while True:
                pass
    assert seen == 1


def test_off_the_main_thread_an_asynchronous_exception_stops_a_loop():
    caught: list[BaseException] = []

    def work():
        try:
            with call_limit(0.3), bounded(_describe):
                while True:
                    pass
        except BaseException as exc:  # noqa: BLE001 - what stopped it is the point
            caught.append(exc)

    th = threading.Thread(target=work)
    th.start()
    th.join(10)
    assert not th.is_alive() and caught and isinstance(caught[0], PluginTimeout)


def test_the_alarm_and_its_handler_are_put_back():
    before = signal.getsignal(signal.SIGALRM)
    with call_limit(5), bounded(_describe):
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_renew_restarts_the_deadline_for_the_next_weights_call():
    with call_limit(0.4), bounded(_describe):
        for _ in range(4):
            time.sleep(0.2)
            renew()  # 0.8 s in all, never 0.4 s without a renewal


def test_an_inner_limit_tightens_and_never_loosens():
    with call_limit(10, "limits.plugin_call_seconds"):
        with call_limit(2, "the audit's budget"):
            assert current_limit() == (2, "the audit's budget")
        with call_limit(60, "other"):
            assert current_limit() == (10, "limits.plugin_call_seconds")
        with call_limit(None):
            assert current_limit() == (10, "limits.plugin_call_seconds")
    assert current_limit() == (None, "")


def test_the_guard_names_the_plugin_and_the_line_it_was_stopped_on():
    with call_limit(0.3), pytest.raises(StrategyError, match=r"strategy 'x' did not return from weights\(\) "
                                                             r"within 0.3 s \(limits.plugin_call_seconds\)") as err:
        with plugin_call("strategy 'x'", "weights()", [__file__]):
            while True:
                pass
    assert err.value.where.startswith("tests/strategy/test_bounds.py:")


def test_os_exit_is_refused_inside_plugin_code_and_is_the_real_one_outside():
    real = os._exit
    with pytest.raises(StrategyError, match=r"called os._exit\(3\) in weights\(\)"):
        with plugin_call("strategy 'x'", "weights()", [__file__]):
            os._exit(3)
    assert os._exit is real


@pytest.mark.parametrize("exc", [GeneratorExit("g"), type("Halt", (BaseException,), {})("h"),
                                 type("FakeCtrlC", (KeyboardInterrupt,), {})()])
def test_any_base_exception_but_ctrl_c_is_the_plugins_error(exc):
    with pytest.raises(StrategyError, match=r"failed in weights\(\): \w+ \(a BaseException"):
        with plugin_call("strategy 'x'", "weights()", [__file__]):
            raise exc


def test_ctrl_c_is_left_alone():
    with pytest.raises(KeyboardInterrupt):
        with plugin_call("strategy 'x'", "weights()", [__file__]):
            raise KeyboardInterrupt


def test_a_bound_that_fires_while_it_is_armed_leaves_nothing_behind():
    """A bound shorter than arming it (a budget of 1e-6 s) may fire before the block starts: the
    handler, the timer and the call in progress must still be taken down, or every later call of
    the process was stopped with that bound (found by merging #21 B's one-microsecond budget)."""
    before = signal.getsignal(signal.SIGALRM)
    for _ in range(20):
        try:
            with call_limit(1e-9), bounded(_describe):
                time.sleep(0.01)
        except PluginTimeout:
            pass
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    with call_limit(5), bounded(_describe):
        renew()
        time.sleep(0.05)  # not stopped by a bound left from above
