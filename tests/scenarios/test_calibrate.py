"""The shipped defaults are what the estimator gives on ../shared/data; small regression cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.scenarios import defaults
from backtests.scenarios.calibrate import calibrate, fit_through_origin, main, robust_sd, session_returns


def test_fit_through_origin_by_hand():
    x = np.array([1.0, 2.0, 3.0, np.nan])
    y = np.array([2.0, 4.5, 5.5, 1.0])
    beta, se, r2, n = fit_through_origin(x, y)
    b = (2 + 9 + 16.5) / 14  # sum(xy) / sum(x^2)
    res = np.array([2.0, 4.5, 5.5]) - b * np.array([1.0, 2.0, 3.0])
    assert beta == pytest.approx(b) and n == 3
    assert se == pytest.approx(np.sqrt(res @ res / 2 / 14))
    assert r2 == pytest.approx(1 - res @ res / (4 + 20.25 + 30.25))


def test_robust_sd_is_the_scaled_mad():
    assert robust_sd(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(1.4826 * 1.0)


def test_session_returns_take_the_first_session_closing_on_or_after_a_date():
    s = pd.Series([100.0, 110.0, 99.0], index=pd.to_datetime(["2026-06-22", "2026-06-23", "2026-06-25"]))
    r = session_returns(s, pd.DatetimeIndex(["2026-06-23", "2026-06-24"]))
    assert r.tolist() == pytest.approx([np.log(1.1), np.log(0.9)])  # 06-24 is answered by 06-25
    assert session_returns(s, pd.DatetimeIndex(["2026-06-23"]), lag=1).tolist() == pytest.approx([np.log(0.9)])


@pytest.mark.shared_data
def test_re_estimation_reproduces_the_shipped_defaults(shared_data):
    c = calibrate(shared_data, defaults.ANCHOR)
    for (lead, fol, beta, se, r2, n), est in zip(defaults.LINK_ESTIMATES, c.links):
        assert (est.leader, est.follower, est.n) == (lead, fol, n)
        assert est.beta == pytest.approx(beta, abs=6e-4) and est.se == pytest.approx(se, abs=6e-4)
        assert est.r2 == pytest.approx(r2, abs=6e-3)
        assert est.delay_sessions == 0  # every reaction lands on the first session after the shock
    for sym, v in defaults.VOLS.items():
        assert c.vols[sym] == pytest.approx(v, rel=1e-3), sym
    for m, v in defaults.OVERNIGHT.items():
        assert c.overnight[m] == pytest.approx(v, rel=1e-3)
    for sym, p in defaults.PRICES.items():
        assert c.prices[sym] == pytest.approx(p, rel=1e-5), sym
    assert c.shock_vol_multiplier == pytest.approx(defaults.SHOCK_VOL_MULTIPLIER, rel=1e-3)
    assert c.hawkes["baseline_long"] == pytest.approx(defaults.HAWKES.baseline_long, rel=1e-3)
    assert c.hawkes["impact"] == pytest.approx(defaults.HAWKES.impact, rel=1e-3)
    for sym in ("^KS11", "000660.KS", "005930.KS", "MU", "^GSPC"):
        assert c.volumes[sym] == pytest.approx(defaults.VOLUMES[sym], rel=1e-3), sym
    # calibration and held-out days alternate by cluster; no held-out day feeds an estimate
    assert set(c.days["split"]) == {"calibration", "holdout"}
    assert not c.priors.index.isin(c.days.index[c.days["split"] == "holdout"]).any()
    assert (c.days.groupby("cluster")["split"].nunique() == 1).all()


@pytest.mark.shared_data
def test_the_command_prints_the_estimates(shared_data, capsys):
    assert main([str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "^KS11  000660.KS" in out and "crypto cascade" in out


def test_a_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "KOSPI_KS11.csv" in err[0]
