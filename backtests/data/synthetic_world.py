"""The generator behind :mod:`backtests.data.synthetic`: factor model, shock locks, crypto paths.

Nothing here is market data. :mod:`backtests.data.synthetic` documents what the replay is
calibrated to and is the public entry point (:func:`~backtests.data.synthetic.generate`); this
module builds the seeded "world" it slices: daily bars of every symbol over the fixed internal span
:data:`SPAN`, 4-hour and 15-minute crypto paths, and (through
:mod:`backtests.data.synthetic_intraday`) the 1-minute KRX bars of the KOSPI crash days, printed
under the exchange's rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.time.calendars import CRYPTO, sessions
from backtests.data.market_data import SymbolInfo
from backtests.data.synthetic_intraday import crash_minutes

SPAN = ("2023-01-02", "2027-12-31")  # internal generation span; start/end must lie inside it

# ----------------------------------------------------------------------------- model constants
_FACTORS = ("G", "T", "M", "K", "F", "C")  # global, tech/semis, memory, Korea, USDKRW, crypto
_FACTOR_VOL = (0.145, 0.20, 0.34, 0.14, 0.06, 0.45)  # annualized
# Share of a weekday's variance realised in each UTC segment (A 00:00-06:30, E 06:30-13:30,
# U 13:30-20:30, N 20:30-24:00).
_SEG_MINUTES = (390, 420, 420, 210)
_TIME_SHARE = tuple(m / 1440 for m in _SEG_MINUTES)
_FACTOR_SEG = (
    (0.10, 0.20, 0.65, 0.05),
    (0.10, 0.15, 0.70, 0.05),
    (0.10, 0.15, 0.70, 0.05),
    (0.70, 0.10, 0.15, 0.05),
    (0.40, 0.30, 0.25, 0.05),
    _TIME_SHARE,
)
_IDIO_SEG = {
    "XKRX": (0.75, 0.10, 0.10, 0.05),
    "XNYS": (0.05, 0.10, 0.80, 0.05),
    "FX": (0.40, 0.30, 0.25, 0.05),
    CRYPTO: _TIME_SHARE,
}
_WEEKEND_SHARE = 0.1  # equity/FX variance on a weekend day relative to a weekday
_EQ_UNITS = 261.0 + _WEEKEND_SHARE * 104.0  # variance units per year for equity-like noise
_T_DF = 5.0
_T_SCALE = float(np.sqrt((_T_DF - 2.0) / _T_DF))  # unit-variance Student-t
_STEP_MIN = 15  # crypto fine path step (minutes)
_STEPS = tuple(m // _STEP_MIN for m in _SEG_MINUTES)  # 26, 28, 28, 14 -> 96 per day
_STEPS_PER_DAY = sum(_STEPS)
_STEPS_PER_4H = 240 // _STEP_MIN


@dataclass(frozen=True)
class _Asset:
    symbol: str
    market: str
    currency: str
    kind: str
    name: str
    loadings: tuple[float, ...]  # on _FACTORS
    idio_vol: float
    idio_seg: str
    volume: float  # typical volume per daily bar
    anchors: tuple[tuple[str, float], ...]


# Anchor levels are rough, rounded reference levels (see the module docstring), not data.
_ASSETS: tuple[_Asset, ...] = (
    _Asset("^KS11", "XKRX", "KRW", "index", "KOSPI Composite Index (synthetic)",
           (0.60, 0.30, 0.25, 0.90, 0.0, 0.0), 0.03, "XKRX", 5.0e5,
           (("2024-01-02", 2600), ("2024-07-10", 2850), ("2024-12-09", 2400), ("2025-04-09", 2350),
            ("2025-07-01", 3100), ("2025-10-01", 3500), ("2026-01-02", 4300), ("2026-03-03", 5800),
            ("2026-06-22", 9100), ("2026-08-31", 7000))),
    _Asset("000660.KS", "XKRX", "KRW", "equity", "SK Hynix (synthetic)",
           (0.70, 0.80, 1.00, 1.00, 0.0, 0.0), 0.20, "XKRX", 3.0e6,
           (("2024-01-02", 140000), ("2024-07-10", 230000), ("2024-12-09", 170000),
            ("2025-01-24", 220000), ("2025-07-01", 290000), ("2025-10-01", 400000),
            ("2026-01-02", 650000), ("2026-03-03", 1100000), ("2026-06-22", 2900000),
            ("2026-08-31", 2000000))),
    _Asset("005930.KS", "XKRX", "KRW", "equity", "Samsung Electronics (synthetic)",
           (0.60, 0.60, 0.60, 1.00, 0.0, 0.0), 0.18, "XKRX", 1.5e7,
           (("2024-01-02", 78000), ("2024-07-10", 87000), ("2024-11-14", 50000),
            ("2025-04-01", 58000), ("2025-07-01", 60000), ("2025-10-01", 85000),
            ("2026-01-02", 130000), ("2026-03-03", 200000), ("2026-06-22", 350000),
            ("2026-08-31", 270000))),
    _Asset("KRW=X", "XKRX", "KRW", "fx", "USD/KRW, Seoul close (KRW per USD, synthetic)",
           (-0.12, 0.0, 0.0, -0.15, 1.0, 0.0), 0.02, "FX", 0.0,
           (("2024-01-02", 1300), ("2024-04-16", 1390), ("2024-09-30", 1310), ("2024-12-30", 1470),
            ("2025-04-09", 1480), ("2025-07-01", 1355), ("2025-10-01", 1400), ("2026-01-02", 1450),
            ("2026-06-22", 1480), ("2026-08-31", 1460))),
    _Asset("EWY", "XNYS", "USD", "etf", "iShares MSCI South Korea ETF (synthetic)",
           (0.72, 0.30, 0.25, 1.05, -1.0, 0.0), 0.04, "XNYS", 6.0e6,
           (("2024-01-02", 64), ("2024-07-10", 66), ("2024-12-09", 54), ("2025-04-09", 50),
            ("2025-07-01", 70), ("2025-10-01", 82), ("2026-01-02", 100), ("2026-03-03", 150),
            ("2026-06-22", 200), ("2026-08-31", 165))),
    _Asset("MU", "XNYS", "USD", "equity", "Micron Technology (synthetic)",
           (1.20, 1.20, 1.00, 0.0, 0.0, 0.0), 0.22, "XNYS", 2.0e7,
           (("2024-01-02", 85), ("2024-06-18", 155), ("2024-09-06", 90), ("2025-01-24", 105),
            ("2025-04-08", 70), ("2025-07-01", 120), ("2025-10-01", 170), ("2026-01-02", 290),
            ("2026-03-03", 420), ("2026-06-22", 1210), ("2026-08-31", 1100))),
    _Asset("NVDA", "XNYS", "USD", "equity", "NVIDIA (synthetic)",
           (1.30, 1.60, 0.20, 0.0, 0.0, 0.0), 0.32, "XNYS", 2.5e8,
           (("2024-01-02", 48), ("2024-06-18", 135), ("2024-09-06", 102), ("2025-01-24", 142),
            ("2025-04-08", 97), ("2025-07-01", 155), ("2025-10-01", 187), ("2026-01-02", 188),
            ("2026-06-22", 210), ("2026-08-31", 210))),
    _Asset("SOXX", "XNYS", "USD", "etf", "iShares Semiconductor ETF (synthetic)",
           (1.20, 1.35, 0.35, 0.0, 0.0, 0.0), 0.06, "XNYS", 4.0e6,
           (("2024-01-02", 205), ("2024-07-10", 250), ("2025-01-24", 240), ("2025-04-08", 160),
            ("2025-07-01", 250), ("2025-10-01", 290), ("2026-01-02", 320), ("2026-06-22", 655),
            ("2026-08-31", 560))),
    _Asset("QQQ", "XNYS", "USD", "etf", "Invesco QQQ Trust (synthetic)",
           (1.10, 0.50, 0.0, 0.0, 0.0, 0.0), 0.05, "XNYS", 4.0e7,
           (("2024-01-02", 400), ("2024-07-10", 500), ("2025-01-24", 530), ("2025-04-08", 420),
            ("2025-07-01", 550), ("2025-10-01", 600), ("2026-01-02", 615), ("2026-06-22", 720),
            ("2026-08-31", 720))),
    _Asset("SPY", "XNYS", "USD", "etf", "SPDR S&P 500 ETF (synthetic)",
           (1.00, 0.10, 0.0, 0.0, 0.0, 0.0), 0.03, "XNYS", 6.0e7,
           (("2024-01-02", 470), ("2024-07-10", 560), ("2025-01-24", 605), ("2025-04-08", 500),
            ("2025-07-01", 620), ("2025-10-01", 670), ("2026-01-02", 685), ("2026-06-22", 750),
            ("2026-08-31", 760))),
    _Asset("BTC-USD", CRYPTO, "USD", "crypto", "Bitcoin (synthetic)",
           (0.30, 0.30, 0.0, 0.0, 0.0, 1.00), 0.12, CRYPTO, 3.0e10,
           (("2024-01-02", 45000), ("2024-03-13", 72000), ("2024-09-06", 54000),
            ("2024-12-17", 106000), ("2025-01-24", 104000), ("2025-04-08", 77000),
            ("2025-07-14", 120000), ("2025-10-09", 121000), ("2025-11-21", 85000),
            ("2026-02-05", 70000), ("2026-06-22", 66000), ("2026-08-31", 62000))),
    _Asset("ETH-USD", CRYPTO, "USD", "crypto", "Ether (synthetic)",
           (0.35, 0.35, 0.0, 0.0, 0.0, 1.35), 0.25, CRYPTO, 1.5e10,
           (("2024-01-02", 2350), ("2024-03-12", 4000), ("2024-09-06", 2300), ("2024-12-16", 4000),
            ("2025-01-24", 3300), ("2025-04-08", 1500), ("2025-08-22", 4700), ("2025-10-09", 4350),
            ("2026-01-02", 3000), ("2026-06-22", 1900), ("2026-08-31", 1800))),
)
_IDX = {a.symbol: i for i, a in enumerate(_ASSETS)}
_KODEX = SymbolInfo("069500.KS", "XKRX", "KRW", "etf", "synthetic", "KODEX 200 ETF (synthetic)")
_USDT = SymbolInfo("USDT-USD", CRYPTO, "USD", "stablecoin", "synthetic", "Tether USD (synthetic)")
_KODEX_RATIO = (("2024-01-02", 13.0), ("2026-06-22", 15.5))  # KODEX 200 price / KOSPI level
_OUTPUT_ORDER = ("^KS11", "069500.KS", "000660.KS", "005930.KS", "KRW=X", "EWY", "MU", "NVDA",
                 "SOXX", "QQQ", "SPY", "BTC-USD", "ETH-USD", "USDT-USD")
_N_OUT = len(_OUTPUT_ORDER)

# ----------------------------------------------------------------------------- shocks
# Factor increments replaced on shock days so that symbols that are not pinned move coherently:
# (UTC date, segment 0..3 = A/E/U/N, factor, log increment).
_FACTOR_SHOCKS: tuple[tuple[str, int, str, float], ...] = (
    ("2024-08-05", 0, "K", -0.05), ("2024-08-05", 0, "G", -0.02), ("2024-08-05", 0, "T", -0.02),
    ("2024-08-05", 2, "G", -0.025), ("2024-08-05", 2, "T", -0.02),
    ("2024-08-05", 0, "C", -0.03), ("2024-08-05", 1, "C", -0.03),
    ("2025-01-27", 1, "T", -0.03), ("2025-01-27", 1, "M", -0.02), ("2025-01-27", 1, "G", -0.005),
    ("2025-01-27", 2, "T", -0.03), ("2025-01-27", 2, "M", -0.02), ("2025-01-27", 2, "G", -0.008),
    ("2025-01-27", 0, "C", -0.02), ("2025-01-27", 1, "C", -0.02),
    ("2025-10-10", 2, "G", -0.025), ("2025-10-10", 2, "T", -0.02), ("2025-10-10", 3, "C", -0.06),
    ("2026-03-04", 0, "K", -0.08), ("2026-03-04", 0, "G", -0.01),
    ("2026-03-09", 0, "K", -0.04),
    ("2026-06-08", 0, "K", -0.04), ("2026-06-08", 0, "M", -0.03), ("2026-06-08", 0, "T", -0.02),
    ("2026-06-23", 0, "K", -0.05), ("2026-06-23", 0, "M", -0.05), ("2026-06-23", 0, "T", -0.02),
    ("2026-06-23", 0, "F", 0.015), ("2026-06-23", 0, "C", -0.03), ("2026-06-23", 1, "C", -0.02),
    ("2026-06-23", 2, "T", -0.02), ("2026-06-23", 2, "M", -0.05), ("2026-06-23", 2, "G", -0.012),
    ("2026-06-24", 0, "K", 0.02),
    ("2026-06-25", 0, "K", 0.03), ("2026-06-25", 0, "M", 0.03),
    ("2026-06-26", 0, "K", -0.04), ("2026-06-26", 0, "M", -0.03),
)


@dataclass(frozen=True)
class _Lock:
    """A session whose close-to-close return is set exactly (simple returns vs previous close)."""

    symbol: str
    date: str  # local session date (UTC day for crypto)
    ret: float
    open: float | None = None  # open vs previous close
    low: float | None = None  # low vs previous close
    segs: tuple[int, ...] = (0, 1, 2, 3)  # crypto: UTC segments the move happens in


_LOCKS: tuple[_Lock, ...] = (
    # DeepSeek R1 (New York, Monday 2025-01-27; KRX closed until 01-31)
    _Lock("NVDA", "2025-01-27", -0.17, open=-0.125), _Lock("MU", "2025-01-27", -0.12, open=-0.08),
    _Lock("SOXX", "2025-01-27", -0.08, open=-0.05), _Lock("QQQ", "2025-01-27", -0.03, open=-0.02),
    _Lock("SPY", "2025-01-27", -0.015, open=-0.01), _Lock("EWY", "2025-01-27", -0.03),
    _Lock("BTC-USD", "2025-01-27", -0.05, segs=(0, 1)),
    _Lock("000660.KS", "2025-01-31", -0.10), _Lock("005930.KS", "2025-01-31", -0.024),
    _Lock("^KS11", "2025-01-31", -0.008),
    # KOSPI Level-1 circuit-breaker days
    _Lock("^KS11", "2024-08-05", -0.088, low=-0.108),
    _Lock("^KS11", "2026-03-04", -0.1206, low=-0.1265),
    _Lock("^KS11", "2026-03-09", -0.0596, low=-0.0875),
    _Lock("^KS11", "2026-06-08", -0.0829, low=-0.088),
    _Lock("^KS11", "2026-06-23", -0.0999, open=-0.003, low=-0.0999),
    _Lock("^KS11", "2026-06-24", 0.03), _Lock("^KS11", "2026-06-25", 0.05),
    _Lock("^KS11", "2026-06-26", -0.0581, low=-0.09),
    # 2026-06-23 crash, Seoul then New York
    _Lock("005930.KS", "2026-06-23", -0.123, open=-0.004),
    _Lock("000660.KS", "2026-06-23", -0.125, open=-0.005),
    _Lock("KRW=X", "2026-06-23", 0.02),
    _Lock("EWY", "2026-06-23", -0.09, open=-0.07), _Lock("MU", "2026-06-23", -0.13, open=-0.06),
    _Lock("SOXX", "2026-06-23", -0.08, open=-0.04), _Lock("QQQ", "2026-06-23", -0.033, open=-0.015),
    _Lock("SPY", "2026-06-23", -0.015, open=-0.007),
    _Lock("BTC-USD", "2026-06-23", -0.06, segs=(0, 1)),
    # October 2025 crypto cascade (20:50 UTC onwards)
    _Lock("BTC-USD", "2025-10-10", -0.07, segs=(3,)), _Lock("ETH-USD", "2025-10-10", -0.12, segs=(3,)),
)

# Micron results after the New York close: (announce date, MU next-session return).
_MU_EARNINGS: tuple[tuple[str, float], ...] = (
    ("2024-09-25", 0.15), ("2024-12-18", -0.16), ("2025-03-20", -0.08), ("2025-06-25", -0.01),
    ("2025-09-23", 0.08), ("2025-12-17", 0.10), ("2026-03-18", -0.05), ("2026-06-24", 0.16),
)
_HYNIX_FIXED = {"2026-06-24": 0.11}  # Hynix next-session reaction fixed for these announce dates
_HYNIX_RATIO, _HYNIX_DISPERSION, _REVERT_SHARE, _REVERT_SESSIONS = 0.6, 0.25, 0.5, 5

# Crypto liquidations: baseline median per day (USD); shock days as multiples of it.
_LIQ_BASE = {"BTC-USD": (30e6, 25e6), "ETH-USD": (24e6, 20e6)}  # (longs, shorts)
_LIQ_SHOCKS: tuple[tuple[str, str, float, tuple[int, ...]], ...] = (
    ("BTC-USD", "2025-01-27", 6.0, (0, 1, 2)), ("ETH-USD", "2025-01-27", 5.0, (0, 1, 2)),
    ("BTC-USD", "2025-10-10", 30.0, (5,)), ("ETH-USD", "2025-10-10", 30.0, (5,)),
    ("BTC-USD", "2026-06-23", 45.0, (0, 1, 2)), ("ETH-USD", "2026-06-23", 35.0, (0, 1, 2)),
)  # (symbol, UTC day, multiple of the baseline median, 4h bars 0..5 that carry it)
_LIQ_CAP = 12.0  # normal days: daily longs/shorts at most this multiple of the baseline median
# Funding (percent per 8h) set on these 8-hour windows (UTC day, window 0..2, BTC value).
_FUNDING_SHOCKS: tuple[tuple[str, int, float], ...] = (
    ("2025-01-27", 1, -0.004), ("2025-01-27", 2, -0.006),
    ("2025-10-10", 2, -0.03), ("2025-10-11", 0, -0.015),
    ("2026-06-23", 0, -0.004), ("2026-06-23", 1, -0.02), ("2026-06-23", 2, -0.015),
    ("2026-06-24", 0, -0.006),
)


# ----------------------------------------------------------------------------- helpers
def _day(date: str | pd.Timestamp, base: pd.Timestamp) -> int:
    return int((pd.Timestamp(date) - base).days)


def _session_index(dates: np.ndarray, day: int, after: bool = False) -> int:
    """Index of the session on ``day`` (or the first session after it when ``after``)."""
    pos = int(np.searchsorted(dates, day, side="right" if after else "left"))
    if not after and (pos >= len(dates) or dates[pos] != day):
        raise AssertionError(f"internal: day {day} is not a session")
    return pos


def _pin(r: np.ndarray, locked: np.ndarray, anchors: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Add a constant drift per anchor interval (unlocked sessions only) so log levels hit anchors.

    Returns the adjusted log returns and the log level after each session.
    """
    r = r.copy()
    for (a, la), (b, lb) in zip(anchors[:-1], anchors[1:]):
        idx = np.arange(a + 1, b + 1)
        free = idx[~locked[idx]]
        r[free] += (lb - la - r[idx].sum()) / len(free)
    level = np.cumsum(r)
    level += anchors[0][1] - level[anchors[0][0]]
    return r, level


