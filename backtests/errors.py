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
