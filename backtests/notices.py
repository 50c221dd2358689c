"""Named warnings ("notices"): every cap, fallback, clipped order, trimmed window or dropped row a
run makes is recorded as one of these, never silently.

A notice is plain data (picklable and JSON-safe as :meth:`Notice.record`), so it travels from any
stage (data, engine, scoring) through chunk checkpoints to the output stage, which lists them all
in ``metrics.json`` ``warnings`` (sorted, so the document stays byte-identical) and on the
tearsheet. ``code`` is a stable snake_case name a user can search the docs for
(docs/outputs.md lists them); ``message`` says what happened in words; the optional fields name
where.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

from backtests.errors import one_line


@dataclass(frozen=True, order=True)
class Notice:
    """One named warning.

    Attributes
    ----------
    code
        Stable snake_case name, e.g. ``"clipped_order"``, ``"open_fill_fallback"``, ``"data_gap"``.
    message
        One line for a person: what happened and what it means for the numbers.
    strategy, window, symbol
        Where (strategy label, window id, symbol), when it applies.
    count
        How many occurrences this notice stands for (e.g. clipped fills across a sweep).
    """

    code: str
    message: str
    strategy: str | None = None
    window: str | None = None
    symbol: str | None = None
    count: int = 1

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "Notice":
        return cls(**{k: rec.get(k) for k in ("code", "message", "strategy", "window", "symbol")},
                   count=int(rec.get("count") or 1))


def data_notice(text: str) -> Notice:
    """A free-text data warning (``MarketData.warnings``) as a notice with code ``data``."""
    return Notice("data", text)


def merge(notices: list[Notice]) -> list[dict[str, Any]]:
    """Deduplicate (same code, message and place: counts add up) and sort; JSON-ready records."""
    acc: dict[tuple, int] = {}
    for n in notices:
        key = (n.code, n.message, n.strategy, n.window, n.symbol)
        acc[key] = acc.get(key, 0) + int(n.count)
    out = [Notice(*k, count=c) for k, c in acc.items()]
    return [n.record() for n in sorted(out, key=lambda n: (n.code, n.strategy or "", n.window or "",
                                                            n.symbol or "", n.message))]


def note(message: str) -> None:
    """One line on stderr about what scare did on the user's behalf (not an error, not a warning of
    the results): a stale staging folder removed, checkpoints recomputed."""
    print(f"scare: {one_line(message)}", file=sys.stderr)  # control characters escaped
