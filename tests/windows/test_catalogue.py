"""Event catalogue and windows: t = 0 rules, event files, unknown ids."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.data.market_data import asof
from backtests.errors import WindowError
from backtests.windows import load_builtin, load_event_file, make_window


def test_after_close_event_has_t0_on_the_next_session():
    w = make_window(load_builtin().get("mu_earn_2026_06_24"), 1, 1)
    assert w.t0_session == pd.Timestamp("2026-06-25")
    assert list(w.sessions.strftime("%m-%d")) == ["06-24", "06-25", "06-26"]


def test_intraday_crash_has_t0_on_its_own_session():
    w = make_window(load_builtin().get("kospi_crash_2026"), 2, 2)
    assert w.t0_session == pd.Timestamp("2026-06-23")
    assert w.start_utc == pd.Timestamp("2026-06-19 00:00", tz="UTC")


def test_window_counts_sessions_across_the_lunar_new_year():
    w = make_window(load_builtin().get("deepseek_r1_krx"), 2, 1)
    assert list(w.sessions.strftime("%m-%d")) == ["01-23", "01-24", "01-31", "02-03"]


def test_unknown_window_suggests():
    with pytest.raises(WindowError, match="did you mean 'deepseek_r1'"):
        load_builtin().get("deepseek_r2")


def test_csv_events_with_forced_kind_market_and_local_times(tmp_path):
    p = tmp_path / "halts.csv"
    p.write_text("date,kind,market,time_kst,note\n"
                 "2024-08-05,circuit_breaker_level1,KOSPI,14:14:30,x\n"
                 "2026-06-26,circuit_breaker_level1,KOSPI,~12:40,y\n"
                 "2026-06-27,sidecar_kospi,KOSPI,,z\n")
    cat = load_builtin()
    n = load_event_file(cat, p, kind="krx_circuit_breaker", market="XKRX",
                        where={"kind": ["circuit_breaker_level1"]})
    assert n == 2
    ev = cat.of_kind("krx_circuit_breaker")
    assert [(e.market, e.time_local) for e in ev] == [("XKRX", "14:14"), ("XKRX", "12:40")]
    assert ev[0].time_utc == pd.Timestamp("2024-08-05 05:14", tz="UTC")
    assert ev[0].attr("note") == "x"


def test_event_file_replaces_its_kind(tmp_path):
    p = tmp_path / "mu.csv"
    p.write_text("announce_date,timing,verification\n2026-06-24,after close,both\n2025-06-25,after close (assumed),volume_only\n")
    cat = load_builtin()
    load_event_file(cat, p, kind="micron_earnings", market="XNYS", where={"verification": ["both"]})
    ev = cat.of_kind("micron_earnings")
    assert len(ev) == 1 and ev[0].timing == "after_close" and ev[0].scheduled


def test_asof_of_an_empty_series_is_nan():
    at = pd.DatetimeIndex(["2025-01-01"], tz="UTC")
    empty = pd.Series([float("nan")], index=pd.DatetimeIndex(["2024-01-01"], tz="UTC"))
    assert asof(empty, at).isna().all()