def _ohlc_from_path(path: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """Open/high/low/close (log) of consecutive windows of ``width`` steps of a level path."""
    win = np.lib.stride_tricks.sliding_window_view(path, width + 1)[::width]
    return win[:, 0], win.max(axis=1), win.min(axis=1), win[:, -1]


def _frame(cols: dict[str, np.ndarray], index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({k: np.array(v, dtype="float64") for k, v in cols.items()}, index=index)


# ----------------------------------------------------------------------------- the world
@dataclass
class _World:
    days: pd.DatetimeIndex
    daily: dict[str, pd.DataFrame]  # tables indexed by local session date (not yet stamped)
    four_hour: dict[str, pd.DataFrame]  # tables indexed by UTC bar-open time
    intraday: dict[str, pd.DataFrame]  # printed 1-minute KRX crash-day bars indexed by UTC bar-open time


def _build(seed: int) -> _World:
    base = pd.Timestamp(SPAN[0])
    days = pd.date_range(SPAN[0], SPAN[1], freq="D")
    nd, ns, na = len(days), 4 * len(days), len(_ASSETS)
    rng = np.random.Generator(np.random.PCG64(seed))

    # --- all random draws, fixed sizes and order --------------------------------------------
    z_fac = rng.standard_t(_T_DF, size=(ns, len(_FACTORS))) * _T_SCALE
    z_idio = rng.standard_t(_T_DF, size=(ns, na)) * _T_SCALE
    z_fine = rng.standard_normal(size=(nd * _STEPS_PER_DAY, 2))
    z_range = np.abs(rng.standard_normal(size=(nd, _N_OUT, 2)))
    z_vol = rng.standard_normal(size=(nd, _N_OUT))
    z_kodex = rng.standard_normal(size=nd)
    z_earn = rng.standard_normal(size=len(_MU_EARNINGS))
    z_liq = rng.standard_normal(size=(nd * 6, 5))
    z_4h = np.abs(rng.standard_normal(size=(nd * 6, 3, 2)))
    z_4hvol = rng.standard_normal(size=(nd * 6, 3))
    z_fund = rng.standard_normal(size=(nd * 3, 3))
    z_usdt = rng.standard_normal(size=nd * 6)

    weekend = np.asarray(days.day_of_week >= 5)

    # --- factor and asset increments per UTC segment ------------------------------------------
    fac_unit = np.array([v / np.sqrt(365.0 if f == "C" else _EQ_UNITS) for f, v in zip(_FACTORS, _FACTOR_VOL)])
    fac_seg = np.array(_FACTOR_SEG).T  # (4, nf)
    fac_day = np.where(weekend[:, None], np.array([1.0 if f == "C" else _WEEKEND_SHARE for f in _FACTORS]), 1.0)
    fac_sd = np.sqrt(fac_seg[None, :, :] * fac_day[:, None, :]) * fac_unit
    fac = z_fac * fac_sd.reshape(ns, -1)
    fpos = {f: i for i, f in enumerate(_FACTORS)}
    for date, seg, f, val in _FACTOR_SHOCKS:
        fac[4 * _day(date, base) + seg, fpos[f]] = val
    for date, ret in _MU_EARNINGS:  # the memory factor jumps overnight on Micron's results
        fac[4 * _day(date, base) + 3, fpos["M"]] = 0.5 * np.log1p(ret)

    crypto = np.array([a.market == CRYPTO for a in _ASSETS])
    idio_unit = np.array([a.idio_vol / np.sqrt(365.0 if c else _EQ_UNITS) for a, c in zip(_ASSETS, crypto)])
    idio_seg = np.array([_IDIO_SEG[a.idio_seg] for a in _ASSETS]).T  # (4, na)
    idio_day = np.where(weekend[:, None] & ~crypto[None, :], _WEEKEND_SHARE, 1.0)
    idio_sd = np.sqrt(idio_seg[None, :, :] * idio_day[:, None, :]) * idio_unit
    loadings = np.array([a.loadings for a in _ASSETS])  # (na, nf)
    inc = fac @ loadings.T + z_idio * idio_sd.reshape(ns, -1)
    path = np.vstack([np.zeros((1, na)), np.cumsum(inc, axis=0)])  # log level at segment bounds

    # daily vol per asset (for ranges, volumes, liquidations)
    ann_var = (loadings**2) @ (np.array(_FACTOR_VOL) ** 2) + np.array([a.idio_vol for a in _ASSETS]) ** 2
    daily_sd = np.sqrt(ann_var / np.where(crypto, 365.0, 252.0))

    # --- sessions -----------------------------------------------------------------------------
    sess_days: dict[str, np.ndarray] = {}
    sess_dates: dict[str, pd.DatetimeIndex] = {}
    for code in ("XKRX", "XNYS", CRYPTO):
        dates = pd.DatetimeIndex(sessions(code, SPAN[0], SPAN[1]).index)
        sess_dates[code] = dates
        sess_days[code] = np.asarray((dates - base).days, dtype=np.int64)
    bounds = {"XKRX": (0, 1), "XNYS": (2, 3), CRYPTO: (0, 4)}  # open/close boundary within a day

    locks_by_symbol: dict[str, list[_Lock]] = {a.symbol: [] for a in _ASSETS}
    for lk in _LOCKS:
        locks_by_symbol[lk.symbol].append(lk)
    # Micron results: MU and Hynix next sessions
    hy_ratio = np.clip(z_earn, -2.0, 2.0) * _HYNIX_DISPERSION + 1.0
    revert: list[tuple[int, float]] = []  # (Hynix session index of the reaction, dispersion)
    for k, (date, ret) in enumerate(_MU_EARNINGS):
        d = _day(date, base)
        mu_i = _session_index(sess_days["XNYS"], d, after=True)
        hy_i = _session_index(sess_days["XKRX"], d, after=True)
        mu_date = sess_dates["XNYS"][mu_i].strftime("%Y-%m-%d")
        hy_date = sess_dates["XKRX"][hy_i].strftime("%Y-%m-%d")
        locks_by_symbol["MU"].append(_Lock("MU", mu_date, ret, open=0.85 * ret))
        base_log = _HYNIX_RATIO * np.log1p(ret)
        hy_log = np.log1p(_HYNIX_FIXED[date]) if date in _HYNIX_FIXED else base_log * hy_ratio[k]
        hy = float(np.expm1(hy_log))
        locks_by_symbol["000660.KS"].append(_Lock("000660.KS", hy_date, hy, open=0.8 * hy))
        revert.append((hy_i, hy_log - base_log))

    daily: dict[str, pd.DataFrame] = {}
    four_hour: dict[str, pd.DataFrame] = {}
    fine_paths: dict[str, np.ndarray] = {}
    out_pos = {s: i for i, s in enumerate(_OUTPUT_ORDER)}

    for ai, asset in enumerate(_ASSETS):
        code = asset.market
        sd = sess_days[code]
        ob, cb = bounds[code]
        close_b = 4 * sd + cb
        open_b = 4 * sd + ob
        x = path[:, ai]
        prev_b = np.concatenate([[open_b[0]], close_b[:-1]])
        r_model = x[close_b] - x[prev_b]
        gap = x[open_b] - x[prev_b]
        n = len(sd)
        if asset.symbol == "^KS11":  # keep unpinned KOSPI sessions clear of the -8% trigger
            r_model = np.clip(r_model, -0.07, 0.07)
            gap = np.clip(gap, -0.05, 0.05)
        if asset.symbol == "000660.KS":
            for hy_i, disp in revert:
                r_model[hy_i + 1: hy_i + 1 + _REVERT_SESSIONS] -= _REVERT_SHARE * disp / _REVERT_SESSIONS
        locked = np.zeros(n, dtype=bool)
        r = r_model.copy()
        low_spec = np.full(n, np.nan)
        lock_segs: dict[int, tuple[int, ...]] = {}
        for lk in locks_by_symbol[asset.symbol]:
            i = _session_index(sd, _day(lk.date, base))
            locked[i] = True
            r[i] = np.log1p(lk.ret)
            if lk.open is not None:
                gap[i] = np.log1p(lk.open)
            if lk.low is not None:
                low_spec[i] = np.log1p(lk.low)
                gap[i] = max(gap[i], low_spec[i] + 0.004)
            lock_segs[i] = lk.segs
        # an anchor on a non-session date applies to the first session on or after it
        anchors = [(int(np.searchsorted(sd, _day(dt, base))), float(np.log(lv))) for dt, lv in asset.anchors]
        r, level = _pin(r, locked, anchors)

        if code == CRYPTO:
            table, t4, fine = _crypto_bars(asset, ai, r, r_model, locked, lock_segs, inc, level,
                                           z_fine, z_4h, z_4hvol, daily_sd[ai], sess_dates[code])
            daily[asset.symbol] = table
            four_hour[asset.symbol] = t4
            fine_paths[asset.symbol] = fine
            continue

        close = np.exp(level)
        prev_close = np.concatenate([[close[0] / np.exp(r[0])], close[:-1]])
        opn = prev_close * np.exp(gap)
        o_i = out_pos[asset.symbol]
        day_idx = sd
        spread = 0.5 * daily_sd[ai]
        high = np.maximum(opn, close) * np.exp(spread * z_range[day_idx, o_i, 0])
        low = np.minimum(opn, close) * np.exp(-spread * z_range[day_idx, o_i, 1])
        has_low = ~np.isnan(low_spec)
        low[has_low] = np.minimum(prev_close[has_low] * np.exp(low_spec[has_low]),
                                  np.minimum(opn, close)[has_low])
        if asset.symbol == "^KS11":
            floor = prev_close * 0.925
            low = np.where(has_low, low, np.minimum(np.maximum(low, floor), np.minimum(opn, close)))
        mag = np.minimum(np.abs(r) / daily_sd[ai], 6.0)
        volume = asset.volume * np.exp(0.3 * z_vol[day_idx, o_i] + 0.3 * mag)
        if asset.volume == 0.0:
            volume = np.zeros(n)
        daily[asset.symbol] = _frame(
            {"open": opn, "high": high, "low": low, "close": close, "volume": np.round(volume)},
            sess_dates[code])

    # --- KODEX 200: KOSPI times a slowly drifting ratio with tracking noise --------------------
    ks = daily["^KS11"]
    kd = sess_days["XKRX"]
    (d0, q0), (d1, q1) = ((_day(d, base), np.log(q)) for d, q in _KODEX_RATIO)
    te = np.zeros(len(kd))
    zk = z_kodex[kd] * 0.0008
    for i in range(1, len(kd)):
        te[i] = 0.8 * te[i - 1] + zk[i]
    ratio = np.exp(np.interp(kd, [d0, d1], [q0, q1]) + te)
    kodex_cols = {c: ks[c].to_numpy() * ratio for c in ("open", "high", "low", "close")}
    o_k = out_pos["069500.KS"]
    r_ks = np.log(ks["close"].to_numpy()[1:] / ks["close"].to_numpy()[:-1])
    mag = np.minimum(np.abs(np.concatenate([[0.0], r_ks])) / daily_sd[_IDX["^KS11"]], 6.0)
    kodex_cols["volume"] = np.round(5.0e6 * np.exp(0.3 * z_vol[kd, o_k] + 0.3 * mag))
    daily["069500.KS"] = _frame(kodex_cols, sess_dates["XKRX"])

    # --- the KOSPI crash days: 1-minute KRX bars under the rules; the daily bars are their aggregate
    minutes = crash_minutes(daily, seed)
    for sym, rows in minutes.daily.items():
        frame = daily[sym]
        for date, vals in rows.items():
            i = frame.index.get_loc(date)
            for c, v in zip(("open", "high", "low", "close", "volume"), vals):
                col = frame[c].to_numpy().copy()
                col[i] = v
                frame[c] = col
    intraday = minutes.bars

    # --- crypto extras: liquidations, funding, USDT ---------------------------------------------
    _crypto_extras(daily, four_hour, fine_paths, z_liq, z_fund, daily_sd, days, base)
    daily["USDT-USD"], four_hour["USDT-USD"] = _usdt(fine_paths["BTC-USD"], z_usdt, z_4h, z_4hvol,
                                                      days, base)
    return _World(days=days, daily=daily, four_hour=four_hour, intraday=intraday)


def _crypto_bars(asset, ai, r, r_model, locked, lock_segs, inc, level, z_fine, z_4h, z_4hvol,
                 day_sd, dates):
    """15-minute Brownian-bridge path inside each UTC segment -> 4h and daily bars."""
    nd = len(r)
    col = 0 if asset.symbol == "BTC-USD" else 1
    steps = np.array(_STEPS)
    seg_of_step = np.repeat(np.arange(4), steps)
    seg_inc = inc[:, ai].reshape(nd, 4)
    fine = (seg_inc / steps)[:, seg_of_step]
    noise = z_fine[:, col].reshape(nd, _STEPS_PER_DAY) * (day_sd / np.sqrt(_STEPS_PER_DAY))
    for s in range(4):
        cols = seg_of_step == s
        noise[:, cols] -= noise[:, cols].mean(axis=1, keepdims=True)
    fine = fine + noise
    adj = r - r_model
    weights = np.full((nd, _STEPS_PER_DAY), 1.0 / _STEPS_PER_DAY)
    for i, segs in lock_segs.items():
        w = np.isin(seg_of_step, segs).astype(float)
        weights[i] = w / w.sum()
    fine = fine + adj[:, None] * weights
    lvl0 = level[0] - r[0]
    fine_path = lvl0 + np.concatenate([[0.0], np.cumsum(fine.ravel())])
    o, h, l, c = _ohlc_from_path(fine_path, _STEPS_PER_4H)
    extra = 0.15 * day_sd / np.sqrt(6.0)
    h = h + extra * z_4h[:, col, 0]
    l = l - extra * z_4h[:, col, 1]
    z4 = (c - o) / (day_sd / np.sqrt(6.0))
    vol4 = asset.volume / 6.0 * np.exp(0.35 * z_4hvol[:, col] + 0.25 * np.minimum(np.abs(z4), 6.0))
    times = pd.date_range(dates[0].tz_localize("UTC"), periods=nd * 6, freq="4h")
    t4 = _frame({"open": np.exp(o), "high": np.exp(h), "low": np.exp(l), "close": np.exp(c),
                 "volume": np.round(vol4)}, times)
    return _daily_from_4h(t4, dates), t4, fine_path


def _daily_from_4h(t4: pd.DataFrame, dates: pd.DatetimeIndex, means: tuple[str, ...] = ()) -> pd.DataFrame:
    nd = len(dates)
    cols = {}
    for c in t4.columns:
        v = t4[c].to_numpy().reshape(nd, 6)
        if c == "open":
            cols[c] = v[:, 0]
        elif c == "close":
            cols[c] = v[:, -1]
        elif c == "high":
            cols[c] = v.max(axis=1)
        elif c == "low":
            cols[c] = v.min(axis=1)
        elif c in means:
            cols[c] = v.mean(axis=1)
        else:
            cols[c] = v.sum(axis=1)
    return _frame(cols, dates)


def _crypto_extras(daily, four_hour, fine_paths, z_liq, z_fund, daily_sd, days, base) -> None:
    nd = len(days)
    for k, sym in enumerate(("BTC-USD", "ETH-USD")):
        t4 = four_hour[sym]
        sd4 = daily_sd[_IDX[sym]] / np.sqrt(6.0)
        z4 = np.log(t4["close"].to_numpy() / t4["open"].to_numpy()) / sd4
        long_med, short_med = _LIQ_BASE[sym]
        # a lognormal's median is exp(mu); daily sums of 6 bars have a higher median than 6x a bar's
        long4 = long_med / 6.0 * 0.7 * np.exp(0.6 * z_liq[:, 0] + 0.5 * z_liq[:, 1 + 2 * k]
                                              + 0.55 * np.clip(-z4, 0.0, 4.0) - 0.1 * np.clip(z4, 0.0, 4.0))
        short4 = short_med / 6.0 * 0.7 * np.exp(0.6 * z_liq[:, 0] + 0.5 * z_liq[:, 2 + 2 * k]
                                                + 0.55 * np.clip(z4, 0.0, 4.0) - 0.1 * np.clip(-z4, 0.0, 4.0))
        long4, short4 = long4.reshape(nd, 6), short4.reshape(nd, 6)
        for arr, med in ((long4, long_med), (short4, short_med)):
            tot = arr.sum(axis=1)
            cap = _LIQ_CAP * med
            arr *= np.where(tot > cap, cap / tot, 1.0)[:, None]
        for s, date, mult, bars in _LIQ_SHOCKS:
            if s != sym:
                continue
            d = _day(date, base)
            others = np.delete(np.arange(6), bars)
            rest = long4[d, others].sum()
            long4[d, list(bars)] = (mult * long_med - rest) / len(bars)
            long4[d + 1] *= 2.5  # the next day stays elevated
        four_hour[sym]["long_liquidations_usd"] = np.round(long4.ravel(), 2)
        four_hour[sym]["short_liquidations_usd"] = np.round(short4.ravel(), 2)

        # funding, percent per 8h
        fine = fine_paths[sym]
        step8 = 480 // _STEP_MIN
        r8 = fine[step8::step8] - fine[:-1:step8][: nd * 3]
        z8 = np.clip(r8 / (daily_sd[_IDX[sym]] / np.sqrt(3.0)), -3.0, 3.0)
        shocks = {3 * _day(d, base) + w: v * (1.3 if sym == "ETH-USD" else 1.0) for d, w, v in _FUNDING_SHOCKS}
        noise = 0.0025 * z_fund[:, 0] + 0.0015 * z_fund[:, 1 + k]
        f = np.empty(nd * 3)
        prev = 0.01
        for j in range(nd * 3):
            val = shocks.get(j)
            if val is None:
                val = min(max(0.01 + 0.7 * (prev - 0.01) + noise[j] + 0.0015 * z8[j], -0.05), 0.075)
            f[j] = val
            prev = val
        four_hour[sym]["funding_rate"] = np.round(np.repeat(f, 2), 6)
        daily[sym] = _daily_from_4h(four_hour[sym], daily[sym].index, means=("funding_rate",))


def _usdt(btc_fine, z_usdt, z_4h, z_4hvol, days, base):
    nd = len(days)
    n4 = nd * 6
    btc_r4 = np.diff(btc_fine[::_STEPS_PER_4H])
    dev = np.empty(n4)
    prev = 0.0
    for j in range(n4):
        prev = 0.8 * prev + 0.00008 * z_usdt[j]
        dev[j] = prev
    premium = np.zeros(n4)
    for date in ("2025-01-27", "2025-10-10", "2026-06-23"):  # rotation into stablecoins
        j0 = 6 * _day(date, base)
        premium[j0: j0 + 18] += 0.0008 * np.exp(-np.arange(18) / 6.0)
    close = 1.0 + dev + premium
    opn = np.concatenate([[1.0], close[:-1]])
    high = np.maximum(opn, close) + 0.00005 * z_4h[:, 2, 0]
    low = np.minimum(opn, close) - 0.00005 * z_4h[:, 2, 1]
    vol = 6.0e10 / 6.0 * np.exp(0.3 * z_4hvol[:, 2] + 0.3 * np.minimum(np.abs(btc_r4) / 0.011, 6.0))
    times = pd.date_range(days[0].tz_localize("UTC"), periods=n4, freq="4h")
    t4 = _frame({"open": opn, "high": high, "low": low, "close": close, "volume": np.round(vol)}, times)
    return _daily_from_4h(t4, days), t4
