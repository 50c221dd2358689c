"""The verdict table and the event, risk and sweep panels: every verdict number is the metrics.json
key it names; missing keys degrade to a dash with a reason; readings follow the numbers."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from backtests.report import render_tearsheet
from backtests.outputs.regenerate import load_run
from backtests.report.stats import metric_cell
from backtests.report.strategy import identical_groups
from backtests.report.tearsheet import data_label
from backtests.report.verdict import NOT_IN_RUN, fmt_value, reading, resolve
from backtests.report.view import SavedRun, StrategyView, fill_kinds

from .contract import add_contract_keys

STUB_JS = "window.Plotly=undefined;"
CELL = re.compile(r'<span class="(v[^"]*|na)" data-key="([^"]+)"(?: data-kind="(\w+)")?(?: title="[^"]*")?>([^<]*)</span>')


def render(parts: SavedRun, metrics: dict) -> str:
    return render_tearsheet(dataclasses.replace(parts, metrics=metrics), plotly_js=STUB_JS)


def verdict_html(html: str) -> str:
    return html.split('id="s-verdict"', 1)[1].split("</section>", 1)[0]


@pytest.fixture(scope="module")
def parts(default_run: Path) -> dict:
    return load_run(default_run)


def check_verdict_numbers(metrics: dict, v: str) -> set[str]:
    """Every keyed verdict cell shows its metrics.json value; returns the keys (indices as #)."""
    cells = CELL.findall(v)
    keys = set()
    for cls, pointer, kind, text in cells:
        value = resolve(metrics, pointer)  # every pointer names a key that exists
        keys.add(re.sub(r"/\d+(/|$)", r"/#\1", pointer))
        if cls == "na":
            assert value is None or (isinstance(value, float) and not math.isfinite(value)), (pointer, value)
            continue
        assert text in {fmt_value(value, kind, signed=True), fmt_value(value, kind)}, (pointer, value, text)
    return keys


def test_every_verdict_number_is_its_metrics_key(parts: SavedRun) -> None:
    metrics = add_contract_keys(parts.metrics)
    v = verdict_html(render(parts, metrics))
    assert len(CELL.findall(v)) > 60
    keys = check_verdict_numbers(metrics, v)
    el = "/strategies/#/event_level/#/"
    for k in ("n_events", "n_clusters", "n_traded", "mean", "ci_low", "ci_high", "median", "win_rate", "p_value"):
        assert el + k in keys, k
        assert "/strategies/#/baseline/event_level/" + k in keys or k == "n_clusters", k
    for k in ("/strategies/#/oos/loco/mean", "/strategies/#/oos/loco/win_rate", "/strategies/#/oos/loco/gap",
              "/strategies/#/oos/loco/in_sample_mean",
              "/pooled/#/trust/dsr", "/pooled/#/trust/n_trials", "/pooled/#/trust/n_trials_raw", "/strategies/#/pbo"):
        assert k in keys, k
    # one row per trade strategy plus the unmatched baseline; folded baselines are not rows of their own
    # (baselines: the contract's block for the 3 trade strategies, plus the 2 folded buy-and-hold runs)
    assert v.count('<tr class="main">') == 4 and v.count('<tr class="base">') == 5
    assert ">hold_kodex200<" not in v
    # the reading line is the reading of the numbers
    fade = next(s for s in metrics["strategies"] if s["label"] == "fade_kospi_halt")
    el = fade["event_level"][str(fade["best_combo"])]
    pooled = next(p for p in metrics["pooled"] if p["strategy"] == "fade_kospi_halt" and p["combo"] == fade["best_combo"])
    text = reading(el, fade["oos"]["loco"], pooled["trust"]["dsr"], fade["pbo"], fade["baseline"]["event_level"],
                   fade["baseline"]["symbol"])
    assert text.replace("&", "&amp;") in v


def test_verdict_of_a_real_run_is_its_metrics(parts: SavedRun) -> None:
    """On the default study as scare runs it (no stand-in keys): every verdict number is its key."""
    metrics = parts.metrics
    if not any(s.get("event_level") for s in metrics["strategies"]):
        pytest.skip("this scare does not write event-level results yet")
    v = verdict_html(render(parts, metrics))
    keys = check_verdict_numbers(metrics, v)
    for k in ("/strategies/#/event_level/#/mean", "/strategies/#/event_level/#/ci_low", "/strategies/#/event_level/#/win_rate",
              "/strategies/#/oos/loco/mean", "/pooled/#/trust/dsr", "/pooled/#/trust/n_trials", "/strategies/#/pbo"):
        assert k in keys, k
    fade = next(i for i, s in enumerate(metrics["strategies"]) if s["label"] == "fade_kospi_halt")
    best = metrics["strategies"][fade]["best_combo"]
    mean = metrics["strategies"][fade]["event_level"][str(best)]["mean"]
    assert f'data-key="/strategies/{fade}/event_level/{best}/mean" data-kind="pct">{fmt_value(mean, "pct", True)}<' in v


def test_verdict_without_event_level_keys_says_so(parts: SavedRun) -> None:
    metrics = copy.deepcopy(parts.metrics)
    for s in metrics["strategies"]:
        for k in ("event_level", "oos", "baseline", "trials", "clusters"):
            s.pop(k, None)
    html = render(parts, metrics)  # a run without the 0.2 event-level keys
    v = verdict_html(html)
    assert NOT_IN_RUN in v
    assert 'title="not in this run&#x27;s metrics.json"' in v
    assert 'class="section-error"' not in html
    # DSR and PBO exist in any run and are shown
    fade = next(s for s in parts.metrics["strategies"] if s["label"] == "fade_kospi_halt")
    assert f'data-key="/strategies/0/pbo" data-kind="num">{fade["pbo"]:,.2f}<' in v


@pytest.mark.parametrize("drop", ["oos", "baseline", "event_level", "trials", "clusters"])
def test_each_missing_block_degrades_without_breaking_the_page(parts: SavedRun, drop: str) -> None:
    metrics = add_contract_keys(parts.metrics)
    for s in metrics["strategies"]:
        s.pop(drop, None)
    html = render(parts, metrics)
    assert 'class="section-error"' not in html
    assert "Verdict</h2>" in html and "Strategy: fade_kospi_halt" in html


def test_garbage_in_the_new_blocks_is_contained(parts: SavedRun) -> None:
    metrics = add_contract_keys(parts.metrics)
    s0 = metrics["strategies"][0]
    s0["event_level"][str(s0["best_combo"])]["episodes"] = [{"window": "nope", "return": "x"}]
    s0["oos"] = {"loco": "garbage"}
    s0["trials"] = {"sharpe_hist": {"edges": [0, 1], "counts": ["a"]}}
    html = render(parts, metrics)
    assert "Verdict</h2>" in html and "Data</h2>" in html


def test_reading_follows_the_numbers() -> None:
    eps = [{"traded": True, "return": r} for r in (0.02, 0.01, 0.03, -0.01, 0.02, 0.01, 0.02, 0.04, 0.01, 0.02, 0.01)]
    el = {"n_events": 11, "n_traded": 11, "n_clusters": 11, "episodes": eps, "mean": 0.02, "ci_low": 0.005,
          "ci_high": 0.03}
    text = reading(el, {"mean": 0.01, "in_sample_mean": 0.02}, 0.97, 0.2, {"mean": 0.005}, "EWY")
    assert text == ("Positive on 10 of 11 traded shocks (11 clusters); interval excludes zero; out of sample 50% of "
                    "it is gone; beats holding EWY by 1.50 points per event.")
    text = reading({**el, "n_clusters": 3, "ci_low": -0.01}, {"mean": -0.002}, 0.4, 0.7, None, None)
    assert "interval includes zero" in text and "only 3 clusters: too few to be sure" in text
    assert "out of sample it is gone and reversed" in text and "DSR 0.40" in text and "PBO 0.70: likely overfit" in text
    assert reading({**el, "n_traded": 0}, None, None, None, None, None) == "Never traded in its 11 windows."
    assert reading(None, None, None, None, None, None) == "No event-level results in this run."


def test_named_warnings_near_the_verdict_and_per_strategy(parts: SavedRun) -> None:
    metrics = copy.deepcopy(parts.metrics)
    metrics["warnings"] = [
        {"code": "open_fill_fallback", "message": "EWY: open fill asked, only closes <b>", "strategy": "fade_kospi_halt",
         "window": "krx_cb_2026_06_23", "symbol": "EWY", "count": 3},
        {"code": "data", "message": "a study-wide note", "strategy": None, "window": None, "symbol": None, "count": 1}]
    html = render(parts, metrics)
    v = verdict_html(html)
    assert "2 named warnings" in v and "data × 1, open_fill_fallback × 3" in v
    assert "1 warning</a>" in v  # badge on the strategy's row
    assert "open fill asked, only closes &lt;b&gt;" in html
    sec = html.split('id="s-strategy-fade-kospi-halt"', 1)[1].split('<section id="s-strategy-', 1)[0]
    assert "1 named warning for this strategy" in sec and "open_fill_fallback" in sec


def test_every_chart_is_labelled_with_its_data() -> None:
    assert data_label({"synthetic": True}) == ("SYNTHETIC DATA", True)
    real = {"data": {"source": "cache", "fingerprint": "065ccf4be88fecfd00",
                     "symbols": [{"source": "cache:import (EWY.csv sha256:0b31)"}, {"source": "krx"}, {"source": "krx"}]}}
    assert data_label(real) == ("Market data: cache:import, krx · data 065ccf4b", False)


def test_annualized_figures_only_over_a_year() -> None:
    rec = {"metrics": {"annual_return": 0.5, "sharpe": 3.0, "calmar": 2.0, "n_periods": 60, "total_return": 0.1}}
    assert "\u2013" in metric_cell(rec, "annual_return", 252) and "under one year" in metric_cell(rec, "calmar", 252)
    per = metric_cell(rec, "sharpe", 252)
    assert f"{3.0 / math.sqrt(252):.3f}" in per and "<sup>p</sup>" in per
    assert metric_cell(rec, "total_return", 252) == "10.00%"
    long = {"metrics": {**rec["metrics"], "n_periods": 252}}
    assert metric_cell(long, "annual_return", 252) == "50.00%" and metric_cell(long, "sharpe", 252) == "3.00"


def test_identical_sets_are_one_row() -> None:
    sv = StrategyView({}, "s")
    same = {"sharpe": 1.0, "total_return": 0.1}
    for c, (m, rank) in enumerate([(same, 1), (same, 2), ({"sharpe": 0.5}, 3), (same, 4)]):
        sv.pooled[c] = {"combo": c, "params": {"tp": c}, "metrics": dict(m), "trust": {"rank": rank}}
    groups = identical_groups(sv)
    assert [[r["combo"] for r in g] for g in groups] == [[0, 1, 3], [2]]


def test_fill_kind_inferred_from_the_session_when_not_saved() -> None:
    o = pd.DataFrame({"symbol": ["069500.KS", "069500.KS", "BTC-USD"],
                      "fill_time": pd.to_datetime(["2026-06-23 00:00", "2026-06-23 06:30", "2026-06-23 00:00"], utc=True)})
    o["time"] = o["fill_time"]
    kinds = fill_kinds(o, {"069500.KS": "XKRX", "BTC-USD": "CRYPTO"}, {"XKRX": "Asia/Seoul", "CRYPTO": "UTC"}.get)
    assert list(kinds) == ["open*", "close*", "bar*"]
    o["fill_kind"] = ["open", "auction", "close"]
    assert list(fill_kinds(o, {})) == ["open", "auction", "close"]
