"""Pooled n_trades counts a real trade once even when two overlapping episodes both hold it."""

import numpy as np
import pandas as pd

from backtests.scoring.evaluate_events import distinct_entries


def _orders(rows):
    return pd.DataFrame(rows, columns=["run", "symbol", "fill_time", "side", "size"]).assign(
        fill_time=lambda f: pd.to_datetime(f["fill_time"], utc=True))


def test_one_trigger_in_two_windows_is_one_trade():
    # combo 0 runs in windows A and B; B's trade (03-09 buy, 03-10 sell) is also in A.
    orders = _orders([
        ("a0", "X", "2026-03-04 06:30", "buy", 10.0), ("a0", "X", "2026-03-05 06:30", "sell", 10.0),
        ("a0", "X", "2026-03-09 06:30", "buy", 12.0), ("a0", "X", "2026-03-10 06:30", "sell", 12.0),
        ("b0", "X", "2026-03-09 06:30", "buy", 11.0), ("b0", "X", "2026-03-10 06:30", "sell", 11.0),
        # combo 1: a rebalance while long is not an entry; a short opened after flat is
        ("a1", "X", "2026-03-04 06:30", "buy", 10.0), ("a1", "X", "2026-03-05 06:30", "buy", 5.0),
        ("a1", "X", "2026-03-06 06:30", "sell", 15.0), ("a1", "X", "2026-03-09 06:30", "sell", 4.0),
    ])
    got = distinct_entries(orders, {"a0": 0, "b0": 0, "a1": 1, "b1": 1}, 2)
    # combo 0: entries 03-04 and 03-09 (in A) + 03-09 (in B, same instant and symbol) = 2 distinct
    # combo 1: the long opened 03-04 and the short opened 03-09 = 2
    np.testing.assert_array_equal(got, [2, 2])


def test_without_orders_the_caller_falls_back():
    assert distinct_entries(None, {}, 3) is None
    np.testing.assert_array_equal(distinct_entries(_orders([]), {}, 3), [0, 0, 0])
