"""Per-symbol trading costs resolved from the study config and each symbol's market."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backtests.data.market_data import SymbolInfo

BPS = 1e-4


@dataclass(frozen=True)
class SymbolCosts:
    """Costs of trading one symbol, as fractions (not bps) and annual rates.

    Attributes
    ----------
    commission
        Fraction of traded value paid on every fill (both sides).
    sell_tax
        Extra fraction on sells only (Korean securities transaction tax).
    slippage
        Adverse price move per fill, fraction of price (vectorbt's ``slippage``).
    borrow_rate
        Annual rate on the value of a short position, accrued per unit of calendar time.
    long_yield
        Annual yield on the value of a long position (e.g. a stablecoin's lending yield).
    """

    commission: float
    sell_tax: float
    slippage: float
    borrow_rate: float
    long_yield: float = 0.0

    def record(self) -> dict[str, float]:
        """JSON-ready: commission, sell tax and slippage in bps (rounded to 1e-9 bp, undoing the
        float error of the bps-to-fraction conversion), borrow rate and long yield as annual rates."""
        return {"commission_bps": _bps(self.commission), "sell_tax_bps": _bps(self.sell_tax),
                "slippage_bps": _bps(self.slippage), "borrow_rate": float(self.borrow_rate),
                "long_yield": float(self.long_yield)}


def _bps(fraction: float) -> float:
    return round(float(fraction) / BPS, 9) + 0.0


def resolve_costs(costs_cfg: object, info: Mapping[str, SymbolInfo], symbols: list[str]) -> dict[str, SymbolCosts]:
    """``{symbol: SymbolCosts}`` from a :class:`~backtests.config.model.CostsConfig`: the one
    place the precedence of cost settings is decided.

    A symbol's own entry (``costs.symbols.<symbol>``) replaces its market's
    (``costs.markets.<market>``) whole; a symbol with neither trades free. ``long_yield`` is per
    symbol (``costs.long_yield.<symbol>``, default 0).
    """
    out = {}
    for sym in symbols:
        spec = costs_cfg.symbols.get(sym) or costs_cfg.markets.get(info[sym].market)  # type: ignore[attr-defined]
        if spec is None:
            out[sym] = SymbolCosts(0.0, 0.0, 0.0, 0.0, float(costs_cfg.long_yield.get(sym, 0.0)))  # type: ignore[attr-defined]
            continue
        out[sym] = SymbolCosts(
            commission=spec.commission_bps * BPS, sell_tax=spec.sell_tax_bps * BPS,
            slippage=spec.slippage_bps * BPS, borrow_rate=spec.borrow_rate,
            long_yield=float(costs_cfg.long_yield.get(sym, 0.0)),  # type: ignore[attr-defined]
        )
    return out
