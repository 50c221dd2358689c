"""Hostile plug-in: raises a BaseException that is not an Exception while it is imported."""

from backtests.strategy import Role, Strategy

READY = True

if READY:
    # a BaseException, like KeyboardInterrupt and SystemExit, but neither
    raise GeneratorExit("at import")


class S(Strategy):
    name = "plugin_raises_base_exception_on_import"
    roles = {"asset": Role("QQQ")}
