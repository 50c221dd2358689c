"""Digests: of code (what a checkpoint, an audit verdict or a manifest was computed with) and the
stable ids of runs and combinations (hashes of what they are).

A result computed by one version of a strategy must never be reused for another. A strategy's
digest covers the file that defines its class (helpers it imports from other files are not
covered: say so where it matters). scare's digest covers every ``.py`` file of the ``backtests``
package and the catalogue, so any change to the framework invalidates what it computed.

All digests are SHA-256 hex strings; they depend only on file bytes, never on paths or mtimes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import types
from functools import lru_cache
from pathlib import Path
from typing import Any

from backtests.jsonfmt import clean_json


def _sha(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(len(c).to_bytes(8, "little"))
        h.update(c)
    return h.hexdigest()


@lru_cache(maxsize=1)
def scare_digest() -> str:
    """SHA-256 over the framework's own source (``backtests/**/*.py`` and the catalogue files)."""
    root = Path(__file__).resolve().parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".csv")
                   and "__pycache__" not in p.parts)
    return _sha(*(f"{p.relative_to(root).as_posix()}\0".encode() + p.read_bytes() for p in files))


def strategy_digest(cls: type) -> tuple[str, str]:
    """``(digest, what)`` of a strategy class's code: the bytes of the file defining it.

    ``what`` names what was hashed: ``"file:<name>"``, or ``"class code"`` when the class has no
    source file (defined in a notebook cell or an interactive session: ``__main__`` without a file).
    Then the class itself is hashed (:func:`class_code_digest`: its methods' source or compiled
    code and its attributes, through its bases up to :class:`~backtests.strategy.Strategy`), so
    a class redefined in a later cell with other code gets another digest (a cached audit verdict
    or a checkpoint of the old one is never reused for it).
    """
    try:
        path = inspect.getsourcefile(cls)
    except (TypeError, OSError):  # built in, or __main__ without a file (python -c, a notebook kernel)
        path = None
    qual = f"{cls.__module__}.{cls.__qualname__}".encode()
    if path and Path(path).is_file() and not _defined_elsewhere(cls, Path(path)):
        return _sha(qual, Path(path).read_bytes()), f"file:{Path(path).name}"
    return _sha(qual, *class_code(cls)), "class code"


def _defined_elsewhere(cls: type, path: Path) -> bool:
    """True when a method of ``cls`` was compiled from another file than ``path`` (a class of a
    notebook kernel's ``__main__``, whose module file, if any, is not where the cell's code is)."""
    for value in vars(cls).values():
        fn = getattr(value, "__func__", value)
        code = getattr(fn, "__code__", None)
        if code is not None and Path(code.co_filename).resolve() != path.resolve():
            return True
    return False


def class_code(cls: type) -> list[bytes]:
    """The bytes that stand for a class without a source file: per class of its MRO defined outside
    a file (stopping at the first one from a file, such as ``Strategy``), its name and each
    attribute in name order: a function by its source when the interpreter kept it (IPython does),
    else by its compiled code, defaults and nested code; any other value by its ``describe()``
    (parameters), its dataclass ``repr`` (roles) or its attributes."""
    out: list[bytes] = []
    for klass in cls.__mro__:
        if klass is object or _has_file(klass):
            if klass is not cls:
                out.append(f"base {klass.__module__}.{klass.__qualname__}".encode())
                break
        out.append(f"class {klass.__qualname__}".encode())
        for name in sorted(vars(klass)):
            if name in ("__dict__", "__weakref__", "__module__", "__doc__", "__qualname__"):
                continue
            out.append(name.encode() + b"=" + _value_bytes(vars(klass)[name]))
    return out


def _has_file(klass: type) -> bool:
    try:
        path = inspect.getsourcefile(klass)
    except (TypeError, OSError):
        return False
    return bool(path) and Path(path).is_file() and not _defined_elsewhere(klass, Path(path))


