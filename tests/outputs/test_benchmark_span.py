"""docs/outputs.md "The benchmark's span": benchmark.parquet keeps every period of a window, the
benchmark-relative figures of metrics.json leave out the periods before the first possible fill."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.scoring.metrics import BENCHMARK_KEYS
from backtests.report import read_returns

DOCS = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"

STUDY = """name: span
data: {source: synthetic}
windows: [kospi_crash_2026, deepseek_r1_krx]
window_defaults: {pre: 2, post: 4}
benchmark: QQQ
strategies:
  - name: buy_and_hold
    label: hold_hynix
    roles: {asset: 000660.KS}
"""


def _section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("\n## The benchmark's span\n")
    return text[start:text.index("\n## ", start + 1)]


def test_the_section_lists_every_benchmark_key():
    section = _section()
    for key in BENCHMARK_KEYS:
        assert f"`{key}`" in section
    assert "`first_fill` in `backtests/engine/schedule.py`" in section
    assert "`runs[].first_fill_utc`" in section


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from backtests.orchestration.cli import main

    d = tmp_path_factory.mktemp("span")
    (d / "span.yaml").write_text(STUDY)
    assert main(["run", str(d / "span.yaml"), "--out", str(d / "out"), "--no-progress", "--no-audit"]) == 0
    return d / "out"


def test_benchmark_parquet_covers_every_period_and_excess_return_the_tradable_ones(run):
    from backtests.config import load_config
    from backtests.config.plan import plan_study

    m = json.loads((run / "metrics.json").read_text())
    returns, bench = read_returns(run / "returns.parquet"), pd.read_parquet(run / "benchmark.parquet")
    plan = plan_study(load_config(run.parent / "span.yaml"))
    windows = {w.id: w for w in plan.windows}
    later = 0
    for r in m["runs"]:
        x = returns[r["id"]].dropna()
        b = bench[f"{r['strategy']}|{r['window']}"].reindex(x.index)
        assert b.notna().all()  # every period of the window, before the first fill too
        first = pd.Timestamp(r["first_fill_utc"])  # the engine's first possible fill, as written
        ends = x.index.as_unit("ns").asi8
        starts = np.concatenate([[windows[r["window"]].start_utc.as_unit("ns").value], ends[:-1]])
        keep = starts >= first.as_unit("ns").value  # a period (a, b] counts when a is at or after the fill
        assert 0 < keep.sum() < len(x)
        later += 1
        want = np.prod(1 + x[keep]) - np.prod(1 + b[keep])
        assert r["metrics"]["excess_return"] == pytest.approx(want, rel=1e-12)
        assert r["metrics"]["excess_return"] != pytest.approx(np.prod(1 + x) - np.prod(1 + b), rel=1e-6)
    assert later == 2
