"""Keeping the cache: verify, clear and remove, deleting only what scare can prove it wrote.

A file in the cache folder is **proven scare's** when either

* the manifest lists it and its bytes still have the SHA-256 the entry records, or
* nothing lists it (an *orphan*: left by a write killed between the data file and the manifest,
  or an old file whose removal failed) but it carries all three of scare's marks: its path is
  ``<source>/<symbol>/<series>-<frequency>.<sha12>.parquet`` with valid names, the first 12 hex
  digits of its SHA-256 are ``sha12``, and its parquet metadata holds the entry scare embeds, with
  the key its path names.

Everything else is reported and left: a temporary file of an interrupted write (its content cannot
be checked), a listed file whose checksum no longer matches (damaged, or someone's file under
scare's name), any file scare does not name, a symbolic link. ``scare data clear`` and
``scare data verify --fix`` refuse a folder that is not a scare cache (no manifest and no proven
file) and touch nothing in it; an empty folder is simply empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backtests.errors import DataError
from backtests.data.store import (
    ENV_DIR, FREQ_RE, MANIFEST, MAX_ENTRY_BYTES, SERIES_RE, SOURCE_RE, TMP_MARK, Cache, Problem, delete_proven,
    entry_key, entry_problem,
)
from backtests.names import symbol_problem

_FILE_NAME = re.compile(r"^(?P<series>[a-z][a-z0-9_]{0,40})-(?P<freq>[0-9]{1,4}[A-Za-z]{1,4})\."
                        r"(?P<sha>[0-9a-f]{12})\.parquet$")
LEFT = ("not deleted: scare cannot prove it wrote it ({why}); delete it yourself if it is not yours")


def data_files(cache: Cache) -> list[Path]:
    """Every file (or link) below the cache that looks like ours: parquet or a temporary write.

    Links to folders are not followed; a link to a file is listed (and never deleted).
    """
    root = cache.root
    if not root.is_dir():
        return []
    out = []
    for p in root.rglob("*"):
        if p.parent == root or not (p.is_symlink() or p.is_file()):
            continue
        if p.suffix == ".parquet" or TMP_MARK in p.name:
            out.append(p)
    out.extend(p for p in root.glob(f".{MANIFEST}{TMP_MARK}*") if p.is_file() or p.is_symlink())
    return sorted(out)


def proven_orphan(cache: Cache, path: Path) -> tuple[str, dict[str, Any], bytes] | None:
    """``(key, embedded entry, bytes)`` of an unlisted file that carries all of scare's marks, else ``None``."""
    try:
        parts = path.relative_to(cache.root).parts
    except ValueError:
        return None
    if len(parts) != 3:
        return None
    source, symbol, name = parts
    m = _FILE_NAME.match(name)
    if not m or not SOURCE_RE.match(source) or symbol_problem(symbol) or not SERIES_RE.match(m["series"]) \
            or not FREQ_RE.match(m["freq"]):
        return None
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest[:12] != m["sha"]:
        return None
    try:
        import io

        import pyarrow.parquet as pq

        info = json.loads((pq.read_schema(io.BytesIO(data)).metadata or {}).get(b"scare", b"{}"))
        key = entry_key(source, symbol, m["series"], m["freq"])
    except Exception:  # noqa: BLE001 - not a parquet file with scare's metadata: not proven
        return None
    if not isinstance(info, dict) or info.get("key") != key or not isinstance(info.get("entry"), dict):
        return None
    return key, info["entry"], data


def _prune(cache: Cache, folders: Iterable[Path]) -> None:
    """Remove the ``<source>/<symbol>`` folders scare emptied (and their source folder when empty)."""
    root = cache.root.resolve()
    for d in sorted(set(folders), key=lambda p: -len(p.parts)):
        for folder in (d, d.parent):
            try:
                if folder.resolve() == root or root not in folder.resolve().parents or folder.is_symlink():
                    break
                folder.rmdir()  # only an empty folder goes
            except OSError:
                break


