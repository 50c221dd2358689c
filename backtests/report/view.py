"""Derive what the tearsheet shows from the saved results (no rendering here).

Input is exactly what a run folder holds (metrics.json as a dict, returns/benchmark as wide
frames keyed by run id, orders as a long frame), so ``scare run`` and ``scare report`` draw the
same page. Every function tolerates missing pieces (returns None or an empty result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

MARKET_TZ = {"XKRX": "Asia/Seoul", "XNYS": "America/New_York", "CRYPTO": "UTC"}
BASELINE_PLUGINS = frozenset({"buy_and_hold"})
MARKET_PPY = {"XKRX": 252.0, "XNYS": 252.0, "CRYPTO": 365.0}


def periods_per_year(market: str | None, frequency: str | None) -> float:
    """Periods per year of a market at a bar frequency (backtests.time.calendars when it knows it)."""
    try:
        from backtests.time.calendars import periods_per_year as ppy

        return float(ppy(market or "XNYS", frequency or "1D"))
    except Exception:  # unknown market in an old or foreign run folder: fall back
        return MARKET_PPY.get(market or "", 252.0)


def market_tz(market: str | None) -> str:
    try:
        from backtests.time.calendars import get_market

        return get_market(market or "").tz
    except Exception:
        return MARKET_TZ.get(market or "", "UTC")


@dataclass
class Chain:
    """A combination's windows chained in time order (as the pooled metrics are)."""

    returns: np.ndarray  # (n,) period returns
    times: pd.DatetimeIndex  # (n,) UTC period ends
    windows: list[str]  # (n,) window id per period
    starts: list[tuple[int, str]]  # (position, window id) where each window begins
    benchmark: np.ndarray | None = None

    @property
    def equity(self) -> np.ndarray:
        return np.cumprod(1.0 + np.nan_to_num(self.returns))

    @property
    def bench_equity(self) -> np.ndarray | None:
        return None if self.benchmark is None else np.cumprod(1.0 + np.nan_to_num(self.benchmark))


