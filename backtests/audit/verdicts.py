"""The verdict cache: what was audited, with which code, on which data, and what came out.

A verdict is reused only for the same strategy code (:func:`backtests.digest.strategy_digest`: the
file defining the class), the same framework code (:func:`backtests.digest.scare_digest`), the same
roles, the same parameter grid and the same data (fingerprint of the symbols the strategy sees):
sparse look-ahead shows only on data where it fires (a big move, an event), so a verdict on one
data set says nothing about another. Failing verdicts are cached too: the strategy stays refused
until its code changes.

Files are plain JSON under ``<cache_root()>/audit/<key>.json`` (``$SCARE_CACHE_DIR`` or
``~/.cache/scare``), written atomically; a corrupt or unreadable file is treated as absent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.audit.report import AuditReport
from backtests.time.calendars import cache_root
from backtests.data.market_data import MarketData
from backtests.digest import scare_digest, strategy_digest
from backtests.strategy.base import Strategy

FORMAT = 1


def events_digest(events: pd.DataFrame | None) -> str:
    """SHA-256 of the event catalogue as the strategies see it."""
    text = "" if events is None or not len(events) else events.astype(str).to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def verdict_key(strategy: Strategy, data: MarketData, grid: pd.DataFrame, events: pd.DataFrame | str | None,
                symbols: Iterable[str] | None = None) -> dict[str, Any]:
    """What a verdict depends on (all strings), and its ``key`` (SHA-256 over them).

    ``symbols``: the symbols the strategy sees (default: all of ``data``); ``events``: the
    catalogue frame or its :func:`events_digest`.
    """
    code, what = strategy_digest(type(strategy))
    parts = {
        "format": str(FORMAT), "strategy_digest": code, "strategy_hashed": what, "scare_digest": scare_digest(),
        "class": f"{type(strategy).__module__}.{type(strategy).__qualname__}",
        "roles": json.dumps(strategy.symbols, sort_keys=True),
        "grid": hashlib.sha256(grid.to_csv().encode()).hexdigest(),
        "data": data.content_digest(symbols),
        "events": events if isinstance(events, str) else events_digest(events),
    }
    parts["key"] = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return parts


def cache_folder() -> Path:
    return cache_root() / "audit"


def load_verdict(key: dict[str, Any]) -> AuditReport | None:
    """The cached report for ``key`` or None (absent, unreadable, or written for another key)."""
    path = cache_folder() / f"{key['key']}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    try:
        report = AuditReport.from_record(doc["report"])
    except (KeyError, TypeError):
        return None
    report.cached = True
    return report


def store_verdict(key: dict[str, Any], report: AuditReport) -> Path | None:
    """Write the report for ``key`` (atomically); None when the cache folder is not writable."""
    folder = cache_folder()
    path = folder / f"{key['key']}.json"
    rec = report.record()
    rec["cached"] = False
    text = json.dumps({"key": key, "report": rec}, indent=1, sort_keys=True, default=str)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return None
    return path
