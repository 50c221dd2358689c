"""The only module that knows the order of the stages: config -> data -> windows -> strategy ->
engine -> scoring -> outputs.

``run_study(loaded, out_dir)`` validates everything it can before loading data, runs every
strategy over its windows (all combinations x windows of a strategy in one vectorized simulation,
chunked over combinations to bound memory), scores the runs, and writes the contract files
atomically.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd

from backtests.audit.stage import RUN_BUDGET, audit_study
from backtests.config.loader import LoadedConfig
from backtests.data.coverage import check_windows
from backtests.data.market_data import MarketData
from backtests.data.sources import declared_series, load_market_data
from backtests.scoring.evaluate import score_result
from backtests.digest import scare_digest
from backtests.sweep.assemble import run_strategy, selected_weights, weights_mode
from backtests.outputs import data_fingerprint, write_outputs
from backtests.outputs.folder import RunFolder
from backtests.config.plan import StudyPlan, check_series, plan_study
from backtests.orchestration.progress import Progress
from backtests.sweep.results import StrategyResult, StudyResult
from backtests.sweep.chunks import Checkpoints, Executor, checkpointing


# ----------------------------------------------------------------------------- the study
@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM during a run behaves like Ctrl-C: staging removed, finished chunks kept, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_study(loaded: LoadedConfig, out_dir: Path | None = None, progress: bool | None = True,
              write: bool = True, offline: bool = False, resume: bool = False, audit: bool = True,
              audit_budget: float = RUN_BUDGET) -> StudyResult:
    """Run a validated study config end to end (see module docstring).

    With ``write``, the output folder is checked and locked before any work (see
    :mod:`backtests.outputs.folder`) and finished chunks are checkpointed inside it; Ctrl-C (or
    SIGTERM) raises :class:`Interrupted` and ``resume=True`` later computes only the chunks that
    are missing or were computed by other code, config or data. With ``audit``, strategies not
    audited before are checked for look-ahead first (``audit_budget`` seconds in all) and a failing
    one refuses the run (:mod:`backtests.audit.stage`).
    """
    t0 = time.perf_counter()
    plan = plan_study(loaded)
    cfg = plan.config
    check_series(plan, declared_series(cfg.data, loaded.base_dir))
    target = out_dir or Path(cfg.output.dir.replace("{name}", cfg.name))
    with ExitStack() as stack:
        stack.enter_context(_terminate_as_interrupt())
        folder = stack.enter_context(RunFolder(target)) if write else None
        data = load_market_data(cfg.data, loaded.base_dir, offline=offline, limits=cfg.limits)
        check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})
        check_windows(plan, data)
        events = plan.catalogue.frame()
        audited = audit_study(plan, data, events, enabled=audit, budget=audit_budget)
        context = {"config_hash": cfg.config_hash(), "data": data_fingerprint(data), "scare_code": scare_digest()}
        checkpoints = stack.enter_context(checkpointing(folder.chunks if folder else None, context, resume))
        study = _run(plan, data, events, checkpoints, progress, t0, audited)
        if folder is not None:
            study.out_dir = write_outputs(study, folder.path)
    return study


def _run(plan: StudyPlan, data: MarketData, events: pd.DataFrame, checkpoints: Checkpoints,
         progress: bool | None, t0: float, audited: dict) -> StudyResult:
    cfg = plan.config
    keep_weights = weights_mode(plan, data) == "all"
    total = sum(len(sp.grid) for sp in plan.strategies)
    results: list[StrategyResult] = []
    with Executor(cfg.executor.kind, cfg.executor.address) as executor, \
            Progress(total=total, enabled=progress, desc=cfg.name) as bar:
        for sp in plan.strategies:
            bar.set_postfix(sp.label)
            results.append(run_strategy(sp, data, plan, events, bar.update, checkpoints, keep_weights, executor))
    for res in results:
        combos = score_result(res, data, cfg)
        if not keep_weights and combos:
            res.weights = selected_weights(res.plan, data, plan, events, combos)
    return StudyResult(plan, data, results, elapsed=time.perf_counter() - t0,
                       weights_kept="all" if keep_weights else "best", checkpoints=checkpoints.summary(),
                       audit=audited)
