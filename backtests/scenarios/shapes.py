"""The parametric crash shape of the leader: drift, opening gap, a linear fall, an exponential rebound.

The *skeleton* is the leader's noise-free path, as a log price ratio to its previous close before
the shock session (``x = 0`` is that close), on the leader's trading clock ``tau`` (minutes in
session since the first open; nights do not count). With ``P0 = exp(x0)`` the level when the fall
starts and ``Ptr = 1 - depth`` the trough (both relative to the previous close):

- before the shock session: ``x = mu * (s + m / M_s - s_shock)`` (``mu = log(1 + drift)`` per
  session; ``s`` the session, ``m`` minutes into it, ``M_s`` its length): the path drifts into the
  previous close;
- in the shock session before the fall: ``x = log(1 + open_gap) + mu * m / M``;
- the fall, ``tau0 <= tau <= tau0 + T``: ``P = P0 + (Ptr - P0) * (tau - tau0) / T`` (linear in price);
- after the trough: ``P = Ptr + rebound * (P0 - Ptr) * (1 - 2 ** (-(tau - tau0 - T) / half_life))``.

A full rebound (``rebound = 1``) therefore returns to ``P0`` (to rounding once ``tau - tau0 - T`` is
many half-lives); the fall is in *price* so a hand-worked "linear fall of 9% in 30 minutes" is
exactly that. Everything is vectorized over scenarios (rows) and points (columns). The generator
then measures the path from the leader's own reference close (the close before its first session):
with sessions before the shock that close is ``exp(-mu * sessions_before)`` times the shock
session's previous close.
"""

from __future__ import annotations

import numpy as np

from backtests.errors import ConfigError
from backtests.scenarios.clock import MarketGrid
from backtests.scenarios.params import ParamTable


def shock_minutes(grid: MarketGrid, shock_session: int, params: ParamTable) -> np.ndarray:
    """Minutes after the shock session's open at which each scenario's fall starts.

    Raises
    ------
    ConfigError
        When a ``shock_time`` lies outside the shock session (naming the row and the session hours).
    """
    open_clock = grid.local_minutes(shock_session)
    length = float(grid.session_points[shock_session + 1] - grid.session_points[shock_session] - 1)
    m0 = params.shock_time - open_clock
    bad = np.flatnonzero((m0 < 0) | (m0 >= length))
    if bad.size:
        i = int(bad[0])
        hh, mm = divmod(int(open_clock), 60)
        raise ConfigError(f"scenario row {i}: shock_time {int(params.shock_time[i]) // 60:02d}:"
                          f"{int(params.shock_time[i]) % 60:02d} is outside the {grid.market} session of "
                          f"{grid.dates[shock_session].date()} (opens {hh:02d}:{mm:02d}, {int(length)} minutes)")
    return m0


def pre_shock(grid: MarketGrid, shock_session: int, params: ParamTable) -> tuple[np.ndarray, np.ndarray]:
    """The drift-and-gap part of the skeleton at every point, and its value at the reference close.

    Returns
    -------
    (x, x_ref)
        ``(n, P)`` log ratios before the fall (valid at points before the fall starts) and ``(n,)``
        the skeleton at the reference close (``-mu * sessions_before``).
    """
    mu = np.log1p(params.drift)[:, None]
    lengths = (np.diff(grid.session_points) - 1).astype(np.float64)
    day = grid.point_session + grid.point_minute / lengths[grid.point_session]
    before = grid.point_session < shock_session
    x = np.where(before[None, :], mu * (day[None, :] - shock_session),
                 np.log1p(params.open_gap)[:, None] + mu * (day[None, :] - shock_session))
    return x, -mu[:, 0] * shock_session


def skeleton(grid: MarketGrid, shock_session: int, params: ParamTable) -> tuple[np.ndarray, np.ndarray, int]:
    """The leader's parametric skeleton at every point of its grid.

    Parameters
    ----------
    grid
        The leader market's grid.
    shock_session
        Index of the shock session in ``grid``.
    params
        One row per scenario.

    Returns
    -------
    (x, x_ref, truncated)
        ``(n, P)`` log price ratios to the previous close before the shock session; ``(n,)`` the
        value at the grid's reference close; the number of scenarios whose trough lies beyond the
        last point (their fall is cut short by the end of the scenario).
    """
    tau = grid.trading_minutes()
    m0 = shock_minutes(grid, shock_session, params)
    tau0 = (tau[grid.session_points[shock_session]] + m0)[:, None]
    x_pre, x_ref = pre_shock(grid, shock_session, params)
    length = float(grid.session_points[shock_session + 1] - grid.session_points[shock_session] - 1)
    x0 = np.log1p(params.open_gap) + np.log1p(params.drift) * m0 / length
    p0 = np.exp(x0)[:, None]
    ptr = (1.0 - params.depth)[:, None]
    T = params.time_to_trough[:, None]
    since = tau[None, :] - tau0
    fall = p0 + (ptr - p0) * np.clip(since / T, 0.0, 1.0)
    after = np.maximum(since - T, 0.0)
    rebound = ptr + params.rebound[:, None] * (p0 - ptr) * (1.0 - np.exp2(-after / params.half_life[:, None]))
    level = np.where(since <= T, fall, rebound)
    # earlier sessions keep the pre-shock formula even where they share tau with the shock
    # session's open (the previous close and the open are one trading instant, a night apart)
    started = (since >= 0.0) & (grid.point_session >= shock_session)[None, :]
    x = np.where(started, np.log(level), x_pre)
    truncated = int(np.count_nonzero(tau0[:, 0] + params.time_to_trough > tau[-1]))
    return x, x_ref, truncated


__all__ = ["skeleton", "shock_minutes", "pre_shock"]
