"""Honest: buys BBB at the end of the first 5-minute bar that trades 0.3% below the previous close
(a decision stamped at that bar's end), flat at the session's close."""
import numpy as np
import pandas as pd

from backtests.strategy import Role, Strategy


class Plugin(Strategy):
    name = "honest_intraday_dip"
    roles = {"asset": Role("BBB")}

    def weights(self, ctx):
        sym = ctx.symbol("asset")
        out = ctx.empty_weights(columns=[sym])
        intra = ctx.intraday("asset")
        if intra is None or not len(intra):
            return out
        prev = ctx.known_at(ctx.close("asset"), pd.DatetimeIndex(intra["open_time"])).to_numpy()
        hit = intra.index[intra["low"].to_numpy() < prev * 0.997]
        extra = pd.DataFrame(np.nan, index=hit.difference(out.index), columns=[sym])
        out = pd.concat([out, extra]).sort_index()
        for day in pd.DatetimeIndex(hit).normalize().unique():
            first = hit[hit.normalize() == day][0]
            out.loc[first, sym] = 1.0
        return out
