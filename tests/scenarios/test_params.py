"""Scenario parameters: units, ranges, grids."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.errors import ConfigError
from backtests.scenarios import PARAMETERS, ParamTable, ShockParams, grid
from backtests.scenarios.params import clock_minutes


def test_every_parameter_has_a_unit_a_range_and_a_default_inside_it():
    for p in PARAMETERS:
        assert p.unit and p.doc
        assert p.low <= p.default <= p.high, p.name


def test_clock_times_are_minutes_after_local_midnight():
    assert clock_minutes("10:30") == 630.0
    assert clock_minutes("09:05:30") == pytest.approx(545.5)
    assert ShockParams(shock_time="14:50").shock_time == 890.0
    with pytest.raises(ConfigError, match="not a clock time"):
        clock_minutes("ten thirty")


def test_grid_is_the_cartesian_product_last_axis_fastest():
    t = grid(depth=[0.05, 0.09], rebound=[0.0, 0.5, 1.0], shock_time="11:00")
    assert len(t) == 6
    assert t.depth.tolist() == [0.05] * 3 + [0.09] * 3
    assert t.rebound.tolist() == [0.0, 0.5, 1.0] * 2
    assert set(t.shock_time.tolist()) == {660.0}
    assert t.row(4) == ShockParams(depth=0.09, rebound=0.5, shock_time=660.0)
    assert t.half_life.tolist() == [60.0] * 6  # defaults fill the rest


def test_out_of_range_values_are_refused_naming_parameter_row_and_range():
    with pytest.raises(ConfigError, match=r"depth = 0.5 \(row 1\) is outside its range \[0, 0.4\]"):
        grid(depth=[0.1, 0.5])
    with pytest.raises(ConfigError, match="unknown scenario parameter 'depht'"):
        grid(depht=0.1)
    with pytest.raises(ConfigError, match="not a number"):
        ParamTable.from_records([{"depth": "deep"}])


def test_a_trough_above_the_open_is_refused():
    with pytest.raises(ConfigError, match="trough .* lies above the open"):
        ShockParams(depth=0.02, open_gap=-0.05)
    ShockParams(depth=0.05, open_gap=-0.05)  # a fall that is all gap is allowed


def test_table_arrays_are_read_only_and_frame_round_trips():
    t = grid(depth=[0.05, 0.1])
    with pytest.raises(ValueError):
        t.depth[0] = 0.2
    assert np.array_equal(ParamTable.from_frame(t.frame()).depth, t.depth)
    assert len(t.take([1, 1, 0])) == 3
