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


def resolve_costs(costs_cfg: object, info: Mapping[str, SymbolInfo], symbols: list[str]) -> dict[str, SymbolCosts]:
    """``{symbol: SymbolCosts}`` from a :class:`~backtests.config.model.CostsConfig`.

    A per-symbol entry overrides the market's; ``long_yield`` is per symbol.
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
