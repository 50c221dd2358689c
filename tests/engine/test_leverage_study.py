"""Leverage through the CLI on the synthetic replay: loud by default, real when allowed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def _config(tmp_path, body: str):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(body)
    return cfg


FADE = """name: lev
benchmark: null
windows: [kospi_crash_2026]
output: {tearsheet: false, weights: all}
strategies:
  - name: fade_kospi_halt
    params: {size: 2.0, use_catalogue: true, hold: 2}
"""


def test_size_two_fails_loudly_without_leverage(tmp_path, cli):
    code, _, err = cli("run", _config(tmp_path, FADE), "--out", tmp_path / "out", "--no-progress")
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    line = lines[0]
    for part in ("fade_kospi_halt", "'size': 2.0", "069500.KS", "max_leverage = 1", "2026-06-23"):
        assert part in line, (part, line)
    assert not (tmp_path / "out").exists()


def test_size_two_is_two_x_when_the_study_allows_it(tmp_path, cli):
    body = FADE + "execution: {max_leverage: 2.0}\n"
    code, _, err = cli("run", _config(tmp_path, body), "--out", tmp_path / "out", "--no-progress")
    assert code == 0, err
    w = pd.read_parquet(tmp_path / "out" / "weights.parquet")
    live = w[(w["symbol"] == "069500.KS") & (w["target"] != 0)]
    assert len(live) and np.allclose(live["target"], 2.0)
    # held at the fill equals the target up to costs; it then drifts with the price
    assert live["held"].max() > 1.8
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert set(orders["fill_kind"]) <= {"open", "close", "auction"}


def test_dollar_neutral_pair_with_gross_four_is_neutral(tmp_path, cli):
    body = """name: pair
benchmark: null
windows: [{kind: micron_earnings}]
execution: {max_leverage: 4.0}
output: {tearsheet: false, weights: all}
strategies:
  - name: memory_pair_earnings
    params: {gross: 4.0, neutral: dollar, entry_z: 1.0}
"""
    code, _, err = cli("run", _config(tmp_path, body), "--out", tmp_path / "out", "--no-progress")
    assert code == 0, err
    w = pd.read_parquet(tmp_path / "out" / "weights.parquet")
    wide = w.pivot_table(index=["run", "time"], columns="symbol", values="held", observed=True)
    tgt = w.pivot_table(index=["run", "time"], columns="symbol", values="target", observed=True)
    both = (tgt != 0).all(axis=1)
    assert both.any()
    net = wide[both].sum(axis=1)
    # 0.1: -0.84 net short on average (the long leg was capped by cash); now both legs are 2x
    assert abs(net.mean()) < 0.25
    assert (wide[both].abs().sum(axis=1) > 3.0).all()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert all("legs_traded" in r["metrics"] for r in metrics["runs"])
