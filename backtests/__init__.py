"""scare: backtest AI scare trades over market-shock windows.

Public API (imported lazily so ``import backtests`` stays cheap)::

    from backtests import load_config, run_study, MarketData, Strategy
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


_LAZY = {
    "load_config": "backtests.config",
    "StudyConfig": "backtests.config",
    "run_study": "backtests.orchestration.runner",
    "MarketData": "backtests.data.market_data",
    "SymbolInfo": "backtests.data.market_data",
    "Strategy": "backtests.strategy",
    "StrategyContext": "backtests.strategy",
    "Role": "backtests.strategy",
    "IntParam": "backtests.strategy",
    "FloatParam": "backtests.strategy",
    "BoolParam": "backtests.strategy",
    "ChoiceParam": "backtests.strategy",
    "assert_no_lookahead": "backtests.audit",
    "ScareInputError": "backtests.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # one source: the version in pyproject.toml, as installed
        from importlib.metadata import version

        return version("scare")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'backtests' has no attribute {name!r}")
