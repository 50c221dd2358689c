"""Build the study's MarketData from its ``data:`` config: one entry point for every source.

Sources: ``synthetic`` (the embedded replay), ``files`` (CSV/parquet, see :mod:`backtests.data.files`)
and ``cache`` (``data_cache/``, filled by ``scare data``). New sources plug in by adding a loader
to :data:`LOADERS` with the signature ``(config, base_dir, offline, limits) -> MarketData``; ``offline``
means "never touch the network" (only the cache source can fetch); ``limits`` (the study's
``limits``: ``max_data_bytes``, ``max_data_rows``) bounds every file read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.bounded import DataLimits
from backtests.data.files import load_file
from backtests.data.frames import opens_from_previous_close
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.data.quality import local_dates, vet
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
    """Bars from the files listed in ``data.files``."""
    bars: dict[str, pd.DataFrame] = {}
    intraday: dict[str, pd.DataFrame] = {}
    info: dict[str, SymbolInfo] = {}
    extras: list[tuple[Any, pd.DataFrame]] = []
    warnings: list[Any] = []
    start = pd.Timestamp(cfg.start) if cfg.start else None
    end = pd.Timestamp(cfg.end) if cfg.end else None
    excl = pd.DatetimeIndex([pd.Timestamp(d) for d in cfg.exclude_dates])
    for spec in cfg.files:
        path = _resolve(base_dir, spec.path)
        # FX keeps a month before `start`: the first converted bar needs a rate known before it.
        first = start - pd.Timedelta(days=31) if (start is not None and spec.kind == "fx") else start
        loaded = load_file(path, spec.market, spec.layout, dict(spec.columns), spec.frequency, spec.close_time,
                           first, end, require_close=spec.merge_into is None, limits=limits,
                           time_zone=spec.time_zone, bar_time=spec.bar_time)
        warnings.extend(loaded.warnings)
        if not spec.intraday:
            _same_frequency(loaded.frequency, cfg.frequency, spec, path)
        frame, labels = loaded.frame, loaded.labels
        if len(excl):  # excluded dates go before the checks (a known bad day can be cut out)
            keep = ~np.asarray(local_dates(frame, spec.market).isin(excl))
            frame, labels = frame.loc[keep], (labels[keep] if labels is not None else None)
        kind = "series" if spec.merge_into is not None else spec.kind
        frame, notes = vet(frame, spec.merge_into or spec.symbol, spec.market, kind, loaded.frequency,
                           where=str(path), labels=labels, closed=cfg.closed_session_bars)
        warnings.extend(notes)
        if spec.merge_into is None:
            frame, notes = opens_from_previous_close(frame, spec.symbol, spec.market, spec.kind, where=str(path))
            warnings.extend(notes)
        loaded = replace(loaded, frame=frame)
        if spec.merge_into is not None:
            extras.append((spec, loaded.frame))
            continue
        if spec.intraday:
            _intraday_frequency(loaded.frequency, getattr(cfg, "intraday", None), path)
        target = intraday if spec.intraday else bars
        if spec.symbol in target:
            raise DataError(f"symbol {spec.symbol!r} is given by two files", where=str(path))
        target[spec.symbol] = loaded.frame
        info[spec.symbol] = SymbolInfo(spec.symbol, spec.market, spec.currency, spec.kind, source=str(spec.path))
    for spec, frame in extras:
        host = bars.get(spec.merge_into)
        if host is None:
            raise DataError(f"merge_into {spec.merge_into!r}: no file gives that symbol", where=spec.path)
        cols = [c for c in frame.columns if c != "open_time"]
        clash = [c for c in cols if c in host.columns]
        if clash:
            raise DataError(f"merge_into {spec.merge_into!r}: columns {clash} already exist; map them to "
                            "other names with 'columns'", where=spec.path)
        bars[spec.merge_into] = host.join(frame[cols], how="left")
    for cur, sym in cfg.fx.items():
        if sym not in bars and any(i.currency == cur for i in info.values()):
            raise DataError(f"prices in {cur} need the FX series {sym!r}; add a file for it", where="data.fx")
    return MarketData(bars=bars, info=info, frequency=cfg.frequency, synthetic=False, intraday=intraday,
                      fx={c: s for c, s in cfg.fx.items() if s in bars}, warnings=warnings)


def _same_frequency(found: str, study: str, spec: Any, path: Path) -> None:
    """A file in the bar panel has the study's frequency (intraday detail goes in ``intraday: true``)."""
    from backtests.time.calendars import parse_frequency

    if parse_frequency(found) != parse_frequency(study):
        what = "extra series" if spec.merge_into is not None else "bars"
        raise DataError(f"the file's {what} are {found} bars, the study's frequency is {study} (data.frequency); "
                        f"set data.frequency: {found}" + ("" if spec.merge_into is not None else
                                                          ", or mark the file intraday: true (the intraday channel)"),
                        where=str(path))


def _intraday_frequency(found: str, wanted: str | None, path: Path) -> None:
    """A file marked ``intraday: true`` has the study's ``data.intraday`` length when one is given."""
    from backtests.time.calendars import parse_frequency

    bar = parse_frequency(found)
    if bar is None:
        raise DataError(f"a file marked intraday has {found} bars; intraday files hold bars shorter than a day",
                        where=str(path))
    if wanted is not None and str(wanted).strip().lower() not in {"none", "off", ""} \
            and parse_frequency(wanted) != bar:
        raise DataError(f"the file's bars are {found}, data.intraday is {wanted}", where=str(path))


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


LOADERS: dict[str, Callable[..., MarketData]] = {
    "synthetic": load_synthetic,
    "files": load_files,
    "cache": load_cache,
}


def load_market_data(cfg: Any, base_dir: Path, offline: bool = False,
                     limits: DataLimits | None = None) -> MarketData:
    """MarketData for a :class:`~backtests.config.model.DataConfig`, date-filtered and with
    ``exclude_dates`` removed; ``limits`` is the study's (default: the documented defaults)."""
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
