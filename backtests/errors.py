"""Errors that mean "the user gave us bad input".

Every error raised for bad input (config, data, arguments) derives from :class:`ScareInputError`.
The CLI turns these into one line on stderr and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class ScareInputError(Exception):
    """Bad input from the user: printed as one line, exit code 2.

    Parameters
    ----------
    message
        What is wrong, phrased for the user.
    where
        The file, field path or symbol the problem is in (prefixed to the message).
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        self.bare_message = message
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(ScareInputError):
    """A study config is malformed or inconsistent."""


class DataError(ScareInputError):
    """Market data is missing, malformed or fails a hard quality check."""


class MissingData(DataError):
    """Data a study needs is not in the cache: offline (``--offline``, ``scare validate``) nothing was
    fetched, so a run with the network may still find it; online the providers could not fill it."""


class StrategyError(ScareInputError):
    """A strategy cannot be found, loaded or given the parameters asked for."""


class WindowError(ScareInputError):
    """A shock window is unknown or has no sessions in the data."""


class Interrupted(ScareInputError):
    """Ctrl-C during a run: finished chunks are kept for ``--resume`` (exit 130)."""


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def _unsafe(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch) in UNSAFE_CATEGORIES


#: Unicode categories never written raw to a terminal: controls (NUL, ESC of ANSI/OSC sequences,
#: DEL, C1), format characters (bidi overrides, zero-width), line/paragraph separators, surrogates.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def one_line(text: str) -> str:
    """``text`` as one printable line: runs of whitespace (newlines included) become one space and
    every other control or format character is escaped (``\\x1b``), so a label holding an ANSI or
    OSC escape sequence, or a plug-in's multi-line message, cannot reach the terminal raw.

    The one place the CLI's messages pass through before they are printed.
    """
    return printable(" ".join(str(text).split()))


def printable(text: str) -> str:
    """``text`` with every control or format character escaped (``\x1b``, ``\n``), spacing kept: for
    lines of a listing that show names from files (a cache path holding an escape sequence)."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)
