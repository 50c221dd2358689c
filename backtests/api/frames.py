"""The result frames, read from what a run holds (:class:`~backtests.report.view.SavedRun`).

Every value comes from metrics.json, manifest.json or the run's tables as scoring and the output
stage wrote them, read where the tearsheet reads it (the verdict's rows and JSON pointers from
:mod:`backtests.report.verdict`, the pooled series through :func:`backtests.report.view.pooled_long`);
nothing is recomputed. A run kept in memory and the same run read back from its folder hold the
same documents and tables, so they give the same frames. Columns, dtypes and units:
:mod:`backtests.api.columns` (docs/api.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.api.columns import EVENT_LEVEL, FRAMES, METRIC_COLUMNS, Column
from backtests.report.readings import Reader
from backtests.report.view import SavedRun, StudyView, pooled_long


def typed(frame: str, rows: Iterable[Mapping[str, Any]] | pd.DataFrame, extra: Iterable[Column] = ()) -> pd.DataFrame:
    """A frame with exactly the declared columns (plus ``extra``), in order, with their dtypes."""
    columns = list(FRAMES[frame])
    extra = list(extra)
    if frame == "runs":  # metric columns between params and nan_reasons
        columns = columns[:-1] + extra + columns[-1:]
    else:
        columns += extra
    data = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(list(rows))
    out = {}
    for c in columns:
        values = data[c.name] if c.name in data.columns else pd.Series([None] * len(data), index=data.index)
        out[c.name] = _as(values, c.dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(len(data)))


def _as(values: pd.Series, dtype: str) -> pd.Series:
    values = values.reset_index(drop=True)
    if dtype == "object":
        return values.astype(object).where(values.notna(), None)
    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(values, utc=True, format="ISO8601"), dtype=dtype) if len(values) else \
            pd.Series([], dtype=dtype)
    if dtype in ("Int64", "float64"):
        numeric = pd.to_numeric(values.astype(object).where(values.notna(), np.nan), errors="coerce")
        return numeric.astype(dtype)
    if dtype == "boolean":
        return values.astype(object).where(values.notna(), pd.NA).astype("boolean")
    text = [None if v is None else str(v) for v in values.astype(object).where(values.notna(), None)]
    return pd.Series(text, dtype="str")


def _metric_columns(scope: str, records: list[Mapping[str, Any]]) -> list[Column]:
    """One column per registry metric of ``scope`` (Int64 for counts), then any other key found."""
    from backtests.scoring import registry

    keys = [m.key for m in registry.METRICS if scope in m.scope]
    seen = {k for r in records for k in (r or {})}
    keys += sorted(seen - set(keys))
    out = []
    for k in keys:
        m = registry.get(k)
        out.append(Column(k, "Int64" if m is not None and m.fmt == "count" else "float64", m.unit if m else "", ""))
    return out


# ---------------------------------------------------------------------- verdict
def verdict_frame(saved: SavedRun) -> pd.DataFrame:
    """One row per strategy the verdict shows and per baseline row under it, in the page's order."""
    from backtests.report.verdict import baseline_rows, chosen, verdict_rows

    view = StudyView(saved)
    read = Reader(view.metrics).get
    rows = []
    for r in verdict_rows(view):
        sv, si, combo, pi = r["sv"], r["si"], r["combo"], r["pi"]
        row = {"strategy": sv.label, "row": "strategy", "label": sv.label, "combo": combo,
               "chosen": chosen(sv, combo) if combo is not None else None, "params": sv.params(combo) or None,
               "n_warnings": view.warning_count(sv.label)}
        if si is not None and combo is not None:
            row.update(_event_level(read(f"/strategies/{si}/event_level/{combo}")))
            loco = read(f"/strategies/{si}/oos/loco") or {}
            row.update({"loco_mean": loco.get("mean"), "loco_in_sample_mean": loco.get("in_sample_mean"),
                        "loco_win_rate": loco.get("win_rate"), "gap": loco.get("gap"),
                        "pbo": read(f"/strategies/{si}/pbo")})
            trust = read(f"/pooled/{pi}/trust") if pi is not None else None
            if isinstance(trust, dict):
                row.update({k: trust.get(k) for k in ("dsr", "n_trials", "n_trials_raw")})
        rows.append(row)
        for b in baseline_rows(view, r):
            base = {"strategy": sv.label, "row": b["kind"], "label": b["label"], "combo": b["combo"],
                    "chosen": row["chosen"], "params": row["params"], **_event_level(read(b["pointer"]))}
            if b["kind"] == "buy_and_hold":
                hold = next((h for h in view.strategies if h.label == b["strategy"]), None)
                base.update({"chosen": chosen(hold, b["combo"]) if hold else None,
                             "params": hold.params(b["combo"]) if hold else None,
                             "n_warnings": view.warning_count(b["strategy"])})
            rows.append(base)
    return typed("verdict", rows)


