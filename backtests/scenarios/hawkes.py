"""Crypto liquidation cascades: a discrete-time Hawkes process coupled to the price, compiled.

Per minute ``k`` and side (long liquidations on falls, short liquidations on rises):

``lambda_k = (1 - n) * baseline / size + E_k + coupling * max(0, -+r_k) / sigma``  (events per minute)
``E_k = a * E_{k-1} + n * (1 - a) * N_{k-1}``,  ``a = 2 ** (-1 / decay_half_life)``
``N_k ~ Poisson(lambda_k)``;  ``USD_k = N_k * size * exp(dispersion * z_k - dispersion**2 / 2)``
``dx_k = r_k - impact * (USD_long_k - USD_short_k) / 1e6``

``r_k`` is the minute's exogenous log return (propagated move plus diffusion), ``sigma`` its
per-minute vol, ``n`` the branching ratio. The kernel's weights sum to ``n``, so without price
coupling the long-run mean intensity is exactly ``baseline / size`` events a minute whatever ``n``:
the branching ratio decides how clustered liquidations are, not how many there are in calm
markets. The Poisson draw inverts the CDF of a pre-drawn uniform (exact up to 30 events a
minute, a normal approximation above), so every number comes from the scenario's own stream.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_FLAGS)
def _norm_ppf(p):  # Acklam's rational approximation (relative error < 1.2e-9)
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
         -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
         -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
         4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
    p = min(max(p, 1e-300), 1.0 - 1e-16)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    if p > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)


@njit(**_FLAGS)
def poisson_ppf(u, lam):
    """Smallest ``k`` with ``P(N <= k) >= u`` for ``N ~ Poisson(lam)`` (normal approximation above 30)."""
    if lam <= 0.0:
        return 0.0
    if lam > 30.0:
        return max(0.0, math.floor(lam + math.sqrt(lam) * _norm_ppf(u) + 0.5))
    p = math.exp(-lam)
    cdf = p
    k = 0
    while u > cdf and k < 1000:
        k += 1
        p *= lam / k
        cdf += p
    return float(k)


@njit(**_FLAGS)
def cascade(exo, sigma, u_long, u_short, z_long, z_short, baseline_long, baseline_short, size, decay_half_life,
            branching, coupling, impact, dispersion):
    """Simulate liquidations and the price they move, scenario by scenario.

    Parameters
    ----------
    exo
        ``(n, T)`` exogenous log returns per minute.
    sigma
        ``(n,)`` per-minute vol of the diffusion (scales the price coupling).
    u_long, u_short
        ``(n, T)`` uniforms for the Poisson draws.
    z_long, z_short
        ``(n, T)`` standard normals for the event sizes.
    baseline_long, baseline_short, size, decay_half_life, coupling, impact, dispersion
        See :class:`~backtests.scenarios.family.HawkesSpec`.
    branching
        ``(n,)`` branching ratio per scenario.

    Returns
    -------
    (dx, long_usd, short_usd, intensity_long)
        ``(n, T)`` each: log returns after impact, liquidated USD per minute, the long intensity.
    """
    n, T = exo.shape
    dx = np.empty((n, T))
    lu = np.empty((n, T))
    su = np.empty((n, T))
    lam_out = np.empty((n, T))
    a = 2.0 ** (-1.0 / decay_half_life)
    half_var = 0.5 * dispersion * dispersion
    for i in range(n):
        br = branching[i]
        w = br * (1.0 - a)
        mu_l = (1.0 - br) * baseline_long / size
        mu_s = (1.0 - br) * baseline_short / size
        el = 0.0
        es = 0.0
        nl = 0.0
        ns = 0.0
        s = sigma[i]
        for k in range(T):
            el = a * el + w * nl
            es = a * es + w * ns
            r = exo[i, k]
            down = max(0.0, -r) / s if s > 0.0 else 0.0
            up = max(0.0, r) / s if s > 0.0 else 0.0
            lam_l = mu_l + el + coupling * down
            lam_s = mu_s + es + coupling * up
            nl = poisson_ppf(u_long[i, k], lam_l)
            ns = poisson_ppf(u_short[i, k], lam_s)
            usd_l = nl * size * math.exp(dispersion * z_long[i, k] - half_var)
            usd_s = ns * size * math.exp(dispersion * z_short[i, k] - half_var)
            lu[i, k] = usd_l
            su[i, k] = usd_s
            lam_out[i, k] = lam_l
            dx[i, k] = r - impact * (usd_l - usd_s) / 1e6
    return dx, lu, su, lam_out


__all__ = ["cascade", "poisson_ppf"]
