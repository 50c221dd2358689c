"""Hostile plug-in: weights years before data."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_years_before_data"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        idx = pd.date_range('2019-01-02', periods=3, freq='D', tz='UTC')
        return pd.DataFrame({'QQQ': 1.0}, index=idx)
