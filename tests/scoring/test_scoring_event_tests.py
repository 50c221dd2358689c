"""The event-study test battery on small hand-worked cases (expected values from the formulas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, rankdata
from scipy.stats import t as student_t

from backtests import scoring as sc
from backtests.scoring import event_tests as et

CAR = np.array([-0.06, -0.02, -0.05, 0.01])
L = np.array([3, 3, 3, 3])
S = np.array([0.01, 0.02, 0.015, 0.01])
RESID = np.array([[0.01, -0.02, 0.01, 0.0],
                  [-0.01, 0.01, 0.02, 0.01],
                  [0.005, -0.01, -0.02, -0.01],
                  [0.02, 0.03, 0.0, 0.005],
                  [-0.015, -0.01, -0.01, -0.002]])


def test_bmp_from_the_formula():
    z = CAR / (S * np.sqrt(3))
    t = z.mean() / (z.std(ddof=1) / 2)
    out = et.bmp(CAR, L, S)
    assert out["stat"] == pytest.approx(t, rel=1e-12)
    assert out["p_value"] == pytest.approx(2 * student_t.sf(abs(t), 3), rel=1e-12)


def test_kolari_pynnonen_shrinks_bmp_by_the_mean_cross_correlation():
    pairs = [np.corrcoef(RESID[:, i], RESID[:, j])[0, 1] for i in range(4) for j in range(i + 1, 4)]
    r = np.mean(pairs)
    assert et.mean_cross_correlation(RESID) == pytest.approx(r, rel=1e-12)
    z = CAR / (S * np.sqrt(3))
    t = z.mean() / (z.std(ddof=1) / 2) * np.sqrt((1 - r) / (1 + 3 * r))
    out = et.kolari_pynnonen(CAR, L, S, RESID)
    assert out["stat"] == pytest.approx(t, rel=1e-12)
    assert out["p_value"] == pytest.approx(2 * student_t.sf(abs(t), 3), rel=1e-12)


def test_grank_from_the_formula():
    z = CAR / (S * np.sqrt(3))
    g = np.vstack([RESID / S, z / z.std(ddof=1)])  # 5 estimation days + the cumulated day 0
    u = np.column_stack([rankdata(g[:, i]) / (6 + 1) - 0.5 for i in range(4)])
    ubar = u.mean(axis=1)
    s_u = np.sqrt(np.mean(ubar**2))  # N_t = N on every day
    zz = ubar[-1] / s_u
    t = zz * np.sqrt((6 - 2) / (6 - 1 - zz**2))
    out = et.grank(CAR, L, S, RESID)
    assert out["stat"] == pytest.approx(t, rel=1e-12)
    assert out["p_value"] == pytest.approx(2 * student_t.sf(abs(t), 4), rel=1e-12)


def test_generalized_sign_exact_binomial():
    share = (RESID > 0).sum(axis=0) / 5  # 3/5, 2/5, 2/5, 2/5
    p = share.mean()
    w = 1  # one CAR > 0
    z = (w - 4 * p) / np.sqrt(4 * p * (1 - p))
    out = et.generalized_sign(CAR, RESID)
    assert out["stat"] == pytest.approx(z, rel=1e-12)
    # two-sided exact binomial (scipy's rule: outcomes no more likely than the observed one)
    pmf = binom.pmf(np.arange(5), 4, p)
    expect = pmf[pmf <= pmf[w] * (1 + 1e-7)].sum()
    assert out["p_value"] == pytest.approx(min(1.0, expect), rel=1e-9)


def test_calendar_time_intercept_with_hc1_errors():
    b = np.array([0.01, -0.02, 0.005, 0.0, 0.015, -0.01, 0.02])
    y = 0.002 + 0.8 * b + np.array([0.001, -0.002, 0.0015, -0.001, 0.0, 0.002, -0.0015])
    x = np.column_stack([np.ones(7), b])
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    e = y - x @ beta
    inv = np.linalg.inv(x.T @ x)
    cov = inv @ (x.T * e**2) @ x @ inv * 7 / (7 - 2)
    t = beta[0] / np.sqrt(cov[0, 0])
    out = et.calendar_time(y, b)
    assert out["stat"] == pytest.approx(t, rel=1e-9)
    assert out["p_value"] == pytest.approx(2 * student_t.sf(abs(t), 5), rel=1e-9)
    assert out["n_periods"] == 7


def test_degenerate_inputs_give_reasons_not_crashes():
    one = et.battery(CAR[:1], L[:1], S[:1], RESID[:, :1], np.zeros(1, int), None, None)
    assert all(v["stat"] is None and v["nan_reason"] for k, v in one.items() if k != "generalized_sign")
    same = et.cluster_t(CAR, np.zeros(4, int))
    assert same["stat"] is None and "one cluster" in same["nan_reason"]
    flat = et.calendar_time(np.zeros(10), np.linspace(-0.01, 0.01, 10))
    assert flat["stat"] is None and flat["nan_reason"]
    zero_sd = et.bmp(CAR, L, np.zeros(4))
    assert zero_sd["stat"] is None


def test_event_study_exposes_estimation_residuals():
    rng = np.random.default_rng(2)
    idx = np.arange(-12, 3)
    b = pd.DataFrame({w: rng.normal(0, 0.01, idx.size) for w in "ab"}, index=idx)
    r = 0.001 + 1.5 * b + pd.DataFrame({w: rng.normal(0, 0.002, idx.size) for w in "ab"}, index=idx)
    res = sc.event_study(r, b, pre=1, post=2, estimation_length=10)
    est = np.arange(-11, -1)
    for w in "ab":
        fit = np.polyfit(b.loc[est, w], r.loc[est, w], 1)
        resid = r.loc[est, w] - np.polyval(fit, b.loc[est, w])
        np.testing.assert_allclose(res.residuals[w].to_numpy(), resid.to_numpy(), atol=1e-12)
        assert res.model.loc[w, "residual_std"] == pytest.approx(np.sqrt((resid**2).sum() / 8), rel=1e-9)
