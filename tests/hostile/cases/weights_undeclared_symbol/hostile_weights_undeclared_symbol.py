"""Hostile plug-in: weights undeclared symbol."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_undeclared_symbol"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        w = ctx.empty_weights() + 1.0
        w['SPY'] = -1.0
        return w
