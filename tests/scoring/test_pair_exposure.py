"""A pair episode's net and gross exposure (backtests.scoring.pair_exposure), worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.scoring.pair_exposure import exposure_view

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731


def test_net_and_gross_per_bar_with_hours_from_the_event():
    weights = pd.DataFrame({
        "run": ["r1", "r1", "r1", "r1", "r2", "r2"],
        "time": [T("2026-06-24 06:30"), T("2026-06-24 06:30"), T("2026-06-25 06:30"), T("2026-06-25 06:30"),
                 T("2026-06-24 06:30"), T("2026-06-24 06:30")],
        "symbol": ["MU", "HY", "MU", "HY", "MU", "HY"],
        "target": 0.0, "held": [0.5, -0.3, 0.0, -0.5, 0.1, -0.1]})
    runs = pd.DataFrame({"combo": [0, 1], "window": ["w1", "w1"]}, index=pd.Index(["r1", "r2"], name="id"))
    out = exposure_view(weights, runs, [0], {"w1": T("2026-06-24 05:30")})
    (ep,) = out["combos"]["0"]
    # 06-24: net 0.5 - 0.3 = 0.2, gross 0.8; 06-25: net -0.5, gross 0.5; 1 h and 25 h after the event
    assert ep["window"] == "w1" and ep["hours"] == [1.0, 25.0]
    assert ep["net"] == pytest.approx([0.2, -0.5]) and ep["gross"] == pytest.approx([0.8, 0.5])
    assert (ep["net_min"], ep["net_max"], ep["gross_max"]) == pytest.approx((-0.5, 0.2, 0.8))
    assert ep["time"] == [T("2026-06-24 06:30").isoformat(), T("2026-06-25 06:30").isoformat()]
    assert "1" not in out["combos"]  # not a shown combination


def test_no_weights_no_episodes():
    runs = pd.DataFrame({"combo": [0], "window": ["w1"]}, index=pd.Index(["r1"], name="id"))
    empty = pd.DataFrame(columns=["run", "time", "symbol", "target", "held"])
    assert exposure_view(empty, runs, [0], {})["combos"] == {}
