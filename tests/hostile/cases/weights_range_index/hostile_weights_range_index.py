"""Hostile plug-in: weights range index."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_range_index"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        return (ctx.empty_weights() + 1.0).reset_index(drop=True)
