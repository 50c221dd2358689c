"""Finished chunks kept on disk (``--resume``): plain numpy files, never executed.

A chunk's blocks are written as one ``.npz`` file of numeric and fixed-width text arrays (read
with ``allow_pickle=False``), stamped with the digest of the config, the data and the code that
computed it; an interrupted run re-run with ``--resume`` only computes the chunks that are missing
or do not match (:class:`Checkpoints`, :func:`checkpointing`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.digest import record_digest, strategy_digest, table_digest
from backtests.errors import Interrupted
from backtests.strategy.bounds import at_hard_exit
from backtests.sweep.chunks import ChunkTask, WindowBlock

#: Version of the checkpoint file layout (part of every chunk's key). 2: returns on the run's
#: clock (no period ends), the engine's statistics as ``stat.<name>`` members. 3: the key covers
#: every field of the chunk's task (events, windows, grid rows, rules, data with intraday bars).
CHECKPOINT_FORMAT = 3
#: The array fields of a :class:`~backtests.sweep.chunks.WindowBlock` besides its statistics.
ARRAYS = ("combos", "stamps", "returns", "bench", "held", "target")
#: Member-name prefix of the engine's per-run statistics (:data:`~backtests.engine.results.RUN_STATS`).
STAT = "stat."


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
        present = [n for n in ARRAYS if getattr(b, n) is not None] + [STAT + n for n in b.stats]
        for name in present:
            value = b.stats[name[len(STAT):]] if name.startswith(STAT) else getattr(b, name)
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
        metas.append({"window": b.window, "orders": columns, "notices": b.notices, "present": present})
    return arrays, metas


def _decode_blocks(arrays: dict[str, np.ndarray], metas: list[dict[str, Any]]) -> list[WindowBlock]:
    blocks = []
    for i, m in enumerate(metas):
        fields = {n: (arrays[f"{i}.{n}"] if n in m["present"] else None) for n in ARRAYS}
        stats = {n[len(STAT):]: arrays[f"{i}.{n}"] for n in m["present"] if n.startswith(STAT)}
        orders = pd.DataFrame({c["name"]: (arrays[f"{i}.orders.{j}"] if c["kind"] == "array"
                                           else pd.Series(arrays[f"{i}.orders.{j}"].tolist(), dtype=object)
                                           .astype(c["dtype"]))
                               for j, c in enumerate(m["orders"])})
        blocks.append(WindowBlock(window=m["window"], orders=orders, stats=stats, notices=m["notices"], **fields))
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
        self._digests: dict[tuple[str, int], tuple[Any, str]] = {}  # per object shared by a strategy's chunks
        #: ``(strategy label, file name, reason)`` of every checkpoint found but not reused
        self.recomputed: list[tuple[str, str, str]] = []

    def _path(self, label: str, lo: int, hi: int) -> Path:
        assert self.folder is not None
        tag = hashlib.sha256(label.encode()).hexdigest()[:10]
        return self.folder / f"{tag}-{lo:09d}-{hi:09d}.npz"

    def key(self, task: ChunkTask, lo: int, hi: int) -> dict[str, Any]:
        """What a chunk's results depend on (compared whole on load): every field of its
        :class:`~backtests.sweep.chunks.ChunkTask`, besides the run's context.

        ``label`` as is; ``strategy``: the digest of its class's file and its roles; ``data``: the
        digest of the strategy's symbols, their FX and intraday bars (the context's fingerprint
        covers the study's daily bars only); ``events``: the catalogue's contents (an edited
        ``events_files`` entry changes it even though the config, which names the file, does not);
        ``grid``: the chunk's parameter rows and their bounds ``lo``/``hi``; ``windows``: ids,
        events, spans and session closes; ``rules``: :meth:`~backtests.engine.rules.Rules.record`;
        ``benchmark`` and ``keep_weights`` as they are.
        """
        code, what = strategy_digest(type(task.strategy))
        return {"format": CHECKPOINT_FORMAT, **self.context, "libraries": _libraries(),
                "strategy": task.label, "strategy_code": code,
                "strategy_code_of": what, "roles": dict(sorted(task.strategy.symbols.items())),
                "lo": lo, "hi": hi, "grid": table_digest(task.grid), "keep_weights": bool(task.keep_weights),
                "benchmark": task.benchmark,
                "strategy_data": self._memo("data", task.data, lambda d: d.content_digest()),
                "events": self._memo("events", task.events, table_digest),
                "windows": self._memo("windows", task.windows, lambda ws: record_digest(
                    [{**w.to_record(), "closes": [int(c) for c in w.closes.asi8]} for w in ws])),
                "rules": self._memo("rules", task.rules, lambda r: record_digest(r.record())),
                "exchange_state": _state_digest(task)}

    def _memo(self, kind: str, obj: Any, digest: Any) -> str:
        """``digest(obj)``, computed once per object (a strategy's chunks share their data, events,
        windows and rules); the object is held so that its id is not reused."""
        got = self._digests.get((kind, id(obj)))
        if got is None or got[0] is not obj:
            got = (obj, digest(obj))
            self._digests[(kind, id(obj))] = got
        return got[1]

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
    from backtests.notices import note

    if folder is not None and not resume and folder.exists():
        shutil.rmtree(folder)
        note(f"discarded the checkpoints of an earlier unfinished run in {folder.parent} (--resume reuses them)")
    checkpoints = Checkpoints(folder, context)
    forget = at_hard_exit(lambda: shutil.rmtree(folder, ignore_errors=True)) if folder is not None else None
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
    finally:
        if forget is not None:
            forget()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _libraries() -> dict[str, str | None]:
    """Versions of Python and of the libraries that compute a chunk (a chunk made by another
    vectorbt, numba, numpy or pandas is not reused)."""
    global _LIBRARIES
    if _LIBRARIES is None:
        import importlib.metadata as md
        import platform

        found: dict[str, str | None] = {"python": platform.python_version()}
        for name in ("numpy", "pandas", "numba", "vectorbt", "vectorbt-rust"):
            try:
                found[name] = md.version(name)
            except md.PackageNotFoundError:
                found[name] = None
        _LIBRARIES = found
    return dict(_LIBRARIES)


_LIBRARIES: dict[str, str | None] | None = None


def _state_digest(task: ChunkTask) -> str | None:
    """Digest of the exchange state the chunk's runs are executed under (None: no state)."""
    state = getattr(task.rules, "state", None)
    return state.digest if state is not None else None


def _mismatch(found: Any, want: dict[str, Any]) -> str:
    if not isinstance(found, dict):
        return "it carries no key"
    names = {"strategy_code": "the strategy's code changed", "scare_code": "scare's code changed",
             "config_hash": "the config changed", "data": "the data changed",
             "strategy_data": "the strategy's data changed", "events": "the event catalogue changed",
             "windows": "the windows changed", "rules": "the execution rules changed",
             "grid": "the parameter grid changed", "roles": "the roles changed",
             "libraries": "the libraries changed",
             "exchange_state": "the exchange state derived from the data changed"}
    diff = [k for k in want if found.get(k) != want[k]]
    said = [names[k] for k in diff if k in names]
    return "; ".join(said) if said else f"computed with other {', '.join(diff) or 'settings'}"
