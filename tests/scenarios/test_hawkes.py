"""The liquidation cascade: Poisson inversion, the stationary mean, price coupling and impact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from backtests.scenarios.hawkes import cascade, poisson_ppf


def test_poisson_inversion_matches_scipy_up_to_thirty():
    for lam in (0.01, 0.3, 2.5, 11.0, 29.9):
        for u in np.linspace(0.001, 0.999, 37):
            assert poisson_ppf(u, lam) == stats.poisson.ppf(u, lam), (lam, u)
    assert poisson_ppf(0.5, 0.0) == 0.0
    # above 30: the normal approximation keeps the mean and the variance
    u = np.random.default_rng(0).random(200_000)
    draws = np.array([poisson_ppf(x, 400.0) for x in u[:20_000]])
    assert draws.mean() == pytest.approx(400.0, abs=4 * 20 / np.sqrt(20_000))
    assert draws.var() == pytest.approx(400.0, rel=0.05)


def _run(n, T, branching, coupling=0.0, exo=None, seed=1, baseline=25_000.0, size=50_000.0, impact=0.0):
    rng = np.random.default_rng(seed)
    exo = np.zeros((n, T)) if exo is None else exo
    return cascade(exo, np.full(n, 1e-3), rng.random((n, T)), rng.random((n, T)), rng.standard_normal((n, T)),
                   rng.standard_normal((n, T)), baseline, baseline, size, 10.0, np.full(n, branching), coupling,
                   impact, 0.5)


@pytest.mark.parametrize("branching", [0.0, 0.6])
def test_calm_mean_is_the_baseline_whatever_the_branching(branching):
    # immigrants (1 - n) * 0.5 events a minute; the kernel's weights sum to n, so the mean is 0.5.
    # For a stationary Hawkes process the count over T minutes has variance ~ mean * T / (1 - n)^2.
    n, T = 20, 20_000
    dx, lu, su, lam = _run(n, T, branching)
    events = lu / 50_000.0  # not exact per minute (sizes vary), so test the USD mean and lambda
    mean_lambda = lam[:, 1000:].mean()
    sd = np.sqrt(0.5 / (1 - branching) ** 2 / (n * (T - 1000)))
    assert mean_lambda == pytest.approx(0.5, abs=6 * sd)
    assert lu.mean() == pytest.approx(25_000.0, rel=6 * sd / 0.5 + 0.02)
    assert events.mean() > 0
    if branching == 0.0:
        assert np.allclose(lam, 0.5)  # no excitation: a plain Poisson process


def test_an_adverse_move_raises_long_liquidations_and_their_impact_moves_the_price():
    n, T = 400, 120
    exo = np.zeros((n, T))
    exo[:, 60] = -0.02  # a 20-sigma fall in minute 60
    dx, lu, su, lam = _run(n, T, 0.6, coupling=1.0, exo=exo, impact=0.001)
    assert lam[:, 60].mean() == pytest.approx(0.5 + 20.0, rel=0.2)  # calm intensity + 1 event per sigma of fall
    assert lu[:, 60:90].mean() > 5 * lu[:, 0:30].mean()  # the cascade outlives the move
    assert su[:, 60].mean() < lu[:, 60].mean()
    assert np.allclose(dx, exo - 0.001 * (lu - su) / 1e6)  # impact: forced sells push the price down
