"""backtesting.py's side of the comparison: the same MA-cross rule as ``strategies.ma_cross``.

A module of its own (not a local class) so that ``Backtest.optimize``'s process pool can pickle it.
Importing it needs ``backtesting`` (``pip install backtesting==0.6.6``).
"""

from __future__ import annotations

import pandas as pd
from backtesting import Strategy


def sma(values, n: int) -> pd.Series:
    """Simple moving average, the arithmetic of backtesting.py's own ``SmaCross`` example."""
    return pd.Series(values).rolling(n).mean()


class BtMACross(Strategy):
    """Long (all equity) while SMA(fast) > SMA(slow) of the close, else flat."""

    fast = 10
    slow = 30

    def init(self):
        self.sma_fast = self.I(sma, self.data.Close, self.fast)
        self.sma_slow = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if self.sma_fast[-1] > self.sma_slow[-1]:
            if not self.position:
                self.buy()
        elif self.position:
            self.position.close()
