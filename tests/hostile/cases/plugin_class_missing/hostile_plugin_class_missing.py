"""Hostile plug-in: plugin class missing."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


X = 1
