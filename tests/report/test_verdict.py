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
from backtests.report.readings import Pointers, Reader, reading, shown
from backtests.report.verdict import NOT_IN_RUN, fmt_value, resolve
from backtests.report.view import SavedRun, StrategyView, fill_kinds

from .contract import add_contract_keys

STUB_JS = "window.Plotly=undefined;"
CELL = re.compile(r'<span class="(v[^"]*|na)" data-key="([^"]+)"(?: data-kind="(\w+)")?(?: title="[^"]*")?>([^<]*)</span>')
SENTENCE = re.compile(r'<span class="sentence" data-sentence="(\w+)">(.*?)\.</span>')


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


def check_readings(metrics: dict, v: str) -> int:
    """Every reading sentence: each number it cites is the metrics.json value of its pointer as the
    cells print it, and its words agree with those values (sign words, beats/trails, "excludes
    zero" only with the test at the same level). Returns how many sentences were checked."""
    seen = 0
    for kind, body in SENTENCE.findall(v):
        cites = {}
        for cls, pointer, fmt, text in CELL.findall(body):
            assert cls.startswith("v"), (kind, pointer)
            value = resolve(metrics, pointer)
            assert text in {fmt_value(value, fmt, signed=True), fmt_value(value, fmt)}, (kind, pointer, value, text)
            cites[pointer.rsplit("/", 2)[-2] + "/" + pointer.rsplit("/", 1)[-1]] = (float(value), fmt)
            cites[pointer.rsplit("/", 1)[-1]] = (float(value), fmt)
        assert cites or kind == "oos", (kind, body)
        sign = {k: (shown(x, f) > 0) - (shown(x, f) < 0) for k, (x, f) in cites.items()}
        words = re.sub(r"<[^>]+>", "", body)
        if kind == "test":
            p = cites.get("p_value")
            if p is not None:
                assert ("different from zero" in words and "not distinguishable" not in words) == (p[0] < 0.05), words
        elif kind == "interval":
            lo, hi = cites["ci_low"][0], cites["ci_high"][0]
            p_ptr = [pt for _, pt, _, _ in CELL.findall(body)][0].rsplit("/", 1)[0] + "/p_value"
            p = resolve(metrics, p_ptr)
            if "excludes zero" in words:
                assert (lo > 0 or hi < 0) and p is not None and p < 0.05, words
            if "includes zero" in words:
                assert lo <= 0 <= hi, words
        elif kind == "oos":
            if "in sample" in words:
                o, i = sign["loco/mean"], sign["loco/in_sample_mean"]
                expect = {"reverses": (i > 0 and o < 0), "is gone": (i > 0 and o == 0), "holds": (i > 0 and o > 0),
                          "shrinks": (i > 0 and o > 0), "stays negative": (i < 0 and o < 0),
                          "turns positive": (i <= 0 and o > 0), "turns negative": (i == 0 and o < 0),
                          "is flat": (i < 0 and o == 0), "stays flat": (i == 0 and o == 0)}
                said = [w for w in expect if f"it {w}:" in words]
                assert len(said) == 1 and expect[said[0]], words
        elif kind == "baseline":
            d = sign["difference/mean"]
            assert ("beats" in words) == (d > 0) and ("trails" in words) == (d < 0) and ("matches" in words) == (d == 0)
        elif kind == "contract":
            # cites the strategy's mean, then the baseline's
            sm, sb = (shown(resolve(metrics, pt), "pct") for _, pt, _, _ in CELL.findall(body))
            assert ("above" in words) == (sm > sb) and ("below" in words) == (sm < sb), words
        elif kind == "dsr":
            assert cites["dsr"][0] < 0.95
        elif kind == "pbo":
            assert cites["pbo"][0] > 0.5
        elif kind == "few":
            assert cites["n_clusters"][0] < 5
        elif kind == "traded" and "Never traded" not in words:
            assert cites["n_traded"][0] <= cites["n_events"][0]
        seen += 1
    return seen


def test_every_verdict_number_is_its_metrics_key(parts: SavedRun) -> None:
    metrics = add_contract_keys(parts.metrics)
    v = verdict_html(render(parts, metrics))
    assert len(CELL.findall(v)) > 60
    keys = check_verdict_numbers(metrics, v)
    el = "/strategies/#/event_level/#/"
    for k in ("n_events", "n_clusters", "n_traded", "mean", "ci_low", "ci_high", "median", "win_rate", "p_value"):
        assert el + k in keys, k
        assert "/strategies/#/baseline/event_level/" + k in keys or k == "n_clusters", k
        assert "/strategies/#/matched_baseline/#/event_level/" + k in keys or k == "n_clusters", k
    for k in ("/strategies/#/oos/loco/mean", "/strategies/#/oos/loco/win_rate", "/strategies/#/oos/loco/gap",
              "/strategies/#/oos/loco/in_sample_mean",
              "/pooled/#/trust/dsr", "/pooled/#/trust/n_trials", "/pooled/#/trust/n_trials_raw", "/strategies/#/pbo"):
        assert k in keys, k
    # one row per trade strategy plus the unmatched baseline; folded baselines are not rows of their own
    # (baselines: the matched and the contract's block for the 3 trade strategies, plus the 2 folded
    # buy-and-hold runs)
    assert v.count('<tr class="main">') == 4 and v.count('<tr class="base">') == 8
    assert v.count("matched: ") == 3
    assert ">hold_kodex200<" not in v.split('<table class="verdict"', 1)[1]  # (the audit line names it)
    assert check_readings(metrics, v) >= 4 * 4  # every reading sentence cites numbers that are its keys


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


