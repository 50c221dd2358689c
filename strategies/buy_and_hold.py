"""Buy and hold one symbol: the smallest complete strategy plug-in, and a baseline.

Thesis: none; it is the benchmark a shock trade has to beat. It holds ``weight`` of the portfolio
in the ``asset`` role from the first bar of each window to its end.

Parameters
----------
weight : float, fraction of portfolio value (-1..1; negative = short).

Where it fails: it is fully exposed to the shock it is supposed to be compared against.
"""

from __future__ import annotations

import pandas as pd

from backtests.strategy import FloatParam, Role, Strategy, StrategyContext


class BuyAndHold(Strategy):
    """Hold a fixed weight in one symbol."""

    name = "buy_and_hold"
    episode_entry = "state"  # holds its weight in every window from the first decision
    roles = {"asset": Role("SPY", doc="The symbol to hold.")}
    windows = ("ai_shock",)

    weight = FloatParam(1.0, low=-1.0, high=1.0, unit="fraction of value", doc="Target weight held.")

    def weights(self, ctx: StrategyContext, weight: float) -> pd.DataFrame:
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = weight
        return out
