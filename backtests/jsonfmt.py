"""Canonical, deterministic JSON for the documents a run writes (metrics.json, manifest.json)."""

from __future__ import annotations

import json
import math
from typing import Any


def clean_json(value: Any) -> Any:
    """Make a value JSON-safe and deterministic: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """Canonical JSON text (sorted keys, 2-space indent, trailing newline).

    Records built with clean values serialize directly; anything holding NaN or inf is cleaned
    (NaN/inf -> null) on a second pass, so large documents do not pay for a deep copy.
    """
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False, default=_scalar)
    except ValueError:
        text = json.dumps(clean_json(obj), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
    return text + "\n"