def _row(el: dict, loco: dict | None = None, dsr: float | None = None, pbo: float | None = None,
         matched: dict | None = None) -> tuple[dict, Pointers]:
    doc = {"strategies": [{"event_level": {"0": el}, "oos": {"loco": loco or {}}, "pbo": pbo,
                           "matched_baseline": {"0": matched} if matched else {}}],
           "pooled": [{"trust": {"dsr": dsr, "n_trials": 7}}]}
    return doc, Pointers(el="/strategies/0/event_level/0", loco="/strategies/0/oos/loco", trust="/pooled/0/trust",
                         pbo="/strategies/0/pbo", matched="/strategies/0/matched_baseline/0" if matched else None)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_reading_follows_the_numbers() -> None:
    el = {"n_events": 11, "n_traded": 11, "n_clusters": 11, "mean": 0.02, "ci_low": 0.005, "ci_high": 0.03,
          "p_value": 0.004, "df": 10, "win_rate": 10 / 11, "ci_confidence": 0.95}
    doc, p = _row(el, {"mean": 0.01, "in_sample_mean": 0.02}, 0.97, 0.2,
                  {"label": "long EWY over the same spans", "difference": {"mean": 0.015, "p_value": 0.2}})
    html = reading(Reader(doc), p)
    assert _text(html) == (
        "Traded 11 of 11 events (11 clusters), 90.91% of them won. Mean +2.00% per event, p = 0.004 (cluster "
        "t, 10 df): different from zero at the 5% level. 95% interval +0.50% to +3.00% excludes zero (above it). "
        "Out of sample it shrinks: +1.00% per held-out cluster against +2.00% in sample. It beats long EWY over the "
        "same spans by 1.50 points per event (p = 0.200: no difference at 5%).")
    assert check_readings(doc, html) == 5
    few = {**el, "n_clusters": 3, "ci_low": -0.01, "p_value": 0.17, "df": 2}
    doc, p = _row(few, {"mean": -0.002, "in_sample_mean": 0.02}, 0.4, 0.7)
    text = _text(reading(Reader(doc), p))
    assert "not distinguishable from zero" in text and "interval -1.00% to +3.00% includes zero" in text
    assert "Only 3 independent clusters: too few to be sure" in text and "Out of sample it reverses" in text
    assert "DSR 0.40 over 7 distinct trials" in text and "PBO 0.70: likely overfit" in text
    assert _text(reading(Reader(_row({**el, "n_traded": 0})[0]), p)) == "Never traded in its 11 events."
    assert reading(Reader({}), p) == "No event-level results in this run."


def test_reading_words_follow_the_printed_value() -> None:
    """+0.00% out of sample is flat, not negative; a difference that prints 0.00 matches."""
    el = {"n_events": 4, "n_traded": 4, "n_clusters": 4, "mean": -0.03, "p_value": 0.5}
    doc, p = _row(el, {"mean": -0.00004, "in_sample_mean": -0.03}, matched={"difference": {"mean": 0.00003}})
    text = _text(reading(Reader(doc), p))
    assert "Out of sample it is flat: -0.00% per held-out cluster" in text
    assert "It matches holding the same vehicles over the same spans (0.00 points per event)" in text
    doc, p = _row(el, {"mean": 0.0001, "in_sample_mean": -0.03}, matched={"difference": {"mean": -0.1364}})
    text = _text(reading(Reader(doc), p))
    assert "it turns positive: +0.01%" in text and "trails holding the same vehicles over the same spans by 13.64" in text


def test_interval_never_excludes_zero_against_its_test() -> None:
    """A bootstrap interval (30+ clusters) above zero with a t test that does not reject: inconclusive."""
    el = {"n_events": 40, "n_traded": 40, "n_clusters": 40, "mean": 0.01, "ci_low": 0.001, "ci_high": 0.02,
          "p_value": 0.06, "ci_confidence": 0.95}
    doc, p = _row(el)
    text = _text(reading(Reader(doc), p))
    assert "excludes zero" not in text and "inconclusive" in text
    doc, p = _row({**el, "p_value": 0.01})
    assert "excludes zero (above it)" in _text(reading(Reader(doc), p))


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


