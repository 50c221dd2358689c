"""Hostile plug-in: finds scare's own copy of the data through the garbage collector, unlocks its
arrays and writes into them. The read-only views cannot stop that; re-hashing the data afterwards
catches it (the run is refused, nothing is written)."""

import gc

import pandas as pd

from backtests.data.market_data import MarketData
from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "weights_unlocks_and_writes_the_data"
    roles = {"asset": Role("SPY")}

    def weights(self, ctx, **params):
        for obj in gc.get_objects():
            if isinstance(obj, MarketData) and not isinstance(obj.bars, dict):
                continue  # a read-only view
            if isinstance(obj, MarketData) and "SPY" in obj.bars:
                frame: pd.DataFrame = obj.bars["SPY"]
                for block in frame._mgr.blocks:
                    arr = getattr(block.values, "_ndarray", block.values)
                    arr.flags.writeable = True
                    if arr.dtype.kind == "f":
                        arr[:] = 1.0
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        return out
