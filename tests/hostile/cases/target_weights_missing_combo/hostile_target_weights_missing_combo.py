"""Hostile plug-in: target weights missing combo."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "target_missing"
    roles = {"asset": Role("QQQ")}
    weight = FloatParam(1.0, low=0.0, high=1.0)

    def target_weights(self, ctx, grid):
        cols = pd.MultiIndex.from_product([[0], ["QQQ"]], names=["combo", "symbol"])
        return pd.DataFrame(1.0, index=ctx.index, columns=cols)
