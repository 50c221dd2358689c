"""Hostile plug-in: target weights array."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "target_array"
    roles = {"asset": Role("QQQ")}

    def target_weights(self, ctx, grid):
        return np.ones((len(ctx.index), len(grid)))
