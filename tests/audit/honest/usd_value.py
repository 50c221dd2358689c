"""Honest: BBB valued in USD with the rate known at each Seoul close; long above its 10-day mean."""
from backtests.strategy import Role, Strategy


class Plugin(Strategy):
    name = "honest_usd_value"
    roles = {"asset": Role("BBB")}

    def weights(self, ctx):
        usd = ctx.close("asset", usd=True)
        return (usd > usd.rolling(10).mean()).astype(float).to_frame(ctx.symbol("asset"))
