"""Moving-average cross: long while the fast simple moving average is above the slow one.

Thesis: none specific to the AI shocks; it is the textbook trend filter, kept as common ground with
other backtesting libraries (backtesting.py's ``SmaCross`` example, vectorbt's MA-cross demos) so
the framework's speed and results can be compared with theirs (see ``docs/benchmarks.md``).

At each bar of the ``asset`` it computes the simple moving averages of the last ``fast`` and
``slow`` closes (the bar's own close included) and targets weight 1.0 when ``SMA(fast) >
SMA(slow)``, else 0.0 (flat, also while either average has fewer than its number of closes).
Decisions are stamped at the bar's close and fill at the next bar (engine rule).

Parameters
----------
fast : int, bars in the fast average.
slow : int, bars in the slow average.

``fast >= slow`` is allowed (a sweep over a full grid contains such combinations); it simply
inverts or disables the signal.

All combinations are computed at once: one rolling mean per distinct window length, then one
comparison per combination (no Python loop over combinations).

Where it fails: whipsaws in range-bound markets; after a gap-down shock it is late to both the
exit and the re-entry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.strategy import IntParam, Role, Strategy, StrategyContext


def sma_table(close: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(rows, len(lengths)) simple moving averages of ``close``; NaN before ``n`` closes exist.

    Uses pandas' rolling mean (the same arithmetic as backtesting.py's and most users' SMA), so
    comparisons of two averages agree bit for bit with theirs.
    """
    series = pd.Series(np.asarray(close, dtype="float64"))
    out = np.empty((len(series), len(lengths)))
    for k, n in enumerate(lengths):
        out[:, k] = series.rolling(int(n), min_periods=int(n)).mean().to_numpy()
    return out


class MACross(Strategy):
    """Long while the fast SMA is above the slow SMA, else flat."""

    name = "ma_cross"
    episode_entry = "state"  # the cross is re-read at every bar
    summary = "Long 1.0 while SMA(fast) > SMA(slow) of the asset's close, else flat."
    roles = {"asset": Role("SPY", doc="The symbol traded and whose closes drive the averages.")}

    fast = IntParam(10, low=1, high=5000, unit="bars", doc="Bars in the fast moving average.")
    slow = IntParam(30, low=1, high=5000, unit="bars", doc="Bars in the slow moving average.")

    def weights(self, ctx: StrategyContext, fast: int, slow: int) -> pd.DataFrame:
        grid = pd.DataFrame({"fast": [fast], "slow": [slow]})
        w = self.target_weights(ctx, grid)
        return pd.DataFrame(w.to_numpy(), index=w.index, columns=self.traded_symbols)

    def target_weights(self, ctx: StrategyContext, grid: pd.DataFrame) -> pd.DataFrame:
        sym = ctx.symbol("asset")
        close = ctx.close("asset")
        fast = grid["fast"].to_numpy(dtype=np.int64)
        slow = grid["slow"].to_numpy(dtype=np.int64)
        lengths, inv = np.unique(np.concatenate([fast, slow]), return_inverse=True)
        sma = sma_table(close.to_numpy(dtype="float64"), lengths)
        fi, si = inv[: len(fast)], inv[len(fast):]
        # NaN > x is False: flat until both averages exist.
        long = sma[:, fi] > sma[:, si]
        values = long.astype("float64")
        columns = pd.MultiIndex.from_arrays([grid.index, [sym] * len(grid)], names=["combo", "symbol"])
        out = pd.DataFrame(values, index=close.index, columns=columns)
        if not out.index.equals(ctx.index):
            # Another role's stamps in the decision clock: carry the last decision, never a later one.
            out = out.reindex(ctx.index, method="ffill").fillna(0.0)
        return out
