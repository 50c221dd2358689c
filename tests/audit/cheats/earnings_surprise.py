"""Cheat: the earnings DATE is public in advance (fine), but this reads the release's ``surprise``
field a week before the release."""
import pandas as pd

from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "events"


class Plugin(Strategy):
    name = "cheat_earnings_surprise"
    roles = {"asset": Role("AAA")}

    def weights(self, ctx):
        out = ctx.empty_weights()
        for _, ev in ctx.events("aaa_earnings").iterrows():
            t = ev["time_utc"]
            before = (ctx.index >= t - pd.Timedelta(days=7)) & (ctx.index < t)
            if ev.get("surprise") is not None and float(ev["surprise"]) > 0:
                out.loc[before, ctx.symbol("asset")] = 1.0
        return out
