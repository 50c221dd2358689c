"""Audit one strategy: truncate the world at each cut, re-run the whole grid, compare the decisions.

The audit proves, for the cuts it checked, that no decision stamped at or before a cut changes when
everything after the cut is removed (bars of every symbol, intraday bars, FX, events not yet
public). It cannot prove anything between cuts it did not check, nor about information the
strategy gets outside its context (a file of its own, the clock, a network call); see
docs/strategies.md.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from backtests.audit.compare import Difference, attribute, decisions, first_difference
from backtests.audit.cuts import KINDS, Cut, choose_cuts
from backtests.audit.report import AuditReport, Finding
from backtests.audit.truncate import channels, prepare_events, truncate
from backtests.data.market_data import MarketData
from backtests.strategy.base import Strategy
from backtests.strategy.params import expand_grid

#: default time budget of one strategy's audit, seconds (``scare audit --budget``)
DEFAULT_BUDGET = 20.0


def source_of(cls: type) -> str:
    """``file:line`` of a class definition (or its qualified name when it has no file)."""
    try:
        path = inspect.getsourcefile(cls)
        line = inspect.getsourcelines(cls)[1]
    except (TypeError, OSError):
        return f"{cls.__module__}.{cls.__qualname__}"
    return f"{path}:{line}"


def _finding(diff: Difference, cut: Cut, grid: pd.DataFrame, chans: list[str], labels: list[str],
             how: str) -> Finding:
    pos = int(grid.index.get_loc(diff.combo)) if diff.combo in grid.index else -1
    params = {k: (v.item() if hasattr(v, "item") else v) for k, v in grid.iloc[pos].to_dict().items()} \
        if pos >= 0 else {}
    return Finding(cut_utc=cut.t.isoformat(), cut_kind=cut.kind, cut_reasons=list(cut.reasons),
                   stamp_utc=diff.stamp.isoformat(), combo=pos, params=params, symbol=diff.symbol,
                   full=diff.full, truncated=diff.other, changed=diff.count, channels=chans,
                   channel_labels=labels, attribution=how)


def audit_strategy(
    strategy: Strategy,
    data: MarketData,
    params: Mapping[str, Any] | pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    budget: float | None = DEFAULT_BUDGET,
    max_cuts: int | None = None,
    cuts: Sequence[pd.Timestamp] | None = None,
    seed: int = 0,
    n_random: int = 10,
    n_moves: int = 5,
    focus: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = (),
    label: str | None = None,
) -> AuditReport:
    """Look for look-ahead in one strategy over its whole parameter grid.

    Parameters
    ----------
    strategy
        An instance (roles resolved).
    data
        Market data with the strategy's symbols (and FX); the audit truncates copies of it.
    params
        One combination or a grid spec (mapping), or a ready grid DataFrame; default: the
        declared defaults.
    events
        The event catalogue as the run passes it (``Catalogue.frame()``); None = no events.
    budget
        Wall-clock seconds for the whole audit (the full runs included); the audit stops before a
        cut it expects to overrun. None = no time bound.
    max_cuts
        Stop after this many cuts (overrides ``budget`` when given).
    cuts
        Explicit cut instants instead of the chosen ones (kind ``given``).
    seed
        Seeds the random cuts and the order of cuts within each kind.
    n_random, n_moves
        Random cuts; largest moves per traded symbol.
    focus
        UTC intervals (the study's windows) whose cuts are checked first.
    label
        Name used in messages (default ``strategy.name``).

    Returns
    -------
    AuditReport
        Verdict, first finding, cuts checked per kind, cost.
    """
    t0 = time.perf_counter()
    label = label or strategy.name
    events = prepare_events(events)
    grid = params if isinstance(params, pd.DataFrame) else expand_grid(
        strategy.params, dict(params or {}), strategy.name)
    full = decisions(strategy, data, grid, events, label)
    again = decisions(strategy, data, grid, events, label)
    calls = 2
    per_call = (time.perf_counter() - t0) / 2
    if cuts is not None:
        chosen = [Cut(pd.Timestamp(t), "given", ["given cut"]) for t in cuts]
        kinds: tuple[str, ...] = ("given",)
    else:
        chosen = choose_cuts(full, data, events, strategy.traded_symbols, seed=seed, n_random=n_random,
                             n_moves=n_moves, focus=focus)
        kinds = KINDS
    counts = {k: {"checked": 0, "candidates": sum(c.kind == k for c in chosen)} for k in kinds}
    report = AuditReport(strategy=label, source=source_of(type(strategy)), verdict="pass",
                         combinations=len(grid), decision_stamps=len(full), cuts=counts,
                         budget_seconds=budget if max_cuts is None else None, max_cuts=max_cuts, seed=seed)
    roles = dict(strategy.symbols)

    diff = first_difference(full, again, full.index[-1]) if len(full) else None
    if diff is not None:
        cut = Cut(full.index[-1], "rerun", ["the same full data, run twice"])
        report.verdict = "nondeterministic"
        report.finding = _finding(diff, cut, grid, ["nondeterminism"], ["nondeterminism (same data, two runs)"],
                                  "rerun")
        chosen = []

    done = 0
    for cut in chosen:
        spent = time.perf_counter() - t0
        if max_cuts is not None:
            if done >= max_cuts:
                break
        elif budget is not None and done > 0 and spent + per_call > budget:
            break
        done += 1
        counts[cut.kind]["checked"] += 1
        report.cut_stamps.append(cut.t.isoformat())
        d, ev = truncate(data, events, cut.t)
        c0 = time.perf_counter()
        try:
            w = decisions(strategy, d, grid, ev, label)
        except Exception as exc:  # judged below: a cut the strategy cannot run on proves nothing
            report.skipped.append({"cut_utc": cut.t.isoformat(), "error": f"{type(exc).__name__}: {exc}"})
            calls += 1
            continue
        calls += 1
        per_call = max(per_call, time.perf_counter() - c0)
        diff = first_difference(full, w, cut.t)
        if diff is None:
            continue
        chans = channels(data, roles, events)
        ids, how, n = attribute(strategy, data, grid, events, label, full, cut.t, chans)
        calls += n
        by_id = {c.id: c.label for c in chans}
        report.verdict = "fail"
        report.finding = _finding(diff, cut, grid, ids, [by_id[i] for i in ids], how)
        break
    if report.verdict == "pass" and done and len(report.skipped) == done:
        report.verdict = "error"
    report.calls = calls
    report.seconds = round(time.perf_counter() - t0, 3)
    return report
