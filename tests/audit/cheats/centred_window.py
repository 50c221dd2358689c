"""Cheat: a centred rolling mean (half the window is in the future)."""
from backtests.strategy import IntParam, Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_centred_window"
    roles = {"asset": Role("AAA")}
    window = IntParam(9, low=3, high=50)

    def weights(self, ctx, window):
        close = ctx.close("asset")
        mean = close.rolling(window, center=True, min_periods=1).mean()
        return (close < mean).astype(float).to_frame(ctx.symbol("asset"))