def _value_bytes(value: Any) -> bytes:
    fn = getattr(value, "__func__", value)  # classmethod, staticmethod
    if isinstance(value, property):
        return b"property:" + b"|".join(_value_bytes(f) for f in (value.fget, value.fset, value.fdel) if f)
    code = getattr(fn, "__code__", None)
    if isinstance(code, types.CodeType):
        try:
            text = inspect.getsource(fn).encode()
        except (OSError, TypeError):
            text = _code_bytes(code)
        return text + repr((getattr(fn, "__defaults__", None), getattr(fn, "__kwdefaults__", None))).encode()
    if isinstance(value, dict):
        return b"{" + b",".join(repr(k).encode() + b":" + _value_bytes(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + b"}"
    if isinstance(value, (list, tuple)):
        return b"[" + b",".join(_value_bytes(v) for v in value) + b"]"
    describe = getattr(value, "describe", None)
    if callable(describe):
        try:
            return f"{type(value).__qualname__}{describe()!r}".encode()
        except Exception:  # noqa: BLE001 - a describe() that needs arguments: fall through
            pass
    text = repr(value)
    if " at 0x" in text and hasattr(value, "__dict__"):
        text = f"{type(value).__qualname__}{sorted((k, repr(v)) for k, v in vars(value).items())!r}"
    return text.encode()


def _code_bytes(code: types.CodeType) -> bytes:
    """Compiled code without where it was compiled (file name, line numbers)."""
    consts = [_code_bytes(c) if isinstance(c, types.CodeType) else repr(c).encode() for c in code.co_consts]
    return b"\0".join([code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode(), *consts])


def table_digest(frame: Any) -> str:
    """SHA-256 of a pandas table's contents as text (column names, index and every value), for
    small tables such as the event catalogue or a chunk's parameter rows; ``None`` hashes as empty."""
    text = "" if frame is None or not len(frame) else frame.astype(str).to_csv()
    return _sha(text.encode())


def record_digest(value: Any) -> str:
    """SHA-256 of a JSON-ready value (canonical JSON: sorted keys)."""
    return _sha(json.dumps(clean_json(value), sort_keys=True, separators=(",", ":"), default=str).encode())


def _key_text(value: Any, ensure_ascii: bool = True) -> str:
    """The JSON text of one value as it appears inside a run or combination key."""
    return json.dumps(clean_json(value), sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)


def _column_texts(column: Any, ensure_ascii: bool = True) -> list[str]:
    """:func:`_key_text` of every value of a grid column, computed once per distinct value (by
    bit pattern for floats, so ``-0.0`` and ``0.0`` stay apart; row by row for object columns
    that are not all text, where ``1``, ``1.0`` and ``True`` would hash alike)."""
    import numpy as np
    import pandas as pd

    values = column.to_numpy() if hasattr(column, "to_numpy") else np.asarray(column)
    if values.dtype.kind in "iub":
        keys = values
    elif values.dtype.kind == "f":
        keys = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    elif values.dtype.kind in "OUT" and all(isinstance(v, str) for v in values):
        keys = values
    else:
        return [_key_text(v, ensure_ascii) for v in values]
    codes, uniques = pd.factorize(keys, sort=False)
    first = np.zeros(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # a row holding each distinct value
    texts = np.array([_key_text(values[i], ensure_ascii) for i in first], dtype=object)
    return texts[codes].tolist()


def params_texts(grid: Any, ensure_ascii: bool = True) -> list[str]:
    """Per grid row, the JSON text of its parameters as :func:`run_id` and :func:`combo_id` hash
    them (``json.dumps(clean_json(params), sort_keys=True, separators=(",", ":"))``; with
    ``ensure_ascii=False`` as runs.parquet stores them), built column by column: one encoding per
    distinct value, not one per row."""
    n = len(grid)
    names = sorted(str(c) for c in grid.columns)
    if not names:
        return ["{}"] * n
    by_name = {str(c): c for c in grid.columns}
    cols = [_column_texts(grid[by_name[k]], ensure_ascii) for k in names]
    heads = [json.dumps(k, ensure_ascii=ensure_ascii) + ":" for k in names]
    return ["{" + ",".join(h + v for h, v in zip(heads, row)) + "}" for row in zip(*cols)]


def run_ids(label: str, grid: Any, windows: list[str]) -> list[str]:
    """:func:`run_id` of every (grid row, window), combination-major then window, the same ids
    from the grid's columns (one JSON text per distinct parameter value, one hash per run)."""
    head = "[" + json.dumps(label) + ","
    tails = ["," + json.dumps(w) + "]" for w in windows]
    sha = hashlib.sha256
    return [sha((head + p + t).encode()).hexdigest()[:12] for p in params_texts(grid) for t in tails]


def combo_ids(label: str, grid: Any) -> list[str]:
    """:func:`combo_id` of every grid row (see :func:`run_ids`)."""
    head = "[" + json.dumps(label) + ","
    sha = hashlib.sha256
    return [sha((head + p + "]").encode()).hexdigest()[:12] for p in params_texts(grid)]


def run_id(label: str, params: dict[str, Any], window: str) -> str:
    """Stable id of a (strategy, params, window) run: 12 hex digits of a SHA-256."""
    key = json.dumps([label, clean_json(params), window], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def combo_id(label: str, params: dict[str, Any]) -> str:
    """Stable id of a (strategy, params) combination across windows."""
    key = json.dumps([label, clean_json(params)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]
