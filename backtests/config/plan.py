"""Second validation pass: resolve strategies, grids, roles and windows before any data loads.

Everything here needs the strategy registry and the event catalogue, so it cannot live in the
pydantic schema; errors still point at the config's file, line and field path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from backtests.config.loader import LoadedConfig
from backtests.config.model import StrategySpec
from backtests.errors import ScareInputError, StrategyError
from backtests.scenarios.defaults import PRICES
from backtests.scenarios.study import ScenarioGrid, scenario_grid
from backtests.exchange.short_sale import BorrowOverride, load_borrow_overrides
from backtests.strategy.base import Strategy
from backtests.strategy.params import build_grid, check_event_kinds, grid_axes
from backtests.strategy.registry import resolve
from backtests.strategy.calls import params_checker
from backtests.strategy.guard import guard
from backtests.time.windows import Catalogue, Window, load_builtin, load_event_file, windows_from_refs


@dataclass
class StrategyPlan:
    """One configured strategy, ready to run."""

    index: int
    spec: StrategySpec
    strategy: Strategy
    label: str
    grid: pd.DataFrame
    windows: list[Window]
    benchmark: str | None

    @property
    def name(self) -> str:
        return self.strategy.name

    def symbols(self) -> list[str]:
        syms = list(dict.fromkeys(self.strategy.symbols.values()))
        if self.benchmark and self.benchmark not in syms:
            syms.append(self.benchmark)
        return syms


@dataclass(frozen=True)
class ScenarioPlan:
    """The study's scenario sweep: the generated grid and the strategies run over it."""

    grid: ScenarioGrid
    strategies: tuple[StrategyPlan, ...]
    loss_threshold: float
    worst: int
    chunk: int
    events_dir: Path | None

    @property
    def runs(self) -> int:
        """Combinations x scenarios, every scenario strategy."""
        return sum(len(sp.grid) for sp in self.strategies) * len(self.grid.spec)


@dataclass
class StudyPlan:
    loaded: LoadedConfig
    catalogue: Catalogue
    windows: list[Window]
    strategies: list[StrategyPlan]
    #: the ``scenarios:`` block resolved (None: the study has none)
    scenarios: ScenarioPlan | None = None
    #: rows of ``execution.borrow_file`` (read and checked when the study is planned)
    borrow_overrides: tuple[BorrowOverride, ...] = ()

    @property
    def config(self):  # noqa: ANN201 - StudyConfig
        return self.loaded.config

    def symbols(self) -> list[str]:
        out: list[str] = []
        for sp in self.strategies:
            out.extend(sp.symbols())
        return list(dict.fromkeys(out))


def _reraise(loaded: LoadedConfig, loc: tuple, exc: ScareInputError) -> ScareInputError:
    """The error at the config's ``loc``; a plug-in's own file:line (``exc.where``) stays first."""
    if exc.where:
        at = loaded.source.error(loc, "")
        return type(exc)(f"{exc.bare_message} (config: {at.where}, {'.'.join(map(str, loc))})", where=exc.where)
    return loaded.source.error(loc, exc.bare_message)


def build_catalogue(loaded: LoadedConfig) -> Catalogue:
    cat = load_builtin()
    for i, spec in enumerate(loaded.config.events_files):
        path = Path(spec.path).expanduser()
        path = path if path.is_absolute() else loaded.base_dir / path
        try:
            load_event_file(cat, path, kind=spec.kind, market=spec.market, id_prefix=spec.id_prefix,
                            where=spec.where or None, replace_kind=spec.replace_kind)
        except ScareInputError as exc:
            raise loaded.source.error(("events_files", i, "path"), str(exc)) from None
    return cat


def _study_windows(loaded: LoadedConfig, cat: Catalogue) -> list[Window]:
    """The study's windows in config order. A window reached twice (an id listed twice, or an id
    also selected by a ``kind``) is kept once when both give the same window, and refused with
    both lines when they differ (pre/post, or the event's time): which one was meant is unknowable."""
    cfg = loaded.config
    windows: dict[str, tuple[int, Window]] = {}
    for i, ref in enumerate(cfg.windows):
        try:
            found = windows_from_refs([ref], cat, cfg.window_defaults.pre, cfg.window_defaults.post)
        except ScareInputError as exc:
            raise _reraise(loaded, ("windows", i), exc) from None
        for w in found:
            if w.id not in windows:
                windows[w.id] = (i, w)
                continue
            j, first = windows[w.id]
            if (first.pre, first.post, first.event) != (w.pre, w.post, w.event):
                raise loaded.source.error(("windows", i), (
                    f"window {w.id!r} is listed twice with different settings: pre {w.pre}, post {w.post}"
                    f"{_time_of(w)} here and pre {first.pre}, post {first.post}{_time_of(first)} at "
                    f"{loaded.source.locate(('windows', j))}; keep one"))
    return [w for _, w in windows.values()]


