"""Honest: long when the close is above its trailing mean (past closes only)."""
from backtests.strategy import IntParam, Role, Strategy


class Plugin(Strategy):
    name = "honest_momentum"
    roles = {"asset": Role("AAA")}
    window = IntParam(20, low=2, high=100)

    def weights(self, ctx, window):
        close = ctx.close("asset")
        return (close > close.rolling(window).mean()).astype(float).to_frame(ctx.symbol("asset"))
