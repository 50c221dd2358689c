"""The run folder: what scare may replace in it, its lock, and the swap of a run's files.

A folder is a *scare run folder* when it holds the marker :data:`MARKER` (``.scare-run.json``),
which only scare writes, last, once every file of a run is in place. The marker carries its format
version, the list of files the run wrote and the SHA-256 of each: scare replaces or deletes a file
only when its bytes are still the ones it wrote. The rules for ``--out DIR``:

- ``DIR`` missing or empty: it is created and the run's files are written into it.
- ``DIR`` holds a marker: the files the marker lists are replaced (and listed files the new run
  does not write, e.g. a tearsheet now switched off, are removed); **anything else stays**.
  A listed file whose bytes no longer match the marker's SHA-256 (edited, or a planted marker
  naming someone's ``index.html``) is not scare's: the run refuses and names it. A file the new
  run would write that the marker does not list (a user's own ``metrics.json``) makes the run
  refuse too.
- ``DIR`` holds anything else and no marker (a scare 0.1 run folder has none): the run refuses
  with exit 2 before doing any work. scare never writes into a folder it did not make.

Only scare's own hidden entries (:data:`LOCK`, :data:`CHUNKS`, ``.scare-staging-*``) are ignored
when deciding whether a folder is empty, and they are opened without following links: a lock or a
marker that is a symbolic link, a FIFO or a device, a lock with a second hard link, or a
checkpoint folder that is a link or holds files scare does not write there, is refused (exit 2)
before anything is opened through it. While a run is active it holds an exclusive ``flock`` on
``DIR/.scare-lock``: a second run into the same folder refuses (exit 2) instead of mixing files.
The lock file is removed when the run ends, and the kernel releases the lock if the process dies.

Files are written into a staging folder inside ``DIR`` (same file system, so each file moves in
with one ``rename``); the moves happen with SIGINT/SIGTERM blocked, between a marker saying
``"complete": false`` and the final one. A failed or interrupted run (a full disk included: one
line, exit 2) leaves every earlier file as it was and removes its staging folder; a staging folder
left by a killed run is removed by the next run into ``DIR`` (which says so on stderr) when it
holds only files scare writes there. A folder the run created is removed again if the run fails
before writing anything into it.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from backtests.bounded import file_kind, is_symlink, load_json, open_regular
from backtests.errors import ScareInputError, one_line
from backtests.notices import note

#: The files DESIGN.md promises (pooled.parquet: the calendar-time series the tearsheet draws); a run
#: also writes benchmark.parquet, pooled_benchmark.parquet and orders.parquet.
CONTRACT_FILES = ("metrics.json", "returns.parquet", "pooled.parquet", "weights.parquet", "manifest.json",
                  "tearsheet.html")
RUN_FILES = (*CONTRACT_FILES, "benchmark.parquet", "pooled_benchmark.parquet", "orders.parquet")

#: The marker of a scare run folder, and its format version (2: with the SHA-256 of every file).
MARKER = ".scare-run.json"
MARKER_VERSION = 2
#: Largest marker read (a marker lists a handful of files: a few hundred bytes).
MAX_MARKER_BYTES = 1 << 20
#: The lock file held (``flock``) by the run writing into the folder.
LOCK = ".scare-lock"
#: Finished chunks of an unfinished run (see :class:`backtests.sweep.checkpoints.Checkpoints`).
CHUNKS = ".scare-chunks"
STAGING_PREFIX = ".scare-staging-"
#: The name of a staging folder (``uuid4().hex[:8]`` after the prefix), and the names scare writes
#: into one: a killed run's staging folder is removed only when it holds nothing else.
STAGING_NAME = re.compile(r"^\.scare-staging-[0-9a-f]{8}$")
STAGED_NAMES = frozenset((*RUN_FILES, "runs.parquet", MARKER))  # runs.parquet: outputs.documents.RUNS_FILE

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: The names :class:`backtests.sweep.chunks.Checkpoints` gives its files (``_path`` and the
#: temporary name of ``save``); anything else in :data:`CHUNKS` is not scare's.
CHUNK_FILE = re.compile(r"^[0-9a-f]{10}-[0-9]{9,}-[0-9]{9,}(\.tmp-[0-9a-f]{6})?\.npz$")


def _own_entry(name: str) -> bool:
    return name in (LOCK, CHUNKS, MARKER) or name.startswith(STAGING_PREFIX)


def resolve_out(out_dir: Path | str) -> Path:
    """The absolute output folder (``.`` and ``..`` resolved, ``~`` expanded)."""
    return Path(os.path.abspath(Path(out_dir).expanduser()))


def read_marker(out_dir: Path) -> dict[str, Any] | None:
    """The marker of a run folder (``None`` when there is none); a damaged marker is an error.

    Read without following a link, only if it is a regular file of at most
    :data:`MAX_MARKER_BYTES` (a marker linked to ``/dev/zero`` is refused unread).
    """
    path = out_dir / MARKER
    if not os.path.lexists(path):
        return None
    doc = load_json(path, MAX_MARKER_BYTES, what="the run marker", follow=False,
                    error=_MarkerError)
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("scare_run"), int) or not isinstance(files, list) \
            or not all(isinstance(f, str) and _SAFE_NAME.match(f) and not _own_entry(f) for f in files):
        raise ScareInputError("is not a valid scare run marker; remove the folder or choose another --out",
                              where=str(path))
    if doc["scare_run"] > MARKER_VERSION:
        raise ScareInputError(f"was written by a newer scare (run folder format {doc['scare_run']}, this scare "
                              f"reads {MARKER_VERSION}); choose another --out", where=str(path))
    if doc["scare_run"] < MARKER_VERSION:
        raise ScareInputError(f"was written by an earlier scare (run folder format {doc['scare_run']}) without the "
                              "SHA-256 of its files, so scare cannot prove it wrote them: re-run the study into a new "
                              "folder, or remove this one", where=str(path))
    sums = [doc.get("sha256"), *([doc["replacing"]] if "replacing" in doc else [])]
    if not all(
            isinstance(m, dict) and all(isinstance(v, str) and _SHA256.match(v) for v in m.values()) for m in sums) \
            or set(files) - set(doc["sha256"]):
        raise ScareInputError(f"lists {', '.join(files[:3]) or 'no files'} without the SHA-256 of each, so scare "
                              "cannot prove it wrote them (an earlier scare's or a planted marker); remove the "
                              "folder or choose another --out", where=str(path))
    return doc


class _MarkerError(ScareInputError):
    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(f"is not a readable scare run marker ({message}); remove the folder or choose another "
                         "--out", where=where)


#: Digests already computed in this process, by the file's identity and change times: a run
#: checks its folder before it starts, again under the lock, and once more before it replaces.
_DIGESTS: dict[tuple[int, ...], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a regular file, read without following a link (memoised while it is unchanged)."""
    fd = open_regular(path, follow=False)
    try:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key not in _DIGESTS:
            h = hashlib.sha256()
            while chunk := os.read(fd, 1 << 20):
                h.update(chunk)
            if len(_DIGESTS) > 4096:
                _DIGESTS.clear()
            _DIGESTS[key] = h.hexdigest()
        return _DIGESTS[key]
    finally:
        os.close(fd)


