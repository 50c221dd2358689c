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
    return _AssetFrames(ab).intraday(j)


def _bar_of(ab: AssetBars) -> str:
    step = int(ab.ends[1] - ab.ends[0]) // 60_000_000_000 if len(ab.ends) > 1 else 1
    return "5min" if step == 5 else "1min"


class _AssetFrames:
    """One asset's frames for every row of a batch, with what the rows share computed once.

    The rows of a batch share the bar grid, the sessions and so the stamps; only the values and
    which bars printed differ. The stamps (through :mod:`backtests.data.frames`, the one place a
    stamp is decided) and the per-session aggregates of every row (one pandas groupby for the
    whole batch, keyed by row and session: the same reductions, in the same order, as a groupby
    of one row) are made here once; a row's frames are then cut from arrays.
    """

    def __init__(self, ab: AssetBars, sessions: tuple[pd.DatetimeIndex, np.ndarray, np.ndarray] | None = None
                 ) -> None:
        self.ab = ab
        self.extra = list(ab.extra)
        ends = pd.DatetimeIndex(pd.to_datetime(ab.ends, utc=True), name="time")
        stamped = intraday_bars(pd.DataFrame(index=ends), _bar_of(ab), stamped_at="close")
        self.minute_index, self.minute_open = stamped.index, pd.DatetimeIndex(stamped["open_time"])
        self.printed = ~np.isnan(ab.close)
        if sessions is not None:
            self._daily_setup(*sessions)

    def intraday(self, j: int) -> pd.DataFrame:
        """Row ``j``'s printed bars, stamped at their end (``intraday_bars``, stamped at the close)."""
        ab, ok = self.ab, self.printed[j]
        cols = {"open": ab.open[j, ok], "high": ab.high[j, ok], "low": ab.low[j, ok], "close": ab.close[j, ok],
                "volume": ab.volume[j, ok], "auction": ab.auction[j, ok].astype(np.float64)}
        for k in self.extra:
            cols[k] = ab.extra[k][j, ok]
        cols["open_time"] = self.minute_open[ok]
        return pd.DataFrame(cols, index=self.minute_index[ok])

    def _daily_setup(self, sessions: pd.DatetimeIndex, session_of_bar: np.ndarray, complete: np.ndarray) -> None:
        ab = self.ab
        n, S = ab.close.shape[0], len(sessions)
        rows, bars = np.nonzero(self.printed)
        t = pd.DataFrame({"open": ab.open[rows, bars], "high": ab.high[rows, bars], "low": ab.low[rows, bars],
                          "close": ab.close[rows, bars], "volume": ab.volume[rows, bars],
                          **{k: ab.extra[k][rows, bars] for k in self.extra},
                          "key": rows.astype(np.int64) * S + session_of_bar[bars]})
        agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum",
               **{k: "sum" for k in self.extra}}
        g = t.groupby("key", sort=True).agg(agg)
        key = g.index.to_numpy(dtype=np.int64)
        keep = complete[key % S]
        self.daily_cols = list(agg)
        self.daily_values = g.to_numpy(dtype=np.float64)[keep]
        self.daily_key = key[keep]
        self.n_sessions = S
        ref_date = pd.Timestamp(ab.reference_time, tz="UTC").tz_convert(get_market(ab.market).tz).tz_localize(None)
        if ab.market == CRYPTO:
            ref_date -= pd.Timedelta(days=1)
        dates = pd.DatetimeIndex([ref_date.normalize(), *sessions])
        stamped = daily_bars(pd.DataFrame(index=dates), ab.market)
        self.daily_index, self.daily_open = stamped.index, pd.DatetimeIndex(stamped["open_time"])
        self.bounds = np.searchsorted(self.daily_key, np.arange(n + 1, dtype=np.int64) * S)

    def daily(self, j: int) -> pd.DataFrame:
        """Row ``j`` as one bar per complete session (first print, extremes, last print, volume),
        stamped at the session close (``daily_bars``), the reference session first."""
        lo, hi = self.bounds[j], self.bounds[j + 1]
        pos = np.concatenate([[0], 1 + self.daily_key[lo:hi] % self.n_sessions])
        ref = np.zeros(len(self.daily_cols))
        ref[:4] = self.ab.reference  # open, high, low, close: the previous close; volume 0
        values = np.vstack([ref[None, :], self.daily_values[lo:hi]])
        cols = {c: values[:, i] for i, c in enumerate(self.daily_cols)}
        cols["auction"] = np.where(np.arange(len(pos)) == 0, 1.0, 0.0)
        cols["open_time"] = self.daily_open[pos]
        return pd.DataFrame(cols, index=self.daily_index[pos])


class BatchFrames:
    """Every row of a batch as frames: per asset, stamps and session aggregates made once
    (:class:`_AssetFrames`); :meth:`market_data` builds a row's MarketData from arrays."""

    def __init__(self, batch: ScenarioBatch) -> None:
        self.batch = batch
        self._assets: dict[str, _AssetFrames] = {}
        self._source = f"{SOURCE_PREFIX}{batch.spec.family.name}:{batch.spec.digest()}"
        self._warnings = [f"{n.code}: {n.message} (x{n.count})" for n in batch.notices]
        self._label = batch.label

    def asset(self, symbol: str) -> _AssetFrames:
        if symbol not in self._assets:
            ab = self.batch.bars[symbol]
            self._assets[symbol] = _AssetFrames(ab, _daily_sessions(self.batch, ab))
        return self._assets[symbol]

    def market_data(self, j: int, frequency: str = "bars", intraday: bool = False) -> MarketData:
        """Row ``j`` as a MarketData (:func:`scenario_market_data`; ``intraday``: with ``1D``, the
        generated bars as ``intraday`` too, as :func:`~backtests.scenarios.episodes.episode_data`)."""
        batch = self.batch
        if not 0 <= j < len(batch):
            raise ConfigError(f"row {j} is outside the batch (0..{len(batch) - 1})")
        fam = batch.spec.family
        if frequency not in ("bars", "1D"):
            raise ConfigError("frequency must be 'bars' or '1D'")
        bars, info, minute = {}, {}, {}
        scenario = int(batch.index[j])
        for a in fam.assets:
            ab = batch.bars[a.symbol]
            if frequency == "bars":
                bars[a.symbol] = minute_frame(ab, j, fam.bar)
            else:
                bars[a.symbol] = self.asset(a.symbol).daily(j)
                if intraday:
                    minute[a.symbol] = self.asset(a.symbol).intraday(j)
            info[a.symbol] = SymbolInfo(a.symbol, a.market, a.currency, a.kind, f"{self._source}#{scenario}",
                                        a.name or a.symbol)
        fx = {"KRW": "KRW=X"} if "KRW=X" in bars and any(a.currency == "KRW" for a in fam.assets) else {}
        warnings = [f"{self._label} scenario={scenario}: generated paths, not market data", *self._warnings]
        return MarketData(bars=bars, info=info, frequency=fam.bar if frequency == "bars" else "1D", synthetic=True,
                          fx=fx, warnings=warnings, intraday=minute)


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
    return BatchFrames(batch).market_data(j, frequency)


def scenario_market_data_batch(batch: ScenarioBatch, frequency: str = "bars") -> list[MarketData]:
    """Every row of ``batch`` as a MarketData (see :func:`scenario_market_data`)."""
    frames = BatchFrames(batch)
    return [frames.market_data(j, frequency) for j in range(len(batch))]


__all__ = ["scenario_market_data", "scenario_market_data_batch", "is_scenario", "minute_frame", "intraday_frame",
           "BatchFrames"]
