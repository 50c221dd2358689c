"""Event catalogue and windows: t = 0 rules, event files, unknown ids."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.data.market_data import asof
from backtests.errors import WindowError
from backtests.time.windows import load_builtin, load_event_file, make_window


def test_after_close_event_has_t0_on_the_next_session():
    w = make_window(load_builtin().get("mu_earn_2026_06_24"), 1, 1)
    assert w.t0_session == pd.Timestamp("2026-06-25")
    assert list(w.sessions.strftime("%m-%d")) == ["06-24", "06-25", "06-26"]


def test_intraday_crash_has_t0_on_its_own_session():
    w = make_window(load_builtin().get("kospi_crash_2026"), 2, 2)
    assert w.t0_session == pd.Timestamp("2026-06-23")
    assert w.start_utc == pd.Timestamp("2026-06-19 00:00", tz="UTC")


def test_unsourced_halt_is_stamped_at_the_seoul_close_not_at_an_invented_time():
    """The 2026-06-23 halt has no reported time (the event list says it was not directly
    reported): it is known at the 15:30 KST close at the latest, and t = 0 is that session."""
    cat = load_builtin()
    for eid in ("kospi_crash_2026", "krx_cb_2026_06_23"):
        ev = cat.get(eid)
        assert ev.time_local is None and ev.time_source is None and ev.time_rule == "session_close"
        assert ev.time_utc == pd.Timestamp("2026-06-23 06:30", tz="UTC")  # 15:30 KST
        assert make_window(ev, 1, 1).t0_session == pd.Timestamp("2026-06-23")


def test_every_reported_time_in_the_catalogue_names_its_source():
    for ev in load_builtin().events.values():
        assert (ev.time_local is None) or ev.time_source, ev.id
        if ev.timing == "intraday" and ev.time_local is None:
            assert ev.time_utc == make_window(ev, 0, 0).closes[0], ev.id


def test_an_event_file_time_without_a_source_is_refused_in_the_builtin_format(tmp_path):
    from backtests.time.windows import Catalogue, _event_from_mapping

    item = {"id": "x", "kind": "k", "market": "XKRX", "date": "2026-06-23", "time_local": "10:50"}
    with pytest.raises(WindowError, match="without a time_source"):
        _event_from_mapping(item, "built-in catalogue")
    with pytest.raises(WindowError, match="not a time of day"):
        _event_from_mapping({**item, "time_local": "25:70", "time_source": "s"}, "f.yaml")
    p = tmp_path / "ev.yaml"
    p.write_text("events:\n  - {id: y, kind: k, market: XKRX, date: 2026-06-23, time_local: '10:50'}\n")
    cat = Catalogue()
    load_event_file(cat, p)
    assert cat.get("y").time_source == f"user file {p}"


def test_a_user_time_in_the_config_overrides_the_session_close():
    from backtests.config.model import WindowRef
    from backtests.time.windows import windows_from_refs

    cat = load_builtin()
    (w,) = windows_from_refs([WindowRef(id="kospi_crash_2026", time_local="10:50")], cat, 1, 1)
    assert w.event.time_utc == pd.Timestamp("2026-06-23 01:50", tz="UTC")
    assert w.event.time_source == "study config (windows)" and w.to_record()["time_rule"] == "reported"
    (e,) = windows_from_refs([WindowRef(id="mine", date="2026-06-23", market="XKRX", shock="s1")], cat, 1, 1)
    assert e.event.time_utc == pd.Timestamp("2026-06-23 06:30", tz="UTC") and e.shock == "s1"


def test_one_shock_seen_from_two_markets_shares_a_shock_id():
    cat = load_builtin()
    ny, seoul = (make_window(cat.get(i), 1, 1) for i in ("deepseek_r1", "deepseek_r1_krx"))
    assert ny.shock == seoul.shock == "deepseek_r1"
    assert getattr(make_window(cat.get("mu_earn_2026_06_24"), 1, 1), "shock", None) is None
    assert ny.to_record()["shock"] == "deepseek_r1"
    assert cat.frame().set_index("id").loc["krx_cb_2026_06_23", "shock"] == "kospi_crash_2026"


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
    # the seconds a source reports are kept (cutting them would stamp the halt before it happened)
    assert [(e.market, e.time_local) for e in ev] == [("XKRX", "14:14:30"), ("XKRX", "12:40")]
    assert ev[0].time_utc == pd.Timestamp("2024-08-05 05:14:30", tz="UTC")
    assert ev[0].attr("note") == "x"
    assert ev[0].time_rule == "reported" and ev[0].time_source == f"user file {p}:2"


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


@pytest.mark.parametrize("pre, post", [(100000, 10), (3, 100000)])
def test_a_window_beyond_the_calendar_is_a_window_error_naming_pre_and_post(pre, post):
    with pytest.raises(WindowError, match=rf"kospi_crash_2026: pre: {pre} and post: {post} sessions around "
                                          r"2026-06-23 reach outside the market calendar"):
        make_window(load_builtin().get("kospi_crash_2026"), pre, post)


def test_an_impossible_date_in_an_event_file_is_a_window_error(tmp_path):
    p = tmp_path / "ev.yaml"
    p.write_text("events:\n  - {id: y, kind: k, market: XKRX, date: 2026-02-30}\n")
    with pytest.raises(WindowError, match=r"ev.yaml:2: invalid timestamp value '2026-02-30'"):
        load_event_file(load_builtin(), p)


def test_window_membership_is_start_exclusive_end_inclusive():
    import numpy as np

    from backtests.time.windows import Event, span_contains

    w = make_window(Event("m", "m", "custom", "XNYS", pd.Timestamp("2026-06-23"), "intraday"), 1, 1)
    stamps = pd.DatetimeIndex([w.start_utc - pd.Timedelta(1, "ns"), w.start_utc, w.start_utc + pd.Timedelta(1, "ns"),
                               w.end_utc, w.end_utc + pd.Timedelta(1, "ns")])
    want = [False, False, True, True, False]  # a bar stamped at the open closed before the window
    assert w.contains(stamps).tolist() == want
    assert w.contains(stamps.asi8).tolist() == want
    seconds = pd.DatetimeIndex([w.start_utc, w.start_utc + pd.Timedelta(seconds=1), w.end_utc]).as_unit("us")
    assert span_contains(w.start_utc, w.end_utc, seconds).tolist() == [False, True, True]  # any unit
    assert span_contains(w.start_utc, w.end_utc, np.zeros((2, 2), dtype=np.int64)).shape == (2, 2)
