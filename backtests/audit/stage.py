"""The audit stage of a study: audit every strategy not audited before, refuse the ones that cheat.

``scare run`` calls :func:`audit_study` between loading the data and running the strategies;
``scare audit`` calls it with ``force=True`` (always re-audit, larger budget) and prints the reports.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from backtests.audit.cache import events_digest, load_verdict, store_verdict, verdict_key
from backtests.audit.check import Audit
from backtests.audit.report import AuditReport
from backtests.data.market_data import MarketData
from backtests.errors import StrategyError
from backtests.config.plan import StudyPlan

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
        Seconds for all strategies that need an audit together, shared in rounds (one cut each in
        turn, see :func:`_share`).
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
    keys, reports, audits = {}, {}, {}
    ev_digest = events_digest(events)
    for sp in todo:
        keys[sp.label] = verdict_key(sp.strategy, data, sp.grid, ev_digest, symbols=sp.symbols())
        cached = None if force else load_verdict(keys[sp.label])
        if cached is not None:
            reports[sp.label] = cached
            continue
        audits[sp.label] = Audit(sp.strategy, data.select(sp.symbols()), sp.grid, events, seed=seed, label=sp.label,
                                 focus=[(w.start_utc, w.end_utc) for w in sp.windows])
    _share(audits, deadline, max_cuts)
    rows: list[dict[str, Any]] = []
    for sp in todo:
        stored = None
        if sp.label in audits:
            report = audits[sp.label].report
            report.budget_seconds, report.max_cuts = (budget, None) if max_cuts is None else (None, max_cuts)
            stored = store_verdict(keys[sp.label], report)
            reports[sp.label] = report
        report = reports[sp.label]
        rows.append({"strategy": sp.label, "verdict": report.verdict, "cached": report.cached,
                     "cuts_checked": report.checked, "cuts_candidates": report.candidates,
                     "calls": report.calls, "seconds": report.seconds, "key": keys[sp.label]["key"],
                     "cache_written": bool(report.cached or stored is not None),
                     "finding": report.line() if report.finding is not None else None})
    for sp in todo:
        report = reports[sp.label]
        if refuse and report.verdict in ("fail", "nondeterministic"):
            raise LookAheadRefused(f"refused by the look-ahead audit (skip with --no-audit): {report.line()}",
                                   where=f"strategies.{sp.index}")
    return {"enabled": True, "budget_seconds": budget if max_cuts is None else None, "max_cuts": max_cuts,
            "strategies": rows, "reports": [reports[sp.label] for sp in todo]}


def _share(audits: dict[str, Audit], deadline: float, max_cuts: int | None) -> None:
    """Check cuts of all audits in rounds, one cut each per round, so that every strategy gets as
    many cuts as the time allows whatever its cost; a strategy whose next cut would overrun the
    deadline stops there (at least one cut each). With ``max_cuts``, each checks that many."""
    live = [a for a in audits.values() if not a.finished]
    rounds = 0
    while live:
        rounds += 1
        for a in live:
            if max_cuts is None and a.report.checked > 0 and time.perf_counter() + a.per_call > deadline:
                continue
            a.run(budget=None, max_cuts=1)
        live = [a for a in live if not a.finished and a.report.verdict == "pass"
                and (rounds < max_cuts if max_cuts is not None else time.perf_counter() + a.per_call <= deadline)]


def audit_config(loaded: Any, budget: float = 20.0, max_cuts: int | None = None, seed: int = 0,
                 only: list[str] | None = None, offline: bool = False) -> list[AuditReport]:
    """``scare audit``: load a study's data and audit its strategies afresh (verdicts are cached).

    ``budget`` is seconds per strategy; every strategy is audited and reported (none refused here).
    """
    from backtests.data.sources import declared_series, load_market_data
    from backtests.config.plan import check_series, plan_study
    from backtests.data.coverage import check_windows

    plan = plan_study(loaded)
    labels = [sp.label for sp in plan.strategies]
    unknown = [x for x in only or [] if x not in labels]
    if unknown:
        raise StrategyError(f"no strategy labelled {unknown[0]!r} in the study (have: {', '.join(labels)})",
                            where="--strategy")
    check_series(plan, declared_series(plan.config.data, loaded.base_dir))
    data = load_market_data(plan.config.data, loaded.base_dir, offline=offline, limits=plan.config.limits)
    check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})
    check_windows(plan, data)
    chosen = set(only) if only else None
    n = len(chosen) if chosen else len(plan.strategies)
    section = audit_study(plan, data, plan.catalogue.frame(), budget=budget * n, force=True, max_cuts=max_cuts,
                          seed=seed, only=chosen, refuse=False)
    for r in section["reports"]:
        if r.max_cuts is None:
            r.budget_seconds = budget  # the per-strategy figure the user gave (shared in turns)
    return section["reports"]
