"""The guards a command puts around plug-in code (backtests.orchestration.guards): here the bound of
the look-ahead audit's calls; the others are exercised through the hostile corpus (tests/hostile/)."""

from __future__ import annotations

from backtests.orchestration.guards import AUDIT_CALL_FLOOR, audit_bound
from backtests.strategy.bounds import call_limit, current_limit


def test_the_audit_bounds_each_call_by_its_budget():
    with audit_bound(2 * AUDIT_CALL_FLOOR):
        assert current_limit() == (2 * AUDIT_CALL_FLOOR, "the look-ahead audit's budget, --audit-budget")


def test_a_budget_shorter_than_the_floor_still_lets_a_call_finish():
    """The audit checks at least one new cut per run whatever its budget (#21 B): a one-microsecond
    budget bounds a call by the floor, and says so."""
    with audit_bound(1e-6, "--budget"):
        assert current_limit() == (AUDIT_CALL_FLOOR, f"the look-ahead audit's budget, --budget, at least "
                                                     f"{AUDIT_CALL_FLOOR:g} s")


def test_the_run_limit_still_applies_when_shorter_and_no_audit_adds_no_bound():
    with call_limit(5.0):
        with audit_bound(3 * AUDIT_CALL_FLOOR):
            assert current_limit() == (5.0, "limits.plugin_call_seconds")
        with audit_bound(None):
            assert current_limit() == (5.0, "limits.plugin_call_seconds")
    with audit_bound(None):
        assert current_limit() == (None, "")
