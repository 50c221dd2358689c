"""Hostile plug-in: plugin raises on import."""

import sys

import numpy as np
import pandas as pd

from backtests.strategy import Strategy
from backtests.strategy.base import Role
from backtests.strategy.params import FloatParam


raise RuntimeError("configuration server unreachable")
