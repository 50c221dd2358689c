"""Hostile plug-in: weights returns series."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_returns_series"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        return ctx.close('asset') * 0.0 + 1.0
