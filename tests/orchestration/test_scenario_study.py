"""A study with a ``scenarios:`` block: its validation, its outputs, and byte-identical reruns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

STUDY = """name: scn
data: {source: synthetic, seed: 20260623}
windows:
  - {kind: krx_circuit_breaker, pre: 1, post: 10}
benchmark: ^KS11
strategies:
  - name: fade_kospi_halt
    params: {threshold: [8.0, 9.0], hold: [1, 3]}
scenarios:
  axes:
    depth: [0.06, 0.09, 0.12]
    rebound: [0.0, 1.0]
    shock_time: "10:00"
  replicates: 2
  seed: 7
  chunk: 5
"""


def write(tmp_path, text=STUDY, name="scn.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("old, new, needle", [
    ("    depth: [0.06, 0.09, 0.12]", "    depth: [0.06, 0.9]", "scenarios.axes.depth: scenario parameter depth = 0.9"),
    ("    depth: [0.06, 0.09, 0.12]", "    dept: [0.06]", "scenarios.axes.dept: unknown scenario parameter 'dept'"),
    ("  replicates: 2", "  replicates: 0", "scenarios.replicates"),
    ("  seed: 7", "  seed: 7\n  surface: [depth, shock_time]", "scenarios.surface: surface axis 'shock_time'"),
    ("  seed: 7", "  seed: 7\n  strategies: [nope]", "scenarios.strategies.0: no strategy is labelled 'nope'"),
    ("    rebound: [0.0, 1.0]", "    rebound: 0.5", "scenarios.axes: a return surface needs two axes"),
    ("    shock_time: \"10:00\"", "    shock_time: \"25:99\"", "scenarios.axes.shock_time"),
])
def test_bad_scenario_blocks_are_one_line_with_the_file_line(tmp_path, cli, old, new, needle):
    assert old in STUDY
    cfg = write(tmp_path, STUDY.replace(old, new))
    code, out, err = cli("validate", cfg)
    assert code == 2, (out, err)
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "scn.yaml" in err  # names the file (and line)


def test_scenario_study_writes_its_own_keys_files_and_section(tmp_path, cli):
    cfg = write(tmp_path)
    code, _, err = cli("run", cfg, "--out", tmp_path / "a", "--no-progress", "--no-audit")
    assert code == 0, err
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    sc = m["scenarios"]
    assert sc["synthetic"] == "scenario" and sc["label"].startswith("SCENARIO kospi_crash seed=7 spec=")
    assert sc["scenarios"] == 12 and sc["grid_points"] == 6 and sc["surface"] == ["depth", "rebound"]
    st = sc["strategies"][0]
    assert st["strategy"] == "fade_kospi_halt" and len(st["combos"]) == 4
    assert {c["rank_worst_decile"] for c in st["combos"]} == {1, 2, 3, 4}
    assert st["surface"]["x_values"] == [0.06, 0.09, 0.12] and st["surface"]["y_values"] == [0.0, 1.0]
    # nothing of the scenarios in the market-data runs or pooled records
    assert all(not r["window"].startswith("scenario-") for r in m["runs"])
    t = pd.read_parquet(tmp_path / "a" / "scenarios.parquet")
    assert len(t) == 12 * 4 and (t["label"] == sc["label"]).all()
    # the worst scenarios listed are the chosen combination's lowest returns
    mine = t[t["combo"] == st["chosen_combo"]].sort_values(["total_return", "scenario"])
    assert [w["scenario"] for w in st["worst"]] == mine["scenario"].head(len(st["worst"])).tolist()
    html = (tmp_path / "a" / "tearsheet.html").read_text()
    assert "SCENARIO results" in html and sc["label"] in html


def test_same_seed_byte_identical_whatever_the_chunking(tmp_path, cli):
    cfg = write(tmp_path)
    for out, chunk in (("a", 5), ("b", 12), ("c", 1)):
        code, _, err = cli("run", cfg, "--out", tmp_path / out, "--no-progress", "--no-audit",
                           "--set", f"scenarios.chunk={chunk}")
        assert code == 0, err
    a = (tmp_path / "a" / "metrics.json").read_bytes()
    assert a == (tmp_path / "b" / "metrics.json").read_bytes() == (tmp_path / "c" / "metrics.json").read_bytes()
    assert (tmp_path / "a" / "scenarios.parquet").read_bytes() == (tmp_path / "c" / "scenarios.parquet").read_bytes()
    code, _, err = cli("run", cfg, "--out", tmp_path / "d", "--no-progress", "--no-audit", "--set", "scenarios.seed=8")
    assert json.loads((tmp_path / "d" / "metrics.json").read_text())["scenarios"] != json.loads(a)["scenarios"]


@pytest.mark.slow
def test_dask_scenario_sweep_identical_bytes(tmp_path, cli):
    pytest.importorskip("distributed")
    cfg = write(tmp_path)
    assert cli("run", cfg, "--out", tmp_path / "a", "--no-progress", "--no-audit")[0] == 0
    code, _, err = cli("run", cfg, "--out", tmp_path / "b", "--no-progress", "--no-audit", "--executor", "dask",
                       "--set", "scenarios.chunk=3")
    assert code == 0, err
    for name in ("metrics.json", "scenarios.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_scenarios_show_prints_the_grid_and_a_path(tmp_path, cli):
    code, out, err = cli("scenarios", "show", write(tmp_path))
    assert code == 0, err
    assert "SCENARIO kospi_crash seed=7" in out and "depth" in out and "12 scenarios" in out
    assert "^KS11" in out and "069500.KS" in out
    code, out, err = cli("scenarios", "show", write(tmp_path), "--scenario", "4")
    assert code == 0 and "cb_level1" in out  # depth 9%, no rebound: the rules halt the market
    code, _, err = cli("scenarios", "show", write(tmp_path), "--scenario", "99")
    assert code == 2 and "outside 0..11" in err
