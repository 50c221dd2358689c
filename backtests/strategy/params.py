"""Declared strategy parameters and the expansion of a config's grid into combinations.

A strategy declares each tunable parameter as a class attribute (freqtrade style)::

    class MyStrategy(Strategy):
        hold = IntParam(3, low=1, high=60, unit="sessions", doc="Holding period.")

A config gives each parameter a scalar, a list, or a ``{start, stop, step}`` range; the grid is the
Cartesian product in declaration order (last parameter varies fastest).

Every value keeps its declared type end to end: in the grid frame each column has its parameter's
:attr:`Param.dtype` (``IntParam`` int64, ``FloatParam`` float64, ``BoolParam`` bool, ``ChoiceParam`` and
``EventKindParam`` str), and one combination (:func:`combo_records`, what ``Strategy.weights`` receives as keyword
arguments) holds plain Python ``int``, ``float``, ``bool`` and ``str`` values.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtests.errors import StrategyError

MAX_COMBINATIONS = 5_000_000


class Param:
    """A tunable parameter: default, type, allowed range or choices, unit and doc.

    ``kind`` names the type (``scare list strategies``), ``dtype`` is the column dtype of the grid
    frame, and :meth:`native` turns one grid value back into the plain Python value a strategy's
    ``weights(ctx, **params)`` receives.
    """

    kind = "any"
    dtype = "object"

    def __init__(self, default: Any, *, low: float | None = None, high: float | None = None,
                 choices: Sequence[Any] | None = None, unit: str = "", doc: str = "") -> None:
        self.default = default
        self.low = low
        self.high = high
        self.choices = tuple(choices) if choices is not None else None
        self.unit = unit
        self.doc = doc
        self.name = ""  # set by the owning Strategy class

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def convert(self, value: Any) -> Any:
        return value

    def native(self, value: Any) -> Any:
        """One grid value as a plain Python value of the declared type (numpy scalars unwrapped)."""
        return value.item() if isinstance(value, np.generic) else value

    def check(self, value: Any, where: str = "") -> Any:
        """Convert and validate one value; raise :class:`StrategyError` naming the parameter."""
        label = f"{where}{self.name}"
        try:
            v = self.convert(value)
        except (TypeError, ValueError):
            raise StrategyError(f"parameter {label!r} expects {'a finite ' if self.kind == 'float' else ''}"
                                f"{self.kind}, got {value!r}") from None
        if self.choices is not None and v not in self.choices:
            raise StrategyError(f"parameter {label!r} must be one of {list(self.choices)}, got {value!r}")
        if self.low is not None and v < self.low:
            raise StrategyError(f"parameter {label!r} must be >= {self.low}, got {value!r}")
        if self.high is not None and v > self.high:
            raise StrategyError(f"parameter {label!r} must be <= {self.high}, got {value!r}")
        return v

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "default": self.default}
        if self.low is not None or self.high is not None:
            d["range"] = [self.low, self.high]
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.unit:
            d["unit"] = self.unit
        if self.doc:
            d["doc"] = self.doc
        return d


class IntParam(Param):
    kind = "int"
    dtype = "int64"

    def native(self, value: Any) -> int:
        return int(value)

    def convert(self, value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError
        f = float(value)
        if not f.is_integer():
            raise ValueError
        return int(f)


class FloatParam(Param):
    kind = "float"
    dtype = "float64"

    def native(self, value: Any) -> float:
        return float(value)

    def convert(self, value: Any) -> float:
        if isinstance(value, bool):
            raise TypeError
        f = float(value)
        if not math.isfinite(f):
            raise ValueError
        return f


class BoolParam(Param):
    kind = "bool"
    dtype = "bool"

    def native(self, value: Any) -> bool:
        return bool(value)

    def convert(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise TypeError


class ChoiceParam(Param):
    kind = "choice"
    dtype = "str"

    def native(self, value: Any) -> str:
        return str(value)

    def __init__(self, default: str, choices: Sequence[str], **kw: Any) -> None:
        super().__init__(default, choices=choices, **kw)

    def convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError
        return value


class EventKindParam(Param):
    """The kind of catalogue events a strategy reads (e.g. ``krx_circuit_breaker``).

    A string like a :class:`ChoiceParam`, but its allowed values are the event kinds of the study's
    catalogue (the built-in one plus the study's ``events_files``), known only when the study is
    planned: :func:`check_event_kinds` rejects an unknown kind there, with a "did you mean".
    """

    kind = "event_kind"
    dtype = "str"

    def __init__(self, default: str, **kw: Any) -> None:
        super().__init__(default, **kw)

    def convert(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise TypeError
        return value

    def native(self, value: Any) -> str:
        return str(value)


def check_event_kinds(params: Mapping[str, Param], axes: list[list[Any]], kinds: Sequence[str], owner: str) -> None:
    """Every value of an :class:`EventKindParam` (``axes`` from :func:`grid_axes`) is one of ``kinds``.

    Raises
    ------
    StrategyError
        Naming the parameter and the unknown kind, with the closest kind of the catalogue.
    """
    known = sorted(kinds)
    for (name, p), values in zip(params.items(), axes):
        if not isinstance(p, EventKindParam):
            continue
        for v in values:
            if v not in known:
                hint = difflib.get_close_matches(v, known, n=1)
                extra = f"did you mean {hint[0]!r}?" if hint else f"kinds: {', '.join(known) or 'none'}"
                raise StrategyError(f"parameter '{owner}.{name}': no event of kind {v!r} in the study's "
                                    f"catalogue ({extra})")


def _values_of(spec: Any) -> list[Any]:
    if hasattr(spec, "values") and callable(spec.values) and not isinstance(spec, Mapping):
        return list(spec.values())
    if isinstance(spec, Mapping):
        return [spec]  # rejected by Param.check with a clear message
    if isinstance(spec, (list, tuple)):
        return list(spec)
    return [spec]


def grid_axes(params: Mapping[str, Param], spec: Mapping[str, Any], owner: str) -> list[list[Any]]:
    """The validated, de-duplicated values of each declared parameter (declaration order).

    Cheap (no product is built): the grid size is ``math.prod(len(a) for a in axes)``, so callers
    can check limits before :func:`build_grid` allocates anything.
    """
    unknown = [k for k in spec if k not in params]
    if unknown:
        raise StrategyError(
            f"strategy {owner!r} has no parameter {unknown[0]!r} (has: {', '.join(params) or 'none'})"
        )
    axes: list[list[Any]] = []
    for name, p in params.items():
        raw = _values_of(spec[name]) if name in spec else [p.default]
        if not raw:
            raise StrategyError(f"strategy {owner!r}: parameter {name!r} has an empty grid")
        axes.append(list(dict.fromkeys(p.check(v, f"{owner}.") for v in raw)))
    return axes


def build_grid(params: Mapping[str, Param], axes: list[list[Any]], owner: str) -> pd.DataFrame:
    """Cartesian product of ``axes`` (from :func:`grid_axes`), one row per combination."""
    total = math.prod(len(a) for a in axes)
    if total > MAX_COMBINATIONS:
        raise StrategyError(f"strategy {owner!r}: grid has {total:,} combinations (max {MAX_COMBINATIONS:,})")
    rows = list(itertools.product(*axes)) if axes else [()]
    grid = pd.DataFrame(rows, columns=list(params)).astype({n: p.dtype for n, p in params.items()})
    grid.index = pd.RangeIndex(len(grid), name="combo")
    return grid


def combo_records(grid: pd.DataFrame, params: Mapping[str, Param]) -> list[dict[str, Any]]:
    """Each row of ``grid`` as ``{name: value}`` with plain Python values of the declared types.

    Row-wise access to a frame (``iterrows``, ``iloc[i]``) casts a row to one common dtype, so an
    ``IntParam`` beside a ``FloatParam`` would come out as a float; this reads column by column.
    Columns without a declared :class:`Param` keep their values (numpy scalars unwrapped).
    """
    plain = Param(None)
    columns = {n: [params.get(n, plain).native(v) for v in grid[n].to_numpy()] for n in grid.columns}
    return [{n: columns[n][i] for n in grid.columns} for i in range(len(grid))]


def expand_grid(params: Mapping[str, Param], spec: Mapping[str, Any], owner: str) -> pd.DataFrame:
    """Cartesian product of the configured values, validated, one row per combination.

    Parameters
    ----------
    params
        The strategy's declared parameters (declaration order).
    spec
        ``{name: scalar | list | RangeSpec}`` from the config; missing names take the default.
    owner
        Strategy name, used in error messages.

    Returns
    -------
    pandas.DataFrame
        Columns in declaration order, each of its parameter's :attr:`Param.dtype`, a RangeIndex
        ``combo`` 0..n-1. Duplicate combinations (the same values given twice) are dropped, keeping
        the first.
    """
    return build_grid(params, grid_axes(params, spec, owner), owner)
