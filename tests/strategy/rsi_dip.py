"""An RSI plug-in written from docs/strategies.md alone ("Writing a plug-in"), kept as data for
tests/strategy/test_params.py: an int ``window`` and a float ``level`` in one grid, used without
casts, one combination at a time (``RsiDip``) and vectorized (``RsiDipFast``)."""

import pandas as pd

from backtests.strategy import FloatParam, IntParam, Role, Strategy, StrategyContext


def rsi(close: pd.Series, window: int) -> pd.Series:
    """Cutler's RSI: mean gain and loss over `window` bars (NaN while warming up)."""
    delta = close.diff()
    gain = delta.clip(lower=0).rolling(window).mean()
    loss = (-delta).clip(lower=0).rolling(window).mean()
    return 100 - 100 / (1 + gain / loss)


class RsiDip(Strategy):
    """Long while the RSI is below `level`, flat otherwise."""

    name = "rsi_dip"
    roles = {"asset": Role("QQQ", doc="What to trade.")}
    window = IntParam(14, low=2, high=100, unit="bars", doc="RSI lookback.")
    level = FloatParam(30.0, low=1.0, high=99.0, unit="RSI points", doc="Buy below this RSI.")

    def weights(self, ctx: StrategyContext, window: int, level: float) -> pd.DataFrame:
        long = (rsi(ctx.close("asset"), window) < level).astype(float)
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = ctx.known_at(long)
        return out


class RsiDipFast(RsiDip):
    """The same decisions, every combination in one call."""

    name = "rsi_dip_fast"

    def target_weights(self, ctx: StrategyContext, grid: pd.DataFrame) -> pd.DataFrame:
        close, sym = ctx.close("asset"), ctx.symbol("asset")
        cols = {}
        for window, rows in grid.groupby("window"):      # window: an int
            value = ctx.known_at(rsi(close, window))
            for combo, level in rows["level"].items():   # level: a float
                cols[(combo, sym)] = (value < level).astype(float)
        out = pd.DataFrame(cols, index=ctx.index)
        out.columns = pd.MultiIndex.from_tuples(list(out.columns), names=["combo", "symbol"])
        return out


class RsiDipFiltered(RsiDip):
    """RsiDip only while SPY closes below its `window`-bar mean: a read-only role (traded=False)."""

    name = "rsi_dip_filtered"
    roles = {"asset": Role("QQQ", doc="What to trade."),
             "market": Role("SPY", doc="Read only: the regime filter.", traded=False)}

    def weights(self, ctx: StrategyContext, window: int, level: float) -> pd.DataFrame:
        spy = ctx.close("market")
        falling = ctx.known_at((spy < spy.rolling(window).mean()).astype(float))
        out = super().weights(ctx, window, level)           # one column: QQQ (SPY gets none)
        out[ctx.symbol("asset")] *= falling
        return out
