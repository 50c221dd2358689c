"""Cheat: trades BBB on the NEXT USD/KRW fixing (the FX series, read straight from the data)."""
from backtests.strategy import Role, Strategy

EXPECTED_CHANNEL = "fx:KRW=X"


class Plugin(Strategy):
    name = "cheat_next_fx"
    roles = {"asset": Role("BBB")}

    def weights(self, ctx):
        fx = ctx.data.series("KRW=X", "close")
        krw_weakens = (fx.shift(-1) > fx).astype(float)
        return ctx.known_at(krw_weakens).fillna(0.0).to_frame(ctx.symbol("asset"))
