"""Formatting for people and escaping for browsers.

Everything that reaches the page from a config or from data (labels, symbols, params, window ids)
goes through :func:`esc` (HTML text and attributes) or :func:`script_json` (JSON inside a
``<script>`` element). Numbers are formatted with thousands separators and two decimals; missing
values show as an en dash, with the reason (when known) in a tooltip.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

import numpy as np

from backtests.scoring import registry

DASH = "\u2013"

#: Okabe-Ito palette (readable for color-blind readers and in grey-scale print).
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
#: Line colors in order (black is kept for means / emphasis, yellow last: it is faint on white).
LINE_COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]

def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes too: safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _missing(reason: str | None) -> str:
    if reason:
        return f'<span class="na" title="{esc(reason)}">{DASH}</span>'
    return f'<span class="na">{DASH}</span>'


def pct(x: Any, reason: str | None = None, signed: bool = False) -> str:
    """0.1234 -> '12.34%' (HTML-safe)."""
    if is_missing(x):
        return _missing(reason)
    return f"{float(x) * 100:{'+' if signed else ''},.2f}%"


def num(x: Any, reason: str | None = None, digits: int = 2) -> str:
    """1234.5 -> '1,234.50' (HTML-safe)."""
    if is_missing(x):
        return _missing(reason)
    return f"{float(x):,.{digits}f}"


def count(x: Any, reason: str | None = None) -> str:
    if is_missing(x):
        return _missing(reason)
    return f"{int(round(float(x))):,d}"


def metric(key: str, x: Any, reason: str | None = None) -> str:
    """Format a metric value by its key's format in the metric registry (docs/metrics.md)."""
    kind = registry.fmt(key)
    if kind == "pct":
        return pct(x, reason)
    if kind == "count":
        return count(x, reason)
    return num(x, reason)


def metric_text(key: str, x: Any) -> str:
    """Plain-text version of :func:`metric` (for chart hover text; no HTML)."""
    if is_missing(x):
        return DASH
    kind = registry.fmt(key)
    if kind == "pct":
        return f"{float(x) * 100:,.2f}%"
    if kind == "count":
        return f"{int(round(float(x))):,d}"
    return f"{float(x):,.2f}"


def label(key: str) -> str:
    """A metric's label (the metric registry's)."""
    return registry.label(key)


def param_value(v: Any) -> str:
    """A parameter value as text (floats without noise)."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "null"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def params_text(params: dict[str, Any] | None, only: list[str] | None = None) -> str:
    """'a=1, b=x' (plain text; escape before putting it in HTML)."""
    if not params:
        return "(no parameters)"
    keys = sorted(only if only is not None else params)  # sorted: the same text before and after a JSON round trip
    return ", ".join(f"{k}={param_value(params.get(k))}" for k in keys) or "(defaults)"


def slug(text: str, used: set[str]) -> str:
    """A unique, attribute-safe id from any text."""
    base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:40] or "s"
    out, i = base, 2
    while out in used:
        out, i = f"{base}-{i}", i + 1
    used.add(out)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        f = float(value)
        if not math.isfinite(f):
            return None
        return float(f"{f:.8g}")
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def script_json(value: Any) -> str:
    """JSON text that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, where their ``\\u`` escapes mean the same
    thing, so ``</script>`` or ``<!--`` in a label cannot end or change the script element. Line and
    paragraph separators are escaped for old JavaScript parsers. NaN and inf become null.
    """
    text = json.dumps(_clean(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