def verify_listed(out_dir: Path, marker: dict[str, Any], names: Any = None) -> None:
    """Refuse (exit 2) when a file the marker lists is no longer the file scare wrote.

    ``names``: only these (the files a write will replace or remove); default every listed file.
    A listed file that is missing is fine (nothing to protect); one that is a link, not a regular
    file, or whose SHA-256 is not the marker's, is not scare's.
    """
    listed = set(marker["files"])
    wanted = sorted(listed if names is None else listed & set(names))
    ok = {name: {marker["sha256"].get(name), (marker.get("replacing") or {}).get(name)} for name in wanted}
    for name in wanted:
        path = out_dir / name
        if not os.path.lexists(path):
            continue
        try:
            digest = file_sha256(path)
        except ScareInputError:
            digest = None
        if digest not in ok[name]:
            raise ScareInputError(f"{name} is not the file scare wrote there (changed since, or listed by a marker "
                                  f"scare did not write: its SHA-256 differs from {MARKER}); scare only replaces or "
                                  "deletes files it can prove it wrote: move it away or choose another --out",
                                  where=str(out_dir))


def check_own_entries(out_dir: Path) -> None:
    """Refuse (exit 2) scare's hidden names when they are not what scare makes there.

    The lock must be a regular file with one link; the checkpoint folder a real folder (not a
    link) holding only chunk files; a staging folder is checked when it is removed.
    """
    lock = out_dir / LOCK
    try:
        st = os.lstat(lock)
    except FileNotFoundError:
        st = None
    if st is not None and (not stat.S_ISREG(st.st_mode) or st.st_nlink > 1):
        what = "a file with a second hard link" if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)
        raise ScareInputError(f"{LOCK} is {what}; scare will not open or truncate it: remove it",
                              where=str(out_dir))
    chunks = out_dir / CHUNKS
    if is_symlink(chunks) or (chunks.exists() and not chunks.is_dir()):
        raise ScareInputError(f"{CHUNKS} is {'a symbolic link' if is_symlink(chunks) else 'not a folder'}; scare "
                              "keeps its checkpoints only in a folder of its own and will not read, write or delete "
                              "through it: remove it", where=str(out_dir))
    if chunks.is_dir():
        try:
            foreign = sorted(e.name for e in os.scandir(chunks)
                             if not CHUNK_FILE.match(e.name) or not e.is_file(follow_symlinks=False))
        except OSError as exc:
            raise ScareInputError(f"cannot read {CHUNKS}: {exc.strerror or exc}", where=str(out_dir)) from None
        if foreign:
            raise ScareInputError(f"{CHUNKS} holds {', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}, "
                                  "which scare did not write; scare removes that folder when a run ends: move "
                                  "it out", where=str(out_dir))


