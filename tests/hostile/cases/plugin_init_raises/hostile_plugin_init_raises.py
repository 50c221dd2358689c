"""Hostile plug-in: plugin init raises."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


class S(Strategy):
    name = "init_raises"
    roles = {"asset": Role("QQQ")}

    def __init__(self, roles=None):
        super().__init__(roles)
        raise ValueError("needs an API key")
