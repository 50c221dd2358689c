"""The audit stage of a study: audit every strategy not audited before, refuse the ones that cheat.

``scare run`` calls :func:`audit_study` between loading the data and running the strategies;
``scare audit`` calls it with ``force=True`` (always re-audit, larger budget) and prints the reports.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from backtests.audit.cache import load_verdict, store_verdict, verdict_key
from backtests.audit.check import audit_strategy
from backtests.audit.report import AuditReport
from backtests.data.market_data import MarketData
from backtests.errors import StrategyError
from backtests.plan import StudyPlan

#: default time budget of the audit inside ``scare run``, seconds for the whole study
RUN_BUDGET = 10.0


class LookAheadRefused(StrategyError):
    """A strategy failed the look-ahead audit: the run is refused (exit 2, the finding on one line)."""


def audit_study(plan: StudyPlan, data: MarketData, events: pd.DataFrame, enabled: bool = True,
                budget: float = RUN_BUDGET, force: bool = False, max_cuts: int | None = None, seed: int = 0,
                only: set[str] | None = None, refuse: bool = True) -> dict[str, Any]:
    """Audit the study's strategies; the manifest's ``audit`` section.

    Parameters
    ----------
    plan, data, events
        The study as the runner has it (events: ``Catalogue.frame()``).
    enabled
        False (``--no-audit``): nothing is audited and the section says so.
    budget
        Seconds for all strategies that need an audit together; each gets an equal share of what
        is left (a quick one leaves time to the next).
    force
        Re-audit even strategies with a cached verdict.
    max_cuts, seed
        Passed to :func:`backtests.audit.check.audit_strategy`.
    only
        Audit only these strategy labels.
    refuse
        Raise :class:`LookAheadRefused` on the first strategy that fails (after storing its verdict).

    Returns
    -------
    dict
        ``{"enabled", "budget_seconds", "strategies": [{label, verdict, cached, ...}], "reports"}``;
        ``reports`` holds the :class:`AuditReport` objects (dropped from the manifest).
    """
    if not enabled:
        return {"enabled": False, "note": "look-ahead audit skipped (--no-audit)", "strategies": [], "reports": []}
    todo = [sp for sp in plan.strategies if only is None or sp.label in only]
    deadline = time.perf_counter() + budget
    rows: list[dict[str, Any]] = []
    reports: list[AuditReport] = []
    for n, sp in enumerate(todo):
        sub = data.select(sp.symbols())
        key = verdict_key(sp.strategy, sub, sp.grid, events)
        report = None if force else load_verdict(key)
        stored = None
        if report is None:
            share = max(deadline - time.perf_counter(), 0.0) / (len(todo) - n)
            report = audit_strategy(sp.strategy, sub, sp.grid, events, budget=share, max_cuts=max_cuts, seed=seed,
                                    focus=[(w.start_utc, w.end_utc) for w in sp.windows], label=sp.label)
            stored = store_verdict(key, report)
        reports.append(report)
        rows.append({"strategy": sp.label, "verdict": report.verdict, "cached": report.cached,
                     "cuts_checked": report.checked, "cuts_candidates": report.candidates,
                     "calls": report.calls, "seconds": report.seconds, "key": key["key"],
                     "cache_written": bool(report.cached or stored is not None),
                     "finding": report.line() if report.finding is not None else None})
        if refuse and report.verdict in ("fail", "nondeterministic"):
            raise LookAheadRefused(f"refused by the look-ahead audit (skip with --no-audit): {report.line()}",
                                   where=f"strategies.{sp.index}")
    return {"enabled": True, "budget_seconds": budget, "strategies": rows, "reports": reports}


def audit_config(loaded: Any, budget: float = 20.0, max_cuts: int | None = None, seed: int = 0,
                 only: list[str] | None = None, offline: bool = False) -> list[AuditReport]:
    """``scare audit``: load a study's data and audit its strategies afresh (verdicts are cached).

    ``budget`` is seconds per strategy; every strategy is audited and reported (none refused here).
    """
    from backtests.data.sources import declared_series, load_market_data
    from backtests.plan import check_series, plan_study
    from backtests.runner import check_windows

    plan = plan_study(loaded)
    labels = [sp.label for sp in plan.strategies]
    unknown = [x for x in only or [] if x not in labels]
    if unknown:
        raise StrategyError(f"no strategy labelled {unknown[0]!r} in the study (have: {', '.join(labels)})",
                            where="--strategy")
    check_series(plan, declared_series(plan.config.data, loaded.base_dir))
    data = load_market_data(plan.config.data, loaded.base_dir, offline=offline)
    check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})
    check_windows(plan, data)
    chosen = set(only) if only else None
    n = len(chosen) if chosen else len(plan.strategies)
    section = audit_study(plan, data, plan.catalogue.frame(), budget=budget * n, force=True, max_cuts=max_cuts,
                          seed=seed, only=chosen, refuse=False)
    return section["reports"]
