"""The tearsheet page: sections, self-containment, escaping, number formats, robustness."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import pandas as pd
from plotly.offline import get_plotlyjs

from backtests.orchestration.cli import main
from backtests.report import SavedRun, render_tearsheet
from backtests.report.fmt import count, metric, num, pct, script_json
from backtests.outputs.regenerate import load_run

DEFAULT_STUDY = Path(__file__).resolve().parents[2] / "configs" / "scare_trades.yaml"

HOSTILE = "<script>alert(1)</script>"
STUB_JS = "window.Plotly=undefined;"


def figures(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="scare-figures">(.*?)</script>', html, re.S)
    assert m, "figure data block missing"
    return json.loads(m.group(1))


def without_plotly(html: str) -> str:
    js = get_plotlyjs()
    assert html.count(js) == 1, "plotly.js must be embedded exactly once"
    return html.replace(js, "")


def test_run_writes_a_self_contained_tearsheet(default_run: Path) -> None:
    html = (default_run / "tearsheet.html").read_text(encoding="utf-8")
    rest = without_plotly(html)
    # no network: no external URL anywhere outside the plotly bundle, no src/href to the outside
    assert not re.search(r"https?://", rest), re.search(r".{60}https?://.{60}", rest)
    assert not re.search(r"<(link|iframe|img|object|embed)\b", rest)
    assert not re.search(r"\bsrc\s*=", rest)
    assert "cdn.plot.ly/plotly" not in html
    assert "Content-Security-Policy" in rest and "default-src 'none'" in rest
    assert rest.count("<script") == 4  # error hook, figure data, plotly.js, boot
    for heading in ("Verdict", "Strategy: hold_qqq", "Strategy: fade_kospi_halt", "Returns and risk", "Per window",
                    "Parameter sweep", "Top 10 distinct parameter sets", "Trades (", "Trade statistics and costs",
                    "Drawdown periods", "Data", "Symbols (", "Shock windows ("):
        assert f">{heading}" in rest, heading
    # baselines on the same windows are folded into their strategy, not sections of their own
    assert "Strategy: hold_kodex200" not in rest and "Strategy: hold_btc" not in rest
    assert "baseline hold_kodex200" in rest and "baseline hold_btc" in rest
    assert 'class="section-error"' not in rest
    assert "SYNTHETIC DATA." in rest and "[SYNTHETIC]" in rest
    manifest = json.loads((default_run / "manifest.json").read_text())
    assert manifest["config_hash"] in rest and "Study config (as run)" in rest
    # every explanation line is there: one per section
    assert rest.count('class="explain"') >= 10
    assert rest.index(">Verdict<") < rest.index(">Strategy: fade_kospi_halt")


def test_every_chart_div_has_a_figure_with_data(default_run: Path) -> None:
    html = (default_run / "tearsheet.html").read_text(encoding="utf-8")
    figs = figures(html)
    divs = re.findall(r'<div class="chart" id="([^"]+)" data-fig="([^"]+)"', html)
    assert divs and {f for _, f in divs} == set(figs)
    for name, fig in figs.items():
        assert fig["data"], name
        assert any(len(t.get("y") or t.get("z") or t.get("x") or []) for t in fig["data"]), name
        assert fig["layout"]["autosize"] is True  # responsive: width follows the window
        # the label travels with the chart: an exported PNG still says SYNTHETIC and what it shows;
        # a scenario chart says SCENARIO with the generator's family, seed and spec digest instead
        title = fig["layout"]["title"]["text"]
        label = "SCENARIO kospi_crash seed=" if name.startswith("fig-scenario-") else "SYNTHETIC DATA"
        assert label in title and "<b>" in title, (name, title)


def test_tables_are_formatted_for_people(default_run: Path) -> None:
    html = (default_run / "tearsheet.html").read_text(encoding="utf-8")
    metrics = json.loads((default_run / "metrics.json").read_text())
    best = next(p for p in metrics["pooled"] if p["combo"] == metrics["strategies"][0]["best_combo"])
    tr = best["metrics"]["total_return"]
    assert f"{tr * 100:,.2f}%" in html
    # trades list: fill instants in UTC and New York local time of QQQ, with the kind of fill
    assert "EST" in html or "EDT" in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d</span></td>", html)
    assert re.search(r"<td class=\"\">(open|close)\*?</td>", html)


def test_formatting_helpers() -> None:
    assert pct(0.123456) == "12.35%"
    assert pct(-1234.5) == "-123,450.00%"
    assert pct(0.01, signed=True) == "+1.00%"
    assert num(1234567.891) == "1,234,567.89"
    assert count(12345.0) == "12,345"
    assert metric("max_drawdown", -0.25) == "-25.00%" and metric("sharpe", 1.234) == "1.23"
    assert metric("n_trades", 3) == "3"
    na = num(None, "zero volatility")
    assert "title=\"zero volatility\"" in na and "\u2013" in na
    assert "\u2013" in pct(float("nan")) and "\u2013" in num(float("inf"))


def test_script_json_cannot_close_the_script_element() -> None:
    value = {"name": "</script><script>alert(1)</script><!--", "x": [1.0, float("nan"), np.float64(2.5)],
             "sep": "a\u2028b"}
    text = script_json(value)
    assert "</" not in text and "<!--" not in text and "<" not in text and "\u2028" not in text
    back = json.loads(text)
    assert back["name"] == value["name"] and back["x"] == [1.0, None, 2.5] and back["sep"] == "a\u2028b"


TINY_STUDY = """
name: tiny
description: one strategy, one window
data: {source: synthetic, seed: 20260623}
windows: [deepseek_r1]
window_defaults: {pre: 5, post: 10}
benchmark: SPY
strategies:
  - name: buy_and_hold
    label: hold_qqq
    roles: {asset: QQQ}
    params: {weight: [0.5, 1.0]}
