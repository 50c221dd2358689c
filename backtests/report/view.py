"""Index what the tearsheet shows in the saved results (no rendering here), and read the run
folder's return tables in either layout.

Input is what a run folder holds (:class:`SavedRun`: metrics.json as a dict, the return tables,
orders as a long frame), so ``scare run`` and ``scare report`` draw the same page. The return
tables come in two layouts (docs/outputs.md): **long** (scare 0.3: ``returns.parquet`` rows
``run, time, return``; ``pooled.parquet`` rows ``id, time, return`` and the paths), and **wide**
(scare 0.2: one column per run or pooled id, index ``time``); :func:`read_returns`,
:func:`read_pooled`, :func:`wide_returns` and :func:`pooled_series` read both. Everything scoring computed is read, never recomputed: the pooled series and its paths from
pooled.parquet, periods per year and market time zones from metrics.json, cost rates from
metrics.json (or, for an older run folder, the config resolved by the engine's own rule). Every
function tolerates missing pieces (returns None or an empty result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BASELINE_PLUGINS = frozenset({"buy_and_hold"})

#: returns.parquet (long layout): one row per (run, period end) at which the run has a return,
#: run-major in the runs' canonical order, then time
RETURNS_COLUMNS = ("run", "time", "return")
#: pooled.parquet (long layout): one row per (pooled id, period end) with a pooled return; the path
#: columns are set on the rows of the combinations the tearsheet shows (best, default), else null
PATH_COLUMNS = ("wealth", "drawdown", "rolling_volatility", "rolling_beta")
POOLED_COLUMNS = ("id", "time", "return", *PATH_COLUMNS)


def is_long(frame: pd.DataFrame | None, key: str) -> bool:
    """True for a table in the long layout keyed by ``key`` (``run`` or ``id``); False for the wide
    layout of scare 0.2 (a time index, one column per run or pooled id)."""
    return frame is not None and not isinstance(frame.index, pd.DatetimeIndex) and \
        {key, "time", "return"} <= set(map(str, frame.columns))


def _select(frame: pd.DataFrame, key: str, ids: Any) -> pd.DataFrame:
    col = frame[key]
    wanted = pd.Index([str(i) for i in ids])
    if isinstance(col.dtype, pd.CategoricalDtype):  # compare the categories once, not every row
        hit = np.flatnonzero(col.cat.categories.astype(str).isin(wanted))
        keep = np.isin(col.cat.codes.to_numpy(), hit)
    else:
        keep = col.astype(str).isin(wanted).to_numpy()
    return frame.loc[keep]


def wide_returns(frame: pd.DataFrame | None, ids: Any) -> pd.DataFrame:
    """Per-period returns of the runs ``ids`` (those the table has), one column each in the order
    given, index ``time`` (UTC, ascending, the union of their periods), from either layout."""
    ids = [str(i) for i in ids]
    if frame is None:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"))
    if not is_long(frame, "run"):
        return frame[[i for i in ids if i in frame.columns]]
    sub = _select(frame, "run", ids)
    wide = pd.DataFrame({"run": sub["run"].astype(str).to_numpy(), "time": pd.DatetimeIndex(sub["time"]),
                         "return": sub["return"].to_numpy(dtype=float)}).pivot(index="time", columns="run",
                                                                             values="return")
    wide = wide.sort_index()
    wide.index.name, wide.columns.name = "time", None
    return wide[[i for i in ids if i in wide.columns]]


def pooled_series(frame: pd.DataFrame | None, pid: str) -> pd.DataFrame | None:
    """One pooled id's rows: ``return`` and the paths it has (``wealth``, ``drawdown``,
    ``rolling_volatility``, ``rolling_beta``), index ``time``; None when the table has none. Wide
    tables (scare 0.2) hold them as ``<id>`` and ``<id>|<path>`` columns; in a long table a path
    is the id's when its column is not null there (read with :func:`read_pooled`, which keeps
    nulls apart from NaN)."""
    if frame is None:
        return None
    if is_long(frame, "id"):
        sub = _select(frame, "id", [pid])
        if sub.empty:
            return None
        out = pd.DataFrame({c: sub[c].to_numpy(dtype=float, na_value=np.nan) for c in ("return", *PATH_COLUMNS)
                            if c in sub.columns and sub[c].notna().any()},
                           index=pd.DatetimeIndex(sub["time"], name="time"))
        return out.sort_index()
    if pid not in frame.columns:
        return None
    cols = {"return": pid, **{p: f"{pid}|{p}" for p in PATH_COLUMNS if f"{pid}|{p}" in frame.columns}}
    out = frame[list(cols.values())].copy()
    out.columns = list(cols)
    return out[out["return"].notna()]


def shown_ids(metrics: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(run ids, pooled ids)`` of the combinations the page draws series of: each strategy's best
    and default (metrics.json ``strategies[].best_combo`` / ``default_combo``), read off
    metrics.json's ``runs`` and ``pooled`` records. All a page needs of returns.parquet and
    pooled.parquet."""
    shown: dict[str, set[int]] = {}
    for s in metrics.get("strategies") or []:
        if isinstance(s, dict):
            label = str(s.get("label", s.get("name", "?")))
            shown[label] = {int(c) for c in (s.get("best_combo"), s.get("default_combo")) if c is not None}

    def ids(records: Any) -> list[str]:
        return [str(r.get("id")) for r in records or [] if isinstance(r, dict)
                and r.get("combo") in shown.get(str(r.get("strategy")), ())]

    return ids(metrics.get("runs")), ids(metrics.get("pooled"))


