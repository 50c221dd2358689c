"""The strategy plug-in base class.

A strategy is a class with a ``name``, declared parameters (:mod:`backtests.strategy.params`),
roles (the symbols it trades or reads, with defaults) and a method returning target weights.
Write :meth:`Strategy.weights` for one parameter combination (simple), or override
:meth:`Strategy.target_weights` to compute all combinations at once (fast).

Weights are fractions of portfolio value (1.0 = fully long, -0.5 = short half the value) decided at
each UTC stamp of the decision index; NaN means "no new decision" (the previous target stands),
leading NaN means flat. What is returned is checked by :mod:`backtests.strategy.contract`: finite,
on the strategy's clock, one column per traded symbol and combination; a combination with only NaN
is an error, a window with only NaN is a named warning (docs/strategies.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from backtests.errors import StrategyError
from backtests.strategy.bounds import renew
from backtests.strategy.context import StrategyContext
from backtests.strategy.contract import check_combo_frame
from backtests.strategy.params import Param, combo_records


@dataclass(frozen=True)
class Role:
    """A symbol a strategy trades or reads.

    Attributes
    ----------
    default
        Default symbol (overridable with ``roles:`` in the config).
    doc
        What the role is for.
    series
        Columns the role's symbol must have (e.g. ``("close", "long_liquidations_usd")``).
    traded
        False for symbols only read for signals (they get no weight column).
    """

    default: str
    doc: str = ""
    series: tuple[str, ...] = ("close",)
    traded: bool = True


class Strategy:
    """Base class of all strategies (see module docstring)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    roles: ClassVar[dict[str, Role]] = {}
    params: ClassVar[dict[str, Param]] = {}
    #: Window ids or event kinds the strategy is meant for (used by ``scare list``).
    windows: ClassVar[tuple[str, ...]] = ()
    #: How a window (an episode, which starts flat) treats a target the strategy set before the
    #: window's start: ``"state"`` (the default: the target at every stamp is a fresh decision
    #: from the data known then, e.g. buy-and-hold or a trend filter, so the target stated at the
    #: window's first decision opens it) or ``"change"`` (event-driven strategies, whose target
    #: is the consequence of an earlier trigger: it is not carried in, and only a target change
    #: stamped inside the window opens a position). See docs/strategies.md.
    episode_entry: ClassVar[str] = "state"
    #: True when the traded roles form a pair (a hedged long/short): with ``execution.legs: auto``
    #: the engine then fills all legs of a decision together (see docs/strategies.md).
    paired_legs: ClassVar[bool] = False
    #: The legging policy ``execution.legs: auto`` resolves to for this strategy (``"together"``,
    #: ``"independent"`` or ``"before_event"``); None: together for a pair, independent otherwise.
    default_legs: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collected: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, val in vars(klass).items():
                if isinstance(val, Param):
                    val.name = key
                    collected[key] = val
        cls.params = collected

    def __init__(self, roles: Mapping[str, str] | None = None) -> None:
        roles = dict(roles or {})
        unknown = [r for r in roles if r not in self.roles]
        if unknown:
            raise StrategyError(
                f"strategy {self.name!r} has no role {unknown[0]!r} (roles: {', '.join(self.roles) or 'none'})"
            )
        self.symbols: dict[str, str] = {r: roles.get(r, spec.default) for r, spec in self.roles.items()}

    # ------------------------------------------------------------------ metadata
    @property
    def traded_symbols(self) -> list[str]:
        """Symbols that receive weights, in role order, without duplicates."""
        return list(dict.fromkeys(self.symbols[r] for r, spec in self.roles.items() if spec.traded))

    def required_series(self) -> dict[str, tuple[str, ...]]:
        """``{symbol: columns it must have}`` for every role."""
        out: dict[str, tuple[str, ...]] = {}
        for role, spec in self.roles.items():
            sym = self.symbols[role]
            out[sym] = tuple(dict.fromkeys(out.get(sym, ()) + spec.series))
        return out

    @classmethod
    def check_params(cls, combo: Mapping[str, Any]) -> None:
        """Cross-parameter checks for one combination; raise ``ValueError(message)`` when invalid.

        Override (as a classmethod, like here) to reject combinations such as an exit threshold
        above the entry threshold. It runs for every combination at ``scare validate``, before any
        data loads. A plain method ``def check_params(self, combo)`` is accepted too and is called
        on the configured strategy (roles resolved).
        """

    @classmethod
    def describe(cls) -> dict[str, Any]:
        doc_lines = (cls.__doc__ or "").strip().splitlines()
        return {
            "name": cls.name,
            "summary": cls.summary or (doc_lines[0] if doc_lines else ""),
            "roles": {r: {"default": s.default, "doc": s.doc, "series": list(s.series), "traded": s.traded}
                      for r, s in cls.roles.items()},
            "params": {n: p.describe() for n, p in cls.params.items()},
            "windows": list(cls.windows),
        }

    # ------------------------------------------------------------------ resting position
    def resting_weights(self, **params: Any) -> Mapping[str, float]:
        """The position the strategy rests in when it has nothing to do, for ONE combination:
        ``{role: weight}`` (roles not named are 0). Default: flat.

        An episode counts as **traded** only when the strategy's target, at a fill inside the
        window (the exit the engine forces at the window's end aside), differs from this resting
        position: a rotation that holds its BTC/ETH sleeve until a signal tells it to step into a
        stablecoin declares that sleeve here, so an episode in which it never rotated is not
        counted as a trade (docs/strategies.md, docs/metrics.md). Roles that share a symbol add up.
        """
        return {}

    def resting_matrix(self, grid: pd.DataFrame) -> np.ndarray:
        """``(combinations, traded symbols)`` resting weights of every row of ``grid`` (:meth:`resting_weights`),
        in the order of :attr:`traded_symbols`; a role that is not traded, or unknown, is an error."""
        syms = self.traded_symbols
        col = {s: j for j, s in enumerate(syms)}
        out = np.zeros((len(grid), len(syms)))
        if type(self).resting_weights is Strategy.resting_weights:
            return out
        for i, params in enumerate(combo_records(grid, self.params)):
            for role, w in dict(self.resting_weights(**params)).items():
                spec = self.roles.get(role)
                if spec is None or not spec.traded:
                    why = "no such role" if spec is None else "the role is not traded"
                    raise StrategyError(f"strategy {self.name!r}: resting_weights() names role {role!r} ({why})")
                out[i, col[self.symbols[role]]] += float(w)
        return out

    # ------------------------------------------------------------------ signals
    def weights(self, ctx: StrategyContext, **params: Any) -> pd.DataFrame:
        """Target weights for ONE parameter combination.

        ``params`` are plain Python values of each parameter's declared type (``IntParam`` an
        ``int``, ``FloatParam`` a ``float``, ``BoolParam`` a ``bool``, ``ChoiceParam`` a ``str``),
        whatever the other parameters of the grid are.

        Returns
        -------
        pandas.DataFrame
            Index: UTC decision stamps (normally ``ctx.index``); columns: :attr:`traded_symbols`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement weights() or target_weights()")

    def target_weights(self, ctx: StrategyContext, grid: pd.DataFrame) -> pd.DataFrame:
        """Target weights for every combination of ``grid`` (rows = combinations).

        The default calls :meth:`weights` once per row, with the row's values as plain Python
        values of their declared types (the time bound, ``limits.plugin_call_seconds``, then applies
        to each ``weights()`` call); override it to vectorize. ``grid`` has one column per
        parameter, of its declared dtype (``int64``, ``float64``, ``bool``, ``str``).

        Returns
        -------
        pandas.DataFrame
            Index: UTC decision stamps; columns: MultiIndex ``(combo, symbol)`` with ``combo`` the
            grid's index values and ``symbol`` each of :attr:`traded_symbols`.
        """
        frames = []
        for combo, params in zip(grid.index, combo_records(grid, self.params)):
            renew()
            w = check_combo_frame(self.weights(ctx, **params), self, self.name, combo)
            w.columns = pd.MultiIndex.from_product([[combo], w.columns], names=["combo", "symbol"])
            frames.append(w)
        if not frames:
            return pd.DataFrame(index=ctx.index)
        idx = frames[0].index
        for f in frames[1:]:
            if not f.index.equals(idx):
                idx = idx.union(f.index)
        return pd.concat([f.reindex(idx) for f in frames], axis=1)
