"""``scare audit``: prepare a study like a run, then audit its strategies afresh (verdicts are cached)."""

from __future__ import annotations

from backtests.audit.report import AuditReport
from backtests.config.loader import LoadedConfig
from backtests.errors import StrategyError
from backtests.orchestration.guards import guarded_audit, planned, plugin_guards
from backtests.orchestration.prepare import prepare_data
from backtests.orchestration.progress import QUIET_PLANNING, Stages, count, say_loading


def audit_config(loaded: LoadedConfig, budget: float = 20.0, max_cuts: int | None = None, seed: int = 0,
                 only: list[str] | None = None, offline: bool = False,
                 stages: Stages | None = None) -> list[AuditReport]:
    """Audit the study's strategies (``only``: these labels) on its prepared data; their reports.

    ``budget`` is seconds per strategy, shared in turns (:func:`backtests.audit.stage.audit_study`);
    every strategy is audited and reported, none refused here (the command's exit code says).
    ``stages`` says what it is doing (default: nothing).
    """
    stages = stages or Stages(enabled=False)
    with plugin_guards(loaded):
        stages.say(f"planning {loaded.source.path}: importing its strategies ...", quiet=QUIET_PLANNING)
        plan = planned(loaded)
        labels = [sp.label for sp in plan.strategies]
        unknown = [x for x in only or [] if x not in labels]
        if unknown:
            raise StrategyError(f"no strategy labelled {unknown[0]!r} in the study (have: {', '.join(labels)})",
                                where="--strategy")
        say_loading(stages, plan)
        study = prepare_data(plan, offline=offline)
        study.data.fingerprint()  # taken before any plug-in sees the data
        chosen = set(only) if only else None
        n = len(chosen) if chosen else len(plan.strategies)
        bound = f"{max_cuts} cut(s) each" if max_cuts is not None else f"{budget:g} s each"
        stages.say(f"auditing {count(n, 'strategy', 'strategies')} for look-ahead ({bound}): truncating the data "
                   "at each cut and comparing decisions ...")
        section = guarded_audit(study, True, budget * n, force=True, max_cuts=max_cuts, seed=seed, only=chosen,
                                refuse=False)
    for r in section["reports"]:
        if r.max_cuts is None:
            r.budget_seconds = budget  # the per-strategy figure the user gave (shared in turns)
    return section["reports"]
