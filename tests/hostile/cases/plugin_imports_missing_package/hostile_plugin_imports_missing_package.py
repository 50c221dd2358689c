"""Hostile plug-in: plugin imports missing package."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


import definitely_not_installed_pkg  # noqa: F401
