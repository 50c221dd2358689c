"""Hostile data files: every source gets the same checks, and bad files are one line, exit 2.

The files are in ``tests/data/fixtures/hostile/`` (a clean KRX file around Seollal 2025 and
variants of it, made by hand: see the README there).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.config import load_config
from backtests.data.frames import daily_bars
from backtests.data.quality import vet
from backtests.data.sources import load_market_data
from backtests.errors import DataError

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"


def study(tmp_path: Path, data_file: Path, extra: str = "") -> Path:
    cfg = tmp_path / "study.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        name: hostile_files
        data:
          source: files
          files:
            - {{path: {data_file}, symbol: 069500.KS, market: XKRX, kind: etf}}
        {extra}
        benchmark: null
        windows: [deepseek_r1_krx]
        window_defaults: {{pre: 2, post: 3}}
        strategies:
          - {{name: buy_and_hold, roles: {{asset: 069500.KS}}}}
        """))
    return cfg


def one_line_exit_2(cli, *args: object) -> str:
    code, out, err = cli(*args)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("name, expected", [
    # the example: an extra bar on 2025-01-28 (Seollal, KRX closed) traded on that day
    ("krx_seollal_bar.csv", r"field date: 1 bar\(s\) on dates XKRX is closed: 2025-01-28 \(line 12\)"),
    ("krx_close_inf.csv", r"field close: inf on 2025-01-20 \(line 7\) \[non_finite\]"),
    ("krx_close_above_high.csv", r"field close: 192.2 on 2025-01-21 \(line 8\) is outside the bar's range "
                                 r"\(1.9x the high 101.16\) \[bad_price\]"),
    ("krx_row_2099.csv", r"field date: 1 row\(s\) dated after today, first 2099-01-05 \(line 23\) \[future\]"),
    ("random_bytes.parquet", r"cannot read parquet file: Parquet magic bytes not found"),
    ("random_bytes.csv", r"cannot read CSV header"),
])
def test_a_bad_file_in_a_files_source_is_one_line_naming_file_row_and_field(tmp_path, cli, name, expected):
    import re

    out = tmp_path / "out"
    line = one_line_exit_2(cli, "run", study(tmp_path, HOSTILE / name), "--out", out, "--no-progress")
    assert str(HOSTILE / name) in line and re.search(expected, line), line
    assert not out.exists()


def test_the_clean_file_loads_without_a_warning(tmp_path):
    loaded = load_config(study(tmp_path, HOSTILE / "krx_clean.csv"), [])
    md = load_market_data(loaded.config.data, loaded.base_dir)
    assert len(md.bars["069500.KS"]) == 21 and md.warnings == []


def test_closed_session_bars_can_be_dropped_with_a_named_warning(tmp_path):
    cfg = study(tmp_path, HOSTILE / "krx_seollal_bar.csv", "  closed_session_bars: drop")
    loaded = load_config(cfg, [])
    md = load_market_data(loaded.config.data, loaded.base_dir)
    local = md.bars["069500.KS"].index.tz_convert("Asia/Seoul").normalize().tz_localize(None)
    assert pd.Timestamp("2025-01-28") not in local
    (n,) = [w for w in md.warnings if getattr(w, "code", None) == "closed_session_bar_dropped"]
    assert n.symbol == "069500.KS" and n.count == 1 and "2025-01-28" in n.message
    assert str(HOSTILE / "krx_seollal_bar.csv") in n.message


def test_unreadable_file_in_data_import_is_one_line_exit_2(tmp_path, cli):
    line = one_line_exit_2(cli, "data", "import", HOSTILE / "random_bytes.parquet", "--cache", tmp_path / "c")
    assert "random_bytes.parquet" in line and "cannot read the file as parquet" in line


# ------------------------------------------------------------- the same checks for every source
def _bars(market: str, dates: list[str], close: list[float]) -> pd.DataFrame:
    c = np.asarray(close, dtype=float)
    table = pd.DataFrame({"open": c, "high": c * 1.01, "low": c * 0.99, "close": c},
                         index=pd.DatetimeIndex(dates))
    return daily_bars(table, market)


def test_vet_refuses_a_holiday_bar_whatever_the_source():
    frame = _bars("XKRX", ["2025-01-24", "2025-01-28", "2025-01-31"], [100, 101, 102])
    with pytest.raises(DataError, match=r"cache file: bad data for X: field date: 1 bar\(s\) on dates XKRX is "
                                        r"closed: 2025-01-28;"):
        vet(frame, "X", "XKRX", "etf", where="cache file")
    kept, notes = vet(frame, "X", "XKRX", "etf", where="cache file", closed="drop")
    assert len(kept) == 2 and [n.code for n in notes] == ["closed_session_bar_dropped"]


def test_fx_rates_may_fix_on_exchange_holidays():
    # DEXKOUS-like: a New York fixing on a KRX holiday is a rate, not a bar on a closed session
    fx = _bars("XKRX", ["2025-01-24", "2025-01-28", "2025-01-31"], [1400, 1401, 1402])
    kept, _ = vet(fx, "KRW=X", "XKRX", "fx")
    assert len(kept) == 3


def test_synthetic_data_goes_through_the_same_checks(monkeypatch, tmp_path):
    from backtests.data import sources, synthetic

    real = synthetic.generate

    def with_a_holiday_bar(**kw):
        md = real(**kw)
        f = md.bars["EWY"]
        extra = f.iloc[[-1]].copy()
        extra.index = pd.DatetimeIndex([pd.Timestamp("2026-12-25 21:00", tz="UTC")])  # Christmas
        extra["open_time"] = pd.DatetimeIndex([pd.Timestamp("2026-12-25 14:30", tz="UTC")])
        md.bars["EWY"] = pd.concat([f, extra])
        return md

    monkeypatch.setattr(synthetic, "generate", with_a_holiday_bar)
    cfg = load_config_text("data: {source: synthetic}", tmp_path)
    with pytest.raises(DataError, match=r"synthetic EWY: bad data for EWY: field date: 1 bar\(s\) on dates XNYS is "
                                        r"closed: 2026-12-25"):
        sources.load_market_data(cfg.config.data, cfg.base_dir)


def test_cache_and_files_give_the_same_verdict(tmp_path, cli):
    """The cache path (import, then study) refuses the Seollal bar exactly as the files source does."""
    cache = tmp_path / "c"
    code, _, err = cli("data", "import", HOSTILE / "krx_seollal_bar.csv", "--cache", cache, "--symbol", "069500.KS",
                       "--market", "XKRX", "--currency", "USD")
    assert code == 0, err
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: c\ndata: {{source: cache, cache_dir: {cache}, symbols: [069500.KS]}}\nbenchmark: null\n"
                   "windows: [deepseek_r1_krx]\nstrategies: [{name: buy_and_hold, roles: {asset: 069500.KS}}]\n")
    line = one_line_exit_2(cli, "run", cfg, "--offline", "--out", tmp_path / "o", "--no-progress")
    assert "069500.KS" in line and "field date: 1 bar(s) on dates XKRX is closed: 2025-01-28" in line


def load_config_text(text: str, folder: Path):
    p = folder / "s.yaml"
    p.write_text(f"name: s\n{text}\nwindows: [deepseek_r1]\nstrategies: [{{name: buy_and_hold}}]\n")
    return load_config(p, [])
