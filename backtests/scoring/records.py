"""One strategy's per-run records, kept as columns and turned into JSON records only on demand.

A sweep of 100,000 combinations over 4 windows has 400,000 runs: building a dict per run (and a
JSON text of its parameters per run) costs seconds and gigabytes, while ``metrics.json`` keeps
every run only up to :data:`~backtests.outputs.documents.RUNS_IN_JSON_MAX` runs (above, the ranked
top, best and default combinations) and ``runs.parquet`` wants columns. :class:`RunRecords` holds
the columns (ids, combination of each run, the metrics table, ``first_fill`` instants, NaN
reasons) and is a read-only sequence of the very records ``metrics.json`` holds: ``records[i]``,
``len``, iteration, :meth:`of_combos` and :meth:`frame` (the ``runs.parquet`` table).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import pandas as pd

from backtests.engine.results import NEVER


def frame_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a numeric table as JSON-ready dicts (Python scalars, NaN/inf -> None), built column
    by column (integer columns as ``int``, every other column as ``float``)."""
    cols = [str(c) for c in table.columns]
    lists = []
    for j in range(table.shape[1]):
        col = table.iloc[:, j]
        vals = col.to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(vals))
        out = vals.astype(np.int64).tolist() if pd.api.types.is_integer_dtype(col) and not bad.size else vals.tolist()
        for i in bad.tolist():
            out[i] = None
        lists.append(out)
    if not cols:
        return [{} for _ in range(len(table))]
    return [dict(zip(cols, row)) for row in zip(*lists)]


def params_records(grid: pd.DataFrame) -> list[dict[str, Any]]:
    """Each grid row's parameters as a JSON-ready dict, as ``clean_json(row)`` gives it (Python
    scalars, NaN and infinities as None), built column by column."""
    from backtests.jsonfmt import clean_json

    cols: dict[str, list[Any]] = {}
    for name in grid.columns:
        values = grid[name].to_numpy()
        if values.dtype.kind in "iub":
            cols[str(name)] = values.tolist()
        elif values.dtype.kind == "f":
            ok = np.isfinite(values)
            out = values.tolist()
            for i in np.flatnonzero(~ok):
                out[i] = None
            cols[str(name)] = out
        else:
            cols[str(name)] = [clean_json(v) for v in values]
    names = list(cols)
    return [dict(zip(names, row)) for row in zip(*cols.values())] if names else [{} for _ in range(len(grid))]


def iso_instants(ns: np.ndarray) -> list[str | None]:
    """UTC instants (int64 ns, :data:`~backtests.engine.results.NEVER` = none) as ISO-8601 strings
    (None for none), for JSON records."""
    ns = np.asarray(ns, dtype=np.int64)
    t = pd.DatetimeIndex(ns.view("M8[ns]"), tz="UTC")
    return [x.isoformat() if k else None for x, k in zip(t, ns != NEVER)]


