"""Names that come from configs and files: symbols and labels, checked in one place.

* A **symbol** (``MU``, ``^KS11``, ``000660.KS``, ``KRW=X``, ``BTC-USD``) is 1..64 characters of
  letters, digits and ``^ = . _ -``, starting with a letter, a digit or ``^``, and never holding
  ``..``. Symbols name cache folders (``<source>/<symbol>/``), so nothing else may pass: no ``/``,
  no NUL byte, no ``../``.
* A **label** (a strategy's label or plug-in name, a window id, kind, label or shock, an events
  file's id prefix, a parameter's text value) is free text of at most :data:`MAX_LABEL`
  characters with no control or format characters: no NUL, no newline, no ESC (so no ANSI/OSC
  escape sequence can reach a terminal or a tearsheet), no bidi override. A **text** field
  (a description) may also hold newlines and tabs.

Every message printed by the CLI additionally escapes control characters
(:func:`backtests.errors.one_line`), whatever their origin.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from backtests.errors import UNSAFE_CATEGORIES

SYMBOL_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9^=._\-]{0,63}$")
MAX_LABEL = 200
MAX_TEXT = 10_000
SYMBOL_RULE = "letters, digits and ^ = . _ - (at most 64, no '..', no '/')"


def symbol_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid symbol (``None`` when it is)."""
    if not isinstance(value, str) or "\x00" in value or not SYMBOL_RE.match(value) or ".." in value:
        return f"invalid symbol: use {SYMBOL_RULE}"
    return None


def _bad_char(value: str, allowed: str = "") -> str | None:
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in UNSAFE_CATEGORIES:
            return f"U+{ord(ch):04X}" + (f" ({unicodedata.name(ch)})" if unicodedata.name(ch, "") else "")
    return None


def label_problem(value: Any, limit: int = MAX_LABEL, allowed: str = "") -> str | None:
    """Why ``value`` is not a printable label (``None`` when it is)."""
    if not isinstance(value, str):
        return None
    if len(value) > limit:
        return f"longer than {limit:,} characters"
    bad = _bad_char(value, allowed)
    if bad:
        return f"holds the control character {bad}; use printable characters only"
    return None


def check_symbol(value: str) -> str:
    """``value`` if it is a valid symbol; a ``ValueError`` (pydantic turns it into the field's error)."""
    problem = symbol_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_label(value: str) -> str:
    """``value`` if it is a printable label; a ``ValueError`` otherwise."""
    problem = label_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_text(value: str) -> str:
    """``value`` if it is printable text (newlines and tabs allowed); a ``ValueError`` otherwise."""
    problem = label_problem(value, MAX_TEXT, allowed="\n\t\r")
    if problem:
        raise ValueError(problem)
    return value
