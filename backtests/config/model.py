"""Typed, strict study configuration.

Every model is frozen and rejects unknown keys, so a typo in a YAML file is an error, not a
silently ignored setting. Validation runs in two passes (as in freqtrade): the schema here, then a
cross-field pass in :mod:`backtests.config.checks` that needs the strategy registry and the event
catalogue.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date as Date
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from backtests.bounded import DataLimits
from backtests.names import check_label, check_symbol, check_text


class Strict(BaseModel):
    """Base: frozen, unknown keys rejected, no silent coercion of strings to numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, validate_default=True,
                              allow_inf_nan=False)


#: Finite ranges of the numeric fields (every number in a config is bounded, see docs/config.md).
MAX_SESSIONS = 2_520  # ten years of trading sessions
MAX_SEED = 2**63 - 1
MAX_BPS = 10_000.0  # 100% of traded value
MAX_CASH = 1e15
MAX_PARAM_INT = 10**15
MAX_RUNS_DEFAULT = 1_000_000
MAX_RUNS_CEILING = 10**9
#: Default bound on one call into plug-in code, seconds (``limits.plugin_call_seconds``).
PLUGIN_CALL_SECONDS_DEFAULT = 600.0
#: Data files a study reads (see docs/data.md "Bounds"): generous defaults, finite ceilings.
MAX_DATA_BYTES_DEFAULT = DataLimits.max_data_bytes
MAX_DATA_BYTES_CEILING = 1 << 40
MAX_DATA_ROWS_DEFAULT = DataLimits.max_data_rows
MAX_DATA_ROWS_CEILING = 10**9
FIRST_DATE = Date(1900, 1, 1)
LAST_DATE = Date(2199, 12, 31)


#: A symbol (names a cache folder: letters, digits, ^ = . _ -), a printable label (no control or
#: format characters: no NUL, no ANSI/OSC escape), printable text (newlines allowed); see
#: :mod:`backtests.names`.
Symbol = Annotated[str, AfterValidator(check_symbol)]
Label = Annotated[str, AfterValidator(check_label)]
Text = Annotated[str, AfterValidator(check_text)]
#: A ``data.symbols`` entry: ``[source:]SYMBOL[@series]``.
SYMBOL_SPEC_RE = r"^(?:[a-z][a-z0-9_]{0,40}:)?[A-Za-z0-9^][A-Za-z0-9^=._\-]{0,63}(?:@[a-z][a-z0-9_]{0,40})?$"


def _no_empty_benchmark(value: Any, scope: str) -> Any:
    if isinstance(value, str) and not value.strip():
        if scope == "study":
            raise ValueError("an empty benchmark is not 'no benchmark': write benchmark: null for none "
                             "(leaving the key out means SPY)")
        raise ValueError("an empty benchmark: leave the key out to use the study's benchmark (the study's "
                         "benchmark: null means none)")
    return value


def _check_date(value: Date | None, what: str = "date") -> Date | None:
    if value is not None and not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"{what} {value} is outside {FIRST_DATE}..{LAST_DATE}")
    return value


