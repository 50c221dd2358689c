"""Templates: real daily shapes and intraday paths, normalized by depth and time, resampled in blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.errors import ConfigError, DataError
from backtests.scenarios import (DailyTemplate, IntradayTemplate, ScenarioFamily, ScenarioSpec, block_resample,
                                 generate, grid, krx_daily_templates)

from .helpers import krx_family, kst, quiet

# a hand-made day: open -1%, high +0.5%, low -7%, close -4% (as log ratios), then two later days
LOGS = np.log(np.array([[0.99, 1.005, 0.93, 0.96], [1.01, 1.03, 0.98, 1.02], [0.995, 1.0, 0.97, 0.98]]))
TEMPLATE = DailyTemplate("hand", "2026-01-01", 0.07, LOGS / -np.log(0.93))


def _family(templates, after=0, block=1) -> ScenarioFamily:
    f = krx_family(after=after)
    return ScenarioFamily("tpl", f.date, f.leader, f.assets, f.links, f.rule_indices, sessions_after=after,
                          shape="template", templates=tuple(templates), block=block)


def test_a_daily_template_at_its_own_depth_reproduces_its_day():
    b = generate(ScenarioSpec(_family([TEMPLATE]), grid(depth=0.07, shock_time="11:00", time_to_trough=40,
                                                        half_life=30, template=0, vol_multiplier=0.0), seed=1))
    f = kst(b, "^KS11")
    assert f["open"].iloc[0] == pytest.approx(990.0)
    assert f.loc["11:00", "open"] == pytest.approx(1005.0)  # the day's high when the fall starts
    assert f.loc["11:40", "open"] == pytest.approx(930.0)  # its low time_to_trough later
    assert f["close"].iloc[-1] == pytest.approx(960.0)  # and its close, reached with the rebound's shape
    assert f["low"].min() == pytest.approx(930.0) and f["high"].max() == pytest.approx(1005.0)
    assert b.halts.empty


def test_a_template_deep_enough_meets_the_rules():
    b = generate(ScenarioSpec(_family([TEMPLATE]), grid(depth=0.12, shock_time="11:00", time_to_trough=40,
                                                        template=0, vol_multiplier=0.0), seed=1))
    assert b.halts["level"].tolist() == [1]


def test_depth_rescales_the_template_in_log_terms():
    b = generate(ScenarioSpec(_family([TEMPLATE]), grid(depth=0.05, shock_time="11:00", template=0,
                                                        vol_multiplier=0.0), seed=1))
    f = kst(b, "^KS11")
    scale = np.log(0.95) / np.log(0.93)
    assert f["low"].min() == pytest.approx(1000 * 0.93 ** scale)
    assert f["close"].iloc[-1] == pytest.approx(1000 * 0.96 ** scale)


def test_later_days_keep_their_shape_relative_to_each_previous_close():
    b = generate(ScenarioSpec(_family([TEMPLATE], after=2), grid(depth=0.07, template=0, vol_multiplier=0.0),
                              seed=1))
    k = b.bars["^KS11"]
    g = b.grids["XKRX"]
    closes = [k.close[0, g.session_bars(s)][~np.isnan(k.close[0, g.session_bars(s)])][-1] for s in range(3)]
    assert closes == pytest.approx([960.0, 960.0 * 1.02, 960.0 * 1.02 * 0.98])


def test_templates_are_drawn_and_blocks_resampled_per_scenario_stream():
    other = DailyTemplate("other", "2026-01-02", 0.05, np.log(np.array(
        [[1.0, 1.0, 0.95, 0.97], [1.02, 1.04, 1.0, 1.03], [0.99, 1.0, 0.96, 0.97]])) / -np.log(0.95))
    fam = _family([TEMPLATE, other], after=2, block=1)
    b = generate(ScenarioSpec(fam, grid(depth=0.08, template=-1, vol_multiplier=0.0), replicates=40, seed=3,
                              streams="independent"))
    opens = b.bars["^KS11"].open[:, 0]
    assert len(np.unique(np.round(opens, 9))) == 2  # both templates were drawn
    again = generate(ScenarioSpec(fam, grid(depth=0.08, template=-1, vol_multiplier=0.0), replicates=40, seed=3,
                                  streams="independent"), 10, 20)
    assert np.array_equal(again.bars["^KS11"].close, b.bars["^KS11"].close[10:20], equal_nan=True)


def test_block_resample_takes_consecutive_blocks():
    inc = np.arange(10.0)
    out = block_resample(inc, 3, np.array([0.0, 0.99, 0.5]), 8)
    assert out.tolist() == [0, 1, 2, 7, 8, 9, 4, 5]
    with pytest.raises(DataError):
        block_resample(inc, 3, np.array([0.1]), 8)


def test_an_intraday_path_is_normalized_by_depth_and_time():
    # a noise-free parametric day: -7% from 10:00 in 30 minutes (no halt), then half of it back
    src = generate(quiet(depth=0.07, shock_time="10:00", time_to_trough=30, rebound=0.5, half_life=20))
    f = src.bars["^KS11"].frame(0)
    minutes = (f.index.asi8 - src.grids["XKRX"].opens[0]) / 60e9
    tpl = IntradayTemplate.from_path("parametric day", minutes, f["close"].to_numpy(), 1000.0, fall_start=60)
    raw = np.log(f["close"].to_numpy() / 1000.0) / -np.log(0.93)
    assert raw.min() == pytest.approx(-1.0)  # depth normalized: the trough is -1
    assert tpl.u[np.argmin(raw)] == pytest.approx(1.0)  # time normalized: the trough is at u = 1
    assert np.allclose(np.cumsum(tpl.residuals), (raw - tpl.y)[1:] - (raw - tpl.y)[0])
    with pytest.raises(DataError, match="does not fall"):
        IntradayTemplate.from_path("flat", minutes, np.full(len(minutes), 1000.0), 1000.0, 60)


def test_an_intraday_template_rescales_to_the_scenarios_depth_and_timing():
    u = np.linspace(-2.0, 6.0, 801)
    y = np.where(u < 0, 0.0, np.where(u <= 1, -u, -1.0 + 0.5 * (1 - np.exp2(-(u - 1)))))  # fall, half rebound
    tpl = IntradayTemplate("shape", u, y, np.zeros(800))
    b = generate(ScenarioSpec(_family([tpl]), grid(depth=0.045, shock_time="12:00", time_to_trough=60,
                                                   template=0, vol_multiplier=0.0), seed=1))
    k = kst(b, "^KS11")
    assert k["low"].min() == pytest.approx(955.0)
    assert k["low"].idxmin() in ("12:59", "13:00")  # the trough moved to 12:00 + 60 minutes
    assert k.loc["12:30", "open"] == pytest.approx(1000 * np.exp(0.5 * np.log(0.955)))


def test_template_index_beyond_the_family_is_refused():
    with pytest.raises(ConfigError, match="template index 3"):
        ScenarioSpec(_family([TEMPLATE]), grid(template=3))


@pytest.mark.shared_data
def test_krx_circuit_breaker_days_make_daily_templates(shared_data):
    tpls = krx_daily_templates(shared_data)
    names = [t.name for t in tpls]
    assert names == ["KOSPI 2024-08-05", "KOSPI 2026-03-04", "KOSPI 2026-03-09", "KOSPI 2026-06-08",
                     "KOSPI 2026-06-23", "KOSPI 2026-06-26"]
    t = tpls[names.index("KOSPI 2026-06-23")]
    assert t.depth == pytest.approx(0.0999, abs=1e-4)
    assert t.days[0, 2] == pytest.approx(-1.0) and t.days[0, 3] == pytest.approx(-1.0)  # low = close
    assert tpls[0].halt_minutes == pytest.approx(314.5)  # 14:14:30 KST
    assert all(len(x.days) == 6 for x in tpls)  # the day and five sessions after it
    fam = _family(tpls, after=3, block=2)
    b = generate(ScenarioSpec(fam, grid(depth=0.0999, template=4, vol_multiplier=0.0), seed=1))
    k = b.bars["^KS11"].frame(0)
    first = k[k.index <= pd.Timestamp("2026-06-23 15:30", tz="Asia/Seoul")]
    assert first["close"].iloc[-1] == pytest.approx(1000 * (1 - 0.0999), rel=1e-3)
