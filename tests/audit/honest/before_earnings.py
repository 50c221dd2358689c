"""Honest: long AAA over the 5 days before each scheduled earnings release (dates are public in
advance), and over the 2 days after the release in the direction of the reaction, once it is known."""
import pandas as pd

from backtests.strategy import Role, Strategy


class Plugin(Strategy):
    name = "honest_before_earnings"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        out = ctx.empty_weights()
        close = ctx.close("asset")
        for t in ctx.events("aaa_earnings")["time_utc"]:
            out.loc[(ctx.index >= t - pd.Timedelta(days=5)) & (ctx.index < t), ctx.symbol("asset")] = 1.0
            after = close[close.index > t]
            before = close[close.index < t]
            if len(after) and len(before):
                react = after.index[0]
                side = 1.0 if after.iloc[0] > before.iloc[-1] else -1.0
                out.loc[(ctx.index >= react) & (ctx.index < react + pd.Timedelta(days=2)), ctx.symbol("asset")] = side
        return out
