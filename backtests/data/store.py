"""The cache folder itself: names, manifest, atomic writes and checked reads.

(How studies read it and how missing data is fetched: :mod:`backtests.data.cache`.)

Layout (see ``data_cache/README.md``)::

    data_cache/
      manifest.json                                  one entry per (source, symbol, series, frequency)
      <source>/<symbol>/<series>-<frequency>.<sha12>.parquet

* ``source``: ``yfinance``, ``ccxt_<exchange>``, ``coinglass`` or ``import``; ``series``: ``bars``,
  ``bars_unadj``, ``liquidations``, ``funding``. A parquet file holds *stamped* bars (UTC close
  stamps as index ``time``, an ``open_time`` column, numeric columns), ready for
  :class:`~backtests.data.market_data.MarketData`.
* The manifest entry records the covered local-date ranges (what was asked of the provider, or the
  span of an imported file), rows, first/last stamp, fetch time, source and library version,
  provenance, what the symbol is (market, currency, kind, name) and the file's SHA-256.
* Writes are atomic: the parquet bytes go to a temporary file in the same folder, are flushed to
  disk and renamed to a name that contains their hash; only then is the manifest (also written
  then renamed) switched to the new file, and the old file removed. A write killed at any point
  leaves the previous file and manifest intact (at worst an orphan that ``verify`` reports and
  ``verify --fix`` removes).
* Every read checks the SHA-256. A mismatch is never used: offline it is an error naming the file,
  online a fetched entry is refetched; an imported one must be imported again.
* Symbols, sources, series and frequencies are validated, and every path is checked to lie inside
  the cache folder, so no name can write outside it (``../x``, ``/etc/passwd``, NUL bytes).
* scare deletes only what it can prove it wrote: a file listed in the manifest whose SHA-256
  still matches, or an unlisted file that carries scare's name, its own hash prefix and scare's
  embedded entry (``verify``, ``clear`` and ``remove`` live in :mod:`backtests.data.upkeep`). A folder without a scare manifest is not a
  cache: ``scare data clear`` and ``verify --fix`` refuse it, and nothing is written into it
  unless it is empty. The manifest, the lock and every entry are opened without following links.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.bounded import load_json, open_regular, read_fd
from backtests.time.calendars import CRYPTO, MARKETS, get_market, parse_frequency, sessions
from backtests.data.providers import Meta
from backtests.errors import DataError
from backtests.names import SYMBOL_RE, symbol_problem  # noqa: F401 - SYMBOL_RE re-exported

MANIFEST = "manifest.json"
#: 2: the manifest says ``"scare_cache": 2`` (1: the 0.2 development format, read and upgraded).
MANIFEST_VERSION = 2
LOCK = ".lock"
README = "README.md"
#: Largest manifest read (an entry is about 1 KB).
MAX_MANIFEST_BYTES = 256 << 20
#: Largest cached file read (an entry's own row and byte counts are checked against a study's
#: ``limits`` before this).
MAX_ENTRY_BYTES = 16 << 30
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DEFAULT_DIR = "data_cache"
ENV_DIR = "SCARE_DATA_CACHE"
SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
SERIES_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
FREQ_RE = re.compile(r"^[0-9]{1,4}[A-Za-z]{1,4}$")
#: Which source serves a symbol when several hold it (first that covers the range wins).
SOURCE_ORDER = ("yfinance", "ccxt_", "coinglass", "import")
TMP_MARK = ".tmp-"


# ------------------------------------------------------------------------------ names
def validate_symbol(symbol: Any) -> str:
    """A symbol safe as a folder name, or a :class:`DataError` naming it."""
    problem = symbol_problem(symbol)
    if problem:
        raise DataError(problem, where=repr(symbol))
    return symbol


def _validate(kind: str, value: Any, rx: re.Pattern[str]) -> str:
    if not isinstance(value, str) or "\x00" in value or not rx.match(value):
        raise DataError(f"invalid {kind}", where=repr(value))
    return value


def norm_freq(frequency: str) -> str:
    """Canonical frequency label: ``1D`` for daily, else pandas' own (``4h``, ``5min``)."""
    bar = parse_frequency(frequency)
    if bar is None:
        return "1D"
    label = _validate("frequency", str(frequency).strip(), FREQ_RE)
    minutes = bar / pd.Timedelta(minutes=1)
    if minutes == int(minutes):
        m = int(minutes)
        return f"{m // 60}h" if m % 60 == 0 else f"{m}min"
    return label


