"""Run a strategy's parameter sweep in chunks: bounded memory, optional Dask, resumable.

A sweep is cut into chunks of combinations. Each chunk is an independent, picklable
:class:`ChunkTask` (strategy, its data, the chunk's grid rows, windows, costs) whose result is a
list of numpy :class:`WindowBlock` objects. Chunks run in-process (``executor: local``) or on a Dask
distributed cluster (``executor: dask``); either way the blocks are assembled in a canonical order
(combination, then window), so chunked, unchunked and distributed runs give identical results.

Finished chunks can be kept in a checkpoint folder (:class:`Checkpoints`: numpy ``.npz`` files read
with ``allow_pickle=False``, each stamped with the digest of the config, the data and the code that
computed it); an interrupted run re-run with ``--resume`` only computes the chunks that are missing
or do not match. One :class:`Executor` serves a whole study: a Dask local cluster is started once
per run, not per strategy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import periods_per_year
from backtests.digest import strategy_digest
from backtests.data.market_data import MarketData, asof
from backtests.engine.costs import SymbolCosts
from backtests.engine.periods import period_returns
from backtests.engine.schedule import Limits, UnfillableOrder
from backtests.engine.simulate import simulate
from backtests.errors import ConfigError, Interrupted
from backtests.strategy.base import Strategy
from backtests.strategy.context import StrategyContext
from backtests.strategy.validate import check_target_weights, clock_span, definition_line, guard
from backtests.time.windows import Window

#: Working memory of one chunk when no limit is given (and never more than a quarter of RAM).
DEFAULT_LIMIT_BYTES = 2e9
#: Bytes per simulation cell (row x combination x symbol x window) across the strategy's weights,
#: the schedule and the kernel's arrays (measured at 100,000 combinations, with headroom).
BYTES_PER_CELL = 160


@dataclass
class ChunkTask:
    """Everything one chunk needs; picklable so it can run on a Dask worker."""

    label: str
    strategy: Strategy
    data: MarketData
    events: pd.DataFrame
    grid: pd.DataFrame  # rows of the sweep grid; index = global combo ids
    windows: list[Window]
    costs: dict[str, SymbolCosts]
    fill: str
    init_cash: float
    exit_at_window_end: bool
    benchmark: str | None
    keep_weights: bool = True
    #: leverage limits, financing and on_unfillable (engine); None = no borrowing, errors
    limits: Limits | None = None
    #: the strategy's ``episode_entry`` ("change" or "state")
    entry: str = "state"
    #: "together" or "independent" (``execution.legs`` resolved for the strategy)
    legs: str = "independent"
    #: the strategy declares its legs a pair (``paired_legs``)
    paired: bool = False


@dataclass
class WindowBlock:
    """One window's results for the combinations of one chunk (plain numpy)."""

    window: str
    combos: np.ndarray  # (k,) global combo ids
    ends: np.ndarray  # (P,) int64 ns period ends
    returns: np.ndarray  # (P, k)
    bench: np.ndarray | None  # (P,)
    ppy: float
    entries: np.ndarray  # (k,)
    exposure: np.ndarray  # (k,)
    turnover: np.ndarray  # (k,)
    n_orders: np.ndarray  # (k,)
    stamps: np.ndarray  # (rows,) int64 ns
    held: np.ndarray | None  # (rows, k, symbols)
    target: np.ndarray | None  # (rows, k, symbols)
    orders: pd.DataFrame  # combo (global), symbol, row, side, size, price, fees
    #: named warnings met in this window (JSON-ready :meth:`Notice.record` dicts)
    notices: list[dict] = field(default_factory=list)
    #: (k,) targets or fills clipped to the leverage limits (``on_unfillable: clip``)
    clipped: np.ndarray | None = None
    #: (k,) paired strategies: legs traded in the episode, hours between the legs' first fills
    legs_traded: np.ndarray | None = None
    legging_gap_hours: np.ndarray | None = None