"""


def test_hostile_label_from_the_cli_shows_as_text(tmp_path: Path) -> None:
    out = tmp_path / "hostile"
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_STUDY, encoding="utf-8")
    code = main(["run", str(config), "--out", str(out), "--no-progress",
                 "--set", f"strategies.0.label={HOSTILE}",
                 "--set", "description=</script><img src=x onerror=alert(2)>"])
    assert code == 0
    html = without_plotly((out / "tearsheet.html").read_text(encoding="utf-8"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # only our four script elements, and the figure JSON still parses with the label inside
    assert html.count("<script") == 4
    names = json.dumps(figures(html))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in names  # plotly shows entities as text


def test_renders_with_missing_pieces() -> None:
    """Whatever is missing, the page renders (sections say what they lack)."""
    minimal = {"study": "empty", "strategies": [], "pooled": [], "runs": []}
    html = render_tearsheet(SavedRun(minimal, {}, pd.DataFrame(), pd.DataFrame()), plotly_js=STUB_JS)
    assert "<h1>empty" in html and "No strategy produced results." in html
    assert "No named warnings in this run" in html
    html = render_tearsheet(SavedRun({}), plotly_js=STUB_JS)
    assert html.startswith("<!doctype html>")


def test_renders_without_returns_or_orders(default_run: Path) -> None:
    parts = load_run(default_run)
    html = render_tearsheet(SavedRun(parts.metrics, parts.manifest, pd.DataFrame(), pd.DataFrame()), plotly_js=STUB_JS)
    assert "not drawn, this run folder has no pooled.parquet" in html and "No orders saved." in html
    assert 'class="section-error"' not in html


def test_a_broken_section_does_not_lose_the_page(default_run: Path) -> None:
    parts = load_run(default_run)
    metrics = copy.deepcopy(parts.metrics)
    metrics["windows"] = "not a list"  # garbage where windows should be
    metrics["strategies"][0]["event_time"] = {"1": {"windows": {"deepseek_r1": "garbage"}}}
    html = render_tearsheet(dataclasses.replace(parts, metrics=metrics), plotly_js=STUB_JS)
    assert "Verdict</h2>" in html and "Data</h2>" in html and "Returns and risk" in html


def big_sweep(n_a: int = 100, n_b: int = 100, n_windows: int = 2) -> dict:
    """metrics.json-shaped records of a 10,000-combination sweep over two parameters."""
    rng = np.random.default_rng(0)
    pooled, runs = [], []
    sharpe = rng.normal(size=n_a * n_b)
    order = np.argsort(-sharpe)
    rank = np.empty_like(order)
    rank[order] = np.arange(1, len(order) + 1)
    for c in range(n_a * n_b):
        params = {"a": c // n_b, "b": round(0.01 * (c % n_b), 2), "fixed": "x"}
        m = {"sharpe": float(sharpe[c]), "total_return": float(sharpe[c] / 10), "max_drawdown": -0.1, "n_windows": n_windows,
             "n_periods": 300}
        pooled.append({"strategy": "big", "combo": c, "params": params, "is_default": c == 0, "metrics": m,
                       "trust": {"rank": float(rank[c]), "dsr": 0.5, "pbo": 0.4}})
        for w in range(n_windows):
            runs.append({"id": f"r{c}_{w}", "strategy": "big", "combo": c, "params": params, "window": f"w{w}",
                         "metrics": {"total_return": 0.01}})
    best = int(order[0])
    return {"study": "big", "synthetic": True, "windows": [], "runs": runs, "pooled": pooled,
            "strategies": [{"label": "big", "name": "big", "best_combo": best, "default_combo": 0, "rank_by": "sharpe",
                            "n_combinations": n_a * n_b, "periods_per_year": 252.0}]}


def test_large_sweep_renders_fast_and_small() -> None:
    metrics = big_sweep()
    t0 = time.perf_counter()
    html = render_tearsheet(SavedRun(metrics, {}, pd.DataFrame(), pd.DataFrame()), plotly_js=STUB_JS)
    elapsed = time.perf_counter() - t0
    assert elapsed < 10, elapsed
    assert len(html.encode()) < 1_500_000, len(html.encode())  # a heat map of 10,000 cells, top-N tables
    figs = figures(html)
    heat = next(f for f in figs.values() if f["data"][0]["type"] == "heatmap")
    assert len(heat["data"][0]["z"]) == 100 and len(heat["data"][0]["z"][0]) == 100
    assert "The top 10 distinct results (10 of 10,000 parameter sets)" in html


def test_pair_exposure_and_the_exchange_state_are_shown_from_metrics_json(default_run: Path) -> None:
    parts = load_run(default_run)
    html = render_tearsheet(parts)
    pair = next(s for s in parts.metrics["strategies"] if s["label"] == "memory_pair_earnings")
    shown = pair["exposure"]["combos"][str(pair["best_combo"])]
    assert shown and "<h3>Pair exposure</h3>" in html and 'id="fig-memory-pair-earnings-exposure"' in html
    # the episodes' extremes in the table are metrics.json's, formatted
    for ep in shown:
        assert f"{ep['gross_max'] * 100:,.2f}%" in html
    assert "<b>exchange state</b> 069500.KS: from " in html
    assert "BTC-USD, ETH-USD, USDT-USD: none (no halts, price limits, call auctions or short-sale bans" in html
    # a strategy that is not a pair has no exposure block
    fade = next(s for s in parts.metrics["strategies"] if s["label"] == "fade_kospi_halt")
    assert "exposure" not in fade


def test_heat_map_and_top_table_follow_the_annualization_rule() -> None:
    """27 periods against 252 a year: the map and the top-10 table show the Sharpe ratio per period."""
    metrics = big_sweep(3, 3, n_windows=1)
    for p in metrics["pooled"]:
        p["metrics"]["n_periods"] = 27
    html = render_tearsheet(SavedRun(metrics, {}, pd.DataFrame(), pd.DataFrame()), plotly_js=STUB_JS)
    heat = next(f for f in figures(html).values() if f["data"][0]["type"] == "heatmap")
    z = [v for row in heat["data"][0]["z"] for v in row]
    per = sorted(p["metrics"]["sharpe"] / np.sqrt(252) for p in metrics["pooled"])
    assert sorted(z) == pytest.approx(per)
    assert heat["data"][0]["colorbar"]["title"]["text"] == "Sharpe / period"
    top = html.split("Top 10 distinct parameter sets", 1)[1]
    assert ">Sharpe / period<" in top and "<sup>p</sup>" in top
    best = max(metrics["pooled"], key=lambda p: p["metrics"]["sharpe"])
    assert f'{best["metrics"]["sharpe"] / np.sqrt(252):.3f}<sup>p</sup>' in top
