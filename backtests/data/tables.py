"""Check and stamp tables of bars, one per ``data.files`` entry or per frame given in Python: the
one sequence every table goes through, whether it was read from a file (``source: files``) or
handed over as a DataFrame (:meth:`~backtests.data.market_data.MarketData.from_frames`).

Per table: map the columns and stamp each bar at the UTC instant its close is known
(:func:`~backtests.data.files.load_table`), drop ``data.exclude_dates``, run the quality checks
(:func:`~backtests.data.quality.vet`), open 24/7 bars at the previous close where the opens are
missing (:func:`~backtests.data.frames.opens_from_previous_close`); then merge extra series into
their symbol and check that every currency has its FX series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from backtests.data.files import LoadedFile
from backtests.data.frames import opens_from_previous_close
from backtests.data.quality import local_dates, vet
from backtests.errors import DataError


@dataclass
class Stamped:
    """Tables checked and stamped: ``bars`` and ``intraday`` per symbol, ``info`` per symbol as the
    fields of a :class:`~backtests.data.market_data.SymbolInfo` after the symbol (market, currency,
    kind, source), and the named warnings met."""

    bars: dict[str, pd.DataFrame] = field(default_factory=dict)
    intraday: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    warnings: list[Any] = field(default_factory=list)


def stamp_tables(cfg: Any, specs: Iterable[Any], read: Callable[[Any, pd.Timestamp | None, pd.Timestamp | None], LoadedFile],
                 where: Callable[[Any], str]) -> Stamped:
    """Check and stamp one table per spec (a :class:`~backtests.config.model.FileSpec`).

    Parameters
    ----------
    cfg
        The study's :class:`~backtests.config.model.DataConfig` (``start``, ``end``,
        ``exclude_dates``, ``frequency``, ``intraday``, ``closed_session_bars``, ``fx``).
    specs
        What each table is: symbol, market, currency, kind, layout, ``merge_into``, ``intraday``.
    read
        ``read(spec, first, end)``: the table mapped and stamped (:func:`~backtests.data.files.load_file`
        or :func:`~backtests.data.files.load_table`), keeping local dates ``first`` .. ``end``.
    where
        ``where(spec)``: what errors name (the file, or the frame's symbol).
    """
    out = Stamped()
    bars, intraday, info, warnings = out.bars, out.intraday, out.info, out.warnings
    extras: list[tuple[Any, pd.DataFrame]] = []
    start = pd.Timestamp(cfg.start) if cfg.start else None
    end = pd.Timestamp(cfg.end) if cfg.end else None
    excl = pd.DatetimeIndex([pd.Timestamp(d) for d in cfg.exclude_dates])
    for spec in specs:
        path = where(spec)
        # FX keeps a month before `start`: the first converted bar needs a rate known before it.
        first = start - pd.Timedelta(days=31) if (start is not None and spec.kind == "fx") else start
        loaded = read(spec, first, end)
        warnings.extend(loaded.warnings)
        if not spec.intraday:
            _same_frequency(loaded.frequency, cfg.frequency, spec, path)
        frame, labels = loaded.frame, loaded.labels
        if len(excl):  # excluded dates go before the checks (a known bad day can be cut out)
            keep = ~np.asarray(local_dates(frame, spec.market).isin(excl))
            frame, labels = frame.loc[keep], (labels[keep] if labels is not None else None)
        kind = "series" if spec.merge_into is not None else spec.kind
        frame, notes = vet(frame, spec.merge_into or spec.symbol, spec.market, kind, loaded.frequency,
                           where=path, labels=labels, closed=cfg.closed_session_bars)
        warnings.extend(notes)
        if spec.merge_into is None:
            frame, notes = opens_from_previous_close(frame, spec.symbol, spec.market, spec.kind, where=path)
            warnings.extend(notes)
        loaded = replace(loaded, frame=frame)
        if spec.merge_into is not None:
            extras.append((spec, loaded.frame))
            continue
        if spec.intraday:
            _intraday_frequency(loaded.frequency, getattr(cfg, "intraday", None), path)
        target = intraday if spec.intraday else bars
        if spec.symbol in target:
            raise DataError(f"symbol {spec.symbol!r} is given twice", where=path)
        target[spec.symbol] = loaded.frame
        info[spec.symbol] = (spec.market, spec.currency, spec.kind, str(spec.path))
    for spec, frame in extras:
        host = bars.get(spec.merge_into)
        if host is None:
            raise DataError(f"merge_into {spec.merge_into!r}: no file gives that symbol", where=where(spec))
        cols = [c for c in frame.columns if c != "open_time"]
        clash = [c for c in cols if c in host.columns]
        if clash:
            raise DataError(f"merge_into {spec.merge_into!r}: columns {clash} already exist; map them to "
                            "other names with 'columns'", where=where(spec))
        bars[spec.merge_into] = host.join(frame[cols], how="left")
    for cur, sym in cfg.fx.items():
        if sym not in bars and any(i[1] == cur for i in info.values()):
            raise DataError(f"prices in {cur} need the FX series {sym!r}; add a file for it", where="data.fx")
    return out


def _same_frequency(found: str, study: str, spec: Any, path: str) -> None:
    """A file in the bar panel has the study's frequency (intraday detail goes in ``intraday: true``)."""
    from backtests.time.calendars import parse_frequency

    if parse_frequency(found) != parse_frequency(study):
        what = "extra series" if spec.merge_into is not None else "bars"
        raise DataError(f"the file's {what} are {found} bars, the study's frequency is {study} (data.frequency); "
                        f"set data.frequency: {found}" + ("" if spec.merge_into is not None else
                                                          ", or mark the file intraday: true (the intraday channel)"),
                        where=path)


def _intraday_frequency(found: str, wanted: str | None, path: str) -> None:
    """A file marked ``intraday: true`` has the study's ``data.intraday`` length when one is given."""
    from backtests.time.calendars import parse_frequency

    bar = parse_frequency(found)
    if bar is None:
        raise DataError(f"a file marked intraday has {found} bars; intraday files hold bars shorter than a day",
                        where=path)
    if wanted is not None and str(wanted).strip().lower() not in {"none", "off", ""} \
            and parse_frequency(wanted) != bar:
        raise DataError(f"the file's bars are {found}, data.intraday is {wanted}", where=path)


