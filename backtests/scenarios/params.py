"""The scenario parameters a trader varies: one frozen record per scenario, one table per grid.

Every parameter has a unit, a documented range and a default (:data:`PARAMETERS`); values outside
the range are a :class:`~backtests.errors.ConfigError` naming the parameter and the row. The
table (:class:`ParamTable`) holds one array per parameter so the generator works on all scenarios
of a chunk at once; :func:`grid` builds the Cartesian product of axes, the same way strategy
parameter grids are written.

Conventions: fractions are plain numbers (``0.09`` = 9%); times of day are minutes after local
midnight of the defining market (``"10:30"`` is accepted and stored as ``630.0``); durations are
minutes of the defining market's trading clock (minutes in session; nights and weekends do not
count).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from backtests.errors import ConfigError


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: unit, range (inclusive) and default.

    Attributes
    ----------
    name
        Field name in :class:`ShockParams` and :class:`ParamTable`.
    unit
        What one unit is (``fraction``, ``minutes``, ``minutes after local midnight``, ...).
    low, high
        Inclusive range the generator accepts.
    default
        Value when a grid does not set the parameter.
    doc
        One sentence for people (docs/scenarios.md reproduces the table).
    """

    name: str
    unit: str
    low: float
    high: float
    default: float
    doc: str


#: The parameters, in the order of :class:`ShockParams` (docs/scenarios.md lists them).
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("depth", "fraction of the previous close", 0.0, 0.40, 0.09,
              "Fall of the leader's trough below its previous close (0.09: the trough is 9% below)."),
    ParamSpec("time_to_trough", "trading minutes", 1.0, 1560.0, 30.0,
              "Minutes from the start of the fall to the trough, on the defining market's trading clock."),
    ParamSpec("shock_time", "minutes after local midnight", 0.0, 1439.0, 600.0,
              "Local clock time of the defining market at which the fall starts (600 = 10:00)."),
    ParamSpec("rebound", "fraction of the fall", 0.0, 5.0, 0.0,
              "Share of the fall (shock-start level minus trough) recovered asymptotically; >1 overshoots."),
    ParamSpec("half_life", "trading minutes", 1.0, 3900.0, 60.0,
              "Half-life of the rebound: half of it is recovered this many trading minutes after the trough."),
    ParamSpec("drift", "fraction per session", -0.05, 0.05, 0.0,
              "Pre-shock drift of the leader per trading session (log rate), up to the start of the fall."),
    ParamSpec("open_gap", "fraction of the previous close", -0.30, 0.30, 0.0,
              "Deterministic move of the leader from its previous close to the shock session's open."),
    ParamSpec("vol_multiplier", "multiple of the calibrated base", 0.0, 10.0, 1.0,
              "Volatility regime: every asset's calibrated annualized vol is multiplied by this."),
    ParamSpec("propagation", "multiple of each link's beta", 0.0, 3.0, 1.0,
              "Strength of cross-asset propagation: every link's beta is multiplied by this."),
    ParamSpec("branching", "events per event (dimensionless)", 0.0, 0.95, 0.6,
              "Hawkes branching ratio of crypto liquidations (mean liquidations triggered by one)."),
    ParamSpec("template", "index into the family's templates (-1: drawn)", -1.0, 10_000.0, -1.0,
              "Template families only: which real-day template shapes the leader (-1: one drawn per scenario)."),
)
SPECS: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}
NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)


def clock_minutes(value: float | str) -> float:
    """A local clock time as minutes after midnight: ``"10:30"`` -> 630.0, numbers pass through."""
    if isinstance(value, str):
        try:
            t = pd.Timedelta(value + (":00" if value.count(":") == 1 else ""))
        except ValueError:
            raise ConfigError(f"shock_time {value!r} is not a clock time HH:MM") from None
        return t.total_seconds() / 60.0
    return float(value)


def _coerce(name: str, value: object) -> float:
    if name == "shock_time":
        return clock_minutes(value)  # type: ignore[arg-type]
    if name not in SPECS:
        raise ConfigError(f"unknown scenario parameter {name!r} (known: {', '.join(NAMES)})")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"scenario parameter {name}: {value!r} is not a number") from None


@dataclass(frozen=True)
class ShockParams:
    """The parameters of one scenario (units and ranges: :data:`PARAMETERS`).

    ``depth`` and ``open_gap`` are measured against the leader's previous close, the reference of
    the exchange rules (a KRX circuit breaker fires on the fall from the previous close).
    """

    depth: float = SPECS["depth"].default
    time_to_trough: float = SPECS["time_to_trough"].default
    shock_time: float = SPECS["shock_time"].default
    rebound: float = SPECS["rebound"].default
    half_life: float = SPECS["half_life"].default
    drift: float = SPECS["drift"].default
    open_gap: float = SPECS["open_gap"].default
    vol_multiplier: float = SPECS["vol_multiplier"].default
    propagation: float = SPECS["propagation"].default
    branching: float = SPECS["branching"].default
    template: float = SPECS["template"].default

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name)))
        ParamTable.from_records([self])  # the range checks live in one place

    def record(self) -> dict[str, float]:
        """The parameters as a plain dict (JSON-safe)."""
        return {n: float(getattr(self, n)) for n in NAMES}


