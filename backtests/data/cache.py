"""``data_cache/``: how studies read fetched and imported market data, and how gaps are fetched.

The folder itself (layout, manifest, atomic writes, checksums, name validation) is
:mod:`backtests.data.store`; its public names are re-exported here, so
``from backtests.data.cache import Cache`` keeps working.

A study reads the cache with ``data: {source: cache, symbols: [...]}``; ``cache_dir`` (default
``data_cache``) is resolved against the **current working directory** (run ``scare`` from the
project root), or taken from ``$SCARE_DATA_CACHE`` when the config leaves the default.
:func:`load_market_data` picks the entry serving each symbol (:data:`SOURCE_ORDER`), fetches what
is missing unless offline, and runs the quality checks; :func:`fetch` fills only the date ranges
the cache lacks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.time.calendars import parse_frequency
from backtests.data.providers import EXTRA_SERIES, Fetched, Meta, ProviderError, guess_meta
from backtests.data.store import (  # noqa: F401 - the public names of the store, re-exported
    DEFAULT_DIR, ENV_DIR, FREQ_RE, MANIFEST, MANIFEST_VERSION, SERIES_RE, SOURCE_ORDER, SOURCE_RE, SYMBOL_RE,
    TMP_MARK, Cache, CacheError, CorruptError, Problem, StoreResult, _today, _validate, atomic_write, entry_key,
    expected_days, frame_bytes, local_dates, merge_intervals, missing_ranges, norm_freq, resolve_root,
    source_rank, validate_symbol,
)
from backtests.errors import DataError, MissingData

FX_LOOKBACK_DAYS = 10


# ====================================================================== studies read the cache
@dataclass
class Need:
    """Something a study needs that the cache does not have."""

    symbol: str
    series: str
    frequency: str
    ranges: list[tuple[pd.Timestamp, pd.Timestamp]]
    reason: str = "not cached"
    source: str | None = None

    def text(self) -> str:
        span = ", ".join(f"{a.date()}..{b.date()}" for a, b in self.ranges) if self.ranges else "any dates"
        src = f" from {self.source}" if self.source else ""
        return f"{self.symbol} {self.series} {self.frequency}{src} {span} ({self.reason})"


def parse_spec(spec: str) -> tuple[str | None, str, str]:
    """``[source:]SYMBOL[@series]`` -> (source, symbol, series)."""
    source = None
    series = "bars"
    s = spec.strip()
    if ":" in s:
        source, s = s.split(":", 1)
        _validate("source", source, SOURCE_RE)
    if "@" in s:
        s, series = s.rsplit("@", 1)
        _validate("series", series, SERIES_RE)
    return source, validate_symbol(s), series


def _range(cfg: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    start = pd.Timestamp(cfg.start) if getattr(cfg, "start", None) else None
    end = pd.Timestamp(cfg.end) if getattr(cfg, "end", None) else None
    return start, end


def _covered(entry: dict[str, Any]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in entry.get("covered", [])]


def _need_span(entry: dict[str, Any] | None, start: pd.Timestamp | None, end: pd.Timestamp | None
               ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The local-date span a study needs of an entry (open ends take the entry's own span)."""
    cov = _covered(entry) if entry else []
    lo = start if start is not None else (cov[0][0] if cov else None)
    hi = end if end is not None else (cov[-1][1] if cov else None)
    if lo is None or hi is None:
        return None
    return lo, hi


def _meta_of(entry: dict[str, Any]) -> Meta:
    return Meta(entry["market"], entry.get("currency", "USD"), entry.get("kind", "equity"), entry.get("name", ""))