def _event_level(el: Any) -> dict[str, Any]:
    if not isinstance(el, dict):
        return {}
    out = {c.name: el.get(c.name) for c in EVENT_LEVEL}
    if "n_excluded" not in el and "n_events" in el:
        out["n_excluded"] = None  # a run written before exclusions were recorded
    return out


# ---------------------------------------------------------------------- episodes
def episodes_frame(saved: SavedRun) -> pd.DataFrame:
    """Per strategy and shown parameter set, one row per event (window), and the same events of its
    matched and contract baselines: what metrics.json ``event_level[].episodes`` holds."""
    from backtests.report.verdict import chosen

    view = StudyView(saved)
    windows = view.windows
    rows: list[dict[str, Any]] = []

    def add(sv: Any, row: str, combo: int | None, episodes: Any) -> None:
        for e in episodes if isinstance(episodes, list) else []:
            if not isinstance(e, dict):
                continue
            w = windows.get(str(e.get("window")), {})
            rows.append({**e, "strategy": sv.label, "row": row, "combo": combo,
                         "chosen": chosen(sv, combo) if combo is not None else None,
                         "params": sv.params(combo) or None if combo is not None else None,
                         "event_date": w.get("event_date"), "market": w.get("market")})

    for sv in view.strategies:
        for key, el in sorted((sv.summary.get("event_level") or {}).items(), key=lambda kv: int(kv[0])):
            add(sv, "strategy", int(key), (el or {}).get("episodes"))
            matched = ((sv.summary.get("matched_baseline") or {}).get(key) or {}).get("event_level") or {}
            add(sv, "matched", int(key), matched.get("episodes"))
        contract = ((sv.summary.get("baseline") or {}).get("event_level") or {})
        add(sv, "contract", None, contract.get("episodes"))
    return typed("episodes", rows)


# ---------------------------------------------------------------------- pooled, sweep
def pooled_frame(saved: SavedRun) -> pd.DataFrame:
    """pooled.parquet, one row per (strategy, parameter set, period end) with the pooled benchmark."""
    records = {str(p.get("id")): p for p in saved.metrics.get("pooled") or [] if isinstance(p, dict)}
    long = pooled_long(saved.pooled)
    ids = long["id"].astype(str)
    frame = long.assign(id=ids, strategy=ids.map(lambda i: (records.get(i) or {}).get("strategy")),
                        combo=ids.map(lambda i: (records.get(i) or {}).get("combo")))
    bench = saved.pooled_benchmark
    if bench is not None and len(frame):
        values = np.full(len(frame), np.nan)
        for label, idx in frame.groupby("strategy", sort=False).groups.items():
            if label in bench.columns:
                values[frame.index.get_indexer(idx)] = bench[label].reindex(pd.DatetimeIndex(frame.loc[idx, "time"])).to_numpy(dtype=float)
        frame["benchmark"] = values
    return typed("pooled", frame)


def sweep_frame(saved: SavedRun) -> pd.DataFrame:
    """metrics.json ``pooled``: one row per strategy and parameter set, its trust and pooled metrics."""
    records = [p for p in saved.metrics.get("pooled") or [] if isinstance(p, dict)]
    rows = [{**(p.get("metrics") or {}), "strategy": p.get("strategy"), "combo": p.get("combo"), "id": p.get("id"),
             "params": p.get("params"), "is_default": p.get("is_default"), "n_identical": p.get("n_identical"),
             **{k: (p.get("trust") or {}).get(k) for k in ("rank", "dsr", "n_trials", "pbo")}} for p in records]
    return typed("sweep", rows, _metric_columns("pooled", [p.get("metrics") for p in records]))


