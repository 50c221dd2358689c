"""Hostile plug-in: weights strings."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_strings"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        w = ctx.empty_weights().astype(object)
        w.iloc[:] = 'long'
        return w
