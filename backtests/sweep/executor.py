"""Where a study's chunks run: in this process or on a Dask cluster (:class:`Executor`), and the
loop that takes each chunk from its checkpoint or computes it (:func:`run_chunks`).

One :class:`Executor` serves a whole study: a Dask local cluster is started once per run, not per
strategy. Chunks are yielded in completion order; :mod:`.assemble` puts them in canonical order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from backtests.errors import ConfigError
from backtests.sweep import chunks
from backtests.sweep.checkpoints import Checkpoints
from backtests.sweep.chunks import ChunkTask, WindowBlock

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
                yield lo, hi, t, chunks.compute_chunk(t)
            return
        client = self._dask()
        from distributed import as_completed

        futures = {client.submit(chunks.compute_chunk, t, pure=False): (lo, hi, t) for lo, hi, t in todo}
        try:
            for fut in as_completed(list(futures)):
                lo, hi, t = futures[fut]
                yield lo, hi, t, fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def map_fn(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Any]:
        """``fn(task)`` for every task, here or on Dask; yields results in completion order (callers
        that need an order sort them, as the scenario sweep does by chunk start)."""
        if self.kind != "dask":
            for t in tasks:
                yield fn(t)
            return
        client = self._dask()
        from distributed import as_completed

        futures = [client.submit(fn, t, pure=False) for t in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
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
    from backtests.notices import note

    by_reason: dict[tuple[str, str], int] = {}
    for label, _, reason in items:
        by_reason[(label, reason)] = by_reason.get((label, reason), 0) + 1
    for (label, reason), n in by_reason.items():
        note(f"{label}: {n} checkpoint(s) not reused ({reason}): recomputed")