def benchmark_periods(data: MarketData, symbol: str, window: Window, ends: np.ndarray) -> np.ndarray:
    """Benchmark simple returns over the same periods (as-of prices, in USD)."""
    px = data.to_usd(symbol, "close")
    at = pd.DatetimeIndex(np.concatenate([[window.start_utc.as_unit("ns").value], ends]), tz="UTC")
    levels = asof(px, at).to_numpy()
    return levels[1:] / levels[:-1] - 1.0


def compute_chunk(task: ChunkTask) -> list[WindowBlock]:
    """Weights, simulation and period returns for one chunk of combinations."""
    strategy = task.strategy
    traded = strategy.traded_symbols
    ctx = StrategyContext(task.data, strategy.symbols, task.events, traded=traded)
    local_grid = task.grid.reset_index(drop=True)
    local_grid.index.name = "combo"
    vectorized = type(strategy).target_weights is not Strategy.target_weights
    made_by = type(strategy).target_weights if vectorized else type(strategy).weights
    raw = guard(strategy, task.label, "target_weights()" if vectorized else "weights()", strategy.target_weights,
                ctx, local_grid, at=made_by)
    weights, notices = check_target_weights(
        raw, task.label, traded, len(local_grid), clock_span(ctx), task.windows,
        combo_names=task.grid.index.tolist(), where=definition_line(made_by), entry=task.entry)
    n = len(local_grid)
    try:
        results = simulate(task.data, traded, weights, n, task.windows, task.costs, fill=task.fill,
                           init_cash=task.init_cash, exit_at_window_end=task.exit_at_window_end,
                           keep_weights=task.keep_weights, entry=task.entry, limits=task.limits,
                           legs=task.legs, paired=task.paired)
    except UnfillableOrder as exc:
        params = local_grid.iloc[exc.combo].to_dict() if len(local_grid) > exc.combo else {}
        raise UnfillableOrder(
            f"{task.label} {params} at {exc.stamp.isoformat()} on {exc.symbol}: {exc.detail}",
            exc.combo, exc.stamp, exc.symbol) from None
    combos = task.grid.index.to_numpy()
    blocks = []
    for res in results:
        w = res.window
        ends, prets = period_returns(res.stamps, res.returns, w, task.data.frequency)
        orders = res.orders
        n_orders = np.bincount(orders["combo"].to_numpy(dtype=int), minlength=n) if len(orders) else np.zeros(n, int)
        if len(orders):
            orders = orders.assign(combo=combos[orders["combo"].to_numpy(dtype=int)])
        blocks.append(WindowBlock(
            window=w.id, combos=combos, ends=ends, returns=prets,
            bench=benchmark_periods(task.data, task.benchmark, w, ends) if task.benchmark else None,
            ppy=periods_per_year(w.market, task.data.frequency), entries=res.entries, exposure=res.exposure,
            turnover=res.turnover, n_orders=n_orders, stamps=res.stamps, held=res.held, target=res.target,
            orders=orders, notices=list(res.notices or []) + list(notices.get(w.id, [])), clipped=res.clipped,
            legs_traded=res.legs_traded, legging_gap_hours=res.legging_gap_hours,
        ))
    return blocks