@dataclass(frozen=True)
class ParamTable:
    """Parameters of many scenarios, one float64 array per parameter (all the same length).

    Build it with :func:`grid`, :meth:`from_records` or :meth:`from_frame`; rows are validated
    against :data:`PARAMETERS` and the trough must not lie above the shock session's open
    (``1 - depth <= 1 + open_gap``).
    """

    depth: np.ndarray
    time_to_trough: np.ndarray
    shock_time: np.ndarray
    rebound: np.ndarray
    half_life: np.ndarray
    drift: np.ndarray
    open_gap: np.ndarray
    vol_multiplier: np.ndarray
    propagation: np.ndarray
    branching: np.ndarray
    template: np.ndarray

    def __post_init__(self) -> None:
        n = None
        for name in NAMES:
            a = np.ascontiguousarray(np.asarray(getattr(self, name), dtype=np.float64))
            a.setflags(write=False)
            object.__setattr__(self, name, a)
            if a.ndim != 1 or (n is not None and len(a) != n):
                raise ConfigError("scenario parameter arrays must be 1-d and of one length")
            n = len(a)
            spec = SPECS[name]
            bad = np.flatnonzero(~np.isfinite(a) | (a < spec.low) | (a > spec.high))
            if bad.size:
                i = int(bad[0])
                raise ConfigError(f"scenario parameter {name} = {a[i]:g} (row {i}) is outside its range "
                                  f"[{spec.low:g}, {spec.high:g}] ({spec.unit})")
        above = np.flatnonzero(1.0 - self.depth > 1.0 + self.open_gap + 1e-12)
        if above.size:
            i = int(above[0])
            raise ConfigError(f"scenario row {i}: the trough (depth {self.depth[i]:g}) lies above the open "
                              f"(open_gap {self.open_gap[i]:g}); a fall cannot end above where it starts")
        if np.any(self.template != np.round(self.template)):
            raise ConfigError("scenario parameter template must be an integer index (or -1)")

    def __len__(self) -> int:
        return len(self.depth)

    @classmethod
    def from_records(cls, records: Iterable[ShockParams | Mapping[str, object]]) -> "ParamTable":
        """A table from :class:`ShockParams` or dicts (missing keys take their defaults)."""
        rows = [r.record() if isinstance(r, ShockParams) else dict(r) for r in records]
        for r in rows:
            unknown = set(r) - set(NAMES)
            if unknown:
                raise ConfigError(f"unknown scenario parameter(s) {sorted(unknown)} (known: {', '.join(NAMES)})")
        return cls(**{n: np.array([_coerce(n, r.get(n, SPECS[n].default)) for r in rows], dtype=np.float64)
                      for n in NAMES})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "ParamTable":
        """A table from a DataFrame whose columns are parameter names."""
        return cls.from_records(frame.to_dict("records"))

    def take(self, rows: np.ndarray) -> "ParamTable":
        """The rows ``rows`` (integer positions) as a new table."""
        idx = np.asarray(rows, dtype=np.int64)
        return ParamTable(**{n: getattr(self, n)[idx] for n in NAMES})

    def row(self, i: int) -> ShockParams:
        """Row ``i`` as a :class:`ShockParams`."""
        return ShockParams(**{n: float(getattr(self, n)[i]) for n in NAMES})

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame (one column per parameter)."""
        return pd.DataFrame({n: getattr(self, n) for n in NAMES})


def grid(**axes: object) -> ParamTable:
    """The Cartesian product of parameter axes (a value or a list of values each).

    Rows vary the *last* axis fastest, in the order the axes are given; parameters not given take
    their defaults. ``grid(depth=[0.05, 0.09], rebound=[0, 0.5, 1])`` has 6 rows.
    """
    names = list(axes)
    for name in names:
        if name not in SPECS:
            raise ConfigError(f"unknown scenario parameter {name!r} (known: {', '.join(NAMES)})")
    values = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [v] for v in axes.values()]
    for name, vals in zip(names, values):
        if not vals:
            raise ConfigError(f"scenario axis {name} has no values")
    rows = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    return ParamTable.from_records(rows)


__all__ = ["ParamSpec", "PARAMETERS", "SPECS", "NAMES", "ShockParams", "ParamTable", "grid", "clock_minutes"]
