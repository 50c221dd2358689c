"""Hostile plug-in: weights divides by zero."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_divides_by_zero"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        w = ctx.empty_weights()
        return w + 1 / 0
