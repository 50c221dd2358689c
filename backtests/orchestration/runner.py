"""``scare run``: the only place that knows the order of the stages, and nothing else.

prepare (plan, check declared series) -> lock the output folder -> prepare (load, check series and
windows against the data) -> audit -> sweep -> score -> write. Each stage lives in its own module:
:mod:`.prepare`, :mod:`backtests.outputs.folder`, :mod:`backtests.audit.stage`, :mod:`.compute`,
:mod:`backtests.outputs.write`; SIGTERM is handled like Ctrl-C (:mod:`.interrupt`).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

from backtests.audit.stage import RUN_BUDGET
from backtests.config.loader import LoadedConfig
from backtests.config.plan import StudyPlan
from backtests.data.market_data import MarketData
from backtests.digest import scare_digest
from backtests.orchestration.compute import keeps_all_weights, score_study, study_result, sweep_study
from backtests.orchestration.guards import guarded_audit, planned, plugin_guards
from backtests.orchestration.interrupt import terminate_as_interrupt
from backtests.orchestration.prepare import prepare_data
from backtests.orchestration.progress import QUIET_PLANNING, Stages, count, say_loading
from backtests.outputs import data_fingerprint, write_outputs
from backtests.outputs.folder import RunFolder
from backtests.sweep.checkpoints import checkpointing
from backtests.sweep.results import StudyResult


def run_study(loaded: LoadedConfig, out_dir: Path | None = None, progress: bool | None = True,
              write: bool = True, offline: bool = False, resume: bool = False, audit: bool = True,
              audit_budget: float = RUN_BUDGET, stages: Stages | None = None,
              plan: StudyPlan | None = None, data: MarketData | None = None) -> StudyResult:
    """Run a validated study config end to end.

    Everything that can be checked before loading data is (:func:`.prepare.plan_checked`). With
    ``write``, the output folder is then checked and locked before any work (see
    :mod:`backtests.outputs.folder`) and finished chunks are checkpointed inside it; Ctrl-C (or
    SIGTERM) raises :class:`~backtests.errors.Interrupted` and ``resume=True`` later computes only
    the chunks that are missing or were computed by other code, config or data. With ``audit``,
    strategies not audited before are checked for look-ahead first (``audit_budget`` seconds in
    all) and a failing one refuses the run (:mod:`backtests.audit.stage`). Plug-in code runs under
    the guards of :mod:`.guards`. Each stage is said on stderr (:class:`.progress.Stages`; default
    one made from ``progress``: False says nothing) and the sweep shows a bar on a terminal.
    ``plan``: the plan of ``loaded`` already made (:func:`.guards.planned`) inside the caller's
    :func:`.guards.plugin_guards` (``scare run`` plans before it imports the engine). ``data``: the
    market data of a study with ``data.source: frames`` (given in Python, :func:`backtests.api.run`).
    """
    t0 = time.perf_counter()
    with ExitStack() as stack:
        if stages is None:
            stages = stack.enter_context(Stages(enabled=progress is not False))
        stack.enter_context(plugin_guards(loaded))
        if plan is None:
            stages.say(f"planning {loaded.source.path}: importing its strategies ...", quiet=QUIET_PLANNING)
            plan = planned(loaded)
        cfg = plan.config
        target = out_dir or Path(cfg.output.dir.replace("{name}", cfg.name))
        stack.enter_context(terminate_as_interrupt())
        folder = stack.enter_context(RunFolder(target)) if write else None
        say_loading(stages, plan)
        study = prepare_data(plan, offline=offline, given=data)  # dropped windows: named in the summary scare run prints
        fingerprint = data_fingerprint(study.data)  # taken before any plug-in sees the data
        if audit:
            stages.say(f"look-ahead audit of {count(len(plan.strategies), 'strategy', 'strategies')} (verdicts of "
                       f"code audited before are reused; budget {audit_budget:g} s) ...")
        audited = guarded_audit(study, audit, audit_budget)  # its line: in the summary scare run prints
        context = {"config_hash": cfg.config_hash(), "data": fingerprint, "scare_code": scare_digest()}
        checkpoints = stack.enter_context(checkpointing(folder.chunks if folder else None, context, resume))
        keep_weights = keeps_all_weights(study)
        stages.say(f"sweep: {count(study.runs, 'run')} of {count(len(plan.strategies), 'strategy', 'strategies')} ...")
        stages.pause()  # the bar over combinations takes the line on a terminal
        results, scenarios = sweep_study(study, checkpoints, keep_weights, progress)
        stages.say(f"scoring {count(len(results), 'strategy', 'strategies')} ...")
        score_study(study, results, keep_weights)
        result = study_result(study, results, keep_weights, time.perf_counter() - t0, checkpoints, audited,
                              scenarios)
        if folder is not None:
            stages.say(f"writing {folder.path} ...")
            result.out_dir = write_outputs(result, folder.path)
    return result