def remove(cache: Cache, keys: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """Drop manifest entries and delete their files when proven scare's.

    Returns the keys removed and the files left (a listed file whose bytes changed).
    """
    removed: list[str] = []
    left: list[Problem] = []
    emptied: set[Path] = set()
    with cache.locked():
        doc = cache.manifest()
        for key in keys:
            if key not in doc["entries"]:
                continue
            e = doc["entries"].pop(key)
            removed.append(key)
            if entry_problem(key, e) is not None:
                continue  # what such an entry names is not trusted: its file, if scare's, is an orphan
            try:
                path = cache.path_of(e)
            except DataError:
                continue
            if not os.path.lexists(path):
                continue
            if delete_proven(cache, e):
                emptied.add(path.parent)
            else:
                left.append(Problem("left", str(path), LEFT.format(why="its checksum is not the manifest's"), key))
        cache._write_manifest(doc)
    _prune(cache, emptied)
    return removed, left


def _orphans(cache: Cache, referenced: set[Path], fix: bool) -> list[Problem]:
    """Unlisted files: reported; with ``fix`` the proven ones are deleted, the others left (and said)."""
    out: list[Problem] = []
    emptied: set[Path] = set()
    for p in data_files(cache):
        if p.resolve() in referenced and not p.is_symlink():
            continue
        why = "left by an interrupted write" if TMP_MARK in p.name else "not in the manifest"
        if not fix:
            out.append(Problem("orphan", str(p), why))
            continue
        if proven_orphan(cache, p) is not None:
            with contextlib.suppress(OSError):
                p.unlink()
                emptied.add(p.parent)
                out.append(Problem("orphan", str(p), f"{why}: deleted (scare's own file)"))
                continue
        reason = ("an interrupted write's temporary file" if TMP_MARK in p.name
                  else "a symbolic link" if p.is_symlink() else "it lacks scare's name, hash or embedded entry")
        out.append(Problem("left", str(p), f"{why}; " + LEFT.format(why=reason)))
    _prune(cache, emptied)
    return out


def _not_a_cache(cache: Cache, what: str) -> DataError:
    return DataError(f"is not a scare data cache (no readable {MANIFEST} and no file scare can prove it wrote): "
                     f"nothing {what}; check --cache / ${ENV_DIR}", where=str(cache.root))


def verify(cache: Cache, fix: bool = False) -> list[Problem]:
    """Check every entry's file and hash and list orphans; ``fix`` drops bad entries and deletes the
    files scare can prove it wrote, leaving (and naming) the rest.

    A lost manifest is rebuilt from the proven files (``fix``); an unreadable one is not overwritten
    (its bytes are not provably scare's: the user moves it away first); a folder with neither a
    manifest nor a proven file is not a cache, and ``fix`` refuses it without touching anything.
    """
    problems: list[Problem] = []
    try:
        doc = cache.manifest_doc()
    except DataError as exc:
        problems.append(Problem("bad", str(cache.manifest_path), exc.bare_message))
        doc = None
    if doc is None:
        files = data_files(cache)
        if not problems and files:
            problems.append(Problem("bad", str(cache.manifest_path), f"no {MANIFEST}: not a scare data cache, or "
                                    "its manifest was lost"))
        if fix and problems:
            proven = [(p, hit) for p in files if (hit := proven_orphan(cache, p)) is not None]
            if not proven:
                raise _not_a_cache(cache, "changed")
            if os.path.lexists(cache.manifest_path):  # its bytes are not provably scare's: not overwritten
                raise DataError(f"is unreadable, and scare cannot prove it wrote it: move it away, then `scare data "
                                f"verify --fix` rebuilds it from the {len(proven)} file(s) scare can prove it wrote",
                                where=str(cache.manifest_path))
            n = _rebuild(cache, proven)
            problems.append(Problem("fixed", str(cache.manifest_path), f"rebuilt from {n} file(s) scare wrote"))
        elif not problems:
            return []
        if not fix:
            problems.extend(Problem("orphan", str(p), "not in a manifest") for p in files)
        return problems
    referenced: set[Path] = set()
    bad_keys = []
    for key, e in sorted(doc["entries"].items(), key=lambda kv: str(kv[0])):
        why = entry_problem(key, e)
        if why:
            problems.append(Problem("bad", str(cache.manifest_path), f"entry {key!r} is not a scare entry ({why})",
                                    key))
            bad_keys.append(key)
            continue
        try:
            path = cache.path_of(e)
        except DataError as exc:
            problems.append(Problem("bad", str(e.get("file")), exc.bare_message, key))
            bad_keys.append(key)
            continue
        referenced.add(path.resolve())
        try:
            cache.read(e)
        except DataError as exc:
            problems.append(Problem("bad", str(path), exc.bare_message, key))
            bad_keys.append(key)
    if fix:
        left = remove(cache, bad_keys)[1] if bad_keys else []
        problems.extend(left)
        referenced = {p for p in referenced if p.exists()} | {Path(p.path).resolve() for p in left}
    problems.extend(_orphans(cache, referenced, fix))
    return problems


def _rebuild(cache: Cache, proven: list[tuple[Path, tuple[str, dict[str, Any], bytes]]]) -> int:
    """A fresh manifest from the proven files' embedded entries (``scare data verify --fix``)."""
    entries: dict[str, dict[str, Any]] = {}
    for p, (key, embedded, data) in proven:
        e = dict(embedded)
        mtime = datetime.fromtimestamp(p.stat().st_mtime, timezone.utc).replace(microsecond=0).isoformat()
        e.update(file=p.relative_to(cache.root).as_posix(), sha256=hashlib.sha256(data).hexdigest(),
                 bytes=len(data), fetched_at=mtime)
        if entry_problem(key, e) is None:
            entries[key] = e
    with cache.locked():
        cache._write_manifest({"entries": entries})
    return len(entries)


def clear(cache: Cache, symbols: Iterable[str] = (), source: str | None = None) -> tuple[list[str], list[Problem]]:
    """Remove entries (all, or of ``symbols`` / ``source``) and, with neither, the orphans scare can
    prove it wrote. Keeps README.md and every file scare cannot prove it wrote (returned as left).

    Raises
    ------
    DataError
        The folder is not a scare cache (no manifest, and it holds something): nothing is touched.
    """
    doc = cache.manifest_doc()
    if doc is None:
        if cache.foreign_entries():
            raise _not_a_cache(cache, "cleared")
        return [], []  # an empty folder (its README aside): nothing to clear, nothing written
    syms = set(symbols)
    keys = [k for k, e in cache.entries().items()
            if (not syms or e["symbol"] in syms) and (source is None or e["source"] == source)]
    removed, left = remove(cache, keys)
    if not syms and source is None:
        left += [p for p in _orphans(cache, set(), fix=True) if p.level == "left"]
    return removed, left
