"""One scenario (or a batch) as :class:`~backtests.data.market_data.MarketData`.

``MarketData`` is built from frames directly (its public constructor); the stamps go through
:mod:`backtests.data.frames` (``intraday_bars`` for minute bars, ``daily_bars`` for sessions), the
one place where a bar's UTC stamp is decided. Each asset's first bar is its *reference*: the
previous close the scenario's moves are measured from (volume 0, ``auction`` 1), so a return against
the previous close can be computed from the data itself.

Labels: ``MarketData.synthetic`` is True, every ``SymbolInfo.source`` starts with ``scenario:``
(family, spec digest, scenario index) and the first warning is the batch's ``SCENARIO`` label.
``MarketData`` has no field saying "scenario" yet; :func:`is_scenario` reads the label, and a later
stage may add a dedicated field (``MarketData.from_frames`` is planned).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.frames import daily_bars, intraday_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.errors import ConfigError
from backtests.scenarios.batch import AssetBars, ScenarioBatch
from backtests.scenarios.family import SCENARIO
from backtests.time.calendars import CRYPTO, get_market

SOURCE_PREFIX = f"{SCENARIO}:"


def _reference_row(ab: AssetBars, columns: list[str]) -> dict[str, float]:
    row = {c: 0.0 for c in columns}
    row.update({c: ab.reference for c in ("open", "high", "low", "close")})
    row["auction"] = 1.0
    return row


def minute_frame(ab: AssetBars, j: int, bar: str) -> pd.DataFrame:
    """Row ``j`` of ``ab`` as stamped intraday bars, the reference close first."""
    f = ab.frame(j)
    ref = pd.DataFrame([_reference_row(ab, list(f.columns))],
                       index=pd.DatetimeIndex([pd.Timestamp(ab.reference_time, tz="UTC")], name="time"))
    return intraday_bars(pd.concat([ref, f]), bar, stamped_at="close")


def intraday_frame(ab: AssetBars, j: int) -> pd.DataFrame:
    """Row ``j`` of ``ab`` as stamped intraday bars (printed bars only, no reference row: the
    previous close is the daily bars' first row)."""
    return intraday_bars(ab.frame(j), _bar_of(ab), stamped_at="close")


def _bar_of(ab: AssetBars) -> str:
    step = int(ab.ends[1] - ab.ends[0]) // 60_000_000_000 if len(ab.ends) > 1 else 1
    return "5min" if step == 5 else "1min"


def daily_frame(ab: AssetBars, j: int, sessions: pd.DatetimeIndex, session_of_bar: np.ndarray,
                complete: np.ndarray) -> pd.DataFrame:
    """Row ``j`` of ``ab`` as one bar per session (first print, extremes, last print, volume),
    stamped at the session close, the reference session first; incomplete sessions are dropped."""
    ok = ~np.isnan(ab.close[j])
    s = session_of_bar[ok]
    t = pd.DataFrame({"open": ab.open[j, ok], "high": ab.high[j, ok], "low": ab.low[j, ok],
                      "close": ab.close[j, ok], "volume": ab.volume[j, ok], "s": s})
    for k, v in ab.extra.items():
        t[k] = v[j, ok]
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
           **{k: "sum" for k in ab.extra}}
    g = t.groupby("s").agg(agg)
    g = g[complete[g.index.to_numpy()]]
    g.index = sessions[g.index.to_numpy()]
    g["auction"] = 0.0
    ref_date = pd.Timestamp(ab.reference_time, tz="UTC").tz_convert(get_market(ab.market).tz).tz_localize(None)
    if ab.market == CRYPTO:
        ref_date -= pd.Timedelta(days=1)
    ref = pd.DataFrame([_reference_row(ab, list(g.columns))], index=[ref_date.normalize()])
    return daily_bars(pd.concat([ref, g]), ab.market)


def _daily_sessions(batch: ScenarioBatch, ab: AssetBars) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Sessions (local dates), the session of each output bar, and which sessions are complete."""
    g = batch.grids[ab.market]
    if ab.market != CRYPTO:
        session = g.session[np.searchsorted(g.starts, ab.starts)]
        return pd.DatetimeIndex(g.dates), session, np.ones(len(g.dates), dtype=bool)
    day = pd.DatetimeIndex(pd.to_datetime(ab.starts, utc=True)).tz_localize(None).normalize()
    days = day.unique()
    session = days.get_indexer(day)
    start, end = pd.Timestamp(g.opens[0], tz="UTC"), pd.Timestamp(g.closes[-1], tz="UTC")
    complete = np.array([(d.tz_localize("UTC") >= start) and (d.tz_localize("UTC") + pd.Timedelta(days=1) <= end)
                         for d in days])
    return days, session, complete


def is_scenario(md: MarketData) -> bool:
    """True when ``md`` was made by the scenario generator (any symbol's source says so)."""
    return any(info.source.startswith(SOURCE_PREFIX) for info in md.info.values())


def scenario_market_data(batch: ScenarioBatch, j: int, frequency: str = "bars") -> MarketData:
    """Row ``j`` of ``batch`` as a MarketData.

    Parameters
    ----------
    batch
        Generated scenarios.
    j
        Row in the batch (``batch.row(scenario_index)`` finds it).
    frequency
        ``bars`` (the family's 1- or 5-minute bars) or ``1D`` (one bar per session; crypto: complete
        UTC days only).

    Returns
    -------
    MarketData
        ``synthetic=True``; sources ``scenario:<family>:<spec digest>#<scenario>``; FX wired when a
        ``KRW=X`` series is present; warnings: the SCENARIO label and the batch's notices.
    """
    if not 0 <= j < len(batch):
        raise ConfigError(f"row {j} is outside the batch (0..{len(batch) - 1})")
    fam = batch.spec.family
    if frequency not in ("bars", "1D"):
        raise ConfigError("frequency must be 'bars' or '1D'")
    bars, info = {}, {}
    scenario = int(batch.index[j])
    for a in fam.assets:
        ab = batch.bars[a.symbol]
        if frequency == "bars":
            bars[a.symbol] = minute_frame(ab, j, fam.bar)
        else:
            bars[a.symbol] = daily_frame(ab, j, *_daily_sessions(batch, ab))
        info[a.symbol] = SymbolInfo(a.symbol, a.market, a.currency, a.kind,
                                    f"{SOURCE_PREFIX}{fam.name}:{batch.spec.digest()}#{scenario}",
                                    a.name or a.symbol)
    fx = {"KRW": "KRW=X"} if "KRW=X" in bars and any(a.currency == "KRW" for a in fam.assets) else {}
    warnings = [f"{batch.label} scenario={scenario}: generated paths, not market data"]
    warnings += [f"{n.code}: {n.message} (x{n.count})" for n in batch.notices]
    return MarketData(bars=bars, info=info, frequency=fam.bar if frequency == "bars" else "1D", synthetic=True,
                      fx=fx, warnings=warnings)


def scenario_market_data_batch(batch: ScenarioBatch, frequency: str = "bars") -> list[MarketData]:
    """Every row of ``batch`` as a MarketData (see :func:`scenario_market_data`)."""
    return [scenario_market_data(batch, j, frequency) for j in range(len(batch))]


__all__ = ["scenario_market_data", "scenario_market_data_batch", "is_scenario", "minute_frame", "intraday_frame",
           "daily_frame"]
