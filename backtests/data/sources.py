"""Build the study's MarketData from its ``data:`` config: one entry point for every source.

Sources: ``synthetic`` (the embedded replay), ``files`` (CSV/parquet, see :mod:`backtests.data.files`),
``cache`` (``data_cache/``, filled by ``scare data``) and ``frames`` (a :class:`MarketData` given in
Python, :meth:`MarketData.from_frames`). New sources plug in by adding a loader
to :data:`LOADERS` with the signature ``(config, base_dir, offline, limits) -> MarketData``; ``offline``
means "never touch the network" (only the cache source can fetch); ``limits`` (the study's
``limits``: ``max_data_bytes``, ``max_data_rows``) bounds every file read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.bounded import DataLimits
from backtests.data.files import LoadedFile, load_file
from backtests.data.market_data import MarketData
from backtests.data.quality import vet
from backtests.data.tables import stamp_tables
from backtests.errors import DataError


def _resolve(base_dir: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def load_synthetic(cfg: Any, base_dir: Path, offline: bool = False, limits: DataLimits | None = None) -> MarketData:
    """The embedded synthetic replay (deterministic for a seed), through the same checks as real data."""
    from backtests.data import synthetic

    step = getattr(cfg, "intraday", None)
    md = synthetic.generate(seed=cfg.seed, frequency=cfg.frequency,
                            intraday=synthetic.DEFAULT_INTRADAY if step is None else step)
    policy = getattr(cfg, "closed_session_bars", "error")
    for sym in list(md.bars):
        i = md.info[sym]
        md.bars[sym], notes = vet(md.bars[sym], sym, i.market, i.kind, md.frequency, where=f"synthetic {sym}",
                                  closed=policy, synthetic=True)
        md.warnings.extend(notes)
    for sym in list(md.intraday):
        i = md.info[sym]
        md.intraday[sym], notes = vet(md.intraday[sym], sym, i.market, i.kind, step or synthetic.DEFAULT_INTRADAY,
                                      where=f"synthetic {sym} (intraday)", synthetic=True)
        md.warnings.extend(notes)
    return md


def load_files(cfg: Any, base_dir: Path, offline: bool = False, limits: DataLimits | None = None) -> MarketData:
    """Bars from the files listed in ``data.files`` (each read by :func:`~backtests.data.files.load_file`,
    then checked and stamped like every table: :func:`backtests.data.tables.stamp_tables`)."""

    def read(spec: Any, first: pd.Timestamp | None, end: pd.Timestamp | None) -> LoadedFile:
        return load_file(_resolve(base_dir, spec.path), spec.market, spec.layout, dict(spec.columns), spec.frequency,
                         spec.close_time, first, end, require_close=spec.merge_into is None, limits=limits,
                         time_zone=spec.time_zone, bar_time=spec.bar_time)

    return MarketData.from_stamped(stamp_tables(cfg, cfg.files, read, lambda spec: str(_resolve(base_dir, spec.path))),
                                   cfg)


def load_cache(cfg: Any, base_dir: Path, offline: bool = False, limits: DataLimits | None = None) -> MarketData:
    """Bars from ``data_cache/`` (see ``scare data``)."""
    from backtests.data import cache

    return cache.load_market_data(cfg, base_dir, offline=offline, limits=limits)


OHLCV_COLUMNS = {"open", "high", "low", "close", "volume", "open_time"}
CRYPTO_EXTRAS = {"long_liquidations_usd", "short_liquidations_usd", "funding_rate"}
#: Series the synthetic replay provides, per symbol (checked against the generator in tests).
SYNTHETIC_SERIES: dict[str, set[str]] = {
    **{s: set(OHLCV_COLUMNS) for s in ("^KS11", "069500.KS", "000660.KS", "005930.KS", "EWY", "MU", "NVDA",
                                         "SOXX", "QQQ", "SPY", "KRW=X", "USDT-USD")},
    "BTC-USD": OHLCV_COLUMNS | CRYPTO_EXTRAS,
    "ETH-USD": OHLCV_COLUMNS | CRYPTO_EXTRAS,
}
CRYPTO_SYMBOLS = ("BTC-USD", "ETH-USD", "USDT-USD")


def declared_series(cfg: Any, base_dir: Path) -> dict[str, set[str]] | None:
    """``{symbol: columns}`` a source will provide, known without loading the data.

    Used to reject a study whose strategy needs a series (say liquidations) the data lacks before
    anything loads. ``None`` when it cannot be known in advance (the cache is checked after load).
    """
    from backtests.time.calendars import parse_frequency

    if cfg.source == "synthetic":
        if parse_frequency(cfg.frequency) is not None:
            return {s: set(SYNTHETIC_SERIES[s]) for s in CRYPTO_SYMBOLS}
        return {s: set(c) for s, c in SYNTHETIC_SERIES.items()}
    if cfg.source == "files":
        from backtests.data.files import declared_columns

        out: dict[str, set[str]] = {}
        for spec in cfg.files:
            if spec.intraday:
                continue
            cols = declared_columns(_resolve(base_dir, spec.path), spec.layout, dict(spec.columns))
            out.setdefault(spec.merge_into or spec.symbol, set()).update(cols)
        return out
    return None


def load_frames(cfg: Any, base_dir: Path, offline: bool = False, limits: DataLimits | None = None) -> MarketData:
    """``source: frames``: the data is a :class:`MarketData` handed over in Python
    (:func:`load_market_data` ``given=``); there is nothing to load from the config."""
    raise DataError("source 'frames' means market data given in Python (backtests.run(study, "
                    "data=MarketData.from_frames(...))); a config run from the command line needs synthetic, files or "
                    "cache", where="data.source")


LOADERS: dict[str, Callable[..., MarketData]] = {
    "synthetic": load_synthetic,
    "files": load_files,
    "cache": load_cache,
    "frames": load_frames,
}


def load_market_data(cfg: Any, base_dir: Path, offline: bool = False,
                     limits: DataLimits | None = None, given: MarketData | None = None) -> MarketData:
    """MarketData for a :class:`~backtests.config.model.DataConfig`, date-filtered and with
    ``exclude_dates`` removed; ``limits`` is the study's (default: the documented defaults).

    ``given``: the data of ``source: frames`` (:meth:`MarketData.from_frames`, already through the
    quality checks and stamped), then date-filtered like the synthetic replay. Given data with
    another source, or ``source: frames`` without it, is an error naming ``data.source``.
    """
    if given is not None:
        if cfg.source != "frames":
            raise DataError(f"market data was given in Python but the study's data.source is {cfg.source!r}; "
                            "set data: {source: frames}", where="data.source")
        if not isinstance(given, MarketData):
            raise DataError(f"the data given is a {type(given).__name__}, not a MarketData (build it with "
                            "MarketData.from_frames)", where="data")
        md = given
    else:
        try:
            loader = LOADERS[cfg.source]
        except KeyError:
            raise DataError(f"unknown data source {cfg.source!r}", where="data.source") from None
        md = loader(cfg, base_dir, offline, limits=limits)
    if cfg.source not in ("files", "cache") and (cfg.start or cfg.end):  # those two clip while loading
        md = _clip(md, cfg.start, cfg.end)
    if cfg.exclude_dates and cfg.source not in ("files", "cache"):  # those two drop them before the checks
        md = _exclude(md, [pd.Timestamp(d) for d in cfg.exclude_dates])
    return md


def _local_dates(md: MarketData, sym: str, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    from backtests.time.calendars import local_session_dates

    return local_session_dates(md.info[sym].market, index)


def _rebuild(md: MarketData, keep: Callable[[str, pd.DataFrame], Any]) -> MarketData:
    return MarketData(
        bars={s: f.loc[keep(s, f)] for s, f in md.bars.items()}, info=dict(md.info), frequency=md.frequency,
        synthetic=md.synthetic, intraday={s: f.loc[keep(s, f)] for s, f in md.intraday.items()}, fx=dict(md.fx),
        warnings=list(md.warnings),
    )


def _clip(md: MarketData, start: Any, end: Any) -> MarketData:
    def keep(sym: str, f: pd.DataFrame) -> Any:
        d = _local_dates(md, sym, f.index)
        m = np.ones(len(f), dtype=bool)
        if start:
            m &= d >= pd.Timestamp(start)
        if end:
            m &= d <= pd.Timestamp(end)
        return m
    return _rebuild(md, keep)


def _exclude(md: MarketData, dates: list[pd.Timestamp]) -> MarketData:
    bad = pd.DatetimeIndex(dates)
    return _rebuild(md, lambda sym, f: ~_local_dates(md, sym, f.index).normalize().isin(bad))
