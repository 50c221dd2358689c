"""Bounded reading: every file scare reads is checked before it is read, and parsed with bounds.

One place for the rules, below every stage (it imports only :mod:`backtests.errors`):

* :func:`open_regular` opens a path that must be a **regular file**: a FIFO, a device
  (``/dev/zero``), a socket or a folder is refused before a byte is read (``O_NONBLOCK``, so a
  FIFO cannot block). With ``follow=False`` a symbolic link is refused as well (``O_NOFOLLOW``):
  scare opens its own names (the run folder's lock and marker, the cache's manifest, lock and
  entries) that way, so a planted link cannot make it read, truncate or write another file.
* :func:`read_bytes` / :func:`read_text` check the size (``fstat``) **before** reading and never
  read more than the limit, even from a file that grows while it is read.
* :func:`parse_yaml` / :func:`load_yaml`: one YAML document with bounded size, nesting, aliases
  and alias expansion, checked on the parser's events and the composed node graph before any
  Python object is built; duplicate keys in one mapping are refused with both lines.
* :func:`parse_json` / :func:`load_json`: JSON with bounded size and nesting.

Every problem is raised as the caller's :class:`~backtests.errors.ScareInputError` subclass
naming the file (and the line, for YAML), so the CLI prints one line and exits 2.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from backtests.errors import ScareInputError

#: Bounds on a YAML document (a study config, an events file, the built-in catalogue).
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1_000
MAX_YAML_NODES = 100_000
#: Nesting of a JSON document scare reads back (metrics.json nests 8 levels, a manifest 6).
MAX_JSON_DEPTH = 64

ErrorType = type[ScareInputError]


@dataclass(frozen=True)
class DataLimits:
    """Bounds on one data file: ``max_data_bytes`` (checked before parsing) and ``max_data_rows``
    (checked while parsing). A study's ``limits`` section carries the same two fields (and these
    defaults); any object with them may be passed where a ``DataLimits`` is expected."""

    max_data_bytes: int = 512 << 20
    max_data_rows: int = 5_000_000


def size_text(n: float) -> str:
    """``n`` bytes for a person: ``512 B``, ``1 MiB``, ``2.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" or float(n).is_integer() else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns at GiB


def file_kind(mode: int) -> str:
    """What an ``st_mode`` is, for messages: ``a folder``, ``a FIFO (named pipe)``, ``a device`` ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str], *, error: ErrorType = ScareInputError, follow: bool = True,
                 write: bool = False, create: bool = False, single_link: bool = False) -> int:
    """Open ``path`` as a regular file and return the descriptor (the caller closes it).

    Parameters
    ----------
    follow
        False: a symbolic link at ``path`` is refused (``O_NOFOLLOW``), for names scare owns.
    write, create
        Open read-write (``O_RDWR``), creating the file (mode 0644) when it is missing.
    single_link
        Refuse a file with more than one hard link (a lock file hard-linked to someone's file
        would be truncated through it).

    Raises
    ------
    ScareInputError
        (``error``) naming ``path``: missing, a link, a FIFO, a device, a folder, unreadable.
    """
    flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if create:
        flags |= os.O_CREAT
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    where = str(path)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        raise error("file not found", where=where) from None
    except OSError as exc:
        if not follow and (exc.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path)):
            raise error("is a symbolic link; scare does not follow links for its own files: remove it",
                        where=where) from None
        if exc.errno == errno.EISDIR:
            raise error("is a folder, not a file", where=where) from None
        raise error(f"cannot be opened: {exc.strerror or exc}", where=where) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"is {file_kind(st.st_mode)}, not a regular file; scare will not read or write it", where=where)
        if single_link and st.st_nlink > 1:
            raise error(f"has {st.st_nlink} hard links (another name for the same file); scare will not write "
                        "through it: remove it", where=where)
        if write and not follow:
            # the name may have been swapped between open and fstat: it must still be this file
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise error("changed while it was opened; scare will not write through it", where=where)
    except BaseException:
        os.close(fd)
        raise
    # a regular file: blocking reads are fine (and what callers expect)
    os.set_blocking(fd, True)
    return fd


def read_fd(fd: int, limit: int, *, where: str, what: str, error: ErrorType = ScareInputError) -> bytes:
    """Read a whole open regular file of at most ``limit`` bytes (size checked before reading)."""
    size = os.fstat(fd).st_size
    if size > limit:
        raise error(f"{what} is {size_text(size)}, larger than the {size_text(limit)} scare reads", where=where)
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
        if total > limit:  # the file grew while it was read
            raise error(f"{what} is larger than the {size_text(limit)} scare reads", where=where)
    return b"".join(parts)


def read_bytes(path: str | os.PathLike[str], limit: int, *, what: str = "the file",
               error: ErrorType = ScareInputError, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; see :func:`open_regular`."""
    fd = open_regular(path, error=error, follow=follow)
    try:
        try:
            return read_fd(fd, limit, where=str(path), what=what, error=error)
        except OSError as exc:
            raise error(f"cannot be read: {exc.strerror or exc}", where=str(path)) from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], limit: int, *, what: str = "the file",
              error: ErrorType = ScareInputError, follow: bool = True, encoding: str = "utf-8") -> str:
    """:func:`read_bytes` decoded (UTF-8; a byte-order mark is dropped)."""
    data = read_bytes(path, limit, what=what, error=error, follow=follow)
    try:
        return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        raise error(f"is not UTF-8 text (byte {exc.start}: {exc.reason})", where=str(path)) from None


