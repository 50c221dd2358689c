"""The validation against held-out shock days (needs ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.scenarios.validate import main, two_sample, validate


def test_two_sample_reports_sizes_medians_and_p_values():
    rng = np.random.default_rng(0)
    same = two_sample(rng.normal(size=200), rng.normal(size=300))
    assert same["n_real"] == 200 and same["n_generated"] == 300
    assert same["ks_p"] > 0.01
    apart = two_sample(rng.normal(size=200), rng.normal(3.0, size=300))
    assert apart["ks_p"] < 1e-10 and apart["ad_p"] == pytest.approx(0.001)


@pytest.mark.shared_data
@pytest.mark.slow
def test_validation_table_against_held_out_days(shared_data):
    v = validate(shared_data, n=1200, seed=7)
    t = v.table.set_index(["statistic", "asset", "sample"])
    assert len(t) == 10
    assert (t["n_real"] >= 10).all() and (t["n_generated"] >= 300).all()
    ohlc = t.xs("held-out OHLC days, low <= -5%", level="sample")
    # the calibrated family is not rejected on held-out KOSPI days (move, range, close location, depth)
    assert (ohlc["ks_p"] > 0.01).all()
    same_days = t.xs("same held-out days (OHLC since 2025-01-22)", level="sample")
    assert (same_days["ks_p"] > 0.01).all()
    assert t.xs("halt_minutes_after_open", level="statistic")["ks_p"].iloc[0] > 0.01
    assert v.coupling["mismatches"] == 0 and v.coupling["halted"] > 100


@pytest.mark.shared_data
@pytest.mark.slow
def test_validate_command_prints_the_table(shared_data, capsys):
    assert main([str(shared_data), "--n", "400", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "SCENARIO generator validation" in out and "rule coupling" in out and "0 mismatches" in out
