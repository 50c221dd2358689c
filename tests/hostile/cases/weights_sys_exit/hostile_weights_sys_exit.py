"""Hostile plug-in: weights sys exit."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_sys_exit"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        sys.exit(0)
