"""The documents of a run folder: metrics.json, manifest.json and the data summary inside both."""

from __future__ import annotations

import hashlib
import platform
import sys
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from backtests.data.market_data import MarketData
from backtests.errors import DataError
from backtests.exchange.schedule import schedule
from backtests.exchange.states import State
from backtests.notices import Notice, data_notice, merge
from backtests.outputs.folder import RUN_FILES
from backtests.sweep.results import StudyResult
from backtests.time.calendars import get_market

SCHEMA_VERSION = 1
#: Above this many runs in a study, ``metrics.json`` keeps the run records of each strategy's
#: ranked top, best and default combinations only, and every run goes to ``runs.parquet``.
RUNS_IN_JSON_MAX = 10_000
RUNS_FILE = "runs.parquet"


def data_fingerprint(data: MarketData, states: dict[str, str] | None = None) -> str:
    """One SHA-256 over the per-symbol fingerprints and, when given, the exchange states derived
    from the data (``{strategy label: state digest}``): identifies the data a run used."""
    fp = data.fingerprint()
    text = "".join(f"{k}:{v};" for k, v in sorted(fp.items()))
    text += "".join(f"state:{k}:{v};" for k, v in sorted((states or {}).items()))
    return hashlib.sha256(text.encode()).hexdigest()


def exchange_states(study: StudyResult) -> dict[str, str]:
    """``{strategy label: digest}`` of the exchange state each strategy's runs were executed under."""
    return {r.plan.label: r.rules.state.digest for r in study.strategies
            if r.rules.state is not None and r.rules.state.enabled}


def state_notices(study: StudyResult) -> list[Notice]:
    """The exchange state's checks of the data against the rules and the catalogue (``halt_mismatch``,
    ``bars_during_halt``, ...): facts about the data, listed once whatever number of strategies
    derived them."""
    seen: dict[tuple, Notice] = {}
    for res in study.strategies:
        for n in (res.rules.state.notices if res.rules.state is not None else ()):
            seen.setdefault((n.code, n.message, n.window, n.symbol), n)
    return list(seen.values())


def data_summary(data: MarketData, cfg: Any, states: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``data`` section of metrics.json and manifest.json (source, label, fingerprint, warnings);
    ``states``: the exchange-state digests (:func:`exchange_states`), part of the fingerprint."""
    combined = data_fingerprint(data, states)
    return {
        "halts": intraday_gaps(data),
        "source": cfg.data.source, "synthetic": bool(data.synthetic),
        "label": "SYNTHETIC replay of documented shocks (not market data)" if data.synthetic else "market data",
        "seed": cfg.data.seed if cfg.data.source == "synthetic" else None,
        "frequency": data.frequency, "fingerprint": combined, "symbols": data.describe(),
        "exchange_states": dict(sorted((states or {}).items())),
        # text here (the list is older than named warnings); codes are in metrics.json `warnings`
        "warnings": [w if isinstance(w, str) else w.message for w in data.warnings],
    }


def intraday_gaps(data: MarketData) -> list[dict[str, Any]]:
    """Gaps inside a session in intraday bars (a circuit-breaker halt shows as missing bars).

    A gap inside a scheduled call auction of the symbol's market (KRX's 15:20-15:30 closing
    auction prints once, at its end) is the schedule, not a halt, and is left out
    (:func:`~backtests.exchange.schedule.schedule`)."""
    out = []
    for sym, frame in sorted(data.intraday.items()):
        if len(frame) < 2:
            continue
        starts = pd.DatetimeIndex(frame["open_time"])
        ends = frame.index
        bar = pd.Series(ends - starts).median()
        gap = starts[1:] - ends[:-1]
        same_day = ends[:-1].normalize() == starts[1:].normalize()
        market = data.market_of(sym)
        for i in np.flatnonzero((gap > bar) & same_day):
            if _scheduled_auction(market, ends[i], starts[i + 1]):
                continue
            out.append({"symbol": sym, "from_utc": ends[i].isoformat(), "to_utc": starts[i + 1].isoformat(),
                        "minutes": int(gap[i] / pd.Timedelta(minutes=1))})
    return out


def _scheduled_auction(market: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether ``[start, end)`` (UTC) lies inside one scheduled call auction of ``market``."""
    if market not in ("XKRX", "XNYS"):
        return False
    day = pd.Timestamp(start).tz_convert(get_market(market).tz).tz_localize(None).normalize()
    try:
        tl = schedule(market, day, day)
    except DataError:  # not a session of the calendar: nothing scheduled to explain the gap
        return False
    i = tl.segment_at(np.array([pd.Timestamp(start).value, pd.Timestamp(end).value - 1], dtype=np.int64))
    return bool(i[0] >= 0 and i[0] == i[1] and tl.codes[i[0]] in (State.CALL_OPEN, State.CLOSING_AUCTION))


