"""Look-ahead check for a plug-in's own tests: data after ``t`` must not change decisions <= ``t``.

A thin wrapper over the audit that ``scare run`` and ``scare audit`` use
(:func:`backtests.audit.check.audit_strategy`), raising instead of reporting (also
``from backtests import assert_no_lookahead``)::

    from backtests.data.synthetic import generate
    from backtests.audit import assert_no_lookahead

    data = generate(start="2025-06-02", end="2026-08-31").select(MyStrategy().symbols.values())
    assert_no_lookahead(MyStrategy(), data, {"hold": [1, 3]})

The built-in event catalogue is passed by default (``events=None`` means *no* events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from backtests.audit.check import audit_strategy
from backtests.data.market_data import MarketData
from backtests.strategy.base import Strategy

#: ``events=CATALOGUE`` (the default): the built-in event catalogue
CATALOGUE = "catalogue"


class LookAheadError(AssertionError):
    """A decision at or before ``t`` changed when only data after ``t`` changed."""


def assert_no_lookahead(
    strategy: Strategy,
    data: MarketData,
    params: Mapping[str, Any] | pd.DataFrame | None = None,
    cuts: Sequence[pd.Timestamp] | None = None,
    n_cuts: int = 10,
    seed: int = 0,
    events: pd.DataFrame | str | None = CATALOGUE,
    budget: float | None = None,
    max_cuts: int | None = None,
) -> list[pd.Timestamp]:
    """Audit ``strategy`` on ``data`` and raise on the first look-ahead found.

    Parameters
    ----------
    strategy
        An instance (its roles already resolved).
    data
        Market data holding the strategy's symbols (e.g. ``generate(...).select(symbols)`` from
        :mod:`backtests.data.synthetic`, or ``load_market_data`` of a study's ``data`` section).
    params
        One combination or a grid spec (mapping of scalars, lists or ranges) or a ready grid DataFrame.
    cuts
        Explicit cut instants; default: every cut the audit chooses (before each event, before the
        largest moves, at every decision change, ``n_cuts`` seeded random stamps).
    n_cuts
        Random cuts among the chosen ones.
    seed
        Seeds the random cuts.
    events
        Event catalogue frame; default the built-in catalogue; None for none.
    budget, max_cuts
        Bounds (seconds, cuts); default: no bound, every chosen cut is checked.

    Returns
    -------
    list of pandas.Timestamp
        The cuts checked.

    Raises
    ------
    LookAheadError
        With the audit's one-line finding: the first changed decision (stamp, combination,
        symbol), the cut and the data channel responsible.
    """
    if isinstance(events, str):
        if events != CATALOGUE:
            raise ValueError(f"events must be a DataFrame, None or {CATALOGUE!r}, got {events!r}")
        from backtests.time.windows import load_builtin

        events = load_builtin().frame()
    report = audit_strategy(strategy, data, params, events, budget=budget, max_cuts=max_cuts, cuts=cuts,
                            seed=seed, n_random=n_cuts)
    if report.verdict != "pass":
        raise LookAheadError(report.line())
    return [pd.Timestamp(t) for t in report.cut_stamps]
