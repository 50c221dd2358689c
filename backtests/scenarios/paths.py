"""Latent paths of every asset: the leader's skeleton plus noise, followers through the chain.

A *latent* path is the asset's fair value at each point of its grid (log ratio to its reference
price). What prints is decided afterwards by the exchange rules (:mod:`.exchange_state`).

- **Noise.** Gaussian random walk; per point the increment's sd is ``sd_day * sqrt(omega)`` at a
  session open (the night since the previous close: ``omega`` is the asset's overnight share of
  a session's variance) and ``sd_day * sqrt((1 - omega) / M)`` per minute in a session of ``M``
  minutes; ``sd_day = vol / sqrt(252)`` times the scenario's ``vol_multiplier``.
- **Propagation.** A follower is ``beta * propagation * (L(t - d) - L(ref - d)) + own noise`` with
  ``L`` the leader's latent path read *as of* each instant (the last point at or before it) and
  ``ref`` the follower's reference close. Across markets that never overlap (KRX and NYSE) the
  as-of read turns the leader's whole session into the follower's opening gap: overnight
  transmission is "the follower's next open reprices by beta times everything the leader did
  since the follower's previous close", and the follower's own overnight noise is added on top.
- **Crypto** (always open) reads its leader the same way minute by minute, and the move feeds
  the liquidation cascade (:mod:`.hawkes`), whose impact moves the price back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtests.scenarios.clock import MarketGrid
from backtests.scenarios.family import ScenarioFamily
from backtests.scenarios.params import ParamTable
from backtests.scenarios.streams import Draws
from backtests.time.calendars import CRYPTO

SESSIONS_PER_YEAR = 252.0
CRYPTO_MINUTES_PER_YEAR = 365.0 * 1440.0


@dataclass(frozen=True)
class Latent:
    """Latent paths of a chunk of scenarios.

    Attributes
    ----------
    x
        ``{symbol: (n, P) array}``: log ratio to the asset's reference price at each grid point.
    var
        ``{symbol: (n,) array}``: variance per minute of the asset's path (for the extremes
        inside a bar).
    liquidations
        ``{symbol: (long_usd, short_usd, intensity)}`` per minute, crypto assets only.
    """

    x: dict[str, np.ndarray]
    var: dict[str, np.ndarray]
    liquidations: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def draw_requests(family: ScenarioFamily, grids: dict[str, MarketGrid]) -> list[tuple[str, str, int]]:
    """The random numbers the paths of ``family`` consume, in a fixed order."""
    req: list[tuple[str, str, int]] = []
    for sym in family.order():
        g = grids[family.asset(sym).market]
        if g.market == CRYPTO:
            req += [("normals", f"{sym}:noise", g.n_bars), ("uniforms", f"{sym}:long", g.n_bars),
                    ("uniforms", f"{sym}:short", g.n_bars), ("normals", f"{sym}:long_size", g.n_bars),
                    ("normals", f"{sym}:short_size", g.n_bars)]
        else:
            req.append(("normals", f"{sym}:noise", g.n_points))
        req.append(("exponentials", f"{sym}:extremes", 2 * g.n_bars))
    return req


def point_sd(grid: MarketGrid, vol: float, overnight_share: float) -> np.ndarray:
    """Sd (log) of the increment ending at each point, before the vol multiplier."""
    if grid.market == CRYPTO:
        sd = np.full(grid.n_points, vol / np.sqrt(CRYPTO_MINUTES_PER_YEAR))
        sd[0] = 0.0  # the stretch starts at its reference
        return sd
    lengths = (np.diff(grid.session_points) - 1).astype(np.float64)
    sd_day = vol / np.sqrt(SESSIONS_PER_YEAR)
    per_minute = sd_day * np.sqrt((1.0 - overnight_share) / lengths)[grid.point_session]
    opens = np.zeros(grid.n_points, dtype=bool)
    opens[grid.session_points[:-1]] = True
    return np.where(opens, sd_day * np.sqrt(overnight_share), per_minute)


def asof(x: np.ndarray, before: np.ndarray, points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each row of ``x`` (values at ``points``) read at instants ``t``: the last point at or before.

    ``before`` ``(n,)`` is the value before the first point.
    """
    j = np.searchsorted(points, t, side="right") - 1
    out = x[:, np.maximum(j, 0)]
    if np.any(j < 0):
        out[:, j < 0] = before[:, None]
    return out


