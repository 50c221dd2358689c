"""Cheat: goes short 3 days before every (unscheduled) KRX circuit breaker, read from the catalogue."""
import pandas as pd

from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "events"


class Plugin(Strategy):
    name = "cheat_early_circuit_breaker"
    roles = {"asset": Role("BBB")}

    def weights(self, ctx):
        out = ctx.empty_weights()
        for t in ctx.events("krx_circuit_breaker")["time_utc"]:
            inside = (ctx.index >= t - pd.Timedelta(days=3)) & (ctx.index < t + pd.Timedelta(days=2))
            out.loc[inside, ctx.symbol("asset")] = -1.0
        return out