def _time_of(w: Window) -> str:
    return f", time {w.event.time_local}" if w.event.time_local else ""


def plan_study(loaded: LoadedConfig) -> StudyPlan:
    """Resolve and check everything the schema cannot; raises :class:`ConfigError` with a line."""
    cfg = loaded.config
    cat = build_catalogue(loaded)
    windows = _study_windows(loaded, cat)
    by_id = {w.id: w for w in windows}

    # Pass 1: resolve every strategy, its parameter values and windows; nothing large is built yet.
    staged = []
    labels: set[str] = set()
    for i, spec in enumerate(cfg.strategies):
        loc = ("strategies", i)
        try:
            cls = resolve(spec.name, loaded.classes)
        except ScareInputError as exc:
            raise _reraise(loaded, loc + ("name",), exc) from None
        label = spec.label or spec.name
        try:
            strategy = guard(cls, label, "__init__()", cls, spec.roles)
        except ScareInputError as exc:
            raise _reraise(loaded, loc + ("roles",), exc) from None
        try:
            axes = grid_axes(cls.params, spec.params, cls.name)
            check_event_kinds(cls.params, axes, cat.kinds(), cls.name)
        except ScareInputError as exc:
            bad = next((k for k in spec.params if k in exc.bare_message), None)
            raise _reraise(loaded, loc + (("params", bad) if bad else ("params",)), exc) from None
        if label in labels:
            raise loaded.source.error(loc + ("label",), f"two strategies are labelled {label!r}; give each a unique label")
        labels.add(label)
        if spec.windows is None:
            chosen = list(windows)
        else:
            chosen = []
            for key in spec.windows:
                match = [w for w in windows if w.id == key or w.event.kind == key]
                if not match:
                    raise loaded.source.error(
                        loc + ("windows",), f"window {key!r} is not among the study's windows ({', '.join(by_id)})")
                chosen.extend(w for w in match if w not in chosen)
        staged.append((i, spec, cls, strategy, label, axes, chosen))
    check_run_count(loaded, [(i, label, math.prod(len(a) for a in axes), len(chosen))
                             for i, _, _, _, label, axes, chosen in staged])

    # Pass 2: build the grids and run the strategies' own cross-parameter checks.
    plans: list[StrategyPlan] = []
    for i, spec, cls, strategy, label, axes, chosen in staged:
        loc = ("strategies", i)
        try:
            grid = build_grid(cls.params, axes, cls.name)
            checker = params_checker(cls, strategy)
        except ScareInputError as exc:
            raise _reraise(loaded, loc + ("params",), exc) from None
        if checker is not None:
            for n, combo in enumerate(grid.to_dict("records")):
                try:
                    guard(strategy, label, "check_params()", checker, combo)
                except StrategyError as exc:
                    cause = exc.__cause__
                    if isinstance(cause, ValueError) and not isinstance(cause, ScareInputError):
                        raise loaded.source.error(loc + ("params",), f"{cls.name}: {cause} "
                                                  f"(combination {n}: {combo})") from None
                    raise _reraise(loaded, loc + ("params",), exc) from None
        benchmark = spec.benchmark if spec.benchmark is not None else cfg.benchmark
        plans.append(StrategyPlan(i, spec, strategy, label, grid, chosen, benchmark))
    return StudyPlan(loaded, cat, windows, plans, plan_scenarios(loaded, plans), borrow_overrides(loaded))


