"""The run folder: what scare may replace in it, its lock, and the swap of a run's files.

A folder is a *scare run folder* when it holds the marker :data:`MARKER` (``.scare-run.json``),
which only scare writes, last, once every file of a run is in place. The marker carries its format
version and the list of files the run wrote. The rules for ``--out DIR``:

- ``DIR`` missing or empty: it is created and the run's files are written into it.
- ``DIR`` holds a marker: the files the marker lists are replaced (and listed files the new run
  does not write, e.g. a tearsheet now switched off, are removed); **anything else stays**.
  A file the new run would write that the marker does not list (a user's own ``metrics.json``)
  makes the run refuse.
- ``DIR`` holds anything else and no marker (a scare 0.1 run folder has none): the run refuses
  with exit 2 before doing any work. scare never writes into a folder it did not make.

Only scare's own hidden entries (:data:`LOCK`, :data:`CHUNKS`, ``.scare-staging-*``) are ignored
when deciding whether a folder is empty. While a run is active it holds an exclusive ``flock`` on
``DIR/.scare-lock``: a second run into the same folder refuses (exit 2) instead of mixing files.
The lock file is removed when the run ends, and the kernel releases the lock if the process dies.
The lock belongs to the process that took it (its pid is written in it): a process forked from it
closes its inherited copy at once and can neither write into the folder nor release the lock.

Files are written into a staging folder inside ``DIR`` (same file system, so each file moves in
with one ``rename``); the moves happen with SIGINT/SIGTERM blocked, between a marker saying
``"complete": false`` and the final one. A failed or interrupted run leaves every earlier file as
it was and removes its staging folder; a staging folder left by a killed run is removed by the next
run into ``DIR`` (which says so on stderr). A folder the run created is removed again if the run
fails before writing anything into it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from backtests.notices import note
from backtests.errors import ScareInputError
from backtests.strategy.bounds import at_hard_exit

#: The files DESIGN.md promises (pooled.parquet: the calendar-time series the tearsheet draws); a run
#: also writes benchmark.parquet, pooled_benchmark.parquet and orders.parquet.
CONTRACT_FILES = ("metrics.json", "returns.parquet", "pooled.parquet", "weights.parquet", "manifest.json",
                  "tearsheet.html")
RUN_FILES = (*CONTRACT_FILES, "benchmark.parquet", "pooled_benchmark.parquet", "orders.parquet")

#: The marker of a scare run folder, and its format version.
MARKER = ".scare-run.json"
MARKER_VERSION = 1
#: The lock file held (``flock``) by the run writing into the folder.
LOCK = ".scare-lock"
#: Finished chunks of an unfinished run (see :class:`backtests.sweep.checkpoints.Checkpoints`).
CHUNKS = ".scare-chunks"
STAGING_PREFIX = ".scare-staging-"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _own_entry(name: str) -> bool:
    return name in (LOCK, CHUNKS, MARKER) or name.startswith(STAGING_PREFIX)


def resolve_out(out_dir: Path | str) -> Path:
    """The absolute output folder (``.`` and ``..`` resolved, ``~`` expanded)."""
    return Path(os.path.abspath(Path(out_dir).expanduser()))


def read_marker(out_dir: Path) -> dict[str, Any] | None:
    """The marker of a run folder (``None`` when there is none); a damaged marker is an error."""
    path = out_dir / MARKER
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScareInputError(f"is not a readable scare run marker ({type(exc).__name__}); remove the folder "
                              "or choose another --out", where=str(path)) from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("scare_run"), int) or not isinstance(files, list) \
            or not all(isinstance(f, str) and _SAFE_NAME.match(f) and not _own_entry(f) for f in files):
        raise ScareInputError("is not a valid scare run marker; remove the folder or choose another --out",
                              where=str(path))
    if doc["scare_run"] > MARKER_VERSION:
        raise ScareInputError(f"was written by a newer scare (run folder format {doc['scare_run']}, this scare "
                              f"reads {MARKER_VERSION}); choose another --out", where=str(path))
    return doc


def check_destination(out_dir: Path) -> None:
    """Refuse (exit 2) an output path scare may not write into; see the module docstring."""
    out_dir = resolve_out(out_dir)
    probe = out_dir
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():
            raise ScareInputError(f"{probe} is a broken symbolic link", where=str(out_dir))
        probe = probe.parent
    if probe != out_dir and not probe.is_dir():
        raise ScareInputError(f"cannot create the output folder: {probe} is a file, not a folder", where=str(out_dir))
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ScareInputError("output path exists and is not a folder", where=str(out_dir))
    try:
        foreign = sorted(e.name for e in out_dir.iterdir() if not _own_entry(e.name))
    except OSError as exc:
        raise ScareInputError(f"cannot read the output folder: {exc.strerror or exc}", where=str(out_dir)) from None
    if read_marker(out_dir) is None and foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ScareInputError(f"output folder is not empty and is not a scare run folder (no {MARKER}; it holds "
                              f"{shown}); scare only writes into an empty folder or its own run folder: choose "
                              "another --out", where=str(out_dir))


class RunFolder:
    """An output folder opened for one run: checked, created, locked; closed on every exit path.

    Use as a context manager. On a clean exit the lock is released; on an exception, folders this
    run created are removed again if nothing is left in them (finished chunks kept for
    ``--resume`` keep the folder).
    """

    #: Folders locked by this process: writing into one goes through its RunFolder.
    held: dict[Path, RunFolder] = {}

    def __init__(self, out_dir: Path | str) -> None:
        self.path = resolve_out(out_dir)
        self._fd: int | None = None
        self._pid = os.getpid()  # the one process that may write into the folder and release the lock
        self._created: list[Path] = []
        self._forget_hard_exit: Callable[[], None] | None = None

    @property
    def chunks(self) -> Path:
        """The checkpoint folder of this run folder."""
        return self.path / CHUNKS

    # ------------------------------------------------------------------ open / close
    def __enter__(self) -> RunFolder:
        check_destination(self.path)
        self._create()
        try:
            self._lock()
            check_destination(self.path)  # another run may have written it while we waited to lock
            self._remove_stale_staging()
        except BaseException:
            self._close(failed=True)
            raise
        RunFolder.held[self.path] = self
        # a plug-in call stuck in compiled code ends the process (backtests.strategy.bounds): the lock
        # and the folders this run created go with it
        self._forget_hard_exit = at_hard_exit(lambda: self._close(failed=True))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close(failed=exc_type is not None)

    def _create(self) -> None:
        missing = []
        p = self.path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                self._remove_created()
                raise ScareInputError(f"cannot create the output folder: {exc.strerror or exc}",
                                      where=str(self.path)) from None
            self._created.append(d)

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (documented)
            return
        lock = self.path / LOCK
        while True:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise ScareInputError(f"cannot write into the output folder: {exc.strerror or exc}",
                                      where=str(self.path)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise ScareInputError(f"another scare run{who} is writing into this folder; wait for it to "
                                      "finish or choose another --out", where=str(self.path)) from None
            # The previous holder unlinks the file before releasing it: make sure we locked the
            # file that is still there, not an orphaned inode.
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _remove_stale_staging(self) -> None:
        # We hold the lock, so any staging folder here belongs to a run that was killed.
        stale = [e for e in self.path.iterdir() if e.name.startswith(STAGING_PREFIX) and e.is_dir()
                 and not e.is_symlink()]
        for e in stale:
            shutil.rmtree(e, ignore_errors=True)
        if stale:
            note(f"removed {len(stale)} staging folder(s) left in {self.path} by a run that was killed")
        # scare 0.1 staged and checkpointed (as pickles) beside the folder: report, do not touch
        legacy = sorted(p.name for kind in ("chunks", "staging", "old")
                        for p in self.path.parent.glob(f".{glob.escape(self.path.name)}.{kind}-*"))
        if legacy:
            more = ", ..." if len(legacy) > 1 else ""
            note(f"{len(legacy)} folder(s) beside {self.path} look left by scare 0.1 ({legacy[0]}{more}); "
                 "this scare never reads them: delete them")

    @classmethod
    def _forget_in_child(cls) -> None:
        """After a fork, in the child: close the inherited lock descriptors (the parent keeps the
        lock) and forget the folders, so the child cannot write into them or release them."""
        for folder in list(cls.held.values()):
            if folder._fd is not None:
                try:
                    os.close(folder._fd)
                except OSError:
                    pass
                folder._fd = None
            folder._created = []
        cls.held.clear()

    def _close(self, failed: bool) -> None:
        if os.getpid() != self._pid:  # a forked child: nothing here is its own
            return
        if self._forget_hard_exit is not None:
            self._forget_hard_exit()
            self._forget_hard_exit = None
        if RunFolder.held.get(self.path) is self:
            del RunFolder.held[self.path]
        if self._fd is not None:
            try:
                os.unlink(self.path / LOCK)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
        if failed:
            self._remove_created()

    def _remove_created(self) -> None:
        for d in reversed(self._created):
            try:
                d.rmdir()  # only if empty
            except OSError:
                break
        self._created = []

    # ------------------------------------------------------------------ writing
    def write(self, writers: dict[str, Callable[[Path], None]], update: bool = False) -> Path:
        """Run each ``writer(path)`` into a staging folder, then move the files into the folder.

        Replaces only files the folder's marker lists; see the module docstring. With ``update``
        (``scare report`` redrawing the tearsheet) the other files the marker lists are kept and
        stay listed; otherwise they are the previous run's and are removed.
        """
        for name in writers:
            if not _SAFE_NAME.match(name) or _own_entry(name):
                raise ValueError(f"not a run file name: {name!r}")
        if os.getpid() != self._pid or self._fd is None and RunFolder.held.get(self.path) is not self:
            raise ScareInputError("this process does not hold the run folder's lock (a forked process?); only the "
                                  "run that took it writes into the folder", where=str(self.path))
        marker = read_marker(self.path)
        old = set(marker["files"]) if marker else set()
        new = set(writers) | (old if update else set())
        for name in sorted(writers):
            target = self.path / name
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise ScareInputError(f"{name} in the output folder is not a plain file; scare will not replace it",
                                      where=str(self.path))
            if target.exists() and name not in old:
                raise ScareInputError(f"the output folder holds a {name} that scare did not write; move it or "
                                      "choose another --out", where=str(self.path))
        stage = self.path / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        stage.mkdir()
        try:
            for name, writer in writers.items():
                writer(stage / name)
            for name in writers:
                with open(stage / name, "rb") as fh:
                    os.fsync(fh.fileno())
            self._swap(stage, old, new)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return self.path

    def _swap(self, stage: Path, old: set[str], new: set[str]) -> None:
        blocked = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            self._write_marker(stage, sorted(old | new), complete=False)
            for name in sorted(new):
                if (stage / name).exists():
                    os.replace(stage / name, self.path / name)
            for name in sorted(old - new):
                gone = self.path / name
                if gone.is_file() and not gone.is_symlink():
                    gone.unlink()
            self._write_marker(stage, sorted(new), complete=True)
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def _write_marker(self, stage: Path, files: list[str], complete: bool) -> None:
        doc = {"scare_run": MARKER_VERSION, "complete": complete, "files": files,
               "written_at_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        tmp = stage / MARKER
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / MARKER)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=RunFolder._forget_in_child)


def write_atomically(out_dir: Path, writers: dict[str, Callable[[Path], None]], update: bool = False) -> Path:
    """Write a run's files into ``out_dir`` (see :meth:`RunFolder.write`); uses the run's lock if held."""
    path = resolve_out(out_dir)
    folder = RunFolder.held.get(path)
    if folder is not None:
        return folder.write(writers, update)
    with RunFolder(path) as folder:
        return folder.write(writers, update)
