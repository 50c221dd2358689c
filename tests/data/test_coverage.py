"""Windows beyond the data: an error, trimmed or dropped with a named warning, never padded."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtests.time.calendars import sessions
from backtests.data.coverage import check_windows
from backtests.data.frames import daily_bars
from backtests.data.market_data import MarketData, SymbolInfo
from backtests.errors import DataError
from backtests.time.windows import Event, make_window


def bars(market: str, first: str, last: str) -> pd.DataFrame:
    days = sessions(market, first, last).index
    c = np.linspace(100, 110, len(days))
    return daily_bars(pd.DataFrame({"open": c, "high": c, "low": c, "close": c}, index=days), market)


def market_data(**frames: tuple[str, pd.DataFrame]) -> MarketData:
    return MarketData(bars={s: f for s, (_, f) in frames.items()},
                      info={s: SymbolInfo(s, m, "USD", "equity") for s, (m, _) in frames.items()})


def plan_of(windows, traded, partial="error"):
    sp = SimpleNamespace(windows=list(windows), strategy=SimpleNamespace(traded_symbols=list(traded)),
                         label="s", index=0)
    return SimpleNamespace(config=SimpleNamespace(window_defaults=SimpleNamespace(partial=partial)),
                           strategies=[sp], windows=list(windows))


def window(market: str, date: str, pre: int, post: int, timing: str = "intraday", wid: str = "w"):
    return make_window(Event(wid, wid, "custom", market, pd.Timestamp(date), timing=timing), pre, post)


def test_a_window_past_the_end_is_an_error_naming_window_symbol_and_sessions():
    # the issue's case: synthetic-like data ending 2026-08-31, an event on 2026-08-28 with post 10:
    # 9 of the 16 sessions would be padded
    w = window("XNYS", "2026-08-28", 5, 10)
    md = market_data(EWY=("XNYS", bars("XNYS", "2026-06-01", "2026-08-31")))
    missing = int((w.closes > md.bars["EWY"].index[-1]).sum())
    assert missing == 9 and len(w.sessions) == 16
    with pytest.raises(DataError, match=r"windows.w: window 'w' runs 9 session\(s\) past the end of the data for "
                                        r"EWY \(last bar 2026-08-31, window ends 2026-09-14\)"):
        check_windows(plan_of([w], ["EWY"]), md)


def test_trim_cuts_the_window_to_the_covered_sessions_with_a_named_warning():
    w = window("XNYS", "2026-08-28", 5, 10)
    md = market_data(EWY=("XNYS", bars("XNYS", "2026-06-01", "2026-08-31")))
    plan = plan_of([w], ["EWY"], "trim")
    check_windows(plan, md)
    (cut,) = plan.windows
    assert plan.strategies[0].windows == [cut]
    # 16 - 9 = 7 sessions: t = -5..+1, ending on the last bar
    assert (cut.pre, cut.post, len(cut.sessions)) == (5, 1, 7)
    assert cut.end_utc == md.bars["EWY"].index[-1] and cut.t0_session == w.t0_session
    (n,) = md.warnings
    assert n.code == "window_trimmed" and n.window == "w" and n.symbol == "EWY" and "pre=5, post=1" in n.message


def test_trim_at_the_start_and_drop():
    w = window("XNYS", "2026-06-10", 5, 2)
    md = market_data(EWY=("XNYS", bars("XNYS", "2026-06-08", "2026-08-31")))  # 3 sessions before t0 missing
    plan = plan_of([w], ["EWY"], "trim")
    check_windows(plan, md)
    assert (plan.windows[0].pre, plan.windows[0].post) == (2, 2)
    assert plan.windows[0].sessions[0] == pd.Timestamp("2026-06-08")
    assert "starts 3 session(s) before the data for EWY" in md.warnings[0].message
    md2 = market_data(EWY=("XNYS", bars("XNYS", "2026-06-08", "2026-08-31")))
    plan = plan_of([w, window("XNYS", "2026-07-10", 2, 2, wid="ok")], ["EWY"], "drop")
    check_windows(plan, md2)
    assert [x.id for x in plan.windows] == ["ok"] and md2.warnings[0].code == "window_dropped"


def test_a_window_whose_t0_is_not_covered_cannot_be_trimmed():
    w = window("XNYS", "2026-09-02", 3, 3)
    md = market_data(EWY=("XNYS", bars("XNYS", "2026-06-01", "2026-08-31")))
    with pytest.raises(DataError, match=r"t = 0 session \(2026-09-02\) is not covered"):
        check_windows(plan_of([w], ["EWY"], "trim"), md)


def test_another_market_whose_session_has_not_come_yet_is_not_missing():
    """A New York window ending 2026-06-26 (20:00 UTC) traded in Seoul: Hynix's last bar is the
    Seoul close of 06-26 (06:30 UTC); its next session closes 06-29, after the window: covered."""
    w = window("XNYS", "2026-06-24", 1, 1, timing="after_close")
    assert w.end_utc == pd.Timestamp("2026-06-26 20:00", tz="UTC")
    md = market_data(H=("XKRX", bars("XKRX", "2026-06-01", "2026-06-26")))
    plan = plan_of([w], ["H"])
    check_windows(plan, md)
    assert plan.windows == [w] and md.warnings == []
    short = market_data(H=("XKRX", bars("XKRX", "2026-06-01", "2026-06-25")))
    with pytest.raises(DataError, match="runs 1 session"):
        check_windows(plan_of([w], ["H"]), short)


def test_a_kind_selected_window_without_data_is_dropped_by_name_and_an_id_window_is_an_error():
    from dataclasses import replace

    w = window("XNYS", "2027-03-10", 1, 1)
    keep = window("XNYS", "2026-07-10", 1, 1, wid="keep")
    md = market_data(EWY=("XNYS", bars("XNYS", "2026-06-01", "2026-08-31")))
    with pytest.raises(DataError, match="has no sessions in the data for EWY"):
        check_windows(plan_of([w, keep], ["EWY"]), md)
    plan = plan_of([replace(w, by_kind=True), keep], ["EWY"])
    check_windows(plan, md)
    assert [x.id for x in plan.windows] == ["keep"] and md.warnings[0].code == "window_dropped"


@pytest.mark.shared_data
def test_nvda_on_real_data_is_not_padded(shared_data, tmp_path, cli):
    """NVDA's file ends 2026-08-21: a window on 2026-08-20 with post 8 would have had 7 phantom sessions."""
    cfg = tmp_path / "nvda.yaml"
    cfg.write_text(f"name: nvda\ndata: {{source: files, start: 2026-06-01, files: [{{path: "
                   f"{shared_data / 'equities' / 'NVDA.csv'}, symbol: NVDA, market: XNYS}}]}}\nbenchmark: null\n"
                   "windows: [{id: late, date: 2026-08-20, market: XNYS, pre: 2, post: 8}]\n"
                   "strategies: [{name: buy_and_hold, roles: {asset: NVDA}}]\n")
    code, _, err = cli("run", cfg, "--out", tmp_path / "o", "--no-progress")
    assert code == 2 and "runs 7 session(s) past the end of the data for NVDA (last bar 2026-08-21" in err