def choose(cache: Cache, symbol: str, series: str, frequency: str, source: str | None,
           start: pd.Timestamp | None, end: pd.Timestamp | None) -> tuple[dict[str, Any] | None, list[Need], list[str]]:
    """The entry serving a symbol: the first (in source order) covering the span; else what is missing."""
    hits = cache.find(symbol, frequency, series, source)
    if not hits:
        span = [(start, end)] if start is not None and end is not None else []
        return None, [Need(symbol, series, norm_freq(frequency), span, "not cached", source)], []
    gaps: list[tuple[dict[str, Any], list[tuple[pd.Timestamp, pd.Timestamp]]]] = []
    for e in hits:
        span = _need_span(e, start, end)
        miss = missing_ranges(_covered(e), e["market"], *span) if span else []
        if not miss:
            notes = []
            others = [h["source"] for h in hits if h is not e]
            if others and source is None:
                notes.append(f"{symbol}: {series} {e['frequency']} read from {e['source']} (also cached from "
                             f"{', '.join(others)}; pick one with 'source:{symbol}' in data.symbols)")
            return e, [], notes
        gaps.append((e, miss))
    e, miss = gaps[0]
    cov = ", ".join(f"{a}..{b}" for a, b in e.get("covered", []))
    return e, [Need(symbol, series, e["frequency"], miss, f"{e['source']} covers {cov}", e["source"])], []


