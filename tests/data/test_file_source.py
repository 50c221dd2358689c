"""A study on real files from ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import json
import textwrap

import pandas as pd

from backtests.data.files import load_file


def test_real_files_stamp_and_convert(shared_data):
    hynix = load_file(shared_data / "equities" / "000660.KS.csv", "XKRX").frame
    mu = load_file(shared_data / "equities" / "MU.csv", "XNYS").frame
    fx = load_file(shared_data / "fx" / "USDKRW_FRED_DEXKOUS.csv", "XNYS", close_time="12:00").frame
    h = hynix.index[hynix.index.normalize() == pd.Timestamp("2026-06-25", tz="UTC")][0]
    m = mu.index[mu.index.normalize() == pd.Timestamp("2026-06-25", tz="UTC")][0]
    assert h == pd.Timestamp("2026-06-25 06:30", tz="UTC") and m == pd.Timestamp("2026-06-25 20:00", tz="UTC")
    assert h < m
    # DEXKOUS is a New York noon fixing: stamped 16:00 UTC in summer, after Seoul's close
    assert fx.loc["2026-06-24"].index[0] == pd.Timestamp("2026-06-24 16:00", tz="UTC")
    # KRX was shut 2025-01-27..30
    days = hynix.loc["2025-01-24":"2025-02-01"].index.normalize().strftime("%m-%d").tolist()
    assert days == ["01-24", "01-31"]


def test_study_on_real_files(shared_data, tmp_path, cli):
    eq = shared_data / "equities"
    cfg = tmp_path / "real.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        name: real_files
        data:
          source: files
          start: 2024-06-01
          files:
            - {{path: {eq / 'NVDA.csv'}, symbol: NVDA, market: XNYS}}
            - {{path: {eq / 'MU.csv'}, symbol: MU, market: XNYS}}
            - {{path: {eq / 'SPY.csv'}, symbol: SPY, market: XNYS, kind: etf}}
            - {{path: {eq / '000660.KS.csv'}, symbol: 000660.KS, market: XKRX, currency: KRW}}
            - {{path: {shared_data / 'fx' / 'USDKRW_FRED_DEXKOUS.csv'}, symbol: KRW=X, market: XNYS,
                currency: KRW, kind: fx, close_time: "12:00"}}
        windows: [deepseek_r1, deepseek_r1_krx]
        window_defaults: {{pre: 2, post: 3}}
        strategies:
          - {{name: buy_and_hold, label: nvda, roles: {{asset: NVDA}}, windows: [deepseek_r1]}}
          - {{name: buy_and_hold, label: hynix, roles: {{asset: 000660.KS}}, windows: [deepseek_r1_krx]}}
        """))
    out = tmp_path / "out"
    code, stdout, err = cli("run", cfg, "--out", out, "--no-progress")
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["synthetic"] is False and metrics["data"]["source"] == "files"
    runs = {r["strategy"]: r for r in metrics["runs"]}
    # long NVDA from the window's first open through 2025-01-27 (-17% that day): a clear loss
    assert runs["nvda"]["metrics"]["total_return"] < -0.10
    orders = pd.read_parquet(out / "orders.parquet")
    hy = orders[orders["symbol"] == "000660.KS"].sort_values("time")
    # held in USD terms through the KRX holiday: no order may fall on 2025-01-27..30
    assert not hy["time"].dt.strftime("%Y-%m-%d").isin(["2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30"]).any()


def test_a_sentiment_series_may_be_zero(tmp_path):
    from backtests.data.frames import daily_bars
    from backtests.data.market_data import MarketData, SymbolInfo
    from backtests.data.quality import check_bars

    frame = daily_bars(pd.DataFrame({"close": [55.0, 0.0, 12.0]},
                                    index=pd.DatetimeIndex(["2014-10-10", "2014-10-13", "2014-10-14"])), "XNYS")
    md = MarketData({"FG": frame}, {"FG": SymbolInfo("FG", "XNYS", kind="series")})
    assert md.series("FG").tolist() == [55.0, 0.0, 12.0]
    assert not [f for f in check_bars(frame, "FG", "XNYS", kind="series") if f.check == "non_positive"]
    assert [f for f in check_bars(frame, "FG", "XNYS", kind="equity") if f.check == "non_positive"]
