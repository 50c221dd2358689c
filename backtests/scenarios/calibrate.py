"""Estimate the generator's numbers from daily data: betas and delays of the chain, vols, priors.

``python -m backtests.scenarios.calibrate [DATA_DIR] [--anchor DATE]`` prints every estimate;
the constants in :mod:`backtests.scenarios.defaults` are its output on ``../shared/data`` (a test
re-estimates them). Only daily bars exist there, so:

- **Shock days** are KOSPI sessions with a close-to-close fall of 5% or more, or a low 5% or more
  below the previous close (where OHLC exists), or a KOSPI level-1 circuit breaker in
  ``events/krx_circuit_breakers.csv``. Days within 5 KOSPI sessions of each other form one
  *cluster*; clusters alternate between **calibration** (even) and **held out** (odd) in time
  order. Every estimate below uses calibration days only; :mod:`.validate` compares the
  generator with the held-out ones.
- **Links** (beta, and delay in sessions): the follower's log return on the session that first
  closes after the leader's shock session (same session for the same market; the New York session
  of the same date after a Seoul session) regressed through the origin on the leader's, across
  calibration shock days; the regression on the *next* follower session is reported beside it
  (``r2_next``) to show where the reaction lands. Delays inside a session (minutes) cannot be
  seen in daily data: they are given (0).
- **Vols**: robust (1.4826 x MAD) sd of daily log returns over the 250 sessions before the anchor,
  annualized with sqrt(252) (sqrt(365) for crypto); for a follower, of the residual after its
  link's beta estimated on the same window. **Overnight share**: robust variance of
  log(open / previous close) over that of log(close / previous close), same window.
- **Priors** for the validation's calibrated family: per calibration KOSPI shock day with OHLC,
  ``open_gap = open / prev - 1``, ``depth = 1 - low / prev``, ``rebound = (close - low) / (open - low)``.
- **Crypto cascade**: baseline = median Binance liquidations per 4-hour bar / 240 (USD a minute);
  impact = the fall from open to low of the bar with the largest long liquidations divided by
  its net liquidations in $M (an upper bound: it credits the whole fall to liquidations).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.errors import DataError, ScareInputError

#: Where each symbol's daily data sits in ../shared/data: (file, value column, kind of clock).
#: Clocks: ``krx`` (Seoul session date), ``us`` (New York session date), ``fx_ny`` (New York noon
#: fixing), ``utc`` (crypto UTC day).
FILES: dict[str, tuple[str, str, str]] = {
    "^KS11": ("equities/close_only/KOSPI_KS11.csv", "close", "krx"),
    "000660.KS": ("equities/close_only/000660.KS_SKHynix.csv", "close", "krx"),
    "005930.KS": ("equities/close_only/005930.KS_Samsung.csv", "close", "krx"),
    "069500.KS": ("equities/close_only/069500.KS_KODEX200.csv", "close", "krx"),
    "KRW=X": ("fx/USDKRW_FRED_DEXKOUS.csv", "value", "fx_ny"),
    "EWY": ("equities/close_only/EWY.csv", "close", "us"),
    "^GSPC": ("equities/SPY.csv", "close", "us"),
    "MU": ("equities/MU.csv", "close", "us"),
    "^SOX": ("equities/SOX_index.csv", "close", "us"),
    "BTC-USD": ("crypto/BTC-USD_close_1d.csv", "close", "utc"),
}
#: Daily OHLC where it exists (for overnight shares and the KOSPI priors).
OHLC_FILES: dict[str, str] = {
    "^KS11": "equities/KOSPI_KS11_ohlc.csv",
    "000660.KS": "equities/000660.KS.csv",
    "005930.KS": "equities/005930.KS.csv",
    "MU": "equities/MU.csv",
    "^SOX": "equities/SOX_index.csv",
    "^GSPC": "equities/SPY.csv",
}
#: The chain of the default family (leader, follower): the issue's KOSPI -> SK Hynix/Samsung ->
#: EWY -> MU -> SOX, with KODEX 200, USD/KRW, the S&P 500 (US circuit breakers) and BTC beside it.
CHAIN: tuple[tuple[str, str], ...] = (
    ("^KS11", "000660.KS"), ("^KS11", "005930.KS"), ("^KS11", "069500.KS"), ("^KS11", "KRW=X"),
    ("^KS11", "EWY"), ("EWY", "MU"), ("EWY", "^GSPC"), ("MU", "^SOX"), ("^SOX", "BTC-USD"),
)
#: The S&P 500 is read through SPY; its level is scaled to the index (the rules read only moves).
SPY_TO_INDEX = 10.0
SHOCK_FALL = 0.05
CLUSTER_GAP = 5
WINDOW = 250


def default_data_dir() -> Path:
    """``$SCARE_SHARED_DATA`` or ``../shared/data`` beside the checkout (as the tests look for it)."""
    env = os.environ.get("SCARE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def read_daily(data_dir: Path, symbol: str) -> pd.Series:
    """Daily closes of ``symbol`` (positive values only), indexed by local date.

    Raises
    ------
    DataError
        When the file is missing or has no usable rows (naming the file).
    """
    rel, col, _ = FILES[symbol]
    path = Path(data_dir) / rel
    if not path.is_file():
        raise DataError("file not found (scenario calibration needs the shared data folder)", where=str(path))
    f = pd.read_csv(path)
    dcol = f.columns[0]
    s = pd.Series(pd.to_numeric(f[col], errors="coerce").to_numpy(), index=pd.to_datetime(f[dcol]).dt.normalize())
    s = s[s > 0].dropna()
    s = s[~s.index.duplicated(keep="last")].sort_index()
    if s.empty:
        raise DataError(f"no positive {col} values", where=str(path))
    return s


def read_ohlc(data_dir: Path, symbol: str) -> pd.DataFrame:
    """Daily OHLC of ``symbol`` with the previous close (``prev``), indexed by local date."""
    path = Path(data_dir) / OHLC_FILES[symbol]
    if not path.is_file():
        raise DataError("file not found", where=str(path))
    f = pd.read_csv(path)
    f.columns = [c.lower() for c in f.columns]
    cols = ["open", "high", "low", "close"] + (["volume"] if "volume" in f.columns else [])
    f = f.set_index(pd.to_datetime(f[f.columns[0]]).dt.normalize())[cols].astype(float)
    f = f[(f[["open", "high", "low", "close"]] > 0).all(axis=1)].sort_index()
    f["prev"] = f["close"].shift()
    return f.dropna()


def robust_sd(x: np.ndarray) -> float:
    """1.4826 x the median absolute deviation from the median (the sd for normal data)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else float("nan")