# ------------------------------------------------------------------------------------ YAML
class _NodeError(yaml.MarkedYAMLError):
    """A scalar the YAML constructor could not turn into a value (e.g. the date 2026-02-30)."""


class _Replay(Composer, SafeConstructor, Resolver):
    """Compose and construct from an already checked list of parser events (no second parse)."""

    def __init__(self, events: list[yaml.Event]) -> None:
        self._events = events
        self._pos = 0
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def check_event(self, *choices: type) -> bool:
        if self._pos >= len(self._events):
            return False
        return not choices or isinstance(self._events[self._pos], choices)

    def peek_event(self) -> yaml.Event:
        return self._events[self._pos]

    def get_event(self) -> yaml.Event:
        event = self._events[self._pos]
        self._pos += 1
        return event

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, IndexError) as exc:
            shown = node.value if isinstance(node, yaml.ScalarNode) else "..."
            tag = node.tag.rsplit(":", 1)[-1]
            why = f" ({exc})" if isinstance(exc, ValueError) else ""
            raise _NodeError(problem=f"invalid {tag} value {shown!r}{why}", problem_mark=node.start_mark) from None


def _at(name: str, mark: Any) -> str:
    return f"{name}:{mark.line + 1}" if mark is not None else name


def _scan(text: str, name: str, error: ErrorType) -> list[yaml.Event]:
    """Parser events of ``text``, refusing deep nesting and many aliases as they stream by."""
    events: list[yaml.Event] = []
    depth = aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise error(f"YAML nested deeper than {MAX_YAML_DEPTH} levels", where=_at(name, event.start_mark))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise error(f"more than {MAX_YAML_ALIASES:,} YAML aliases (*name)", where=_at(name, event.start_mark))
        events.append(event)
    return events


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_keys(node: yaml.MappingNode, name: str, error: ErrorType) -> None:
    """Refuse a key written twice in one mapping: YAML keeps the last silently (``weight: 0.5,
    weight: -1.0`` would run a short); both lines are named."""
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        ident = (key.tag, key.value)
        line = key.start_mark.line + 1
        if ident in seen:
            first = seen[ident]
            also = f"first on line {first}" if first != line else "twice on this line"
            raise error(f"duplicate key {key.value!r} ({also}): YAML would silently keep only the last value; "
                        "remove one", where=_at(name, key.start_mark))
        seen[ident] = line


