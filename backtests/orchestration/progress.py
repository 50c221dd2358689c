"""A progress bar over parameter combinations (tqdm on stderr), silent when disabled."""

from __future__ import annotations

import sys
from types import TracebackType


class Progress:
    """Context manager wrapping ``tqdm``; ``enabled=None`` shows it only on a terminal."""

    def __init__(self, total: int, enabled: bool | None = None, desc: str = "") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
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
