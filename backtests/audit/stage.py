"""The audit stage of a study: audit every strategy not audited before, refuse the ones that cheat.

``scare run`` calls :func:`audit_study` on the prepared study (plan, data, events) before running the
strategies; ``scare audit`` calls it with ``force=True`` (always re-audit, larger budget) and prints
the reports.

A verdict the cache holds is reused only when it is final: a failure, or a pass over **every**
candidate cut. A pass over some of them (the run's time budget ran out) is *partial*: it is cached
as such (with the cuts it checked), and the next run audits the remaining cuts, carrying the
checked ones over, until the pass is exhaustive or a cut finds look-ahead. The run's console line
and the tearsheet say which (:func:`audit_line`).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from backtests.audit.verdicts import events_digest, load_verdict, store_verdict, verdict_key
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
        The prepared study: its plan checked against its data, the data, and the events
        (``Catalogue.frame()``).
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
        ``reports`` holds the :class:`~backtests.audit.report.AuditReport` objects (dropped from the manifest).
    """
    if not enabled:
        return {"enabled": False, "note": "look-ahead audit skipped (--no-audit)", "strategies": [], "reports": []}
    todo = [sp for sp in plan.strategies if only is None or sp.label in only]
    deadline = time.perf_counter() + budget
    keys, reports, audits = {}, {}, {}
    ev_digest = events_digest(events)
    resumed: dict[str, int] = {}
    for sp in todo:
        keys[sp.label] = verdict_key(sp.strategy, data, sp.grid, ev_digest, symbols=sp.symbols())
        cached = None if force else load_verdict(keys[sp.label])
        if cached is not None and (cached.verdict != "pass" or cached.exhaustive):
            reports[sp.label] = cached  # final: a finding, or a pass over every candidate cut
            continue
        audits[sp.label] = Audit(sp.strategy, data.select(sp.symbols()), sp.grid, events, seed=seed, label=sp.label,
                                 focus=[(w.start_utc, w.end_utc) for w in sp.windows])
        if cached is not None and resume_partial(audits[sp.label], cached):
            resumed[sp.label] = cached.checked
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
        rows.append({"strategy": sp.label, "verdict": report.verdict, "status": report.status(),
                     "exhaustive": report.exhaustive, "cached": report.cached,
                     "cuts_checked": report.checked, "cuts_candidates": report.candidates,
                     "cuts_carried_over": resumed.get(sp.label, 0),
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


def resume_partial(audit: Audit, cached: AuditReport) -> bool:
    """Carry a cached partial pass into a fresh :class:`Audit` of the same key: the cuts it checked are
    dropped from the ones to check and counted as checked (per kind), with their calls, time and
    skipped cuts. False (nothing carried: the audit starts over) when the cut candidates differ
    from those the cached report counted."""
    want = {k: v["candidates"] for k, v in audit.report.cuts.items()}
    if want != {k: v["candidates"] for k, v in cached.cuts.items()}:
        return False
    done = set(cached.cut_stamps)
    left = [c for c in audit.cuts if c.t.isoformat() not in done]
    if len(audit.cuts) - len(left) != cached.checked:  # not the cuts the cached report checked
        return False
    audit.cuts = left
    rep = audit.report
    for kind, v in cached.cuts.items():
        rep.cuts[kind]["checked"] = v["checked"]
    rep.cut_stamps = list(cached.cut_stamps)
    rep.skipped = list(cached.skipped)
    audit.calls += cached.calls
    audit.seconds += cached.seconds
    rep.calls, rep.seconds = audit.calls, round(audit.seconds, 3)
    return True


def audit_line(section: dict[str, Any]) -> str:
    """The audit in one line for the run's console: per strategy its status (``partial`` when not
    every candidate cut was checked, ``cached`` when the verdict was reused)."""
    if not section.get("enabled", True):
        return "look-ahead audit: skipped (--no-audit)"
    rows = section.get("strategies") or []
    if not rows:
        return "look-ahead audit: no strategy audited"
    parts = []
    for r in rows:
        status = r.get("status") or r.get("verdict")
        if r.get("verdict") == "pass" and not r.get("exhaustive", True):
            status = f"{status}; the rest on the next run"
        parts.append(f"{r['strategy']} {status}{' (cached)' if r.get('cached') else ''}")
    return "look-ahead audit: " + "; ".join(parts)


def _share(audits: dict[str, Audit], deadline: float, max_cuts: int | None) -> None:
    """Check cuts of all audits in rounds, one cut each per round, so that every strategy gets as
    many cuts as the time allows whatever its cost; a strategy whose next cut would overrun the
    deadline stops there (at least one cut each). With ``max_cuts``, each checks that many."""
    live = [a for a in audits.values() if not a.finished]
    before = {id(a): a.report.checked for a in live}  # cuts carried over from a partial verdict
    rounds = 0
    while live:
        rounds += 1
        for a in live:
            # at least one new cut each, so a partial verdict progresses on every run
            if max_cuts is None and a.report.checked > before[id(a)] and time.perf_counter() + a.per_call > deadline:
                continue
            a.run(budget=None, max_cuts=1)
        live = [a for a in live if not a.finished and a.report.verdict == "pass"
                and (rounds < max_cuts if max_cuts is not None else time.perf_counter() + a.per_call <= deadline)]
