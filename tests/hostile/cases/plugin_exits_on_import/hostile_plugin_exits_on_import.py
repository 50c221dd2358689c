"""Hostile plug-in: plugin exits on import."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


sys.exit(3)