def latent_paths(family: ScenarioFamily, grids: dict[str, MarketGrid], params: ParamTable, draws: Draws,
                 lead_x: np.ndarray, lead_ref: np.ndarray, lead_shock: int) -> Latent:
    """Every asset's latent path for a chunk of scenarios.

    Parameters
    ----------
    family, grids
        The family and its market grids.
    params
        One row per scenario.
    draws
        The chunk's random numbers (layout from :func:`draw_requests`).
    lead_x, lead_ref
        The leader's skeleton ``(n, P)`` and its value at the reference close ``(n,)``.
    lead_shock
        Index of the shock session in the leader's grid: the leader's move into that session's
        open is the ``open_gap`` parameter alone (no overnight noise on top of it).
    """
    vm = params.vol_multiplier
    xs: dict[str, np.ndarray] = {}
    var: dict[str, np.ndarray] = {}
    before: dict[str, np.ndarray] = {}
    liq: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for sym in family.order():
        a = family.asset(sym)
        g = grids[a.market]
        ln = family.link_of(sym)
        sd = point_sd(g, a.vol, a.overnight_share)
        own_var = (vm * (a.vol / np.sqrt(CRYPTO_MINUTES_PER_YEAR if g.market == CRYPTO else SESSIONS_PER_YEAR)))**2
        if g.market != CRYPTO:
            own_var = own_var * (1.0 - a.overnight_share) / float(np.median(np.diff(g.session_points) - 1))
        z = draws.get("normals", f"{sym}:noise")
        if ln is None:
            sd = sd.copy()
            sd[g.session_points[lead_shock]] = 0.0
            xs[sym] = lead_x + np.cumsum(z * sd[None, :] * vm[:, None], axis=1)
            before[sym] = lead_ref
            var[sym] = own_var
            continue
        lg = grids[family.asset(ln.leader).market]
        beta = ln.beta * params.propagation
        shift = int(round(ln.delay * 60e9))
        lx, lb = xs[ln.leader], before[ln.leader]
        ref = asof(lx, lb, lg.points, np.array([g.reference - shift]))[:, 0]
        co_trading = g.market == CRYPTO or g.market == lg.market
        var[sym] = own_var + (beta**2 * var[ln.leader] if co_trading else 0.0)
        before[sym] = np.zeros(len(params))
        if g.market == CRYPTO:
            xs[sym], liq[sym] = _crypto(family, g, params, draws, sym, sd, beta, lx, lb, lg, shift)
            continue
        moved = asof(lx, lb, lg.points, g.points - shift) - ref[:, None]
        xs[sym] = beta[:, None] * moved + np.cumsum(z * sd[None, :] * vm[:, None], axis=1)
    return Latent(xs, var, liq)


def _crypto(family, g, params, draws, sym, sd, beta, lx, lb, lg, shift):
    hk = family.hawkes
    vm = params.vol_multiplier
    led = asof(lx, lb, lg.points, g.points - shift)
    sigma = sd[1] * vm
    exo = beta[:, None] * np.diff(led, axis=1) + draws.get("normals", f"{sym}:noise") * sigma[:, None]
    c = np.ascontiguousarray
    from backtests.scenarios.hawkes import cascade  # numba: loaded when a path is drawn, not when a config is planned

    dx, lu, su, lam = cascade(c(exo), c(sigma), c(draws.get("uniforms", f"{sym}:long")),
                              c(draws.get("uniforms", f"{sym}:short")), c(draws.get("normals", f"{sym}:long_size")),
                              c(draws.get("normals", f"{sym}:short_size")),
                              hk.baseline_long, hk.baseline_short, hk.size, hk.decay_half_life,
                              np.ascontiguousarray(params.branching), hk.coupling, hk.impact, hk.dispersion)
    x = np.concatenate([np.zeros((len(params), 1)), np.cumsum(dx, axis=1)], axis=1)
    return x, (lu, su, lam)


__all__ = ["Latent", "latent_paths", "draw_requests", "asof", "point_sd"]
