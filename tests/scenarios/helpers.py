"""Small scenario families for hand-worked tests (noise-free unless a test says otherwise)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.scenarios import AssetSpec, Link, RuleIndex, ScenarioFamily, ScenarioSpec, generate, grid
from backtests.scenarios.defaults import HAWKES, default_asset

KST = "Asia/Seoul"
DATE = "2026-06-23"


def krx_family(betas=(1.2, 1.5, 1.0), delays=(0.0, 0.0, 0.0), after: int = 0, bar: str = "1min", extra=(),
               extra_links=(), symbol_rules: bool = False, name: str = "hand", rules=(), hawkes=None
               ) -> ScenarioFamily:
    """KOSPI leading Samsung, SK Hynix and KODEX 200 (all KRX), plus ``extra`` assets."""
    assets = (AssetSpec("^KS11", "XKRX", "index", "KRW", 1000.0, 0.25, 0.4, 100.0),
              AssetSpec("005930.KS", "XKRX", "equity", "KRW", 50000.0, 0.2, 0.4, 100.0),
              AssetSpec("000660.KS", "XKRX", "equity", "KRW", 200000.0, 0.3, 0.4, 100.0),
              AssetSpec("069500.KS", "XKRX", "etf", "KRW", 30000.0, 0.03, 0.4, 100.0)) + tuple(extra)
    links = tuple(Link("^KS11", s, b, d) for s, b, d in zip(("005930.KS", "000660.KS", "069500.KS"), betas, delays))
    return ScenarioFamily(name, DATE, "^KS11", assets, links + tuple(extra_links),
                          (RuleIndex("XKRX", "^KS11", "KOSPI"),) + tuple(rules), bar=bar, sessions_after=after,
                          symbol_rules=symbol_rules, hawkes=hawkes)


def with_us(after: int = 1) -> ScenarioFamily:
    """KOSPI -> EWY (New York, next open) -> MU (delay 3 minutes), S&P 500 for the US rules, BTC."""
    extra = (default_asset("EWY", vol=0.3), default_asset("MU", vol=0.4), default_asset("^GSPC", vol=0.1),
             default_asset("BTC-USD", vol=0.4))
    links = (Link("^KS11", "EWY", 0.5, 0.0), Link("EWY", "MU", 0.8, 3.0), Link("EWY", "^GSPC", 0.3, 0.0),
             Link("^GSPC", "BTC-USD", 1.0, 0.0))
    return krx_family(after=after, extra=extra, extra_links=links, rules=(RuleIndex("XNYS", "^GSPC", "S&P 500"),),
                      hawkes=HAWKES)


def quiet(**axes) -> ScenarioSpec:
    """A noise-free spec of :func:`krx_family` (vol_multiplier 0) with the given axes."""
    family = axes.pop("family", None) or krx_family()
    return ScenarioSpec(family, grid(vol_multiplier=0.0, **axes), seed=1)


def kst(batch, symbol: str, j: int = 0) -> pd.DataFrame:
    """Row ``j``'s printed bars of ``symbol`` with local (KST) bar *starts* as index."""
    f = batch.bars[symbol].frame(j)
    f.index = (f.index - pd.Timedelta(minutes=1)).tz_convert(KST).strftime("%H:%M")
    return f


def at(clock: str, date: str = DATE, tz: str = KST) -> int:
    """UTC int64 ns of a local wall-clock time."""
    return int(pd.Timestamp(f"{date} {clock}").tz_localize(tz).value)


def arrays(batch) -> dict[str, np.ndarray]:
    """Every array of a batch's bars, by ``symbol.field``."""
    out = {}
    for s, ab in batch.bars.items():
        for f in ("open", "high", "low", "close", "volume", "auction"):
            out[f"{s}.{f}"] = getattr(ab, f)
        for k, v in ab.extra.items():
            out[f"{s}.{k}"] = v
    return out


__all__ = ["krx_family", "with_us", "quiet", "kst", "at", "arrays", "generate", "DATE"]
