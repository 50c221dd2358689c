"""``scare list strategies|windows [--config STUDY]``: the built-ins as before; with a study, its
``module:Class`` plug-ins (roles, parameters, how the study uses them) and its events_files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

STRATEGY_DIR = Path(__file__).resolve().parents[1] / "strategy"  # rsi_dip.py, rsi_dip.yaml

EVENTS_CSV = """date,kind,market,time_kst,note
2026-06-23,circuit_breaker_level1,KOSPI,,the crash
2026-06-26,circuit_breaker_level1,KOSPI,12:40,second halt
2026-06-26,sidecar_kospi,KOSPI,09:06,not a halt
"""
EARNINGS_YAML = """events:
  - {id: mu_q4, kind: micron_earnings, market: XNYS, date: 2026-09-23, timing: after_close, label: Micron FQ4}
"""


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(STRATEGY_DIR))
    (tmp_path / "halts.csv").write_text(EVENTS_CSV)
    (tmp_path / "earnings.yaml").write_text(EARNINGS_YAML)
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        "name: s\nevents_files:\n  - path: halts.csv\n    market: XKRX\n    where: {kind: [circuit_breaker_level1]}\n"
        "  - path: earnings.yaml\n    kind: micron_earnings\n"
        "windows: [kospi_crash_2026]\nstrategies:\n"
        "  - name: rsi_dip:RsiDipFiltered\n    label: dip_in_falling_market\n    roles: {market: QQQ, asset: MU}\n"
        "    params: {window: [7, 14], level: 30}\n"
        "  - name: rsi_dip:RsiDipFiltered\n    params: {window: 10}\n"
        "  - name: buy_and_hold\n    label: hold_mu\n    roles: {asset: MU}\n")
    return cfg


def test_without_config_the_built_ins_as_before(cli):
    code, out, err = cli("list", "strategies")
    assert code == 0 and not err
    assert out.startswith("buy_and_hold: Hold a fixed weight in one symbol.\n    role asset = SPY\n")
    assert "role index = ^KS11 (signal only) needs high, low, close" in out
    assert "event_kind: event_kind = 'krx_circuit_breaker'" in out
    assert "module:Class" not in out and "rsi_dip" not in out
    code, out, _ = cli("list", "strategies", "--json")
    items = json.loads(out)
    assert [d["name"] for d in items][:2] == ["buy_and_hold", "fade_kospi_halt"]
    assert all("path" not in d for d in items)
    code, out, _ = cli("list", "windows", "--json")
    rows = json.loads(out)
    assert {"kospi_crash_2026", "mu_earn_2026_06_24"} <= {r["id"] for r in rows} and all("source" not in r for r in rows)


def test_study_plugins_are_listed_with_roles_params_and_use(cli, study):
    code, out, err = cli("list", "strategies", "--config", study)
    assert code == 0, err
    head, _, tail = out.partition(f"\n{study}: ")
    assert "buy_and_hold:" in head and "rsi_dip" not in head  # the built-ins first, as without --config
    lines = tail.splitlines()
    assert lines[0] == "1 module:Class plug-in (and built-ins: hold_mu)"
    assert lines[1] == ("rsi_dip:RsiDipFiltered (name 'rsi_dip_filtered'; in the study: as 'dip_in_falling_market', "
                        "2 combinations; 1 combination): RsiDip only while SPY closes below its `window`-bar mean: "
                        "a read-only role (traded=False).")
    assert lines[2:6] == ["    role asset = QQQ", "    role market = SPY (signal only)",
                          "    window: int = 14 range [2, 100] [bars]  RSI lookback.",
                          "    level: float = 30.0 range [1.0, 99.0] [RSI points]  Buy below this RSI."]
    assert lines[6] == "    dip_in_falling_market: roles asset = MU, market = QQQ"
    code, out, _ = cli("list", "strategies", "--config", study, "--json")
    items = json.loads(out)
    plug = [d for d in items if "path" in d]
    assert len(plug) == 1 and plug[0]["path"] == "rsi_dip:RsiDipFiltered" and plug[0]["name"] == "rsi_dip_filtered"
    assert plug[0]["study"] == {"dip_in_falling_market": {"roles": {"asset": "MU", "market": "QQQ"}, "combinations": 2},
                                "rsi_dip:RsiDipFiltered": {"roles": {"asset": "QQQ", "market": "SPY"}, "combinations": 1}}
    assert plug[0]["roles"]["market"]["traded"] is False and plug[0]["params"]["window"]["type"] == "int"
    assert "buy_and_hold" in [d["name"] for d in items]


def test_study_events_files_are_listed_beside_the_built_ins(cli, study):
    code, out, err = cli("list", "windows", "--config", study)
    assert code == 0, err
    head, _, tail = out.partition(f"\n{study}: ")
    assert "kospi_crash_2026" in head and "circuit_breaker_level1" not in head
    lines = tail.splitlines()
    assert lines[0] == "3 events from its events_files"
    assert lines[1].split()[:4] == ["circuit_breaker_level1_2026_06_23", "circuit_breaker_level1", "XKRX", "2026-06-23"]
    assert lines[3].split()[:2] == ["mu_q4", "micron_earnings"]
    # kind: micron_earnings replaces the catalogue's own Micron dates: said, not silent
    assert lines[4].startswith("built-in events the study's events_files replace: mu_earn_")
    assert lines[5] == ("event kinds in the study: ai_shock, circuit_breaker_level1, crypto_liquidation, "
                        "krx_circuit_breaker, micron_earnings")
    code, out, _ = cli("list", "windows", "--config", study, "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["circuit_breaker_level1_2026_06_26"]["source"] == "events_files"
    assert rows["circuit_breaker_level1_2026_06_26"]["time_utc"] == "2026-06-26T03:40:00+00:00"  # 12:40 KST
    assert rows["kospi_crash_2026"]["source"] == "built-in"
    assert "mu_earn_2026_06_24" not in rows and "sidecar_kospi" not in {r["kind"] for r in rows.values()}


@pytest.mark.parametrize("what", ["strategies", "windows"])
def test_a_bad_study_is_one_line_and_exit_2(cli, tmp_path, what, monkeypatch):
    monkeypatch.syspath_prepend(str(STRATEGY_DIR))
    code, out, err = cli("list", what, "--config", tmp_path / "missing.yaml")
    assert code == 2 and not out and err.count("\n") == 1 and "config file not found" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nevents_files: [nowhere.csv]\nwindows: [kospi_crash_2026]\n"
                   "strategies:\n  - name: rsi_dip:NoSuchClass\n")
    code, out, err = cli("list", what, "--config", bad)
    assert code == 2 and not out and err.count("\n") == 1
    assert "bad.yaml:2: events_files.0.path" in err and "events file not found" in err
    bad.write_text("name: b\nwindows: [kospi_crash_2026]\nstrategies:\n  - name: rsi_dip:NoSuchClass\n")
    code, out, err = cli("list", what, "--config", bad)
    if what == "strategies":
        assert code == 2 and not out and err.count("\n") == 1
        assert "bad.yaml:4: strategies.0.name" in err and "'rsi_dip:NoSuchClass' is not a Strategy subclass" in err
    else:  # the windows listing needs the catalogue only
        assert code == 0, err
