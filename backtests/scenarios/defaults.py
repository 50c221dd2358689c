"""The default family: the KOSPI crash chain, with the numbers :mod:`.calibrate` estimated.

Every ``estimated`` number below is the output of ``python -m backtests.scenarios.calibrate``
on ``../shared/data`` (anchor 2026-06-23, calibration clusters only), rounded to 4 significant
digits; ``tests/scenarios/test_calibrate.py`` re-estimates them and fails if they drift. ``given``
numbers could not be estimated from daily data and are stated, not fitted.
"""

from __future__ import annotations

from backtests.scenarios.family import AssetSpec, HawkesSpec, Link, RuleIndex, ScenarioFamily

ANCHOR = "2026-06-23"
ESTIMATED = "estimated (python -m backtests.scenarios.calibrate, ../shared/data, calibration clusters)"

#: (leader, follower, beta, se, r2, n): betas on calibration shock days; delays 0 minutes (given).
LINK_ESTIMATES: tuple[tuple[str, str, float, float, float, int], ...] = (
    ("^KS11", "000660.KS", 1.176, 0.148, 0.79, 18),
    ("^KS11", "005930.KS", 1.065, 0.074, 0.88, 28),
    ("^KS11", "069500.KS", 1.054, 0.031, 0.99, 18),
    ("^KS11", "KRW=X", -0.139, 0.039, 0.25, 39),
    ("^KS11", "EWY", 0.360, 0.229, 0.13, 18),
    ("EWY", "MU", 0.752, 0.277, 0.36, 14),
    ("EWY", "^GSPC", 0.279, 0.094, 0.39, 15),
    ("MU", "^SOX", 0.666, 0.085, 0.83, 14),
    ("^SOX", "BTC-USD", 0.901, 0.319, 0.40, 13),
)
#: Annualized base vols (leader: total; followers: residual on their link), robust, 250 sessions.
VOLS: dict[str, float] = {
    "^KS11": 0.2465, "000660.KS": 0.3802, "005930.KS": 0.2296, "069500.KS": 0.0341, "KRW=X": 0.07268,
    "EWY": 0.3018, "MU": 0.4512, "^GSPC": 0.09351, "^SOX": 0.2341, "BTC-USD": 0.3540,
}
#: Overnight share of a session's variance (XKRX from KOSPI, XNYS from MU).
OVERNIGHT: dict[str, float] = {"XKRX": 0.3981, "XNYS": 0.2891}
#: Previous closes before the 2026-06-23 sessions (^GSPC: SPY x 10).
PRICES: dict[str, float] = {
    "^KS11": 9114.55, "000660.KS": 2919000.0, "005930.KS": 353500.0, "069500.KS": 148355.0,
    "KRW=X": 1537.86, "EWY": 219.02, "^GSPC": 7443.9, "MU": 1211.38, "^SOX": 14634.7, "BTC-USD": 63952.1,
}
#: Typical volume per minute (median daily volume / 390; given where the data has none).
VOLUMES: dict[str, float] = {
    "^KS11": 1305.0, "000660.KS": 10210.0, "005930.KS": 58420.0, "MU": 82090.0, "^GSPC": 180200.0,
    "069500.KS": 20000.0, "EWY": 15000.0, "^SOX": 0.0, "KRW=X": 0.0, "BTC-USD": 20.0,
}
#: KOSPI vol in the 5 sessions after calibration shock days, as a multiple of its base vol.
SHOCK_VOL_MULTIPLIER = 2.555
#: Binance BTC liquidations: calm level (USD a minute, median 4-hour bar / 240) and the impact
#: upper bound from the 2025-10-10 20:00 UTC bar (log fall per $1M of net long liquidations).
HAWKES = HawkesSpec(baseline_long=2768.0, baseline_short=2911.0, size=50_000.0, decay_half_life=10.0,
                    coupling=1.0, impact=0.001081, dispersion=0.5,
                    source="baselines and impact " + ESTIMATED + "; size, decay, coupling, dispersion given")

