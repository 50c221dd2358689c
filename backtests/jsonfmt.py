"""Canonical, deterministic JSON for the documents a run writes (metrics.json, manifest.json).

The canonical form (from scare 0.3): UTF-8, keys sorted, two-space indent, a trailing newline,
NaN and infinities as ``null``, numpy scalars as the Python numbers they hold, and every float in
its shortest round-trip form as `orjson <https://github.com/ijl/orjson>`_ writes it. That is the
form Python's ``json`` module wrote in scare 0.2 except for floats of magnitude below ``1e-4``:
``2.5e-05`` became ``0.000025`` and ``3e-07`` became ``3e-7`` (the exponent without padding); the
value read back is the same float. The encoder is orjson's (Rust, about 40x the pure-Python
encoder on a large sweep's metrics.json); the bytes depend only on the document, never on the
executor, the chunking or the machine. See docs/outputs.md.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

#: orjson's options for the canonical form (orjson writes NaN and infinities as null by itself)
OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


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
    """orjson's fallback for what it does not encode itself: numpy scalars (and anything with
    ``item()``) become the Python number they hold, as in scare 0.2 (a float32 is widened to the
    float64 it equals, not rounded to its own shortest form)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(obj: Any) -> bytes:
    """Canonical JSON bytes of ``obj`` (see the module docstring).

    A document with keys that are not strings is cleaned first (:func:`clean_json`: keys become
    their ``str``, sorted as text). Integers must fit in 64 bits.
    """
    try:
        return orjson.dumps(obj, default=_scalar, option=OPTIONS)
    except TypeError:
        return orjson.dumps(clean_json(obj), default=_scalar, option=OPTIONS)


def dumps(obj: Any) -> str:
    """:func:`encode` as text."""
    return encode(obj).decode("utf-8")
