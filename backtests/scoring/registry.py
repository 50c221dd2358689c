"""The metric registry: every key of ``metrics.json`` ``runs[].metrics`` / ``pooled[].metrics``, once.

One :class:`Metric` per key holds what the rest of scare reads about it: its label and format on
the tearsheet, its unit, whether it is annualized, which way is better (what ``scoring.rank_by``
may use), its definition (the table of ``docs/metrics.md`` is generated from here), and, for a
metric computed from returns, where its code lives: the compiled kernel in
:mod:`backtests.scoring.kernels` (``finish_<key>``, fed by the one compiled pass) and, for the
keys that have one, the reference panel definition and public function in
:mod:`backtests.scoring.metrics`.

Adding a metric touches this file, its kernel in ``scoring/kernels.py`` and its test; the table
column, the metrics.json key, the tearsheet's label and format, ``rank_by`` and the docs follow.

This module is plain data on the standard library: config validation imports it (``rank_by``) and
it must not pull in numpy, numba, scipy or arch.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass

#: What a key is computed from. ``returns``: the run's (or the pooled) returns alone;
#: ``benchmark``: returns against the benchmark over the rows where both exist; ``engine``: the
#: simulation's own statistics; ``episodes``: a combination's episodes (pooled records only);
#: ``exposure``: the pooled returns of the periods in which episodes held a position, averaged over
#: those episodes only (:mod:`backtests.scoring.exposure`; pooled records only).
SOURCES = ("returns", "benchmark", "engine", "episodes", "exposure")
#: Formats on the tearsheet: a percentage, a number with two decimals, a whole count.
FORMATS = ("pct", "num", "count")
RUNS, POOLED = "runs", "pooled"


@dataclass(frozen=True)
class Metric:
    """One metric key and everything the rest of scare reads about it.

    Attributes
    ----------
    key
        The snake_case key in ``metrics.json``.
    label
        Column header on the tearsheet.
    unit
        What the number measures (``fraction`` = 0.01 is 1 %; ``ratio`` is unitless).
    fmt
        Tearsheet format: ``pct``, ``num`` or ``count``.
    annualized
        True when the value is scaled to a year with ``periods_per_year``; the tearsheet shows
        such a figure only on a series of at least one year (docs/tearsheet.md).
    per_period
        For an annualized figure that is a per-period figure times ``sqrt(periods_per_year)``
        (Sharpe, Sortino, information ratio, volatility): the label of that per-period figure,
        which the tearsheet shows under a year (:func:`per_period_value`); None otherwise.
    better
        ``higher`` or ``lower`` when one direction is better; None for descriptive keys. A
        ``higher`` key can rank a sweep (``scoring.rank_by``: the highest ranks first).
    source
        One of :data:`SOURCES`.
    scope
        Which records carry the key: ``runs``, ``pooled`` or both.
    definition, needs, empyrical
        The docs: formula, what it needs to be defined (else null with a reason), and the
        empyrical (or scipy) function it matches.
    reference
        Name of the reference panel kernel in :mod:`backtests.scoring.metrics` (``_k_<key>``), or
        None when the compiled kernel is the only definition (then ``metrics_table(compiled=False)``
        uses it too).
    args
        What that kernel takes besides the returns: ``ppy`` (periods per year) and/or
        ``risk_free`` (per period), in that order.
    function
        A computed metric has a public function ``backtests.scoring.<key>`` (hand-written with its
        reference kernel, else built from the compiled kernel); ``n_periods`` has none.
    """

    key: str
    label: str
    unit: str
    fmt: str
    annualized: bool = False
    per_period: str | None = None
    better: str | None = None
    source: str = "returns"
    scope: tuple[str, ...] = (RUNS, POOLED)
    definition: str = ""
    needs: str = "-"
    empyrical: str = "-"
    reference: str | None = None
    args: tuple[str, ...] = ()
    function: bool = True

    @property
    def compiled(self) -> bool:
        """Computed by ``metrics_table`` (a compiled kernel ``finish_<key>``)."""
        return self.source in ("returns", "benchmark")


def _m(key: str, label: str, unit: str, fmt: str, definition: str, **kw: object) -> Metric:
    return Metric(key, label, unit, fmt, definition=definition, **kw)  # type: ignore[arg-type]


#: Every key, in the column order of ``metrics_table`` (returns, then benchmark keys), then the
#: engine's and the pooled records' own keys.
METRICS: tuple[Metric, ...] = (
    _m("n_periods", "Periods", "periods", "count", "number of non-NaN returns", reference="_k_n_periods",
       function=False),
    _m("total_return", "Total return", "fraction", "pct", "`prod(1 + r) - 1`", better="higher", needs="1 obs",
       empyrical="`cum_returns_final`", reference="_k_total_return"),
    _m("annual_return", "Annual return", "fraction per year", "pct",
       "CAGR `(1 + total_return) ** (ppy / n) - 1`; NaN if wealth ended below 0", annualized=True, better="higher",
       needs="1 obs", empyrical="`annual_return` / `cagr`", reference="_k_annual_return", args=("ppy",)),
    _m("annual_volatility", "Annual vol.", "fraction", "pct", "`std(r, ddof=1) * sqrt(ppy)`", annualized=True,
       per_period="Vol. / period", better="lower", needs="2 obs", empyrical="`annual_volatility`",
       reference="_k_annual_volatility", args=("ppy",)),
    _m("sharpe", "Sharpe", "ratio", "num", "`mean(r - rf) / std(r, ddof=1) * sqrt(ppy)`", annualized=True,
       per_period="Sharpe / period", better="higher", needs="2 obs, std > 0", empyrical="`sharpe_ratio`",
       reference="_k_sharpe", args=("ppy", "risk_free")),
    _m("sortino", "Sortino", "ratio", "num", "`mean(r - rf) * ppy / (sqrt(mean(min(r - rf, 0)^2)) * sqrt(ppy))`",
       annualized=True, per_period="Sortino / period", better="higher", needs="2 obs, a return below rf",
       empyrical="`sortino_ratio` (see differences)", reference="_k_sortino", args=("ppy", "risk_free")),
    _m("calmar", "Calmar", "ratio", "num", "`annual_return / abs(max_drawdown)`", annualized=True, better="higher",
       needs="a drawdown", empyrical="`calmar_ratio`", reference="_k_calmar", args=("ppy",)),
    _m("omega", "Omega", "ratio", "num",
       "`sum(max(r - rf - thr, 0)) / sum(max(thr - (r - rf), 0))`, threshold 0", better="higher",
       needs="a return below the threshold", empyrical="`omega_ratio` (see differences)", reference="_k_omega",
       args=("risk_free",)),
    _m("tail_ratio", "Tail ratio", "ratio", "num", "`abs(p95) / abs(p5)`, numpy linear percentiles", better="higher",
       needs="p5 != 0", empyrical="`tail_ratio`", reference="_k_tail_ratio"),
    _m("max_drawdown", "Max drawdown", "fraction", "pct",
       "`min(W_t / max(1, W_1..W_t) - 1)`, `W_t = prod(1 + r)` from wealth 1 (<= 0)", better="higher",
       needs="1 obs", empyrical="`max_drawdown`", reference="_k_max_drawdown"),
    _m("max_drawdown_duration", "Max DD duration", "periods", "count",
       "longest run of consecutive periods with `W_t` below the running peak (start wealth 1 counts as a peak; "
       "a stretch ends when wealth is back at or above the peak; an open drawdown counts to the last period)",
       better="lower", needs="1 obs", reference="_k_max_drawdown_duration"),
    _m("ulcer_index", "Ulcer index", "fraction", "pct",
       "`sqrt(mean(D_t^2))`, `D_t = W_t / max(1, W_1..W_t) - 1` the drawdown after each period (Martin 1987)",
       better="lower", needs="1 obs"),
    _m("value_at_risk", "VaR 5%", "fraction per period", "pct",
       "5 % quantile of returns (numpy linear), historical; usually < 0", better="higher", needs="1 obs",
       empyrical="`value_at_risk`", reference="_k_value_at_risk"),
    _m("conditional_value_at_risk", "CVaR 5%", "fraction per period", "pct",
       "mean of the `floor((n - 1) * 0.05) + 1` lowest returns; usually < 0", better="higher", needs="1 obs",
       empyrical="`conditional_value_at_risk`", reference="_k_conditional_value_at_risk"),
    _m("skew", "Skew", "ratio", "num", "`m3 / m2^1.5` (population moments)", needs="3 obs, not constant",
       empyrical="`scipy.stats.skew`", reference="_k_skew"),
    _m("kurtosis", "Kurtosis", "ratio", "num", "**raw** (Pearson) `m4 / m2^2`: 3 for a normal",
       needs="4 obs, not constant", empyrical="`scipy.stats.kurtosis(fisher=False)`", reference="_k_kurtosis"),
    _m("excess_kurtosis", "Excess kurtosis", "ratio", "num", "`kurtosis - 3`", needs="as kurtosis",
       empyrical="`scipy.stats.kurtosis`", reference="_k_excess_kurtosis"),
    _m("hit_rate", "Hit rate", "fraction", "pct", "positive periods / non-zero periods (flat periods excluded)",
       better="higher", needs="a non-zero return", reference="_k_hit_rate"),
    _m("profit_factor", "Profit factor", "ratio", "num", "`sum(r > 0) / abs(sum(r < 0))`", better="higher",
       needs="a losing period", empyrical="= `omega_ratio` at 0", reference="_k_profit_factor"),
    # with a benchmark b, over the rows where both are present
    _m("alpha", "Alpha", "fraction per year", "pct", "`(1 + mean(r - rf - beta (b - rf))) ** ppy - 1`",
       annualized=True, better="higher", source="benchmark", needs="2 overlapping obs, var(b) > 0",
       empyrical="`alpha`", reference="_k_alpha", args=("ppy", "risk_free")),
    _m("beta", "Beta", "ratio", "num", "`cov(r, b) / var(b)` (population moments; the OLS slope)",
       source="benchmark", needs="2 overlapping obs, var(b) > 1e-30", empyrical="`beta`", reference="_k_beta"),
    _m("information_ratio", "Information ratio", "ratio", "num", "`mean(r - b) / std(r - b, ddof=1) * sqrt(ppy)`",
       annualized=True, per_period="IR / period", better="higher", source="benchmark",
       needs="2 overlapping obs, tracking error > 0", empyrical="`excess_sharpe * sqrt(ppy)`",
       reference="_k_information_ratio", args=("ppy",)),
    _m("excess_return", "Excess vs benchmark", "fraction", "pct",
       "`total_return(r) - total_return(b)` over the overlapping rows", better="higher", source="benchmark",
       needs="1 overlapping obs", reference="_k_excess_return"),
    # the engine's statistics of a run (pooled: over the combination's episodes)
    _m("n_trades", "Trades", "count", "count",
       "runs: positions opened; pooled: distinct trades (one trigger inside two overlapping windows counts once)",
       source="engine"),
    _m("n_orders", "Orders", "count", "count", "orders filled", source="engine", scope=(RUNS,)),
    _m("exposure", "Exposure", "fraction", "pct",
       "runs: fraction of bars with a non-zero position; pooled: the mean over the combination's windows",
       source="engine"),
    _m("turnover", "Turnover", "ratio", "num", "traded value / mean portfolio value over the window",
       source="engine", scope=(RUNS,)),
    _m("n_clipped", "Clipped", "count", "count",
       "targets scaled down to the leverage limits plus orders filled short of their size "
       "(`execution.on_unfillable: clip`; 0 otherwise)", source="engine", scope=(RUNS,)),
    _m("n_locked", "Locked", "count", "count",
       "orders refused at a locked price limit (a buy at limit-up, a sell at limit-down; sent again at the next bar)",
       source="engine", scope=(RUNS,)),
    _m("n_halted", "Halted", "count", "count", "orders killed by a halt that lasted to the close", source="engine",
       scope=(RUNS,)),
    _m("n_short_banned", "Shorts banned", "count", "count",
       "new short sales the exchange did not allow (a ban or no borrow; `execution.on_unfillable: clip`)",
       source="engine", scope=(RUNS,)),
    _m("legs_traded", "Legs traded", "count", "count",
       "symbols that traded in the episode (strategies that declare their legs a pair)", source="engine",
       scope=(RUNS,)),
    _m("legging_gap_hours", "Legging gap (h)", "hours", "num",
       "hours between the first fill of the first leg and of the last leg (pairs; null below two legs)",
       source="engine", scope=(RUNS,), needs="two legs traded"),
    _m("turnover_mean", "Mean turnover", "ratio", "num", "mean of the runs' `turnover` over the windows",
       source="engine", scope=(POOLED,)),
    # a combination's episodes (pooled records)
    _m("n_windows", "Windows", "count", "count", "windows with at least one return", source="episodes",
       scope=(POOLED,)),
    _m("window_total_return_mean", "Mean window return", "fraction", "pct",
       "mean of the per-window `total_return` (= episode returns)", better="higher", source="episodes",
       scope=(POOLED,)),
    _m("window_total_return_median", "Median window return", "fraction", "pct",
       "median of the per-window `total_return`", better="higher", source="episodes", scope=(POOLED,)),
    _m("window_positive_fraction", "Windows > 0", "fraction", "pct",
       "fraction of those windows with `total_return > 0`", better="higher", source="episodes", scope=(POOLED,)),
    _m("n_events", "Events", "count", "count", "episodes with a return", source="episodes", scope=(POOLED,)),
    _m("n_clusters", "Clusters", "count", "count", "clusters among them", source="episodes", scope=(POOLED,)),
    # the risk of the position itself: the exposed series (periods with a position, exposed episodes only)
    _m("exposed_periods", "Periods exposed", "periods", "count",
       "periods in which at least one episode held a position (the exposed series: each period's return the mean "
       "over the episodes exposed in it)", source="exposure", scope=(POOLED,), function=False, needs="orders"),
    _m("exposed_volatility", "Vol. / period, exposed", "fraction per period", "pct",
       "`std(r, ddof=1)` of the exposed series (per period, not annualized)", better="lower", source="exposure",
       scope=(POOLED,), function=False, needs="2 exposed periods"),
    _m("exposed_sortino", "Sortino / period, exposed", "ratio", "num",
       "`mean(r - rf) / sqrt(mean(min(r - rf, 0)^2))` of the exposed series (per period, not annualized)",
       better="higher", source="exposure", scope=(POOLED,), function=False, needs="2 exposed periods, a loss"),
    _m("exposed_max_drawdown", "Max drawdown, exposed", "fraction", "pct",
       "`max_drawdown` of the exposed series (flat periods dropped; no dilution by flat episodes)", better="higher",
       source="exposure", scope=(POOLED,), function=False, needs="1 exposed period"),
    _m("exposed_value_at_risk", "VaR 5%, exposed", "fraction per period", "pct",
       "`value_at_risk` of the exposed series", better="higher", source="exposure", scope=(POOLED,), function=False,
       needs="1 exposed period"),
    _m("exposed_conditional_value_at_risk", "CVaR 5%, exposed", "fraction per period", "pct",
       "`conditional_value_at_risk` of the exposed series", better="higher", source="exposure", scope=(POOLED,),
       function=False, needs="1 exposed period"),
)

#: Exposed keys and the returns key of the exposed series each is (computed per period: ppy = 1).
EXPOSED_FROM: dict[str, str] = {
    "exposed_periods": "n_periods", "exposed_volatility": "annual_volatility", "exposed_sortino": "sortino",
    "exposed_max_drawdown": "max_drawdown", "exposed_value_at_risk": "value_at_risk",
    "exposed_conditional_value_at_risk": "conditional_value_at_risk",
}

BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}
if len(BY_KEY) != len(METRICS):  # pragma: no cover - a typo in the table above
    raise RuntimeError("the metric registry lists a key twice")

#: Keys of ``metrics_table`` from returns alone, and with a benchmark (column order).
METRIC_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS if m.source == "returns")
BENCHMARK_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS if m.source == "benchmark")
#: Annualized keys (figures scaled with ``periods_per_year``).
ANNUALIZED: frozenset[str] = frozenset(m.key for m in METRICS if m.annualized)

#: The tearsheet's two rows of pooled metrics ("Returns and risk"), in order.
TEARSHEET_ROWS: tuple[tuple[str, ...], ...] = (
    ("total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "calmar", "omega",
     "max_drawdown", "ulcer_index", "value_at_risk", "conditional_value_at_risk"),
    ("skew", "kurtosis", "alpha", "beta", "information_ratio", "excess_return", "hit_rate", "profit_factor",
     "exposure", "n_periods"),
    ("exposed_periods", "exposed_volatility", "exposed_sortino", "exposed_max_drawdown", "exposed_value_at_risk",
     "exposed_conditional_value_at_risk"),
)
#: The tearsheet's per-window table.
WINDOW_ROW: tuple[str, ...] = ("total_return", "max_drawdown", "excess_return", "hit_rate", "n_trades", "exposure")


def get(key: str) -> Metric | None:
    """The registered metric of ``key`` (None for a key scare does not define)."""
    return BY_KEY.get(key)


def label(key: str) -> str:
    """The tearsheet label of a key (a key scare does not define: its words, capitalized)."""
    m = BY_KEY.get(key)
    return m.label if m else key.replace("_", " ").capitalize()


def fmt(key: str) -> str:
    """The tearsheet format of a key (``num`` for a key scare does not define)."""
    m = BY_KEY.get(key)
    return m.fmt if m else "num"


def per_period_value(key: str, value: float, periods_per_year: float) -> float | None:
    """The per-period figure behind an annualized ratio or volatility: ``value / sqrt(ppy)``.

    None for a key that is not annualized that way (annual return, Calmar, alpha compound over a
    year: they have no per-period counterpart that a division recovers).
    """
    m = BY_KEY.get(key)
    if m is None or m.per_period is None:
        return None
    return float(value) / math.sqrt(float(periods_per_year))


def annualizes(n_periods: float | None, periods_per_year: float | None) -> bool:
    """The annualization rule: an annualized figure is shown only on a series of at least one year
    (``n_periods >= periods_per_year``)."""
    if n_periods is None or periods_per_year is None:
        return False
    try:
        n, ppy = float(n_periods), float(periods_per_year)
    except (TypeError, ValueError):
        return False
    return math.isfinite(n) and math.isfinite(ppy) and ppy > 0 and n >= ppy


#: How a figure is shown (:func:`shown_value`).
AS_IS, ANNUALIZED_SCALE, PER_PERIOD, NOT_SHOWN = "as is", "annualized", "per period", "not shown"


def shown_value(key: str, value: float | None, n_periods: float | None,
                periods_per_year: float | None) -> tuple[float | None, str]:
    """``(value, scale)`` of a metric by the annualization rule, the one place every reader of a
    figure (the tearsheet's tables and heat map, ``strategies[].ranking``) asks.

    A key that is not annualized is shown as it is (``"as is"``). An annualized key is shown
    annualized on a series of at least one year (:func:`annualizes`); below that, per period when
    the registry defines a per-period counterpart (:func:`per_period_value`, ``"per period"``), else
    not at all (``None``, ``"not shown"``: annual return, Calmar and alpha compound over a year).
    """
    m = BY_KEY.get(key)
    if value is None or m is None or not m.annualized:
        return value, AS_IS
    if annualizes(n_periods, periods_per_year):
        return value, ANNUALIZED_SCALE
    if periods_per_year is not None and m.per_period is not None:
        return per_period_value(key, value, periods_per_year), PER_PERIOD
    return None, NOT_SHOWN


def shown_label(key: str, scale: str) -> str:
    """The label of a key as shown at ``scale`` (its per-period label below a year)."""
    m = BY_KEY.get(key)
    if m is not None and scale == PER_PERIOD and m.per_period:
        return m.per_period
    return label(key)


def rankable(keys: Iterable[str] | None = None) -> list[str]:
    """Keys ``scoring.rank_by`` may name: pooled keys where higher is better (in registry order)."""
    pool = set(keys) if keys is not None else None
    return [m.key for m in METRICS if m.better == "higher" and POOLED in m.scope and (pool is None or m.key in pool)]


def rank_by_problem(key: str, has_benchmark: bool = True) -> str | None:
    """Why ``key`` cannot rank a sweep (None when it can); an unknown key gets a 'did you mean'."""
    m = BY_KEY.get(key)
    allowed = rankable()
    if m is None:
        hint = difflib.get_close_matches(key, list(BY_KEY), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else f" (use one of: {', '.join(allowed)})"
        return f"unknown metric {key!r}{extra}"
    if POOLED not in m.scope:
        return f"{key!r} is a per-run statistic with no pooled value; use one of: {', '.join(allowed)}"
    if m.better != "higher":
        why = "lower is better" if m.better == "lower" else "it is descriptive, not better either way"
        return f"{key!r} cannot rank a sweep (the highest ranks first, and for {key} {why}); use one of: " \
               f"{', '.join(allowed)}"
    if m.source == "benchmark" and not has_benchmark:
        return f"{key!r} needs a benchmark"
    return None


def docs_table() -> str:
    """The key table of ``docs/metrics.md`` (between its ``registry`` markers), from :data:`METRICS`."""
    head = ("| key | label | definition | unit | annualized | better | records | needs | empyrical |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for m in METRICS:
        rows.append(f"| `{m.key}` | {m.label} | {m.definition} | {m.unit} | {'yes' if m.annualized else 'no'} | "
                    f"{m.better or '-'} | {', '.join(m.scope)} | {m.needs} | {m.empyrical} |")
    return head + "\n".join(rows) + "\n"


DOCS_BEGIN = "<!-- metric registry: `python scripts/metric_docs.py` writes this table from backtests/scoring/registry.py -->"
DOCS_END = "<!-- end of the metric registry table -->"


def docs_block() -> str:
    """The generated part of ``docs/metrics.md``, markers included."""
    return f"{DOCS_BEGIN}\n{docs_table()}{DOCS_END}\n"
