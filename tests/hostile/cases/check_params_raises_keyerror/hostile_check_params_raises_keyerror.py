"""Hostile plug-in: check params raises keyerror."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "check_keyerror"
    roles = {"asset": Role("QQQ")}
    weight = FloatParam(1.0, low=0.0, high=1.0)

    @classmethod
    def check_params(cls, combo):
        return combo["wieght"] > 0

    def weights(self, ctx, weight):
        return ctx.empty_weights() + weight
