"""The columns of every result frame, declared once: name, dtype, unit and meaning.

:mod:`backtests.api.frames` builds each frame with exactly these columns in this order and these
dtypes (an empty frame has them too), ``docs/api.md``'s column tables are generated from here
(``python scripts/api_docs.py``; a test fails when the doc is stale), and the tests check every
frame of a run against them. Units: a *fraction* is a simple return or share (0.01 = 1 %); times
are UTC instants (``datetime64[ns, UTC]``); ``params`` cells hold the parameter set as a dict.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of a result frame."""

    name: str
    dtype: str  # pandas dtype: str, Int64, float64, boolean, datetime64[ns, UTC], object
    unit: str
    doc: str


def _c(name: str, dtype: str, unit: str, doc: str) -> Column:
    return Column(name, dtype, unit, doc)


UTC = "datetime64[ns, UTC]"
#: Statistics of one row's event-level block (metrics.json ``event_level``), shared by verdict rows.
EVENT_LEVEL = (
    _c("n_events", "Int64", "count", "Events (windows) counted in the statistics."),
    _c("n_clusters", "Int64", "count", "Independent clusters among them (overlapping windows, or one shock seen from two markets, are one)."),
    _c("n_traded", "Int64", "count", "Events in which the strategy traded a position it chose (left its resting weights)."),
    _c("n_excluded", "Int64", "count", "Windows left out of the statistics (signal_missing); 0 when none, NA when the run did not record it."),
    _c("mean", "float64", "fraction per event", "Mean simple return per event."),
    _c("median", "float64", "fraction per event", "Median simple return per event."),
    _c("ci_low", "float64", "fraction per event", "Lower end of the interval for the mean."),
    _c("ci_high", "float64", "fraction per event", "Upper end of the interval for the mean."),
    _c("ci_confidence", "float64", "fraction", "Confidence of the interval (0.95)."),
    _c("ci_method", "str", "", "How the interval was made (cluster-robust t with G - 1 df, or a cluster bootstrap)."),
    _c("df", "float64", "count", "Degrees of freedom of the t interval (clusters - 1)."),
    _c("t_stat", "float64", "ratio", "t statistic of mean return per event = 0 (cluster-robust)."),
    _c("p_value", "float64", "probability", "The leading p-value: cluster-robust t test of mean return per event = 0."),
    _c("win_rate", "float64", "fraction", "Share of events with a positive return."),
    _c("nan_reason", "str", "", "Why the event-level statistics are missing (NA when present)."),
)

