"""The computing stages of ``scare run`` on a prepared study: sweep, score, keep weights, gather.

* :func:`keeps_all_weights`: the weights mode (``output.weights``; ``auto`` decides by the size of
  the sweep, :func:`backtests.sweep.assemble.weights_mode`), decided once per study;
* :func:`sweep_study`: every strategy's sweep on one executor (one Dask cluster per run) with one
  progress bar;
* :func:`score_study`: scores every strategy in place; in ``best`` mode re-simulates the weights of
  the combinations kept in detail;
* :func:`study_result`: the :class:`~backtests.sweep.results.StudyResult` handed to the output stage.
"""

from __future__ import annotations

from typing import Any

from backtests.orchestration.guards import check_data_unchanged
from backtests.strategy.guard import definition_line
from backtests.strategy.integrity import verify
from backtests.orchestration.prepare import PreparedStudy
from backtests.orchestration.progress import Progress
from backtests.scoring.evaluate import score_result
from backtests.scoring.scenarios import run_metrics, score_scenarios
from backtests.scoring.pair_exposure import exposure_view
from backtests.sweep.assemble import run_strategy, selected_weights, weights_mode
from backtests.sweep.checkpoints import Checkpoints
from backtests.sweep.executor import Executor
from backtests.sweep.results import StrategyResult, StudyResult
from backtests.sweep.scenarios import ScenarioSweep, run_scenarios


def keeps_all_weights(study: PreparedStudy) -> bool:
    """True: every run's per-bar weights are kept; False: only the best and default combinations'."""
    return weights_mode(study.plan, study.data) == "all"


def sweep_study(study: PreparedStudy, checkpoints: Checkpoints, keep_weights: bool,
                progress: bool | None) -> tuple[list[StrategyResult], ScenarioSweep | None]:
    """Every strategy's combinations x windows, in the plan's order (see :mod:`backtests.sweep`),
    then the scenario sweep of a study with a ``scenarios:`` block (None without), scored in place;
    both on one executor (one Dask cluster per run)."""
    plan, cfg = study.plan, study.plan.config
    results: list[StrategyResult] = []
    with Executor(cfg.executor.kind, cfg.executor.address) as executor:
        with Progress(total=study.combinations, enabled=progress, desc=cfg.name) as bar:
            for sp in plan.strategies:
                bar.set_postfix(sp.label)
                results.append(run_strategy(sp, study.data, plan, study.events, bar.update, checkpoints,
                                            keep_weights, executor))
                check_data_unchanged(study.data, f"strategy {sp.label!r}")
                verify(f"strategy {sp.label!r}", "while it computed its weights",
                       where=definition_line(type(sp.strategy)))
        return results, sweep_scenarios(study, executor, progress)


def sweep_scenarios(study: PreparedStudy, executor: Executor, progress: bool | None) -> ScenarioSweep | None:
    """Every scenario strategy's grid over every generated scenario (:mod:`backtests.sweep.scenarios`),
    scored (:mod:`backtests.scoring.scenarios`); None for a study without scenarios."""
    sp, cfg = study.plan.scenarios, study.plan.config
    if sp is None:
        return None
    with Progress(total=len(sp.grid.spec), enabled=progress, desc=f"{cfg.name} SCENARIO") as bar:
        sweep = run_scenarios(sp, cfg, executor, bar.update, run_metrics, study.plan.borrow_overrides)
    windows = [w for s in study.plan.strategies for w in s.windows]
    sweep.scored = score_scenarios(sweep, study.data, windows)
    return sweep


def score_study(study: PreparedStudy, results: list[StrategyResult], keep_weights: bool) -> None:
    """Score each strategy's runs in place; without all weights, fetch those of the combinations
    reported in detail (best and default) by simulating them again."""
    for res in results:
        combos = score_result(res, study.data, study.plan.config)
        if not keep_weights and combos:
            res.weights = selected_weights(res.plan, study.data, study.plan, study.events, combos)
        if res.rules.paired and combos:  # a pair's net and gross exposure per shown episode (the page draws it)
            res.scored["summary"]["exposure"] = exposure_view(
                res.weights, res.runs, combos, {w.id: w.event.time_utc for w in res.plan.windows})


def study_result(study: PreparedStudy, results: list[StrategyResult], keep_weights: bool, elapsed: float,
                 checkpoints: Checkpoints, audited: dict[str, Any], scenarios: ScenarioSweep | None = None
                 ) -> StudyResult:
    """What the output stage writes."""
    return StudyResult(study.plan, study.data, results, elapsed=elapsed,
                       weights_kept="all" if keep_weights else "best", checkpoints=checkpoints.summary(),
                       audit=audited, scenarios=scenarios)
