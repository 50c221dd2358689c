"""Every generated path that holds at or below -8% for a full minute before 14:50 halts; no other does."""

from __future__ import annotations

import numpy as np

from backtests.scenarios import ScenarioSpec, generate_chunks, grid
from backtests.scenarios.validate import rule_coupling

from .helpers import krx_family


def test_level_one_halts_exactly_when_the_index_held_the_decline_for_a_minute():
    # depths around the level, falls of every speed, shocks up to and past the 14:50 cut-off,
    # with and without noise, over two sessions (the second measured from the first's close)
    spec = ScenarioSpec(krx_family(after=1), grid(
        depth=[0.075, 0.079, 0.081, 0.085, 0.1], shock_time=["09:00", "12:00", "14:40", "14:48", "14:55"],
        time_to_trough=[1, 7, 45], rebound=[0.0, 1.0], half_life=[2.0], vol_multiplier=[0.0, 1.0, 3.0]),
        replicates=1, seed=42, streams="independent")
    coup = np.concatenate([rule_coupling(b)[["held", "halted"]].to_numpy() for b in generate_chunks(spec, 200)])
    held, halted = coup[:, 0], coup[:, 1]
    assert (held == halted).all()
    assert held.sum() > 100 and (~held).sum() > 100  # both kinds of path occur
