"""Cheat: long when tomorrow's close is higher (``close.shift(-1)``)."""
from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_shift_close"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        close = ctx.close("asset")
        return (close.shift(-1) > close).astype(float).to_frame(ctx.symbol("asset"))
