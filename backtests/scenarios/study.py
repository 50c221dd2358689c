"""A study's ``scenarios:`` block as a :class:`~.family.ScenarioSpec` (the second validation stage).

The schema (``backtests.config.model.ScenariosConfig``) checks types and bounds; this module checks
what needs the generator: the family and its symbols, every axis against :data:`.params.PARAMETERS`
(name, unit, range), the surface axes, the session date. Errors are :class:`ConfigError` whose
``where`` is the path inside the block (``axes.depth``), so the plan reports them on one line with
the config file's line number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backtests.errors import ConfigError, ScareInputError
from backtests.scenarios.defaults import PRICES, default_links, kospi_crash_family
from backtests.scenarios.family import ScenarioFamily, ScenarioSpec
from backtests.scenarios.params import NAMES, SPECS, ParamTable, grid

#: Families a config may name.
FAMILIES = ("kospi_crash",)


@dataclass(frozen=True)
class ScenarioGrid:
    """What the block resolves to.

    Attributes
    ----------
    spec
        Family, parameter table (the Cartesian product of the axes), replicates, seed, streams.
    axes
        ``{name: values}`` in the block's order (shock times as minutes after local midnight).
    surface
        The two axes of the return surface.
    """

    spec: ScenarioSpec
    axes: dict[str, tuple[float, ...]]
    surface: tuple[str, str]

    @property
    def varying(self) -> tuple[str, ...]:
        """Axes with more than one value."""
        return tuple(k for k, v in self.axes.items() if len(v) > 1)

    def record(self) -> dict[str, Any]:
        """The grid for metrics.json and ``scare scenarios show`` (JSON-safe)."""
        s = self.spec
        return {"family": s.family.name, "date": s.family.date, "bar": s.family.bar,
                "symbols": [a.symbol for a in s.family.assets], "leader": s.family.leader,
                "sessions_before": s.family.sessions_before, "sessions_after": s.family.sessions_after,
                "axes": {k: list(v) for k, v in self.axes.items()},
                "units": {k: SPECS[k].unit for k in self.axes},
                "grid_points": len(s.params), "replicates": s.replicates, "scenarios": len(s),
                "seed": int(s.seed), "streams": s.streams, "spec_digest": s.digest(),
                "surface": list(self.surface),
                "label": f"SCENARIO {s.family.name} seed={s.seed} spec={s.digest()}"}


def _values(name: str, value: Any) -> list[Any]:
    if hasattr(value, "values") and callable(value.values):  # a {start, stop, step} range
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]


def family_symbols(wanted: Iterable[str], given: Iterable[str] | None) -> tuple[str, ...]:
    """The family's symbols: ``given``, else ``wanted`` plus every symbol on their links to the leader
    (and USD/KRW when a KRX stock or ETF is among them: the engine values KRW prices through it)."""
    known = tuple(PRICES)
    if given is not None:
        syms = tuple(dict.fromkeys(given))
        bad = [s for s in syms if s not in known]
        if bad:
            raise ConfigError(f"the kospi_crash family has no symbol {bad[0]!r} (has: {', '.join(known)})",
                              where="symbols")
        return syms
    leader_of = {ln.follower: ln.leader for ln in default_links()}
    out = ["^KS11"]
    for s in wanted:
        if s not in known:
            continue
        chain = [s]
        while chain[-1] in leader_of:
            chain.append(leader_of[chain[-1]])
        for c in reversed(chain):
            if c not in out:
                out.append(c)
    if any(s != "^KS11" and s.endswith(".KS") for s in out) and "KRW=X" not in out:
        out.append("KRW=X")  # KRW prices are valued in USD through it
    return tuple(sorted(out, key=known.index))


def scenario_grid(block: Any, wanted: Iterable[str]) -> ScenarioGrid:
    """Resolve a ``ScenariosConfig`` (module docstring); ``wanted``: symbols the strategies read."""
    if block.family not in FAMILIES:
        raise ConfigError(f"unknown scenario family {block.family!r} (known: {', '.join(FAMILIES)})", where="family")
    syms = family_symbols(wanted, block.symbols)
    try:
        family: ScenarioFamily = kospi_crash_family(syms, date=str(block.date), bar=block.bar,
                                                    sessions_before=block.sessions_before,
                                                    sessions_after=block.sessions_after)
    except ScareInputError as exc:
        raise ConfigError(exc.bare_message, where="symbols" if block.symbols else "date") from None
    axes: dict[str, list[Any]] = {}
    for name, value in block.axes.items():
        if name not in SPECS or name == "template":
            raise ConfigError(f"unknown scenario parameter {name!r} (known: "
                              f"{', '.join(n for n in NAMES if n != 'template')})", where=f"axes.{name}")
        vals = _values(name, value)
        if not vals:
            raise ConfigError("an axis needs at least one value", where=f"axes.{name}")
        try:
            table = ParamTable.from_records([{name: v} for v in vals])
        except ScareInputError as exc:
            raise ConfigError(exc.bare_message, where=f"axes.{name}") from None
        axes[name] = list(dict.fromkeys(getattr(table, name).tolist()))
    try:
        params = grid(**axes)
    except ScareInputError as exc:
        raise ConfigError(exc.bare_message, where="axes") from None
    try:
        spec = ScenarioSpec(family, params, replicates=block.replicates, seed=block.seed, streams=block.streams)
        from backtests.scenarios.clock import grids_for

        grids_for(family)  # the sessions exist in the calendars; the shock time lies in the shock session
    except ScareInputError as exc:
        raise ConfigError(exc.bare_message, where="date") from None
    surface = _surface(block.surface, axes)
    return ScenarioGrid(spec, {k: tuple(v) for k, v in axes.items()}, surface)


def _surface(given: tuple[str, str] | None, axes: Mapping[str, list[Any]]) -> tuple[str, str]:
    varying = [k for k, v in axes.items() if len(v) > 1]
    if given is None:
        if len(varying) < 2:
            raise ConfigError("a return surface needs two axes with more than one value each (have: "
                              f"{', '.join(varying) or 'none'}); vary two parameters or name them in surface",
                              where="axes")
        return varying[0], varying[1]
    a, b = given
    for k in (a, b):
        if k not in axes or len(axes[k]) < 2:
            raise ConfigError(f"surface axis {k!r} must be one of the axes with more than one value "
                              f"({', '.join(varying) or 'none'})", where="surface")
    if a == b:
        raise ConfigError("the two surface axes must differ", where="surface")
    return a, b


__all__ = ["ScenarioGrid", "scenario_grid", "family_symbols", "FAMILIES"]
