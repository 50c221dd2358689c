"""A plain, self-contained summary page (the rich tearsheet replaces this)."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd


def _pct(x: Any) -> str:
    return "–" if x is None else f"{x * 100:,.2f}%"


def _num(x: Any) -> str:
    return "–" if x is None else f"{x:,.2f}"


def render_tearsheet(metrics: dict[str, Any], manifest: dict[str, Any], returns: pd.DataFrame,
                     weights: pd.DataFrame, orders: pd.DataFrame, benchmark: pd.DataFrame | None = None) -> str:
    """Render the run as one HTML page with no external resources."""
    e = html.escape
    banner = ""
    if metrics.get("synthetic"):
        banner = '<div class="banner">SYNTHETIC DATA: a deterministic replay of documented shocks, not market data.</div>'
    rows = []
    for p in metrics["pooled"]:
        m = p["metrics"]
        rows.append(
            f"<tr><td>{e(p['strategy'])}</td><td>{e(str(p['params']))}</td><td>{m.get('n_windows')}</td>"
            f"<td>{_pct(m.get('total_return'))}</td><td>{_num(m.get('sharpe'))}</td>"
            f"<td>{_pct(m.get('max_drawdown'))}</td><td>{_num(p['trust'].get('dsr'))}</td></tr>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{e(metrics['study'])} - scare tearsheet</title>
<style>body{{font-family:sans-serif;margin:2em}} .banner{{background:#b00;color:#fff;padding:.6em;font-weight:bold}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}</style></head>
<body>{banner}<h1>{e(metrics['study'])}</h1><p>Config hash {e(metrics['config_hash'])}; data: {e(metrics['data']['label'])}.</p>
<table><tr><th>strategy</th><th>params</th><th>windows</th><th>total return</th><th>Sharpe</th><th>max DD</th><th>DSR</th></tr>
{''.join(rows)}</table></body></html>
"""
