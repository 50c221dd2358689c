"""Hostile plug-in: os._exit(0) in weights()."""

import os

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "proc_os_exit"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        os._exit(0)