def _read_long(path: Any, key: str, ids: Any | None) -> pd.DataFrame:
    """A long table, filtered on ``key`` while reading; path columns keep arrow's nulls apart from
    NaN (pandas ``ArrowDtype``): a null is "no such path for this id", a NaN a value (the first
    periods of a rolling volatility)."""
    import pyarrow.parquet as pq

    filters = None if ids is None else [(key, "in", [str(i) for i in ids])]
    table = pq.read_table(path, filters=filters)
    paths = [i for i, f in enumerate(table.schema) if f.name in PATH_COLUMNS]
    frame = table.to_pandas()
    for i in paths:
        name = table.schema.field(i).name
        frame[name] = pd.Series(pd.arrays.ArrowExtensionArray(table.column(i)), index=frame.index, name=name)
    return frame


def _long_file(path: Any, key: str) -> bool:
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    return {key, "time", "return"} <= names


def read_returns(path: Any, runs: Any | None = None) -> pd.DataFrame:
    """returns.parquet of a run folder, either layout, as one column per run (index ``time``):
    every run, or only ``runs`` (read with a filter: the rest of a large file is not decoded)."""
    if not _long_file(path, "run"):
        if runs is None:
            return pd.read_parquet(path)
        cols = _columns(path)
        return pd.read_parquet(path, columns=[r for r in map(str, runs) if r in cols])
    frame = _read_long(path, "run", runs)
    if runs is None:
        col = frame["run"]
        runs = list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) else \
            list(pd.unique(col.astype(str)))
    return wide_returns(frame, runs)


def read_pooled(path: Any, ids: Any | None = None) -> pd.DataFrame:
    """pooled.parquet of a run folder as it is stored (long: rows ``id, time, return`` and the paths;
    a scare 0.2 folder has none, and the early 0.3 layout was wide): every pooled id, or only
    ``ids`` (filtered while reading). Read one id's series with :func:`pooled_series`."""
    if _long_file(path, "id"):
        return _read_long(path, "id", ids)
    if ids is None:
        return pd.read_parquet(path)
    cols = _columns(path)
    wanted = [c for i in map(str, ids) for c in (i, *(f"{i}|{p}" for p in PATH_COLUMNS)) if c in cols]
    return pd.read_parquet(path, columns=wanted)


def _columns(path: Any) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.read_schema(path).names)



def pooled_long(frame: pd.DataFrame | None) -> pd.DataFrame:
    """pooled.parquet as one row per (pooled id, UTC period end) with a pooled return: columns
    ``id, time, return`` and the paths :data:`PATH_COLUMNS` (NaN on the rows of combinations the
    tearsheet does not draw). A wide frame (one column per pooled id and ``<id>|<path>``: the tables a
    run holds in memory, and early 0.3 folders) is read id by id with :func:`pooled_series`; a frame
    already in the long layout is returned as it is; None (a scare 0.2
    folder has no pooled.parquet) gives no rows."""
    cols = ["id", "time", "return", *PATH_COLUMNS]
    if frame is None or not len(frame.columns):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols}).astype({"id": "str", "time": "datetime64[ns, UTC]"})
    if is_long(frame, "id"):
        return frame
    parts = []
    for pid in [str(c) for c in frame.columns if "|" not in str(c)]:
        series = pooled_series(frame, pid)  # the wide layout is read in one place
        part = pd.DataFrame({"id": pid, "time": series.index, "return": series["return"].to_numpy(dtype=float)})
        for path in PATH_COLUMNS:
            part[path] = series[path].to_numpy(dtype=float) if path in series.columns else np.nan
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pooled_long(None)


