"""What a command puts around the plug-in code it runs (see docs/strategies.md, "What scare guards
against").

* :func:`plugin_guards`: for the whole command, a snapshot of scare's own functions taken before
  any plug-in is imported (:mod:`backtests.strategy.integrity`) and the time bound of one plug-in
  call (``limits.plugin_call_seconds``, :mod:`backtests.strategy.bounds`);
* :func:`planned`: the plan (plug-ins imported, ``__init__`` and ``check_params`` run), then scare's
  code checked against the snapshot;
* :func:`audit_bound`: during the look-ahead audit, no call may take longer than the audit's budget
  (at least :data:`AUDIT_CALL_FLOOR`);
* :func:`check_data_unchanged`: the market data still hashes to the fingerprint taken when it
  loaded, after the plug-ins' calls (the backstop behind the read-only views they get);
* :func:`check_audit_section`: the audit stage reported on what it was asked to, so the manifest
  records what happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

# The look-ahead audit (imported below) and the call path are loaded before any snapshot, whatever
# the command: a plug-in that imports and patches them itself is then caught by validate too.
import backtests.strategy.calls  # noqa: F401
from backtests.audit.stage import audit_study
from backtests.config.loader import LoadedConfig
from backtests.config.plan import StudyPlan
from backtests.data.market_data import MarketData
from backtests.errors import StrategyError
from backtests.orchestration.prepare import PreparedStudy, plan_checked
from backtests.strategy.bounds import call_limit
from backtests.strategy.guard import definition_line
from backtests.strategy.integrity import verify, watching


@contextmanager
def plugin_guards(loaded: LoadedConfig) -> Iterator[None]:
    """The guards of one command over a study: enter before any plug-in is imported."""
    with ExitStack() as stack:
        stack.enter_context(watching())
        stack.enter_context(call_limit(loaded.config.limits.plugin_call_seconds))
        yield


def plugins_of(plan: StudyPlan) -> str:
    """The study's plug-ins as a message names them."""
    names = sorted({sp.spec.name for sp in plan.strategies if ":" in sp.spec.name}) or \
        sorted({sp.spec.name for sp in plan.strategies})
    return "plug-in " + " or ".join(repr(n) for n in names)


def plugin_site(plan: StudyPlan) -> str | None:
    """``file:line`` of the study's plug-in class when there is one (``module:Class`` strategies
    first), else None: where a check made after several plug-ins ran can point."""
    classes = {type(sp.strategy) for sp in plan.strategies if ":" in sp.spec.name} or \
        {type(sp.strategy) for sp in plan.strategies}
    return definition_line(classes.pop()) if len(classes) == 1 else None


def planned(loaded: LoadedConfig) -> StudyPlan:
    """:func:`~backtests.orchestration.prepare.plan_checked`, then scare's code checked: a plug-in's
    ``__init__`` or ``check_params`` may not have replaced it either."""
    plan = plan_checked(loaded)
    verify(plugins_of(plan), "in __init__() or check_params()", where=plugin_site(plan))
    return plan


#: Seconds a call during the look-ahead audit may always take, however small the budget: the audit
#: checks at least one new cut per run (a partial verdict progresses, docs/strategies.md), so a call
#: must be allowed to finish even when the budget is shorter than one call.
AUDIT_CALL_FLOOR = 60.0


@contextmanager
def audit_bound(budget: float | None, flag: str = "--audit-budget") -> Iterator[None]:
    """No plug-in call during the look-ahead audit may take longer than the audit's whole budget, or
    :data:`AUDIT_CALL_FLOOR` when that is longer (``limits.plugin_call_seconds`` still applies when
    shorter)."""
    if budget is None:
        yield
        return
    seconds = max(budget, AUDIT_CALL_FLOOR)
    floor = f", at least {AUDIT_CALL_FLOOR:g} s" if seconds > budget else ""
    with call_limit(seconds, f"the look-ahead audit's budget, {flag}{floor}"):
        yield


def check_data_unchanged(data: MarketData, who: str) -> None:
    """Refuse when the market data no longer hashes to its fingerprint (a plug-in wrote into it
    through scare's internals): ``who`` names the strategies that ran since the last check."""
    changed = data.unchanged()
    if changed:
        shown = ", ".join(changed[:3]) + (" and others" if len(changed) > 3 else "")
        raise StrategyError(f"{who} changed the market data of {shown} although it is handed read-only copies: "
                            "a plug-in may not write into scare's data; the results would be computed on "
                            "prices that are not the data's")


def guarded_audit(study: PreparedStudy, enabled: bool, budget: float, **kwargs: Any) -> dict[str, Any]:
    """The look-ahead audit of a prepared study with its guards: each call bounded by the budget,
    the section checked against what was asked, the data and scare's code checked after it."""
    with audit_bound(budget if enabled else None):
        section = audit_study(study.plan, study.data, study.events, enabled=enabled, budget=budget, **kwargs)
    section = check_audit_section(section, study.plan, enabled, only=kwargs.get("only"))
    if enabled:
        check_data_unchanged(study.data, f"the look-ahead audit of {plugins_of(study.plan)}")
        verify(plugins_of(study.plan), "during the look-ahead audit", where=plugin_site(study.plan))
    return section


def check_audit_section(section: dict[str, Any], plan: StudyPlan, enabled: bool,
                        only: set[str] | None = None) -> dict[str, Any]:
    """The audit stage's report, checked against what was asked (every strategy, or those in
    ``only``, has a verdict when the audit ran; nothing when it was switched off) and stamped with
    whether it ran."""
    labels = [sp.label for sp in plan.strategies if only is None or sp.label in only]
    rows = section.get("strategies") if isinstance(section, dict) else None
    got = [r.get("strategy") for r in rows if isinstance(r, dict)] if isinstance(rows, list) else None
    if got is None or (enabled and sorted(got) != sorted(labels)) or (not enabled and got):
        raise StrategyError("the look-ahead audit did not report on the study's strategies; scare's audit must "
                            "have been replaced: refusing the run")
    return {**section, "enabled": enabled}
