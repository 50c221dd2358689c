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

from backtests.audit.compare import BLOCK_CELLS, Difference, attribute, compare_cells, decisions, first_difference
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


class Audit:
    """One strategy's audit in two phases: :meth:`__init__` runs the full grid (the reference
    decisions) and chooses the cuts; :meth:`run` checks cuts within a bound. When a cut changes a
    decision, the full grid is run again: if that second full run differs from the first, the
    strategy is nondeterministic (verdict ``nondeterministic``), not looking ahead.

    The study stage uses the two phases to share one time budget fairly between strategies of very
    different cost (see :func:`backtests.audit.stage.audit_study`). Parameters as
    :func:`audit_strategy`.

    The budget charges a cut with everything it costs: truncating the data, the strategy call and
    the comparison of every decision up to the cut with the full run (:attr:`per_call` estimates
    the next cut from the slowest call seen and the slowest comparison rate seen, per decision
    compared). A cut whose estimate would overrun is not started, and a comparison that would
    overrun is not made: the audit stops with the cuts checked so far and says so (``stopped``).
    """

    def __init__(self, strategy: Strategy, data: MarketData, params: Mapping[str, Any] | pd.DataFrame | None = None,
                 events: pd.DataFrame | None = None, *, cuts: Sequence[pd.Timestamp] | None = None, seed: int = 0,
                 n_random: int = 10, n_moves: int = 5,
                 focus: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = (), label: str | None = None) -> None:
        t0 = time.perf_counter()
        self.strategy, self.data, self.label = strategy, data, label or strategy.name
        self.grid = params if isinstance(params, pd.DataFrame) else expand_grid(
            strategy.params, dict(params or {}), strategy.name)
        self.timeline = prepare_events(events)
        self.events = None if self.timeline is None else self.timeline.events
        self.full = decisions(strategy, data, self.grid, self.events, self.label)
        self.calls = 1
        #: seconds of one full-grid call (the slowest seen)
        self.call_seconds = time.perf_counter() - t0
        #: seconds per decision compared (the slowest seen; first measured on the full run itself)
        self.compare_rate = _compare_rate(self.full)
        if cuts is not None:
            self.cuts = [Cut(pd.Timestamp(t), "given", ["given cut"]) for t in cuts]
            kinds: tuple[str, ...] = ("given",)
        else:
            self.cuts = choose_cuts(self.full, data, self.events, strategy.traded_symbols, seed=seed,
                                    n_random=n_random, n_moves=n_moves, focus=focus)
            kinds = KINDS
        counts = {k: {"checked": 0, "candidates": sum(c.kind == k for c in self.cuts)} for k in kinds}
        self.report = AuditReport(strategy=self.label, source=source_of(type(strategy)), verdict="pass",
                                  combinations=len(self.grid), decision_stamps=len(self.full), cuts=counts, seed=seed)
        self.seconds = time.perf_counter() - t0

    def compare_seconds(self, cut: Cut) -> float:
        """Estimated seconds of comparing the decisions up to ``cut`` with the full run."""
        return compare_cells(self.full, self.full, cut.t) * self.compare_rate

    @property
    def per_call(self) -> float:
        """Estimated seconds of the next cut: the slowest strategy call seen plus comparing every
        decision up to that cut (what the study stage checks against its deadline)."""
        nxt = self.cuts[0] if self.cuts else None
        return self.call_seconds + (self.compare_seconds(nxt) if nxt is not None else 0.0)

    def _compare(self, other: pd.DataFrame, t: pd.Timestamp) -> Difference | None:
        """:func:`first_difference`, its cost per decision folded into :attr:`compare_rate`."""
        c0 = time.perf_counter()
        diff = first_difference(self.full, other, t)
        cells = compare_cells(self.full, other, t)
        self.compare_rate = max(self.compare_rate, (time.perf_counter() - c0) / cells)
        return diff

    def _stop(self, cut: Cut, budget: float, spent: float, what: str, estimate: float) -> None:
        self.report.stopped = (f"time budget: {what} at the {cut.kind} cut {cut.t.isoformat()} would take ~{estimate:.2f} s "
                               f"with {max(0.0, budget - spent):.2f} s of {budget:.1f} s left")

    def _nondeterministic(self) -> bool:
        """Run the full grid again; on any difference record the ``nondeterministic`` verdict."""
        again = decisions(self.strategy, self.data, self.grid, self.events, self.label)
        self.calls += 1
        diff = self._compare(again, self.full.index[-1]) if len(self.full) else None
        if diff is None:
            return False
        cut = Cut(self.full.index[-1], "rerun", ["the same full data, run twice"])
        self.report.verdict = "nondeterministic"
        self.report.finding = _finding(diff, cut, self.grid, ["nondeterminism"],
                                       ["nondeterminism (same data, two runs)"], "rerun")
        return True

    def run(self, budget: float | None = DEFAULT_BUDGET, max_cuts: int | None = None) -> AuditReport:
        """Check the next cuts in order until one fails, ``max_cuts`` more are done, or the next one
        would overrun ``budget`` seconds (counted from the start of the audit, full runs and
        comparisons included; at least one cut is checked per call, and its comparison is skipped
        only when a second cut would be). May be called again to check more cuts."""
        t_start = time.perf_counter()
        report = self.report
        report.budget_seconds = budget if max_cuts is None else None
        report.max_cuts = max_cuts
        done = 0

        def spent() -> float:
            return self.seconds + time.perf_counter() - t_start

        for cut in self.cuts:
            if max_cuts is not None:
                if done >= max_cuts:
                    break
            elif budget is not None and done > 0 and spent() + self.per_call > budget:
                self._stop(cut, budget, spent(), "the next cut (strategy call and comparison)", self.per_call)
                break
            c0 = time.perf_counter()
            d, ev = truncate(self.data, self.timeline, cut.t)
            self.calls += 1
            try:
                w = decisions(self.strategy, d, self.grid, ev, self.label)
            except Exception as exc:  # judged below: a cut the strategy cannot run on proves nothing
                done += 1
                report.cuts[cut.kind]["checked"] += 1
                report.cut_stamps.append(cut.t.isoformat())
                report.skipped.append({"cut_utc": cut.t.isoformat(), "error": f"{type(exc).__name__}: {exc}"})
                continue
            self.call_seconds = max(self.call_seconds, time.perf_counter() - c0)
            if max_cuts is None and budget is not None and done > 0 \
                    and spent() + self.compare_seconds(cut) > budget:
                self._stop(cut, budget, spent(), "comparing its decisions", self.compare_seconds(cut))
                break
            done += 1
            report.cuts[cut.kind]["checked"] += 1
            report.cut_stamps.append(cut.t.isoformat())
            diff = self._compare(w, cut.t)
            if diff is None:
                continue
            if self._nondeterministic():
                break
            chans = channels(self.data, dict(self.strategy.symbols), self.events)
            ids, how, n = attribute(self.strategy, self.data, self.grid, self.timeline, self.label, self.full,
                                    cut.t, chans)
            self.calls += n
            by_id = {c.id: c.label for c in chans}
            report.verdict = "fail"
            report.finding = _finding(diff, cut, self.grid, ids, [by_id[i] for i in ids], how)
            break
        self.cuts = self.cuts[done:] if report.verdict == "pass" else []
        if report.verdict in ("pass", "error") and report.checked:
            report.verdict = "error" if len(report.skipped) == report.checked else "pass"
        self.seconds += time.perf_counter() - t_start
        report.calls = self.calls
        report.seconds = round(self.seconds, 3)
        return report

    @property
    def finished(self) -> bool:
        """No cut left to check (all checked, or a finding stopped the audit)."""
        return not self.cuts


def _compare_rate(full: pd.DataFrame) -> float:
    """Seconds per decision of comparing ``full`` with itself over its first rows (at least one
    block of decisions): the comparison's cost before any cut has measured it."""
    if not len(full) or not full.shape[1]:
        return 0.0
    rows = max(1, min(len(full), BLOCK_CELLS // max(1, full.shape[1])))
    part = full.iloc[:rows]
    c0 = time.perf_counter()
    first_difference(part, part, part.index[-1])
    return (time.perf_counter() - c0) / (rows * full.shape[1])


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
    audit = Audit(strategy, data, params, events, cuts=cuts, seed=seed, n_random=n_random, n_moves=n_moves,
                  focus=focus, label=label)
    return audit.run(budget=budget, max_cuts=max_cuts)
