"""scare's own functions, recorded before plug-ins run and checked after (backtests.strategy.integrity)."""

from __future__ import annotations

import pytest

import backtests.audit.check as check
import backtests.audit.stage as stage
from backtests.errors import StrategyError
from backtests.strategy import integrity


def _other(*args, **kwargs):
    return None


def test_a_replaced_function_is_found_named_and_put_back():
    snap = integrity.snapshot()
    real = stage.audit_study
    stage.audit_study = _other
    try:
        assert [integrity.name_of(e) for e in snap.changes()] == ["backtests.audit.stage.audit_study"]
        snap.restore(snap.changes())
    finally:
        stage.audit_study = real
    assert stage.audit_study is real and not snap.changes()


def test_swapped_code_a_replaced_method_and_property_are_found():
    snap = integrity.snapshot()
    code, run, finished = stage.audit_study.__code__, check.Audit.run, check.Audit.__dict__["finished"]
    try:
        stage.audit_study.__code__ = _other.__code__
        check.Audit.run = _other
        check.Audit.finished = property(lambda self: True)
        names = {integrity.name_of(e) for e in snap.changes()}
        assert {"backtests.audit.stage.audit_study", "backtests.audit.check.Audit.run",
                "backtests.audit.check.Audit.finished"} <= names
        snap.restore(snap.changes())
        assert stage.audit_study.__code__ is code and check.Audit.run is run
        assert check.Audit.__dict__["finished"] is finished and not snap.changes()
    finally:
        stage.audit_study.__code__, check.Audit.run = code, run
        check.Audit.finished = finished


def test_verify_refuses_naming_the_plugin_and_restores():
    real = stage.audit_study
    with integrity.watching():
        stage.audit_study = _other
        with pytest.raises(StrategyError, match=r"module 'evil' replaced scare's own "
                                                r"backtests.audit.stage.audit_study when it was imported"):
            integrity.verify("module 'evil'", "when it was imported", where="evil.py")
        assert stage.audit_study is real
    integrity.verify("nobody", "outside a command")  # no snapshot: nothing to compare


def test_a_nested_command_keeps_the_outer_snapshot():
    with integrity.watching() as outer, integrity.watching() as inner:
        assert inner is outer
