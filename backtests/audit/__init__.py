"""The look-ahead audit: data after ``t`` must not change any decision at or before ``t``.

One module per job: :mod:`~backtests.audit.cuts` chooses the cut instants,
:mod:`~backtests.audit.truncate` builds the world known at a cut (per channel),
:mod:`~backtests.audit.compare` compares decisions and names the channel responsible,
:mod:`~backtests.audit.check` runs one strategy's audit within a budget,
:mod:`~backtests.audit.verdicts` keeps verdicts, :mod:`~backtests.audit.report` holds the results and
:mod:`~backtests.audit.stage` audits a prepared study (``scare run``, ``scare audit``);
:mod:`~backtests.audit.lookahead` is the same audit as an assertion for a plug-in's own tests.
"""

from backtests.audit.check import DEFAULT_BUDGET, audit_strategy
from backtests.audit.lookahead import LookAheadError, assert_no_lookahead
from backtests.audit.report import AuditReport, Finding

__all__ = ["DEFAULT_BUDGET", "AuditReport", "Finding", "LookAheadError", "assert_no_lookahead", "audit_strategy"]