FRAMES: dict[str, tuple[Column, ...]] = {
    "verdict": (
        _c("strategy", "str", "", "Label of the strategy whose verdict the row belongs to."),
        _c("row", "str", "", "strategy (its own numbers), matched (same vehicles held over the same spans), "
           "contract (long the first traded symbol over the same windows) or buy_and_hold (a buy-and-hold "
           "strategy of the study on the same windows)."),
        _c("label", "str", "", "What the row is: the strategy's label, or the baseline as the tearsheet names it."),
        _c("combo", "Int64", "", "Parameter set shown (grid row): the best-ranked, else the default."),
        _c("chosen", "str", "", "best, default or best = default."),
        _c("params", "object", "", "That parameter set (dict)."),
        *EVENT_LEVEL,
        _c("loco_mean", "float64", "fraction per event", "Out of sample: each cluster held out, parameters chosen on the rest; mean of the held-out clusters' returns (strategy rows)."),
        _c("loco_in_sample_mean", "float64", "fraction per event", "The in-sample best's mean on the same clusters."),
        _c("loco_win_rate", "float64", "fraction", "Share of held-out clusters with a positive return."),
        _c("gap", "float64", "fraction per event", "In-sample minus out-of-sample mean (leave one cluster out)."),
        _c("dsr", "float64", "probability", "Deflated Sharpe ratio of the shown set, deflated for n_trials sets."),
        _c("n_trials", "Int64", "count", "Distinct parameter sets the DSR deflates for (N)."),
        _c("n_trials_raw", "Int64", "count", "Parameter sets tried, identical ones included."),
        _c("pbo", "float64", "probability", "Probability of backtest overfitting of the strategy's sweep (NA with one set)."),
        _c("n_warnings", "Int64", "count", "Named warnings of the row's strategy (metrics.json warnings naming it; NA on matched and contract rows)."),
    ),
    "episodes": (
        _c("strategy", "str", "", "Strategy label."),
        _c("row", "str", "", "strategy, matched (its matched baseline's episode) or contract (the contract's baseline)."),
        _c("combo", "Int64", "", "Parameter set (the shown ones: best and default; NA for contract rows)."),
        _c("chosen", "str", "", "best, default or best = default (NA for contract rows)."),
        _c("params", "object", "", "The parameter set (dict; NA for contract rows)."),
        _c("window", "str", "", "Window (event) id."),
        _c("event_date", "str", "", "The event's local date (YYYY-MM-DD) in its market."),
        _c("market", "str", "", "Market that defines the window."),
        _c("cluster", "str", "", "Event cluster (the independent unit)."),
        _c("traded", "boolean", "", "The episode traded a position the strategy chose."),
        _c("entry_utc", UTC, "UTC", "First fill of the episode (NaT: none)."),
        _c("exit_utc", UTC, "UTC", "Last fill of the episode (NaT: none)."),
        _c("return", "float64", "fraction", "The episode's simple return over the window."),
        _c("shock", "float64", "fraction", "Shock size: the defining asset's return at t = 0 (NaN when missing)."),
        _c("shock_reason", "str", "", "Why the shock size is missing."),
        _c("excluded", "str", "", "Why the episode is left out of the event statistics (NA when counted)."),
    ),
    "pooled": (
        _c("strategy", "str", "", "Strategy label."),
        _c("combo", "Int64", "", "Parameter set (grid row)."),
        _c("id", "str", "", "Pooled record id (metrics.json pooled[].id)."),
        _c("time", UTC, "UTC", "Period end."),
        _c("return", "float64", "fraction per period", "Calendar-time pooled return (each UTC period once; overlapping episodes share it with equal capital)."),
        _c("wealth", "float64", "multiple of 1", "Compounded wealth from 1 (shown sets only, else NaN)."),
        _c("drawdown", "float64", "fraction", "Drawdown from the running peak, <= 0 (shown sets only)."),
        _c("rolling_volatility", "float64", "fraction per period", "Trailing volatility (shown sets only)."),
        _c("rolling_beta", "float64", "ratio", "Trailing beta to the pooled benchmark (shown sets only)."),
        _c("benchmark", "float64", "fraction per period", "The strategy's pooled benchmark return in the period (NaN: none)."),
    ),
    "sweep": (
        _c("strategy", "str", "", "Strategy label."),
        _c("combo", "Int64", "", "Parameter set (grid row)."),
        _c("id", "str", "", "Pooled record id."),
        _c("params", "object", "", "The parameter set (dict)."),
        _c("is_default", "boolean", "", "The set of the declared defaults."),
        _c("rank", "float64", "", "Rank by scoring.rank_by (1 = best; NaN: not ranked)."),
        _c("dsr", "float64", "probability", "Deflated Sharpe ratio."),
        _c("n_trials", "Int64", "count", "Distinct sets the DSR deflates for."),
        _c("pbo", "float64", "probability", "Probability of backtest overfitting (the strategy's)."),
        _c("n_identical", "Int64", "count", "Other sets with an identical pooled series."),
    ),
    "runs": (
        _c("id", "str", "", "Run id (strategy, params, window)."),
        _c("strategy", "str", "", "Strategy label."),
        _c("strategy_name", "str", "", "Plug-in name."),
        _c("combo", "Int64", "", "Parameter set (grid row)."),
        _c("window", "str", "", "Window id."),
        _c("first_fill_utc", UTC, "UTC", "The run's first possible fill (NaT: none, or a scare 0.2 run)."),
        _c("params", "object", "", "The parameter set (dict)."),
        _c("nan_reasons", "object", "", "Per metric left NaN, why (dict)."),
    ),
    "orders": (
        _c("run", "str", "", "Run id."),
        _c("strategy", "str", "", "Strategy label (of the run)."),
        _c("combo", "Int64", "", "Parameter set of the run."),
        _c("window", "str", "", "Window id."),
        _c("time", UTC, "UTC", "Stamp of the simulation bar the order filled in."),
        _c("fill_time", UTC, "UTC", "Instant of the fill (the bar's open for an open fill, else its close)."),
        _c("fill_kind", "str", "", "open, close or auction."),
        _c("symbol", "str", "", "Symbol."),
        _c("side", "str", "", "buy or sell."),
        _c("size", "float64", "units", "Units filled."),
        _c("price", "float64", "USD", "Fill price after slippage."),
        _c("fees", "float64", "USD", "Fees and taxes charged."),
    ),
    "weights": (
        _c("run", "str", "", "Run id."),
        _c("strategy", "str", "", "Strategy label (of the run)."),
        _c("combo", "Int64", "", "Parameter set of the run."),
        _c("time", UTC, "UTC", "Simulation bar."),
        _c("symbol", "str", "", "Symbol."),
        _c("target", "float64", "fraction of value", "Target weight in force after the bar's fills."),
        _c("held", "float64", "fraction of value", "Actual weight at the bar's close (position value / portfolio value)."),
    ),
    "warnings": (
        _c("code", "str", "", "Stable name of the warning (docs/outputs.md lists them)."),
        _c("message", "str", "", "What happened and what it means for the numbers."),
        _c("strategy", "str", "", "Strategy label (NA: study-wide)."),
        _c("window", "str", "", "Window id (NA: any)."),
        _c("symbol", "str", "", "Symbol (NA: any)."),
        _c("count", "Int64", "count", "Occurrences this warning stands for."),
    ),
    "audit": (
        _c("strategy", "str", "", "Strategy label."),
        _c("verdict", "str", "", "pass, fail or nondeterministic."),
        _c("status", "str", "", "The verdict in words (cuts checked of candidates)."),
        _c("exhaustive", "boolean", "", "Every candidate cut was checked (a pass short of that is partial)."),
        _c("cached", "boolean", "", "The verdict was reused from the audit cache."),
        _c("cuts_checked", "Int64", "count", "Cuts checked."),
        _c("cuts_candidates", "Int64", "count", "Candidate cuts."),
        _c("calls", "Int64", "count", "Strategy calls made by the audit."),
        _c("seconds", "float64", "seconds", "Time the audit took."),
        _c("finding", "str", "", "The first look-ahead found (NA on a pass)."),
    ),
    "data": (
        _c("symbol", "str", "", "Symbol."),
        _c("market", "str", "", "Market code (XKRX, XNYS, CRYPTO)."),
        _c("currency", "str", "", "Quote currency."),
        _c("kind", "str", "", "equity, etf, index, fx, crypto, stablecoin or series."),
        _c("source", "str", "", "Where the bars came from (synthetic, a file, a cache entry, frames)."),
        _c("bars", "Int64", "count", "Bars at the study's frequency."),
        _c("intraday_bars", "Int64", "count", "Intraday bars."),
        _c("first", UTC, "UTC", "First bar's stamp."),
        _c("last", UTC, "UTC", "Last bar's stamp."),
        _c("fingerprint", "str", "", "SHA-256 of the symbol's bars (manifest.json data_fingerprints)."),
    ),
}

#: Frames with more columns than declared: the runs frame has one column per run metric of the
#: metric registry (scope runs), in the registry's order, between ``params`` and ``nan_reasons``;
#: the sweep frame one per pooled metric after ``n_identical``.
METRIC_COLUMNS = {"runs": "runs", "sweep": "pooled"}


def docs_table(frame: str) -> str:
    """The markdown table of a frame's columns for docs/api.md."""
    rows = ["| column | dtype | unit | meaning |", "|---|---|---|---|"]
    for c in FRAMES[frame]:
        rows.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {c.doc} |")
    if frame in METRIC_COLUMNS:
        rows.append(f"| *one per metric* | float64 (Int64 for counts) | per docs/metrics.md | every key of the metric "
                    f"registry with scope `{METRIC_COLUMNS[frame]}`, in the registry's order (NaN when the run has none) |")
    return "\n".join(rows)


DOCS_BEGIN = "<!-- columns of {frame}: `python scripts/api_docs.py` writes this table from backtests/api/columns.py -->"
DOCS_END = "<!-- end of the columns of {frame} -->"