# ----------------------------------------------------------------------------------- data
class FileSpec(Strict):
    """One file of bars for one symbol (CSV or parquet)."""

    path: Label = Field(description="CSV or parquet file; relative paths are relative to the config file.")
    symbol: Symbol = Field(description="Symbol name used in the study (e.g. MU, 000660.KS, BTC-USD).")
    market: Literal["XKRX", "XNYS", "CRYPTO"] = Field(description="Market whose calendar stamps the bars.")
    currency: Symbol = Field("USD", description="Quote currency; non-USD prices are valued through FX.")
    kind: Literal["equity", "etf", "index", "fx", "crypto", "stablecoin", "series"] = "equity"
    layout: Literal["auto", "ohlcv", "yfinance", "close_only", "coinglass", "fred"] = Field(
        "auto", description="Column layout; 'auto' recognises the common ones from the header."
    )
    columns: dict[Label, Label] = Field(
        default_factory=dict,
        description="Explicit mapping {our_field: file_column}, e.g. {close: Adj Close}; overrides the layout.",
    )
    frequency: Label = Field("auto", description="Bar frequency of the file: 1D, 4h, 5min, 1min ..., or 'auto' "
                             "(inferred from the spacing of its times). A file whose spacing contradicts the declared "
                             "frequency is refused.")
    time_zone: Label | None = Field(None, description="Intraday files: zone of times written without a UTC offset: "
                                    "'UTC', 'exchange' (the market's zone) or an IANA name. Default: the market's zone "
                                    "for XKRX/XNYS, UTC for CRYPTO and CoinGlass dumps.")
    bar_time: Literal["open", "close"] = Field("open", description="Intraday files: a bar's time is its open "
                                               "(default; yfinance, ccxt, most exports) or its close.")
    merge_into: Symbol | None = Field(
        None, description="Add this file's columns as extra series of another symbol (e.g. liquidations of BTC-USD)."
    )
    intraday: bool = Field(False, description="Treat as intraday detail for the symbol (not part of the bar panel).")
    close_time: str | None = Field(
        None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local HH:MM at which a daily value is known, instead of the session close "
        "(e.g. 12:00 for FRED's DEXKOUS New York noon rate).",
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None or v in ("UTC", "exchange"):
            return v
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use UTC, exchange or an IANA name such as "
                             "America/New_York)") from None
        return v


class DataConfig(Strict):
    """Where the market data comes from."""

    source: Literal["synthetic", "files", "cache", "frames"] = Field(
        "synthetic", description="'synthetic' = embedded deterministic replay of the documented shocks; 'frames' = a "
        "MarketData given in Python (backtests.run(study, data=MarketData.from_frames(...)); scare run cannot load it)."
    )
    seed: int = Field(20260623, ge=0, le=MAX_SEED, description="Seed of the synthetic generator.")
    frequency: Label = Field("1D", description="Bar frequency of the study (1D, or 4h for crypto-only studies).")
    intraday: Label | None = Field(None, description="Bar length of the intraday channel (ctx.intraday): 'synthetic': the "
                                   "KOSPI crash days' bars (1min: the generated minutes; default 5min); 'cache': the "
                                   "cached bars of data.symbols at this frequency (scare data fetch SYMBOL --frequency "
                                   "1min); 'files': the frequency of the files marked intraday; 'none': no intraday bars.")
    start: Date | None = Field(None, description="First local date to keep (inclusive).")
    end: Date | None = Field(None, description="Last local date to keep (inclusive).")
    files: tuple[FileSpec, ...] = Field((), description="Files to load when source is 'files'.")
    cache_dir: Label = Field("data_cache", description="Cache folder when source is 'cache'.")
    symbols: tuple[Annotated[str, Field(pattern=SYMBOL_SPEC_RE)], ...] = Field(
        (), description="Symbols to read from the cache (source 'cache'): [source:]SYMBOL[@series].")
    fx: dict[Symbol, Symbol] = Field(
        default_factory=lambda: {"KRW": "KRW=X"},
        description="{currency: FX symbol quoted as currency per USD}.",
    )
    exclude_dates: tuple[Date, ...] = Field((), description="Local dates dropped from every symbol.")
    closed_session_bars: Literal["error", "drop"] = Field(
        "error", description="A daily bar on a date its market is closed (a holiday): 'error' stops the run "
        "naming the file and date; 'drop' removes it with a named warning (closed_session_bar_dropped).")

    @field_validator("start", "end")
    @classmethod
    def _date_range(cls, v: Date | None) -> Date | None:
        return _check_date(v)

    @field_validator("exclude_dates")
    @classmethod
    def _dates_range(cls, v: tuple[Date, ...]) -> tuple[Date, ...]:
        for d in v:
            _check_date(d)
        return v

    @model_validator(mode="after")
    def _files_need_files(self) -> DataConfig:
        if self.source == "files" and not self.files:
            raise ValueError("source 'files' needs at least one entry in data.files")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


