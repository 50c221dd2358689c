"""The engine's per-window notices merge across chunks: the count is in ``count``, never in the text."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from backtests.engine.results import legged_notice, one_leg_notice
from backtests.notices import Notice, merge


def _window() -> SimpleNamespace:
    return SimpleNamespace(id="w")  # the notices read the window's id only


def _merged(records: list[dict]) -> list[dict]:
    return merge([Notice.from_record(r) for r in records])


def test_chunks_give_the_notices_of_one_chunk():
    win = _window()
    legged = np.array([1, 0, 2, 3, 0, 1])
    legs = np.array([1, 2, 1, 0, 1, 2])
    whole = legged_notice(win, legged) + one_leg_notice(win, legs, 2)
    halves = (legged_notice(win, legged[:3]) + legged_notice(win, legged[3:])
              + one_leg_notice(win, legs[:2], 2) + one_leg_notice(win, legs[2:], 2))
    assert _merged(halves) == _merged(whole)
    counts = {r["code"]: r["count"] for r in _merged(whole)}
    assert counts == {"legs_not_together": 4, "pair_one_leg": 3}
