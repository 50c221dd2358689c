"""MarketData: bars for symbols of several markets on one UTC time axis.

Each symbol keeps its own bars (index: UTC close stamps, see :mod:`backtests.time.calendars`) with the
columns ``open, high, low, close, volume`` (``close`` required, the rest optional), an ``open_time``
column (UTC instant the bar opened) and any extra numeric series (liquidations, funding, ...).
:meth:`MarketData.panel` aligns one field across symbols on the union of all stamps; a symbol has
NaN at stamps where its market produced no bar (closed, halted, another market's close).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import get_market
from backtests.errors import DataError

PRICE_FIELDS = ("open", "high", "low", "close")
OHLCV = (*PRICE_FIELDS, "volume")


@dataclass(frozen=True)
class SymbolInfo:
    """What a symbol is and where it trades.

    Attributes
    ----------
    symbol
        Name used in configs and outputs (``MU``, ``000660.KS``, ``BTC``).
    market
        Market code whose calendar stamps its bars (``XKRX``, ``XNYS``, ``CRYPTO``).
    currency
        Quote currency (``KRW``, ``USD``); non-USD prices are valued in USD through FX.
    kind
        ``equity``, ``etf``, ``index``, ``fx``, ``crypto``, ``stablecoin`` or ``series``.
    source
        Where the bars came from (``synthetic``, a file path, a provider name).
    name
        Human-readable name for reports.
    """

    symbol: str
    market: str
    currency: str = "USD"
    kind: str = "equity"
    source: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        get_market(self.market)


@dataclass
class MarketData:
    """Aligned market data for a study.

    Parameters
    ----------
    bars
        ``{symbol: DataFrame}``, each indexed by tz-aware UTC close stamps, sorted, unique.
    info
        ``{symbol: SymbolInfo}`` for every key of ``bars``.
    frequency
        Bar frequency of ``bars`` (``1D``, ``4h``, ...).
    synthetic
        True when any of the data is the embedded synthetic replay.
    intraday
        Optional finer bars per symbol (e.g. 5-minute KOSPI on a crash day), same conventions.
    fx
        ``{currency: symbol}`` naming the FX series that converts that currency to USD; the FX
        series is quoted as units of the currency per USD (``USDKRW`` = KRW per 1 USD).
    warnings
        Soft data-quality findings (carried into the manifest and the tearsheet).
    """

    bars: dict[str, pd.DataFrame]
    info: dict[str, SymbolInfo]
    frequency: str = "1D"
    synthetic: bool = False
    intraday: dict[str, pd.DataFrame] = field(default_factory=dict)
    fx: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        missing = set(self.bars) - set(self.info)
        if missing:
            raise DataError(f"no symbol info for {sorted(missing)}")
        for sym, frame in self.bars.items():
            # plain series (an index level, a funding rate) may be zero or negative; prices may not
            self.bars[sym] = validate_bars(frame, sym, positive=self.info[sym].kind != "series")
        for sym, frame in self.intraday.items():
            self.intraday[sym] = validate_bars(frame, f"{sym} (intraday)")
        for cur, sym in self.fx.items():
            if sym not in self.bars:
                raise DataError(f"FX series {sym!r} for {cur} is not in the data", where=sym)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_stamped(cls, stamped: Any, cfg: Any, synthetic: bool = False) -> MarketData:
        """The data of tables checked and stamped by :func:`backtests.data.tables.stamp_tables`
        (``cfg``: the :class:`~backtests.config.model.DataConfig` they were stamped under)."""
        info = {sym: SymbolInfo(sym, *fields) for sym, fields in stamped.info.items()}
        return cls(bars=stamped.bars, info=info, frequency=cfg.frequency, synthetic=synthetic,
                   intraday=stamped.intraday, fx={c: s for c, s in cfg.fx.items() if s in stamped.bars},
                   warnings=stamped.warnings)

    @classmethod
    def from_frames(cls, frames: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, frequency: str = "1D",
                    intraday: str | None = None, fx: Mapping[str, str] | None = None,
                    closed_session_bars: str = "error") -> MarketData:
        """Market data from DataFrames, through the same checks and stamps as files.

        Each frame goes through exactly what a ``data.files`` entry goes through
        (:func:`backtests.data.tables.stamp_tables`): the columns are mapped by the same layouts,
        daily bars are stamped at their market's session close in UTC (intraday bars at the instant
        they close), the quality checks run (an error names the symbol, the row and the field;
        soft findings are named warnings in :attr:`warnings`) and 24/7 bars without opens open at
        the previous close. ``source`` of every symbol is ``frames``.

        Parameters
        ----------
        frames
            ``{symbol: spec}`` (or a list of specs, each with ``symbol``): ``spec`` holds ``bars``,
            the DataFrame (bars by local session date for daily bars, by time for intraday ones:
            in the index or in a ``date``/``time`` column; columns ``open, high, low, close,
            volume`` or a yfinance frame's ``Open ... Close``; prices in the quote currency), and
            the keys of a ``data.files`` entry other than ``path`` (docs/data.md): ``market``
            (required: ``XKRX``, ``XNYS`` or ``CRYPTO``), ``currency`` (default ``USD``),
            ``kind``, ``layout``, ``columns``, ``frequency``, ``time_zone``, ``bar_time``,
            ``merge_into``, ``intraday``, ``close_time``.
        frequency, intraday, fx, closed_session_bars
            As ``data.frequency``, ``data.intraday``, ``data.fx`` (``{currency: FX symbol}``,
            default ``{"KRW": "KRW=X"}``: a KRW symbol needs the ``KRW=X`` frame, KRW per USD) and
            ``data.closed_session_bars`` of a study config.

        Raises
        ------
        DataError
            A frame or spec that a file with the same content would fail on, naming ``frames[SYMBOL]``.
        """
        from backtests.data.given import data_config, stamp_frames

        cfg = data_config(frequency=frequency, intraday=intraday, fx=fx, closed_session_bars=closed_session_bars)
        return cls.from_stamped(stamp_frames(frames, cfg), cfg)

    # ------------------------------------------------------------------ shape
    @property
    def symbols(self) -> list[str]:
        """Symbols in insertion order."""
        return list(self.bars)

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        """Union of all symbols' bar stamps (UTC), sorted."""
        idx = pd.DatetimeIndex([], tz="UTC").as_unit("ns")
        for frame in self.bars.values():
            idx = idx.union(frame.index)
        return idx

    def has_field(self, symbol: str, name: str) -> bool:
        """True when ``symbol`` has a column ``name``."""
        return symbol in self.bars and name in self.bars[symbol].columns

    def field_names(self, symbol: str) -> list[str]:
        """Columns available for ``symbol``."""
        return list(self.require(symbol).columns)

    def require(self, symbol: str) -> pd.DataFrame:
        """The bar frame of ``symbol`` or a :class:`DataError` naming it."""
        try:
            return self.bars[symbol]
        except KeyError:
            raise DataError(
                f"symbol {symbol!r} is not in the data (have: {', '.join(self.symbols)})",
                where=symbol,
            ) from None

    # ----------------------------------------------------------------- access
    def series(self, symbol: str, name: str = "close") -> pd.Series:
        """One column of one symbol on its own bars (no NaN rows from other markets)."""
        frame = self.require(symbol)
        if name not in frame.columns:
            raise DataError(f"series {name!r} is missing (have: {', '.join(frame.columns)})", where=symbol)
        return frame[name]

    def panel(self, name: str = "close", symbols: Iterable[str] | None = None) -> pd.DataFrame:
        """One field for several symbols aligned on :attr:`index` (NaN where no bar)."""
        syms = list(self.symbols if symbols is None else symbols)
        cols = {s: self.series(s, name).reindex(self.index) for s in syms}
        return pd.DataFrame(cols, index=self.index)

    def tradable(self, symbols: Iterable[str] | None = None) -> pd.DataFrame:
        """Boolean panel: True where the symbol has a bar with a valid close."""
        return self.panel("close", symbols).notna()

    def to_usd(self, symbol: str, name: str = "close") -> pd.Series:
        """A price column of ``symbol`` in USD, converted with the FX rate known at each stamp.

        The FX rate is taken *as of* the bar's stamp (the last FX observation at or before it),
        never from later, so a Seoul close is not converted with a New York fixing of that day.
        ``open`` prices are converted as of the bar's ``open_time`` (NaN where no rate was known
        yet; the engine then fills at the close).
        """
        values = self.series(symbol, name)
        cur = self.info[symbol].currency
        if cur == "USD":
            return values
        fx_sym = self.fx.get(cur)
        if fx_sym is None:
            raise DataError(f"prices are in {cur} but no {cur} FX series is configured", where=symbol)
        # An open price is converted with the rate known when the bar opened, not at its close.
        at = pd.DatetimeIndex(self.require(symbol)["open_time"]) if name == "open" else values.index
        rate = pd.Series(asof(self.series(fx_sym, "close"), at).to_numpy(), index=values.index)
        if name != "open" and rate[values.notna()].isna().any():
            first = values.index[rate.isna().to_numpy()][0]
            raise DataError(f"no {fx_sym} rate known at or before {first.isoformat()}", where=symbol)
        return values / rate

    def panel_usd(self, name: str = "close", symbols: Iterable[str] | None = None) -> pd.DataFrame:
        """Like :meth:`panel` but every price in USD (see :meth:`to_usd`)."""
        syms = list(self.symbols if symbols is None else symbols)
        return pd.DataFrame({s: self.to_usd(s, name).reindex(self.index) for s in syms}, index=self.index)

    def open_times(self, symbols: Iterable[str] | None = None) -> pd.DataFrame:
        """UTC open instant of each bar, aligned like :meth:`panel` (NaT where no bar)."""
        syms = list(self.symbols if symbols is None else symbols)
        return pd.DataFrame({s: self.require(s)["open_time"].reindex(self.index) for s in syms}, index=self.index)

    def market_of(self, symbol: str) -> str:
        """Market code of ``symbol``."""
        self.require(symbol)
        return self.info[symbol].market

    # --------------------------------------------------------------- deriving
    def select(self, symbols: Iterable[str]) -> MarketData:
        """A MarketData with only ``symbols`` (plus the FX series they need)."""
        keep = list(dict.fromkeys(symbols))
        for s in list(keep):
            self.require(s)
            cur = self.info[s].currency
            if cur != "USD" and cur in self.fx and self.fx[cur] not in keep:
                keep.append(self.fx[cur])
        return MarketData(
            bars={s: self.bars[s] for s in keep},
            info={s: self.info[s] for s in keep},
            frequency=self.frequency,
            synthetic=self.synthetic,
            intraday={s: f for s, f in self.intraday.items() if s in keep},
            fx={c: s for c, s in self.fx.items() if s in keep},
            warnings=list(self.warnings),
        )

    def truncate(self, end: pd.Timestamp) -> MarketData:
        """Data known at ``end``: every bar with stamp <= ``end`` (used by look-ahead tests)."""
        return MarketData(
            bars={s: f.loc[:end] for s, f in self.bars.items()},
            info=dict(self.info),
            frequency=self.frequency,
            synthetic=self.synthetic,
            intraday={s: f.loc[:end] for s, f in self.intraday.items()},
            fx=dict(self.fx),
            warnings=list(self.warnings),
        )

    def fingerprint(self) -> dict[str, str]:
        """SHA-256 of each symbol's bars (values and stamps), for manifests.

        Computed once: a MarketData is not modified after construction (every derivation builds a
        new one).
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is not None:
            return dict(cached)
        out = _fingerprints(self.bars)
        self.__dict__["_fingerprint"] = dict(out)
        return out

    def read_only(self) -> MarketData:
        """A view of this data that code outside scare (a strategy plug-in) cannot change it through.

        Every frame is copied once into arrays marked read-only (numpy ``writeable=False``), and
        every access (``bars[sym]``, :meth:`require`, :meth:`series`, ``intraday[sym]``) hands out a
        new shallow copy of it: under pandas' copy-on-write a pandas-level write (``df["close"] =
        ...``, ``.loc``/``.iloc``, ``inplace=True``) changes only that copy, and a write into the
        arrays themselves (``.values[0] = ...``, ``np.asarray(s)[...] = ...``) raises
        ``ValueError: assignment destination is read-only``. The mappings cannot be assigned to.
        Nothing a plug-in does to the view reaches this MarketData, the engine, the benchmark or the
        next strategy. (A plug-in is trusted code: one that goes out of its way, e.g. by flipping a
        private array's flags back, is caught afterwards by :meth:`unchanged`, not here.)
        """
        view = object.__new__(type(self))
        view.bars = _Frames({s: _locked_copy(f) for s, f in self.bars.items()})
        view.info = MappingProxyType(dict(self.info))
        view.frequency, view.synthetic = self.frequency, self.synthetic
        view.intraday = _Frames({s: _locked_copy(f) for s, f in self.intraday.items()})
        view.fx = MappingProxyType(dict(self.fx))
        view.warnings = list(self.warnings)
        view.__dict__["index"] = read_only_index(self.index)
        return view

    def content_digest(self, symbols: Iterable[str] | None = None) -> str:
        """SHA-256 over the bars of ``symbols`` (default all) and of the FX series they need, their
        intraday bars included (:meth:`fingerprint` covers the bars only): the data part of the
        checkpoint key and of the look-ahead verdict key."""
        syms = list(dict.fromkeys(self.symbols if symbols is None else symbols))
        for s in list(syms):
            cur = self.info[s].currency if s in self.info else "USD"
            if cur in self.fx and self.fx[cur] not in syms:
                syms.append(self.fx[cur])
        fp = self.fingerprint()
        h = hashlib.sha256()
        for s in sorted(syms):
            h.update(f"{s}:{fp.get(s)};".encode())
            if s in self.intraday:
                h.update(f"intraday:{_fingerprints({s: self.intraday[s]})[s]};".encode())
        return h.hexdigest()

    def unchanged(self) -> list[str]:
        """Symbols whose bars no longer hash to their :meth:`fingerprint` (computed the first time it
        was asked for), intraday bars not included; ``[]`` when nothing changed or no fingerprint
        was taken yet. The backstop behind :meth:`read_only`: the runner checks it after each
        strategy's plug-in calls."""
        taken = self.__dict__.get("_fingerprint")
        if taken is None:
            return []
        now = _fingerprints(self.bars)
        return [s for s in sorted(set(taken) | set(now)) if taken.get(s) != now.get(s)]

    def describe(self) -> list[dict[str, object]]:
        """One record per symbol: market, currency, source, first/last stamp, bar count."""
        rows = []
        for sym, frame in self.bars.items():
            info = self.info[sym]
            rows.append({
                "symbol": sym, "market": info.market, "currency": info.currency, "kind": info.kind,
                "source": info.source, "bars": int(len(frame)),
                "first": frame.index[0].isoformat() if len(frame) else None,
                "last": frame.index[-1].isoformat() if len(frame) else None,
                "intraday_bars": int(len(self.intraday.get(sym, ()))),
            })
        return rows


def _fingerprints(bars: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """SHA-256 of each symbol's bars (values and stamps); see :meth:`MarketData.fingerprint`."""
    out = {}
    for sym in sorted(bars):
        frame = bars[sym]
        h = hashlib.sha256()
        h.update(np.asarray(frame.index.asi8).tobytes())
        for col in sorted(frame.columns):
            h.update(col.encode())
            if col == "open_time":
                h.update(np.asarray(pd.DatetimeIndex(frame[col]).asi8).tobytes())
            else:
                h.update(frame[col].to_numpy(dtype="float64", na_value=np.nan).tobytes())
        out[sym] = h.hexdigest()
    return out


class _Frames(Mapping[str, pd.DataFrame]):
    """A read-only mapping of frames that hands out a new shallow copy on every access (see
    :meth:`MarketData.read_only`): assigning a column to what it returns never reaches the next
    reader."""

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self._frames = frames

    def __getitem__(self, key: str) -> pd.DataFrame:
        return self._frames[key].copy(deep=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        return f"read-only frames of {', '.join(self._frames) or 'no symbols'}"


def _locked_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """A deep copy of ``frame`` whose arrays (columns and index) are read-only.

    pandas has no public way to reach the arrays a frame holds (``to_numpy`` returns views made
    read-only by copy-on-write, which leaves the arrays under them writable), so the blocks and the
    index's array are reached through pandas internals; the copy is private to the caller, so only
    its own arrays are locked. Should the internals move in a later pandas, the copy is still a
    copy: writes then stop at it instead of raising.
    """
    out = frame.copy(deep=True)
    out.index = read_only_index(out.index)
    for block in getattr(getattr(out, "_mgr", None), "blocks", ()):
        _lock(getattr(block, "values", None))
    return out


def read_only_index(index: pd.Index) -> pd.Index:
    """A copy of ``index`` whose array is read-only (``index.asi8[0] = 0`` raises); see
    :func:`_locked_copy` for the pandas internals this reaches."""
    out = index.copy(deep=True)
    _lock(getattr(out, "_data", None))
    return out


def _lock(arr: object) -> None:
    nd = arr if isinstance(arr, np.ndarray) else getattr(arr, "_ndarray", None)
    if isinstance(nd, np.ndarray):
        nd.flags.writeable = False


def asof(values: pd.Series, at: pd.DatetimeIndex) -> pd.Series:
    """Last value of ``values`` at or before each instant of ``at`` (NaN before the first)."""
    values = values.dropna()
    if values.empty:
        return pd.Series(np.nan, index=at, name=values.name)
    pos = values.index.searchsorted(at, side="right") - 1
    out = np.where(pos >= 0, values.to_numpy()[np.clip(pos, 0, None)], np.nan)
    return pd.Series(out, index=at, name=values.name)


def validate_bars(frame: pd.DataFrame, symbol: str, positive: bool = True) -> pd.DataFrame:
    """Hard checks every bar frame passes; returns the frame with a UTC ns index.

    Raises :class:`DataError` naming ``symbol`` for: a non-UTC or naive index, unsorted or duplicate
    stamps, a missing ``close`` column, non-numeric prices, or (with ``positive``) non-positive
    prices.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError("bars must be a DataFrame", where=symbol)
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise DataError("bar stamps must be tz-aware UTC timestamps", where=symbol)
    if str(idx.tz) != "UTC":
        frame = frame.set_axis(idx.tz_convert("UTC"))
        idx = frame.index
    if idx.unit != "ns":
        frame = frame.set_axis(idx.as_unit("ns"))
        idx = frame.index
    if "close" not in frame.columns:
        raise DataError("required column 'close' is missing", where=symbol)
    if idx.has_duplicates:
        dup = idx[idx.duplicated()][0]
        raise DataError(f"duplicate timestamp {dup.isoformat()}", where=symbol)
    if not idx.is_monotonic_increasing:
        bad = int(np.flatnonzero(np.diff(idx.asi8) < 0)[0]) + 1
        raise DataError(f"timestamps are not sorted (row {bad}: {idx[bad].isoformat()})", where=symbol)
    for col in frame.columns:
        if col == "open_time":
            continue
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise DataError(f"column {col!r} is not numeric", where=symbol)
    for col in PRICE_FIELDS if positive else ():
        if col in frame.columns:
            vals = frame[col].to_numpy(dtype="float64", na_value=np.nan)
            bad = np.flatnonzero(vals <= 0)
            if bad.size:
                raise DataError(
                    f"non-positive {col} {vals[bad[0]]:g} at {idx[bad[0]].isoformat()}", where=symbol
                )
    if "open_time" not in frame.columns:
        raise DataError("internal: bars need an 'open_time' column (use backtests.data.frames)", where=symbol)
    return frame
