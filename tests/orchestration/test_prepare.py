"""One preparation pipeline for run, audit, validate and data fetch (backtests.orchestration.prepare)."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest

from backtests.config import load_config
from backtests.orchestration.prepare import PreparedStudy, plan_checked, prepare, prepare_offline

ROOT = Path(__file__).resolve().parents[2]

# The built-in krx_circuit_breaker events include two in March 2020, before the synthetic data
# starts (2024-01-02): selected by kind, those windows are dropped with a named notice.
STUDY = textwrap.dedent("""\
    name: prep
    data: {source: synthetic}
    windows: [{kind: krx_circuit_breaker, pre: 1, post: 5}, deepseek_r1]
    benchmark: null
    output: {tearsheet: false}
    strategies:
      - name: buy_and_hold
        label: hold_kodex
        roles: {asset: 069500.KS}
        params: {weight: [0.5, 1.0]}
        windows: [krx_circuit_breaker]
      - name: buy_and_hold
        label: hold_qqq
        roles: {asset: QQQ}
        params: {weight: [1.0]}
    """)


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "prep.yaml"
    path.write_text(STUDY)
    return path


def test_validate_reports_the_runs_the_run_computes_and_names_dropped_windows(study, tmp_path, cli):
    code, out, err = cli("validate", study)
    assert code == 0, err
    said = re.search(r"OK - 2 strategies, 3 combinations, (\d+) windows, (\d+) runs\n", out)
    assert said, out
    dropped = re.findall(r"^  window_dropped: window '(\w+)'", out, flags=re.M)
    assert dropped == ["krx_cb_2020_03_13", "krx_cb_2020_03_19"]
    code, ran, err = cli("run", study, "--out", tmp_path / "out", "--no-progress", "--no-audit")
    assert code == 0, err
    assert f"{said[2]} runs over {said[1]} windows" in ran
    # the plan before the data had the two 2020 windows: validate now counts what the run computes
    planned = plan_checked(load_config(study))
    assert len(planned.windows) == int(said[1]) + 2


def test_validate_refuses_a_window_the_run_would_refuse(tmp_path, cli):
    path = tmp_path / "late.yaml"
    path.write_text("name: late\ndata: {source: synthetic}\nbenchmark: null\n"
                    "windows: [{id: late, date: 2026-08-28, market: XNYS, post: 10}]\n"
                    "strategies:\n  - name: buy_and_hold\n    roles: {asset: QQQ}\n")
    for cmd in (["validate", path], ["run", path, "--out", tmp_path / "o", "--no-progress", "--no-audit"]):
        code, out, err = cli(*cmd)
        assert code == 2 and err.count("\n") == 1, (cmd, out, err)
        assert "window 'late' runs" in err and "past the end of the data for QQQ" in err


def test_trimmed_windows_are_named_by_validate(tmp_path, cli):
    path = tmp_path / "trim.yaml"
    path.write_text("name: trim\ndata: {source: synthetic}\nbenchmark: null\n"
                    "window_defaults: {partial: trim}\n"
                    "windows: [{id: late, date: 2026-08-27, market: XNYS, pre: 2, post: 10}]\n"
                    "strategies:\n  - name: buy_and_hold\n    roles: {asset: QQQ}\n")
    code, out, err = cli("validate", path)
    assert code == 0, err
    assert "OK - 1 strategies, 1 combinations, 1 windows, 1 runs\n" in out
    assert "  window_trimmed: window 'late' runs " in out and "trimmed to pre=2, post=2" in out


def test_validate_says_what_it_did_not_check_when_the_data_is_not_cached(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("SCARE_DATA_CACHE", str(tmp_path / "empty-cache"))
    path = tmp_path / "cached.yaml"
    path.write_text("name: cached\ndata: {source: cache, symbols: [QQQ], start: 2025-01-02, end: 2025-03-31}\n"
                    "benchmark: null\nwindows: [deepseek_r1]\n"
                    "strategies:\n  - name: buy_and_hold\n    roles: {asset: QQQ}\n")
    code, out, err = cli("validate", path)
    assert code == 0, err
    first, second = out.splitlines()
    assert first.endswith("OK - 1 strategies, 1 combinations, 1 windows, 1 runs (windows not checked against the data)")
    assert second.startswith("  not checked against the data") and "missing from the cache (offline): QQQ" in second
    assert not (tmp_path / "empty-cache").exists()  # validate never writes, never fetches


def test_the_pipeline_returns_one_frozen_prepared_study(study):
    prepared = prepare(load_config(study))
    assert isinstance(prepared, PreparedStudy) and prepared.unchecked is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.data = None  # type: ignore[misc]
    assert [n.window for n in prepared.coverage_notices] == ["krx_cb_2020_03_13", "krx_cb_2020_03_19"]
    assert all(n in prepared.notices for n in prepared.coverage_notices)  # one list: data.warnings
    assert prepared.runs == sum(len(sp.grid) * len(sp.windows) for sp in prepared.plan.strategies)
    assert prepared.events.equals(prepared.plan.catalogue.frame())
    offline = prepare_offline(load_config(study))  # synthetic data needs no network: every stage runs
    assert offline.unchecked is None and offline.runs == prepared.runs


def test_data_fetch_plans_the_study_with_the_same_stages(tmp_path, cli):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ndata: {source: cache, symbols: [QQQ]}\nwindows: [deepseek_r1]\n"
                   "strategies:\n  - name: buy_and_hold\n    roles: {asset: QQQ}\n    params: {weight: [2.0]}\n")
    for cmd in (["validate", bad], ["data", "fetch", "--config", bad, "--cache", tmp_path / "c"]):
        code, out, err = cli(*cmd)
        assert code == 2 and err.count("\n") == 1 and "bad.yaml:" in err and "weight" in err, (cmd, err)
    assert not (tmp_path / "c").exists()


def test_data_fetch_asks_for_what_the_planned_study_needs():
    from backtests.orchestration.data_cli import study_jobs

    cache_dir, jobs, start, end, freq = study_jobs(str(ROOT / "configs" / "replay_deepseek_2025.yaml"))
    assert (start, end, freq) == ("2025-01-22", "2025-03-31", "1D")
    assert ("NVDA", "bars") in jobs and ("000660.KS", "bars") in jobs
    assert ("KRW=X", "bars") in jobs  # the FX series of the Seoul symbols, which the study does not name
    assert all(series == "bars" for _, series in jobs)
