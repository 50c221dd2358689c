"""What a pair study's run folder shows about short-sale bans and legging around the events.

    python scripts/pair_checks.py RUN_DIR [--strategy LABEL]

Reads ``orders.parquet`` and ``metrics.json`` (nothing is re-simulated) and prints, per traded symbol:

* ``short_entries``: sells that open or add to a short position (the position in units after the
  fill is negative and below the one before), and ``inside_bans``: those whose fill date the dated
  bans forbid (:func:`backtests.exchange.shortable`, with the built-in index membership);
* per pair episode (run): ``straddling`` the runs whose legs' first fills lie on both sides of the
  window's event (one leg before the news, the other after), out of ``runs_traded``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def check(run_dir: Path, strategy: str | None = None) -> dict[str, Any]:
    """The figures above for one run folder (one strategy: ``strategy``, or the first paired one)."""
    from backtests.exchange import shortable

    metrics = json.loads((run_dir / "metrics.json").read_text())
    strategies = metrics["strategies"]
    s = next(x for x in strategies if (x["label"] == strategy if strategy else x.get("execution", {}).get("paired")))
    symbols = s["execution"]["symbols"]
    ids = {r["id"] for r in metrics["runs"] if r["strategy"] == s["label"]}
    events = {w["id"]: pd.Timestamp(w["event_time_utc"]).value for w in metrics["windows"]}
    o = pd.read_parquet(run_dir / "orders.parquet")
    o = o[o["run"].astype(str).isin(ids)].copy()
    o["run"] = o["run"].astype(str)
    o["fill"] = pd.DatetimeIndex(o["fill_time"]).as_unit("ns").asi8
    o = o.sort_values(["run", "fill"], kind="stable")
    signed = np.where(o["side"] == "buy", o["size"], -o["size"])
    o["after"] = pd.Series(signed, index=o.index).groupby([o["run"], o["symbol"]]).cumsum()
    o["before"] = o["after"] - signed
    out: dict[str, Any] = {"strategy": s["label"], "legs": s["execution"]["legs"], "symbols": {}}
    for sym, spec in symbols.items():
        mine = o[o["symbol"] == sym]
        entry = (mine["side"] == "sell") & (mine["after"] < -1e-9) & (mine["after"] < mine["before"] - 1e-9)
        fills = mine.loc[entry, "fill"].to_numpy(dtype=np.int64)
        banned = ~shortable(sym, spec["market"], fills) if len(fills) else np.zeros(0, dtype=bool)
        out["symbols"][sym] = {"short_entries": int(entry.sum()), "inside_bans": int(banned.sum())}
    first = o.groupby(["run", "symbol"])["fill"].min().unstack("symbol")
    window = o.groupby("run")["window"].first()
    both = first.dropna()
    e = np.array([events[w] for w in window.loc[both.index]], dtype=np.int64)
    lo, hi = both.min(axis=1).to_numpy(dtype=np.int64), both.max(axis=1).to_numpy(dtype=np.int64)
    out["runs_traded"] = int(len(first))
    out["runs_both_legs"] = int(len(both))
    out["straddling"] = int(((lo < e) & (hi > e)).sum())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--strategy")
    args = ap.parse_args(argv)
    print(json.dumps(check(args.run_dir, args.strategy), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
