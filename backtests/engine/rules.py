"""The rules one strategy's runs are executed under: one frozen object, built once.

:class:`Rules` holds every execution setting and market fact the engine obeys for a strategy:
how orders fill (``fill``, ``legs``), what a target may be (leverage, per-market caps, what to do
with one beyond them), what a position costs (per-symbol costs, financing), how an episode starts
and ends, and the clock its returns are measured on. It is built once per strategy from the study
config and the data's symbol info (:meth:`Rules.from_config`, the one config-to-engine mapping)
and handed whole to the schedule, the simulation and the scoring stage, which read it and never
re-derive any of it. :meth:`Rules.record` is the JSON form written to ``metrics.json``
(``strategies[].execution``) so the report reads the costs and the clock instead of recomputing
them.

It is frozen and hashable (tuples only), so a chunk of a sweep carries it to a Dask worker as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backtests.data.market_data import SymbolInfo
from backtests.engine.costs import SymbolCosts, resolve_costs
from backtests.engine.state import ExchangeState
from backtests.time.calendars import clock_periods_per_year, get_market

FILLS = ("open", "close")
LEGS = ("together", "independent", "before_event")
ENTRIES = ("state", "change")
ON_UNFILLABLE = ("error", "clip")
FREE = SymbolCosts(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Asset:
    """One traded symbol as the engine sees it: where it trades and what trading it costs.

    Attributes
    ----------
    symbol
        Name in the config and the outputs.
    market
        Market code whose calendar stamps its bars (``XKRX``, ``XNYS``, ``CRYPTO``).
    timezone
        IANA time zone of that market.
    costs
        Resolved costs (:func:`~backtests.engine.costs.resolve_costs`).
    """

    symbol: str
    market: str
    timezone: str
    costs: SymbolCosts


@dataclass(frozen=True)
class Clock:
    """The stamps a run's returns are measured at, and how many of them make a year.

    A run is marked to market at every stamp at which a price of an asset it trades is known: the
    union of its traded symbols' bar stamps inside the window (the engine's rows). The same
    asset's move is therefore booked at the same UTC stamp in every episode, whichever market
    defines the window.

    Attributes
    ----------
    markets
        Distinct markets of the traded symbols, sorted: the markets whose bars make the clock.
    frequency
        Bar frequency of the data (``1D``, ``4h``, ...).
    periods_per_year
        :func:`~backtests.time.calendars.clock_periods_per_year` of ``markets``: the sum of their
        periods per year (one market: 252 or 365 daily; XKRX + XNYS: 504).
    """

    markets: tuple[str, ...]
    frequency: str
    periods_per_year: float

    @classmethod
    def of(cls, markets: Sequence[str], frequency: str) -> Clock:
        codes = tuple(sorted(set(markets)))
        return cls(codes, frequency, clock_periods_per_year(codes, frequency))

    def record(self) -> dict[str, Any]:
        return {"markets": list(self.markets), "frequency": self.frequency,
                "periods_per_year": float(self.periods_per_year)}


@dataclass(frozen=True)
class Rules:
    """Execution settings and market facts of one strategy's runs (see the module docstring).

    Attributes
    ----------
    assets
        The traded symbols, in the order of the strategy's ``traded_symbols``.
    clock
        The clock the runs' returns are measured on.
    fill
        ``"open"``: a decision fills at the next bar's open when that bar opened after it and has
        an open price, else at its close; ``"close"``: always at the close.
    legs
        ``"together"``: every decision's legs fill at the first instant at which all of them can
        fill; ``"independent"``: each at its own next bar; ``"before_event"``: a decision before
        the window's event fills every leg at its own market's last close before the event, the
        first of them after the decision (else at the event, then as independent); after the
        event, as independent (:func:`~backtests.engine.schedule.before_event_times`).
        ``execution.legs: auto`` resolved.
    paired
        The strategy declares its legs a pair (``paired_legs``) and trades more than one symbol:
        legs traded and the legging gap are reported per episode.
    entry
        The strategy's ``episode_entry``: ``"state"`` (the target stated at the window's first
        decision opens the position) or ``"change"`` (a target set before the window start is not
        carried in).
    max_leverage
        Maximum gross exposure ``sum |w|`` of a target, a multiple of equity (1 = no borrowing);
        it also sizes the credit line.
    market_caps
        ``((market, cap), ...)`` maximum gross exposure of one market's symbols (sorted; only the
        markets with a cap).
    financing_rate
        Annual rate paid on borrowed cash, on calendar time.
    on_unfillable
        ``"error"`` or ``"clip"``: a target beyond the limits, or an order the simulator could not
        fill in full.
    exit_at_window_end
        Flatten every position at the close of each asset's last bar in the window.
    init_cash
        Starting capital of every episode, USD.
    locked_fill_share
        Share of a bar's volume an order into a locked limit may fill (0: none).
    state
        The exchange state of the traded symbols over the strategy's windows
        (:class:`~backtests.engine.state.ExchangeState`: halts, auctions, locks, short-sale bans);
        None: no state (fills as if every session ran its schedule, no bans).
    """

    assets: tuple[Asset, ...]
    clock: Clock
    fill: str = "open"
    legs: str = "independent"
    paired: bool = False
    entry: str = "state"
    max_leverage: float = 1.0
    market_caps: tuple[tuple[str, float], ...] = field(default=())
    financing_rate: float = 0.0
    on_unfillable: str = "error"
    exit_at_window_end: bool = True
    init_cash: float = 1_000_000.0
    locked_fill_share: float = 0.0
    state: ExchangeState | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (("fill", self.fill, FILLS), ("legs", self.legs, LEGS),
                                     ("entry", self.entry, ENTRIES), ("on_unfillable", self.on_unfillable,
                                                                      ON_UNFILLABLE)):
            if value not in allowed:
                raise ValueError(f"rules: {name} must be one of {', '.join(allowed)}, not {value!r}")
        if not self.assets:
            raise ValueError("rules: a strategy trades at least one symbol")
        if not self.max_leverage > 0 or self.init_cash <= 0:
            raise ValueError("rules: max_leverage and init_cash must be positive")
        if not 0.0 <= self.locked_fill_share <= 1.0:
            raise ValueError("rules: locked_fill_share must be in [0, 1]")
        if self.state is not None and list(self.state.symbols) != [a.symbol for a in self.assets]:
            raise ValueError("rules: the exchange state must cover the traded symbols, in order")

    # ------------------------------------------------------------------------------ building
    @classmethod
    def build(cls, info: Mapping[str, SymbolInfo], symbols: Sequence[str], *, frequency: str = "1D",
              costs: Mapping[str, SymbolCosts] | None = None,
              market_caps: Mapping[str, float] | None = None, **settings: Any) -> Rules:
        """Rules for ``symbols`` from resolved settings (the API for code that has no study config).

        Parameters
        ----------
        info
            Symbol info of the data (``MarketData.info``): each symbol's market.
        symbols
            The traded symbols, in order.
        frequency
            Bar frequency of the data.
        costs
            ``{symbol: SymbolCosts}``; a symbol not in it trades free (None: all free).
        market_caps
            ``{market: cap}`` per-market leverage caps.
        **settings
            Any other field of :class:`Rules` (``fill``, ``legs``, ``paired``, ``entry``,
            ``max_leverage``, ``financing_rate``, ``on_unfillable``, ``exit_at_window_end``,
            ``init_cash``, ``locked_fill_share``, ``state``).
        """
        costs = costs or {}
        assets = tuple(Asset(s, info[s].market, get_market(info[s].market).tz, costs.get(s, FREE)) for s in symbols)
        caps = tuple(sorted((str(m), float(c)) for m, c in (market_caps or {}).items()))
        return cls(assets=assets, clock=Clock.of([a.market for a in assets], frequency), market_caps=caps,
                   **settings)

    @classmethod
    def from_config(cls, cfg: Any, info: Mapping[str, SymbolInfo], strategy: Any, frequency: str, *,
                    state: ExchangeState | None = None) -> Rules:
        """The rules of ``strategy``'s runs in the study ``cfg`` (the config-to-engine mapping).

        Parameters
        ----------
        cfg
            The study config (:class:`~backtests.config.model.StudyConfig`): its ``execution`` and
            ``costs`` sections.
        info
            Symbol info of the data.
        strategy
            The plug-in instance: its ``traded_symbols``, ``paired_legs`` and ``episode_entry``.
        frequency
            Bar frequency of the data.
        state
            The exchange state of the traded symbols (:func:`~backtests.engine.state.build_state`
            from the data, the catalogue and the ``execution`` section); None: none.

        Notes
        -----
        ``execution.legs: auto`` is the strategy's ``default_legs`` when it declares one, else
        ``together`` for a strategy that declares its legs a pair (``paired_legs = True``) and
        trades more than one symbol, ``independent`` otherwise.
        Costs follow :func:`~backtests.engine.costs.resolve_costs` (a symbol's entry replaces its
        market's). ``costs.markets.<market>.max_leverage`` becomes that market's cap.
        """
        traded = list(strategy.traded_symbols)
        ex = cfg.execution
        paired = bool(getattr(strategy, "paired_legs", False)) and len(traded) > 1
        legs = ex.legs if ex.legs != "auto" else (getattr(strategy, "default_legs", None)
                                                  or ("together" if paired else "independent"))
        caps = {m: float(spec.max_leverage) for m, spec in cfg.costs.markets.items() if spec.max_leverage is not None}
        return cls.build(
            info, traded, frequency=frequency, costs=resolve_costs(cfg.costs, info, traded), market_caps=caps,
            fill=ex.fill, legs=legs, paired=paired, entry=getattr(strategy, "episode_entry", "state"),
            max_leverage=float(ex.max_leverage), financing_rate=float(ex.financing_rate),
            on_unfillable=ex.on_unfillable, exit_at_window_end=bool(ex.exit_at_window_end),
            init_cash=float(ex.init_cash), locked_fill_share=float(ex.locked_fill_share), state=state)

    # ------------------------------------------------------------------------------ reading
    @property
    def symbols(self) -> list[str]:
        return [a.symbol for a in self.assets]

    @property
    def markets(self) -> list[str]:
        """Market of each traded symbol (same order as :attr:`symbols`)."""
        return [a.market for a in self.assets]

    @property
    def costs(self) -> list[SymbolCosts]:
        """Costs of each traded symbol (same order as :attr:`symbols`)."""
        return [a.costs for a in self.assets]

    @property
    def caps(self) -> dict[str, float]:
        """``{market: cap}`` of the markets that have one."""
        return dict(self.market_caps)

    @property
    def fills_together(self) -> bool:
        """Legs fill together: ``legs == "together"`` and more than one symbol."""
        return self.legs == "together" and len(self.assets) > 1

    @property
    def credit(self) -> float:
        """Borrowable cash as a multiple of equity: ``max_leverage - 1`` (0: no credit line)."""
        return max(0.0, self.max_leverage - 1.0)

    def record(self) -> dict[str, Any]:
        """JSON-ready form, written to ``metrics.json`` as ``strategies[].execution``."""
        return {
            "fill": self.fill, "legs": self.legs, "paired": self.paired, "episode_entry": self.entry,
            "max_leverage": float(self.max_leverage), "market_caps": dict(self.market_caps),
            "financing_rate": float(self.financing_rate), "on_unfillable": self.on_unfillable,
            "exit_at_window_end": self.exit_at_window_end, "init_cash": float(self.init_cash),
            "costs": {a.symbol: a.costs.record() for a in self.assets},
            "symbols": {a.symbol: {"market": a.market, "timezone": a.timezone} for a in self.assets},
            "clock": self.clock.record(),
            "locked_fill_share": float(self.locked_fill_share),
            "exchange_state": self.state.record() if self.state is not None else {"enabled": False},
        }
