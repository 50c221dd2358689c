"""Load a study YAML into a :class:`StudyConfig`, with errors that name file, line and field.

``load_config(path, overrides)`` reads the YAML (keeping each node's line number), applies
``--set dotted.path=value`` overrides, validates with pydantic, and turns the first validation
error into one :class:`ConfigError` line such as::

    configs/x.yaml:14: strategies.0.params.hold: Input should be a valid integer
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver
from pydantic import BaseModel, ValidationError

from backtests.config.model import StudyConfig
from backtests.errors import ConfigError


@dataclass
class ConfigSource:
    """Where a config came from, to point errors at a line."""

    path: str
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    overridden: set[tuple[Any, ...]] = field(default_factory=set)

    def locate(self, loc: tuple[Any, ...]) -> str:
        """``file:line`` of the deepest known node on ``loc`` (``--set`` for overridden fields)."""
        loc = tuple(loc)
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.overridden:
                return f"{self.path} (--set)"
            if loc[:n] in self.lines:
                return f"{self.path}:{self.lines[loc[:n]]}"
        return self.path

    def error(self, loc: tuple[Any, ...], message: str) -> ConfigError:
        dotted = ".".join(str(p) for p in loc)
        where = self.locate(loc)
        return ConfigError(f"{dotted}: {message}" if dotted else message, where=where)


@dataclass(frozen=True)
class LoadedConfig:
    config: StudyConfig
    source: ConfigSource
    base_dir: Path


#: Bounds on a config's YAML, checked on the parser's events and the composed node graph before
#: any Python object is built (an alias "bomb" of 9 levels would otherwise expand to 10**9 nodes).
MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1_000
MAX_YAML_NODES = 100_000


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


def _scan(text: str, name: str) -> list[yaml.Event]:
    """Parser events of ``text``, refusing deep nesting and many aliases as they stream by."""
    events: list[yaml.Event] = []
    depth = aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ConfigError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels",
                                  where=_at(name, event.start_mark))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise ConfigError(f"more than {MAX_YAML_ALIASES:,} YAML aliases (*name)",
                                  where=_at(name, event.start_mark))
        events.append(event)
    return events


def _check_expansion(root: yaml.Node, name: str) -> None:
    """Refuse a node graph whose alias expansion is cyclic, too deep or too large.

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
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            collection = isinstance(node, (yaml.SequenceNode, yaml.MappingNode))
            height[key] = int(collection) + max((height[id(c)] for c in children), default=0)
            if size[key] > MAX_YAML_NODES:
                raise ConfigError(f"YAML expands to more than {MAX_YAML_NODES:,} values once aliases are "
                                  "followed", where=_at(name, node.start_mark))
            if height[key] > MAX_YAML_DEPTH:
                raise ConfigError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels once aliases are "
                                  "followed", where=_at(name, node.start_mark))
            continue
        if key in size:
            continue
        if key in on_path:
            raise ConfigError("recursive YAML alias (a node that contains itself)", where=_at(name, node.start_mark))
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def safe_yaml(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document with bounded size, nesting, aliases and expansion.

    Returns the plain data (``yaml.safe_load`` semantics: no tags beyond the standard ones) and the
    root node (with line marks). Every problem is a one-line :class:`ConfigError` naming the line.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"YAML is larger than {MAX_CONFIG_BYTES // 1024} KiB; put long event lists in "
                          "an events_files CSV", where=name)
    try:
        events = _scan(text, name)
        loader = _Replay(events)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_expansion(node, name)
        return loader.construct_document(node), node
    except _NodeError as exc:
        raise ConfigError(str(exc.problem), where=_at(name, exc.problem_mark)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"YAML syntax error: {problem}", where=_at(name, mark)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {exc}", where=name) from None
    except RecursionError:
        raise ConfigError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels", where=name) from None


def _index_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            k = key.value
            out[path + (k,)] = key.start_mark.line + 1
            _index_lines(value, path + (k,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, path + (i,), out)


def _parse_yaml(text: str, name: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    data, node = safe_yaml(text, name)
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected path=value (e.g. execution.fill=close)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: empty path")
    try:
        value = safe_yaml(raw, f"--set {key}")[0] if raw.strip() else ""
    except ConfigError as exc:
        if "YAML syntax error" not in exc.bare_message:
            raise
        value = raw
    return key.split("."), value


def apply_override(data: Any, parts: list[str], value: Any, item: str) -> tuple[Any, ...]:
    """Set ``data[parts...] = value`` creating mappings as needed; returns the typed path."""
    if not isinstance(data, dict):
        raise ConfigError(f"--set {item!r}: the config is not a mapping")
    cur: Any = data
    loc: list[Any] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(cur, list):
            try:
                idx = int(part)
                cur[idx]  # noqa: B018 - bounds check
            except (ValueError, IndexError):
                raise ConfigError(f"--set {item!r}: {'.'.join(map(str, loc)) or 'root'} is a list; "
                                  f"{part!r} is not a valid index") from None
            loc.append(idx)
            if last:
                cur[idx] = value
            else:
                cur = cur[idx]
            continue
        if not isinstance(cur, dict):
            raise ConfigError(f"--set {item!r}: {'.'.join(map(str, loc))} is not a mapping")
        loc.append(part)
        if last:
            cur[part] = value
        else:
            if cur.get(part) is None:
                cur[part] = {}
            cur = cur[part]
    return tuple(loc)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model at ``loc`` (for 'did you mean' hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        current = _model_in(ann)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _pick_error(exc: ValidationError, data: Any = None) -> dict[str, Any]:
    errors = exc.errors(include_url=False)
    # Unions (a parameter may be a scalar, a list or a range) report one error per member; the
    # shortest location is the one the user wrote, and 'extra' errors are the most telling.
    for e in errors:
        if e["type"] == "extra_forbidden":
            return e
    # A failing item also makes its parent list look "too short"; the item's error is the cause.
    specific = [e for e in errors if e["type"] != "too_short"] or errors
    # In a union, a mapping input fails the scalar branches with "wrong type" and the model branch
    # with the real reason one level deeper: keep the deeper one.
    locs = [_clean_loc(tuple(e["loc"]), data) for e in specific]
    deeper = [
        e for e, loc in zip(specific, locs)
        if not (e["type"].endswith(("_type", "_parsing")) and any(
            len(o) > len(loc) and o[: len(loc)] == loc for o in locs))
    ]
    specific = deeper or specific
    # A validator's own message (a range with too many values) beats "not a bool" from a sibling
    # union member at the same place.
    shortest = min(len(loc) for loc in (_clean_loc(tuple(e["loc"]), data) for e in specific))
    own = [e for e in specific if e["type"] == "value_error" and len(_clean_loc(tuple(e["loc"]), data)) == shortest]
    if own:
        return own[0]
    return min(specific, key=lambda e: len(_clean_loc(tuple(e["loc"]), data)))


def _clean_loc(loc: tuple[Any, ...], data: Any = None) -> tuple[Any, ...]:
    """The part of a pydantic error location that addresses the user's input.

    pydantic inserts union member names (e.g. 'RangeSpec', 'list[...]', 'int') and validator tags;
    with the input at hand a part is kept when it is a key or index present there, so a symbol such
    as ``XNYS`` or ``QQQ`` is kept and a tag such as ``float`` is not.
    """
    keep = []
    cur = data
    for p in loc:
        if isinstance(cur, dict) and p in cur:
            keep.append(p)
            cur = cur[p]
        elif isinstance(cur, (list, tuple)) and isinstance(p, int) and 0 <= p < len(cur):
            keep.append(p)
            cur = cur[p]
        elif not (isinstance(p, str) and (
                "[" in p or p[:1].isupper() or p.startswith("function-") or p in _UNION_TAGS)):
            keep.append(p)  # e.g. a required key the input lacks
            cur = None
    return tuple(keep)


_UNION_TAGS = {"bool", "int", "float", "str"}


def validate_data(data: Any, source: ConfigSource) -> StudyConfig:
    """Validate parsed YAML against :class:`StudyConfig`, raising one clear :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError("a study config must be a YAML mapping (key: value)", where=source.path)
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        err = _pick_error(exc, data)
        loc = _clean_loc(tuple(err["loc"]), data)
        if err["type"] == "extra_forbidden":
            key = loc[-1] if loc else "?"
            allowed = _allowed_keys(StudyConfig, loc)
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            msg = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            if allowed:
                msg += f"; allowed: {', '.join(allowed)}"
            raise source.error(loc, msg) from None
        if err["type"] == "missing":
            raise source.error(loc, "required field is missing") from None
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        # A validator on a mapping that names one of its keys points at that key's line.
        named = re.search(r"parameter '([^']+)'", msg)
        if named and loc + (named.group(1),) in source.lines:
            loc = loc + (named.group(1),)
        raw = err.get("input")
        if err["type"] not in {"model_type", "dict_type"} and isinstance(raw, (str, int, float, bool)):
            msg += f" (got {raw!r})"
        raise source.error(loc, msg) from None


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedConfig:
    """Read, override and validate a study config (schema pass only).

    Raises
    ------
    ConfigError
        Missing file, YAML syntax error, unknown key, wrong type ... with file and line.
    """
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise ConfigError("config file not found", where=name)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", where=name) from None
    data, lines = _parse_yaml(text, name)
    source = ConfigSource(path=name, lines=lines)
    if data is None:
        raise ConfigError("config file is empty", where=name)
    for item in overrides:
        parts, value = _parse_override(item)
        source.overridden.add(apply_override(data, parts, value, item))
    config = validate_data(data, source)
    return LoadedConfig(config=config, source=source, base_dir=p.resolve().parent)


def json_schema() -> dict[str, Any]:
    """JSON Schema of :class:`StudyConfig` (for editors: yaml-language-server)."""
    schema = StudyConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "scare study config"
    return schema