def metrics_document(study: StudyResult) -> dict[str, Any]:
    cfg = study.plan.config
    runs, pooled, strategies = [], [], []
    n_runs = sum(len(res.scored["runs"]) for res in study.strategies)
    large = n_runs > RUNS_IN_JSON_MAX
    for res in study.strategies:
        runs.extend(kept_runs(res.scored) if large else res.scored["runs"])
        pooled.extend(res.scored["pooled"])
        strategies.append({**res.scored["summary"], "roles": res.plan.strategy.symbols,
                           "benchmark": res.plan.benchmark, "windows": [w.id for w in res.plan.windows]})
    windows = [{**w.to_record(), "closes_utc": [c.isoformat() for c in w.closes]} for w in study.plan.windows]
    notices = [data_notice(w) if isinstance(w, str) else w for w in study.data.warnings]
    notices += [n for res in study.strategies for n in res.notices] + state_notices(study)
    return {
        "markets": markets_block(study),
        "warnings": merge(notices),
        "weights_kept": study.weights_kept,
        "schema_version": SCHEMA_VERSION, "study": cfg.name, "description": cfg.description,
        "config_hash": cfg.config_hash(), "synthetic": bool(study.data.synthetic),
        "data": data_summary(study.data, cfg, exchange_states(study)), "windows": windows, "strategies": strategies,
        "n_runs": n_runs, "runs_file": RUNS_FILE if large else None,
        "runs": runs, "pooled": pooled,
        **({"scenarios": study.scenarios.scored} if study.scenarios is not None else {}),
    }


def markets_block(study: StudyResult) -> dict[str, dict[str, str]]:
    """``{market: {"tz": IANA zone}}`` for every market of the study's symbols and windows: what the
    tearsheet shows local times in (from :mod:`backtests.time.calendars`, written so a reader of the
    run folder needs no calendar)."""
    from backtests.time.calendars import get_market

    codes = {info.market for info in study.data.info.values()} | {w.market for w in study.plan.windows}
    return {code: {"tz": get_market(code).tz} for code in sorted(codes)}


def kept_runs(scored: dict[str, Any]) -> list[dict[str, Any]]:
    """A strategy's run records a reader of a large sweep needs: those of its ranked top (the
    ``ranking`` list), best and default combinations, in run order (built for those runs only)."""
    summary = scored["summary"]
    keep = {r["combo"] for r in summary.get("ranking") or []}
    keep |= {c for c in (summary.get("best_combo"), summary.get("default_combo")) if c is not None}
    runs = scored["runs"]
    if hasattr(runs, "of_combos"):
        return runs.of_combos(sorted(keep))
    return [r for r in runs if r["combo"] in keep]


def code_digests(study: StudyResult) -> dict[str, Any]:
    """SHA-256 of scare's own code and of each strategy's (see :mod:`backtests.digest`)."""
    from backtests.digest import scare_digest, strategy_digest

    strategies = {}
    for res in study.strategies:
        cls = type(res.plan.strategy)
        digest, what = strategy_digest(cls)
        strategies[res.plan.label] = {"class": f"{cls.__module__}.{cls.__qualname__}", "digest": digest,
                                      "hashed": what}
    return {"scare": scare_digest(), "strategies": strategies}


def manifest_document(study: StudyResult) -> dict[str, Any]:
    import importlib.metadata as md

    cfg = study.plan.config
    versions = {}
    for pkg in ("scare", "vectorbt", "pandas", "numpy", "pydantic", "exchange_calendars", "arch", "plotly", "ta"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "schema_version": SCHEMA_VERSION, "study": cfg.name, "config_path": study.plan.loaded.source.path,
        "config": cfg.model_dump(mode="json"), "config_hash": cfg.config_hash(), "seed": cfg.seed,
        "run_at_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_seconds": round(study.elapsed, 3), "python": sys.version.split()[0],
        "platform": platform.platform(), "versions": versions,
        "synthetic": bool(study.data.synthetic), "data": data_summary(study.data, cfg, exchange_states(study)),
        "data_fingerprints": study.data.fingerprint(),
        "code": code_digests(study),
        "checkpoints": study.checkpoints or {"reused": 0, "recomputed": []},
        "audit": {k: v for k, v in study.audit.items() if k != "reports"},
        "files": sorted(RUN_FILES),  # write_outputs replaces it with the files this run wrote
    }
