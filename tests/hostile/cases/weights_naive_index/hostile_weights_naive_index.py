"""Hostile plug-in: weights naive index."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_naive_index"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        w = ctx.empty_weights() + 1.0
        return w.tz_localize(None)