# -------------------------------------------------------------------------------- windows
class WindowRef(Strict):
    """A window: a catalogue event (by id or by kind) or an explicit event."""

    id: Label | None = Field(None, description="Catalogue event id, or the id of a new explicit event.")
    kind: Label | None = Field(None, description="Take every catalogue event of this kind (e.g. micron_earnings).")
    date: Date | None = Field(None, description="Explicit event: local date in the defining market.")
    market: Literal["XKRX", "XNYS", "CRYPTO"] | None = Field(None, description="Explicit event: defining market.")
    timing: Literal["before_open", "intraday", "after_close"] = Field(
        "intraday", description="Explicit event: when the news reached the market on that date."
    )
    label: Label | None = None
    time_local: str | None = Field(
        None, pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", description="Local HH:MM[:SS] at which the news was known (your own source). Without it an intraday "
        "event with no reported time is stamped at its session close. Also overrides a catalogue event's time.")
    shock: Label | None = Field(None, description="Explicit event: id of the shock it belongs to (one cluster).")
    pre: int | None = Field(None, ge=0, le=MAX_SESSIONS,
                            description="Sessions before t=0 (defining market); default from window_defaults.")
    post: int | None = Field(None, ge=0, le=MAX_SESSIONS, description="Sessions after t=0 (defining market).")

    @field_validator("date")
    @classmethod
    def _date_range(cls, v: Date | None) -> Date | None:
        return _check_date(v)

    @model_validator(mode="after")
    def _one_way(self) -> WindowRef:
        explicit = self.date is not None
        if self.kind is not None and (self.id is not None or explicit):
            raise ValueError("give either 'kind' or 'id' (with optional date/market), not both")
        if self.kind is None and self.id is None:
            raise ValueError("a window needs 'id' (catalogue or new) or 'kind'")
        if self.kind is not None and self.time_local is not None:
            raise ValueError("'time_local' goes with one event ('id'), not with a 'kind'")
        if explicit and self.market is None:
            raise ValueError("an explicit window (with 'date') needs 'market'")
        if self.market is not None and not explicit:
            raise ValueError("'market' only goes with an explicit 'date'")
        return self


class EventFileSpec(Strict):
    """An extra event catalogue: a YAML like the built-in one, or a CSV with one event per row.

    CSV columns recognised: a date column (``date``, ``announce_date``, ``event_date``), optional
    ``id``, ``kind``, ``market``, ``timing`` (free text containing 'after'/'before' is understood),
    ``time_local``, ``label``/``event``. Other columns are kept as event attributes and can be
    filtered with ``where``.
    """

    path: Label = Field(description="YAML or CSV file; relative paths are relative to the config file.")
    kind: Label | None = Field(None, description="Kind given to rows that have none (e.g. micron_earnings).")
    market: Literal["XKRX", "XNYS", "CRYPTO"] | None = Field(None, description="Market for rows that have none.")
    id_prefix: Label | None = Field(None, description="Prefix of generated ids (default: kind).")
    where: dict[Label, list[Label]] = Field(
        default_factory=dict, description="Keep rows whose column value is in the list, e.g. {verification: [both]}."
    )
    replace_kind: bool = Field(True, description="With 'kind': drop the catalogue's events of that kind first.")


