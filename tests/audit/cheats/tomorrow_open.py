"""Cheat: long at today's close when tomorrow OPENS above it (the gap is not known yet)."""
from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_tomorrow_open"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        close, opn = ctx.close("asset"), ctx.open("asset")
        return (opn.shift(-1) > close).astype(float).to_frame(ctx.symbol("asset"))
