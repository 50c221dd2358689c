"""SIGTERM during a run behaves like Ctrl-C: staging removed, finished chunks kept, exit 130."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` inside the block (main thread only; restored after).

    The run folder and the checkpoints already treat ``KeyboardInterrupt`` as the user stopping the
    run (:func:`backtests.sweep.chunks.checkpointing`), so a ``kill`` is handled the same way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
