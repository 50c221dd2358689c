"""What a scenario family is made of: its assets, the propagation chain, the crypto cascade model.

A family fixes the *structure* of a study's scenarios (which assets, on which real sessions, how
a shock travels from the leader to the others, which index each market's circuit breakers watch);
the per-scenario numbers a trader varies are in :mod:`backtests.scenarios.params`. A
:class:`ScenarioSpec` pairs a family with a parameter table, a replicate count and a seed: it is
everything needed to regenerate the scenarios byte for byte.

Units: prices in the asset's currency; vols annualized fractions (252 sessions a year for exchange
assets, 365 days for crypto); delays in minutes; USD amounts in USD.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

import numpy as np

from backtests.errors import ConfigError
from backtests.scenarios.params import NAMES, ParamTable, ShockParams
from backtests.time.calendars import CRYPTO, MARKETS

#: Asset kinds; ``fx`` series follow the chain but are not subject to exchange halts or limits.
KINDS = ("index", "equity", "etf", "fx", "crypto")
#: Bar lengths the generator writes (paths are always simulated on 1-minute steps).
BARS = {"1min": 1, "5min": 5}
#: Label carried by everything the generator produces (never pooled with market data).
SCENARIO = "scenario"


@dataclass(frozen=True)
class AssetSpec:
    """One asset of a family.

    Attributes
    ----------
    symbol, market, kind, currency, name
        As in :class:`~backtests.data.market_data.SymbolInfo` (``kind`` one of :data:`KINDS`).
    price
        Reference price: the previous close before the asset's first scenario session (its
        currency; index points for indices, quote per USD for FX).
    vol
        Annualized volatility (fraction) of the asset's *own* noise: the leader's total vol, a
        follower's idiosyncratic (residual) vol on top of what it inherits through its link.
    overnight_share
        Share of a session's variance realized between the previous close and the open (0..1).
    volume
        Typical volume per minute (shares, contracts or coins) in calm trading.
    leverage
        ETF leverage (KRX price limits scale with it: 2x -> +-60%).
    """

    symbol: str
    market: str
    kind: str
    currency: str
    price: float
    vol: float
    overnight_share: float = 0.0
    volume: float = 0.0
    leverage: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.market not in MARKETS:
            raise ConfigError(f"unknown market {self.market!r}", where=self.symbol)
        if self.kind not in KINDS:
            raise ConfigError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}", where=self.symbol)
        if (self.kind == "crypto") != (self.market == CRYPTO):
            raise ConfigError("crypto assets (and only they) trade on the CRYPTO market", where=self.symbol)
        if not (np.isfinite(self.price) and self.price > 0):
            raise ConfigError(f"reference price {self.price!r} must be a positive number", where=self.symbol)
        if not (np.isfinite(self.vol) and 0 <= self.vol <= 5):
            raise ConfigError(f"vol {self.vol!r} must be an annualized fraction in [0, 5]", where=self.symbol)
        if not 0 <= self.overnight_share < 1:
            raise ConfigError(f"overnight_share {self.overnight_share!r} must lie in [0, 1)", where=self.symbol)
        if self.volume < 0 or self.leverage == 0:
            raise ConfigError("volume must be >= 0 and leverage non-zero", where=self.symbol)

    @property
    def exchange_traded(self) -> bool:
        """True for assets the exchange's halts and auctions apply to (not FX, not crypto)."""
        return self.kind in ("index", "equity", "etf")