def plan_scenarios(loaded: LoadedConfig, plans: list[StrategyPlan]) -> ScenarioPlan | None:
    """The ``scenarios:`` block checked against the generator and the strategies (one line per error)."""
    block = loaded.config.scenarios
    if block is None:
        return None
    by_label = {sp.label: sp for sp in plans}
    known = set(PRICES)
    if block.strategies is None:
        chosen = [sp for sp in plans if set(sp.strategy.symbols.values()) <= known]
        if not chosen:
            raise loaded.source.error(("scenarios",), "no strategy of the study reads only symbols the scenario "
                                      f"family generates ({', '.join(known)}); name them in scenarios.strategies")
    else:
        chosen = []
        for k, label in enumerate(block.strategies):
            if label not in by_label:
                raise loaded.source.error(("scenarios", "strategies", k), f"no strategy is labelled {label!r} "
                                          f"(have: {', '.join(by_label)})")
            sp = by_label[label]
            missing = sorted(set(sp.strategy.symbols.values()) - known)
            if missing:
                raise loaded.source.error(("scenarios", "strategies", k), f"{label} reads {missing[0]!r}, which the "
                                          f"scenario family does not generate (has: {', '.join(known)})")
            chosen.append(sp)
    wanted = [s for sp in chosen for s in sp.strategy.symbols.values()]
    try:
        sgrid = scenario_grid(block, wanted)
    except ScareInputError as exc:
        loc = ("scenarios",) + tuple(x for x in (exc.where or "").split(".") if x)
        raise loaded.source.error(loc, exc.bare_message) from None
    runs = sum(len(sp.grid) for sp in chosen) * len(sgrid.spec)
    if runs > loaded.config.limits.max_runs:
        raise loaded.source.error(("scenarios", "replicates"), (
            f"the scenario study has {runs:,} runs (combinations x scenarios), above limits.max_runs = "
            f"{loaded.config.limits.max_runs:,}; narrow the axes, the replicates or the grids"))
    missing = [s for sp in chosen for s in sp.strategy.symbols.values()
               if s not in {a.symbol for a in sgrid.spec.family.assets}]
    if missing:
        raise loaded.source.error(("scenarios", "symbols"), f"{missing[0]!r} is read by a scenario strategy but "
                                  "not generated: add it to scenarios.symbols")
    events_dir = None
    if block.events_dir:
        events_dir = Path(block.events_dir).expanduser()
        events_dir = events_dir if events_dir.is_absolute() else loaded.base_dir / events_dir
    return ScenarioPlan(sgrid, tuple(chosen), float(block.loss_threshold), int(block.worst), int(block.chunk),
                        events_dir)


def borrow_overrides(loaded: LoadedConfig) -> tuple[BorrowOverride, ...]:
    """``execution.borrow_file`` read through the bounded loader (relative to the config file);
    a bad file is one error naming its line."""
    path = loaded.config.execution.borrow_file
    if not path:
        return ()
    p = Path(path).expanduser()
    p = p if p.is_absolute() else loaded.base_dir / p
    try:
        return load_borrow_overrides(p)
    except ScareInputError as exc:
        raise loaded.source.error(("execution", "borrow_file"), str(exc)) from None


def check_run_count(loaded: LoadedConfig, sizes: list[tuple[int, str, int, int]]) -> None:
    """Refuse a study with more runs than ``limits.max_runs`` (from grid sizes, before any grid is built).

    ``sizes`` holds ``(strategy index, label, combinations, windows)`` per strategy.
    """
    limit = loaded.config.limits.max_runs
    total = sum(c * w for _, _, c, w in sizes)
    if total <= limit:
        return
    i, label, combos, wins = max(sizes, key=lambda s: s[2] * s[3])
    raise loaded.source.error(
        ("strategies", i, "params"),
        f"the study has {total:,} runs (combinations x windows, all strategies), above limits.max_runs = "
        f"{limit:,}; the largest is {label!r} with {combos:,} combinations x {wins} windows. Narrow the grids "
        "or raise limits.max_runs")


def check_series(plan: StudyPlan, available: dict[str, set[str]] | None) -> None:
    """Every role's symbol and required series exist (before data loads where possible)."""
    if available is None:
        return
    src = plan.loaded.source
    for sp in plan.strategies:
        for role, spec in sp.strategy.roles.items():
            sym = sp.strategy.symbols[role]
            loc = ("strategies", sp.index, "roles", role) if role in sp.spec.roles else ("strategies", sp.index, "name")
            if sym not in available:
                raise src.error(loc, f"{sp.label}: symbol {sym!r} (role {role!r}) is not in the data "
                                     f"(have: {', '.join(sorted(available))})")
            missing = [s for s in spec.series if s not in available[sym]]
            if missing:
                raise src.error(loc, f"{sp.label}: role {role!r} needs series {missing} of {sym!r}, "
                                     f"which the data does not have")
        if sp.benchmark and sp.benchmark not in available:
            loc = ("strategies", sp.index, "benchmark") if sp.spec.benchmark else ("benchmark",)
            raise src.error(loc, f"benchmark symbol {sp.benchmark!r} is not in the data")