def _event_file_item(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


def _window_item(value: Any) -> Any:
    return {"id": value} if isinstance(value, str) else value


class WindowDefaults(Strict):
    pre: int = Field(5, ge=0, le=MAX_SESSIONS, description="Default sessions before the event.")
    post: int = Field(10, ge=0, le=MAX_SESSIONS, description="Default sessions after the event.")
    partial: Literal["error", "trim", "drop"] = Field(
        "error", description="A window that runs past the end (or before the start) of the data: 'error' stops "
        "the study, 'trim' cuts it to the sessions the data covers (warning window_trimmed), 'drop' leaves it out "
        "(warning window_dropped). Never padded with made-up returns.")


# ----------------------------------------------------------------------------- strategies
class RangeSpec(Strict):
    """An inclusive arithmetic range of parameter values: start, start+step, ..., <= stop."""

    start: float = Field(ge=-MAX_PARAM_INT, le=MAX_PARAM_INT)
    stop: float = Field(ge=-MAX_PARAM_INT, le=MAX_PARAM_INT)
    step: float = Field(gt=0, le=MAX_PARAM_INT)

    @model_validator(mode="after")
    def _order(self) -> RangeSpec:
        if self.stop < self.start:
            raise ValueError(f"range stop {self.stop} is below start {self.start}")
        if (self.stop - self.start) / self.step > 100_000:
            raise ValueError("range has more than 100,000 values")
        return self

    def values(self) -> list[float]:
        n = int(round((self.stop - self.start) / self.step + 1e-9)) + 1
        vals = [self.start + i * self.step for i in range(n)]
        return [round(v, 12) for v in vals if v <= self.stop + 1e-12]


Scalar = Union[bool, int, float, str]
ParamValue = Union[Scalar, list[Scalar], RangeSpec]


class StrategySpec(Strict):
    """One strategy in a study, with its parameter grid."""

    name: Label = Field(description="Registered strategy name, or 'package.module:Class'.")
    label: Label | None = Field(None, description="Display name (defaults to name).")
    roles: dict[Label, Symbol] = Field(default_factory=dict, description="{role: symbol} overrides of the strategy's defaults.")
    params: dict[Label, ParamValue] = Field(
        default_factory=dict, description="{param: scalar | list | {start, stop, step}}: the sweep grid."
    )
    windows: tuple[Label, ...] | None = Field(
        None, description="Window ids (or kinds) this strategy runs on; default: all of the study's windows "
        "(an empty list is refused)."
    )
    benchmark: Symbol | None = Field(None, description="Benchmark symbol for this strategy (overrides the study's).")

    @field_validator("benchmark", mode="before")
    @classmethod
    def _benchmark_not_empty(cls, v: Any) -> Any:
        return _no_empty_benchmark(v, "strategy")

    @field_validator("windows")
    @classmethod
    def _windows_not_empty(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and not v:
            raise ValueError("an empty list runs the strategy on no window: name at least one window, or leave "
                             "windows out for all of the study's windows")
        return v

    @field_validator("params")
    @classmethod
    def _no_empty_lists(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, val in v.items():
            if isinstance(val, list) and not val:
                raise ValueError(f"parameter {key!r} has an empty list: the grid would be empty")
            for item in val if isinstance(val, list) else [val]:
                if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_PARAM_INT:
                    raise ValueError(f"parameter {key!r}: {item} is outside +-{MAX_PARAM_INT:.0e}")
                if isinstance(item, str) and len(item) > 1_000:
                    raise ValueError(f"parameter {key!r}: a text value longer than 1,000 characters")
                if isinstance(item, str):
                    check_label(item)
        return v


# ------------------------------------------------------------------------- costs, execution
class MarketCosts(Strict):
    """Trading costs of one market, in basis points of traded value (1 bp = 0.01%)."""

    commission_bps: float = Field(ge=0, le=MAX_BPS, description="Commission per trade, both sides.")
    sell_tax_bps: float = Field(0.0, ge=0, le=MAX_BPS, description="Transaction tax on sells only (Korea).")
    slippage_bps: float = Field(ge=0, le=MAX_BPS, description="Adverse price move per fill.")
    borrow_rate: float = Field(0.0, ge=0, le=10, description="Annual borrow rate paid on short value (0.03 = 3%/yr).")
    max_leverage: float | None = Field(
        None, gt=0, le=100, description="Maximum gross exposure (sum of |weights|) to this market's symbols, as a "
        "multiple of equity; default: only the study's execution.max_leverage applies.")


def _default_costs() -> dict[str, MarketCosts]:
    # Documented defaults: KRX sell-side transaction tax (securities transaction tax plus rural
    # special tax) of 0.20% in 2025 on KOSPI shares; retail-broker commissions ~1.5 bp; US
    # commission ~0.5 bp (per-share fees on large notional); Binance spot taker 10 bp.
    return {
        "XKRX": MarketCosts(commission_bps=1.5, sell_tax_bps=20.0, slippage_bps=5.0, borrow_rate=0.04),
        "XNYS": MarketCosts(commission_bps=0.5, slippage_bps=2.0, borrow_rate=0.01),
        "CRYPTO": MarketCosts(commission_bps=10.0, slippage_bps=5.0, borrow_rate=0.10),
    }


class CostsConfig(Strict):
    markets: dict[Literal["XKRX", "XNYS", "CRYPTO"], MarketCosts] = Field(default_factory=_default_costs)
    symbols: dict[Symbol, MarketCosts] = Field(default_factory=dict, description="Per-symbol overrides.")
    long_yield: dict[Symbol, Annotated[float, Field(ge=-1.0, le=10.0)]] = Field(
        default_factory=dict, description="Annual yield earned on long value per symbol (e.g. {USDT-USD: 0.04})."
    )


class ExecutionConfig(Strict):
    fill: Literal["open", "close"] = Field(
        "open", description="Fill at the next bar's open (when it opened after the decision) or its close."
    )
    init_cash: float = Field(1_000_000.0, gt=0, le=MAX_CASH, description="Starting capital per run, USD.")
    exit_at_window_end: bool = Field(True, description="Flatten every position at the close of the window's last bar.")
    max_leverage: float = Field(
        1.0, gt=0, le=100, description="Maximum gross exposure (sum of |weights|, shorts included) of any target, as "
        "a multiple of equity; cash may go down to -(max_leverage - 1) x equity (1 = no borrowing).")
    financing_rate: float = Field(
        0.05, ge=0, le=10, description="Annual rate paid on borrowed cash (negative cash), on calendar time.")
    legs: Literal["auto", "together", "independent", "before_event"] = Field(
        "auto", description="'together': all legs of a decision fill at the first instant at which every leg can "
        "fill; 'independent': each leg at its own next bar; 'before_event': a decision before the window's event "
        "fills every leg at its own market's last close before the event (docs/strategies.md); 'auto': the "
        "strategy's default_legs, else together for strategies that declare their legs a pair (paired_legs), "
        "independent otherwise.")
    exchange_state: bool = Field(
        True, description="Fills obey the exchange state derived from the rules (halts, call auctions, price-limit "
        "locks, short-sale bans; docs/exchange.md). false: the engine ignores them (the record says so).")
    locked_fill_share: float = Field(
        0.0, ge=0, le=1, description="An order into a locked limit (a buy at limit-up, a sell at limit-down) fills at "
        "most this share of the bar's volume (0: it does not fill); counted as n_locked, warned as limit_locked.")
    borrow_file: str | None = Field(
        None, max_length=4096, description="Borrow-availability overrides (YAML 'borrow:' rows or CSV: symbol, market, "
        "start, end, available, note); relative paths are relative to the config file.")
    index_membership: dict[Annotated[str, Field(max_length=64)], tuple[Literal["KOSPI200", "KOSDAQ150"], ...]] = Field(
        default_factory=dict, description="Index membership of KRX symbols the built-in table does not know "
        "(a member throughout): decides the 2021-05..2023-11 short-sale ban and the dynamic VI rate.")
    financials: tuple[Annotated[str, Field(max_length=64)], ...] = Field(
        (), max_length=1000, description="Symbols that are financial companies (the 2008 bans on financials).")
    on_unfillable: Literal["error", "clip"] = Field(
        "error", description="A target beyond the leverage allowed, or an order that cannot be filled in full: "
        "'error' stops the study naming strategy, combination, stamp and symbol; 'clip' scales it down "
        "(counted in metrics as n_clipped and listed in warnings as clipped_order). A new short sale the exchange "
        "did not allow (a ban, no borrow): 'error' stops the study; 'clip' does not fill it (n_short_banned, "
        "short_sale_banned).")


class ScoringConfig(Strict):
    risk_free: float = Field(0.0, ge=-1.0, le=1.0, description="Annual risk-free rate for Sharpe/Sortino.")
    rank_by: Label = Field("sharpe", description="Metric used to rank a sweep (highest first): a pooled key of the "
                         "metric registry where higher is better (docs/metrics.md); checked when the config is planned.")
    pbo_blocks: int = Field(8, ge=2, le=16, multiple_of=2,
                            description="Blocks S (even) for CSCV probability of backtest overfitting.")
    bootstrap_samples: int = Field(1000, ge=100, le=100_000, description="Stationary-bootstrap resamples.")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    estimation_sessions: int = Field(60, ge=10, le=MAX_SESSIONS,
                                     description="Market-model estimation window before each event.")
    walk_forward_min_clusters: int = Field(
        2, ge=1, le=10_000, description="Walk-forward out of sample: fewest earlier event clusters to choose parameters on.")


class OutputConfig(Strict):
    dir: Label = Field("runs/{name}", description="Output folder; {name} is replaced by the study name.")
    tearsheet: bool = True
    weights: Literal["auto", "all", "best"] = Field(
        "auto", description="Per-bar weights of every run ('all'), or only of each strategy's best and default "
        "combinations ('best': their runs are re-simulated after scoring); 'auto' keeps all up to "
        "5,000,000 run-bars and the best above (which one was used is in metrics.json).",
    )


class ExecutorConfig(Strict):
    kind: Literal["local", "dask"] = "local"
    address: Label | None = None
    chunk_runs: int | None = Field(None, ge=1, le=MAX_RUNS_CEILING,
                                   description="Runs per simulation chunk (default: sized to memory).")
    memory_limit_gb: float | None = Field(None, gt=0, le=100_000)


class LimitsConfig(Strict):
    """Safety limits, checked before anything large is built."""

    max_runs: int = Field(
        MAX_RUNS_DEFAULT, ge=1, le=MAX_RUNS_CEILING,
        description="Most runs (combinations x windows, summed over strategies) a study may have; "
        "checked from the grid sizes before any grid is built.",
    )
    plugin_call_seconds: float | None = Field(
        PLUGIN_CALL_SECONDS_DEFAULT, gt=0, le=7 * 86_400,
        description="Longest one call into plug-in code may take, seconds: its import, __init__, each "
        "check_params, each target_weights() call (one per chunk) or, for a strategy that writes only "
        "weights(), each weights() call, and resting_weights() once per chunk. Past it the call is stopped and the run refused naming the plug-in "
        "and its line. During the look-ahead audit the audit's budget bounds each call too. null: no bound.",
    )
    max_data_bytes: int = Field(
        MAX_DATA_BYTES_DEFAULT, ge=1, le=MAX_DATA_BYTES_CEILING,
        description="Largest data file (CSV, parquet, or a cached file) a study reads, in bytes; checked before "
        "the file is parsed (default 512 MiB).",
    )
    max_data_rows: int = Field(
        MAX_DATA_ROWS_DEFAULT, ge=1, le=MAX_DATA_ROWS_CEILING,
        description="Most rows a data file (or a cached entry) may hold; checked while parsing, never reading more "
        "than one row past it (default 5,000,000: ten years of 1-minute crypto bars).",
    )


class ScenariosConfig(Strict):
    """A scenario study: a generated family of crash paths as sweep axes (docs/scenarios.md).

    Every scenario is an episode with its own cluster; each strategy named here runs its parameter
    grid over every scenario through the same strategy call, engine and scoring as market data.
    Results are labelled SCENARIO and written apart (metrics.json ``scenarios``, scenarios.parquet,
    the tearsheet's SCENARIO section): they never pool with market-data results.
    """

    family: Literal["kospi_crash"] = Field(
        "kospi_crash", description="Built-in family: 'kospi_crash' (KOSPI -> Hynix/Samsung/KODEX/KRW -> EWY -> MU "
        "-> SOX -> BTC, calibrated on ../shared/data; docs/scenarios.md).")
    symbols: tuple[Symbol, ...] | None = Field(
        None, max_length=32, description="Assets of the family to generate (default: every symbol the scenario "
        "strategies read, with the links that reach them).")
    date: Date = Field(Date(2026, 6, 23), description="Local session date of the shock in the leader's market (a real "
                       "session: bars are stamped on its real UTC clock).")
    bar: Literal["1min", "5min"] = Field("1min", description="Bar length of the generated intraday bars.")
    sessions_before: int = Field(0, ge=0, le=5, description="Sessions generated before the shock session.")
    sessions_after: int = Field(3, ge=0, le=5, description="Sessions generated after the shock session.")
    axes: dict[Label, ParamValue] = Field(
        default_factory=dict, description="Scenario parameters as grids, the syntax of strategy params (a value, a "
        "list, or {start, stop, step}); parameters not given take their defaults (docs/scenarios.md lists them with "
        "units and ranges).")
    replicates: int = Field(1, ge=1, le=100_000, description="Scenarios per grid point (noise draws).")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the generator (the same seed: the same paths).")
    streams: Literal["common", "independent"] = Field(
        "common", description="'common': every grid point sees the same noise draws (common random numbers); "
        "'independent': every scenario its own.")
    strategies: tuple[Label, ...] | None = Field(
        None, description="Strategy labels run over the scenarios (default: every strategy whose symbols the "
        "family can generate).")
    surface: tuple[Label, Label] | None = Field(
        None, description="The two axes of the return surface (default: the first two axes with more than one value).")
    loss_threshold: float = Field(0.05, gt=0, le=1, description="A scenario loses 'beyond the threshold' when its "
                                  "total return is below -loss_threshold (0.05 = a loss of more than 5%).")
    worst: int = Field(10, ge=1, le=1000, description="Worst scenarios listed per strategy.")
    chunk: int = Field(64, ge=1, le=100_000, description="Scenarios generated and simulated per chunk (memory bound).")
    events_dir: Label | None = Field(
        None, description="Folder of ../shared/data to place the real KRX shocks in the scenario space (measured "
        "depth, rebound, halt time); default: measured from the study's own ^KS11 data on its KRX halt windows.")


class StudyConfig(Strict):
    """A study: data x windows x strategies x costs, and what to write."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Study name (used in output paths).")
    description: Text = ""
    seed: int = Field(12345, ge=0, le=MAX_SEED, description="Seed for every random step of scoring (bootstrap).")
    data: DataConfig = Field(default_factory=DataConfig)
    events_files: tuple[EventFileSpec, ...] = Field(
        (), description="Extra event catalogues (YAML or CSV) merged into the built-in one."
    )
    window_defaults: WindowDefaults = Field(default_factory=WindowDefaults)
    windows: tuple[Annotated[WindowRef, Field()], ...] = Field(min_length=1)
    strategies: tuple[StrategySpec, ...] = Field(min_length=1)
    benchmark: Symbol | None = Field("SPY", description="Default benchmark symbol (null for none).")
    costs: CostsConfig = Field(default_factory=CostsConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    scenarios: ScenariosConfig | None = Field(
        None, description="A scenario study run beside the market-data one (generated crash paths as sweep axes, "
        "labelled SCENARIO, written apart; docs/scenarios.md).")

    @field_validator("benchmark", mode="before")
    @classmethod
    def _benchmark_not_empty(cls, v: Any) -> Any:
        return _no_empty_benchmark(v, "study")

    @field_validator("windows", mode="before")
    @classmethod
    def _string_windows(cls, v: Any) -> Any:
        return [_window_item(x) for x in v] if isinstance(v, list) else v

    @field_validator("events_files", mode="before")
    @classmethod
    def _string_event_files(cls, v: Any) -> Any:
        return [_event_file_item(x) for x in v] if isinstance(v, list) else v

    def canonical_json(self) -> str:
        """The config as canonical JSON (sorted keys): what the run id hashes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of :meth:`canonical_json` without ``executor`` and
        ``limits``.

        Where and in what chunks the sweep runs does not change a result, so it does not change
        the hash (metrics.json is byte-identical across local, chunked and Dask runs), nor does the
        scenario chunk size (``scenarios.chunk``); nor do the safety limits, which only decide
        whether a study may run.
        """
        doc = self.model_dump(mode="json", exclude={"executor": True, "limits": True, "scenarios": {"chunk"}})
        return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
