"""Market data given as DataFrames (:meth:`~backtests.data.market_data.MarketData.from_frames`).

A frame is a file that was never written: each one is described by the keys of a ``data.files``
entry (validated by the same :class:`~backtests.config.model.FileSpec`, with ``path`` standing for
``frames[SYMBOL]``) and goes through the same mapping, stamping and checks
(:func:`backtests.data.files.load_table`, :func:`backtests.data.tables.stamp_tables`). Nothing
here decides a stamp or a check of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from backtests.config.model import DataConfig, FileSpec
from backtests.data.files import TIME_COLUMNS, LoadedFile, load_table
from backtests.data.tables import Stamped, stamp_tables
from backtests.errors import DataError

#: The key of a spec that holds the frame itself.
BARS = "bars"


def data_config(frequency: str = "1D", intraday: str | None = None, fx: Mapping[str, str] | None = None,
                closed_session_bars: str = "error") -> DataConfig:
    """The ``data:`` settings frames are stamped under (``source: frames``), validated like a config's."""
    fields: dict[str, Any] = {"source": "frames", "frequency": frequency, "intraday": intraday,
                              "closed_session_bars": closed_session_bars}
    if fx is not None:
        fields["fx"] = dict(fx)
    try:
        return DataConfig.model_validate(fields)
    except ValidationError as exc:
        raise DataError(_first_error(exc), where="MarketData.from_frames") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _specs(frames: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[tuple[FileSpec, pd.DataFrame]]:
    """(spec, frame) per entry, the spec validated as a ``data.files`` entry."""
    if isinstance(frames, pd.DataFrame):
        raise DataError("give {symbol: {'bars': frame, 'market': ...}}, not one DataFrame", where="frames")
    if isinstance(frames, Mapping):
        items = []
        for sym, spec in frames.items():
            if isinstance(spec, pd.DataFrame):
                raise DataError("give the frame with its market: {'bars': frame, 'market': 'XNYS', 'currency': "
                                "'USD'}", where=f"frames[{sym!r}]")
            if not isinstance(spec, Mapping):
                raise DataError(f"is a {type(spec).__name__}, not a mapping with 'bars' and 'market'",
                                where=f"frames[{sym!r}]")
            items.append({**spec, "symbol": spec.get("symbol", sym)})
    else:
        items = [dict(s) if isinstance(s, Mapping) else s for s in frames]
    if not items:
        raise DataError("no frames given", where="frames")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise DataError(f"is a {type(item).__name__}, not a mapping with 'symbol', 'bars' and 'market'",
                            where=f"frames[{i}]")
        name = f"frames[{item.get('symbol', i)!r}]"
        frame = item.get(BARS)
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"'{BARS}' must be a DataFrame of bars (got {type(frame).__name__})", where=name)
        fields = {k: v for k, v in item.items() if k != BARS}
        if "path" in fields:
            raise DataError("'path' belongs to data.files; a frame is given in 'bars'", where=name)
        try:
            spec = FileSpec.model_validate({**fields, "path": "frames"})
        except ValidationError as exc:
            raise DataError(_first_error(exc), where=name) from None
        out.append((spec, frame))
    return out


def _where(spec: FileSpec) -> str:
    return f"frames[{spec.symbol!r}]" + (" (intraday)" if spec.intraday else "")


def raw_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a file's table: its times in a column (the index, when no column holds them)."""
    cols = [str(c) for c in frame.columns]
    if isinstance(frame.columns, pd.MultiIndex):
        raise DataError("has MultiIndex columns (a yf.download of several tickers): give one symbol's columns, "
                        "e.g. frame.xs('EWY', axis=1, level='Ticker')")
    if any(c in TIME_COLUMNS for c in cols):
        return frame.reset_index(drop=True).set_axis(cols, axis=1)
    name = frame.index.name if frame.index.name in TIME_COLUMNS else "time"
    table = frame.set_axis(cols, axis=1)
    table.index = frame.index.rename(name)
    return table.reset_index()


def stamp_frames(frames: Mapping[str, Any] | Iterable[Mapping[str, Any]], cfg: DataConfig) -> Stamped:
    """Check and stamp every frame as :func:`~backtests.data.tables.stamp_tables` does every file."""
    specs = _specs(frames)
    by_spec = {id(spec): frame for spec, frame in specs}

    def read(spec: FileSpec, first: pd.Timestamp | None, end: pd.Timestamp | None) -> LoadedFile:
        where = _where(spec)
        try:
            raw = raw_table(by_spec[id(spec)])
        except DataError as exc:
            raise DataError(exc.bare_message, where=where) from None
        labels = np.array([f"row {i + 1}" for i in range(len(raw))], dtype=object)
        return load_table(raw, where, labels, spec.market, spec.layout, dict(spec.columns), spec.frequency,
                          spec.close_time, first, end, require_close=spec.merge_into is None,
                          time_zone=spec.time_zone, bar_time=spec.bar_time)

    return stamp_tables(cfg, [spec for spec, _ in specs], read, _where)