def entry_key(source: str, symbol: str, series: str, frequency: str) -> str:
    return f"{source}/{symbol}/{series}/{norm_freq(frequency)}"


def resolve_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``$SCARE_DATA_CACHE`` for the default, else ``cache_dir`` (relative = CWD)."""
    raw = str(cache_dir) if cache_dir not in (None, "") else DEFAULT_DIR
    if raw == DEFAULT_DIR and os.environ.get(ENV_DIR):
        raw = os.environ[ENV_DIR]
    p = Path(raw).expanduser()
    return p if p.is_absolute() else Path.cwd() / p


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _today() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()


def merge_intervals(ranges: Iterable[tuple[pd.Timestamp, pd.Timestamp]]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Union of inclusive date ranges; adjacent days are joined."""
    items = sorted((pd.Timestamp(a).normalize(), pd.Timestamp(b).normalize()) for a, b in ranges)
    out: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for a, b in items:
        if b < a:
            continue
        if out and a <= out[-1][1] + pd.Timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def expected_days(market: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Local dates that should have a bar: the market's sessions (every day for crypto)."""
    if market == CRYPTO:
        return pd.date_range(start, end, freq="D")
    return pd.DatetimeIndex(sessions(market, start, end).index)


def missing_ranges(covered: list[tuple[pd.Timestamp, pd.Timestamp]], market: str, start: pd.Timestamp,
                   end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Stretches of ``start..end`` whose sessions no covered range includes."""
    days = expected_days(market, pd.Timestamp(start), pd.Timestamp(end))
    if len(days) == 0:
        return []
    inside = np.zeros(len(days), dtype=bool)
    for a, b in covered:
        inside |= (days >= a) & (days <= b)
    out = []
    miss = ~inside
    if not miss.any():
        return []
    m = np.concatenate([[False], miss, [False]]).astype(np.int8)
    d = np.diff(m)
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1):
        out.append((days[s], days[e]))
    return out


def local_dates(frame: pd.DataFrame, market: str) -> pd.DatetimeIndex:
    from backtests.data.quality import local_dates as _ld

    return _ld(frame, market)


# ------------------------------------------------------------------------------ the store
class CacheError(DataError):
    """A problem of the cache folder itself (not a cache, its manifest, its lock), not of one file:
    an import of many files stops at the first."""


@dataclass
class Problem:
    """One finding of :meth:`Cache.verify`."""

    level: str  # "bad" (entry unusable) | "orphan" (file nobody points at) | "quality"
    path: str
    message: str
    key: str | None = None

    def text(self) -> str:
        return f"{self.level.upper():7} {self.path}: {self.message}"


@dataclass
class StoreResult:
    key: str
    action: str  # "new" | "updated" | "unchanged" | "replaced"
    entry: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class Cache:
    """The cache folder: manifest, atomic writes, checked reads."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- paths
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def _inside(self, path: Path) -> Path:
        root = self.root.resolve()
        full = path.resolve()
        if full != root and root not in full.parents:
            raise DataError("path escapes the cache folder", where=str(path))
        return path

    def file_for(self, source: str, symbol: str, series: str, frequency: str, digest: str) -> Path:
        _validate("source", source, SOURCE_RE)
        validate_symbol(symbol)
        _validate("series", series, SERIES_RE)
        freq = norm_freq(frequency)
        return self._inside(self.root / source / symbol / f"{series}-{freq}.{digest[:12]}.parquet")

    # -- manifest
    def manifest(self) -> dict[str, Any]:
        """The manifest document (an empty one when there is none yet); its entries are not checked."""
        doc = self.manifest_doc()
        return doc if doc is not None else {"scare_cache": MANIFEST_VERSION, "entries": {}}

    def manifest_doc(self) -> dict[str, Any] | None:
        """The manifest as written, ``None`` when the folder has none; a damaged one is a :class:`DataError`.

        Read without following a link, as a regular file of at most :data:`MAX_MANIFEST_BYTES`.
        """
        path = self.manifest_path
        if not os.path.lexists(path):
            return None
        doc = load_json(path, MAX_MANIFEST_BYTES, what="the cache manifest", follow=False, error=_ManifestError)
        legacy = isinstance(doc, dict) and doc.get("version") == 1 and "scare_cache" not in doc
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict) or not (
                legacy or doc.get("scare_cache") == MANIFEST_VERSION):
            raise CacheError("is not a scare cache manifest (no 'scare_cache' format and 'entries'); check --cache / "
                             f"${ENV_DIR}", where=str(path))
        return doc

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every entry, checked: one that is not a scare entry (``5``, no ``series``) is a :class:`DataError`."""
        out = dict(self.manifest()["entries"])
        for key, e in out.items():
            problem = entry_problem(key, e)
            if problem:
                raise CacheError(f"entry {key!r} is not a scare cache entry ({problem}); `scare data verify --fix` "
                                 "drops it", where=str(self.manifest_path))
        return out

    def _write_manifest(self, doc: dict[str, Any]) -> None:
        doc = {"scare_cache": MANIFEST_VERSION, "entries": dict(sorted(doc["entries"].items()))}
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
        atomic_write(self.manifest_path, data)

    def foreign_entries(self) -> list[str]:
        """Names at the top of the folder that a cache does not hold when it has no manifest (its own
        README and lock aside): a folder holding any is not a scare cache."""
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.name not in (README, LOCK))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise DataError(f"cannot read the cache folder: {exc.strerror or exc}", where=str(self.root)) from None

    def require_writable(self) -> None:
        """Refuse to write into a folder that is neither a scare cache nor empty (README aside)."""
        if self.manifest_doc() is not None:
            return
        if os.path.lexists(self.root) and not self.root.is_dir():
            raise CacheError("the cache path exists and is not a folder", where=str(self.root))
        foreign = self.foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise CacheError(f"is not a scare data cache (no {MANIFEST}; it holds {shown}); scare writes only into an "
                             f"empty folder or a cache it made: check --cache / ${ENV_DIR}", where=str(self.root))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise writers (two `scare data` processes) with an advisory lock where the OS has one.

        The lock file is opened without following a link, and must be a regular file with one link.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = open_regular(self.root / LOCK, error=CacheError, follow=False, write=True, create=True,
                          single_link=True)
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            except (ImportError, OSError):
                pass
            yield
        finally:
            os.close(fd)

    # -- reading
    def path_of(self, entry: dict[str, Any]) -> Path:
        return self._inside(self.root / entry["file"])

    def read_bytes(self, entry: dict[str, Any], limit: int = MAX_ENTRY_BYTES) -> bytes:
        """An entry's file, opened without following a link, at most ``limit`` bytes."""
        path = self.path_of(entry)
        try:
            fd = open_regular(path, error=DataError, follow=False)
        except DataError as exc:
            if not os.path.lexists(path):
                raise DataError("cached file is missing; run `scare data verify`", where=str(path)) from None
            raise CorruptError(exc.bare_message, where=str(path)) from None
        try:
            return read_fd(fd, limit, where=str(path), what="the cached file", error=DataError)
        except OSError as exc:
            raise DataError(f"cannot read the cached file: {exc.strerror or exc}", where=str(path)) from None
        finally:
            os.close(fd)

    def read(self, entry: dict[str, Any], limit: int = MAX_ENTRY_BYTES) -> pd.DataFrame:
        """The bars of an entry, after checking its SHA-256 (a mismatch is a :class:`DataError`)."""
        path = self.path_of(entry)
        data = self.read_bytes(entry, limit)
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise CorruptError("checksum mismatch: the cached file changed or is damaged and will not be used; "
                               "`scare data verify` lists it, refetch or re-import it", where=str(path))
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
            raise CorruptError(f"unreadable parquet ({type(exc).__name__})", where=str(path)) from None
        idx = pd.DatetimeIndex(frame.index)
        frame.index = (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns")
        frame.index.name = "time"
        if "open_time" in frame.columns:
            ot = pd.DatetimeIndex(frame["open_time"])
            frame["open_time"] = (ot.tz_localize("UTC") if ot.tz is None else ot.tz_convert("UTC")).as_unit("ns")
        return frame

    def find(self, symbol: str, frequency: str, series: str = "bars", source: str | None = None
             ) -> list[dict[str, Any]]:
        """Entries for a symbol/series/frequency, in :data:`SOURCE_ORDER` (or only ``source``)."""
        freq = norm_freq(frequency)
        hits = [e for e in self.entries().values()
                if e["symbol"] == symbol and e["series"] == series and e["frequency"] == freq
                and (source is None or e["source"] == source)]
        return sorted(hits, key=lambda e: (source_rank(e["source"]), e["source"]))

    # -- writing
    def store(self, source: str, symbol: str, series: str, frequency: str, frame: pd.DataFrame, meta: Meta,
              covered: Iterable[tuple[pd.Timestamp, pd.Timestamp]], source_version: str, origin: str,
              merge: bool = True, close_time: str | None = None, extra: dict[str, Any] | None = None
              ) -> StoreResult:
        """Write (merging with what is cached unless ``merge=False``) and switch the manifest to it."""
        _validate("source", source, SOURCE_RE)
        validate_symbol(symbol)
        _validate("series", series, SERIES_RE)
        freq = norm_freq(frequency)
        get_market(meta.market)
        key = entry_key(source, symbol, series, freq)
        frame = _clean_frame(frame, where=f"{key}")
        self.require_writable()
        with self.locked():
            doc = self.manifest()
            self.entries()  # a damaged entry stops the write (verify --fix drops it)
            old = doc["entries"].get(key)
            cov = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in covered]
            action = "new"
            if old is not None:
                action = "updated" if merge else "replaced"
                if merge:
                    try:
                        prev = self.read(old)
                        frame = pd.concat([prev.loc[~prev.index.isin(frame.index)], frame]).sort_index()
                        cov = cov + [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in old.get("covered", [])]
                    except DataError:
                        action = "replaced"  # a damaged file is not merged into new data
            cov = merge_intervals(cov)
            first, last = (frame.index[0], frame.index[-1]) if len(frame) else (None, None)
            stable = {
                "source": source, "symbol": symbol, "series": series, "frequency": freq,
                "rows": int(len(frame)), "columns": [c for c in frame.columns if c != "open_time"],
                "first": first.isoformat() if first is not None else None,
                "last": last.isoformat() if last is not None else None,
                "covered": [[str(a.date()), str(b.date())] for a, b in cov],
                "source_version": source_version, "origin": origin,
                "market": meta.market, "currency": meta.currency, "kind": meta.kind, "name": meta.name,
                "close_time": close_time, **(extra or {}),
            }
            data = frame_bytes(frame, {"key": key, "entry": stable})
            digest = hashlib.sha256(data).hexdigest()
            if old is not None and old.get("sha256") == digest and _intact(self, old):
                return StoreResult(key, "unchanged", old)
            path = self.file_for(source, symbol, series, freq, digest)
            if not self._already_there(path, digest):
                made = [d for d in (path.parent.parent, path.parent) if not d.exists()]
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:  # a file (or a broken link) where the folder goes
                    raise DataError(f"cannot create the folder for this entry ({exc.strerror or exc}): something "
                                    "that is not scare's is in the way; move it away", where=str(path.parent)) from None
                try:
                    atomic_write(path, data)
                except BaseException:  # a failed write leaves no empty folder behind either
                    for d in reversed(made):
                        with contextlib.suppress(OSError):
                            d.rmdir()
                    raise
            entry = {**stable, "file": path.relative_to(self.root).as_posix(), "sha256": digest,
                     "bytes": len(data), "fetched_at": _now()}
            doc["entries"][key] = entry
            self._write_manifest(doc)
            if old is not None and old.get("file") != entry["file"]:
                delete_proven(self, old)  # a file whose bytes changed stays (verify names it)
        return StoreResult(key, action, entry)

    def _already_there(self, path: Path, digest: str) -> bool:
        """True when ``path`` already holds exactly these bytes; a different file there is refused
        (scare does not overwrite what it cannot prove it wrote: a damaged copy, someone's file)."""
        if not os.path.lexists(path):
            return False
        try:
            fd = open_regular(path, error=DataError, follow=False)
            try:
                same = _fd_sha256(fd) == digest
            finally:
                os.close(fd)
        except (DataError, OSError):
            same = False
        if not same:
            raise DataError("holds other bytes than the data scare is writing there (a damaged cached file, or not "
                            "scare's); scare does not overwrite what it cannot prove it wrote: move it away and run "
                            "again", where=str(path))
        return True


class _ManifestError(CacheError):
    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(f"cache manifest is unreadable ({message}); `scare data verify --fix` rebuilds it from "
                         "the files", where=where)


def entry_problem(key: Any, e: Any) -> str | None:
    """Why a manifest entry is not one scare writes (``None`` when it is)."""
    if not isinstance(e, dict):
        kind = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list"}.get(
            type(e), "null")
        return f"{kind}, not an object"
    for name in ("source", "symbol", "series", "frequency", "file", "sha256", "market"):
        if not isinstance(e.get(name), str):
            return f"no {name!r}" if name not in e else f"{name!r} is not text"
    if not SOURCE_RE.match(e["source"]) or not SERIES_RE.match(e["series"]) or symbol_problem(e["symbol"]):
        return "invalid source, symbol or series"
    if e["market"] not in MARKETS:
        return f"unknown market {e['market']!r}"
    if not SHA256_RE.match(e["sha256"]):
        return "'sha256' is not a SHA-256"
    cov = e.get("covered")
    if not isinstance(cov, list) or not all(isinstance(r, list) and len(r) == 2 and all(
            isinstance(d, str) and DATE_RE.match(d) for d in r) for r in cov):
        return "'covered' is not a list of [first, last] dates"
    if not isinstance(e.get("rows"), int) or isinstance(e.get("rows"), bool) or e["rows"] < 0:
        return "'rows' is not a count"
    try:
        if key != entry_key(e["source"], e["symbol"], e["series"], e["frequency"]):
            return "its key does not name its source, symbol, series and frequency"
    except DataError:
        return "invalid frequency"
    return None


