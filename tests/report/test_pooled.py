"""The page draws the pooled series scoring computed (pooled.parquet) and the figures metrics.json
holds: its equity curve ends at the pooled total return printed beside it, the report pools,
compounds and measures drawdowns nowhere, and a scare 0.2 run folder (no pooled.parquet) is drawn
from metrics.json with the omitted charts named."""

from __future__ import annotations

import ast
import dataclasses
import html as htmllib
import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.orchestration.cli import main
from backtests.outputs.regenerate import load_run
from backtests.report import read_returns, render_tearsheet
from backtests.report.fmt import pct
from backtests.scoring import registry

from .test_tearsheet import figures

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "backtests" / "report"
SHARED = Path(os.environ.get("SCARE_SHARED_DATA") or ROOT.parent / "shared" / "data")
STUB_JS = "window.Plotly=undefined;"

#: One shock seen from two markets: the New York and the Seoul DeepSeek windows overlap in UTC and
#: score on different sessions, so at a New York close the Seoul episode is open without a return
#: (scoring counts it as 0; the report used to average it away and drew another curve).
TOY = """\
name: two_markets_toy
description: one shock seen from New York and Seoul (synthetic)
data: {source: synthetic}
windows: [deepseek_r1, deepseek_r1_krx]
window_defaults: {pre: 2, post: 5}
strategies:
  - name: buy_and_hold
    label: hold_nvda
    roles: {asset: NVDA}
    params: {weight: [0.5, 1.0]}
"""