@dataclass(frozen=True)
class Link:
    """One step of the propagation chain: ``follower`` moves by ``beta`` times ``leader``'s move,
    ``delay`` minutes later.

    The follower reads the leader's latent log price *as of* ``t - delay`` (UTC), relative to the
    leader's value as of the follower's own reference close. When the leader's market is closed the
    as-of value is its last close, so a move made while the follower's market is shut arrives at
    the follower's next open as a gap (KOSPI -> EWY: the Seoul session's move is EWY's opening gap
    in New York the same evening).

    Attributes
    ----------
    leader, follower
        Symbols of the family.
    beta
        Log-return beta (dimensionless).
    delay
        Minutes (>= 0).
    source
        ``estimated: ...`` (from :mod:`backtests.scenarios.calibrate`) or ``given``.
    """

    leader: str
    follower: str
    beta: float
    delay: float = 0.0
    source: str = "given"

    def __post_init__(self) -> None:
        if not np.isfinite(self.beta) or abs(self.beta) > 10:
            raise ConfigError(f"beta {self.beta!r} must be a finite number in [-10, 10]", where=self.follower)
        if not (np.isfinite(self.delay) and 0 <= self.delay <= 7 * 1440):
            raise ConfigError(f"delay {self.delay!r} must be minutes in [0, 10080]", where=self.follower)


