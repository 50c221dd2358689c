"""The only module that knows the order of the stages: config -> data -> windows -> strategy ->
engine -> scoring -> outputs.

``run_study(loaded, out_dir)`` validates everything it can before loading data, runs every
strategy over its windows (all combinations x windows of a strategy in one vectorized simulation,
chunked over combinations to bound memory), scores the runs, and writes the contract files
atomically.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from backtests.config.loader import LoadedConfig
from backtests.data.market_data import MarketData
from backtests.data.sources import declared_series, load_market_data
from backtests.errors import DataError, Interrupted
from backtests.evaluate import score_result
from backtests.execution import run_strategy, selected_weights, weights_mode
from backtests.outputs import check_destination, data_fingerprint, write_outputs
from backtests.plan import StudyPlan, check_series, plan_study
from backtests.progress import Progress
from backtests.results import StrategyResult, StudyResult
from backtests.sweep import Checkpoints


# ----------------------------------------------------------------------------- checks
def check_windows(plan: StudyPlan, data: MarketData) -> None:
    """Each strategy's traded symbols have bars inside each of its windows.

    A window named by id without data is an error; windows selected by kind that the data does
    not cover are dropped (with a warning in the data section). A strategy left with no window
    is an error.
    """
    for sp in plan.strategies:
        keep = []
        for w in sp.windows:
            syms = sp.strategy.traded_symbols
            have = [s for s in syms if ((data.bars[s].index > w.start_utc) & (data.bars[s].index <= w.end_utc)).any()]
            if have:
                keep.append(w)
                continue
            msg = (f"window {w.id!r} ({w.start_utc.date()}..{w.end_utc.date()}) has no sessions in the data for "
                   f"{', '.join(syms)} (strategy {sp.label})")
            if not w.by_kind:
                raise DataError(msg, where=f"windows.{w.id}")
            data.warnings.append(f"{msg}: skipped")
        if not keep:
            raise DataError(f"strategy {sp.label!r} has no window covered by the data", where=f"strategies.{sp.index}")
        sp.windows = keep
    used = {w.id for sp in plan.strategies for w in sp.windows}
    plan.windows = [w for w in plan.windows if w.id in used]


# ----------------------------------------------------------------------------- the study
def checkpoint_folder(target: Path, config_hash: str, data_fp: str) -> Path:
    """Where finished chunks of a run into ``target`` are kept until it completes."""
    return target.parent / f".{target.name}.chunks-{config_hash}-{data_fp[:8]}"


def run_study(loaded: LoadedConfig, out_dir: Path | None = None, progress: bool | None = True,
              write: bool = True, offline: bool = False, resume: bool = False) -> StudyResult:
    """Run a validated study config end to end (see module docstring).

    With ``write``, finished chunks are checkpointed beside the output folder; Ctrl-C raises
    :class:`Interrupted` and ``resume=True`` later computes only the missing chunks.
    """
    t0 = time.perf_counter()
    plan = plan_study(loaded)
    cfg = plan.config
    check_series(plan, declared_series(cfg.data, loaded.base_dir))
    data = load_market_data(cfg.data, loaded.base_dir, offline=offline)
    check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})
    check_windows(plan, data)
    events = plan.catalogue.frame()
    target = out_dir or Path(cfg.output.dir.replace("{name}", cfg.name))
    ckpt_dir = None
    if write:
        check_destination(target)
        ckpt_dir = checkpoint_folder(target, cfg.config_hash(), data_fingerprint(data))
        if not resume and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
    checkpoints = Checkpoints(ckpt_dir)
    keep_weights = weights_mode(plan, data) == "all"
    total = sum(len(sp.grid) for sp in plan.strategies)
    results: list[StrategyResult] = []
    try:
        with Progress(total=total, enabled=progress, desc=cfg.name) as bar:
            for sp in plan.strategies:
                bar.set_postfix(sp.label)
                results.append(run_strategy(sp, data, plan, events, bar.update, checkpoints, keep_weights))
    except KeyboardInterrupt:
        kept = checkpoints.count()
        where = f"; {kept} finished chunk(s) kept in {ckpt_dir}, re-run with --resume to finish" if kept else ""
        raise Interrupted(f"interrupted{where}") from None
    for res in results:
        combos = score_result(res, data, cfg)
        if not keep_weights and combos:
            res.weights = selected_weights(res.plan, data, plan, events, combos)
    study = StudyResult(plan, data, results, elapsed=time.perf_counter() - t0,
                        weights_kept="all" if keep_weights else "best")
    if write:
        study.out_dir = write_outputs(study, target)
        if ckpt_dir is not None:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    return study


