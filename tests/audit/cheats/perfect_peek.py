"""Cheat: long before every up day, short before every down day (the next return, perfectly)."""
import numpy as np

from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_perfect_peek"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        close = ctx.close("asset")
        nxt = close.pct_change().shift(-1)
        return np.sign(nxt).fillna(0.0).to_frame(ctx.symbol("asset"))