#: Charts that need the pooled series of pooled.parquet (absent from run folders of scare 0.2).
POOLED_CHARTS = "the equity and drawdown curves, the return distribution, the drawdown periods and the rolling " \
                "volatility and beta"
NO_POOLED_FILE = ("no pooled.parquet (a run folder of scare 0.2): the pooled figures are read from metrics.json "
                  f"only, and {POOLED_CHARTS} are omitted; run the study again with this scare to draw them")


@dataclass(frozen=True)
class SavedRun:
    """What a run folder holds, as the tearsheet reads it (docs/outputs.md).

    ``metrics`` and ``manifest`` are the documents; ``returns`` (returns.parquet: which windows
    have a return at each pooled period), ``orders`` (orders.parquet), ``pooled`` (pooled.parquet:
    the calendar-time series scoring computed and the paths it drew from them) and
    ``pooled_benchmark`` (pooled_benchmark.parquet) are frames; any of them may be None (a folder
    of scare 0.2 has no pooled files: the page says what it omits). ``returns`` and ``pooled`` are
    in either layout (long or wide, see the module docstring) and need hold only the runs and
    pooled ids of the combinations the page shows (best and default of each strategy). The page
    reads nothing else (not benchmark.parquet nor weights.parquet).
    """

    metrics: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    returns: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    pooled: pd.DataFrame | None = None
    pooled_benchmark: pd.DataFrame | None = None
    #: the tables the page does not draw, held for the Python API (:mod:`backtests.api`): weights.parquet,
    #: benchmark.parquet and runs.parquet (a large sweep's every run); None when not read or absent
    weights: pd.DataFrame | None = None
    benchmark: pd.DataFrame | None = None
    runs: pd.DataFrame | None = None


@dataclass
class Chain:
    """A combination's calendar-time pooled series as scoring wrote it (pooled.parquet), one row per
    UTC period end, with the paths drawn from it; nothing here is computed by the report."""

    returns: np.ndarray  # (n,) pooled returns
    times: pd.DatetimeIndex  # (n,) UTC period ends
    wealth: np.ndarray  # (n,) compounded wealth from 1
    drawdown: np.ndarray  # (n,) drawdown from the running peak (<= 0)
    windows: list[str]  # (n,) windows with a return at that period end ("a + b" when several)
    starts: list[tuple[int, str]]  # (position, window id) of each window's first period
    bench_wealth: np.ndarray | None = None
    bench_drawdown: np.ndarray | None = None
    rolling_volatility: np.ndarray | None = None
    rolling_beta: np.ndarray | None = None


@dataclass
class StrategyView:
    summary: dict[str, Any]
    label: str
    pooled: dict[int, dict[str, Any]] = field(default_factory=dict)  # combo -> pooled record
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # combo -> run records
    best: int | None = None
    default: int | None = None
    anchor: str = ""
    baselines: list["StrategyView"] = field(default_factory=list)  # buy-and-hold runs folded in here
    baseline_for: str | None = None  # label of the strategy this one is folded into

    @property
    def is_baseline(self) -> bool:
        """A buy-and-hold plug-in: a reference, not a trade idea."""
        return str(self.summary.get("name") or "") in BASELINE_PLUGINS

    @property
    def windows(self) -> tuple[str, ...]:
        return tuple(sorted(str(w) for w in self.summary.get("windows") or []))

    def event_level(self, combo: int | None) -> dict[str, Any] | None:
        """metrics.json ``strategies[].event_level[combo]`` (None when this run has none)."""
        el = (self.summary.get("event_level") or {}).get(str(combo)) if combo is not None else None
        return el if isinstance(el, dict) else None

    @property
    def execution(self) -> dict[str, Any]:
        """metrics.json ``strategies[].execution`` (the rules the run's engine used; also read under
        a nested ``summary``), or {} for a run that did not write it."""
        ex = self.summary.get("execution")
        if not isinstance(ex, dict) and isinstance(self.summary.get("summary"), dict):
            ex = self.summary["summary"].get("execution")
        return ex if isinstance(ex, dict) else {}

    @property
    def rank_by(self) -> str:
        return str(self.summary.get("rank_by") or "sharpe")

    def params(self, combo: int | None) -> dict[str, Any]:
        rec = self.pooled.get(combo) if combo is not None else None
        return dict(rec.get("params") or {}) if rec else {}

    def swept(self) -> list[str]:
        """Parameters that take more than one value in this strategy's grid (sorted by name)."""
        values: dict[str, set[str]] = {}
        for rec in self.pooled.values():
            for k, v in (rec.get("params") or {}).items():
                values.setdefault(k, set()).add(repr(v))
        return sorted(k for k, s in values.items() if len(s) > 1)


