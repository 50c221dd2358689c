"""Cheat: at the close before a session with intraday bars, goes short when that session's
intraday low will be 0.5% below the close (the intraday bars of the NEXT session)."""
import pandas as pd

from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "intraday:BBB"


class Plugin(Strategy):
    name = "cheat_intraday_low"
    roles = {"asset": Role("BBB")}

    def weights(self, ctx):
        out = ctx.empty_weights()
        intra = ctx.intraday("asset")
        close = ctx.close("asset")
        if intra is None or not len(intra):
            return out
        days = intra.groupby(intra.index.normalize())["low"].min()
        for day, low in days.items():
            before = close[close.index < day]
            if len(before) and low < before.iloc[-1] * 0.995:
                out.loc[before.index[-1], ctx.symbol("asset")] = -1.0
        return out