def _check_graph(root: yaml.Node, name: str, error: ErrorType) -> None:
    """Refuse duplicate keys, and an alias expansion that is cyclic, too deep or too large.

    Sizes and heights are memoised per node, so the cost is linear in the distinct nodes however
    large the expansion would be.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            collection = isinstance(node, (yaml.SequenceNode, yaml.MappingNode))
            height[key] = int(collection) + max((height[id(c)] for c in children), default=0)
            if size[key] > MAX_YAML_NODES:
                raise error(f"YAML expands to more than {MAX_YAML_NODES:,} values once aliases are followed",
                            where=_at(name, node.start_mark))
            if height[key] > MAX_YAML_DEPTH:
                raise error(f"YAML nested deeper than {MAX_YAML_DEPTH} levels once aliases are followed",
                            where=_at(name, node.start_mark))
            continue
        if key in size:
            continue
        if key in on_path:
            raise error("recursive YAML alias (a node that contains itself)", where=_at(name, node.start_mark))
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, name, error)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def parse_yaml(text: str, name: str, error: ErrorType = ScareInputError,
               hint: str = "") -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document with bounded size, nesting, aliases and expansion; no duplicate keys.

    Returns the plain data (``yaml.safe_load`` semantics: no tags beyond the standard ones) and the
    root node (with line marks). Every problem is one ``error`` naming ``name`` and the line.
    """
    if len(text) > MAX_YAML_BYTES:
        raise error(f"YAML is larger than {size_text(MAX_YAML_BYTES)}{hint}", where=name)
    try:
        events = _scan(text, name, error)
        loader = _Replay(events)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_graph(node, name, error)
        return loader.construct_document(node), node
    except _NodeError as exc:
        raise error(str(exc.problem), where=_at(name, exc.problem_mark)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(f"YAML syntax error: {problem}", where=_at(name, mark)) from None
    except yaml.YAMLError as exc:
        raise error(f"YAML syntax error: {exc}", where=name) from None
    except RecursionError:
        raise error(f"YAML nested deeper than {MAX_YAML_DEPTH} levels", where=name) from None


def load_yaml(path: str | os.PathLike[str], error: ErrorType = ScareInputError, hint: str = "",
              what: str = "YAML file") -> tuple[Any, yaml.Node | None]:
    """:func:`parse_yaml` of a file, its size checked before it is read (at most :data:`MAX_YAML_BYTES`)."""
    where = str(path)
    fd = open_regular(path, error=error)
    try:
        size = os.fstat(fd).st_size
        if size > MAX_YAML_BYTES:
            raise error(f"YAML is {size_text(size)}, larger than {size_text(MAX_YAML_BYTES)}{hint}", where=where)
        try:
            data = read_fd(fd, MAX_YAML_BYTES, where=where, what="YAML", error=error)
        except OSError as exc:
            raise error(f"cannot be read: {exc.strerror or exc}", where=where) from None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {what}: not UTF-8 text (byte {exc.start}: {exc.reason})", where=where) from None
    return parse_yaml(text, where, error, hint)


# ------------------------------------------------------------------------------------ JSON
def _depth_at_most(doc: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth + 1 > limit:
            return False
        stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return True


def parse_json(text: str | bytes, name: str, error: ErrorType = ScareInputError) -> Any:
    """JSON nested at most :data:`MAX_JSON_DEPTH` levels; one ``error`` naming ``name`` otherwise."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise error("is not UTF-8 text (corrupt?)", where=name) from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise error(f"is JSON nested deeper than {MAX_JSON_DEPTH} levels", where=name) from None
    except json.JSONDecodeError as exc:
        raise error(f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", where=name) from None
    if not _depth_at_most(doc, MAX_JSON_DEPTH):
        raise error(f"is JSON nested deeper than {MAX_JSON_DEPTH} levels", where=name)
    return doc


def load_json(path: str | os.PathLike[str], limit: int, *, what: str = "the file",
              error: ErrorType = ScareInputError, follow: bool = True) -> Any:
    """:func:`parse_json` of a regular file of at most ``limit`` bytes (checked before reading)."""
    data = read_bytes(path, limit, what=what, error=error, follow=follow)
    return parse_json(data, str(path), error)


def is_symlink(path: Path) -> bool:
    """True for a symbolic link (broken or not), without following it."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False
