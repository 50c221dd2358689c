"""What a study run produces, as plain data handed from the runner to the output stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.config.plan import StrategyPlan, StudyPlan
from backtests.data.market_data import MarketData
from backtests.engine.rules import Rules
from backtests.notices import Notice


@dataclass
class StrategyResult:
    """One strategy's assembled sweep: returns and benchmark per run on the runs' clock (index:
    UTC stamps, one column per run id), the runs table (combo, window, ppy and the engine's
    per-run statistics), weights and orders, and the :class:`~backtests.engine.rules.Rules` they
    were simulated under."""

    plan: StrategyPlan
    returns: pd.DataFrame
    benchmark: pd.DataFrame | None
    runs: pd.DataFrame
    weights: pd.DataFrame
    orders: pd.DataFrame
    rules: Rules
    scored: dict[str, Any] = field(default_factory=dict)
    #: set by scoring (``score_result``): the calendar-time pooled series and the paths the tearsheet
    #: draws (this strategy's part of pooled.parquet), and its pooled benchmark (pooled_benchmark.parquet)
    pooled: pd.DataFrame | None = None
    pooled_benchmark: pd.DataFrame | None = None
    #: named warnings of this strategy's runs (engine, scoring); see :mod:`backtests.notices`
    notices: list[Notice] = field(default_factory=list)


@dataclass
class StudyResult:
    plan: StudyPlan
    data: MarketData
    strategies: list[StrategyResult]
    out_dir: Path | None = None
    elapsed: float = 0.0
    weights_kept: str = "all"
    #: checkpoints reused / recomputed by ``--resume`` (see :meth:`backtests.sweep.checkpoints.Checkpoints.summary`)
    checkpoints: dict[str, Any] = field(default_factory=dict)
    #: the look-ahead audit section (:func:`backtests.audit.stage.audit_study`)
    audit: dict[str, Any] = field(default_factory=dict)
    #: the scenario sweep (:class:`backtests.sweep.scenarios.ScenarioSweep`; None: no ``scenarios:``)
    scenarios: Any = None
