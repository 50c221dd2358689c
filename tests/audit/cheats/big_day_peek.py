"""Cheat, sparse: an honest 5-day momentum, except that it peeks at the next close on days that move
more than 4% (three days in a year)."""
import numpy as np

from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_big_day_peek"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        close = ctx.close("asset")
        w = (close > close.shift(5)).astype(float)
        nxt = close.shift(-1) / close - 1.0
        w[nxt.abs() > 0.04] = np.sign(nxt[nxt.abs() > 0.04])
        return w.to_frame(ctx.symbol("asset"))
