"""Cheat: z-score of the close against the mean and std of the WHOLE sample (future included)."""
from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "bars:AAA"


class Plugin(Strategy):
    name = "cheat_full_sample_zscore"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        close = ctx.close("asset")
        z = (close - close.mean()) / close.std()
        return (z < -0.5).astype(float).to_frame(ctx.symbol("asset"))
