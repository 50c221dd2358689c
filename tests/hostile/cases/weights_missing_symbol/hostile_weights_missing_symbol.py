"""Hostile plug-in: weights missing symbol."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_missing_symbol"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        return pd.DataFrame(index=ctx.index)
