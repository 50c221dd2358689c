"""Events as the unit: window clusters, calendar-time pooling and distinct return series.

A combination is run once per window (an *episode*). Pooling its episodes into one record must
not count a period or a trade twice, so:

* **Clusters.** Windows whose UTC spans ``[start_utc, end_utc]`` overlap (transitively), or that
  carry the same ``shock`` id (one shock seen from two markets), form one cluster. Clusters are
  the independent units of every event-level test. Ids are ``c1, c2, ...`` in order of their
  first window start.
* **Calendar time.** The pooled series of a combination has one row per UTC period end at which
  at least one of its episodes is *open* (the period end lies in the window span
  ``(start_utc, end_utc]``) and at least one open episode has a return. That row's return is the
  equal-capital mean over the open episodes. Every episode of a strategy is marked to market on
  the same clock (the bar stamps of the symbols it trades, see
  :class:`~backtests.engine.rules.Clock`), so an open episode has a return at every row of the
  pooled series and a move of an asset enters once, at the capital share of each episode that
  held it. (An open episode without a return at a row, which that clock does not produce, would
  add 0 there.) Without overlaps this is the plain chain of the windows in time order.
* **Distinct series.** Combinations whose pooled series are bit-identical (a stop that never
  fires) are one trial for DSR and one column for PBO.

Everything is vectorized over combinations: a sweep of 100,000 combinations is a handful of
array operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.windows import span_contains


@dataclass(frozen=True)
class Span:
    """One window as the scoring stage sees it: id, UTC span and optional shock id."""

    id: str
    start_utc: pd.Timestamp
    end_utc: pd.Timestamp
    shock: str | None = None


@dataclass(frozen=True)
class Clusters:
    """Windows grouped into independent clusters.

    Attributes
    ----------
    code
        Cluster number (0-based, chronological) of each window, in the order the spans were given.
    records
        JSON-ready ``{"id", "windows", "start_utc", "end_utc", "reason"}`` per cluster, in
        chronological order; ``reason`` is ``"same shock"`` when two of its windows share a shock
        id, ``"overlap"`` when they are linked only by overlapping spans, ``"single"`` for one window.
    """

    code: np.ndarray
    records: list[dict[str, Any]]

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.records]


def spans_of(windows: Sequence[Any]) -> list[Span]:
    """:class:`Span` of each :class:`~backtests.time.windows.Window` (``shock`` read if it has one)."""
    out = []
    for w in windows:
        shock = getattr(w, "shock", None)
        if shock is None:
            shock = getattr(getattr(w, "event", None), "shock", None)
        out.append(Span(str(w.id), pd.Timestamp(w.start_utc), pd.Timestamp(w.end_utc),
                        None if shock in (None, "") else str(shock)))
    return out


def spans_from_returns(returns: pd.DataFrame, window_of_column: Sequence[str]) -> list[Span]:
    """Spans read off the data when no window objects are at hand: each window from just before
    its first period end to its last (over the columns of that window)."""
    vals = ~np.isnan(returns.to_numpy(dtype=float, na_value=np.nan))
    codes, names = pd.factorize(pd.Index(window_of_column), sort=False)
    out = []
    for k, name in enumerate(names):
        rows = np.flatnonzero(vals[:, codes == k].any(axis=1))
        if rows.size:
            start = returns.index[rows[0]] - pd.Timedelta(1, "ns")
            end = returns.index[rows[-1]]
        else:
            start = end = pd.Timestamp(0, tz="UTC")
        out.append(Span(str(name), start, end))
    return out


def event_clusters(spans: Sequence[Span]) -> Clusters:
    """Group windows into clusters: overlapping spans (transitively) and equal shock ids.

    Two closed spans ``[s1, e1]`` and ``[s2, e2]`` overlap when ``s2 <= e1`` and ``s1 <= e2``.
    """
    n = len(spans)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    order = sorted(range(n), key=lambda i: (spans[i].start_utc, i))
    reach, head = None, None
    for i in order:  # sweep in start order: overlap with the running group's furthest end
        if reach is not None and spans[i].start_utc <= reach:
            union(head, i)
            reach = max(reach, spans[i].end_utc)
        else:
            head, reach = i, spans[i].end_utc
    by_shock: dict[str, int] = {}
    shared = set()
    for i, s in enumerate(spans):
        if s.shock is not None:
            if s.shock in by_shock:
                union(by_shock[s.shock], i)
                shared.add(s.shock)
            else:
                by_shock[s.shock] = i
    roots = [find(i) for i in range(n)]
    groups: dict[int, list[int]] = {}
    for i in order:
        groups.setdefault(roots[i], []).append(i)
    # chronological: by the first start, ties by the first window's position
    ranked = sorted(groups.values(), key=lambda m: (spans[m[0]].start_utc, m[0]))
    code = np.empty(n, dtype=np.int64)
    records = []
    for k, members in enumerate(ranked):
        code[members] = k
        shocks = [spans[i].shock for i in members if spans[i].shock is not None]
        if len(members) == 1:
            reason = "single"
        elif any(shocks.count(s) > 1 for s in set(shocks)):
            reason = "same shock"
        else:
            reason = "overlap"
        records.append({
            "id": f"c{k + 1}", "windows": [spans[i].id for i in members],
            "start_utc": min(spans[i].start_utc for i in members).isoformat(),
            "end_utc": max(spans[i].end_utc for i in members).isoformat(), "reason": reason,
        })
    return Clusters(code, records)


def open_mask(index: pd.DatetimeIndex, spans: Sequence[Span]) -> np.ndarray:
    """``(T, W)`` bool: period end ``index[t]`` lies in window ``w``'s span ``(start, end]``
    (:func:`~backtests.time.windows.span_contains`, the window membership rule)."""
    t = index.as_unit("ns").asi8
    out = np.empty((len(t), len(spans)), dtype=bool)
    for w, s in enumerate(spans):
        out[:, w] = span_contains(s.start_utc, s.end_utc, t)
    return out


#: cells (rows x combinations x windows) of the temporaries of one block of combinations in
#: :func:`calendar_pool` and :func:`distinct_columns`: memory stays the input and output plus
#: blocks of this size (about 16 MB per float array), whatever the sweep
BLOCK_CELLS = 1 << 21


def combo_blocks(n_combos: int, cells_per_combo: int, block_cells: int | None = None) -> list[tuple[int, int]]:
    """``(lo, hi)`` ranges of combinations whose ``cells_per_combo`` cells each fill about
    ``block_cells`` (default :data:`BLOCK_CELLS`); every block but a lone one holds at least two
    combinations (numpy reduces a single column differently from several: results stay bit for
    bit those of one block)."""
    size = max(2, (block_cells or BLOCK_CELLS) // max(1, cells_per_combo))
    bounds = list(range(0, n_combos, size)) + [n_combos]
    out = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    if len(out) > 1 and out[-1][1] - out[-1][0] < 2:
        out[-2:] = [(out[-2][0], n_combos)]
    return out


def calendar_pool(values: np.ndarray, n_combos: int, n_windows: int, is_open: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Calendar-time pooled returns of every combination.

    Parameters
    ----------
    values
        ``(T, n_combos * n_windows)`` per-period returns, runs combination-major then window
        (NaN outside a run's window or where it has no period end).
    is_open
        ``(T, n_windows)`` from :func:`open_mask`.

    Returns
    -------
    (pooled, rows)
        ``pooled`` is ``(len(rows), n_combos)``: per kept row the mean over the open episodes
        (an open episode without a return at that row adds 0); NaN where no open episode of that
        combination has a return. ``rows`` are the kept row positions: at least one open episode
        with a return.

    Memory: ``values`` is read in place; the temporaries are blocks of combinations
    (:func:`combo_blocks`), so the cost is the output plus a bounded block, at any sweep size.
    """
    t = values.shape[0]
    v3 = values.reshape(t, n_combos, n_windows)  # a view (runs are combination-major)
    blocks = combo_blocks(n_combos, t * n_windows)
    op = is_open[:, None, :]
    if n_windows == 1:
        has_row = np.zeros(t, dtype=bool)
        for lo, hi in blocks:
            has_row |= (~np.isnan(v3[:, lo:hi]) & op).any(axis=(1, 2))
        rows = np.flatnonzero(has_row)
        out = np.empty((rows.size, n_combos))
        live = is_open[rows, :1]
        for lo, hi in blocks:
            sub = v3[rows, lo:hi, 0]
            out[:, lo:hi] = np.where(~np.isnan(sub) & live, sub, np.nan)
        return out, rows
    # A row where one window is open pools that window's returns alone: numpy's sum over the
    # windows adds exact zeros for the closed ones, so the value is the return plus 0.0 (that
    # turns -0.0 into 0.0, as the sum does) over one open episode. Those rows read only their
    # window's runs; rows where several windows are open take numpy's sum as written.
    n_open_row = is_open.sum(axis=1)
    one = [np.flatnonzero((n_open_row == 1) & is_open[:, w]) for w in range(n_windows)]
    several = np.flatnonzero(n_open_row >= 2)
    has_row = np.zeros(t, dtype=bool)
    for w, rw in enumerate(one):
        for lo, hi in combo_blocks(n_combos, rw.size):
            has_row[rw] |= ~np.isnan(v3[rw, lo:hi, w]).all(axis=1)
    for lo, hi in combo_blocks(n_combos, several.size * n_windows):
        sub = v3[several, lo:hi]
        has_row[several] |= (~np.isnan(sub) & op[several]).any(axis=(1, 2))
    rows = np.flatnonzero(has_row)
    out = np.empty((rows.size, n_combos))
    for w, rw in enumerate(one):
        rw = rw[has_row[rw]]
        at = np.searchsorted(rows, rw)
        for lo, hi in combo_blocks(n_combos, rw.size):
            x = v3[rw, lo:hi, w]
            out[at, lo:hi] = np.where(np.isnan(x), np.nan, np.nan_to_num(x, nan=0.0) + 0.0)
    several = several[has_row[several]]
    if several.size:
        at = np.searchsorted(rows, several)
        opr = op[several]
        n_open = opr.sum(axis=2)
        for lo, hi in combo_blocks(n_combos, several.size * n_windows):
            vb = v3[several, lo:hi]
            has = (~np.isnan(vb) & opr).any(axis=2)
            total = np.where(opr, np.nan_to_num(vb, nan=0.0), 0.0).sum(axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[at, lo:hi] = np.where(has, total / n_open, np.nan)
    return out, rows


@dataclass(frozen=True)
class Distinct:
    """Combinations grouped by bit-identical pooled series.

    Attributes
    ----------
    code
        Group of each column (0-based, in order of first appearance).
    first
        Column of each group's first member (ascending).
    size
        Members per group.
    """

    code: np.ndarray
    first: np.ndarray
    size: np.ndarray

    @property
    def n(self) -> int:
        return int(self.first.size)

    @property
    def n_identical(self) -> np.ndarray:
        """Per column, how many columns (itself included) have the same series."""
        return self.size[self.code]


def _canonical_bits(values: np.ndarray) -> np.ndarray:
    """The bits of ``values`` with -0.0 as 0.0 and one NaN pattern (a new array)."""
    canon = np.asarray(values, dtype=float) + 0.0  # a new array without -0.0
    nan = np.isnan(canon)
    if nan.any():
        canon[nan] = np.nan  # one NaN bit pattern
    return canon.view(np.uint64)


def distinct_columns(values: np.ndarray) -> Distinct:
    """Group the columns of a ``(T, N)`` matrix by exact equality (NaN equal to NaN, -0 == 0).

    Memory: the columns are hashed and checked in blocks (:func:`combo_blocks`), never copied whole.
    """
    t, n = values.shape
    if n == 0:
        return Distinct(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    if t == 0:
        return Distinct(np.zeros(n, np.int64), np.zeros(1, np.int64), np.array([n], np.int64))
    # a position-weighted 64-bit hash of the bits groups the columns; members are then checked
    # bit for bit against their group's first column (a collision falls back to a full sort)
    mult = np.random.default_rng(20260623).integers(1, 2**63, size=t, dtype=np.uint64) | np.uint64(1)
    h = np.empty(n, dtype=np.uint64)
    for lo, hi in combo_blocks(n, t):
        h[lo:hi] = mult @ _canonical_bits(values[:, lo:hi])
    _, first_sorted, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    rep = first_sorted[inverse]
    dup = np.flatnonzero(rep != np.arange(n))
    same = all((_canonical_bits(values[:, dup[lo:hi]]) == _canonical_bits(values[:, rep[dup[lo:hi]]])).all()
               for lo, hi in combo_blocks(dup.size, 2 * t))
    if not same:
        rows = np.ascontiguousarray(_canonical_bits(values).view(np.float64).T)
        keys = rows.view(np.dtype((np.void, t * rows.itemsize))).ravel()
        _, first_sorted, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
    order = np.argsort(first_sorted, kind="stable")  # groups by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    code = rank[inverse].astype(np.int64)
    return Distinct(code, first_sorted[order].astype(np.int64),
                    np.bincount(code, minlength=order.size).astype(np.int64))