def underwater(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak; starting wealth 1 counts as a peak (docs/metrics.md)."""
    if not len(equity):
        return equity
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    return equity / peak - 1.0


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


def _per_run(benchmark: pd.DataFrame, metrics: dict[str, Any]) -> pd.DataFrame:
    """benchmark.parquet holds one column per ``"<strategy>|<window>"`` (scare 0.2); index it by run id.

    A file with one column per run id (scare 0.1) is returned as it is.
    """
    runs = [r for r in metrics.get("runs") or [] if isinstance(r, dict)]
    pairs = [(str(r.get("id")), f"{r.get('strategy')}|{r.get('window')}") for r in runs]
    pairs = [(rid, col) for rid, col in pairs if col in benchmark.columns and rid not in benchmark.columns]
    if not pairs:
        return benchmark
    values = benchmark[[col for _, col in pairs]].to_numpy(dtype=float)
    return pd.DataFrame(values, index=benchmark.index, columns=[rid for rid, _ in pairs])


class StudyView:
    """Indexes over metrics.json plus the return tables."""

    def __init__(self, metrics: dict[str, Any], returns: pd.DataFrame | None, benchmark: pd.DataFrame | None):
        self.metrics = metrics
        self.returns = returns if returns is not None else pd.DataFrame()
        self.benchmark = _per_run(benchmark, metrics) if benchmark is not None and len(benchmark.columns) else None
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

    # ------------------------------------------------------------------ time
    def ppy(self, sv: StrategyView) -> float:
        if sv.summary.get("periods_per_year"):  # the strategy's clock, as scoring annualized it
            return float(sv.summary["periods_per_year"])
        markets = [self.windows.get(r.get("window"), {}).get("market") for rs in list(sv.runs.values())[:1] for r in rs]
        markets = [m for m in markets if m]
        market = max(set(markets), key=markets.count) if markets else None
        return periods_per_year(market, self.data.get("frequency"))

    def symbol_tz(self, symbol: str) -> str:
        return market_tz(self.symbols.get(symbol, {}).get("market"))

    # ------------------------------------------------------------------ series
    def chain(self, sv: StrategyView, combo: int | None) -> Chain | None:
        """The combo's per-window returns chained by each window's first period (ties: run order)."""
        if combo is None or combo not in sv.runs or self.returns.empty:
            return None
        parts = []
        for order, run in enumerate(sv.runs[combo]):
            rid = str(run.get("id"))
            if rid not in self.returns.columns:
                continue
            r = self.returns[rid].dropna()
            if r.empty:
                continue
            b = None
            if self.benchmark is not None and rid in self.benchmark.columns:
                b = self.benchmark[rid].reindex(r.index).to_numpy(dtype=float)
            parts.append((r.index[0], order, str(run.get("window")), r, b))
        if not parts:
            return None
        parts.sort(key=lambda p: (p[0], p[1]))
        rets, times, wins, starts, bench = [], [], [], [], []
        pos = 0
        has_bench = all(p[4] is not None for p in parts)
        for _, _, wid, r, b in parts:
            starts.append((pos, wid))
            rets.append(r.to_numpy(dtype=float))
            times.append(r.index)
            wins.extend([wid] * len(r))
            if has_bench:
                bench.append(b)
            pos += len(r)
        idx = times[0].append(times[1:]) if len(times) > 1 else times[0]
        return Chain(np.concatenate(rets), pd.DatetimeIndex(idx), wins, starts,
                     np.concatenate(bench) if has_bench else None)

    def event_time(self, sv: StrategyView, combo: int | None) -> dict[str, list[tuple[int, float]]]:
        """{window id: [(t, cumulative return at the close of session t)]} for a combo.

        Uses metrics.json's event_time view when it has the combo; otherwise derives it from the
        run returns (any bar frequency: the last cumulative value at or before each session close).
        """
        out: dict[str, list[tuple[int, float]]] = {}
        if combo is None:
            return out
        saved = ((sv.summary.get("event_time") or {}).get(str(combo)) or {}).get("windows") or {}
        for wid, values in saved.items():
            w = self.windows.get(wid, {})
            pre = int(w.get("pre", 0) or 0)
            out[wid] = [(i - pre, float(v) if v is not None else math.nan) for i, v in enumerate(values)]
        if out:
            return out
        for run in sv.runs.get(combo, []):
            rid, wid = str(run.get("id")), str(run.get("window"))
            w = self.windows.get(wid)
            if not w or rid not in self.returns.columns:
                continue
            r = self.returns[rid].dropna()
            closes = pd.DatetimeIndex(pd.to_datetime(w.get("closes_utc") or [], utc=True))
            if r.empty or closes.empty:
                continue
            cum = (1.0 + r).cumprod() - 1.0
            at = cum.reindex(cum.index.union(closes)).ffill().reindex(closes)
            pre = int(w.get("pre", 0) or 0)
            out[wid] = [(i - pre, float(v)) for i, v in enumerate(at.to_numpy(dtype=float))]
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
            tz = market_tz(market)
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


def _runs_of_days(days: pd.DatetimeIndex) -> list[list[pd.Timestamp]]:
    """Group weekdays into runs (consecutive business days)."""
    runs: list[list[pd.Timestamp]] = []
    for d in days:
        if runs and len(pd.bdate_range(runs[-1][-1], d)) == 2:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


# ---------------------------------------------------------------------- trades
def round_trips(orders: pd.DataFrame, run_ids: list[str]) -> pd.DataFrame:
    """Pair a set of runs' orders into round trips per (run, symbol).

    A trade opens when a position leaves zero and closes when it returns to zero (a flip closes
    one trade and opens the next). Adds to a position average its entry price; partial exits
    average its exit price. ``ret`` is the price return in the trade's direction, before fees.
    Times are fill instants (``fill_time`` when saved, else the order's ``time``); ``entry_decision``
    / ``exit_decision`` keep the decision stamps and ``entry_kind`` / ``exit_kind`` the fill kind
    (a ``kind`` column of ``orders``, when given).
    """
    cols = ["run", "window", "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price",
            "ret", "fees", "size", "entry_decision", "exit_decision", "entry_kind", "exit_kind"]
    need = {"run", "time", "symbol", "side", "size", "price"}
    if orders is None or orders.empty or not need <= set(orders.columns):
        return pd.DataFrame(columns=cols)
    sub = orders[orders["run"].astype(str).isin(set(run_ids))].copy()
    sub["decision"] = sub["time"]
    if "fill_time" in sub.columns:
        sub["time"] = sub["fill_time"].where(sub["fill_time"].notna(), sub["time"])
    if "kind" not in sub.columns:
        sub["kind"] = None
    rows: list[dict[str, Any]] = []
    for (run, sym), g in sub.groupby(["run", "symbol"], sort=False):
        g = g.sort_values("time", kind="stable")
        pos = 0.0
        cur: dict[str, Any] | None = None
        for o in g.itertuples(index=False):
            size = abs(float(o.size))
            if not size or not math.isfinite(size):
                continue
            signed = size if str(o.side).lower() == "buy" else -size
            price, fee = float(o.price), float(getattr(o, "fees", 0.0) or 0.0)
            tol = 1e-9 * max(size, abs(pos), 1.0)
            if cur is None or abs(pos) <= tol:
                cur = {"run": run, "window": getattr(o, "window", None), "symbol": sym,
                       "dir": 1.0 if signed > 0 else -1.0, "entry_time": o.time, "eq": size,
                       "en": size * price, "xq": 0.0, "xn": 0.0, "exit_time": None, "fees": fee,
                       "entry_decision": o.decision, "entry_kind": o.kind}
                pos = signed
                continue
            if signed * cur["dir"] > 0:  # adding
                cur["eq"] += size
                cur["en"] += size * price
                cur["fees"] += fee
                pos += signed
                continue
            closed = min(size, abs(pos))
            cur["xq"] += closed
            cur["xn"] += closed * price
            cur["fees"] += fee * closed / size
            pos += signed
            if abs(pos) <= tol or pos * cur["dir"] < 0:
                cur["exit_time"] = o.time
                cur["exit_decision"], cur["exit_kind"] = o.decision, o.kind
                rows.append(cur)
                left = size - closed
                if left > tol:
                    cur = {"run": run, "window": getattr(o, "window", None), "symbol": sym,
                           "dir": -cur["dir"], "entry_time": o.time, "eq": left, "en": left * price,
                           "xq": 0.0, "xn": 0.0, "exit_time": None, "fees": fee * left / size,
                           "entry_decision": o.decision, "entry_kind": o.kind}
                else:
                    cur, pos = None, 0.0
        if cur is not None and abs(pos) > 1e-9 * max(abs(pos), 1.0):
            rows.append(cur)  # still open at the end of the window
    out = []
    for t in rows:
        entry = t["en"] / t["eq"] if t["eq"] else math.nan
        exit_ = t["xn"] / t["xq"] if t["xq"] and t["exit_time"] is not None else math.nan
        ret = t["dir"] * (exit_ / entry - 1.0) if entry and math.isfinite(exit_) else math.nan
        out.append({"run": t["run"], "window": t["window"], "symbol": t["symbol"],
                    "side": "long" if t["dir"] > 0 else "short", "entry_time": t["entry_time"],
                    "entry_price": entry, "exit_time": t["exit_time"], "exit_price": exit_, "ret": ret,
                    "fees": t["fees"], "size": t["eq"], "entry_decision": t.get("entry_decision"),
                    "exit_decision": t.get("exit_decision"), "entry_kind": t.get("entry_kind"),
                    "exit_kind": t.get("exit_kind")})
    frame = pd.DataFrame(out, columns=cols)
    return frame.sort_values(["entry_time", "symbol"], kind="stable").reset_index(drop=True) if len(frame) else frame


# ---------------------------------------------------------------------- calendar time
def calendar_chain(returns: pd.DataFrame, benchmark: pd.DataFrame | None, runs: list[dict[str, Any]]) -> Chain | None:
    """A combination's runs as one calendar-time series (the pooling of docs/metrics.md).

    Each UTC period appears once; where windows overlap, the period's return is the equal-capital
    average of the concurrent windows' returns; periods in no window are not periods. ``windows``
    names the window(s) open in each period (``a + b`` when they overlap); ``starts`` marks where
    each window's first period falls.
    """
    cols = [str(r.get("id")) for r in runs if str(r.get("id")) in returns.columns]
    if not cols:
        return None
    sub = returns[cols]
    live = sub.notna()
    keep = live.any(axis=1).to_numpy()
    if not keep.any():
        return None
    sub, live = sub[keep], live[keep]
    ret = sub.mean(axis=1, skipna=True).to_numpy(dtype=float)
    win_of = {str(r.get("id")): str(r.get("window")) for r in runs}
    if len(cols) > 1:
        wins = np.array([win_of[c] for c in cols], dtype=object)
        names = [" + ".join(wins[row]) for row in live.to_numpy()]
    else:
        names = [win_of[cols[0]]] * len(sub)
    first = {c: int(np.argmax(live[c].to_numpy())) for c in cols if live[c].any()}
    starts = sorted({(pos, win_of[c]) for c, pos in first.items()})
    dedup: dict[int, str] = {}
    for pos, wid in starts:
        dedup[pos] = f"{dedup[pos]} + {wid}" if pos in dedup else wid
    bench = None
    if benchmark is not None and all(c in benchmark.columns for c in cols):
        b = benchmark[cols][keep].where(live)
        bench = b.mean(axis=1, skipna=True).to_numpy(dtype=float)
    return Chain(ret, pd.DatetimeIndex(sub.index), names, sorted(dedup.items()), bench)


def drawdown_periods(equity: np.ndarray, times: pd.DatetimeIndex, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` deepest drawdowns of an equity curve (wealth, starting at 1 before the first period).

    Each: ``start`` (last peak before it, None = the start), ``trough``, ``end`` (first period back
    at the peak, None = not recovered), ``depth`` (fraction, negative), ``periods`` (peak to
    recovery, or to the last period).
    """
    if not len(equity):
        return []
    wealth = np.concatenate([[1.0], equity])
    peak = np.maximum.accumulate(wealth)
    under = wealth < peak * (1 - 1e-12)
    out: list[dict[str, Any]] = []
    i, n = 1, len(wealth)
    while i < n:
        if not under[i]:
            i += 1
            continue
        s = i - 1  # index of the peak in `wealth`
        j = i
        while j < n and under[j]:
            j += 1
        seg = wealth[i:j] / peak[i:j] - 1.0
        k = i + int(np.argmin(seg))
        out.append({"start": times[s - 1] if s >= 1 else None, "trough": times[k - 1],
                    "end": times[j - 1] if j < n else None, "depth": float(seg.min()),
                    "periods": (j - s) if j < n else (n - 1 - s)})
        i = j
    out.sort(key=lambda d: d["depth"])
    return out[:top]


# ---------------------------------------------------------------------- fills
def fill_kinds(orders: pd.DataFrame, symbol_market: dict[str, str]) -> pd.Series:
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

            local = t.tz_convert(market_tz(market)).tz_localize(None).normalize()
            opens, closes = session_bounds(market, local)
        except Exception:  # unknown market: leave it undetermined
            continue
        kind = np.where(t == opens, "open*", np.where(t == closes, "close*", "intraday*"))
        out.loc[idx] = kind
    return out
