"""Hostile plug-in: weights after data."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "weights_after_data"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        w = ctx.empty_weights()
        late = pd.DataFrame({'QQQ': 1.0}, index=pd.DatetimeIndex(['2031-01-02'], tz='UTC'))
        return pd.concat([w, late])
