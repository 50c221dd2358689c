"""MarketData.from_frames: a frame goes through what the same rows in a file go through (the same
stamps, the same quality checks and messages, the same warnings), and a study runs on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests import MarketData
from backtests.config.model import DataConfig
from backtests.data.sources import load_files
from backtests.errors import DataError


def bars(dates: pd.DatetimeIndex, start: float = 100.0, seed: int = 0) -> pd.DataFrame:
    c = start * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, len(dates))))
    return pd.DataFrame({"open": c * 0.999, "high": c * 1.01, "low": c * 0.99, "close": c, "volume": 1e6},
                        index=pd.DatetimeIndex(dates, name="date"))


SEOUL = pd.DatetimeIndex(["2026-06-19", "2026-06-22", "2026-06-23", "2026-06-24", "2026-06-25", "2026-06-26"])
FX = pd.bdate_range("2026-06-15", "2026-06-26")


def from_files(tmp_path: Path, frames: dict[str, tuple[pd.DataFrame, dict]]) -> MarketData:
    files = []
    for sym, (frame, spec) in frames.items():
        path = tmp_path / f"{sym}.csv"
        frame.to_csv(path)
        files.append({"path": str(path), "symbol": sym, **spec})
    return load_files(DataConfig.model_validate({"source": "files", "files": files}), tmp_path)


def test_frames_are_stamped_and_checked_as_files(tmp_path: Path) -> None:
    given = {"005930.KS": (bars(SEOUL, 70000.0), {"market": "XKRX", "currency": "KRW"}),
             "KRW=X": (bars(FX, 1380.0, 1), {"market": "XNYS", "kind": "fx", "close_time": "12:00"})}
    md = MarketData.from_frames({s: {"bars": f, **spec} for s, (f, spec) in given.items()})
    files = from_files(tmp_path, given)
    for sym in given:
        pd.testing.assert_frame_equal(md.bars[sym], files.bars[sym], check_freq=False)
    # the crash day's close is stamped at 15:30 KST = 06:30 UTC; the noon fixing at 12:00 New York
    assert md.bars["005930.KS"].index[2] == pd.Timestamp("2026-06-23 06:30", tz="UTC")
    assert md.bars["KRW=X"].index[0] == pd.Timestamp("2026-06-15 16:00", tz="UTC")
    assert md.info["005930.KS"].source == "frames" and md.fx == {"KRW": "KRW=X"}
    assert md.fingerprint() == files.fingerprint()


def test_a_bad_frame_fails_as_the_same_file_does(tmp_path: Path) -> None:
    holiday = bars(pd.DatetimeIndex(["2026-06-02", "2026-06-03", "2026-06-04"]))  # 06-03: local elections, KRX shut
    with pytest.raises(DataError) as in_file:
        from_files(tmp_path, {"EWY.KS": (holiday, {"market": "XKRX", "currency": "USD"})})
    with pytest.raises(DataError) as in_frame:
        MarketData.from_frames({"EWY.KS": {"bars": holiday, "market": "XKRX"}})
    assert in_frame.value.where == "frames['EWY.KS']"
    assert in_frame.value.bare_message.replace("row 2", "line 3") == in_file.value.bare_message


def test_the_spec_is_a_data_files_entry() -> None:
    frame = bars(SEOUL)
    with pytest.raises(DataError, match=r"frames\['X'\].*market: Field required"):
        MarketData.from_frames({"X": {"bars": frame}})
    with pytest.raises(DataError, match="give the frame with its market"):
        MarketData.from_frames({"X": frame})
    with pytest.raises(DataError, match="layout"):
        MarketData.from_frames({"X": {"bars": frame, "market": "XKRX", "layout": "csv"}})
    with pytest.raises(DataError, match="need the FX series 'KRW=X'"):
        MarketData.from_frames({"X": {"bars": frame, "market": "XKRX", "currency": "KRW"}})
    yahoo = frame.rename(columns=str.capitalize).rename_axis("Date")  # yf.download(...) of one ticker
    md = MarketData.from_frames([{"symbol": "X", "bars": yahoo, "market": "XKRX"}])
    assert md.bars["X"]["close"].tolist() == frame["close"].tolist()


@pytest.mark.slow
def test_a_study_runs_on_frames() -> None:
    from backtests import run
    from backtests.data.synthetic import generate

    synthetic = generate()
    frames = {}
    for sym in ("QQQ", "NVDA"):
        f = synthetic.bars[sym]
        local = f.index.tz_convert("America/New_York").tz_localize(None).normalize()
        frames[sym] = {"bars": f.drop(columns="open_time").set_axis(pd.DatetimeIndex(local, name="date")),
                       "market": "XNYS", "kind": "etf" if sym == "QQQ" else "equity"}
    md = MarketData.from_frames(frames)
    study = {"name": "own_data", "windows": ["deepseek_r1"], "benchmark": "QQQ",
             "strategies": [{"name": "buy_and_hold", "roles": {"asset": "NVDA"}, "params": {"weight": [1.0]}}]}
    result = run(study, data=md, audit=False)
    assert result.metrics["data"]["source"] == "frames" and not result.synthetic
    assert set(result.data["source"]) == {"frames"}
    assert result.data.attrs["fingerprint"] == result.metrics["data"]["fingerprint"]
    # the same bars as the synthetic replay's: the same returns
    replay = run(study, audit=False)
    assert result.runs["total_return"].tolist() == replay.runs["total_return"].tolist()
