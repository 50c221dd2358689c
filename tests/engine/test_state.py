"""The exchange state held by the rules object: its arrays, record, digest, and where it enters the
data fingerprint, the checkpoint key and the config."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from backtests.data.market_data import MarketData, SymbolInfo
from backtests.engine.rules import Rules
from backtests.engine.state import CRYPTO_NOTE, StateSettings, build_state
from backtests.exchange.short_sale import BorrowOverride
from backtests.exchange.states import NAT, State

from crash_day import DAY, EWY, KODEX, crash_data, daily, kst

SPAN = [(pd.Timestamp("2026-06-18", tz="UTC"), pd.Timestamp("2026-06-30 07:00", tz="UTC"))]


def with_crypto() -> MarketData:
    d = crash_data()
    btc = daily("CRYPTO", "2026-06-15", "2026-07-03", open=1.0, high=1.0, low=1.0, close=1.0)
    return MarketData(bars={**d.bars, "BTC-USD": btc}, info={**d.info, "BTC-USD": SymbolInfo("BTC-USD", "CRYPTO")},
                      intraday=d.intraday)


def test_arrays_have_the_documented_dtypes_and_layout():
    st = build_state(with_crypto(), None, SPAN, [KODEX, EWY, "BTC-USD"])
    assert st.seg_offsets.dtype == np.int64 and st.seg_offsets.shape == (4,)
    for name, dtype in (("seg_start", np.int64), ("seg_end", np.int64), ("seg_code", np.int8), ("seg_lock", np.int8),
                        ("seg_uncross", np.int64), ("seg_print_at", np.int64), ("seg_print_px", np.float64),
                        ("short_start", np.int64), ("short_ok", np.bool_), ("short_reason", np.int16)):
        assert getattr(st, name).dtype == dtype, name
    n = int(st.seg_offsets[-1])
    assert all(len(getattr(st, a)) == n for a in ("seg_start", "seg_end", "seg_code", "seg_lock", "seg_uncross",
                                                   "seg_print_at", "seg_print_px"))
    for j in range(2):
        s = st.segments(j)
        assert (st.seg_end[s][:-1] == st.seg_start[s][1:]).all()  # contiguous
    assert st.seg_offsets[3] == st.seg_offsets[2]  # crypto: no segments
    assert not st.has_state(2) and st.short_allowed(2, np.array([0]))[0].all()
    # KODEX: the reopening print of 2026-06-23 at 13:36, 93 (its first bar after the halt)
    s = st.segments(0)
    i = int(np.flatnonzero(st.seg_code[s] == State.CALL_REOPEN)[0])
    assert st.seg_print_at[s][i] == kst("13:36").value and st.seg_print_px[s][i] == 93.0
    assert st.seg_uncross[s][i] == kst("13:36").value
    assert (st.seg_print_at[s][np.isfinite(st.seg_print_px[s])] != NAT).all()


def test_record_says_where_each_symbol_s_state_came_from_and_that_crypto_has_none():
    rec = build_state(with_crypto(), None, SPAN, [KODEX, EWY, "BTC-USD"]).record()
    assert rec["enabled"] and len(rec["digest"]) == 64
    k = rec["symbols"][KODEX]
    assert k["derived_from"] == "intraday+schedule" and k["halts_utc"] == [kst("13:06").isoformat()]
    assert k["events"]["cb_level1"] == 1 and k["index_membership"].startswith("unknown")
    assert rec["symbols"][EWY]["derived_from"] == "schedule" and "index_membership" not in rec["symbols"][EWY]
    assert rec["symbols"]["BTC-USD"] == {"market": "CRYPTO", "derived_from": "none", "note": CRYPTO_NOTE}


def test_digest_is_stable_and_follows_the_inputs():
    a = build_state(crash_data(), None, SPAN, [KODEX])
    b = build_state(crash_data(), None, SPAN, [KODEX])
    assert a == b and hash(a) == hash(b) and a.digest == b.digest
    over = StateSettings(overrides=(BorrowOverride(KODEX, "XKRX", "2026-06-20", "2026-06-25", False),))
    assert build_state(crash_data(), None, SPAN, [KODEX], over).digest != a.digest
    assert build_state(crash_data(kodex_intraday=False), None, SPAN, [KODEX]).digest != a.digest
    off = build_state(crash_data(), None, SPAN, [KODEX], StateSettings(enabled=False))
    assert off.record() == {"enabled": False, "note": "execution.exchange_state: false; fills ignore halts, limits "
                                                      "and bans"} and not off.has_state(0)


def test_rules_with_a_state_stay_hashable_and_travel_to_a_worker():
    d = crash_data()
    rules = Rules.build(d.info, [KODEX], state=build_state(d, None, SPAN, [KODEX]))
    back = pickle.loads(pickle.dumps(rules))
    assert back == rules and hash(back) == hash(rules)
    assert back.state.timeline(0).frame().equals(rules.state.timeline(0).frame())
    with pytest.raises(ValueError, match="must cover the traded symbols"):
        Rules.build(d.info, [EWY], state=rules.state)


def test_special_spans_take_the_state_path_and_others_do_not():
    st = build_state(crash_data(), None, SPAN, [KODEX])
    assert st.special(0, kst("09:00").value, kst("15:30").value)
    assert not st.special(0, kst("09:00", "2026-06-22").value, kst("15:30", "2026-06-22").value)


def test_the_state_digest_is_part_of_the_data_fingerprint():
    from backtests.outputs.documents import data_fingerprint

    d = crash_data()
    assert data_fingerprint(d) == data_fingerprint(d, {})
    assert data_fingerprint(d, {"fade": "a"}) != data_fingerprint(d, {"fade": "b"}) != data_fingerprint(d)


def test_config_accepts_the_execution_settings_and_checks_the_borrow_file(tmp_path):
    from backtests.config import load_config
    from backtests.config.plan import plan_study
    from backtests.errors import ConfigError

    (tmp_path / "borrow.csv").write_text("symbol,market,start,end,available,note\n"
                                         "000660.KS,XKRX,2026-01-05,2026-01-09,false,recall\n")
    base = ("name: t\ndata: {source: synthetic}\nwindows: [{kind: micron_earnings}]\n"
            "strategies: [{name: memory_pair_earnings}]\n")
    p = tmp_path / "s.yaml"
    p.write_text(base + "execution: {legs: before_event, locked_fill_share: 0.1, borrow_file: borrow.csv, "
                 "index_membership: {123456.KS: [KOSPI200]}, financials: [BAC]}\n")
    plan = plan_study(load_config(p))
    assert plan.borrow_overrides[0].note == "recall" and plan.config.execution.legs == "before_event"
    (tmp_path / "bad.csv").write_text("symbol,market,start,end,available\n000660.KS,XKRX,2026-01-05,2026-01-09,maybe\n")
    p.write_text(base + "execution: {borrow_file: bad.csv}\n")
    with pytest.raises(ConfigError, match=r"bad.csv:2.*available must be true or false"):
        plan_study(load_config(p))
    p.write_text(base + "execution: {locked_fill_share: 1.5}\n")
    with pytest.raises(ConfigError, match="locked_fill_share"):
        load_config(p)


def test_auto_legs_follow_the_strategy_s_default():
    from types import SimpleNamespace

    from backtests.config.model import StudyConfig

    cfg = StudyConfig.model_validate({"name": "t", "windows": ["deepseek_r1"], "strategies": [{"name": "buy_and_hold"}]})
    info = {"MU": SymbolInfo("MU", "XNYS"), "000660.KS": SymbolInfo("000660.KS", "XKRX")}
    pair = SimpleNamespace(traded_symbols=["MU", "000660.KS"], paired_legs=True, default_legs="before_event")
    assert Rules.from_config(cfg, info, pair, "1D").legs == "before_event"
    plain = SimpleNamespace(traded_symbols=["MU", "000660.KS"], paired_legs=True)
    assert Rules.from_config(cfg, info, plain, "1D").legs == "together"
