"""The audit's comparison is linear in combinations (counted in hash and equality calls on the
column labels, not timed) and inside the audit's time budget (a cut or a comparison that would
overrun stops the audit, which says so)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_world import HONEST, load_plugin, world
from backtests.audit import check
from backtests.audit.check import Audit
from backtests.audit.compare import compare_cells, first_difference


class Key:
    """A combination label that counts how often it is hashed or compared."""

    ops = 0

    def __init__(self, i: int) -> None:
        self.i = i

    def __hash__(self) -> int:
        Key.ops += 1
        return hash(self.i)

    def __eq__(self, other: object) -> bool:
        Key.ops += 1
        return isinstance(other, Key) and other.i == self.i

    def __lt__(self, other: Key) -> bool:
        return self.i < other.i

    def __repr__(self) -> str:
        return f"Key({self.i})"


def _frames(n: int, extra: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], tz="UTC")
    keys = [Key(i) for i in range(n)]
    cols = pd.MultiIndex.from_arrays([keys, ["AAA"] * n], names=["combo", "symbol"])
    full = pd.DataFrame(np.zeros((3, n)), index=index, columns=cols)
    other = full.copy()
    if extra:  # the truncated run has one more column, with a decision on the second day
        more = pd.MultiIndex.from_arrays([keys + [Key(n)], ["AAA"] * (n + 1)], names=["combo", "symbol"])
        other = pd.DataFrame(np.zeros((3, n + 1)), index=index, columns=more)
        other.iloc[0, n] = np.nan
    return full, other


def _ops(n: int, extra: bool) -> tuple[int, object]:
    full, other = _frames(n, extra)
    Key.ops = 0
    diff = first_difference(full, other, full.index[-1])
    return Key.ops, diff


@pytest.mark.parametrize("extra", [False, True], ids=["same columns", "a column more"])
def test_comparison_is_linear_in_combinations(extra):
    small, d_small = _ops(300, extra)
    large, d_large = _ops(3_000, extra)
    # ten times the combinations: about ten times the label operations (the quadratic comparison
    # of 0.2 rebuilt a set of every label per label: a hundred times)
    assert large <= 15 * max(small, 1), (small, large)
    if extra:
        assert d_small.symbol == d_large.symbol == "AAA" and d_large.full is None and d_large.other == 0.0
        assert d_large.stamp == pd.Timestamp("2024-01-03", tz="UTC")
    else:
        assert d_small is None and d_large is None


def test_comparison_finds_the_first_difference_across_blocks(monkeypatch):
    from backtests.audit import compare

    monkeypatch.setattr(compare, "BLOCK_CELLS", 7)  # blocks of 2 columns on 3 rows
    index = pd.date_range("2024-01-02", periods=3, tz="UTC")
    cols = pd.MultiIndex.from_product([range(5), ["X"]], names=["combo", "symbol"])
    full = pd.DataFrame(np.zeros((3, 5)), index=index, columns=cols)
    other = full.copy()
    other.iloc[2, 0] = 1.0  # later stamp, first block
    other.iloc[1, 4] = 2.0  # earlier stamp, last block: the first difference
    other.iloc[1, 3] = np.nan
    d = first_difference(full, other, index[-1])
    assert (d.stamp, d.combo, d.full, d.other, d.count) == (index[1], 3, 0.0, None, 3)
    assert compare_cells(full, other, index[1]) == 2 * 5


def _audit() -> Audit:
    cls, _ = load_plugin(next(p for p in HONEST if p.stem == "momentum"))
    data, events = world()
    return Audit(cls(), data, {"window": list(range(2, 12))}, events)


def test_the_next_cut_is_estimated_with_its_comparison():
    audit = _audit()
    audit.compare_rate = 1e-3
    nxt = audit.cuts[0]
    cells = compare_cells(audit.full, audit.full, nxt.t)
    assert audit.per_call == pytest.approx(audit.call_seconds + cells * 1e-3)


def test_a_cut_whose_comparison_would_overrun_is_not_started():
    audit = _audit()
    audit.compare_rate = 1.0  # a second per decision: any comparison overruns
    report = audit.run(budget=5.0)
    assert report.checked == 1 < report.candidates  # the first cut is always checked
    assert report.stopped.startswith("time budget: the next cut (strategy call and comparison)")
    assert "stopped by the time budget" in report.text() and "NOT exhaustive" in report.text()
    assert report.verdict == "pass"


def test_a_comparison_that_would_overrun_stops_the_audit_after_the_call(monkeypatch):
    audit = _audit()
    monkeypatch.setattr(Audit, "per_call", property(lambda self: 0.0))  # every cut looks affordable
    audit.compare_rate = 1.0
    calls = audit.calls
    report = audit.run(budget=5.0)
    assert report.checked == 1 and audit.calls == calls + 2  # the second cut's call ran, not its comparison
    assert report.stopped.startswith("time budget: comparing its decisions at the")
    assert report.cut_stamps == [report.cut_stamps[0]] and len(audit.cuts) == report.candidates - 1
    assert check.AuditReport.from_record(report.record()).stopped == report.stopped
