"""Per-scenario random streams: a key's numbers never depend on the other keys drawn with it."""

from __future__ import annotations

import numpy as np

from backtests.scenarios.streams import Layout, draw, scenario_rng


def test_rows_depend_only_on_seed_and_key():
    layout = Layout.build([("normals", "a", 5), ("exponentials", "b", 3), ("uniforms", "c", 2), ("normals", "d", 4)])
    many = draw(7, np.array([3, 1, 3, 8]), layout)
    one = draw(7, np.array([1]), layout)
    assert np.array_equal(many.normals[1], one.normals[0])
    assert np.array_equal(many.normals[0], many.normals[2])  # a shared key shares its row
    assert not np.array_equal(many.normals[0], many.normals[3])
    rng = scenario_rng(7, 8)
    assert np.array_equal(many.normals[3], rng.standard_normal(9))
    assert np.array_equal(many.exponentials[3], rng.standard_exponential(3))
    assert np.array_equal(many.get("normals", "d")[3], many.normals[3, 5:9])
    assert not np.array_equal(draw(8, np.array([1]), layout).normals, one.normals)