def check_destination(out_dir: Path, touches: Any = None) -> None:
    """Refuse (exit 2) an output path scare may not write into; see the module docstring.

    ``touches``: the files the caller will replace (``scare report``: the tearsheet); by default
    every file the marker lists (a run replaces or removes all of them).
    """
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
    check_own_entries(out_dir)
    marker = read_marker(out_dir)
    if marker is None and foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ScareInputError(f"output folder is not empty and is not a scare run folder (no {MARKER}; it holds "
                              f"{shown}); scare only writes into an empty folder or its own run folder: choose "
                              "another --out", where=str(out_dir))
    if marker is not None:
        verify_listed(out_dir, marker, touches)


def disk_full(exc: BaseException) -> bool:
    """True for "no space left" (or over quota), however the writing library reports it."""
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)


class RunFolder:
    """An output folder opened for one run: checked, created, locked; closed on every exit path.

    Use as a context manager. On a clean exit the lock is released; on an exception, folders this
    run created are removed again if nothing is left in them (finished chunks kept for
    ``--resume`` keep the folder). A full disk met while the folder is open (a checkpoint, a
    run file) becomes one line, exit 2; earlier files stay as they were.

    Parameters
    ----------
    out_dir
        The output folder.
    touches
        The files the caller will replace (``scare report``: ``tearsheet.html``); ``None``: a run,
        which replaces or removes every file the marker lists.
    """

    #: Folders locked by this process: writing into one goes through its RunFolder.
    held: dict[Path, RunFolder] = {}

    def __init__(self, out_dir: Path | str, touches: Any = None) -> None:
        self.path = resolve_out(out_dir)
        self.touches = None if touches is None else set(touches)
        self._moved = False  # a swap has begun moving files in
        self._fd: int | None = None
        self._created: list[Path] = []

    @property
    def chunks(self) -> Path:
        """The checkpoint folder of this run folder (checked to be scare's own when the folder opened)."""
        return self.path / CHUNKS

    # ------------------------------------------------------------------ open / close
    def __enter__(self) -> RunFolder:
        check_destination(self.path, self.touches)
        self._create()
        try:
            self._lock()
            check_destination(self.path, self.touches)  # another run may have written it while we waited
            self._remove_stale_staging()
        except BaseException:
            self._close(failed=True)
            raise
        RunFolder.held[self.path] = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close(failed=exc_type is not None)
        if exc is not None and isinstance(exc, OSError) and disk_full(exc):
            raise ScareInputError(f"no space left on the device while the run wrote into it "
                                  f"({exc.strerror or 'No space left on device'}); nothing of an earlier run was "
                                  "replaced: free space and run again", where=str(self.path)) from exc

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
            # no link followed, a regular file with one link only: a planted .scare-lock cannot
            # make the run truncate someone's file, or block on a FIFO
            fd = open_regular(lock, follow=False, write=True, create=True, single_link=True)
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
            if self._same_file(lock, fd):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    @staticmethod
    def _same_file(path: Path, fd: int) -> bool:
        try:
            now, held = os.lstat(path), os.fstat(fd)
        except FileNotFoundError:
            return False
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def _remove_stale_staging(self) -> None:
        # We hold the lock, so any staging folder here belongs to a run that was killed; it is
        # removed only when it holds nothing but plain files named as scare names them.
        removed, left = 0, []
        for e in sorted(self.path.iterdir()):
            if not e.name.startswith(STAGING_PREFIX) or is_symlink(e) or not e.is_dir():
                continue
            entries = list(os.scandir(e))
            if STAGING_NAME.match(e.name) and all(x.name in STAGED_NAMES and x.is_file(follow_symlinks=False)
                                                  for x in entries):
                for x in entries:
                    os.unlink(x.path)
                e.rmdir()
                removed += 1
            else:
                left.append(e.name)
        if removed:
            note(f"removed {removed} staging folder(s) left in {self.path} by a run that was killed")
        if left:
            note(f"left {left[0]}{' and others' if len(left) > 1 else ''} in {self.path}: it holds entries scare "
                 "does not write there; delete it yourself if it is not yours")
        # scare 0.1 staged and checkpointed (as pickles) beside the folder: report, do not touch
        legacy = sorted(p.name for kind in ("chunks", "staging", "old")
                        for p in self.path.parent.glob(f".{glob.escape(self.path.name)}.{kind}-*"))
        if legacy:
            more = ", ..." if len(legacy) > 1 else ""
            note(f"{len(legacy)} folder(s) beside {self.path} look left by scare 0.1 ({legacy[0]}{more}); "
                 "this scare never reads them: delete them")

    def _close(self, failed: bool) -> None:
        if RunFolder.held.get(self.path) is self:
            del RunFolder.held[self.path]
        if self._fd is not None:
            if self._same_file(self.path / LOCK, self._fd):
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

        Replaces only files the folder's marker lists, and only while their bytes are the ones
        scare wrote; see the module docstring. With ``update`` (``scare report`` redrawing the
        tearsheet) the other files the marker lists are kept and stay listed; otherwise they are
        the previous run's and are removed. An ``OSError`` while writing (a full disk) is one line
        (exit 2), with nothing replaced.
        """
        for name in writers:
            if not _SAFE_NAME.match(name) or _own_entry(name):
                raise ValueError(f"not a run file name: {name!r}")
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
        if marker:  # what is replaced or removed must still be what scare wrote
            verify_listed(self.path, marker, set(writers) | (old - new))
        kept = {n: marker["sha256"][n] for n in new - set(writers)} if marker else {}
        stage = self.path / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        stage.mkdir()
        current = next(iter(writers)) if len(writers) == 1 else ""
        self._moved = False
        try:
            try:
                for current, writer in writers.items():
                    writer(stage / current)
                sums = {}
                for current in writers:
                    sums[current] = _sync_and_hash(stage / current)
                current = next(iter(writers)) if len(writers) == 1 else ""
                self._swap(stage, old, new, {**kept, **sums}, dict(marker["sha256"]) if marker else {})
            except OSError as exc:
                why = (exc.strerror or "No space left on device") if disk_full(exc) else (exc.strerror or str(exc))
                state = ("some files of the new run are in place and the marker says \"complete\": false: run "
                         "again" if self._moved else "nothing of an earlier run was replaced")
                raise ScareInputError(f"{'' if current else 'the run files '}cannot be written: {why}; {state}"
                                      + (": free space and run again" if disk_full(exc) and not self._moved else ""),
                                      where=str(self.path / current) if current else str(self.path)) from exc
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return self.path

    def _swap(self, stage: Path, old: set[str], new: set[str], sums: dict[str, str],
              previous: dict[str, str]) -> None:
        blocked = {signal.SIGINT, signal.SIGTERM}
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            listed = sorted(old | new)
            self._write_marker(stage, listed, {n: sums.get(n) or previous[n] for n in listed}, complete=False,
                               replacing={n: previous[n] for n in listed if n in previous and n in sums})
            for name in sorted(new):
                if (stage / name).exists():
                    os.replace(stage / name, self.path / name)
                    self._moved = True
            for name in sorted(old - new):
                gone = self.path / name
                if gone.is_file() and not gone.is_symlink():  # verified against its SHA-256 above
                    gone.unlink()
            self._write_marker(stage, sorted(new), {n: sums[n] for n in new}, complete=True)
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _write_marker(self, stage: Path, files: list[str], sums: dict[str, str], complete: bool,
                      replacing: dict[str, str] | None = None) -> None:
        doc: dict[str, Any] = {"scare_run": MARKER_VERSION, "complete": complete, "files": files,
                               "sha256": dict(sorted(sums.items())),
                               "written_at_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if not complete:
            doc["replacing"] = dict(sorted((replacing or {}).items()))
        tmp = stage / MARKER
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / MARKER)


def _sync_and_hash(path: Path) -> str:
    """Flush a staged file to disk and return its SHA-256 (what the marker records)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
        os.fsync(fh.fileno())
    return h.hexdigest()


def write_atomically(out_dir: Path, writers: dict[str, Callable[[Path], None]], update: bool = False) -> Path:
    """Write a run's files into ``out_dir`` (see :meth:`RunFolder.write`); uses the run's lock if held."""
    path = resolve_out(out_dir)
    folder = RunFolder.held.get(path)
    if folder is not None:
        return folder.write(writers, update)
    with RunFolder(path, touches=set(writers) if update else None) as folder:
        return folder.write(writers, update)
