"""Trades: round trips rebuilt from the fills, each real trade counted once.

One rule decides what a trade is, and everything that counts trades uses it (the pooled record's
``n_trades``, the tearsheet's trade statistics, trade table, fill markers and per-window counts):

* A **trade** opens at a fill after which the run holds a symbol it did not hold (flat to non-zero),
  or holds it the other way round (a flip closes one trade and opens the next), and closes when the
  holding is back to zero (or flips). Adds average its entry price; partial exits average its exit
  price. Times are fill instants (``fill_time``).
* **Counted once.** Episodes of one combination whose windows overlap see the same trigger: two runs
  that open the same symbol at the same fill instant hold one real trade (:func:`openings`,
  :func:`distinct_entries`). Its round trip is kept from the first of those episodes in the study's
  window order, with the windows it was seen in.

Everything here works on the orders table (``run, window, time, fill_time, fill_kind, symbol, side,
size, price, fees``) as the engine wrote it; it is pure pandas/numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtests.jsonfmt import clean_json

TRADE_RULE = ("a trade is a round trip of one symbol in one episode (flat to flat; a flip closes one trade and opens "
              "the next), entry and exit at their fill instants; one opened by two episodes of one combination at the "
              "same fill instant in the same symbol (one trigger seen from overlapping windows) is one trade, kept from "
              "the first of them in the study's window order; returns are price returns in the trade's direction, "
              "before fees")

TRIP_COLUMNS = ["run", "window", "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price", "ret", "fees",
                "size", "entry_decision", "exit_decision", "entry_kind", "exit_kind"]


def holdings(orders: pd.DataFrame) -> pd.DataFrame:
    """Every fill with its run's holding of the symbol before and after it: the one reading of the
    fills that trades, exposure intervals and the periods with a position share.

    Returns
    -------
    pandas.DataFrame
        In (run, symbol, fill) order: ``run``, ``symbol`` (str), ``fill`` (int64 ns UTC), ``kind``
        (``fill_kind``, ``close`` when not saved), ``signed`` (units, + buy), ``before`` and ``after``
        (units held), ``flat_before`` and ``flat_after`` (within ``1e-9`` of the larger of the
        order, the holding and 1 unit).
    """
    cols = ["run", "symbol", "fill", "kind", "signed", "before", "after", "flat_before", "flat_after"]
    if orders is None or not len(orders):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "fill" else bool if c.startswith("flat") else
                                          float if c in ("signed", "before", "after") else object) for c in cols})
    o = pd.DataFrame({"run": orders["run"].astype(str).to_numpy(), "symbol": orders["symbol"].astype(str).to_numpy(),
                      "fill": pd.DatetimeIndex(pd.to_datetime(orders["fill_time"], utc=True)).as_unit("ns").asi8,
                      "kind": (orders["fill_kind"].astype(str).to_numpy() if "fill_kind" in orders.columns
                               else np.full(len(orders), "close", dtype=object)),
                      "signed": np.where(orders["side"].astype(str).str.lower().to_numpy() == "buy", 1.0, -1.0)
                      * np.abs(orders["size"].to_numpy(dtype=float))})
    o = o.sort_values(["run", "symbol", "fill"], kind="stable").reset_index(drop=True)
    after = o.groupby(["run", "symbol"], sort=False)["signed"].cumsum().to_numpy()
    before = after - o["signed"].to_numpy()
    tol = 1e-9 * np.maximum(np.maximum(np.abs(o["signed"].to_numpy()), np.abs(before)), 1.0)
    return o.assign(before=before, after=after, flat_before=np.abs(before) <= tol, flat_after=np.abs(after) <= tol)[cols]


def openings(orders: pd.DataFrame) -> pd.DataFrame:
    """The fills that open a trade (the rule of the module docstring), one row each.

    Returns
    -------
    pandas.DataFrame
        ``run`` (str), ``symbol`` (str), ``fill`` (int64 ns UTC), in (run, symbol, fill) order.
    """
    h = holdings(orders)
    opens = ~h["flat_after"] & (h["flat_before"] | (np.sign(h["before"]) != np.sign(h["after"])))
    return h.loc[opens, ["run", "symbol", "fill"]].reset_index(drop=True)


def distinct_entries(orders: pd.DataFrame | None, run_combo: Mapping[str, int], n_combos: int) -> np.ndarray | None:
    """Trades opened per combination, each real trade counted once across overlapping episodes.

    Two episodes of one combination that open the same symbol at the same fill instant (one trigger
    inside two overlapping windows) hold one real trade. Returns ``None`` without an orders table
    (the caller then sums the engine's per-run counts).
    """
    if orders is None:
        return None
    out = np.zeros(n_combos, dtype=np.int64)
    e = openings(orders)
    if not len(e):
        return out
    e = e.assign(combo=e["run"].map(run_combo)).dropna(subset=["combo"])
    e = e.drop_duplicates(["combo", "symbol", "fill"])
    counts = e.groupby("combo").size()
    out[counts.index.to_numpy(dtype=np.int64)] = counts.to_numpy()
    return out


def round_trips(orders: pd.DataFrame, run_ids: Sequence[str]) -> pd.DataFrame:
    """Pair a set of runs' orders into round trips per (run, symbol) (the module's trade rule).

    ``ret`` is the price return in the trade's direction, before fees. Times are fill instants
    (``fill_time`` when saved, else the order's ``time``); ``entry_decision`` / ``exit_decision`` keep
    the decision stamps and ``entry_kind`` / ``exit_kind`` the fill kind (``fill_kind``, else a
    ``kind`` column, when given). A trade still open at the end of its window has no exit.
    """
    need = {"run", "time", "symbol", "side", "size", "price"}
    if orders is None or orders.empty or not need <= set(orders.columns):
        return pd.DataFrame(columns=TRIP_COLUMNS)
    sub = orders[orders["run"].astype(str).isin(set(map(str, run_ids)))].copy()
    sub["run"] = sub["run"].astype(str)
    sub["decision"] = sub["time"]
    if "fill_time" in sub.columns:
        sub["time"] = sub["fill_time"].where(sub["fill_time"].notna(), sub["time"])
    if "kind" not in sub.columns:
        sub["kind"] = sub["fill_kind"] if "fill_kind" in sub.columns else None
    rows: list[dict[str, Any]] = []
    for (run, sym), g in sub.groupby(["run", "symbol"], sort=False, observed=True):
        rows += _trips_of(g.sort_values("time", kind="stable"), run, sym)
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
    frame = pd.DataFrame(out, columns=TRIP_COLUMNS)
    return frame.sort_values(["entry_time", "symbol"], kind="stable").reset_index(drop=True) if len(frame) else frame


def _trips_of(g: pd.DataFrame, run: str, sym: str) -> list[dict[str, Any]]:
    """The round trips of one run's fills in one symbol, in time order."""
    rows: list[dict[str, Any]] = []
    pos = 0.0
    cur: dict[str, Any] | None = None

    def opened(o: Any, direction: float, qty: float, fee: float) -> dict[str, Any]:
        return {"run": run, "window": getattr(o, "window", None), "symbol": sym, "dir": direction,
                "entry_time": o.time, "eq": qty, "en": qty * float(o.price), "xq": 0.0, "xn": 0.0,
                "exit_time": None, "fees": fee, "entry_decision": o.decision, "entry_kind": o.kind}

    for o in g.itertuples(index=False):
        size = abs(float(o.size))
        if not size or not math.isfinite(size):
            continue
        signed = size if str(o.side).lower() == "buy" else -size
        price, fee = float(o.price), float(getattr(o, "fees", 0.0) or 0.0)
        tol = 1e-9 * max(size, abs(pos), 1.0)
        if cur is None or abs(pos) <= tol:
            cur, pos = opened(o, 1.0 if signed > 0 else -1.0, size, fee), signed
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
                cur = opened(o, -cur["dir"], left, fee * left / size)
            else:
                cur, pos = None, 0.0
    if cur is not None and abs(pos) > 1e-9 * max(abs(pos), 1.0):
        rows.append(cur)  # still open at the end of the window
    return rows


def distinct_trades(trips: pd.DataFrame, run_order: Sequence[str]) -> pd.DataFrame:
    """One row per real trade: round trips of one combination's runs that opened the same symbol at the
    same fill instant are one trade, kept from the first run in ``run_order`` (the study's window
    order). Adds ``windows``: every window the trade was seen in, the kept one first."""
    if trips is None or not len(trips):
        return pd.DataFrame(columns=TRIP_COLUMNS + ["windows"])
    rank = {str(r): k for k, r in enumerate(run_order)}
    t = trips.assign(_rank=trips["run"].astype(str).map(rank).fillna(len(rank)).to_numpy(),
                     _at=pd.DatetimeIndex(pd.to_datetime(trips["entry_time"], utc=True)).as_unit("ns").asi8)
    t = t.sort_values(["_rank", "_at", "symbol"], kind="stable")
    seen = t.groupby(["symbol", "_at"], sort=False)["window"].agg(lambda w: list(dict.fromkeys(map(str, w))))
    kept = t.drop_duplicates(["symbol", "_at"], keep="first")
    kept = kept.assign(windows=[seen[(s, a)] for s, a in zip(kept["symbol"], kept["_at"])])
    kept = kept.sort_values(["_at", "symbol"], kind="stable").drop(columns=["_rank", "_at"])
    return kept.reset_index(drop=True)


def trade_stats(trades: pd.DataFrame) -> dict[str, Any]:
    """Statistics of the closed trades (each counted once): counts, win rate (return > 0 among the
    closed), average win and loss, payoff (average win / -average loss), expectancy (mean return per
    trade, before fees) and ``expectancy_net`` (after each trade's fees over its entry notional),
    best and worst, median and longest holding time in days (entry fill to exit fill)."""
    n = int(len(trades))
    r = pd.to_numeric(trades["ret"], errors="coerce").dropna() if n else pd.Series(dtype=float)
    win, loss = r[r > 0], r[r < 0]
    hold = ((pd.to_datetime(trades["exit_time"], utc=True) - pd.to_datetime(trades["entry_time"], utc=True))
            .dropna().dt.total_seconds() / 86400.0) if n else pd.Series(dtype=float)
    nan = float("nan")
    return clean_json({
        "n_trades": n, "n_closed": int(r.size), "n_open": n - int(r.size),
        "win_rate": float((r > 0).mean()) if r.size else nan,
        "average_win": float(win.mean()) if len(win) else nan, "average_loss": float(loss.mean()) if len(loss) else nan,
        "payoff": float(win.mean() / -loss.mean()) if len(win) and len(loss) else nan,
        "expectancy": float(r.mean()) if r.size else nan,
        "expectancy_net": float(np.nanmean([_net(t) for t in trades.itertuples(index=False) if np.isfinite(t.ret)]))
        if r.size else nan,
        "best": float(r.max()) if r.size else nan, "worst": float(r.min()) if r.size else nan,
        "holding_days_median": float(hold.median()) if len(hold) else nan,
        "holding_days_max": float(hold.max()) if len(hold) else nan,
    })


def _iso(x: Any) -> str | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return None
    return pd.Timestamp(x).tz_convert("UTC").isoformat() if pd.Timestamp(x).tzinfo else \
        pd.Timestamp(x, tz="UTC").isoformat()


def _net(t: Any) -> float:
    """The trade's return net of its fees (fees over the entry notional ``size * entry_price``)."""
    notional = float(t.size) * float(t.entry_price)
    return float(t.ret) - float(t.fees) / notional if notional > 0 else float("nan")


def trade_records(trades: pd.DataFrame) -> list[dict[str, Any]]:
    """The trades as JSON-ready records (instants ISO-8601 UTC)."""
    out = []
    for t in trades.itertuples(index=False):
        out.append(clean_json({
            "run": str(t.run), "window": None if t.window is None else str(t.window), "windows": list(t.windows),
            "symbol": str(t.symbol), "side": t.side, "entry_utc": _iso(t.entry_time),
            "entry_decision_utc": _iso(t.entry_decision), "entry_kind": None if pd.isna(t.entry_kind) else str(t.entry_kind),
            "entry_price": float(t.entry_price), "exit_utc": _iso(t.exit_time),
            "exit_decision_utc": _iso(t.exit_decision),
            "exit_kind": None if t.exit_kind is None or pd.isna(t.exit_kind) else str(t.exit_kind),
            "exit_price": float(t.exit_price), "return": float(t.ret), "net_return": _net(t),
            "fees": float(t.fees), "size": float(t.size)}))
    return out


def trades_block(orders: pd.DataFrame | None, run_order: Sequence[str], windows: Sequence[str]) -> dict[str, Any]:
    """metrics.json ``strategies[].trades[combo]`` for one combination (``run_order``: its runs in the
    study's window order, ``windows`` their window ids): ``rule``, ``trades`` (each real trade once,
    :func:`trade_records`), ``stats`` (:func:`trade_stats`), ``merged`` (round trips that were the same
    trade seen from another window) and ``by_window`` (per window: ``trades`` counted there and
    ``seen_elsewhere``, trades of that episode kept from an earlier window)."""
    trips = round_trips(orders if orders is not None else pd.DataFrame(), list(run_order))
    kept = distinct_trades(trips, list(run_order))
    by_window = {str(w): {"trades": 0, "seen_elsewhere": 0} for w in windows}
    for t in kept.itertuples(index=False):
        if t.window is not None and str(t.window) in by_window:
            by_window[str(t.window)]["trades"] += 1
        for w in list(t.windows)[1:]:
            if w in by_window:
                by_window[w]["seen_elsewhere"] += 1
    return {"rule": TRADE_RULE, "trades": trade_records(kept), "stats": trade_stats(kept),
            "merged": int(len(trips) - len(kept)), "by_window": by_window}
