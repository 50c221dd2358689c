"""Hostile plug-in: a KeyboardInterrupt subclass is its own error, not the user's Ctrl-C (exit 2, not 130)."""

from backtests.strategy import Role, Strategy


class FakeCtrlC(KeyboardInterrupt):
    pass


class S(Strategy):
    name = "weights_raises_keyboard_interrupt_subclass"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        raise FakeCtrlC()