# ---------------------------------------------------------------------- runs, orders, weights
def _run_records(saved: SavedRun) -> list[dict[str, Any]]:
    """Every run: runs.parquet for a large sweep (metrics.json keeps its top runs only), else
    metrics.json ``runs``; ``params`` and ``nan_reasons`` as dicts either way."""
    table = saved.runs
    if saved.metrics.get("runs_file") and table is not None:
        meta = {"id", "strategy", "strategy_name", "combo", "window", "first_fill_utc", "params", "nan_reasons"}
        out = []
        for rec in table.to_dict("records"):
            head = {k: rec.get(k) for k in meta}
            for k in ("params", "nan_reasons"):  # JSON text (plain data, parsed, never evaluated)
                head[k] = json.loads(head[k]) if isinstance(head[k], str) else head[k]
            head["metrics"] = {k: v for k, v in rec.items() if k not in meta}
            out.append(head)
        return out
    return [r for r in saved.metrics.get("runs") or [] if isinstance(r, dict)]


def runs_frame(saved: SavedRun) -> pd.DataFrame:
    records = _run_records(saved)
    rows = [{**(r.get("metrics") or {}), **{k: v for k, v in r.items() if k != "metrics"}} for r in records]
    return typed("runs", rows, _metric_columns("runs", [r.get("metrics") for r in records]))


def _of_run(saved: SavedRun, frame: pd.DataFrame | None) -> pd.DataFrame:
    """A run-keyed table with each run's strategy and parameter set beside it."""
    if frame is None:
        return pd.DataFrame()
    runs = {str(r.get("id")): r for r in _run_records(saved)}
    ids = frame["run"].astype(str) if "run" in frame.columns else pd.Series([], dtype=str)
    return frame.reset_index(drop=True).assign(
        run=ids.to_numpy(), strategy=ids.map(lambda i: (runs.get(i) or {}).get("strategy")).to_numpy(),
        combo=ids.map(lambda i: (runs.get(i) or {}).get("combo")).to_numpy())


def orders_frame(saved: SavedRun) -> pd.DataFrame:
    return typed("orders", _of_run(saved, saved.orders))


def weights_frame(saved: SavedRun) -> pd.DataFrame:
    return typed("weights", _of_run(saved, saved.weights))


# ---------------------------------------------------------------------- warnings, audit, data
def warnings_frame(saved: SavedRun) -> pd.DataFrame:
    return typed("warnings", [w for w in saved.metrics.get("warnings") or [] if isinstance(w, dict)])


def audit_frame(saved: SavedRun) -> pd.DataFrame:
    """manifest.json ``audit``: one row per strategy audited (none when the audit was skipped)."""
    audit = saved.manifest.get("audit") if isinstance(saved.manifest.get("audit"), dict) else {}
    return typed("audit", [r for r in audit.get("strategies") or [] if isinstance(r, dict)])


def data_frame(saved: SavedRun) -> pd.DataFrame:
    """metrics.json ``data.symbols`` with each symbol's fingerprint (manifest.json)."""
    data = saved.metrics.get("data") or {}
    prints = saved.manifest.get("data_fingerprints") or {}
    rows = [{**s, "fingerprint": prints.get(s.get("symbol"))} for s in data.get("symbols") or [] if isinstance(s, dict)]
    frame = typed("data", rows)
    frame.attrs.update({"fingerprint": data.get("fingerprint"), "synthetic": bool(data.get("synthetic")),
                        "label": data.get("label"), "source": data.get("source"), "frequency": data.get("frequency")})
    return frame


BUILDERS = {"verdict": verdict_frame, "episodes": episodes_frame, "pooled": pooled_frame, "sweep": sweep_frame,
            "runs": runs_frame, "orders": orders_frame, "weights": weights_frame, "warnings": warnings_frame,
            "audit": audit_frame, "data": data_frame}
