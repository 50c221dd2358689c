"""The real KRX shocks in the scenario parameter space (needs ../shared/data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.scenarios.events import COLUMNS, real_events


@pytest.mark.shared_data
def test_real_events_in_generator_units(shared_data):
    ev = real_events(shared_data)
    assert list(ev.columns) == COLUMNS
    row = ev[(ev["date"] == pd.Timestamp("2026-06-23")) & (ev["index"] == "KOSPI")].iloc[0]
    assert row["kind"] == "circuit_breaker_level1"
    assert row["depth"] == pytest.approx(1 - 8203.84 / 9114.55, abs=1e-6)
    assert row["close_return"] == pytest.approx(-0.0999, abs=1e-4)
    assert row["rebound"] == pytest.approx(0.0, abs=1e-6)  # closed at its low
    aug = ev[(ev["date"] == pd.Timestamp("2024-08-05")) & (ev["index"] == "KOSPI")].iloc[0]
    assert aug["halt_minutes"] == pytest.approx(314.5)  # 14:14:30 KST
    assert aug["depth"] == pytest.approx(0.1081, abs=1e-4)
    old = ev[(ev["date"] == pd.Timestamp("2000-04-17")) & (ev["index"] == "KOSPI")].iloc[0]
    assert np.isnan(old["depth"]) and old["depth_at_least"] == 0.10  # the -10% rule before 2015-06-15
    covid = ev[(ev["date"] == pd.Timestamp("2020-03-13")) & (ev["index"] == "KOSPI")].iloc[0]
    assert covid["depth_at_least"] == 0.08 and covid["halt_minutes"] == pytest.approx(103.0)
    assert (ev["index"] == "KOSDAQ").sum() == 11
    assert ev["time_to_trough"].isna().all()
    assert set(ev.loc[ev["index"] == "KOSPI", "split"]) == {"calibration", "holdout"}
