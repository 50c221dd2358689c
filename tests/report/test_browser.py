"""The tearsheet in a real browser (headless Chromium): every chart draws, no console errors,
no network requests, escaping holds. Skipped where no Chromium is installed."""

from __future__ import annotations

import copy
import dataclasses
import json
import struct
from pathlib import Path

import pytest

from backtests.report import render_tearsheet
from backtests.report.browser import chart_report, find_chromium, load
from backtests.outputs.regenerate import load_run

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None,
                       reason="headless Chromium not installed (Debian: apt-get install -y chromium)"),
]


def assert_page_ok(html_path: Path, **kwargs: object) -> dict[str, str]:
    kwargs.setdefault("fragment", "draw-all")
    page = load(html_path, **kwargs)  # type: ignore[arg-type]
    charts, body = chart_report(page.dom)
    n_figs = len(json.loads(html_path.read_text(encoding="utf-8").split('id="scare-figures">', 1)[1]
                            .split("</script>", 1)[0]))
    assert len(charts) == n_figs > 0
    for name, c in charts.items():
        assert c["main_svg"] >= 1, f"{name}: no plot drawn"
        assert c["traces"] >= 1, f"{name}: no traces drawn"
    assert body.get("data-charts") == f"{n_figs}/{n_figs}/0", body
    assert body.get("data-js-errors") == "0", body
    assert page.console == [], page.console
    assert page.requests == [], page.requests
    return body


def test_default_study_draws_every_chart_offline(default_run: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    assert_page_ok(default_run / "tearsheet.html", window=(1400, 2400), screenshot_to=png)
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1400, 2400)
    assert png.stat().st_size > 50_000  # not a blank page


def test_hostile_names_stay_text_in_the_browser(default_run: Path, tmp_path: Path) -> None:
    parts = load_run(default_run)
    metrics = copy.deepcopy(parts.metrics)
    evil = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
    closer = "</script><script>document.body.setAttribute('data-pwned','2')</script>"
    label = "<script>alert(1)</script>" + closer
    metrics["description"] = evil
    for s in metrics["strategies"]:
        s["label"] = label
        s["roles"] = {evil: closer}
    for rec in metrics["runs"] + metrics["pooled"]:
        rec["strategy"] = label
        rec["params"] = {k: f"{v}{evil}" for k, v in rec["params"].items()}
    for w in metrics["windows"]:
        w["label"] = evil
    metrics["data"]["warnings"] = [evil, {"symbol": closer}]
    html = render_tearsheet(dataclasses.replace(parts, metrics=metrics))
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    body = assert_page_ok(path)
    assert "data-pwned" not in body


def test_event_level_page_draws_every_new_chart_and_is_compact(default_run: Path, tmp_path: Path) -> None:
    """With the 0.2 event-level keys: per-event bars, fan, CAAR, shock scatter, trial Sharpes,
    distribution, equity with fills all draw; the default study's page is at most half as long as
    0.1's (~22,000 px at 1400 px wide), plus its SCENARIO section (0.3, #20: about 1,000 px, the
    heat map and two folded tables)."""
    from .contract import add_contract_keys

    parts = load_run(default_run)
    html = render_tearsheet(dataclasses.replace(parts, metrics=add_contract_keys(parts.metrics)))
    path = tmp_path / "events.html"
    path.write_text(html, encoding="utf-8")
    body = assert_page_ok(path, window=(1400, 900))
    for kind in ("per-event", "fan", "car", "shock", "trials", "dist", "equity", "sweep"):
        assert f'id="fig-fade-kospi-halt-{kind}"' in html, kind
    assert int(body["data-height"]) <= 11_000 + 1_000, body["data-height"]


def test_first_screen_needs_no_chart(default_run: Path) -> None:
    """Without #draw-all, only the charts near the viewport are drawn at load: the verdict on top
    holds none, so the first screen is ready first; the others draw as they scroll into view."""
    page = load(default_run / "tearsheet.html", window=(1400, 900))
    charts, body = chart_report(page.dom)
    total, done, failed = (int(x) for x in body["data-charts"].split("/"))
    assert failed == 0 and 0 <= done < total
    assert page.console == [] and page.requests == []
