"""``scare audit``: prepare a study like a run, then audit its strategies afresh (verdicts are cached)."""

from __future__ import annotations

from backtests.audit.report import AuditReport
from backtests.audit.stage import audit_study
from backtests.config.loader import LoadedConfig
from backtests.errors import StrategyError
from backtests.orchestration.guards import (audit_bound, check_data_unchanged, planned, plugin_guards, plugin_site,
                                            plugins_of)
from backtests.orchestration.prepare import prepare_data
from backtests.strategy.integrity import verify


def audit_config(loaded: LoadedConfig, budget: float = 20.0, max_cuts: int | None = None, seed: int = 0,
                 only: list[str] | None = None, offline: bool = False) -> list[AuditReport]:
    """Audit the study's strategies (``only``: these labels) on its prepared data; their reports.

    ``budget`` is seconds per strategy, shared in turns (:func:`backtests.audit.stage.audit_study`);
    every strategy is audited and reported, none refused here (the command's exit code says).
    """
    with plugin_guards(loaded):
        plan = planned(loaded)
        labels = [sp.label for sp in plan.strategies]
        unknown = [x for x in only or [] if x not in labels]
        if unknown:
            raise StrategyError(f"no strategy labelled {unknown[0]!r} in the study (have: {', '.join(labels)})",
                                where="--strategy")
        study = prepare_data(plan, offline=offline)
        study.data.fingerprint()  # taken before any plug-in sees the data
        chosen = set(only) if only else None
        n = len(chosen) if chosen else len(plan.strategies)
        with audit_bound(budget * n if max_cuts is None else None, "--budget"):
            section = audit_study(study.plan, study.data, study.events, budget=budget * n, force=True,
                                  max_cuts=max_cuts, seed=seed, only=chosen, refuse=False)
        check_data_unchanged(study.data, f"the audit of {plugins_of(plan)}")
        verify(plugins_of(plan), "during the look-ahead audit", where=plugin_site(plan))
    for r in section["reports"]:
        if r.max_cuts is None:
            r.budget_seconds = budget  # the per-strategy figure the user gave (shared in turns)
    return section["reports"]
