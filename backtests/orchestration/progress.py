"""What a command is doing, on stderr: the stages of a run or an audit, and a bar over combinations.

:class:`Stages` says each stage as it starts ("loading data", "look-ahead audit", "sweep",
"scoring", "writing"): on a terminal as one status line rewritten in place, with the seconds spent
in the stage ticking, and cleared when the command ends; elsewhere (a log, CI, a pipe) as one line
per stage, so that no stage of a cold run is silent. :meth:`Stages.note` prints a line that stays
above the status line. :class:`Progress` is the tqdm bar over combinations the
sweep shows on a terminal. ``enabled=False`` (``--no-progress``) silences both.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any


#: Seconds a stage runs before its line is printed when stderr is not a terminal.
QUIET = 1.5
#: The same for the stages in which bad input is found (reading and planning the study).
QUIET_PLANNING = 5.0


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Stages:
    """The stages of one command on stderr (see the module docstring).

    Parameters
    ----------
    enabled
        False: say nothing; None or True: say each stage.
    stream
        Where (default ``sys.stderr``).
    tick
        Seconds between refreshes of a terminal's status line (and checks of a stage's age elsewhere).
    quiet
        Seconds a stage runs before its line is printed when the stream is not a terminal.
    """

    def __init__(self, enabled: bool | None = None, stream: IO[str] | None = None, tick: float = 0.25,
                 quiet: float = QUIET) -> None:
        self.enabled = enabled is not False
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self._text = ""
        self._printed = True  # the current stage's line is out (or there is none)
        self._stage_quiet = quiet
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._tick, self._quiet = tick, quiet

    # ------------------------------------------------------------------ saying
    def say(self, text: str, quiet: float | None = None) -> None:
        """A stage starts: a status line on a terminal, one line elsewhere once it lasts ``quiet``
        seconds (default the instance's; the stages where bad input fails, reading and planning the
        study, take a longer one, so that a mistake in a study stays the only line)."""
        if not self.enabled:
            return
        with self._lock:
            self._text, self._since, self._printed = text, time.monotonic(), False
            self._stage_quiet = self._quiet if quiet is None else quiet
            if self.tty:
                self._draw()
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._refresh, daemon=True, name="scare-status")
            self._ticker.start()

    def note(self, text: str) -> None:
        """A line that stays (on a terminal above the status line)."""
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                self._write("\r\x1b[K")
            self._write(f"scare: {text}\n")
            if self.tty and self._text:
                self._draw()

    def pause(self) -> None:
        """On a terminal, clear the status line (before a progress bar takes the terminal's last
        line); elsewhere nothing changes."""
        with self._lock:
            if self.enabled and self.tty and self._text:
                self._write("\r\x1b[K")
                self._text = ""

    def close(self) -> None:
        """End: the status line is cleared; nothing is left of it."""
        self._stop.set()
        self.pause()

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        spent = time.monotonic() - self._since
        line = f"scare: {self._text}" + (f" {spent:.0f} s" if spent >= 1 else "")
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self._write("\r\x1b[K" + line[:width])

    def _refresh(self) -> None:
        while not self._stop.wait(self._tick):
            with self._lock:
                if not self._text or not self.enabled:
                    continue
                if self.tty:
                    self._draw()
                elif not self._printed and time.monotonic() - self._since >= self._stage_quiet:
                    self._write(f"scare: {self._text}\n")
                    self._printed = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe: progress is not worth an error
            self.enabled = False


class Progress:
    """Context manager wrapping ``tqdm``; ``enabled=None`` shows it only on a terminal."""

    def __init__(self, total: int, enabled: bool | None = None, desc: str = "") -> None:
        self.enabled = _isatty(sys.stderr) if enabled is None else enabled
        self._bar = None
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="combo", file=sys.stderr, leave=False,
                             dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def set_postfix(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.close()


# ----------------------------------------------------------------------------- what the stages say
def count(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 strategy"``, ``"6 strategies"``, ``"1,834 runs"``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def say_loading(stages: Stages, plan: Any) -> None:
    """The loading stage: which data, for how many symbols."""
    data = plan.config.data
    what = {"synthetic": "the SYNTHETIC replay", "cache": "the data cache", "files": "data files"}.get(
        data.source, data.source)
    stages.say(f"loading data: {what} ...")
