"""Reusable look-ahead check for any strategy: data after ``t`` must not change decisions <= ``t``.

Use it in a plug-in's own tests::

    from backtests.strategy.lookahead import assert_no_lookahead
    assert_no_lookahead(MyStrategy(), data, {"hold": 3})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.strategy.base import Strategy
from backtests.strategy.context import StrategyContext
from backtests.strategy.params import expand_grid


class LookAheadError(AssertionError):
    """A decision at or before ``t`` changed when only data after ``t`` changed."""


def perturb_after(data: MarketData, t: pd.Timestamp, seed: int = 0, scale: float = 0.3) -> MarketData:
    """A copy of ``data`` whose every numeric value stamped after ``t`` is randomly rescaled.

    OHLC stay consistent (one factor per bar for prices, another for volumes and extra series).
    """
    rng = np.random.default_rng(seed)

    def shake(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        after = out.index > t
        n = int(after.sum())
        if n == 0:
            return out
        price_f = np.exp(rng.normal(0.0, scale, n))
        other_f = np.exp(rng.normal(0.0, 1.0, n))
        for col in out.columns:
            if col == "open_time":
                continue
            f = price_f if col in ("open", "high", "low", "close") else other_f
            out.loc[after, col] = out.loc[after, col].to_numpy(dtype="float64") * f
        return out

    return MarketData(
        bars={s: shake(f) for s, f in data.bars.items()}, info=dict(data.info), frequency=data.frequency,
        synthetic=data.synthetic, intraday={s: shake(f) for s, f in data.intraday.items()}, fx=dict(data.fx),
        warnings=list(data.warnings),
    )


def _weights(strategy: Strategy, data: MarketData, grid: pd.DataFrame, events: pd.DataFrame | None) -> pd.DataFrame:
    ctx = StrategyContext(data, strategy.symbols, events)
    return strategy.target_weights(ctx, grid).astype("float64")


def assert_no_lookahead(
    strategy: Strategy,
    data: MarketData,
    params: Mapping[str, Any] | pd.DataFrame | None = None,
    cuts: Sequence[pd.Timestamp] | None = None,
    n_cuts: int = 5,
    seed: int = 0,
    events: pd.DataFrame | None = None,
) -> list[pd.Timestamp]:
    """Check that weights at or before each cut ``t`` ignore everything after ``t``.

    For each cut, three changed worlds are compared with the original: data after ``t`` randomly
    rescaled, data after ``t`` removed, and unscheduled events after ``t`` removed (scheduled
    ones such as earnings dates were public in advance). Weights at
    stamps ``<= t`` must be identical (NaN equals NaN).

    Parameters
    ----------
    strategy
        An instance (its roles already resolved).
    data
        Market data holding the strategy's symbols.
    params
        One combination (mapping of scalars, lists or ranges) or a ready grid DataFrame.
    cuts
        Cut instants; default: ``n_cuts`` stamps drawn (seeded) from the middle 80% of the index.

    Returns
    -------
    list of pandas.Timestamp
        The cuts checked.

    Raises
    ------
    LookAheadError
        Naming the cut, the first stamp and column whose weight changed.
    """
    grid = params if isinstance(params, pd.DataFrame) else expand_grid(
        strategy.params, dict(params or {}), strategy.name)
    base = _weights(strategy, data, grid, events)
    ctx_index = StrategyContext(data, strategy.symbols, events).index
    if cuts is None:
        rng = np.random.default_rng(seed)
        lo, hi = int(len(ctx_index) * 0.1), max(int(len(ctx_index) * 0.9), 1)
        picks = np.sort(rng.choice(np.arange(lo, hi), size=min(n_cuts, max(hi - lo, 1)), replace=False))
        cuts = [ctx_index[i] for i in picks]
    for k, t in enumerate(cuts):
        t = pd.Timestamp(t)
        worlds = {
            "data after t rescaled": (perturb_after(data, t, seed=seed + k), events),
            "data after t removed": (data.truncate(t), events),
        }
        if events is not None and len(events):
            # Scheduled events (earnings dates) were public in advance and may be used early.
            sched = events["scheduled"].astype(bool) if "scheduled" in events else False
            keep = (pd.DatetimeIndex(events["time_utc"]) <= t) | sched
            worlds["unscheduled events after t removed"] = (data, events[keep])
        for label, (d, ev) in worlds.items():
            other = _weights(strategy, d, grid, ev)
            a = base.loc[:t]
            b = other.loc[:t].reindex(index=a.index, columns=a.columns)
            same = np.isclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-12, equal_nan=True)
            if not same.all():
                r, c = np.argwhere(~same)[0]
                raise LookAheadError(
                    f"{strategy.name}: with {label} (t={t.isoformat()}), the weight at "
                    f"{a.index[r].isoformat()} for {a.columns[c]} changed from {a.iat[r, c]!r} to {b.iat[r, c]!r}"
                )
    return list(cuts)
