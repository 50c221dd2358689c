"""Hostile plug-in: os._exit(0) in weights() (it ended the run with exit 0, no results and a stale lock)."""

import os

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "weights_os_exit"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        # ends the process without cleanup, unless scare stops it
        os._exit(0)