def _fd_sha256(fd: int) -> str:
    h = hashlib.sha256()
    while chunk := os.read(fd, 1 << 20):
        h.update(chunk)
    return h.hexdigest()


def delete_proven(cache: Cache, entry: dict[str, Any]) -> bool:
    """Delete an entry's file if its bytes are the ones the entry records; True when deleted."""
    try:
        path = cache.path_of(entry)
        data = cache.read_bytes(entry)
    except DataError:
        return False
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        return False
    with contextlib.suppress(OSError):
        path.unlink()
        return True
    return False


def _intact(cache: Cache, entry: dict[str, Any]) -> bool:
    try:
        return hashlib.sha256(cache.read_bytes(entry)).hexdigest() == entry.get("sha256")
    except DataError:
        return False


class CorruptError(DataError):
    """A cached file whose bytes do not match the manifest."""


def source_rank(source: str) -> int:
    for i, prefix in enumerate(SOURCE_ORDER):
        if source == prefix or (prefix.endswith("_") and source.startswith(prefix)):
            return i
    return len(SOURCE_ORDER)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the whole new one, never a part."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
    except OSError as exc:
        raise DataError(f"cannot write into the cache: {exc.strerror or exc}", where=str(path.parent)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_bytes(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # a full disk, a read-only folder: one line; the previous file stays
            raise DataError(f"cannot be written: {exc.strerror or exc}; the cache keeps what it held before",
                            where=str(path)) from None
        raise
    with contextlib.suppress(OSError, AttributeError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _write_bytes(fh: Any, data: bytes) -> None:
    """The one place bytes hit the disk (tests replace it to simulate a write killed halfway)."""
    fh.write(data)


def _clean_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise DataError("internal: cache frames need a tz-aware UTC index", where=where)
    if "open_time" not in frame.columns:
        raise DataError("internal: cache frames need an 'open_time' column", where=where)
    out = frame.copy()
    out.index = pd.DatetimeIndex(out.index).tz_convert("UTC").as_unit("ns")
    out.index.name = "time"
    out = out.loc[~out.index.duplicated(keep="last")].sort_index()
    for c in out.columns:
        if c == "open_time":
            out[c] = pd.DatetimeIndex(out[c]).tz_convert("UTC").as_unit("ns")
        else:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    return out


def frame_bytes(frame: pd.DataFrame, entry_meta: dict[str, Any] | None = None) -> bytes:
    """Parquet bytes of a frame; ``entry_meta`` (stable manifest fields) is embedded so a lost
    manifest can be rebuilt from the files (``scare data verify --fix``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=True)
    if entry_meta is not None:
        meta = dict(table.schema.metadata or {})
        meta[b"scare"] = json.dumps(entry_meta, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()
