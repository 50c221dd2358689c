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

from backtests.audit.stage import RUN_BUDGET, audit_study
from backtests.config.loader import LoadedConfig
from backtests.digest import scare_digest
from backtests.orchestration.compute import keeps_all_weights, score_study, study_result, sweep_study
from backtests.orchestration.interrupt import terminate_as_interrupt
from backtests.orchestration.prepare import plan_checked, prepare_data
from backtests.outputs import data_fingerprint, write_outputs
from backtests.outputs.folder import RunFolder
from backtests.sweep.checkpoints import checkpointing
from backtests.sweep.results import StudyResult


def run_study(loaded: LoadedConfig, out_dir: Path | None = None, progress: bool | None = True,
              write: bool = True, offline: bool = False, resume: bool = False, audit: bool = True,
              audit_budget: float = RUN_BUDGET) -> StudyResult:
    """Run a validated study config end to end.

    Everything that can be checked before loading data is (:func:`.prepare.plan_checked`). With
    ``write``, the output folder is then checked and locked before any work (see
    :mod:`backtests.outputs.folder`) and finished chunks are checkpointed inside it; Ctrl-C (or
    SIGTERM) raises :class:`~backtests.errors.Interrupted` and ``resume=True`` later computes only
    the chunks that are missing or were computed by other code, config or data. With ``audit``,
    strategies not audited before are checked for look-ahead first (``audit_budget`` seconds in
    all) and a failing one refuses the run (:mod:`backtests.audit.stage`).
    """
    t0 = time.perf_counter()
    plan = plan_checked(loaded)
    cfg = plan.config
    target = out_dir or Path(cfg.output.dir.replace("{name}", cfg.name))
    with ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())
        folder = stack.enter_context(RunFolder(target)) if write else None
        study = prepare_data(plan, offline=offline)
        audited = audit_study(study.plan, study.data, study.events, enabled=audit, budget=audit_budget)
        context = {"config_hash": cfg.config_hash(), "data": data_fingerprint(study.data), "scare_code": scare_digest()}
        checkpoints = stack.enter_context(checkpointing(folder.chunks if folder else None, context, resume))
        keep_weights = keeps_all_weights(study)
        results, scenarios = sweep_study(study, checkpoints, keep_weights, progress)
        score_study(study, results, keep_weights)
        result = study_result(study, results, keep_weights, time.perf_counter() - t0, checkpoints, audited,
                              scenarios)
        if folder is not None:
            result.out_dir = write_outputs(result, folder.path)
    return result