@dataclass(frozen=True)
class HawkesSpec:
    """Crypto liquidation cascade: a self-exciting (Hawkes) intensity coupled to the price.

    Per minute ``k`` and side (long liquidations on falls, short on rises), ``N_k ~
    Poisson(lambda_k)`` liquidation events with

    ``lambda_k = (1 - n) * baseline / size + E_k + coupling * max(0, -+r_k) / sigma`` and
    ``E_k = a * E_{k-1} + n * (1 - a) * N_{k-1}``,  ``a = 2 ** (-1 / decay_half_life)``,

    ``n`` the branching ratio (a scenario parameter), ``r_k`` the minute's exogenous log return and
    ``sigma`` its per-minute vol. The kernel's weights sum to ``n``, so in calm markets the mean is
    ``baseline`` USD a minute whatever ``n`` (``n`` decides how clustered liquidations are).
    Liquidated USD per minute is ``N_k * size * exp(dispersion * z - dispersion**2 / 2)``; their
    price impact is ``-impact * (long_usd - short_usd) / 1e6`` in log return.

    Attributes
    ----------
    baseline_long, baseline_short
        Calm-market liquidations, USD per minute (long-run mean without price coupling).
    size
        Mean USD per liquidation event.
    decay_half_life
        Minutes for the excitation of one event to halve.
    coupling
        Extra events per minute per per-minute sigma of an adverse move (price -> intensity).
    impact
        Log-return per 1,000,000 USD of net liquidations (intensity -> price).
    dispersion
        Lognormal sigma of the average event size per minute.
    source
        Where the numbers come from.
    """

    baseline_long: float
    baseline_short: float
    size: float = 50_000.0
    decay_half_life: float = 10.0
    coupling: float = 1.0
    impact: float = 0.0003
    dispersion: float = 0.5
    source: str = "given"

    def __post_init__(self) -> None:
        for name in ("baseline_long", "baseline_short", "size", "decay_half_life", "coupling", "impact", "dispersion"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ConfigError(f"hawkes {name} {v!r} must be a finite number >= 0")
        if self.size <= 0 or self.decay_half_life <= 0:
            raise ConfigError("hawkes size and decay_half_life must be positive")


@dataclass(frozen=True)
class RuleIndex:
    """The index whose path drives a market's circuit breakers (``XKRX``: KOSPI, ``XNYS``: S&P 500)."""

    market: str
    symbol: str
    index: str


@dataclass(frozen=True)
class ScenarioFamily:
    """The structure shared by every scenario of a study.

    Attributes
    ----------
    name
        Label (shown with every result: ``SCENARIO <name>``).
    date
        Local session date of the shock in the leader's market (a real session: bars are stamped
        at its real UTC times, special sessions included).
    leader
        Symbol whose path the shock parameters shape.
    assets
        Every asset (the leader first or anywhere).
    links
        The propagation chain: every asset but the leader is the follower of exactly one link,
        and following links from any asset reaches the leader.
    rule_indices
        Per exchange market, the index the circuit breakers watch; its generated path is run
        through the exchange rules. An exchange market without one gets no market-wide halts
        (a named notice says so).
    bar
        ``1min`` or ``5min`` output bars (paths are simulated and the rules applied on 1 minute).
    sessions_before, sessions_after
        Sessions of each exchange market before and after the shock session (0..5).
    hawkes
        The liquidation model of crypto assets (required when there are any).
    symbol_rules
        Also derive single-stock rules (KRX volatility interruptions and limit locks, US LULD)
        for every equity/ETF path: exact but costly (milliseconds per path and symbol).
    shape
        ``parametric`` (:mod:`backtests.scenarios.shapes`) or ``template`` (real days,
        :mod:`backtests.scenarios.templates`).
    templates
        Template shapes for ``shape="template"``.
    block
        Sessions per block when post-shock days are resampled from templates.
    """

    name: str
    date: str
    leader: str
    assets: tuple[AssetSpec, ...]
    links: tuple[Link, ...] = ()
    rule_indices: tuple[RuleIndex, ...] = ()
    bar: str = "1min"
    sessions_before: int = 0
    sessions_after: int = 1
    hawkes: HawkesSpec | None = None
    symbol_rules: bool = False
    shape: str = "parametric"
    templates: tuple = ()
    block: int = 2

    def __post_init__(self) -> None:
        syms = [a.symbol for a in self.assets]
        if len(set(syms)) != len(syms):
            raise ConfigError(f"family {self.name}: duplicate symbols in {syms}")
        if self.leader not in syms:
            raise ConfigError(f"family {self.name}: leader {self.leader!r} is not one of its assets")
        if self.asset(self.leader).market == CRYPTO:
            raise ConfigError(f"family {self.name}: the leader must trade on an exchange (shock_time is its clock)")
        if self.bar not in BARS:
            raise ConfigError(f"family {self.name}: bar {self.bar!r} is not one of {', '.join(BARS)}")
        for n in ("sessions_before", "sessions_after"):
            if not 0 <= getattr(self, n) <= 5:
                raise ConfigError(f"family {self.name}: {n} must lie in 0..5")
        if self.shape not in ("parametric", "template"):
            raise ConfigError(f"family {self.name}: shape must be 'parametric' or 'template'")
        if self.shape == "template" and not self.templates:
            raise ConfigError(f"family {self.name}: a template family needs templates")
        if self.block < 1:
            raise ConfigError(f"family {self.name}: block must be >= 1 session")
        if any(a.market == CRYPTO for a in self.assets) and self.hawkes is None:
            raise ConfigError(f"family {self.name}: crypto assets need a hawkes liquidation model")
        self._check_links(syms)
        for ri in self.rule_indices:
            a = self.asset(ri.symbol)
            if a.market != ri.market or a.kind != "index":
                raise ConfigError(f"family {self.name}: rule index {ri.symbol} must be an index of {ri.market}")

    def _check_links(self, syms: list[str]) -> None:
        leaders: dict[str, str] = {}
        for ln in self.links:
            for s in (ln.leader, ln.follower):
                if s not in syms:
                    raise ConfigError(f"family {self.name}: link names unknown symbol {s!r}")
            if ln.follower in leaders:
                raise ConfigError(f"family {self.name}: {ln.follower} follows two leaders")
            if ln.follower == self.leader:
                raise ConfigError(f"family {self.name}: the leader {self.leader} cannot follow another asset")
            leaders[ln.follower] = ln.leader
        for s in syms:
            seen, cur = {s}, s
            while cur != self.leader:
                if cur not in leaders:
                    raise ConfigError(f"family {self.name}: {cur} is neither the leader nor follows anything")
                cur = leaders[cur]
                if cur in seen:
                    raise ConfigError(f"family {self.name}: the links around {cur} form a cycle")
                seen.add(cur)

    def asset(self, symbol: str) -> AssetSpec:
        """The :class:`AssetSpec` of ``symbol``."""
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise ConfigError(f"family {self.name}: no asset {symbol!r}")

    def link_of(self, symbol: str) -> Link | None:
        """The link ``symbol`` follows (``None`` for the leader)."""
        return next((ln for ln in self.links if ln.follower == symbol), None)

    def order(self) -> tuple[str, ...]:
        """Symbols in generation order: every leader before its followers (stable otherwise)."""
        out: list[str] = [self.leader]
        while len(out) < len(self.assets):
            for a in self.assets:
                ln = self.link_of(a.symbol)
                if a.symbol not in out and ln is not None and ln.leader in out:
                    out.append(a.symbol)
        return tuple(out)

    @property
    def markets(self) -> tuple[str, ...]:
        """Markets of the assets, the leader's first."""
        lead = self.asset(self.leader).market
        return (lead,) + tuple(sorted({a.market for a in self.assets} - {lead}))

    def rule_index(self, market: str) -> RuleIndex | None:
        """The circuit-breaker index of ``market`` (``None`` if the family has none)."""
        return next((r for r in self.rule_indices if r.market == market), None)

    def record(self) -> dict:
        """The family as plain data (JSON-safe); each template as its name and a digest of its numbers."""
        rec = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "templates"}
        rec = {k: ([asdict(x) for x in v] if isinstance(v, tuple) else asdict(v) if hasattr(v, "__dataclass_fields__")
                   else v) for k, v in rec.items()}
        rec["templates"] = [{"name": getattr(t, "name", str(t)), "sha256": _array_digest(t)} for t in self.templates]
        return rec


