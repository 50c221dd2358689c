"""Validate the generator against held-out real shock days, and check its coupling to the rules.

``python -m backtests.scenarios.validate [DATA_DIR] [--n N] [--seed S]`` prints the table that
:func:`validate` returns and the rule-coupling counts.

The generated population is the **calibrated family**: KOSPI, SK Hynix and Samsung on one KRX
session, with links, vols and the shock-regime vol multiplier estimated on the calibration
clusters only (:mod:`.calibrate`), and per scenario ``(open_gap, depth, rebound)`` resampled
jointly from the calibration KOSPI shock days with OHLC (``open_gap`` and ``depth`` jittered by a
Gaussian kernel of Silverman's bandwidth). Daily data says nothing about timing, so the timing
priors are stated, not fitted: ``shock_time`` uniform over 09:00-14:30 KST, ``time_to_trough``
log-uniform on 5-240 minutes, ``half_life`` log-uniform on 10-120 minutes.

Each statistic is compared with the held-out days *selected the same way* (a generated path
enters a comparison only if it meets the selection the real days met), with the two-sample
Kolmogorov-Smirnov test and the k-sample Anderson-Darling test (scipy), p-values and sample sizes:

- KOSPI, held-out days with OHLC and a low 5% or more below the previous close: the daily move
  (``close_return``), the ``range``, the ``close_location`` and the ``depth``
  (:func:`~backtests.scenarios.calibrate.daily_measures`);
- SK Hynix and Samsung on those days (OHLC from 2025-01-22): daily move and range;
- KOSPI, held-out days of the long close-only history (1997-) with a close 5% or more down: the
  daily move of generated paths that also closed 5% or more down;
- the time of the level-1 halt (minutes after the 09:00 open), generated paths that halted against
  every recorded KOSPI and KOSDAQ halt time in the catalogue (no calibration uses halt times).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from backtests.exchange.rules import krx_cb_regime
from backtests.scenarios.batch import ScenarioBatch
from backtests.scenarios.calibrate import Calibration, calibrate, command, daily_measures, default_data_dir, read_ohlc
from backtests.scenarios.defaults import default_asset
from backtests.scenarios.events import real_events
from backtests.scenarios.family import Link, RuleIndex, ScenarioFamily, ScenarioSpec
from backtests.scenarios.generate import generate_chunks
from backtests.scenarios.params import ParamTable

SELECT_LOW = -0.05
SYMBOLS = ("^KS11", "000660.KS", "005930.KS")


def validation_family(cal: Calibration, date: str = "2026-06-23") -> ScenarioFamily:
    """KOSPI, SK Hynix and Samsung on one KRX session, with the calibration's numbers."""
    assets = tuple(default_asset(s, price=cal.prices[s], vol=cal.vols[s], overnight_share=cal.overnight["XKRX"])
                   for s in SYMBOLS)
    links = tuple(Link(ln.leader, ln.follower, ln.beta, 0.0, "estimated (calibration clusters)")
                  for ln in cal.links if ln.follower in SYMBOLS[1:])
    return ScenarioFamily("validation", date, "^KS11", assets, links, (RuleIndex("XKRX", "^KS11", "KOSPI"),),
                          sessions_after=0)


def calibrated_prior(cal: Calibration, n: int, seed: int) -> ParamTable:
    """``n`` parameter rows drawn from the calibrated prior (see the module docstring)."""
    rng = np.random.default_rng(seed)
    pri = cal.priors
    pick = rng.integers(0, len(pri), n)
    bw = {c: 1.06 * float(pri[c].std(ddof=1)) * len(pri) ** -0.2 for c in ("open_gap", "depth")}
    gap = np.clip(pri["open_gap"].to_numpy()[pick] + bw["open_gap"] * rng.standard_normal(n), -0.2, 0.05)
    depth = np.clip(pri["depth"].to_numpy()[pick] + bw["depth"] * rng.standard_normal(n), 0.0, 0.35)
    depth = np.maximum(depth, -gap + 1e-4)
    return ParamTable.from_frame(pd.DataFrame({
        "depth": depth, "open_gap": gap, "rebound": pri["rebound"].to_numpy()[pick],
        "shock_time": rng.uniform(9 * 60, 14 * 60 + 30, n),
        "time_to_trough": np.exp(rng.uniform(np.log(5), np.log(240), n)),
        "half_life": np.exp(rng.uniform(np.log(10), np.log(120), n)),
        "vol_multiplier": np.full(n, min(cal.shock_vol_multiplier, 10.0)),
    }))