# ----------------------------------------------------------------------------- chunk sizing
def chunk_size(n_combos: int, rows: int, n_windows: int, n_symbols: int, chunk_runs: int | None,
               memory_limit_gb: float | None) -> int:
    """Combinations per chunk: explicit, from a memory limit, or the default cell budget.

    ``rows`` is the longest window's bar count. The default memory limit is a quarter of RAM, at
    most :data:`DEFAULT_LIMIT_BYTES`.
    """
    if chunk_runs:
        return max(1, chunk_runs // max(1, n_windows))
    per_combo = max(1, rows * n_windows * max(1, n_symbols))
    if memory_limit_gb is None:
        total = _total_ram()
        budget = min(DEFAULT_LIMIT_BYTES, total * 0.25) if total else DEFAULT_LIMIT_BYTES
        cells = int(budget / BYTES_PER_CELL)
    else:
        cells = int(memory_limit_gb * 1e9 / BYTES_PER_CELL)
    return max(1, min(n_combos, cells // per_combo))


def _total_ram() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


# ----------------------------------------------------------------------------- checkpoints
#: Version of the checkpoint file layout (part of every chunk's key).
CHECKPOINT_FORMAT = 1
_ARRAYS = ("combos", "ends", "returns", "bench", "entries", "exposure", "turnover", "n_orders", "stamps", "held",
           "target", "clipped", "legs_traded", "legging_gap_hours")


def _digest_arrays(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.reshape(-1).view(np.uint8))  # the array's bytes, without a copy
    return h.hexdigest()


def _encode_blocks(blocks: list[WindowBlock]) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Blocks as plain arrays (no object arrays: loadable with ``allow_pickle=False``) + JSON meta."""
    arrays: dict[str, np.ndarray] = {}
    metas = []
    for i, b in enumerate(blocks):
        for name in _ARRAYS:
            value = getattr(b, name)
            if value is not None:
                arrays[f"{i}.{name}"] = np.asarray(value)
        columns = []
        for j, (col, s) in enumerate(b.orders.items()):
            if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
                arr, kind = s.to_numpy(), "array"
            else:  # text columns (symbol, side): fixed-width unicode, restored to their pandas dtype
                if len(s) and pd.api.types.infer_dtype(s, skipna=False) != "string":
                    raise TypeError(f"orders column {col!r} holds non-text objects; cannot checkpoint it")
                arr, kind = np.asarray(s.to_numpy(), dtype=str) if len(s) else np.zeros(0, dtype="<U1"), "text"
            arrays[f"{i}.orders.{j}"] = arr
            columns.append({"name": str(col), "kind": kind, "dtype": str(s.dtype)})
        metas.append({"window": b.window, "ppy": float(b.ppy), "orders": columns, "notices": b.notices,
                      "present": [n for n in _ARRAYS if getattr(b, n) is not None]})
    return arrays, metas


def _decode_blocks(arrays: dict[str, np.ndarray], metas: list[dict[str, Any]]) -> list[WindowBlock]:
    blocks = []
    for i, m in enumerate(metas):
        fields = {n: (arrays[f"{i}.{n}"] if n in m["present"] else None) for n in _ARRAYS}
        orders = pd.DataFrame({c["name"]: (arrays[f"{i}.orders.{j}"] if c["kind"] == "array"
                                           else pd.Series(arrays[f"{i}.orders.{j}"].tolist(), dtype=object)
                                           .astype(c["dtype"]))
                               for j, c in enumerate(m["orders"])})
        blocks.append(WindowBlock(window=m["window"], ppy=m["ppy"], orders=orders, notices=m["notices"], **fields))
    return blocks


class Checkpoints:
    """Finished chunks on disk, each stamped with what computed it; never executable.

    A chunk is one ``.npz`` file (plain numeric and fixed-width text arrays, read with
    ``allow_pickle=False``; the JSON ``meta`` member holds the notices and the orders' dtypes).
    Its *key* names the run context (``context``: config hash, data fingerprint, scare's code
    digest), the strategy label and the digest of the strategy's code, the chunk bounds and the
    weights mode; a SHA-256 of its arrays detects damage. :meth:`load` returns ``None`` for anything
    that does not match (recomputed by the caller) and records why in :attr:`recomputed`; other
    files in the folder (a planted ``.pkl``) are never opened.

    Parameters
    ----------
    folder
        Where chunks are kept (``None``: no checkpoints).
    context
        JSON-ready facts every chunk of this run shares.
    """

    def __init__(self, folder: Path | None, context: dict[str, Any] | None = None) -> None:
        self.folder = folder
        self.context = dict(context or {})
        self.reused = 0
        #: ``(strategy label, file name, reason)`` of every checkpoint found but not reused
        self.recomputed: list[tuple[str, str, str]] = []

    def _path(self, label: str, lo: int, hi: int) -> Path:
        assert self.folder is not None
        tag = hashlib.sha256(label.encode()).hexdigest()[:10]
        return self.folder / f"{tag}-{lo:09d}-{hi:09d}.npz"

    def key(self, task: ChunkTask, lo: int, hi: int) -> dict[str, Any]:
        """What a chunk's results depend on (compared whole on load)."""
        code, what = strategy_digest(type(task.strategy))
        return {"format": CHECKPOINT_FORMAT, **self.context, "strategy": task.label, "strategy_code": code,
                "strategy_code_of": what, "lo": lo, "hi": hi, "keep_weights": bool(task.keep_weights)}

    def load(self, task: ChunkTask, lo: int, hi: int) -> list[WindowBlock] | None:
        """The chunk's blocks if a checkpoint with exactly this key and intact arrays exists."""
        if self.folder is None:
            return None
        p = self._path(task.label, lo, hi)
        if not p.is_file() or p.is_symlink():
            return None
        key = self.key(task, lo, hi)
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"][()]))
                if meta.get("key") != key:
                    return self._refuse(task.label, p, _mismatch(meta.get("key"), key))
                arrays = {k: z[k] for k in z.files if k != "meta"}
            if _digest_arrays(arrays) != meta["sha256"]:
                return self._refuse(task.label, p, "its arrays do not match their digest (damaged or edited)")
            blocks = _decode_blocks(arrays, meta["blocks"])
        except Exception as exc:  # noqa: BLE001 - any unreadable file is recomputed, never trusted
            return self._refuse(task.label, p, f"not a readable scare checkpoint ({type(exc).__name__})")
        self.reused += 1
        return blocks

    def _refuse(self, label: str, path: Path, reason: str) -> None:
        self.recomputed.append((label, path.name, reason))
        return None

    def save(self, task: ChunkTask, lo: int, hi: int, blocks: list[WindowBlock]) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays, metas = _encode_blocks(blocks)
        meta = {"key": self.key(task, lo, hi), "sha256": _digest_arrays(arrays), "blocks": metas}
        p = self._path(task.label, lo, hi)
        tmp = p.with_name(f"{p.stem}.tmp-{uuid.uuid4().hex[:6]}.npz")
        try:
            with tmp.open("wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)

    def count(self) -> int:
        """Chunk files in the folder."""
        if not self.folder or not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.glob("*.npz") if ".tmp-" not in p.name)

    def summary(self) -> dict[str, Any]:
        """For the manifest: chunks reused and chunks found but recomputed (with the reason)."""
        return {"reused": self.reused,
                "recomputed": [{"strategy": s, "file": f, "reason": r} for s, f, r in self.recomputed]}


@contextmanager
def checkpointing(folder: Path | None, context: dict[str, Any], resume: bool) -> Iterator[Checkpoints]:
    """The checkpoints of one run, cleaned up on every exit path.

    Without ``resume`` the chunks of an earlier unfinished run are discarded (and said). On Ctrl-C
    (``KeyboardInterrupt``; the runner turns SIGTERM into one) finished chunks are kept and
    :class:`~backtests.errors.Interrupted` names them; on success or on an error they are removed.
    """
    from backtests.outputs.folder import note

    if folder is not None and not resume and folder.exists():
        shutil.rmtree(folder)
        note(f"discarded the checkpoints of an earlier unfinished run in {folder.parent} (--resume reuses them)")
    checkpoints = Checkpoints(folder, context)
    try:
        yield checkpoints
    except KeyboardInterrupt:
        kept = checkpoints.count()
        if not kept and folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        where = f"; {kept} finished chunk(s) kept in {folder}, re-run with --resume to finish" if kept else ""
        raise Interrupted(f"interrupted{where}") from None
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _mismatch(found: Any, want: dict[str, Any]) -> str:
    if not isinstance(found, dict):
        return "it carries no key"
    names = {"strategy_code": "the strategy's code changed", "scare_code": "scare's code changed",
             "config_hash": "the config changed", "data": "the data changed"}
    diff = [k for k in want if found.get(k) != want[k]]
    said = [names[k] for k in diff if k in names]
    return "; ".join(said) if said else f"computed with other {', '.join(diff) or 'settings'}"


# ----------------------------------------------------------------------------- executors
class Executor:
    """Where a study's chunks run: in this process, or on Dask.

    ``kind="dask"`` without an address starts **one** local cluster for the whole run (on first
    use, so a run resumed entirely from checkpoints starts none): worker processes, no dashboard,
    scheduler on 127.0.0.1. :meth:`close` (or leaving the ``with`` block, on any exit path) shuts
    the client and the cluster down, workers included. With an address, the cluster is the
    user's: only the client is closed.
    """

    def __init__(self, kind: str = "local", address: str | None = None) -> None:
        self.kind = kind
        self.address = address
        self._client: Any = None
        self._cluster: Any = None
        #: local clusters started (tests check there is at most one per run)
        self.clusters_started = 0

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _dask(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("executor 'dask' needs the dask extra: pip install 'scare[dask]'",
                              where="executor.kind") from None
        if self.address:
            try:
                self._client = Client(self.address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {self.address}: {exc}",
                                  where="executor.address") from None
            return self._client
        workers = max(1, min(2, os.cpu_count() or 1))
        # No dashboard; the scheduler's bare HTTP server (health checks) on a free local port, not 8787.
        self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None, worker_dashboard_address=None,
                                     scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                                     silence_logs=logging.ERROR)  # not "worker killed after 4 s" at close
        self.clusters_started += 1
        self._client = Client(self._cluster)
        return self._client

    def map(self, todo: list[tuple[int, int, ChunkTask]]) -> Iterator[tuple[int, int, ChunkTask, list[WindowBlock]]]:
        """Compute chunks; yields ``(lo, hi, task, blocks)`` in completion order."""
        if self.kind != "dask":
            for lo, hi, t in todo:
                yield lo, hi, t, compute_chunk(t)
            return
        client = self._dask()
        from distributed import as_completed

        futures = {client.submit(compute_chunk, t, pure=False): (lo, hi, t) for lo, hi, t in todo}
        try:
            for fut in as_completed(list(futures)):
                lo, hi, t = futures[fut]
                yield lo, hi, t, fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def run_chunks(tasks: list[tuple[int, int, ChunkTask]], executor: Executor, checkpoints: Checkpoints,
               done: Callable[[int], None]) -> Iterator[tuple[int, list[WindowBlock]]]:
    """Yield ``(lo, blocks)`` for every chunk, from checkpoints or computed by ``executor``."""
    todo = []
    refused = len(checkpoints.recomputed)
    for lo, hi, task in tasks:
        cached = checkpoints.load(task, lo, hi)
        if cached is not None:
            done(hi - lo)
            yield lo, cached
        else:
            todo.append((lo, hi, task))
    _say_recomputed(checkpoints.recomputed[refused:])
    for lo, hi, t, blocks in executor.map(todo):
        checkpoints.save(t, lo, hi, blocks)
        done(hi - lo)
        yield lo, blocks


def _say_recomputed(items: list[tuple[str, str, str]]) -> None:
    if not items:
        return
    from backtests.outputs.folder import note

    by_reason: dict[tuple[str, str], int] = {}
    for label, _, reason in items:
        by_reason[(label, reason)] = by_reason.get((label, reason), 0) + 1
    for (label, reason), n in by_reason.items():
        note(f"{label}: {n} checkpoint(s) not reused ({reason}): recomputed")