class StudyView:
    """Indexes over metrics.json plus the tables of the run folder."""

    def __init__(self, run: SavedRun):
        metrics = run.metrics or {}
        self.metrics = metrics
        self.manifest = run.manifest or {}
        self.returns = run.returns if run.returns is not None else pd.DataFrame()
        self.pooled = run.pooled
        self.pooled_benchmark = run.pooled_benchmark
        self.markets: dict[str, Any] = metrics.get("markets") if isinstance(metrics.get("markets"), dict) else {}
        self.data = metrics.get("data") or {}
        self.windows: dict[str, dict[str, Any]] = {
            str(w.get("id")): w for w in metrics.get("windows") or [] if isinstance(w, dict)}
        self.symbols: dict[str, dict[str, Any]] = {
            str(s.get("symbol")): s for s in self.data.get("symbols") or [] if isinstance(s, dict)}
        by_label: dict[str, StrategyView] = {}
        for s in metrics.get("strategies") or []:
            lab = str(s.get("label", s.get("name", "?")))
            by_label[lab] = StrategyView(s, lab, best=s.get("best_combo"), default=s.get("default_combo"))
        for p in metrics.get("pooled") or []:
            sv = by_label.setdefault(str(p.get("strategy")), StrategyView({}, str(p.get("strategy"))))
            sv.pooled[int(p.get("combo", -1))] = p
        for r in metrics.get("runs") or []:
            sv = by_label.setdefault(str(r.get("strategy")), StrategyView({}, str(r.get("strategy"))))
            sv.runs.setdefault(int(r.get("combo", -1)), []).append(r)
        self.strategies = list(by_label.values())
        self.warnings: list[dict[str, Any]] = [w for w in metrics.get("warnings") or [] if isinstance(w, dict)]
        self._fold_baselines()

    def _fold_baselines(self) -> None:
        """Attach each buy-and-hold strategy to the trade strategies that run on the same windows;
        one that matches none keeps a section of its own."""
        trades = [sv for sv in self.strategies if not sv.is_baseline]
        for b in self.strategies:
            if not b.is_baseline:
                continue
            hosts = [sv for sv in trades if sv.windows and sv.windows == b.windows]
            for h in hosts:
                h.baselines.append(b)
            if hosts:
                b.baseline_for = hosts[0].label

    def warnings_for(self, label: str) -> list[dict[str, Any]]:
        return [w for w in self.warnings if str(w.get("strategy")) == label]

    def warning_count(self, label: str) -> int:
        return len(self.warnings_for(label))

    @property
    def has_pooled_file(self) -> bool:
        """The run folder has pooled.parquet (written from scare 0.3 on)."""
        return self.pooled is not None

    # ------------------------------------------------------------------ time
    def ppy(self, sv: StrategyView) -> float | None:
        """Periods per year the strategy's metrics were annualized with (metrics.json
        ``strategies[].periods_per_year``, else its execution clock's); None when the run wrote neither."""
        v = sv.summary.get("periods_per_year")
        if v is None:
            v = (sv.execution.get("clock") or {}).get("periods_per_year") if isinstance(sv.execution.get("clock"), dict) else None
        try:
            v = float(v)
        except (TypeError, ValueError):
            return None
        return v if math.isfinite(v) and v > 0 else None

    def market_tz(self, market: str | None) -> str:
        """The IANA zone of a market, from metrics.json ``markets``; a folder written before that key
        existed asks backtests.time.calendars (where it is defined); an unknown market is UTC."""
        rec = self.markets.get(str(market)) if market else None
        if isinstance(rec, dict) and isinstance(rec.get("tz"), str):
            return rec["tz"]
        if self.markets or not market:
            return "UTC"
        try:
            from backtests.time.calendars import get_market

            return get_market(market).tz
        except Exception:  # noqa: BLE001 - an unknown market in a foreign run folder
            return "UTC"

    def symbol_tz(self, symbol: str) -> str:
        return self.market_tz(self.symbols.get(symbol, {}).get("market"))

    # ------------------------------------------------------------------ costs
    def cost_rates(self, sv: StrategyView) -> tuple[dict[str, dict[str, Any]], str]:
        """Per symbol the cost rates the engine charged (``commission_bps``, ``sell_tax_bps``,
        ``slippage_bps``, ...), and where they were read from: metrics.json
        ``strategies[].execution.costs`` when the run wrote it; for a run folder written before that
        key, the config in manifest.json resolved by the engine's own rule
        (:func:`backtests.engine.costs.resolve_costs`: a symbol's entry replaces its market's)."""
        costs = sv.execution.get("costs")
        if isinstance(costs, dict):
            return {str(k): v for k, v in costs.items() if isinstance(v, dict)}, "metrics.json"
        return _config_costs(self.manifest, self.symbols), "the config in manifest.json"

    # ------------------------------------------------------------------ series
    def pooled_detail(self, sv: StrategyView, combo: int | None) -> dict[str, Any]:
        """metrics.json ``strategies[].pooled_detail[combo]`` (drawdown periods, rolling window)."""
        rec = (sv.summary.get("pooled_detail") or {}).get(str(combo)) if combo is not None else None
        return rec if isinstance(rec, dict) else {}

    def chain(self, sv: StrategyView, combo: int | None) -> Chain | None:
        """The combination's pooled series and paths from pooled.parquet (None when the run folder
        has none for it: a scare 0.2 folder, or a combination the tearsheet does not show)."""
        rec = sv.pooled.get(combo) if combo is not None else None
        series = pooled_series(self.pooled, str((rec or {}).get("id")))
        if series is None or "wealth" not in series.columns:
            return None
        r = series["return"].dropna()
        if r.empty:
            return None
        times = pd.DatetimeIndex(r.index)

        def col(frame: pd.DataFrame | None, name: str) -> np.ndarray | None:
            if frame is None or name not in frame.columns:
                return None
            return frame[name].reindex(times).to_numpy(dtype=float)

        bench = self.pooled_benchmark
        label = sv.label
        names, starts = self._window_labels(sv, combo, times)
        return Chain(r.to_numpy(dtype=float), times, col(series, "wealth"), col(series, "drawdown"), names,
                     starts, col(bench, f"{label}|wealth"), col(bench, f"{label}|drawdown"),
                     col(series, "rolling_volatility"), col(series, "rolling_beta"))

    def _window_labels(self, sv: StrategyView, combo: int | None,
                       times: pd.DatetimeIndex) -> tuple[list[str], list[tuple[int, str]]]:
        """Per pooled period, the windows with a return there (returns.parquet), and where each
        window's first period falls: hover text and axis ticks, nothing more."""
        runs = [(str(r.get("id")), str(r.get("window"))) for r in sv.runs.get(combo, [])]
        wide = wide_returns(self.returns, [rid for rid, _ in runs])
        runs = [(rid, w) for rid, w in runs if rid in wide.columns]
        if not runs:
            return [""] * len(times), []
        live = wide[[rid for rid, _ in runs]].reindex(times).notna().to_numpy()
        wins = np.array([w for _, w in runs], dtype=object)
        names = [" + ".join(wins[row]) for row in live]
        first: dict[int, str] = {}
        for j, (_, wid) in enumerate(runs):
            hit = np.flatnonzero(live[:, j])
            if hit.size:
                pos = int(hit[0])
                first[pos] = f"{first[pos]} + {wid}" if pos in first else wid
        return names, sorted(first.items())

    def event_time(self, sv: StrategyView, combo: int | None) -> dict[str, list[tuple[int, float]]]:
        """{window id: [(t, cumulative return at the close of session t)]} for a combo, from
        metrics.json ``strategies[].event_time`` (empty when the run has none for it)."""
        out: dict[str, list[tuple[int, float]]] = {}
        if combo is None:
            return out
        saved = ((sv.summary.get("event_time") or {}).get(str(combo)) or {}).get("windows") or {}
        for wid, values in saved.items():
            w = self.windows.get(wid, {})
            pre = int(w.get("pre", 0) or 0)
            out[wid] = [(i - pre, float(v) if v is not None else math.nan) for i, v in enumerate(values)]
        return out

    # ------------------------------------------------------------------ gaps
    def window_markets(self, wid: str) -> list[str]:
        """Markets of the symbols traded or benchmarked in a window (its own market first)."""
        own = self.windows.get(wid, {}).get("market")
        found = [own] if own else []
        for sv in self.strategies:
            if wid not in (sv.summary.get("windows") or []):
                continue
            syms = list((sv.summary.get("roles") or {}).values()) + [sv.summary.get("benchmark")]
            for sym in syms:
                m = self.symbols.get(str(sym), {}).get("market")
                if m and m not in found:
                    found.append(m)
        return found

    def window_gaps(self, w: dict[str, Any]) -> list[str]:
        """Weekdays inside a window without a session, per market that mattered to it.

        The window's own market from its saved session closes; the other markets of the symbols
        traded in it from the exchange calendars (holidays, closures such as KRX's Lunar New Year).
        """
        out = []
        try:
            start = pd.Timestamp(w.get("start_utc"))
            end = pd.Timestamp(w.get("end_utc"))
        except (TypeError, ValueError):
            return out
        for market in self.window_markets(str(w.get("id"))):
            if market == "CRYPTO":
                continue
            tz = self.market_tz(market)
            try:
                if market == w.get("market"):
                    closes = pd.DatetimeIndex(pd.to_datetime(w.get("closes_utc") or [], utc=True))
                    have = closes.tz_convert(tz).tz_localize(None).normalize()
                else:
                    from backtests.time.calendars import sessions

                    lo = start.tz_convert(tz).tz_localize(None).normalize()
                    hi = end.tz_convert(tz).tz_localize(None).normalize()
                    have = pd.DatetimeIndex(sessions(market, lo, hi).index)
            except Exception:  # unknown market or no calendar: say nothing rather than guess
                continue
            if len(have) < 2:
                continue
            missing = pd.bdate_range(have[0], have[-1]).difference(have)
            for run in _runs_of_days(missing):
                span = run[0].date().isoformat() if len(run) == 1 else \
                    f"{run[0].date().isoformat()} to {run[-1].date().isoformat()}"
                out.append(f"{market} {span} ({len(run)} weekday{'s' if len(run) > 1 else ''})")
        return out


