"""`scare data import`: layouts recognised, files named as skipped with a reason, ../shared/data in one go."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from backtests.orchestration.cli import main
from backtests.data.cache import Cache
from backtests.data.importer import import_path, plan_file

SHARED = Path(os.environ.get("SCARE_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "dump"
    (d / "events").mkdir(parents=True)
    (d / "AAPL.csv").write_text("Date,Open,High,Low,Close,Adj Close,Volume\n"
                                "2025-01-02,248.9,249.1,241.8,243.9,243.3,55740700\n"
                                "2025-01-03,243.4,244.2,241.9,243.4,242.8,40244100\n")
    (d / "DEXJPUS.csv").write_text("date,value\n2025-01-02,157.5\n2025-01-03,157.2\n")
    (d / "liquidation_agg_BTC_4h.csv").write_text(
        "datetime_utc,time_ms,aggregated_long_liquidation_usd,aggregated_short_liquidation_usd,source_snapshot\n"
        "2025-01-27T00:00:00Z,1737936000000,21069771.3,2661796.3,20250512\n"
        "2025-01-27T04:00:00Z,1737950400000,91069771.3,1661796.3,20250512\n")
    (d / "events" / "earnings.csv").write_text("announce_date,timing\n2025-06-25,after close\n")
    (d / "notes.txt").write_text("hello")
    (d / "weird.csv").write_text("a,b\n1,2\n")
    return d


def test_folder_import_recognises_or_names_the_skip(folder, tmp_path):
    cache = Cache(tmp_path / "c")
    res = {Path(r.path).name: r for r in import_path(cache, folder)}
    assert res["AAPL.csv"].status == "imported" and res["AAPL.csv"].key == "import/AAPL/bars/1D"
    assert res["DEXJPUS.csv"].key == "import/DEXJPUS/bars/1D"
    assert res["liquidation_agg_BTC_4h.csv"].key == "import/BTC-USD/liquidations/4h"
    assert res["earnings.csv"].status == "skipped" and "event list" in res["earnings.csv"].reason
    assert res["notes.txt"].status == "skipped" and "not a CSV" in res["notes.txt"].reason
    assert res["weird.csv"].status == "skipped" and "no date/price columns" in res["weird.csv"].reason
    e = cache.entries()["import/AAPL/bars/1D"]
    assert e["market"] == "XNYS" and e["covered"] == [["2025-01-02", "2025-01-03"]] and "adj_close" in e["columns"]
    assert "sha256:" in e["origin"] and e["layout"] == "yfinance"
    liq = cache.read(cache.entries()["import/BTC-USD/liquidations/4h"])
    assert liq.index[0] == pd.Timestamp("2025-01-27 04:00", tz="UTC")  # CoinGlass labels bar opens
    again = {Path(r.path).name: r.status for r in import_path(cache, folder)}
    assert again["AAPL.csv"] == "unchanged"


def test_single_file_with_mapping_and_unsafe_symbol(folder, tmp_path, capsys):
    f = folder / "weird.csv"
    f.write_text("day,Price\n2025-01-02,52000\n2025-01-03,53000\n")
    root = str(tmp_path / "c")
    assert main(["data", "import", str(f), "--symbol", "005380.KS", "--market", "XKRX", "--currency", "KRW",
                 "--column", "close=Price", "--column", "time=day", "--layout", "close_only", "--cache", root]) == 0
    assert "imported  " in capsys.readouterr().out
    frame = Cache(root).read(Cache(root).entries()["import/005380.KS/bars/1D"])
    assert frame.index[0] == pd.Timestamp("2025-01-02 06:30", tz="UTC")
    assert main(["data", "import", str(f), "--symbol", "../evil", "--cache", root]) == 2
    assert not (tmp_path / "evil").exists()
    assert main(["data", "import", str(tmp_path / "nope.csv"), "--cache", root]) == 2


@pytest.mark.shared_data
def test_shared_data_folder_in_one_command(tmp_path, capsys):
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    root = tmp_path / "cache"
    assert main(["data", "import", str(SHARED), "--cache", str(root)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.split(" ", 1)[0] in {"imported", "skipped", "failed", "unchanged"}]
    files = sorted(p for p in SHARED.rglob("*") if p.is_file())
    assert len(lines) == len(files)  # every file is named, once
    assert not any(ln.startswith("failed") for ln in lines)
    skipped = [ln for ln in lines if ln.startswith("skipped")]
    assert all(": " in ln.split(str(SHARED), 1)[1] for ln in skipped)  # each with its reason
    assert {Path(ln.split()[1].rstrip(":")).name for ln in skipped} == {
        "SOURCES.md", "ai_shock_events.csv", "kospi_drop_days_le_minus5pct.csv", "krx_circuit_breakers.csv",
        "micron_earnings_dates.csv", "korea_export_HS8542_monthly.csv"}
    entries = Cache(root).entries()
    for key in ("import/^KS11/bars/1D", "import/069500.KS/bars/1D", "import/KRW=X/bars/1D", "import/EWY/bars/1D",
                "import/000660.KS/bars/1D", "import/000660.KS_SKHynix/bars/1D", "import/BTC-USD/bars/1D",
                "import/BTC-USD/liquidations/1D", "import/BTC-USD/liquidations/4h", "import/ETH-USD/funding/4h",
                "import/KOSPI_KS11/bars/1D", "import/SOXS/bars/1D"):
        assert key in entries, key
    fx = entries["import/KRW=X/bars/1D"]
    assert fx["close_time"] == "12:00" and fx["market"] == "XNYS" and fx["currency"] == "KRW"
    krw = Cache(root).read(fx)
    assert krw.index[-1].tz_convert("America/New_York").hour == 12  # a New York noon fixing
    assert entries["import/^KS11/bars/1D"]["market"] == "XKRX"
    assert "will be refused at load" in out and "SOXS" in out
    assert main(["data", "verify", "--cache", str(root)]) == 0
    assert plan_file(SHARED / "events" / "krx_circuit_breakers.csv", SHARED).startswith("event list")