def _array_digest(obj) -> str:
    """SHA-256 (first 16 hex) of a template's fields, arrays by their bytes."""
    h = hashlib.sha256()
    for f in fields(obj):
        v = getattr(obj, f.name)
        h.update(f.name.encode())
        h.update(np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ScenarioSpec:
    """A family, its parameter table, replicates and the seed: everything that fixes the paths.

    Scenario ``i`` (``0 <= i < len(params) * replicates``) uses parameter row ``i // replicates``
    and replicate ``r = i % replicates``. Its random stream is derived from ``(seed, key)`` alone
    (``numpy.random.SeedSequence(seed, spawn_key=(key,))``), so any chunk of scenarios is
    byte-identical to the same scenarios generated in one call. With ``streams="common"`` the key
    is the replicate ``r``: every parameter row sees the same noise (common random numbers, so
    differences across a grid are the parameters' doing, not noise); with ``"independent"`` the
    key is ``i``.
    """

    family: ScenarioFamily
    params: ParamTable
    replicates: int = 1
    seed: int = 0
    streams: str = "common"

    def __post_init__(self) -> None:
        if isinstance(self.params, ShockParams):
            object.__setattr__(self, "params", ParamTable.from_records([self.params]))
        if self.replicates < 1:
            raise ConfigError("replicates must be >= 1")
        if self.streams not in ("common", "independent"):
            raise ConfigError("streams must be 'common' or 'independent'")
        if not (0 <= int(self.seed) < 2**63):
            raise ConfigError("seed must be a non-negative integer")
        if self.family.shape == "template":
            bad = self.params.template >= len(self.family.templates)
            if bad.any():
                raise ConfigError(f"template index {int(self.params.template[bad][0])} but the family has "
                                  f"{len(self.family.templates)} templates")

    def __len__(self) -> int:
        return len(self.params) * self.replicates

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Parameter row of each scenario index."""
        return np.asarray(index, dtype=np.int64) // self.replicates

    def keys(self, index: np.ndarray) -> np.ndarray:
        """Stream key of each scenario index (see the class docstring)."""
        idx = np.asarray(index, dtype=np.int64)
        return idx % self.replicates if self.streams == "common" else idx

    def digest(self) -> str:
        """SHA-256 (first 16 hex) of the family, the parameters, replicates, seed and streams."""
        payload = {"family": self.family.record(), "replicates": self.replicates, "seed": int(self.seed),
                   "streams": self.streams, "params": {n: getattr(self.params, n).tolist() for n in NAMES}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


__all__ = ["AssetSpec", "Link", "HawkesSpec", "RuleIndex", "ScenarioFamily", "ScenarioSpec", "KINDS", "BARS",
           "SCENARIO"]