def load_market_data(cfg: Any, base_dir: Path | None = None, offline: bool = False,
                     providers: dict[str, Any] | None = None, limits: Any = None) -> Any:
    """MarketData for a ``data: {source: cache}`` config.

    Reads ``cfg.symbols`` at ``cfg.frequency`` (plus the FX series their currencies need), clips to
    ``start..end``, drops ``exclude_dates``, runs the quality checks (errors raise, warnings are
    carried), and merges extra series (liquidations, funding) of the same frequency into each
    symbol's bars. Missing data is fetched unless ``offline``; offline, a :class:`DataError` lists
    exactly what is missing (symbol, series, frequency, dates) and the command that would fill it.
    ``limits`` (the study's ``max_data_bytes`` / ``max_data_rows``) is checked against each entry's
    recorded size and rows before its file is read.
    """
    from backtests.data.market_data import MarketData, SymbolInfo
    from backtests.data.frames import opens_from_previous_close
    from backtests.data.quality import vet

    cache = Cache(resolve_root(getattr(cfg, "cache_dir", None)))
    freq = norm_freq(cfg.frequency)
    start, end = _range(cfg)
    if not cfg.symbols:
        raise DataError("source 'cache' needs data.symbols (see `scare data list`)", where="data.symbols")
    specs = [parse_spec(s) for s in cfg.symbols]
    names = [sym for _, sym, _ in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DataError(f"symbol(s) {sorted(dup)} listed twice", where="data.symbols")
    # FX series for the currencies of the symbols (the study only names symbols)
    fx_wanted = {}
    for _, sym, _ in specs:
        hits = cache.find(sym, freq) or cache.find(sym, "1D")
        cur = hits[0].get("currency", "USD") if hits else guess_meta(sym).currency
        if cur != "USD" and cur in cfg.fx and cfg.fx[cur] not in names:
            fx_wanted[cfg.fx[cur]] = cur
    specs += [(None, s, "bars") for s in fx_wanted]
    auto_fx = set(fx_wanted)

    chosen: dict[str, dict[str, Any]] = {}
    needs: list[Need] = []
    notes: list[str] = []
    for source, sym, series in specs:
        entry, miss, msgs = choose(cache, sym, series, freq, source, start, end)
        notes.extend(msgs)
        if miss and entry is not None and sym in auto_fx and (offline or entry["source"] == "import"):
            # an FX series is used as of each stamp: a short tail is converted at the last known rate
            spans = ", ".join(f"{a.date()}..{b.date()}" for a, b in miss[0].ranges)
            notes.append(f"{sym}: FX series not cached for {spans}; prices there use the last known rate [fx]")
            miss = []
        if miss and not offline:
            entry = _fetch_missing(cache, sym, series, freq, source, start, end, entry, providers, notes)
            miss = [] if entry is not None else miss
        if miss:
            needs.extend(miss)
            continue
        assert entry is not None
        chosen[sym] = entry
    if needs:
        where = str(cache.root)
        lines = "; ".join(n.text() for n in needs)
        hint = ("fill it with `scare data fetch` (network) or `scare data import PATH`"
                if offline else "the providers could not fill it")
        raise MissingData(f"missing from the cache{' (offline)' if offline else ''}: {lines}; {hint}", where=where)

    bars: dict[str, pd.DataFrame] = {}
    info: dict[str, SymbolInfo] = {}
    warnings: list[Any] = list(notes)
    excl = pd.DatetimeIndex([pd.Timestamp(d) for d in getattr(cfg, "exclude_dates", ())])
    for sym, entry in chosen.items():
        check_entry_size(cache, entry, limits)
        frame = _read_or_refetch(cache, entry, offline, providers, warnings)
        meta = _meta_of(entry)
        # an FX series keeps a few days before the start: a Seoul close on the first day is
        # converted with the last rate known before it
        lo = start - pd.Timedelta(days=FX_LOOKBACK_DAYS) if start is not None and meta.kind == "fx" else start
        frame = _clip(frame, meta.market, lo, end, excl)
        if frame.empty:
            raise DataError(f"no bars between {start and start.date()} and {end and end.date()} "
                            f"(cached: {', '.join(f'{a}..{b}' for a, b in entry.get('covered', []))})",
                            where=f"{sym} ({cache.path_of(entry)})")
        for extra in EXTRA_SERIES:
            frame = _merge_extra(cache, frame, sym, extra, freq, meta.market, start, end, excl, offline,
                                 providers, warnings, limits)
        frame, notes = vet(frame, sym, meta.market, meta.kind, freq, where=f"{sym} ({cache.path_of(entry)})",
                           closed=getattr(cfg, "closed_session_bars", "error"))
        warnings.extend(notes)
        frame, notes = opens_from_previous_close(frame, sym, meta.market, meta.kind, where=f"{sym} ({entry['source']})")
        warnings.extend(notes)
        bars[sym] = frame
        info[sym] = SymbolInfo(sym, meta.market, meta.currency, meta.kind,
                               source=f"cache:{entry['source']} ({entry.get('origin', '')})", name=meta.name)
    fx = {c: s for c, s in cfg.fx.items() if s in bars}
    intraday = _intraday(cache, cfg, [sym for _, sym, _ in specs if sym not in auto_fx], start, end, excl, limits,
                         warnings)
    return MarketData(bars=bars, info=info, frequency=freq, synthetic=False, fx=fx, warnings=warnings,
                      intraday=intraday)


def _intraday(cache: Cache, cfg: Any, symbols: list[str], start: pd.Timestamp | None, end: pd.Timestamp | None,
              excl: pd.DatetimeIndex, limits: Any, warnings: list[Any]) -> dict[str, pd.DataFrame]:
    """The intraday channel of a cache study (``data.intraday``): each symbol's cached bars at that
    frequency, clipped and checked like its bars; a symbol without them is named
    (``intraday_missing``). Never fetched here: Yahoo serves 1-minute bars for 30 days only, so
    they are fetched on purpose (``scare data fetch SYMBOL --frequency 1min``)."""
    from backtests.data.quality import vet
    from backtests.notices import Notice

    step = getattr(cfg, "intraday", None)
    if step is None or str(step).strip().lower() in {"none", "off", ""}:
        return {}
    freq = norm_freq(step)
    if parse_frequency(freq) is None:
        raise DataError(f"data.intraday must be an intraday bar length (1min, 5min ...), not {step!r}",
                        where="data.intraday")
    out: dict[str, pd.DataFrame] = {}
    missing = []
    for sym in symbols:
        hits = cache.find(sym, freq)
        frame = None
        if hits:
            check_entry_size(cache, hits[0], limits)
            meta = _meta_of(hits[0])
            frame = _clip(cache.read(hits[0]), meta.market, start, end, excl)
        if frame is None or frame.empty:
            missing.append(sym)
            continue
        out[sym], notes = vet(frame, sym, meta.market, meta.kind, freq, where=f"{sym} ({cache.path_of(hits[0])})",
                              closed=getattr(cfg, "closed_session_bars", "error"))
        warnings.extend(notes)
    if missing:
        warnings.append(Notice("intraday_missing", f"no cached {freq} bars between {start and start.date()} and "
                               f"{end and end.date()} for {', '.join(missing)} (data.intraday: {step}); fetch them with "
                               f"scare data fetch SYMBOL --frequency {freq} --start ... (Yahoo: 1-minute bars of the "
                               "last 30 days)", count=len(missing)))
    return out


def check_entry_size(cache: Cache, entry: dict[str, Any], limits: Any = None) -> None:
    """Refuse (one line naming the limit) a cached entry with more rows or bytes than ``limits``
    allows, from its manifest record, before its file is read."""
    from backtests.bounded import DataLimits
    from backtests.data.files import too_many_rows

    limits = limits or DataLimits()
    where = str(cache.path_of(entry))
    if int(entry["rows"]) > limits.max_data_rows:
        raise too_many_rows(int(entry["rows"]), limits, where)
    size = int(entry.get("bytes") or 0)
    if size > limits.max_data_bytes:
        raise DataError(f"cached file is {size:,} bytes, above limits.max_data_bytes = {limits.max_data_bytes:,}; "
                        "raise limits.max_data_bytes in the study config", where=where)


def _clip(frame: pd.DataFrame, market: str, start: pd.Timestamp | None, end: pd.Timestamp | None,
          exclude: pd.DatetimeIndex) -> pd.DataFrame:
    if start is None and end is None and not len(exclude):
        return frame
    d = local_dates(frame, market)
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= np.asarray(d >= start)
    if end is not None:
        keep &= np.asarray(d <= end)
    if len(exclude):
        keep &= ~np.asarray(d.isin(exclude))
    return frame.loc[keep]


def _merge_extra(cache: Cache, frame: pd.DataFrame, sym: str, series: str, freq: str, market: str,
                 start: pd.Timestamp | None, end: pd.Timestamp | None, excl: pd.DatetimeIndex, offline: bool,
                 providers: dict[str, Any] | None, warnings: list[str], limits: Any = None) -> pd.DataFrame:
    hits = cache.find(sym, freq, series)
    if not hits:
        return frame
    e = hits[0]
    check_entry_size(cache, e, limits)
    extra = _read_or_refetch(cache, e, offline, providers, warnings)
    extra = _clip(extra, e["market"], start, end, excl)
    cols = [c for c in extra.columns if c != "open_time" and c not in frame.columns]
    if not cols:
        return frame
    joined = frame.join(extra[cols], how="left")
    have = joined[cols[0]].notna()
    if len(frame) and not have.all():
        first_missing = frame.index[~have.to_numpy()][0]
        warnings.append(f"{sym}: {series} ({e['source']}) missing on {int((~have).sum())} of {len(frame)} bars "
                        f"(first {first_missing.isoformat()}) [coverage]")
    return joined


def _read_or_refetch(cache: Cache, entry: dict[str, Any], offline: bool, providers: dict[str, Any] | None,
                     warnings: list[str]) -> pd.DataFrame:
    try:
        return cache.read(entry)
    except CorruptError as exc:
        if offline or entry["source"] == "import":
            how = "import the file again" if entry["source"] == "import" else "refetch without --offline"
            raise CorruptError(f"{exc.bare_message} ({how})", where=exc.where) from None
        cov = _covered(entry)
        prov = provider_for(entry["symbol"], entry["series"], entry["frequency"], entry["source"], providers)
        meta = _meta_of(entry)
        frames = [prov.fetch(entry["symbol"], entry["series"], entry["frequency"], a, b, meta=meta) for a, b in cov]
        frame = pd.concat([f.frame for f in frames]).sort_index()
        cache.store(entry["source"], entry["symbol"], entry["series"], entry["frequency"], frame, meta, cov,
                    frames[0].source_version, frames[0].query, merge=False)
        warnings.append(f"{entry['symbol']}: cached {entry['series']} file failed its checksum and was refetched "
                        f"[cache]")
        return cache.read(cache.entries()[entry_key(entry["source"], entry["symbol"], entry["series"],
                                                    entry["frequency"])])


# ============================================================================== fetching
def provider_for(symbol: str, series: str, frequency: str, source: str | None = None,
                 providers: dict[str, Any] | None = None, exchange: str | None = None) -> Any:
    """The provider that serves ``symbol``'s ``series`` (``providers`` maps names to instances for tests).

    bars: ccxt for intraday crypto, yfinance otherwise; funding: ccxt; liquidations: coinglass.
    ``source`` (``yfinance``, ``ccxt_binance``, ``coinglass``) forces one.
    """
    from backtests.data.providers import is_crypto, make_provider

    providers = providers or {}
    if source is None:
        if series == "liquidations":
            source = "coinglass"
        elif series == "funding" or (series == "bars" and is_crypto(symbol) and parse_frequency(frequency)):
            source = f"ccxt_{exchange or os.environ.get('SCARE_CCXT_EXCHANGE', 'binance')}"
        else:
            source = "yfinance"
    if source == "import":
        raise DataError("imported data cannot be fetched; import the file again", where=symbol)
    if source in providers:
        return providers[source]
    if source.startswith("ccxt_"):
        if "ccxt" in providers:
            return providers["ccxt"]
        return make_provider("ccxt", exchange=source[len("ccxt_"):])
    return make_provider(source)


def _source_name(prov: Any) -> str:
    return str(getattr(prov, "source", None) or prov.name)


@dataclass
class FetchReport:
    key: str
    asked: list[tuple[pd.Timestamp, pd.Timestamp]]
    action: str
    rows: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def fetch(cache: Cache, symbol: str, series: str = "bars", frequency: str = "1D",
          start: Any = None, end: Any = None, provider: Any = None, meta: Meta | None = None,
          refresh: bool = False) -> FetchReport:
    """Fetch only the ranges of ``start..end`` the cache lacks and store them.

    ``end`` defaults to yesterday (UTC); the covered range never extends past yesterday, so a
    session still in progress is fetched again next time.
    """
    validate_symbol(symbol)
    freq = norm_freq(frequency)
    prov = provider or provider_for(symbol, series, freq)
    source = _source_name(prov)
    key = entry_key(source, symbol, series, freq)
    yesterday = _today() - pd.Timedelta(days=1)
    end_ts = min(pd.Timestamp(end), yesterday) if end is not None else yesterday
    start_ts = pd.Timestamp(start) if start is not None else end_ts - pd.Timedelta(days=365)
    if start_ts > end_ts:
        return FetchReport(key, [], "nothing to fetch (range is in the future)")
    old = cache.entries().get(key)
    meta = meta or (_meta_of(old) if old else guess_meta(symbol))
    covered = [] if (refresh or old is None) else _covered(old)
    asked = missing_ranges(covered, meta.market, start_ts, end_ts)
    if not asked:
        return FetchReport(key, [], "up to date")
    frames, version, query, notes = [], "", "", []
    for a, b in asked:
        got: Fetched = prov.fetch(symbol, series, freq, a, b, meta=meta)
        if len(got.frame):
            frames.append(got.frame)
        version, query = got.source_version, got.query
        notes.extend(got.warnings)
    if not frames:
        raise ProviderError(f"empty answer for {', '.join(f'{a.date()}..{b.date()}' for a, b in asked)}",
                            where=f"{source} {symbol}")
    frame = pd.concat(frames).sort_index()
    # the whole requested span is now covered (holidays between the asked stretches included)
    res = cache.store(source, symbol, series, freq, frame, meta, [(start_ts, end_ts)], version, query,
                      merge=not refresh)
    return FetchReport(key, asked, res.action, rows=len(frame), warnings=notes)


def _fetch_missing(cache: Cache, sym: str, series: str, freq: str, source: str | None, start: pd.Timestamp | None,
                   end: pd.Timestamp | None, entry: dict[str, Any] | None, providers: dict[str, Any] | None,
                   notes: list[str]) -> dict[str, Any] | None:
    src = source or (entry["source"] if entry is not None and entry["source"] != "import" else None)
    prov = provider_for(sym, series, freq, src, providers)
    meta = _meta_of(entry) if entry is not None and entry["source"] != "import" else None
    rep = fetch(cache, sym, series, freq, start, end, provider=prov, meta=meta)
    if rep.asked:
        spans = ", ".join(f"{a.date()}..{b.date()}" for a, b in rep.asked)
        notes.append(f"{sym}: fetched {spans} from {_source_name(prov)} [cache]")
    notes.extend(rep.warnings)
    hits = cache.find(sym, freq, series, _source_name(prov))
    return hits[0] if hits else None
