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
from pydantic import BaseModel, ValidationError

from backtests.bounded import (  # noqa: F401 - the bounds, re-exported for callers of the loader
    MAX_YAML_ALIASES, MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, load_yaml, parse_yaml,
)
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


#: Bounds on a config's YAML (see :mod:`backtests.bounded`, where every YAML scare reads is parsed).
MAX_CONFIG_BYTES = MAX_YAML_BYTES
_TOO_LARGE_HINT = "; put long event lists in an events_files CSV"


def safe_yaml(text: str, name: str) -> tuple[Any, yaml.Node | None]:
    """:func:`backtests.bounded.parse_yaml` with :class:`ConfigError` (a config's own text, ``--set`` values)."""
    return parse_yaml(text, name, ConfigError, _TOO_LARGE_HINT)


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


def _line_index(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return lines


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
    if not p.exists():
        raise ConfigError("config file not found", where=name)
    # the size is checked before a byte is read (a 2 GiB file is refused, not loaded)
    data, node = load_yaml(p, ConfigError, _TOO_LARGE_HINT, what="config")
    source = ConfigSource(path=name, lines=_line_index(node))
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