def run_study(config: Path, out: Path, *extra: str) -> Path:
    assert main(["run", str(config), "--out", str(out), "--no-progress", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("toy")
    cfg = d / "toy.yaml"
    cfg.write_text(TOY, encoding="utf-8")
    return run_study(cfg, d / "out", "--no-audit")


def check_equity_ends_at_the_pooled_total_return(run_dir: Path) -> int:
    """For every strategy section: the equity line of its shown set ends at that set's pooled
    total_return in metrics.json, and the metrics table beside it prints the same number."""
    page = (run_dir / "tearsheet.html").read_text(encoding="utf-8")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    pooled = {(p["strategy"], p["combo"]): p for p in metrics["pooled"]}
    checked = 0
    for fid, fig in figures(page).items():
        if not fid.endswith("-equity"):
            continue
        for trace in fig["data"]:
            name = htmllib.unescape(trace.get("name", ""))
            which, _, label = name.partition(" ")
            if which not in ("best", "default", "baseline") or name.endswith("drawdown") or trace.get("mode") != "lines":
                continue
            s = next(x for x in metrics["strategies"] if x["label"] == label)
            combo = s["best_combo"] if s["best_combo"] is not None else s["default_combo"]
            total = pooled[(label, combo)]["metrics"]["total_return"]
            assert trace["y"][-1] == pytest.approx(total, rel=1e-7, abs=1e-9), (label, trace["y"][-1], total)
            # the line's lowest drawdown is the pooled max_drawdown
            dd = next(t for t in fig["data"] if htmllib.unescape(t.get("name", "")) == f"{name} drawdown")
            assert min(dd["y"]) == pytest.approx(pooled[(label, combo)]["metrics"]["max_drawdown"], rel=1e-7, abs=1e-9)
            if which != "baseline":
                row = re.search(rf"<tr><td[^>]*>{re.escape(htmllib.escape(name))}</td><td[^>]*>([^<]*)</td>", page)
                assert row and row.group(1) == pct(total), (name, row and row.group(1))
            checked += 1
    return checked


def test_toy_equity_curve_ends_at_the_pooled_total_return(toy_run: Path) -> None:
    # the two-market case is where the 0.2 report's own pooling disagreed with scoring's (it
    # averaged only the runs with a return at each stamp); the curve is now scoring's series, read
    # from pooled.parquet, so it ends where the printed pooled total_return says
    assert check_equity_ends_at_the_pooled_total_return(toy_run) >= 1


def test_pooled_file_is_keyed_like_metrics_json(toy_run: Path) -> None:
    metrics = json.loads((toy_run / "metrics.json").read_text())
    pooled = pd.read_parquet(toy_run / "pooled.parquet")
    bench = pd.read_parquet(toy_run / "pooled_benchmark.parquet")
    # long: one row per (pooled id, UTC period end) with a pooled return, ids in metrics.json order
    assert list(pooled.columns) == ["id", "time", "return", "wealth", "drawdown", "rolling_volatility",
                                    "rolling_beta"]
    assert str(pooled["time"].dt.tz) == "UTC" and not pooled["return"].isna().any()
    ids = [p["id"] for p in metrics["pooled"]]
    assert list(pd.unique(pooled["id"].astype(str))) == ids
    for p in metrics["pooled"]:
        rows = pooled[pooled["id"] == p["id"]]
        assert rows["time"].is_monotonic_increasing and rows["time"].is_unique
        r = rows["return"]
        assert len(r) == p["metrics"]["n_periods"]
        assert (1 + r).prod() - 1 == pytest.approx(p["metrics"]["total_return"], rel=1e-12)
    s = metrics["strategies"][0]
    shown = {c for c in (s["best_combo"], s["default_combo"]) if c is not None}
    paths = set(pooled.loc[pooled["wealth"].notna(), "id"].astype(str))
    assert paths == {ids[c] for c in shown}
    for c in shown:
        rows = pooled[pooled["id"] == ids[c]]
        assert rows["wealth"].notna().all() and rows["wealth"].iloc[-1] - 1 == pytest.approx(
            metrics["pooled"][c]["metrics"]["total_return"], rel=1e-12)
    assert list(bench.columns) == ["hold_nvda", "hold_nvda|wealth", "hold_nvda|drawdown"]
    assert set(s["pooled_detail"]) == {str(c) for c in shown}
    marker = json.loads((toy_run / ".scare-run.json").read_text())
    assert {"pooled.parquet", "pooled_benchmark.parquet"} <= set(marker["files"])


def test_the_page_draws_what_the_file_holds(toy_run: Path) -> None:
    """Change the saved paths: the page follows the file (it recomputes nothing)."""
    saved = load_run(toy_run)
    pooled = saved.pooled.copy()
    pooled["wealth"] = pooled["wealth"].where(pooled["wealth"].isna(), 1.5)
    page = render_tearsheet(dataclasses.replace(saved, pooled=pooled), plotly_js=STUB_JS)
    eq = next(f for k, f in figures(page).items() if k.endswith("-equity"))
    assert set(eq["data"][0]["y"]) == {0.5}
    metrics = json.loads(json.dumps(saved.metrics))
    detail = metrics["strategies"][0]["pooled_detail"]
    for rec in detail.values():
        rec["drawdowns"] = [{"start": None, "trough": "2025-01-28T21:00:00+00:00", "end": None, "depth": -0.4321,
                             "periods": 7}]
    page = render_tearsheet(dataclasses.replace(saved, metrics=metrics), plotly_js=STUB_JS)
    assert "-43.21%" in page


def _names(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.Name):
            out.add(node.id)
    return out


def test_the_report_pools_compounds_and_measures_drawdowns_nowhere() -> None:
    """No import from scoring but the registry, and none of the operations that pool, compound,
    roll or find drawdowns and quantiles of returns (the event fan's bands are over scoring's
    event-time paths, the one quantile the page takes)."""
    forbidden = {"cumprod", "cumsum", "cummax", "cummin", "accumulate", "rolling", "expanding", "ewm", "pct_change",
                 "calendar_pool", "open_mask", "metrics_table", "pooled_view", "drawdown_periods", "underwater",
                 "calendar_chain"}
    for path in sorted(REPORT.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backtests.scoring"):
                assert node.module == "backtests.scoring" and [a.name for a in node.names] == ["registry"], \
                    (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("backtests.scoring") for a in node.names), path.name
            if isinstance(node, ast.Call) and any(k.arg == "axis" and isinstance(k.value, ast.Constant)
                                                  and k.value.value == 1 for k in node.keywords):
                raise AssertionError(f"{path.name}:{node.lineno}: a reduction across runs (axis=1)")
        used = _names(tree) & forbidden
        assert not used, (path.name, used)
        if path.name != "events.py":
            assert not _names(tree) & {"quantile", "percentile", "nanquantile", "nanpercentile"}, path.name


def test_rendering_calls_no_scoring_function(toy_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import backtests.scoring as sc
    from backtests.scoring import calendar_time, kernels, metrics, paths

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report called scoring")

    for name in sc.__all__:  # first: the package's lazy names resolve to the real functions, restored after
        monkeypatch.setattr(sc, name, boom)
    for module in (calendar_time, metrics, paths, kernels):
        for name in dir(module):
            value = getattr(module, name)
            if callable(value) and not name.startswith("__") and getattr(value, "__module__", "") == module.__name__:
                monkeypatch.setattr(module, name, boom)
    page = render_tearsheet(load_run(toy_run), plotly_js=STUB_JS)
    assert 'class="section-error"' not in page.replace(".section-error{", "")


def test_a_run_folder_of_scare_0_2_is_drawn_from_metrics_json(toy_run: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old"
    shutil.copytree(toy_run, old)
    for name in ("pooled.parquet", "pooled_benchmark.parquet"):
        (old / name).unlink()
    read_returns(old / "returns.parquet").to_parquet(old / "returns.parquet")  # 0.2: one column per run
    metrics = json.loads((old / "metrics.json").read_text())
    metrics.pop("markets")
    for s in metrics["strategies"]:
        s.pop("pooled_detail")
    (old / "metrics.json").write_text(json.dumps(metrics))
    (old / "weights.parquet").unlink()  # the page never needed it
    capsys.readouterr()
    assert main(["report", str(old)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no pooled.parquet" in err[0] and "omitted" in err[0] and str(old) in err[0]
    page = (old / "tearsheet.html").read_text(encoding="utf-8")
    assert "Older run folder." in page and 'class="section-error"' not in page.replace(".section-error{", "")
    for what in ("Equity and drawdown", "Return distribution", "Drawdown periods", "Rolling volatility and beta"):
        assert f"{what}: not drawn, this run folder has no pooled.parquet" in page, what
    assert not [k for k in figures(page) if k.endswith(("-equity", "-dist", "-rolling"))]
    # the pooled figures still come from metrics.json
    total = metrics["pooled"][0]["metrics"]["total_return"]
    assert pct(total) in page


def test_market_time_and_periods_per_year_come_from_the_run(toy_run: Path) -> None:
    saved = load_run(toy_run)
    metrics = json.loads(json.dumps(saved.metrics))
    metrics["markets"]["XNYS"]["tz"] = "Asia/Tokyo"  # what the run wrote wins over any calendar
    for s in metrics["strategies"]:
        s["periods_per_year"] = 10.0  # a 16-period series is then over a year: annualized figures shown
    page = render_tearsheet(dataclasses.replace(saved, metrics=metrics), plotly_js=STUB_JS)
    assert "JST" in page
    sharpe = metrics["pooled"][0]["metrics"]["sharpe"]
    assert f"{sharpe:,.2f}" in page and "<sup>p</sup>" not in page.split("Returns and risk", 1)[1].split("</table>", 1)[0]
    # the execution clock's periods per year when the summary has none; nothing when neither is written
    from backtests.report.view import StudyView

    for s in metrics["strategies"]:
        s.pop("periods_per_year")
        s["execution"] = {"clock": {"markets": ["XNYS", "XKRX"], "periods_per_year": 12.0}}
    view = StudyView(dataclasses.replace(saved, metrics=metrics))
    assert view.ppy(view.strategies[0]) == 12.0
    for s in metrics["strategies"]:
        s.pop("execution")
    page = render_tearsheet(dataclasses.replace(saved, metrics=metrics), plotly_js=STUB_JS)
    assert "periods per year not in this run" in page


def test_cost_rates_come_from_the_run_with_the_engines_precedence(toy_run: Path) -> None:
    from backtests.report.view import StudyView

    saved = load_run(toy_run)
    view = StudyView(saved)
    sv = view.strategies[0]
    rates, source = view.cost_rates(sv)  # the run wrote the engine's resolved rates
    assert source == "metrics.json"
    assert rates["NVDA"]["commission_bps"] == pytest.approx(0.5) and rates["NVDA"]["slippage_bps"] == pytest.approx(2.0)
    # a folder written before strategies[].execution existed (0.2): the config in manifest.json,
    # resolved by the engine's rule (a symbol entry replaces its market's entry whole, not merged)
    old = json.loads(json.dumps(saved.metrics))
    for rec in old["strategies"]:
        rec.pop("execution", None)
    manifest = json.loads(json.dumps(saved.manifest))
    v02 = StudyView(dataclasses.replace(saved, metrics=old))
    rates, source = v02.cost_rates(v02.strategies[0])
    assert source == "the config in manifest.json"
    assert rates["NVDA"]["commission_bps"] == pytest.approx(0.5) and rates["NVDA"]["slippage_bps"] == pytest.approx(2.0)
    manifest["config"]["costs"]["symbols"] = {"NVDA": {"commission_bps": 3.0, "slippage_bps": 0.0}}
    v02 = StudyView(dataclasses.replace(saved, metrics=old, manifest=manifest))
    rates, _ = v02.cost_rates(v02.strategies[0])
    assert rates["NVDA"] == {"commission_bps": pytest.approx(3.0), "sell_tax_bps": 0.0, "slippage_bps": 0.0}
    # what the run wrote (strategies[].execution.costs) is read as it is
    metrics = json.loads(json.dumps(saved.metrics))
    metrics["strategies"][0]["execution"] = {"costs": {"NVDA": {"commission_bps": 7.0, "sell_tax_bps": 0.0,
                                                                "slippage_bps": 1.0}}}
    v2 = StudyView(dataclasses.replace(saved, metrics=metrics))
    rates, source = v2.cost_rates(v2.strategies[0])
    assert source == "metrics.json" and rates["NVDA"]["commission_bps"] == 7.0


@pytest.mark.slow
@pytest.mark.shared_data
def test_deepseek_replay_equity_curves_end_at_the_pooled_total_return(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    from backtests.data.cache import ENV_DIR, Cache
    from backtests.data.importer import import_path

    root = tmp_path_factory.mktemp("pooled_cache")
    import_path(Cache(root), SHARED)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_DIR, str(root))
        out = run_study(ROOT / "configs" / "replay_deepseek_2025.yaml", tmp_path_factory.mktemp("ds") / "o",
                        "--offline", "--no-audit")
    # hold_nvda and hold_qqq pool a New York and a Seoul episode of one shock
    assert check_equity_ends_at_the_pooled_total_return(out) >= 4


def test_the_metrics_table_rows_are_the_registrys() -> None:
    text = textwrap.dedent((REPORT / "stats.py").read_text(encoding="utf-8"))
    assert "registry.TEARSHEET_ROWS" in text
    assert not re.search(r'"annual_return", "annual_volatility"', text)  # no second list of keys
    assert registry.TEARSHEET_ROWS[0][0] == "total_return"
    assert np.all([k in registry.BY_KEY for row in registry.TEARSHEET_ROWS for k in row])