def test_the_audit_verdict_is_on_the_first_screen(parts: SavedRun) -> None:
    rows = [{"strategy": "fade_kospi_halt", "verdict": "pass", "status": "no look-ahead found in 22 of 290 cuts (partial)",
             "exhaustive": False, "cached": False, "cuts_checked": 22, "cuts_candidates": 290},
            {"strategy": "hold_qqq", "verdict": "pass", "status": "no look-ahead found in all 14 cuts", "exhaustive": True,
             "cached": True, "cuts_checked": 14, "cuts_candidates": 14}]
    manifest = {**parts.manifest, "audit": {"enabled": True, "strategies": rows}}
    v = verdict_html(render_tearsheet(dataclasses.replace(parts, manifest=manifest), plotly_js=STUB_JS))
    text = _text(v)
    assert "fade_kospi_halt no look-ahead found in 22 of 290 cuts (partial) – the other cuts are checked on the next run" in text
    assert "hold_qqq no look-ahead found in all 14 cuts (cached verdict)" in text
    off = {**parts.manifest, "audit": {"enabled": False, "note": "look-ahead audit skipped (--no-audit)"}}
    assert "Look-ahead audit: skipped" in verdict_html(render_tearsheet(dataclasses.replace(parts, manifest=off),
                                                                        plotly_js=STUB_JS))


@pytest.mark.shared_data
@pytest.mark.slow
def test_kospi_replay_five_trades_everywhere_and_a_verdict_that_agrees_with_its_test(kospi_run: Path) -> None:
    """Real data: the fade's best set made 5 distinct trades (2 of its 7 round trips are the same trades
    seen from overlapping windows); its interval is the t interval over 3 clusters and, like its
    reading, agrees with p = 0.174."""
    import json

    from .test_tearsheet import figures

    parts = load_run(kospi_run)
    html = render_tearsheet(parts, plotly_js=STUB_JS)
    metrics = parts.metrics
    si, fade = next((i, s) for i, s in enumerate(metrics["strategies"]) if s["label"] == "fade_kospi_halt")
    best = fade["best_combo"]
    pooled = next(p for p in metrics["pooled"] if p["strategy"] == "fade_kospi_halt" and p["combo"] == best)
    block = fade["trades"][str(best)]
    assert pooled["metrics"]["n_trades"] == 5 and block["stats"]["n_trades"] == 5 and block["merged"] == 2
    assert sum(w["trades"] for w in block["by_window"].values()) == 5
    sec = html.split('id="s-strategy-fade-kospi-halt"', 1)[1].split('<section id="s-strategy-', 1)[0]
    assert "(5 trades, each counted once)" in sec and "Trades (5)" in sec
    assert re.search(r"Closed trades \(each counted once\)</td><td class=\"n\">5<", sec)
    figs = figures(html)
    marks = {d["name"]: d for d in figs["fig-fade-kospi-halt-equity"]["data"] if d.get("name") in ("entry fills", "exit fills")}
    assert len(marks["entry fills"]["x"]) == 5 and len(marks["exit fills"]["x"]) == 5
    fan = {d["name"]: d for d in figs["fig-fade-kospi-halt-fan"]["data"] if str(d.get("name")).endswith("(count)")}
    assert sum(int(t.split()[0]) for t in fan["entries (count)"]["text"]) == 5
    # the verdict: t interval with 2 df, and words that agree with p
    el = fade["event_level"][str(best)]
    assert el["n_clusters"] == 3 and el["df"] == 2 and "t interval" in el["ci_method"]
    assert (el["ci_low"] > 0 or el["ci_high"] < 0) == (el["p_value"] < 0.05)
    v = verdict_html(html)
    assert check_readings(metrics, v) >= 5
    reading_row = v.split(f'data-key="/strategies/{si}/event_level/{best}/n_traded"', 1)[1].split('<tr class="base">', 1)[0]
    if el["p_value"] >= 0.05:
        assert "excludes zero" not in reading_row and "includes zero" in reading_row
    assert fade["event_level"][str(best)]["shock_slope"]["df"] == 2
    json.dumps(metrics)  # still plain JSON


def test_reading_without_a_matched_baseline_and_with_windows_left_out() -> None:
    el = {"n_events": 4, "n_traded": 3, "n_clusters": 4, "mean": 0.012, "p_value": 0.3, "n_excluded": 1,
          "excluded": [{"window": "w9", "reason": "signal_missing: long_liquidations_usd of BTC-USD (btc) has no value"}]}
    doc, _ = _row(el)
    doc["strategies"][0]["baseline"] = {"symbol": "BTC-USD", "event_level": {"mean": -0.0464}}
    p = Pointers(el="/strategies/0/event_level/0", loco="/strategies/0/oos/loco", trust="/pooled/0/trust",
                 pbo="/strategies/0/pbo", contract="/strategies/0/baseline/event_level", contract_symbol="BTC-USD")
    html = reading(Reader(doc), p)
    text = _text(html)
    assert "1 window left out of these statistics" in text and "(signal_missing)" in text
    assert "Its mean +1.20% is above holding BTC-USD over the same windows (-4.64% per event)" in text
    assert "beats" not in text and check_readings(doc, html) == 5  # traded, excluded, test, few, contract
