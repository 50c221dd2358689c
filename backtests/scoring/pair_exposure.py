"""Net and gross exposure of a pair's episodes over time, for the tearsheet (which computes nothing).

For a strategy that declares its legs a pair, a hedged book is the claim: a beta-sized pair whose
long leg is worth 0.3 of equity and short leg 0.7 is net short 40%. This module turns the per-bar
held weights the engine wrote (``weights.parquet``: ``held`` = each asset's value / equity after
the bar) into, per shown combination and episode:

* ``net``  = ``sum_j held_j`` (long minus short, a fraction of equity);
* ``gross`` = ``sum_j |held_j|``;

at every mark of the run's clock (UTC), with the hours from the window's event (``time_utc``), and
the episode's extremes (``net_min``, ``net_max``, ``gross_max``). Written to ``metrics.json``
``strategies[].exposure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.jsonfmt import clean_json

DEFINITION = ("net = sum of the legs' held weights (long minus short, a fraction of equity), gross = sum of their "
              "absolute values, after each bar of the run's clock (weights.parquet `held`); hours are from the "
              "window's event time_utc")


def exposure_view(weights: pd.DataFrame, runs: pd.DataFrame, combos: list[int],
                  events_utc: Mapping[str, pd.Timestamp]) -> dict[str, Any]:
    """Per combination of ``combos`` and window: the episode's net and gross exposure path.

    Parameters
    ----------
    weights
        The strategy's weights table (columns ``run``, ``time``, ``symbol``, ``held``).
    runs
        Its runs table (index: run id; columns ``combo``, ``window``).
    combos
        The combinations shown in detail (best, default).
    events_utc
        ``{window id: event instant}``.

    Returns
    -------
    dict
        ``{"definition": str, "combos": {combo: [episode, ...]}}``; each episode ``window``,
        ``event_utc``, ``time`` (ISO UTC), ``hours`` (from the event), ``net``, ``gross``,
        ``net_min``, ``net_max``, ``gross_max`` (fractions of equity). Episodes without weights are
        left out.
    """
    out: dict[str, Any] = {"definition": DEFINITION, "combos": {}}
    if weights is None or not len(weights) or "held" not in weights:
        return out
    wanted = runs.index[runs["combo"].isin(combos)]
    w = weights[weights["run"].astype(str).isin(wanted)]
    if not len(w):
        return out
    held = w["held"].to_numpy(dtype=float)
    frame = pd.DataFrame({"run": w["run"].astype(str).to_numpy(), "time": pd.DatetimeIndex(w["time"]).as_unit("ns"),
                          "net": held, "gross": np.abs(held)})
    agg = frame.groupby(["run", "time"], sort=True)[["net", "gross"]].sum()
    for combo in combos:
        episodes = []
        for rid, rec in runs[runs["combo"] == combo].iterrows():
            if rid not in agg.index.get_level_values(0):
                continue
            path = agg.loc[rid]
            times = pd.DatetimeIndex(path.index).tz_localize("UTC") if path.index.tz is None else pd.DatetimeIndex(path.index)
            event = events_utc.get(str(rec["window"]))
            hours = ((times - event) / pd.Timedelta(hours=1)).to_numpy() if event is not None else np.full(len(times), np.nan)
            net, gross = path["net"].to_numpy(), path["gross"].to_numpy()
            episodes.append(clean_json({
                "window": str(rec["window"]), "event_utc": event.isoformat() if event is not None else None,
                "time": [t.isoformat() for t in times], "hours": np.round(hours, 4).tolist(),
                "net": np.round(net, 10).tolist(), "gross": np.round(gross, 10).tolist(),
                "net_min": float(net.min()), "net_max": float(net.max()), "gross_max": float(gross.max())}))
        out["combos"][str(combo)] = episodes
    return out
