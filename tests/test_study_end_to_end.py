"""The default study end to end: contract files, determinism, the CLI's read-only commands."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from tests.conftest import ROOT
from backtests.report import read_returns

CONTRACT = {"metrics.json", "returns.parquet", "weights.parquet", "manifest.json", "tearsheet.html"}


@pytest.fixture(scope="module")
def default_runs(tmp_path_factory):
    from backtests.orchestration.cli import main

    base = tmp_path_factory.mktemp("runs")
    outs = []
    for name in ("a", "b"):
        out = base / name
        assert main(["run", str(ROOT / "configs" / "scare_trades.yaml"), "--out", str(out), "--no-progress"]) == 0
        outs.append(out)
    return outs


def test_default_study_writes_the_contract_files(default_runs):
    out = default_runs[0]
    assert CONTRACT <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["synthetic"] is True and metrics["data"]["synthetic"] is True
    assert "SYNTHETIC" in metrics["data"]["label"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic"] is True and manifest["config_hash"] == metrics["config_hash"]
    assert "SYNTHETIC" in (out / "tearsheet.html").read_text()
    run = metrics["runs"][0]
    assert {"id", "strategy", "params", "window", "metrics"} <= set(run)
    for key in ("total_return", "sharpe", "sortino", "calmar", "max_drawdown", "hit_rate", "n_trades", "exposure"):
        assert key in run["metrics"]
    assert metrics["pooled"] and all("n_windows" in p["metrics"] for p in metrics["pooled"])


def test_metrics_are_byte_identical_across_runs(default_runs):
    a, b = default_runs
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()


def test_returns_recompute_total_return(default_runs):
    out = default_runs[0]
    metrics = json.loads((out / "metrics.json").read_text())
    returns = read_returns(out / "returns.parquet")
    weights = pd.read_parquet(out / "weights.parquet")
    with_weights = set(weights["run"].astype(str))
    for run in metrics["runs"]:
        col = returns[run["id"]].dropna()
        assert (1 + col).prod() - 1 == pytest.approx(run["metrics"]["total_return"], rel=1e-9, abs=1e-12)
        assert run["id"] in with_weights


def test_run_ids_are_stable_and_unique(default_runs):
    ids = [r["id"] for r in json.loads((default_runs[0] / "metrics.json").read_text())["runs"]]
    assert len(ids) == len(set(ids))


def test_schema_and_list_commands(cli):
    code, out, _ = cli("schema")
    schema = json.loads(out)
    assert code == 0 and schema["additionalProperties"] is False and "strategies" in schema["properties"]
    code, out, _ = cli("list", "strategies")
    assert code == 0 and "buy_and_hold" in out and "weight" in out
    code, out, _ = cli("list", "windows")
    assert code == 0 and "kospi_crash_2026" in out and "mu_earn_2026_06_24" in out


def test_validate_default_study(cli):
    code, out, err = cli("validate", ROOT / "configs" / "scare_trades.yaml")
    assert code == 0, err
    assert "OK" in out


def test_every_shipped_config_validates(cli):
    for cfg in sorted((ROOT / "configs").glob("*.yaml")):
        if cfg.name.startswith("replay_"):
            continue  # need a filled data cache (see tests/data)
        code, _, err = cli("validate", cfg)
        assert code == 0, (cfg.name, err)


def test_set_override_changes_the_run(tmp_path, cli):
    cfg = ROOT / "tests" / "configs" / "small.yaml"
    out = tmp_path / "o"
    code, _, err = cli("run", cfg, "--out", out, "--no-progress", "--set", "execution.fill=close",
                       "--set", "strategies.0.params.weight=0.25")
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["execution"]["fill"] == "close"
    metrics = json.loads((out / "metrics.json").read_text())
    hold = [r for r in metrics["runs"] if r["strategy"] == "hold_qqq"]
    assert hold and {r["params"]["weight"] for r in hold} == {0.25}


def test_plugin_by_module_path(tmp_path, cli, monkeypatch):
    pkg = tmp_path / "myplugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "short_it.py").write_text(textwrap.dedent('''
        from backtests.strategy import FloatParam, Role, Strategy

        class ShortIt(Strategy):
            """Short one symbol."""
            name = "short_it"
            roles = {"asset": Role("NVDA")}
            size = FloatParam(0.5, low=0.0, high=1.0)

            def weights(self, ctx, size):
                w = ctx.empty_weights()
                w[ctx.symbol("asset")] = -size
                return w
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: p\nwindows: [deepseek_r1]\nstrategies:\n  - name: myplugins.short_it:ShortIt\n")
    out = tmp_path / "out"
    code, _, err = cli("run", cfg, "--out", out, "--no-progress")
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    # NVDA fell 17% on 2025-01-27 in the replay: the short made money in that window
    assert metrics["runs"][0]["metrics"]["total_return"] > 0.05


def test_event_study_is_in_metrics(default_runs):
    metrics = json.loads((default_runs[0] / "metrics.json").read_text())
    by_label = {s["label"]: s for s in metrics["strategies"]}
    assert {"fade_kospi_halt", "memory_pair_earnings", "stablecoin_rotation"} <= set(by_label)
    asset = by_label["memory_pair_earnings"]["event_study"]["asset"]
    assert asset["symbol"] == "MU" and asset["estimation_sessions"] == 60
    assert len(asset["car"]) == asset["n_events"] + len(asset["dropped"]) >= 8
    assert len(asset["caar_path"]) == asset["pre"] + asset["post"] + 1
    assert asset["caar"] == pytest.approx(sum(v for v in asset["car"].values() if v is not None) / asset["n_events"])
    fade = by_label["fade_kospi_halt"]["event_study"]["strategy"]
    strat = next(iter(fade.values()))
    assert strat["n_events"] >= 5 and 0 <= strat["fraction_positive"] <= 1


def test_halts_and_fill_times_are_recorded(default_runs):
    out = default_runs[0]
    halts = json.loads((out / "metrics.json").read_text())["data"]["halts"]
    kospi = {h["from_utc"][:10]: h for h in halts if h["symbol"] == "^KS11"}
    # the six KOSPI level-1 days of the replay; 2026-06-23: no prints 10:50-11:20 KST (1-minute bars)
    assert sorted(kospi) == ["2024-08-05", "2026-03-04", "2026-03-09", "2026-06-08", "2026-06-23", "2026-06-26"]
    assert kospi["2026-06-23"]["from_utc"] == "2026-06-23T01:50:00+00:00" and kospi["2026-06-23"]["minutes"] == 30
    orders = pd.read_parquet(out / "orders.parquet")
    assert (orders["fill_time"] <= orders["time"]).all()
    assert (orders["fill_time"] < orders["time"]).any()  # some fills happened at a bar's open


def test_the_fade_buys_the_reopening_auction_of_the_rule_derived_halt(default_runs):
    """The synthetic 2026-06-23 crash, worked from the rule (docs/exchange.md, krx_cb_2015): KOSPI
    lies 8% under its previous close for the whole minute 10:49-10:50 KST, so the halt runs
    10:50-11:10 and the call auction 11:10-11:20; the first print after it is the 11:20 bar's open.
    The study's exchange state says so, and every fade run entering at the reopening auction buys
    KODEX 200 there (fill_kind auction), not at the close; no check of the state against the bars fails."""
    out = default_runs[0]
    metrics = json.loads((out / "metrics.json").read_text())
    fade = next(s for s in metrics["strategies"] if s["label"] == "fade_kospi_halt")
    state = fade["execution"]["exchange_state"]["symbols"]["069500.KS"]
    assert "2026-06-23T01:50:00+00:00" in state["halts_utc"] and "intraday" in state["derived_from"]
    runs = {r["id"]: r for r in metrics["runs"] if r["strategy"] == "fade_kospi_halt"
            and r["params"]["entry"] == "reopen" and r["window"] == "krx_cb_2026_06_23"}
    assert runs
    orders = pd.read_parquet(out / "orders.parquet")
    first = orders[orders["run"].isin(list(runs))].sort_values("fill_time").groupby("run").head(1)
    assert len(first) == len(runs)
    assert set(first["fill_kind"]) == {"auction"} and set(first["side"]) == {"buy"}
    assert set(pd.to_datetime(first["fill_time"], utc=True)) == {pd.Timestamp("2026-06-23 02:20", tz="UTC")}
    warnings = {(w["code"], (w.get("message") or "")[:10]) for w in metrics.get("warnings", [])}
    assert not any(code in ("halt_mismatch", "bars_during_halt", "unexplained_bar_gap") for code, _ in warnings)
