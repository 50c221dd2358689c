"""Hostile plug-in: target weights flat columns."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "target_flat"
    roles = {"asset": Role("QQQ")}

    def target_weights(self, ctx, grid):
        return pd.DataFrame(1.0, index=ctx.index, columns=["QQQ"])
