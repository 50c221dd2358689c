"""Hostile plug-in: writes into the decision clock's array (the engine reads that clock afterwards)."""

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "weights_writes_into_the_clock"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        ctx.index.asi8[0] = 0
        return out