def day_stats(batch: ScenarioBatch, symbol: str, session: int = 0) -> pd.DataFrame:
    """Daily figures of ``symbol`` in ``session`` of every row, from its printed bars."""
    ab = batch.bars[symbol]
    g = batch.grids[ab.market]
    m = g.session[np.searchsorted(g.starts, ab.starts)] == session
    o, h, lo, c = (getattr(ab, f)[:, m] for f in ("open", "high", "low", "close"))
    ok = ~np.isnan(c)
    first = np.argmax(ok, axis=1)
    last = c.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    r = np.arange(len(c))
    prev = np.full(len(c), ab.reference)
    if session > 0:
        prev = day_stats(batch, symbol, session - 1)["close"].to_numpy()
    return _figures(pd.DataFrame({"prev": prev, "open": o[r, first], "high": np.nanmax(h, axis=1),
                                  "low": np.nanmin(lo, axis=1), "close": c[r, last]}))


def _figures(d: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([d, daily_measures(d)], axis=1)


def rule_coupling(batch: ScenarioBatch, market: str = "XKRX", index: str = "KOSPI") -> pd.DataFrame:
    """Per row and session: did the index hold at or below the level-1 decline for a full minute
    (a 1-minute bar entirely at or below it, ending at or before the level-1 cut-off), and did
    the exchange model halt the market at level 1?

    Read from the printed bars: the bar that proves a trigger is printed (the halt starts at its
    end), and a path without a halt printed every bar. 1-minute families only.
    """
    ri = batch.spec.family.rule_index(market)
    ab = batch.bars[ri.symbol]
    g = batch.grids[market]
    out = []
    for s in range(g.n_sessions):
        reg = krx_cb_regime(g.dates[s], index)
        lv = reg.levels[0]
        cutoff = int(g.closes[s]) - (lv.cutoff_before_close if lv.cutoff_before_close is not None else 0)
        sl = g.session_bars(s)
        prev = ab.reference if s == 0 else day_stats(batch, ri.symbol, s - 1)["close"].to_numpy()
        level = np.asarray(prev * (1 - lv.decline), dtype=float)
        level = np.broadcast_to(level, (len(batch),))
        held = np.any((ab.high[:, sl] <= level[:, None]) & (ab.ends[sl] <= cutoff)[None, :], axis=1)
        halted = np.array([any(e.code == "cb_level1" for e in batch.day_timelines[market][s][j].events)
                           for j in range(len(batch))])
        out.append(pd.DataFrame({"row": np.arange(len(batch)), "session": s, "held": held, "halted": halted}))
    return pd.concat(out, ignore_index=True)


def two_sample(real: np.ndarray, gen: np.ndarray) -> dict[str, float]:
    """KS and Anderson-Darling two-sample tests (statistics and p-values; AD's p is capped to
    [0.001, 0.25] by scipy's table)."""
    real, gen = np.asarray(real, float), np.asarray(gen, float)
    real, gen = real[np.isfinite(real)], gen[np.isfinite(gen)]
    ks = stats.ks_2samp(real, gen)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad = stats.anderson_ksamp([real, gen])
    return {"n_real": len(real), "n_generated": len(gen), "median_real": float(np.median(real)),
            "median_generated": float(np.median(gen)), "ks": float(ks.statistic), "ks_p": float(ks.pvalue),
            "ad": float(ad.statistic), "ad_p": float(ad.pvalue)}


@dataclass(frozen=True)
class Validation:
    """The comparison table and the rule-coupling counts."""

    table: pd.DataFrame
    coupling: dict[str, int]
    n: int
    seed: int


def validate(data_dir: Path | str | None = None, n: int = 4000, seed: int = 2026, chunk: int = 500) -> Validation:
    """Run the whole validation (module docstring) and return its table.

    Raises
    ------
    DataError
        When the data folder lacks a file the validation reads (naming it).
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    cal = calibrate(data_dir)
    spec = ScenarioSpec(validation_family(cal), calibrated_prior(cal, n, seed), seed=seed, streams="independent")
    batches = list(generate_chunks(spec, chunk))
    gen = {s: pd.concat([day_stats(b, s) for b in batches], ignore_index=True) for s in SYMBOLS}
    sel = gen["^KS11"]["depth"] >= -SELECT_LOW
    held_out = cal.days[cal.days["split"] == "holdout"]
    rows = []
    o = read_ohlc(data_dir, "^KS11")
    real_k = _figures(o.loc[o.index.isin(held_out.index)].rename(columns={"prev": "prev"}))
    real_k = real_k[real_k["depth"] >= -SELECT_LOW]
    for stat in ("close_return", "range", "close_location", "depth"):
        rows.append({"statistic": stat, "asset": "^KS11", "sample": "held-out OHLC days, low <= -5%",
                     **two_sample(real_k[stat], gen["^KS11"].loc[sel, stat])})
    for sym in SYMBOLS[1:]:
        so = read_ohlc(data_dir, sym)
        real_s = _figures(so.loc[so.index.isin(real_k.index)])
        for stat in ("close_return", "range"):
            rows.append({"statistic": stat, "asset": sym, "sample": "same held-out days (OHLC since 2025-01-22)",
                         **two_sample(real_s[stat], gen[sym].loc[sel, stat])})
    long_real = held_out["kospi_return"][held_out["kospi_return"] <= SELECT_LOW]
    g_close = gen["^KS11"]["close_return"]
    rows.append({"statistic": "close_return", "asset": "^KS11", "sample": "held-out close-only days 1997-, close <= -5%",
                 **two_sample(long_real, g_close[g_close <= SELECT_LOW])})
    ev = real_events(data_dir)
    real_halts = ev.loc[ev["kind"] == "circuit_breaker_level1", "halt_minutes"].dropna()
    gen_halts = []
    for b in batches:
        h = b.halts
        h = h[(h["market"] == "XKRX") & (h["level"] == 1)]
        gen_halts.append((h["time_ns"].to_numpy() - b.grids["XKRX"].opens[0]) / 60e9)
    rows.append({"statistic": "halt_minutes_after_open", "asset": "KOSPI/KOSDAQ",
                 "sample": "every recorded level-1 halt time", **two_sample(real_halts, np.concatenate(gen_halts))})
    coup = pd.concat([rule_coupling(b) for b in batches], ignore_index=True)
    coupling = {"paths": int(len(coup)), "held_below_level1": int(coup["held"].sum()),
                "halted": int(coup["halted"].sum()), "mismatches": int((coup["held"] != coup["halted"]).sum())}
    return Validation(pd.DataFrame(rows), coupling, n, seed)


def report(v: Validation) -> str:
    """The validation as text."""
    t = v.table.copy()
    for c in ("median_real", "median_generated", "ks", "ks_p", "ad", "ad_p"):
        t[c] = t[c].map(lambda x: f"{x:.4g}")
    c = v.coupling
    return "\n".join([f"SCENARIO generator validation (calibrated family, n={v.n}, seed={v.seed})", t.to_string(index=False),
                      "", f"rule coupling: {c['paths']} KRX session paths; {c['held_below_level1']} held at or below "
                      f"the level-1 decline for a full minute before the cut-off; {c['halted']} level-1 halts; "
                      f"{c['mismatches']} mismatches"])


def main(argv: list[str] | None = None) -> int:
    return command(argv, "python -m backtests.scenarios.validate", __doc__,
                   lambda a: report(validate(a.data_dir, a.n, a.seed)),
                   [(("--n",), dict(type=int, default=4000, help="generated scenarios (default 4000)")),
                    (("--seed",), dict(type=int, default=2026))])


if __name__ == "__main__":
    raise SystemExit(main())