def json_text(value: Any) -> str:
    """Compact JSON text of a small value as runs.parquet stores it (sorted keys, ``,`` and ``:``
    separators, UTF-8 text; Python's encoder, as in scare 0.2): its ``params`` and ``nan_reasons``."""
    import json

    from backtests.jsonfmt import clean_json

    return json.dumps(clean_json(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class RunRecords(Sequence[dict[str, Any]]):
    """The run records of one strategy (``metrics.json`` ``runs``), as columns.

    Attributes
    ----------
    ids
        Run ids in canonical order (combination-major, then window).
    label, name
        Strategy label and plug-in name.
    windows
        Window ids in run order within a combination (run ``j`` is window ``j % n_windows``).
    params
        JSON-ready parameters of each combination (run ``j`` has those of ``j // n_windows``).
    first_fill
        (runs,) int64 ns UTC of each run's first possible fill (``NEVER``: none), or None when
        the runs carry none.
    table
        The run metrics, one row per run in run order (columns: ``runs[].metrics`` keys).
    reasons
        ``{run id: {metric: reason}}`` for every NaN metric.
    grid
        The parameter grid the ``params`` come from, when at hand: runs.parquet's ``params`` text
        is then built from its columns (:func:`backtests.digest.params_texts`).
    """

    ids: Sequence[str]
    label: str
    name: str
    windows: Sequence[str]
    params: Sequence[dict[str, Any]]
    first_fill: np.ndarray | None
    table: pd.DataFrame
    reasons: dict[str, dict[str, str]]
    grid: pd.DataFrame | None = None

    @property
    def n_windows(self) -> int:
        return len(self.windows)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return self.records(np.arange(len(self))[i])
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        return self.records(np.array([i % n]))[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        step = 20_000
        for lo in range(0, len(self), step):
            yield from self.records(np.arange(lo, min(lo + step, len(self))))

    def records(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The JSON-ready records of the runs at ``positions`` (in that order)."""
        positions = np.asarray(positions, dtype=np.int64)
        metrics = frame_records(self.table.iloc[positions])
        firsts = iso_instants(self.first_fill[positions]) if self.first_fill is not None \
            else [None] * len(positions)
        n_w = self.n_windows
        out = []
        for j, m, first in zip(positions.tolist(), metrics, firsts):
            c, rid = j // n_w, self.ids[j]
            out.append({"id": rid, "strategy": self.label, "strategy_name": self.name, "params": self.params[c],
                        "combo": c, "window": self.windows[j % n_w], "first_fill_utc": first, "metrics": m,
                        "nan_reasons": dict(self.reasons.get(rid, {}))})
        return out

    def of_combos(self, combos: Any) -> list[dict[str, Any]]:
        """The records of every run of the given combinations, in run order."""
        keep = np.zeros(len(self.params), dtype=bool)
        wanted = [int(c) for c in combos if c is not None and 0 <= int(c) < len(self.params)]
        keep[wanted] = True
        return self.records(np.flatnonzero(np.repeat(keep, self.n_windows)))

    def frame(self) -> pd.DataFrame:
        """Every run, one row each (``runs.parquet``): ``id, strategy, strategy_name, combo, window,
        first_fill_utc, params`` (JSON text), ``nan_reasons`` (JSON text), then one column per
        metric. Built from the columns: one JSON text per combination, one per run with NaN reasons."""
        n, n_w = len(self), self.n_windows
        combo = np.arange(n, dtype=np.int64) // max(1, n_w)
        from backtests.digest import params_texts

        texts = params_texts(self.grid, ensure_ascii=False) if self.grid is not None else \
            [json_text(p) for p in self.params]
        params = np.array(texts, dtype=object)
        reasons = np.full(n, "{}", dtype=object)
        if self.reasons:
            pos = pd.Index(self.ids).get_indexer(list(self.reasons))
            memo: dict[tuple[tuple[str, str], ...], str] = {}  # many runs share the same reasons
            out = []
            for r in self.reasons.values():
                key = tuple(r.items())
                text = memo.get(key)
                if text is None:
                    text = memo[key] = json_text(r)
                out.append(text)
            reasons[pos] = out
        first = self.first_fill if self.first_fill is not None else np.full(n, NEVER, dtype=np.int64)
        head = pd.DataFrame({
            "id": np.asarray(self.ids, dtype=object), "strategy": np.full(n, self.label, dtype=object),
            "strategy_name": np.full(n, self.name, dtype=object), "combo": combo,
            "window": np.asarray(self.windows, dtype=object)[np.arange(n) % max(1, n_w)],
            "first_fill_utc": pd.DatetimeIndex(np.asarray(first, dtype=np.int64).view("M8[ns]"), tz="UTC"),
            "params": params[combo] if n else params[:0], "nan_reasons": reasons,
        })
        return pd.concat([head, self.table.reset_index(drop=True)], axis=1)