def session_returns(series: pd.Series, dates: pd.DatetimeIndex, lag: int = 0) -> pd.Series:
    """Log return of the session that first closes on or after each date (``lag`` sessions later).

    A Seoul session and the New York session of the same date: the latter closes later, so a US
    series answers a KRX date with that date's US session (or the next one, after a US holiday).
    """
    r = np.log(series).diff()
    pos = series.index.searchsorted(dates, side="left") + lag
    ok = (pos >= 1) & (pos < len(series))
    out = pd.Series(np.nan, index=dates)
    out[ok] = r.to_numpy()[pos[ok]]
    return out


def fit_through_origin(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, int]:
    """``(beta, se, r2, n)`` of ``y = beta * x`` by least squares (uncentered R2)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    if n < 3 or not np.any(x):
        return float("nan"), float("nan"), float("nan"), n
    beta = float(x @ y / (x @ x))
    res = y - beta * x
    se = float(np.sqrt(res @ res / (n - 1) / (x @ x)))
    return beta, se, float(1.0 - res @ res / (y @ y)), n


def shock_days(data_dir: Path) -> pd.DataFrame:
    """KOSPI shock days with their cluster and split (see the module docstring)."""
    k = read_daily(data_dir, "^KS11")
    r = np.log(k).diff()
    days = set(r.index[r <= np.log1p(-SHOCK_FALL)])
    try:
        o = read_ohlc(data_dir, "^KS11")
        days |= set(o.index[o["low"] / o["prev"] - 1 <= -SHOCK_FALL])
    except DataError:
        pass
    cb = Path(data_dir) / "events/krx_circuit_breakers.csv"
    if cb.is_file():
        ev = pd.read_csv(cb)
        ev = ev[(ev["kind"] == "circuit_breaker_level1") & (ev["market"] == "KOSPI")]
        days |= {d for d in pd.to_datetime(ev["date"]) if d in k.index}
    dates = pd.DatetimeIndex(sorted(days))
    pos = k.index.searchsorted(dates)
    cluster = np.concatenate([[0], np.cumsum(np.diff(pos) > CLUSTER_GAP)]) if len(pos) else np.array([], int)
    return pd.DataFrame({"kospi_return": np.expm1(r.reindex(dates).to_numpy()), "cluster": cluster,
                         "split": np.where(cluster % 2 == 0, "calibration", "holdout")},
                        index=pd.DatetimeIndex(dates, name="date"))


@dataclass(frozen=True)
class LinkEstimate:
    """One link estimated on calibration shock days (``r2_next``: on the follower's next session)."""

    leader: str
    follower: str
    beta: float
    se: float
    r2: float
    n: int
    r2_next: float
    delay_sessions: int


@dataclass(frozen=True)
class Calibration:
    """Everything :mod:`.calibrate` estimates (see the module docstring)."""

    anchor: pd.Timestamp
    days: pd.DataFrame
    links: tuple[LinkEstimate, ...]
    vols: dict[str, float]
    overnight: dict[str, float]
    prices: dict[str, float]
    priors: pd.DataFrame
    shock_vol_multiplier: float
    hawkes: dict[str, float] = field(default_factory=dict)
    volumes: dict[str, float] = field(default_factory=dict)

    def link(self, follower: str) -> LinkEstimate:
        return next(ln for ln in self.links if ln.follower == follower)


def _leader_dates(data_dir: Path, leader: str, days: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, pd.Series]:
    """The leader's session dates answering each KRX shock day, and its returns on them."""
    s = read_daily(data_dir, leader)
    pos = s.index.searchsorted(days, side="left")
    ok = pos < len(s)
    dates = pd.DatetimeIndex(s.index[pos[ok]])
    return dates, session_returns(s, dates)


def estimate_link(data_dir: Path, leader: str, follower: str, days: pd.DatetimeIndex) -> LinkEstimate:
    """Beta of ``follower`` on ``leader`` over shock ``days`` (KRX dates), and where it lands."""
    dates, x = _leader_dates(data_dir, leader, days)
    fs = read_daily(data_dir, follower)
    y0 = session_returns(fs, dates)
    y1 = session_returns(fs, dates, lag=1)
    b, se, r2, n = fit_through_origin(x.to_numpy(), y0.to_numpy())
    _, _, r2n, _ = fit_through_origin(x.to_numpy(), y1.to_numpy())
    return LinkEstimate(leader, follower, b, se, r2, n, r2n, 0 if not (r2n > r2) else 1)


def base_vols(data_dir: Path, anchor: pd.Timestamp, links: tuple[LinkEstimate, ...]) -> dict[str, float]:
    """Annualized robust vol of the leader, and of each follower's residual on its leader."""
    k = read_daily(data_dir, "^KS11")
    window = k.index[k.index < anchor][-WINDOW:]
    out = {"^KS11": robust_sd(np.log(k).diff().reindex(window).to_numpy()) * np.sqrt(252)}
    for ln in links:
        dates, x = _leader_dates(data_dir, ln.leader, window)
        y = session_returns(read_daily(data_dir, ln.follower), dates)
        beta, *_ = fit_through_origin(x.to_numpy(), y.to_numpy())
        per_year = 365 if FILES[ln.follower][2] == "utc" else 252
        out[ln.follower] = robust_sd((y - beta * x).to_numpy()) * np.sqrt(per_year)
    return out


def overnight_shares(data_dir: Path, anchor: pd.Timestamp) -> dict[str, float]:
    """Robust variance share of the night in a session's move, per market (KOSPI; MU for New York)."""
    out = {}
    for market, sym in (("XKRX", "^KS11"), ("XNYS", "MU")):
        o = read_ohlc(data_dir, sym)
        o = o[o.index < anchor].iloc[-WINDOW:]
        night = robust_sd(np.log(o["open"] / o["prev"]).to_numpy()) ** 2
        whole = robust_sd(np.log(o["close"] / o["prev"]).to_numpy()) ** 2
        out[market] = float(min(night / whole, 0.9))
    return out


def reference_prices(data_dir: Path, anchor: pd.Timestamp) -> dict[str, float]:
    """Each symbol's last close before its first session on or after ``anchor``."""
    out = {}
    for sym in FILES:
        s = read_daily(data_dir, sym)
        prior = s[s.index < anchor]
        if prior.empty:
            raise DataError(f"no {sym} close before {anchor.date()}", where=FILES[sym][0])
        out[sym] = float(prior.iloc[-1]) * (SPY_TO_INDEX if sym == "^GSPC" else 1.0)
    return out


def volumes(data_dir: Path, anchor: pd.Timestamp) -> dict[str, float]:
    """Median daily volume over the window before ``anchor`` / 390: typical volume per minute."""
    out = {}
    for sym in OHLC_FILES:
        o = read_ohlc(data_dir, sym)
        if "volume" in o.columns:
            v = o.loc[o.index < anchor, "volume"].iloc[-WINDOW:]
            if (v > 0).any():
                out[sym] = float(v[v > 0].median() / 390.0)
    return out


def daily_measures(d: pd.DataFrame) -> pd.DataFrame:
    """What one daily bar measures in the generator's units (the one definition of each).

    Parameters
    ----------
    d
        Columns ``open, high, low, close, prev`` (``prev``: the previous close).

    Returns
    -------
    pandas.DataFrame
        ``open_gap = open / prev - 1``, ``depth = 1 - low / prev``, ``rebound = (close - low) /
        (open - low)`` (the share of the fall from the open recovered by the close; NaN when the
        open is the low), ``close_return = close / prev - 1``, ``range = (high - low) / prev``,
        ``close_location = (close - low) / (high - low)`` (NaN on a flat day); fractions.
    """
    fall = (d["open"] - d["low"]).where(d["open"] > d["low"])
    return pd.DataFrame({"open_gap": d["open"] / d["prev"] - 1, "depth": 1 - d["low"] / d["prev"],
                         "rebound": (d["close"] - d["low"]) / fall, "close_return": d["close"] / d["prev"] - 1,
                         "range": (d["high"] - d["low"]) / d["prev"],
                         "close_location": ((d["close"] - d["low"]) / (d["high"] - d["low"])).where(d["high"] > d["low"])},
                        index=d.index)


def kospi_priors(data_dir: Path, days: pd.DataFrame, split: str = "calibration") -> pd.DataFrame:
    """Open gap, depth and rebound (clipped to its range) of KOSPI shock days with OHLC in ``split``."""
    o = read_ohlc(data_dir, "^KS11")
    m = daily_measures(o.loc[days.index[(days["split"] == split) & days.index.isin(o.index)]])
    m = m[m["depth"] >= SHOCK_FALL]
    m["rebound"] = m["rebound"].fillna(0.0).clip(0.0, 5.0)
    return m[["open_gap", "depth", "rebound", "close_return"]]


def shock_vol(data_dir: Path, days: pd.DataFrame, base: float) -> float:
    """Robust sd of KOSPI returns in the 5 sessions after calibration shock days, over ``base``."""
    k = read_daily(data_dir, "^KS11")
    r = np.log(k).diff()
    pos = k.index.searchsorted(days.index[days["split"] == "calibration"])
    after = np.unique(np.concatenate([np.arange(p + 1, min(p + 6, len(k))) for p in pos]))
    return robust_sd(r.to_numpy()[after]) * np.sqrt(252) / base


def hawkes_numbers(data_dir: Path) -> dict[str, float]:
    """Calm liquidation level (USD a minute) and an upper bound on price impact per $1M."""
    liq = Path(data_dir) / "crypto/coinglass/liquidation_agg_BTC_4h.csv"
    px = Path(data_dir) / "crypto/coinglass/price_binance_perp_BTCUSDT_4h.csv"
    if not (liq.is_file() and px.is_file()):
        return {}
    lq = pd.read_csv(liq).set_index("datetime_utc")
    p = pd.read_csv(px).set_index("datetime_utc")
    long_, short_ = lq["aggregated_long_liquidation_usd"], lq["aggregated_short_liquidation_usd"]
    top = long_.idxmax()
    fall = -np.log(p.loc[top, "low"] / p.loc[top, "open"])
    return {"baseline_long": float(long_.median() / 240), "baseline_short": float(short_.median() / 240),
            "impact": float(fall / ((long_[top] - short_[top]) / 1e6)), "cascade_bar": str(top)}


def calibrate(data_dir: Path | str, anchor: str = "2026-06-23") -> Calibration:
    """Every estimate of the module docstring from the data folder ``data_dir``."""
    data_dir = Path(data_dir)
    a = pd.Timestamp(anchor).normalize()
    days = shock_days(data_dir)
    cal = days.index[days["split"] == "calibration"]
    links = tuple(estimate_link(data_dir, lead, fol, cal) for lead, fol in CHAIN)
    vols = base_vols(data_dir, a, links)
    return Calibration(a, days, links, vols, overnight_shares(data_dir, a), reference_prices(data_dir, a),
                       kospi_priors(data_dir, days), shock_vol(data_dir, days, vols["^KS11"]),
                       hawkes_numbers(data_dir), volumes(data_dir, a))


def report(c: Calibration) -> str:
    """The estimates as text (what ``python -m backtests.scenarios.calibrate`` prints)."""
    lines = [f"Scenario calibration (anchor {c.anchor.date()}): {len(c.days)} KOSPI shock days in "
             f"{c.days['cluster'].nunique()} clusters; calibration "
             f"{int((c.days['split'] == 'calibration').sum())} days, held out "
             f"{int((c.days['split'] == 'holdout').sum())}", "", "links (calibration days):",
             f"{'leader':>10} {'follower':>10} {'beta':>7} {'se':>6} {'r2':>5} {'n':>4} {'r2_next':>8} delay"]
    for ln in c.links:
        lines.append(f"{ln.leader:>10} {ln.follower:>10} {ln.beta:7.3f} {ln.se:6.3f} {ln.r2:5.2f} {ln.n:4d} "
                     f"{ln.r2_next:8.2f} {'next session' if ln.delay_sessions else 'same/next open'}")
    lines += ["", "base vols (annualized; followers: residual):"]
    lines += [f"  {k:>10} {v:.4f}" for k, v in c.vols.items()]
    lines += ["", "overnight share: " + ", ".join(f"{k} {v:.3f}" for k, v in c.overnight.items()),
              "volume per minute: " + ", ".join(f"{k} {v:.6g}" for k, v in c.volumes.items()),
              "reference prices: " + ", ".join(f"{k} {v:.6g}" for k, v in c.prices.items()),
              f"shock-regime vol multiplier (KOSPI, 5 sessions after calibration days): {c.shock_vol_multiplier:.3f}",
              "crypto cascade: " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                                              for k, v in c.hawkes.items()),
              "", "KOSPI priors (calibration days with OHLC):", c.priors.round(4).to_string()]
    return "\n".join(lines)


def command(argv: list[str] | None, prog: str, doc: str, run, options=()) -> int:
    """The scenario modules' command line: ``prog [DATA_DIR] [options]``; bad input is one line on
    stderr and exit 2. ``run(args) -> str`` makes the text to print; ``options`` are
    ``(flags, kwargs)`` pairs for ``add_argument``."""
    ap = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", default=str(default_data_dir()))
    for flags, kwargs in options:
        ap.add_argument(*flags, **kwargs)
    args = ap.parse_args(argv)
    try:
        print(run(args))
    except ScareInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    return command(argv, "python -m backtests.scenarios.calibrate", __doc__,
                   lambda a: report(calibrate(a.data_dir, a.anchor)),
                   [(("--anchor",), dict(default="2026-06-23", help="session the base vols and prices lead up to"))])


if __name__ == "__main__":
    raise SystemExit(main())
