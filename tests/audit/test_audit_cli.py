"""``scare audit`` and the audit inside ``scare run``: refusal with exit 2 and one line, the verdict
cache (plain JSON), ``--no-audit`` in the manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

CHEATS = Path(__file__).resolve().parent / "cheats"

STUDY = """\
name: tiny
windows: [deepseek_r1]
benchmark: SPY
strategies:
  - name: {name}
    label: {label}
    roles: {{asset: QQQ}}
"""


@pytest.fixture
def study(tmp_path, monkeypatch):
    import backtests.audit.verdicts as verdicts

    monkeypatch.setattr(verdicts, "cache_folder", lambda: tmp_path / "verdicts")
    monkeypatch.syspath_prepend(str(CHEATS))

    def write(name: str, label: str) -> Path:
        path = tmp_path / f"{label}.yaml"
        path.write_text(STUDY.format(name=name, label=label))
        return path

    yield write
    for mod in ("tomorrow_open",):
        sys.modules.pop(mod, None)


def test_run_refuses_a_cheat_with_exit_2_and_one_line(cli, study, tmp_path):
    cfg = study("tomorrow_open:Plugin", "gap_peek")
    code, out, err = cli("run", cfg, "--out", tmp_path / "out", "--no-progress")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "strategies.0" in lines[0] and "gap_peek" in lines[0] and "looks ahead" in lines[0]
    assert "prices of role 'asset' (QQQ)" in lines[0] and "tomorrow_open.py" in lines[0]
    assert not (tmp_path / "out").exists()
    # the failing verdict is cached as plain JSON: the next run refuses without auditing again
    files = list((tmp_path / "verdicts").glob("*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert doc["report"]["verdict"] == "fail" and doc["key"]["strategy_digest"]
    code, _, err2 = cli("run", cfg, "--out", tmp_path / "out", "--no-progress")
    assert code == 2 and err2 == err


def test_no_audit_runs_the_cheat_and_the_manifest_says_so(cli, study, tmp_path):
    cfg = study("tomorrow_open:Plugin", "gap_peek")
    code, out, err = cli("run", cfg, "--out", tmp_path / "out", "--no-progress", "--no-audit")
    assert code == 0, err
    audit = json.loads((tmp_path / "out" / "manifest.json").read_text())["audit"]
    assert audit["enabled"] is False and "--no-audit" in audit["note"]


def test_run_audits_once_then_uses_the_cached_verdict(cli, study, tmp_path):
    cfg = study("buy_and_hold", "hold_qqq")
    assert cli("run", cfg, "--out", tmp_path / "a", "--no-progress")[0] == 0
    assert cli("run", cfg, "--out", tmp_path / "b", "--no-progress")[0] == 0
    first = json.loads((tmp_path / "a" / "manifest.json").read_text())["audit"]
    second = json.loads((tmp_path / "b" / "manifest.json").read_text())["audit"]
    assert first["enabled"] and first["strategies"][0]["verdict"] == "pass"
    assert first["strategies"][0]["cached"] is False and first["strategies"][0]["cuts_checked"] > 0
    assert second["strategies"][0]["cached"] is True
    assert second["strategies"][0]["key"] == first["strategies"][0]["key"]
    assert (json.loads((tmp_path / "a" / "metrics.json").read_text())
            == json.loads((tmp_path / "b" / "metrics.json").read_text()))


def test_a_changed_strategy_file_is_audited_again(cli, study, tmp_path, monkeypatch):
    src = tmp_path / "mine"
    src.mkdir()
    (src / "mine_strat.py").write_text(
        "from backtests.strategy import Role, Strategy\n\n"
        "class Mine(Strategy):\n    name = 'mine'\n    roles = {'asset': Role('QQQ')}\n\n"
        "    def weights(self, ctx):\n        return ctx.empty_weights()\n")
    monkeypatch.syspath_prepend(str(src))
    from backtests.audit.verdicts import verdict_key
    from backtests.strategy.registry import load_path

    cls = load_path("mine_strat:Mine")
    import pandas as pd

    from backtests.data.synthetic import generate

    data = generate(start="2025-01-02", end="2025-03-31").select(["QQQ"])
    grid = pd.DataFrame(index=pd.RangeIndex(1, name="combo"))
    k1 = verdict_key(cls(), data, grid, None)
    (src / "mine_strat.py").write_text((src / "mine_strat.py").read_text() + "\n# edited\n")
    k2 = verdict_key(cls(), data, grid, None)
    assert k1["strategy_digest"] != k2["strategy_digest"] and k1["key"] != k2["key"]
    sys.modules.pop("mine_strat", None)


def test_scare_audit_reports_every_strategy_and_exits_2_on_a_cheat(cli, study, tmp_path):
    cfg = study("tomorrow_open:Plugin", "gap_peek")
    code, out, err = cli("audit", cfg, "--budget", "5", "--seed", "3")
    assert code == 2
    assert "looks ahead" in out and "cuts checked/candidates" in out and "channel(s) found alone: bars:QQQ" in out
    assert len(err.strip().splitlines()) == 1 and "looks ahead" in err
    code, out, err = cli("audit", study("buy_and_hold", "hold_qqq"), "--cuts", "6", "--json")
    assert code == 0, err
    reports = json.loads(out)
    assert reports[0]["verdict"] == "pass" and reports[0]["max_cuts"] == 6
    assert sum(v["checked"] for v in reports[0]["cuts"].values()) == 6


def test_scare_audit_bad_arguments_are_one_line(cli, study):
    cfg = study("buy_and_hold", "hold_qqq")
    code, _, err = cli("audit", cfg, "--strategy", "nope")
    assert code == 2 and "no strategy labelled 'nope'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("audit", cfg, "--cuts", "0")
    assert code == 2 and "--cuts" in err


def test_a_partial_pass_is_cached_as_partial_and_audited_further_on_the_next_run(cli, study, tmp_path):
    """A budget that allows one cut: the pass is partial (console, manifest, cache), and every next run
    carries the checked cuts over and checks more, until every candidate cut is checked."""
    cfg = study("buy_and_hold", "hold_qqq")
    code, out, err = cli("run", cfg, "--out", tmp_path / "a", "--no-progress", "--audit-budget", "0.000001")
    assert code == 0, err
    row = json.loads((tmp_path / "a" / "manifest.json").read_text())["audit"]["strategies"][0]
    n = row["cuts_candidates"]
    assert row["verdict"] == "pass" and row["cuts_checked"] == 1 < n and row["exhaustive"] is False
    assert row["status"] == f"no look-ahead found in 1 of {n} cuts (partial)" and row["cuts_carried_over"] == 0
    line = next(x for x in out.splitlines() if x.startswith("look-ahead audit:"))
    assert "hold_qqq no look-ahead found in 1 of" in line and "partial" in line and "next run" in line
    (cache,) = (tmp_path / "verdicts").glob("*.json")
    stored = json.loads(cache.read_text())["report"]
    assert len(stored["cut_stamps"]) == 1 and stored["verdict"] == "pass"
    code, out, err = cli("run", cfg, "--out", tmp_path / "b", "--no-progress", "--audit-budget", "0.000001")
    row = json.loads((tmp_path / "b" / "manifest.json").read_text())["audit"]["strategies"][0]
    assert code == 0 and row["cached"] is False and row["cuts_carried_over"] == 1 and row["cuts_checked"] == 2
    stored2 = json.loads(cache.read_text())["report"]
    assert stored2["cut_stamps"][:1] == stored["cut_stamps"] and len(set(stored2["cut_stamps"])) == 2
    # a generous budget finishes it; the exhaustive pass is then reused as it is
    assert cli("run", cfg, "--out", tmp_path / "c", "--no-progress", "--audit-budget", "600")[0] == 0
    row = json.loads((tmp_path / "c" / "manifest.json").read_text())["audit"]["strategies"][0]
    assert row["exhaustive"] is True and row["cuts_checked"] == n and row["cuts_carried_over"] == 2
    code, out, _ = cli("run", cfg, "--out", tmp_path / "d", "--no-progress")
    row = json.loads((tmp_path / "d" / "manifest.json").read_text())["audit"]["strategies"][0]
    assert row["cached"] is True and row["exhaustive"] is True
    assert f"look-ahead audit: hold_qqq no look-ahead found in all {n} cuts (cached)" in out
