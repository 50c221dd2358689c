"""Hostile plug-in: takes posix._exit at import (before any weights call) and calls it later."""

from posix import _exit as leave

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "plugin_os_exit_captured_at_import"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        leave(0)
        return out
