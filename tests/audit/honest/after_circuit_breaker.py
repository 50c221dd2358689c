"""Honest: long BBB for 3 days from the first decision stamp at which a circuit breaker is known
(``ctx.known_events``: the point-in-time view of the catalogue)."""
import pandas as pd

from backtests.strategy import Role, Strategy


class Plugin(Strategy):
    name = "honest_after_circuit_breaker"
    roles = {"asset": Role("BBB")}

    def weights(self, ctx):
        known = ctx.known_events("krx_circuit_breaker")
        since = pd.Series(ctx.index, index=ctx.index) - known["known_from_utc"]
        live = since.notna() & (since <= pd.Timedelta(days=3))
        return live.astype(float).to_frame(ctx.symbol("asset"))
