"""Hostile plug-in: weights unknown role."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_unknown_role"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        return ctx.empty_weights() * 0 + ctx.close('hedge').iloc[0]