_META = {
    "^KS11": ("XKRX", "index", "KRW", "KOSPI Composite Index"),
    "000660.KS": ("XKRX", "equity", "KRW", "SK Hynix"),
    "005930.KS": ("XKRX", "equity", "KRW", "Samsung Electronics"),
    "069500.KS": ("XKRX", "etf", "KRW", "KODEX 200"),
    "KRW=X": ("XKRX", "fx", "KRW", "USD/KRW (KRW per USD)"),
    "EWY": ("XNYS", "etf", "USD", "iShares MSCI South Korea ETF"),
    "MU": ("XNYS", "equity", "USD", "Micron Technology"),
    "^GSPC": ("XNYS", "index", "USD", "S&P 500 (levels from SPY x 10)"),
    "^SOX": ("XNYS", "index", "USD", "PHLX Semiconductor Index"),
    "BTC-USD": ("CRYPTO", "crypto", "USD", "Bitcoin"),
}


def default_asset(symbol: str, **overrides) -> AssetSpec:
    """The calibrated :class:`AssetSpec` of one of the default symbols (fields overridable)."""
    market, kind, cur, name = _META[symbol]
    spec = dict(symbol=symbol, market=market, kind=kind, currency=cur, price=PRICES[symbol], vol=VOLS[symbol],
                overnight_share=OVERNIGHT.get(market, 0.0), volume=VOLUMES[symbol], name=f"{name} (SCENARIO)")
    spec.update(overrides)
    return AssetSpec(**spec)


def default_links(symbols: tuple[str, ...] | None = None) -> tuple[Link, ...]:
    """The estimated chain, restricted to links whose both ends are in ``symbols``."""
    out = []
    for lead, fol, beta, se, r2, n in LINK_ESTIMATES:
        if symbols is None or (lead in symbols and fol in symbols):
            out.append(Link(lead, fol, beta, 0.0, f"estimated: se {se}, r2 {r2}, n {n} calibration shock days"))
    return tuple(out)


def kospi_crash_family(symbols: tuple[str, ...] | None = None, date: str = ANCHOR, bar: str = "1min",
                       sessions_before: int = 0, sessions_after: int = 1, symbol_rules: bool = False,
                       name: str = "kospi_crash") -> ScenarioFamily:
    """The default family: a KOSPI-led shock travelling along the estimated chain.

    Parameters
    ----------
    symbols
        Which of the default symbols to include (default all: ``^KS11, 000660.KS, 005930.KS,
        069500.KS, KRW=X, EWY, MU, ^GSPC, ^SOX, BTC-USD``). Each must be reachable from ``^KS11``
        through links among the chosen symbols.
    date, bar, sessions_before, sessions_after, symbol_rules, name
        See :class:`~backtests.scenarios.family.ScenarioFamily`. Prices and vols are those
        before 2026-06-23; for another date pass assets of your own.
    """
    syms = tuple(_META) if symbols is None else tuple(symbols)
    assets = tuple(default_asset(s) for s in syms)
    rules = tuple(RuleIndex(m, s, idx) for m, s, idx in (("XKRX", "^KS11", "KOSPI"), ("XNYS", "^GSPC", "S&P 500"))
                  if s in syms)
    return ScenarioFamily(name=name, date=date, leader="^KS11", assets=assets, links=default_links(syms),
                          rule_indices=rules, bar=bar, sessions_before=sessions_before,
                          sessions_after=sessions_after, hawkes=HAWKES if "BTC-USD" in syms else None,
                          symbol_rules=symbol_rules)


__all__ = ["kospi_crash_family", "default_asset", "default_links", "LINK_ESTIMATES", "VOLS", "OVERNIGHT",
           "PRICES", "VOLUMES", "HAWKES", "SHOCK_VOL_MULTIPLIER", "ANCHOR"]
