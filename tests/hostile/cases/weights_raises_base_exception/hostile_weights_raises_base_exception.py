"""Hostile plug-in: raises its own BaseException subclass (not an Exception) from weights()."""

from backtests.strategy import Role, Strategy


class Halt(BaseException):
    """Not an Exception: `except Exception` does not see it."""


class S(Strategy):
    name = "weights_raises_base_exception"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        raise Halt("stop everything")
