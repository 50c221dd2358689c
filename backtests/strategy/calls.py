"""The one path by which scare calls a strategy plug-in for its decisions.

:func:`decide` builds the strategy's view of the data (:class:`StrategyContext`), calls
``target_weights`` (the plug-in's own, or the default looping over ``weights``) inside the guard
(:mod:`backtests.strategy.guard`), and checks what came back against the output contract
(:mod:`backtests.strategy.contract`). The sweep (every chunk of combinations) and the look-ahead
audit (the full and every truncated world) both call it, so a strategy is called, and its
mistakes are reported, the same way in a run and in an audit.

:func:`params_checker` is the other call scare makes into a strategy before any data loads: its
cross-parameter ``check_params``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.errors import StrategyError
from backtests.strategy.base import Strategy
from backtests.strategy.context import StrategyContext
from backtests.strategy.contract import check_target_weights, clock_span
from backtests.strategy.guard import definition_line, guard


def decide(strategy: Strategy, label: str, data: MarketData, events: pd.DataFrame | None, grid: pd.DataFrame,
           windows: Sequence[Any] = (), entry: str = "state", check_clock: bool = True,
           ctx: StrategyContext | None = None) -> tuple[pd.DataFrame, dict[str, list[dict[str, Any]]]]:
    """The strategy's checked target weights for every combination of ``grid``.

    Parameters
    ----------
    strategy
        The configured strategy (roles resolved).
    label
        Its label in the study (named in every message).
    data
        Market data holding its symbols.
    events
        The point-in-time event catalogue frame the context offers (``None``: no events).
    grid
        Rows = combinations; its index names them in messages (a chunk's global combination ids).
        The strategy sees the rows numbered ``0..n-1`` (index named ``combo``).
    windows
        The windows it runs on: each needs a decision stamp inside, and a window with only NaN
        gets a named notice (:func:`~backtests.strategy.contract.check_target_weights`).
    entry
        The strategy's ``episode_entry`` (``"state"`` or ``"change"``).
    check_clock
        Refuse decisions stamped outside the strategy's clock (:func:`clock_span`). The audit turns
        it off: a truncated world cuts one data channel at a time, so its clock is not the run's.
    ctx
        The strategy's context over ``data`` and ``events`` when the caller already built it (the
        sweep reads its clock); None builds it here.

    Returns
    -------
    (weights, notices)
        Weights indexed by UTC ns decision stamps, columns ``(combo, symbol)`` with ``combo`` in
        ``0..n-1``, float64; ``{window id: [Notice records]}``.

    Raises
    ------
    StrategyError
        The plug-in raised (pointing at its own file and line) or broke the output contract
        (pointing at the method that made the weights).
    """
    local = grid.reset_index(drop=True)
    local.index.name = "combo"
    if ctx is None:
        ctx = StrategyContext(data, strategy.symbols, events, traded=strategy.traded_symbols)
    vectorized = type(strategy).target_weights is not Strategy.target_weights
    made_by = type(strategy).target_weights if vectorized else type(strategy).weights
    raw = guard(strategy, label, "target_weights()" if vectorized else "weights()", strategy.target_weights,
                ctx, local, at=made_by)
    return check_target_weights(
        raw, label, list(strategy.traded_symbols), len(local), clock_span(ctx) if check_clock else None, windows,
        combo_names=grid.index.tolist(), where=definition_line(made_by), entry=entry)


def resting_targets(strategy: Strategy, label: str, grid: pd.DataFrame) -> np.ndarray:
    """``(combinations, traded symbols)`` resting weights of every row of ``grid``
    (:meth:`Strategy.resting_weights`, called through the plug-in guard): an episode whose filled targets
    never leave them did not trade."""
    out = guard(strategy, label, "resting_weights()", strategy.resting_matrix, grid.reset_index(drop=True),
                at=type(strategy).resting_weights)
    if not np.isfinite(out).all():
        raise StrategyError(f"strategy {label!r}: resting_weights() returned a weight that is not a finite number",
                            where=definition_line(type(strategy).resting_weights))
    return out


def params_checker(cls: type, strategy: Any) -> Callable[[dict[str, Any]], None] | None:
    """The strategy's ``check_params``, callable with one combination, or None when not overridden.

    Documented as a classmethod; a plain method (``def check_params(self, combo)``) or a
    staticmethod is accepted as well and called on the configured instance. Call it through
    :func:`~backtests.strategy.guard.guard`.
    """
    raw = inspect.getattr_static(cls, "check_params", None)
    if raw is None or raw is Strategy.__dict__["check_params"]:
        return None
    bound = getattr(strategy, "check_params", None)
    if not callable(bound):
        raise StrategyError(f"strategy {cls.__name__!r}: check_params is not a method",
                            where=definition_line(cls))
    return bound
