"""The result frames: every documented column with its dtype, on the default study, a replay on
real data and a run folder of scare 0.2; each value read from what the run wrote (never
recomputed); the notebook views (verdict as HTML without script, the tearsheet, its figures);
load_run changes nothing in the folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import backtests
from backtests.report.view import pooled_series, read_pooled
from backtests.api.columns import FRAMES
from backtests.api.frames import BUILDERS
from backtests.errors import ScareInputError
from backtests.scoring import registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V02 = FIXTURES / "scare_0_2_run"


def check_columns(result: backtests.Result) -> None:
    """Every frame has its documented columns, in order, with their dtypes."""
    for name in BUILDERS:
        frame = getattr(result, name)
        declared = [c.name for c in FRAMES[name]]
        names = list(frame.columns)
        if name == "runs":
            keys = [m.key for m in registry.METRICS if "runs" in m.scope]
            assert names[:len(declared) - 1] == declared[:-1] and names[-1] == "nan_reasons", name
            assert names[len(declared) - 1:len(declared) - 1 + len(keys)] == keys
        elif name == "sweep":
            keys = [m.key for m in registry.METRICS if "pooled" in m.scope]
            assert names[:len(declared)] == declared and names[len(declared):len(declared) + len(keys)] == keys
        else:
            assert names == declared, name
        for c in FRAMES[name]:
            assert str(frame[c.name].dtype) == c.dtype, (name, c.name, frame[c.name].dtype)


def _sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_every_documented_column_on_the_default_study(default_run: Path) -> None:
    result = backtests.load_run(default_run)
    check_columns(result)
    assert all(len(getattr(result, n)) for n in BUILDERS if n != "warnings" or result.metrics["warnings"])


@pytest.mark.slow
@pytest.mark.shared_data
def test_every_documented_column_on_the_kospi_replay(kospi_run: Path) -> None:
    result = backtests.load_run(kospi_run)
    check_columns(result)
    assert not result.synthetic and result.data["source"].str.startswith("cache").all()
    assert len(result.verdict) and len(result.episodes) and len(result.pooled)


def test_a_scare_0_2_folder_reads_into_the_same_frames() -> None:
    before = _sha(V02)
    result = backtests.load_run(V02)
    check_columns(result)
    metrics = json.loads((V02 / "metrics.json").read_text())
    assert list(result.verdict["row"]) == ["strategy", "contract", "buy_and_hold"]  # 0.2 had no matched baseline
    assert result.verdict.loc[2, "label"].startswith("baseline: hold_kodex200")
    assert result.pooled.empty  # 0.2 wrote no pooled.parquet: no rows, the same columns
    assert result.runs["first_fill_utc"].isna().all() and len(result.runs) == metrics["n_runs"]
    assert len(result.orders) == len(pd.read_parquet(V02 / "orders.parquet"))
    assert result.tearsheet().html.startswith("<!doctype html>")
    assert _sha(V02) == before  # read-only


def test_the_verdict_reads_metrics_json_where_the_page_does() -> None:
    result = backtests.load_run(V02)
    m = result.metrics
    s = m["strategies"][0]
    combo = s["best_combo"]
    el = s["event_level"][str(combo)]
    row = result.verdict.iloc[0]
    assert (row["strategy"], row["row"], row["combo"]) == (s["label"], "strategy", combo)
    for key in ("mean", "median", "ci_low", "ci_high", "p_value", "win_rate"):
        assert row[key] == el[key], key
    assert (row["n_events"], row["n_clusters"], row["n_traded"]) == (el["n_events"], el["n_clusters"], el["n_traded"])
    assert row["loco_mean"] == s["oos"]["loco"]["mean"] and row["gap"] == s["oos"]["loco"]["gap"]
    pooled = next(p for p in m["pooled"] if p["strategy"] == s["label"] and p["combo"] == combo)
    assert row["dsr"] == pooled["trust"]["dsr"] and row["n_trials"] == pooled["trust"]["n_trials"]
    assert row["pbo"] == s["pbo"] and row["params"] == pooled["params"]
    contract = result.verdict.query("strategy == @s['label'] and row == 'contract'").iloc[0]
    assert contract["mean"] == s["baseline"]["event_level"]["mean"]
    eps = result.episodes.query("strategy == @s['label'] and row == 'strategy' and combo == @combo")
    assert list(eps["return"]) == [e["return"] for e in el["episodes"]]
    assert list(eps["entry_utc"]) == [pd.Timestamp(e["entry_utc"]) for e in el["episodes"]]


def test_pooled_and_runs_are_the_files_values(default_run: Path) -> None:
    result = backtests.load_run(default_run)
    rec = result.metrics["pooled"][0]
    stored = pooled_series(read_pooled(default_run / "pooled.parquet", [rec["id"]]), rec["id"])["return"]
    mine = result.pooled[result.pooled["id"] == rec["id"]].set_index("time")["return"]
    pd.testing.assert_series_equal(mine, stored, check_names=False, check_freq=False, check_index_type=False)
    assert (1 + mine).prod() - 1 == pytest.approx(rec["metrics"]["total_return"], rel=1e-12)
    run = result.metrics["runs"][3]
    row = result.runs.set_index("id").loc[run["id"]]
    assert row["sharpe"] == run["metrics"]["sharpe"] and row["params"] == run["params"]


def test_the_notebook_views() -> None:
    result = backtests.load_run(V02)
    page = result._repr_html_()
    assert "<script" not in page.lower() and 'class="verdict"' in page and "fade_kospi_halt" in page
    assert "Look-ahead audit" in page and "SYNTHETIC" in page
    assert ".scare-result table" in page and "\nbody{" not in page  # the page's styles stay inside the result
    inline = result.tearsheet()._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and "&lt;!doctype html&gt;" in inline
    figs = result.figures()
    assert {"per-event", "fan"} <= set(figs["kind"])
    fig = result.plot("per-event", "fade_kospi_halt")
    assert fig.layout.title.text.startswith("<b>fade_kospi_halt: return per event")
    assert result.plot("per-event") == fig  # one strategy has it: no need to name it
    with pytest.raises(ValueError, match="no figure 'equity'"):
        result.plot("equity", "fade_kospi_halt")  # a 0.2 folder has no pooled series to draw


def test_the_tearsheet_to_a_path(tmp_path: Path, default_run: Path) -> None:
    result = backtests.load_run(default_run)
    out = result.tearsheet(tmp_path / "page.html")
    assert out.read_text(encoding="utf-8") == (default_run / "tearsheet.html").read_text(encoding="utf-8")
    with pytest.raises(ScareInputError, match="overwrite=True"):
        result.tearsheet(out)
    assert result.tearsheet(out, overwrite=True) == out
    with pytest.raises(ValueError, match="several strategies"):
        result.plot("equity")
    fig = result.plot("equity", "fade_kospi_halt")
    page = result._page[1]
    assert fig == __import__("plotly.graph_objects").graph_objects.Figure(page.figures["fig-fade-kospi-halt-equity"])


def test_load_run_refuses_what_is_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(ScareInputError, match="does not exist"):
        backtests.load_run(tmp_path / "nothing")
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(ScareInputError, match="missing"):
        backtests.load_run(tmp_path)


def test_import_backtests_stays_cheap() -> None:
    import subprocess
    import sys

    code = ("import sys, backtests; print(sorted(m for m in ('pandas', 'numpy', 'backtests.api.run') if m in sys.modules)); "
            "backtests.run; print('backtests.api.run' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"]  # the API loads on first use of backtests.run
