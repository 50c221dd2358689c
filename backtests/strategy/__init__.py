"""Strategy plug-in API: subclass :class:`Strategy`, declare params and roles, return weights."""

from backtests.strategy.base import Role, Strategy
from backtests.strategy.context import StrategyContext
from backtests.strategy.params import (BoolParam, ChoiceParam, EventKindParam, FloatParam, IntParam, Param,
                                       expand_grid)

__all__ = [
    "BoolParam", "ChoiceParam", "EventKindParam", "FloatParam", "IntParam", "Param", "Role", "Strategy",
    "StrategyContext", "expand_grid",
]
