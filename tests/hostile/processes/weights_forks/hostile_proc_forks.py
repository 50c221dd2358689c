"""Hostile plug-in: forks in weights(); both processes return weights."""

import os

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "proc_forks"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        out = ctx.empty_weights()
        os.fork()
        out[ctx.symbol("asset")] = 1.0
        return out