def _config_costs(manifest: dict[str, Any], symbols: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Cost rates per symbol from a manifest's config, by the engine's precedence (empty when the
    manifest holds no readable costs)."""
    from types import SimpleNamespace

    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    try:
        from backtests.config.model import CostsConfig
        from backtests.engine.costs import BPS, resolve_costs

        costs = CostsConfig.model_validate(cfg.get("costs") or {})
        info = {s: SimpleNamespace(market=str(v.get("market"))) for s, v in symbols.items()}
        resolved = resolve_costs(costs, info, list(info))
    except Exception:  # noqa: BLE001 - a foreign or damaged manifest: no split, said on the page
        return {}
    return {s: {"commission_bps": c.commission / BPS, "sell_tax_bps": c.sell_tax / BPS, "slippage_bps": c.slippage / BPS}
            for s, c in resolved.items()}


def _runs_of_days(days: pd.DatetimeIndex) -> list[list[pd.Timestamp]]:
    """Group weekdays into runs (consecutive business days)."""
    runs: list[list[pd.Timestamp]] = []
    for d in days:
        if runs and len(pd.bdate_range(runs[-1][-1], d)) == 2:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


# ---------------------------------------------------------------------- fills
def fill_kinds(orders: pd.DataFrame, symbol_market: dict[str, str], tz_of: Any = None) -> pd.Series:
    """Open / close / auction / intraday per order: ``fill_kind`` when the engine saved it, else
    inferred from ``fill_time`` against the symbol's session open and close ("open*" etc.: the
    star says inferred). Crypto fills are "bar" (no session)."""
    if orders is None or orders.empty:
        return pd.Series([], dtype=object)
    if "fill_kind" in orders.columns:
        return orders["fill_kind"].astype(str).where(orders["fill_kind"].notna(), "\u2013")
    when = pd.to_datetime(orders["fill_time"] if "fill_time" in orders.columns else orders["time"], utc=True)
    out = pd.Series("\u2013", index=orders.index, dtype=object)
    for sym, idx in orders.groupby("symbol", sort=False).groups.items():
        market = symbol_market.get(str(sym))
        t = pd.DatetimeIndex(when.loc[idx])
        if not market:
            continue
        if market == "CRYPTO":
            out.loc[idx] = "bar*"
            continue
        try:
            from backtests.time.calendars import session_bounds

            local = t.tz_convert(tz_of(market) if tz_of else "UTC").tz_localize(None).normalize()
            opens, closes = session_bounds(market, local)
        except Exception:  # unknown market: leave it undetermined
            continue
        kind = np.where(t == opens, "open*", np.where(t == closes, "close*", "intraday*"))
        out.loc[idx] = kind
    return out
