"""``scare data import PATH``: CSV/parquet files (or whole folders) into the cache.

Every file is either imported (under a symbol, series and frequency, with what the symbol is) or
named as skipped with the reason. Files are read by :func:`backtests.data.files.load_file` (layout
auto-detection: yfinance exports, ``date/open/high/low/close[/adj_close]``, close-only, FRED
``date,value``, CoinGlass dumps), so the stamping is the same as for ``source: files``.

Rules for the layouts of ``../shared/data`` (by file name; see docs/data.md):

* Files of the instruments the built-in strategies use get the strategies' symbol names:
  ``KOSPI_KS11_ohlc.csv`` -> ``^KS11``; ``069500.KS_KODEX200.csv`` -> ``069500.KS``;
  ``USDKRW_FRED_DEXKOUS.csv`` -> ``KRW=X`` (a New York noon fixing: stamped 12:00 at XNYS);
  ``BTC-USD_close_1d.csv`` -> ``BTC-USD``; ``liquidation_agg_BTC_{1d,4h}.csv`` -> ``BTC-USD``
  series ``liquidations``; ``funding_oiweighted_BTC_{1d,4h}.csv`` and
  ``funding_binance_BTCUSDT_8h.csv`` -> ``BTC-USD`` series ``funding`` (``funding_rate``, percent
  per funding interval); ``MU.csv``, ``EWY.csv``, ``000660.KS.csv``... keep their names.
* Every other data file keeps its own name (the file stem: ``000660.KS_SKHynix``, ``SOXS``,
  ``oi_agg_usd_BTC``), with market and currency guessed from the name (``.KS``/``KS11`` Seoul,
  crypto pairs, else New York) and the frequency from a ``_1d/_4h/_8h/_5m`` suffix, else from
  the spacing of the file's times (``1D``, ``1min``, ``5min`` ...).
* Event lists (``events/``), files with no date column and non-data files are skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.time.calendars import CRYPTO
from backtests.data.cache import Cache, validate_symbol
from backtests.data.store import CacheError
from backtests.data.files import csv_header, detect_layout, load_file
from backtests.data.providers import Meta, guess_meta
from backtests.errors import DataError

DATA_SUFFIXES = {".csv", ".parquet", ".pq"}
ETFS = {"EWY", "SOXX", "QQQ", "SPY", "SMH", "SOXL", "SOXS", "KORU", "069500.KS", "091160.KS"}
EVENT_COLUMNS = {"announce_date", "event_date", "event", "close_to_close_return", "trigger_note", "next1_ret"}


@dataclass(frozen=True)
class ImportSpec:
    """How one file enters the cache."""

    symbol: str
    market: str
    currency: str = "USD"
    kind: str = "equity"
    series: str = "bars"
    frequency: str = "1D"
    layout: str = "auto"
    columns: tuple[tuple[str, str], ...] = ()
    close_time: str | None = None
    keep: tuple[str, ...] | None = None
    name: str = ""

    @property
    def meta(self) -> Meta:
        return Meta(self.market, self.currency, self.kind, self.name)


@dataclass
class ImportResult:
    path: str
    status: str  # imported | unchanged | skipped | failed
    reason: str = ""
    key: str | None = None
    rows: int = 0
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        head = f"{self.status:<9} {self.path}"
        if self.key:
            head += f" -> {self.key} ({self.rows} rows)"
        if self.reason:
            head += f": {self.reason}"
        return head


def _crypto(coin: str, series: str, freq: str, **kw: Any) -> ImportSpec:
    kind = "stablecoin" if coin in {"USDT", "USDC", "DAI"} else "crypto"
    return ImportSpec(f"{coin}-USD", CRYPTO, "USD", kind, series, freq, **kw)


def _freq(tag: str) -> str:
    return "1D" if tag.lower() == "1d" else tag.lower()


#: (file-name pattern, spec builder). First match wins.
RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], ImportSpec]]] = [
    (re.compile(r"^KOSPI_KS11_ohlc$"),
     lambda m: ImportSpec("^KS11", "XKRX", "KRW", "index", name="KOSPI Composite Index")),
    (re.compile(r"^069500\.KS_KODEX200$"),
     lambda m: ImportSpec("069500.KS", "XKRX", "KRW", "etf", name="KODEX 200 ETF")),
    (re.compile(r"^USDKRW_FRED_DEXKOUS$"),
     lambda m: ImportSpec("KRW=X", "XNYS", "KRW", "fx", layout="fred", close_time="12:00",
                          name="USD/KRW, FRED DEXKOUS New York noon rate (KRW per USD)")),
    (re.compile(r"^([A-Z]{2,6})-USD_close_1d$"),
     lambda m: _crypto(m.group(1), "bars", "1D", layout="close_only")),
    (re.compile(r"^liquidation_agg_([A-Z]{2,6})_(1d|4h)$"),
     lambda m: _crypto(m.group(1), "liquidations", _freq(m.group(2)), layout="coinglass",
                       keep=("long_liquidations_usd", "short_liquidations_usd"),
                       name="Binance long/short liquidations (CoinGlass)")),
    (re.compile(r"^funding_oiweighted_([A-Z]{2,6})_(1d|4h)$"),
     lambda m: _crypto(m.group(1), "funding", _freq(m.group(2)), layout="coinglass",
                       columns=(("funding_rate", "close"),), keep=("funding_rate",),
                       name="OI-weighted funding rate, percent (CoinGlass)")),
    (re.compile(r"^funding_binance_([A-Z]{2,6})USDT_(8h)$"),
     lambda m: _crypto(m.group(1), "funding", _freq(m.group(2)), layout="coinglass",
                       columns=(("funding_rate", "close"),), keep=("funding_rate",),
                       name="Binance funding rate, percent (CoinGlass)")),
    (re.compile(r"^(ls_account_ratio_[A-Za-z]+_[A-Z]+)_(4h|1d)$"),
     lambda m: ImportSpec(m.group(1), CRYPTO, "USD", "series", frequency=_freq(m.group(2)), layout="coinglass",
                          columns=(("close", "global_account_long_short_ratio"),),
                          name="long/short account ratio (close = ratio)")),
    (re.compile(r"^(oi_agg_usd_[A-Z]+)_(4h|1d)$"),
     lambda m: ImportSpec(m.group(1), CRYPTO, "USD", "series", frequency=_freq(m.group(2)), layout="coinglass",
                          name="aggregated open interest, USD")),
    (re.compile(r"^(price_binance_(?:perp|spot)_[A-Z]+)_(4h|1d)$"),
     lambda m: ImportSpec(m.group(1), CRYPTO, "USD", "crypto", frequency=_freq(m.group(2)), layout="coinglass")),
    (re.compile(r"^stablecoin_marketcap_1d$"),
     lambda m: ImportSpec("stablecoin_marketcap", CRYPTO, "USD", "series", layout="close_only",
                          columns=(("close", "USDT"),), name="stablecoin market caps, USD (close = USDT)")),
    (re.compile(r"^fear_greed_1d$"),
     lambda m: ImportSpec("fear_greed", CRYPTO, "USD", "series", layout="close_only",
                          columns=(("close", "fear_greed"),), name="crypto fear & greed index")),
    (re.compile(r"^cnn_fear_greed$"),
     lambda m: ImportSpec("cnn_fear_greed", "XNYS", "USD", "series", layout="close_only",
                          columns=(("close", "value"),), name="CNN fear & greed index (0-100)")),
]


def guess_spec(stem: str, header: list[str]) -> ImportSpec:
    """A spec for a file no rule names: its stem as symbol, market and frequency from the name."""
    symbol = stem
    freq = "auto"
    m = re.match(r"^(.*)_(1d|4h|8h|1h|15m|5m)$", stem, flags=re.IGNORECASE)
    if m:
        symbol, freq = m.group(1), _freq(m.group(2).replace("m", "min") if m.group(2).endswith("m") else m.group(2))
    ticker = symbol.split("_")[0]
    layout = detect_layout(header)
    if re.search(r"K[SQ]11", symbol) or re.search(r"\.K[SQ](_|$)", symbol):
        kind = "index" if "11" in symbol else ("etf" if ticker in ETFS else "equity")
        return ImportSpec(symbol, "XKRX", "KRW", kind, frequency=freq)
    meta = guess_meta(ticker)
    kind = meta.kind
    if layout == "fred":
        kind = "series"
    elif symbol.lower().endswith("_index"):
        kind = "index"
    elif ticker in ETFS:
        kind = "etf"
    return ImportSpec(symbol, meta.market, meta.currency, kind, frequency=freq)


def _header(path: Path) -> list[str]:
    if path.suffix.lower() in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return csv_header(path)


class UnreadableFile(DataError):
    """A file named like data (``.csv``, ``.parquet``) whose header cannot be read."""


def plan_file(path: Path, root: Path | None = None) -> ImportSpec | str:
    """The spec a file imports under, or the reason it is skipped.

    Raises :class:`UnreadableFile` for a ``.csv``/``.parquet`` file that cannot be read (random
    bytes, a truncated download): that is a failed import, not a file to pass over.
    """
    if path.suffix.lower() not in DATA_SUFFIXES:
        return "not a CSV or parquet file"
    rel_parts = path.relative_to(root).parts[:-1] if root is not None and root in path.parents else ()
    try:
        header = _header(path)
    except Exception as exc:  # noqa: BLE001 - report, never crash a folder import
        text = str(exc).strip().splitlines()
        raise UnreadableFile(f"cannot read the file as {path.suffix.lower().lstrip('.')} ({type(exc).__name__}"
                             f"{': ' + text[0][:160] if text else ''})", where=str(path)) from None
    if "events" in rel_parts or EVENT_COLUMNS & set(header):
        return "event list, not bars (use it in a study's events_files)"
    stem = path.stem
    for rx, build in RULES:
        m = rx.match(stem)
        if m:
            return build(m)
    try:
        return guess_spec(stem, header)
    except DataError as exc:
        return f"no date/price columns recognised ({exc.bare_message})"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_file(cache: Cache, path: Path, spec: ImportSpec, check: bool = True, limits: Any = None) -> ImportResult:
    """Read one file with ``spec`` (within ``limits``: bytes and rows) and store it (replacing what
    that entry held)."""
    from backtests.data.quality import check_bars

    validate_symbol(spec.symbol)
    where = str(path)
    loaded = load_file(path, spec.market, spec.layout, dict(spec.columns), spec.frequency, spec.close_time,
                       require_close=spec.series in {"bars", "bars_unadj"}, limits=limits)
    frame = loaded.frame
    spec = replace(spec, frequency=loaded.frequency)  # declared, or inferred from the file's spacing
    if spec.keep is not None:
        missing = [c for c in spec.keep if c not in frame.columns]
        if missing:
            raise DataError(f"columns {missing} not found", where=where)
        frame = frame[[*spec.keep, "open_time"]]
    frame = frame.dropna(how="all", subset=[c for c in frame.columns if c != "open_time"])
    if frame.empty:
        raise DataError("no rows with values", where=where)
    from backtests.data.quality import local_dates

    d = local_dates(frame, spec.market)
    covered = [(d.min(), d.max())]
    digest = file_sha256(path)
    res = cache.store("import", spec.symbol, spec.series, spec.frequency, frame, spec.meta, covered,
                      source_version="scare importer 1", origin=f"{path.name} sha256:{digest[:16]}",
                      merge=False, close_time=spec.close_time, extra={"layout": loaded.layout})
    warnings = [w.replace(where + ": ", "") for w in loaded.warnings]
    if check and spec.series in {"bars", "bars_unadj"}:
        for f in check_bars(frame, spec.symbol, spec.market, spec.kind, spec.frequency, now=pd.Timestamp.now(tz="UTC")):
            if f.level == "error":
                warnings.append(f"will be refused at load: {f.message} [{f.check}]")
            elif f.check in {"split", "possible_split", "ohlc", "stale"}:
                warnings.append(f"{f.message} [{f.check}]")
    status = "unchanged" if res.action == "unchanged" else "imported"
    return ImportResult(where, status, key=res.key, rows=len(frame), warnings=warnings)


def import_path(cache: Cache, path: str | Path, overrides: dict[str, Any] | None = None,
                check: bool = True, limits: Any = None) -> list[ImportResult]:
    """Import a file or every data file under a folder (sorted, recursive); ``limits`` bounds each
    file (``max_data_bytes``, ``max_data_rows``; default: a study's defaults)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError("no such file or folder", where=str(p))
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    root = p if p.is_dir() else p.parent
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, (), {})}
    if overrides.get("symbol") and len(files) > 1:
        raise DataError("--symbol names one file's symbol; import a single file with it", where=str(p))
    results = []
    for f in files:
        if f.name.startswith(".") or f.name.lower() in {"readme.md", "sources.md"} and f.suffix.lower() == ".md":
            results.append(ImportResult(str(f), "skipped", "not a data file"))
            continue
        try:
            planned = plan_file(f, root)
        except UnreadableFile as exc:
            results.append(ImportResult(str(f), "failed", exc.bare_message))
            continue
        if isinstance(planned, str):
            if not overrides:
                results.append(ImportResult(str(f), "skipped", planned))
                continue
            try:
                planned = guess_spec(overrides.get("symbol", f.stem), _header(f))
            except Exception:  # noqa: BLE001
                planned = ImportSpec(overrides.get("symbol", f.stem), overrides.get("market", "XNYS"))
        spec = replace(planned, **overrides) if overrides else planned
        try:
            results.append(import_file(cache, f, spec, check=check, limits=limits))
        except CacheError:
            raise  # the cache itself (not a cache, its lock, its manifest): every file would fail the same
        except DataError as exc:
            results.append(ImportResult(str(f), "failed", exc.bare_message))
    return results
