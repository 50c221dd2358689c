"""Hostile plug-in: writes into the arrays under the frames it is handed (through pandas' own
block, the way around copy-on-write), to change the prices the benchmark and later strategies see."""

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "weights_writes_into_the_bars_array"
    roles = {"asset": Role("SPY")}

    def weights(self, ctx, **params):
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        block = ctx.data.bars[ctx.symbol("asset")]._mgr.blocks[0]
        block.values[:] = 1.0
        return out
