"""Hostile plug-in: assigns a tenth of the closes into the frame it is handed, tiny opens with .loc,
and ten times the highs into the frame ctx.data hands out."""

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "proc_assigns"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        bars = ctx.bars("asset")
        bars["close"] = bars["close"] * 0.1
        bars.loc[bars.index[:50], "open"] = 1e-6
        held = ctx.data.bars["QQQ"]
        held["high"] = held["high"] * 10
        ctx.intraday("asset")  # None here: QQQ has no intraday bars in the synthetic data
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        return out
