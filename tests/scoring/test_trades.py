"""Trades: round trips from the fills, and one trigger seen from two overlapping windows counted once,
by the one rule every count uses (pooled n_trades, the tearsheet's statistics, table and charts)."""

import numpy as np
import pandas as pd
import pytest

from backtests.scoring.evaluate_events import distinct_entries
from backtests.scoring.trades import distinct_trades, openings, round_trips, trade_stats, trades_block


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


def test_a_flip_closes_one_trade_and_opens_the_next():
    o = _orders([("a", "Z", "2026-01-01", "buy", 10.0), ("a", "Z", "2026-01-02", "sell", 20.0),
                 ("a", "Z", "2026-01-03", "buy", 10.0)])
    assert list(openings(o)["fill"]) == list(pd.DatetimeIndex(pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)).as_unit("ns").asi8)
    np.testing.assert_array_equal(distinct_entries(o, {"a": 0}, 1), [2])


def test_round_trips() -> None:
    t = pd.Timestamp("2025-01-27 21:00", tz="UTC")
    orders = pd.DataFrame([
        ("a", "w", t, "X", "buy", 10.0, 100.0, 1.0),
        ("a", "w", t + pd.Timedelta(days=1), "X", "sell", 10.0, 110.0, 1.0),
        ("a", "w", t, "Y", "sell", 5.0, 50.0, 0.5),
        ("a", "w", t + pd.Timedelta(days=2), "Y", "buy", 5.0, 40.0, 0.5),
        ("a", "w", t, "Z", "buy", 10.0, 100.0, 0.0),
        ("a", "w", t + pd.Timedelta(days=1), "Z", "sell", 20.0, 90.0, 0.0),  # close long, open short
        ("a", "w", t + pd.Timedelta(days=2), "Z", "buy", 10.0, 81.0, 0.0),
        ("a", "w", t, "OPEN", "buy", 3.0, 10.0, 0.0),
        ("b", "w", t, "X", "buy", 1.0, 1.0, 0.0),  # another run: filtered out
    ], columns=["run", "window", "time", "symbol", "side", "size", "price", "fees"])
    tr = round_trips(orders, ["a"])
    got = {(r.symbol, r.side): r for r in tr.itertuples()}
    assert len(tr) == 5
    assert got[("X", "long")].ret == pytest.approx(0.10) and got[("X", "long")].fees == pytest.approx(2.0)
    assert got[("Y", "short")].ret == pytest.approx(0.20)
    assert got[("Z", "long")].ret == pytest.approx(-0.10) and got[("Z", "short")].ret == pytest.approx(0.10)
    assert pd.isna(got[("OPEN", "long")].exit_time) and np.isnan(got[("OPEN", "long")].ret)


def _kospi_like() -> pd.DataFrame:
    """Window A (03-04) holds two trades, window B (03-09) holds the second again: 3 round trips, 2 trades."""
    rows = [("rA", "A", "2026-03-04 06:30", "buy", 100.0, 50.0, 1.0), ("rA", "A", "2026-03-05 06:30", "sell", 100.0, 55.0, 2.0),
            ("rA", "A", "2026-03-09 06:30", "buy", 110.0, 52.0, 1.0), ("rA", "A", "2026-03-10 06:30", "sell", 110.0, 54.6, 2.0),
            ("rB", "B", "2026-03-09 06:30", "buy", 95.0, 52.0, 1.0), ("rB", "B", "2026-03-10 06:30", "sell", 95.0, 54.6, 2.0)]
    o = pd.DataFrame(rows, columns=["run", "window", "fill_time", "side", "size", "price", "fees"])
    o["fill_time"] = pd.to_datetime(o["fill_time"], utc=True)
    return o.assign(time=o["fill_time"], symbol="KODEX", fill_kind="close")


def test_the_trade_seen_from_two_windows_is_kept_once_from_the_first_window():
    o = _kospi_like()
    trips = round_trips(o, ["rA", "rB"])
    assert len(trips) == 3
    kept = distinct_trades(trips, ["rA", "rB"])
    assert len(kept) == 2 and list(kept["run"]) == ["rA", "rA"]
    assert [list(w) for w in kept["windows"]] == [["A"], ["A", "B"]]
    # the window order decides which copy is kept, not the table's order
    assert list(distinct_trades(trips.iloc[::-1], ["rB", "rA"])["run"]) == ["rA", "rB"]
    block = trades_block(o, ["rA", "rB"], ["A", "B"])
    assert block["stats"]["n_trades"] == 2 and block["merged"] == 1
    assert block["by_window"] == {"A": {"trades": 2, "seen_elsewhere": 0}, "B": {"trades": 0, "seen_elsewhere": 1}}
    # the count matches the pooled n_trades rule
    assert distinct_entries(o, {"rA": 0, "rB": 0}, 1)[0] == block["stats"]["n_trades"]
    rec = block["trades"][1]
    assert rec["return"] == pytest.approx(54.6 / 52 - 1) and rec["net_return"] == pytest.approx(54.6 / 52 - 1 - 3 / (110 * 52))


def test_trade_stats_from_the_trades():
    trades = pd.DataFrame({"ret": [0.10, -0.05, 0.02, np.nan],
                           "entry_time": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"], utc=True),
                           "exit_time": pd.to_datetime(["2026-01-02", "2026-01-05", "2026-01-04", None], utc=True),
                           "fees": [0.0, 0.0, 0.0, 0.0], "size": [1.0] * 4, "entry_price": [1.0] * 4})
    st = trade_stats(trades)
    assert (st["n_trades"], st["n_closed"], st["n_open"]) == (4, 3, 1)
    assert st["win_rate"] == pytest.approx(2 / 3) and st["average_win"] == pytest.approx(0.06)
    assert st["average_loss"] == pytest.approx(-0.05) and st["payoff"] == pytest.approx(0.06 / 0.05)
    assert st["expectancy"] == pytest.approx(0.07 / 3) and (st["best"], st["worst"]) == (0.10, -0.05)
    assert st["holding_days_median"] == 1.0 and st["holding_days_max"] == 3.0
