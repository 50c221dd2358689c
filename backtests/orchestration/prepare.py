"""The one preparation pipeline: what every command does to a study before it computes anything.

Five small stages, in this order:

1. **plan the study** (:func:`backtests.config.plan.plan_study`: strategies, grids, roles,
   windows, run count), before any data loads, and check ``scoring.rank_by`` against the metric
   registry (:func:`check_rank_by`);
2. **check declared series**: every role's symbol and series against what the data source says it
   will provide, still before loading (``None`` for the cache: checked in stage 4);
3. **load market data** (:func:`backtests.data.sources.load_market_data`);
4. **check series against the data** actually loaded;
5. **check windows coverage** (:func:`backtests.data.coverage.check_windows`): windows the data
   does not cover are an error, or trimmed / dropped with a named notice (``window_defaults.partial``).

:func:`plan_checked` runs stages 1-2, :func:`prepare_data` stages 3-5 and returns one frozen
:class:`PreparedStudy`; :func:`prepare` runs all five. ``scare run`` takes a lock on its output
folder between the two halves (a bad config never touches the folder); ``scare audit`` checks its
``--strategy`` labels there; ``scare data fetch --config`` runs the first half only (it fetches
what stage 3 would load); ``scare validate`` runs every stage it can without the network
(:func:`prepare_offline`) and says what it did not check.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from backtests.config.loader import LoadedConfig
from backtests.config.plan import StudyPlan, check_series, plan_study
from backtests.scoring import registry
from backtests.data.coverage import NOTICE_CODES, check_windows
from backtests.data.market_data import MarketData
from backtests.data.sources import declared_series, load_market_data
from backtests.data.store import CorruptError
from backtests.errors import MissingData
from backtests.notices import Notice, data_notice


@dataclass(frozen=True)
class PreparedStudy:
    """A study ready to compute: the plan its data was checked against, and that data.

    Attributes
    ----------
    plan
        The study plan; after stage 5 each strategy holds only the windows the data covers
        (trimmed ones replace the originals).
    data
        The market data, or ``None`` when it was not loaded (:attr:`unchecked` says why).
    events
        The event catalogue as a point-in-time frame (``Catalogue.frame()``), what strategies see.
    unchecked
        Why stages 3-5 did not run (``scare validate`` when the data is not in the cache: the
        error a run without the network would stop on); ``None`` when every stage ran.
    """

    plan: StudyPlan
    data: MarketData | None
    events: pd.DataFrame
    unchecked: str | None = None

    @property
    def notices(self) -> tuple[Notice, ...]:
        """The named warnings of loading and checking the data (held by ``data.warnings``, which
        the output stage writes), in the order they were made."""
        if self.data is None:
            return ()
        return tuple(w if isinstance(w, Notice) else data_notice(w) for w in self.data.warnings)

    @property
    def coverage_notices(self) -> tuple[Notice, ...]:
        """The windows stage 5 dropped or trimmed."""
        return tuple(n for n in self.notices if n.code in NOTICE_CODES)

    @property
    def combinations(self) -> int:
        return sum(len(sp.grid) for sp in self.plan.strategies)

    @property
    def runs(self) -> int:
        """Combinations x windows, every strategy: the runs a ``scare run`` computes."""
        return sum(len(sp.grid) * len(sp.windows) for sp in self.plan.strategies)


# ----------------------------------------------------------------------------- the stages
def check_declared_series(plan: StudyPlan) -> None:
    """Stage 2: roles' symbols and series against what the source declares, before loading."""
    check_series(plan, declared_series(plan.config.data, plan.loaded.base_dir))


def load_data(plan: StudyPlan, offline: bool = False) -> MarketData:
    """Stage 3: the study's market data (``offline``: never touch the network)."""
    return load_market_data(plan.config.data, plan.loaded.base_dir, offline=offline, limits=plan.config.limits)


def check_loaded_series(plan: StudyPlan, data: MarketData) -> None:
    """Stage 4: roles' symbols and series against the data loaded."""
    check_series(plan, {s: set(f.columns) for s, f in data.bars.items()})


def check_rank_by(plan: StudyPlan) -> None:
    """Stage 1b: ``scoring.rank_by`` names a registered pooled metric where higher is better, and every
    strategy has what it needs (a benchmark for ``alpha``, ...): one line with "did you mean"."""
    loaded, plans = plan.loaded, plan.strategies
    key = loaded.config.scoring.rank_by
    problem = registry.rank_by_problem(key)
    if problem is None:
        bare = next((sp for sp in plans if sp.benchmark is None), None)
        if bare is not None:
            problem = registry.rank_by_problem(key, has_benchmark=False)
            problem = None if problem is None else f"{problem}, and strategy {bare.label!r} has none: set one " \
                                                   "or rank by another metric"
    if problem is not None:
        raise loaded.source.error(("scoring", "rank_by"), problem)


def check_coverage(plan: StudyPlan, data: MarketData) -> None:
    """Stage 5: windows against the data (mutates ``plan``; notices go to ``data.warnings``)."""
    check_windows(plan, data)


# ----------------------------------------------------------------------------- the pipeline
def plan_checked(loaded: LoadedConfig) -> StudyPlan:
    """Stages 1-2: the plan, checked against the series the source declares (no data loaded)."""
    plan = plan_study(loaded)
    check_rank_by(plan)
    check_declared_series(plan)
    return plan


def check_against_data(plan: StudyPlan, data: MarketData) -> PreparedStudy:
    """Stages 4-5 on data already loaded."""
    check_loaded_series(plan, data)
    check_coverage(plan, data)
    return PreparedStudy(plan, data, plan.catalogue.frame())


def prepare_data(plan: StudyPlan, offline: bool = False) -> PreparedStudy:
    """Stages 3-5 for a plan from :func:`plan_checked`."""
    return check_against_data(plan, load_data(plan, offline))


def prepare(loaded: LoadedConfig, offline: bool = False) -> PreparedStudy:
    """All five stages."""
    return prepare_data(plan_checked(loaded), offline)


def prepare_offline(loaded: LoadedConfig) -> PreparedStudy:
    """Every stage that can run without the network (``scare validate``).

    Data a run would fetch (missing from the cache, or a cached file that fails its checksum and a
    run would fetch again) cannot be checked here: the plan is returned unchecked against the data,
    with :attr:`PreparedStudy.unchecked` naming what is missing. Any other error is the run's own.
    """
    plan = plan_checked(loaded)
    try:
        data = load_data(plan, offline=True)
    except (MissingData, CorruptError) as exc:
        return PreparedStudy(plan, None, plan.catalogue.frame(), unchecked=" ".join(str(exc).split()))
    return check_against_data(plan, data)
