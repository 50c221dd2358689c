"""The real KRX shocks placed in the scenario parameter space (for overlays on scenario surfaces).

One row per KOSPI shock day (:func:`backtests.scenarios.calibrate.shock_days`) and per KOSDAQ
level-1 circuit breaker of the catalogue, with what daily data can measure in the generator's
units: ``depth`` (``1 - low / previous close``), ``open_gap``, ``rebound`` (``(close - low) / (open
- low)``: the share of the fall from the open recovered by the close), ``close_return``, and the
recorded halt time. Where only closes exist, ``depth`` is NaN and ``depth_at_least`` gives what the
rules prove for a recorded halt day (the level-1 decline in force: 10% before 2015-06-15, 8% since).
Daily data cannot give the time of the trough: ``time_to_trough`` is always NaN; the recorded halt
time is the instant the fall reached the level-1 decline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.exchange.rules import krx_cb_regime
from backtests.scenarios.calibrate import daily_measures, read_daily, read_ohlc, shock_days
from backtests.scenarios.params import clock_minutes

COLUMNS = ["date", "index", "kind", "halt_time_kst", "halt_minutes", "open_gap", "depth", "depth_at_least",
           "rebound", "close_return", "time_to_trough", "split", "source"]


def halt_minutes(clock: str, open_minutes: float = 9 * 60) -> float:
    """A recorded halt time (``HH:MM[:SS]``, possibly ``~HH:MM``) as minutes after a 09:00 open;
    NaN when none was recorded."""
    t = str(clock).strip().lstrip("~")
    return float("nan") if not t or t == "nan" else clock_minutes(t) - open_minutes


def _kosdaq_close(data_dir: Path) -> pd.Series:
    path = data_dir / "equities/close_only/KOSDAQ_KQ11.csv"
    f = pd.read_csv(path)
    s = pd.Series(pd.to_numeric(f["close"], errors="coerce").to_numpy(), index=pd.to_datetime(f["date"]))
    return s[s > 0].dropna()


def real_events(data_dir: Path | str) -> pd.DataFrame:
    """The real shocks as a table in the generator's units (see the module docstring).

    Columns: ``date`` (local), ``index`` (KOSPI/KOSDAQ), ``kind`` (``circuit_breaker_level1`` or
    ``drop``), ``halt_time_kst``, ``halt_minutes`` (after the 09:00 open), ``open_gap``, ``depth``,
    ``depth_at_least``, ``rebound``, ``close_return`` (fractions), ``time_to_trough`` (NaN),
    ``split`` (calibration/holdout, KOSPI), ``source``.
    """
    data_dir = Path(data_dir)
    days = shock_days(data_dir)
    k = read_daily(data_dir, "^KS11")
    try:
        o = read_ohlc(data_dir, "^KS11")
    except Exception:  # noqa: BLE001 - the OHLC file is optional for this table
        o = pd.DataFrame(columns=["open", "high", "low", "close", "prev"])
    cat = pd.read_csv(data_dir / "events/krx_circuit_breakers.csv")
    cb = cat[cat["kind"] == "circuit_breaker_level1"]
    rows = []
    for d, rec in days.iterrows():
        hit = cb[(cb["market"] == "KOSPI") & (pd.to_datetime(cb["date"]) == d)]
        rows.append(_row(d, "KOSPI", hit, o, k, rec["split"]))
    kq = _kosdaq_close(data_dir)
    for _, rec in cb[cb["market"] == "KOSDAQ"].iterrows():
        d = pd.Timestamp(rec["date"])
        rows.append(_row(d, "KOSDAQ", cb[(cb["market"] == "KOSDAQ") & (pd.to_datetime(cb["date"]) == d)],
                         pd.DataFrame(columns=o.columns), kq, ""))
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["date", "index"]).reset_index(drop=True)


def _row(d: pd.Timestamp, index: str, hit: pd.DataFrame, o: pd.DataFrame, closes: pd.Series, split: str) -> dict:
    halted = len(hit) > 0
    clock = str(hit["time_kst"].iloc[0]) if halted and pd.notna(hit["time_kst"].iloc[0]) else ""
    pos = closes.index.searchsorted(d)
    close_ret = float(closes.iloc[pos] / closes.iloc[pos - 1] - 1) if 0 < pos < len(closes) and closes.index[pos] == d \
        else float("nan")
    row = {"date": d, "index": index, "kind": "circuit_breaker_level1" if halted else "drop",
           "halt_time_kst": clock, "halt_minutes": halt_minutes(clock), "open_gap": np.nan, "depth": np.nan,
           "depth_at_least": np.nan, "rebound": np.nan, "close_return": close_ret, "time_to_trough": np.nan,
           "split": split, "source": "; ".join(hit["source"].astype(str)) if halted else "close-to-close data"}
    if d in o.index:
        m = daily_measures(o.loc[[d]]).iloc[0]
        row.update(open_gap=m["open_gap"], depth=m["depth"], rebound=m["rebound"])
    if halted:
        reg = krx_cb_regime(d, index)
        if reg is not None:
            row["depth_at_least"] = min(lv.decline for lv in reg.levels)
    return row


__all__ = ["real_events", "COLUMNS"]
