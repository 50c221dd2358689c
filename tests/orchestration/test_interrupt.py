"""SIGTERM during a run is Ctrl-C (backtests.orchestration.interrupt)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from backtests.orchestration.interrupt import terminate_as_interrupt


def test_sigterm_inside_the_block_is_a_keyboard_interrupt_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at the next bytecode
            pytest.fail("SIGTERM was not turned into KeyboardInterrupt")
    assert signal.getsignal(signal.SIGTERM) == before


def test_outside_the_main_thread_nothing_is_installed():
    seen = []

    def body():
        with terminate_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [before]
