"""Import ../shared/data into a temporary cache, then run every study in configs/ with --offline and
check the replay studies' known facts on the data they ran on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.orchestration.cli import main
from backtests.config import load_config
from backtests.data.cache import ENV_DIR, Cache
from backtests.data.importer import import_path
from backtests.data.sources import load_market_data

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SCARE_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
REPLAYS = ["replay_deepseek_2025", "replay_kospi_crash_2026", "replay_micron_earnings"]

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    root = tmp_path_factory.mktemp("data_cache")
    results = import_path(Cache(root), SHARED)
    assert not [r for r in results if r.status == "failed"]
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV_DIR, str(root))
    yield root
    mp.undo()


def data_of(name: str):
    loaded = load_config(REPO / "configs" / f"{name}.yaml", [])
    return load_market_data(loaded.config.data, loaded.base_dir, offline=True)


def ret_on(md, sym: str, date: str) -> float:
    c = md.series(sym, "close")
    local = c.index.tz_convert("UTC") if md.info[sym].market == "CRYPTO" else \
        c.index.tz_convert({"XKRX": "Asia/Seoul", "XNYS": "America/New_York"}[md.info[sym].market])
    pos = np.flatnonzero(local.tz_localize(None).normalize() == pd.Timestamp(date))
    assert pos.size == 1, f"{sym} has no bar on {date}"
    return float(c.iloc[pos[0]] / c.iloc[pos[0] - 1] - 1)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_study_runs_offline(cache_root, config, tmp_path):
    assert main(["run", str(config), "--offline", "--no-progress", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_replay_studies_read_the_cache(cache_root):
    for name in REPLAYS:
        cfg = load_config(REPO / "configs" / f"{name}.yaml", []).config
        assert cfg.data.source == "cache", name


def test_kospi_crash_close(cache_root):
    md = data_of("replay_kospi_crash_2026")
    assert ret_on(md, "^KS11", "2026-06-23") == pytest.approx(-0.0999, abs=5e-5)
    bar = md.bars["^KS11"]
    day = bar.loc[bar.index.tz_convert("Asia/Seoul").normalize().tz_localize(None) == pd.Timestamp("2026-06-23")]
    assert float(day["low"].iloc[0]) == pytest.approx(float(day["close"].iloc[0]))  # low = close
    assert day.index[0] == pd.Timestamp("2026-06-23 06:30", tz="UTC")


def test_deepseek_nvda_and_the_krx_holiday_gap(cache_root):
    md = data_of("replay_deepseek_2025")
    assert ret_on(md, "NVDA", "2025-01-27") == pytest.approx(-0.170, abs=1e-3)
    for sym in ("^KS11", "000660.KS", "005930.KS"):
        local = md.bars[sym].index.tz_convert("Asia/Seoul").normalize().tz_localize(None)
        assert not local.isin(pd.date_range("2025-01-27", "2025-01-30")).any(), sym
        assert pd.Timestamp("2025-01-24") in local and pd.Timestamp("2025-01-31") in local
    assert not [w for w in md.warnings if "^KS11" in w and "gap" in w]  # the calendar knows the holiday


def test_micron_hynix_reacts_first_in_seoul(cache_root):
    md = data_of("replay_micron_earnings")
    hx = md.bars["000660.KS"].index
    mu = md.bars["MU"].index
    day = pd.Timestamp("2026-06-25")
    h = hx[hx.tz_convert("Asia/Seoul").normalize().tz_localize(None) == day][0]
    m = mu[mu.tz_convert("America/New_York").normalize().tz_localize(None) == day][0]
    assert h == pd.Timestamp("2026-06-25 06:30", tz="UTC") and m == pd.Timestamp("2026-06-25 20:00", tz="UTC")
    assert h < m
    assert ret_on(md, "MU", "2026-06-25") == pytest.approx(0.157, abs=2e-3)
    assert "KRW=X" in md.bars and md.fx == {"KRW": "KRW=X"}
    # FX as of the Seoul close: the New York noon fixing of the day before, never that day's
    rate = md.to_usd("000660.KS").loc[h]
    fx = md.series("KRW=X")
    prior = fx.loc[:h].iloc[-1]
    assert fx.loc[:h].index[-1] < h and rate == pytest.approx(md.series("000660.KS").loc[h] / prior)


def test_offline_names_what_is_missing_for_a_replay(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "empty"))
    assert main(["run", str(REPO / "configs" / "replay_deepseek_2025.yaml"), "--offline", "--no-progress",
                 "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o" / "metrics.json").exists()
