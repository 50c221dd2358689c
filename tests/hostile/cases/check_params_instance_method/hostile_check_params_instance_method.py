"""Hostile plug-in: check params instance method."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    """check_params written as a plain method: accepted, and its ValueError is the message."""

    name = "inst_check"
    roles = {"asset": Role("QQQ")}
    weight = FloatParam(1.0, low=0.0, high=1.0)

    def check_params(self, combo):
        if combo["weight"] > 0.5 and self.symbols["asset"] == "QQQ":
            raise ValueError("QQQ is capped at half the portfolio")

    def weights(self, ctx, weight):
        return ctx.empty_weights() + weight
