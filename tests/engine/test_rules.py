"""The rules object: built once from the config (cost precedence, legs auto, caps, clock), frozen,
hashable, and recorded in metrics.json form."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from types import SimpleNamespace

import pytest

from backtests.config.model import StudyConfig
from backtests.data.market_data import SymbolInfo
from backtests.engine.costs import BPS, SymbolCosts
from backtests.engine.rules import Clock, Rules
from backtests.errors import DataError

INFO = {
    "KODEX": SymbolInfo("KODEX", "XKRX", "KRW"),
    "EWY": SymbolInfo("EWY", "XNYS"),
    "MU": SymbolInfo("MU", "XNYS"),
    "BTC": SymbolInfo("BTC", "CRYPTO"),
    "USDT": SymbolInfo("USDT", "CRYPTO"),
}


def config(**sections) -> StudyConfig:
    return StudyConfig.model_validate({"name": "t", "windows": ["deepseek_r1"],
                                       "strategies": [{"name": "buy_and_hold"}], **sections})


def strategy(traded, paired=None, entry=None):
    s = SimpleNamespace(traded_symbols=list(traded))
    if paired is not None:
        s.paired_legs = paired
    if entry is not None:
        s.episode_entry = entry
    return s


def test_a_symbols_own_costs_replace_its_markets_and_yield_is_per_symbol():
    cfg = config(costs={
        "markets": {"XKRX": {"commission_bps": 1.5, "sell_tax_bps": 20.0, "slippage_bps": 5.0, "borrow_rate": 0.04},
                    "XNYS": {"commission_bps": 0.5, "slippage_bps": 2.0, "borrow_rate": 0.01, "max_leverage": 1.5}},
        "symbols": {"EWY": {"commission_bps": 3.0, "slippage_bps": 7.0}},
        "long_yield": {"USDT": 0.04}})
    rules = Rules.from_config(cfg, INFO, strategy(["KODEX", "EWY", "MU", "USDT"]), "1D")
    kodex, ewy, mu, usdt = rules.costs
    assert kodex == SymbolCosts(1.5 * BPS, 20.0 * BPS, 5.0 * BPS, 0.04)  # its market's
    assert ewy == SymbolCosts(3.0 * BPS, 0.0, 7.0 * BPS, 0.0)  # its own entry, whole: no XNYS borrow rate
    assert mu == SymbolCosts(0.5 * BPS, 0.0, 2.0 * BPS, 0.01)
    assert usdt == SymbolCosts(0.0, 0.0, 0.0, 0.0, 0.04)  # CRYPTO not configured: free, but its yield
    assert rules.caps == {"XNYS": 1.5}
    rec = rules.record()["costs"]
    assert rec["KODEX"] == {"commission_bps": 1.5, "sell_tax_bps": 20.0, "slippage_bps": 5.0, "borrow_rate": 0.04,
                            "long_yield": 0.0}
    assert rec["EWY"]["commission_bps"] == 3.0 and rec["EWY"]["borrow_rate"] == 0.0
    assert rec["USDT"]["long_yield"] == 0.04


def test_default_costs_are_the_documented_market_defaults():
    rules = Rules.from_config(config(), INFO, strategy(["KODEX", "MU", "BTC"]), "1D")
    rec = rules.record()["costs"]
    assert rec["KODEX"]["sell_tax_bps"] == 20.0 and rec["MU"]["commission_bps"] == 0.5
    assert rec["BTC"]["commission_bps"] == 10.0 and rec["BTC"]["borrow_rate"] == 0.1


@pytest.mark.parametrize("declared, traded, legs, want_legs, want_paired", [
    (True, ["MU", "KODEX"], "auto", "together", True),  # a declared pair fills together
    (False, ["MU", "KODEX"], "auto", "independent", False),
    (None, ["MU", "KODEX"], "auto", "independent", False),  # not declared at all
    (True, ["MU"], "auto", "independent", False),  # one symbol is no pair
    (True, ["MU", "KODEX"], "independent", "independent", True),  # the config's explicit choice wins
    (False, ["MU", "KODEX"], "together", "together", False),
])
def test_legs_auto_resolves_per_strategy(declared, traded, legs, want_legs, want_paired):
    rules = Rules.from_config(config(execution={"legs": legs}), INFO, strategy(traded, paired=declared), "1D")
    assert (rules.legs, rules.paired) == (want_legs, want_paired)
    assert rules.fills_together == (want_legs == "together" and len(traded) > 1)


def test_execution_settings_are_read_once_from_the_config():
    cfg = config(execution={"fill": "close", "init_cash": 5e5, "exit_at_window_end": False, "max_leverage": 2.0,
                            "financing_rate": 0.07, "on_unfillable": "clip"})
    rules = Rules.from_config(cfg, INFO, strategy(["MU"], entry="change"), "1D")
    assert (rules.fill, rules.init_cash, rules.exit_at_window_end, rules.max_leverage, rules.financing_rate,
            rules.on_unfillable, rules.entry) == ("close", 5e5, False, 2.0, 0.07, "clip", "change")
    assert rules.credit == 1.0
    assert Rules.from_config(config(), INFO, strategy(["MU"]), "1D").entry == "state"  # the Strategy default


def test_the_clock_is_the_traded_symbols_markets():
    # one market: its own sessions; two: the sum (their daily closes never share a stamp)
    assert Rules.build(INFO, ["MU"]).clock == Clock(("XNYS",), "1D", 252.0)
    assert Rules.build(INFO, ["KODEX", "EWY"]).clock.periods_per_year == 252.0 + 252.0
    assert Rules.build(INFO, ["BTC", "USDT"]).clock.periods_per_year == 365.0
    assert Rules.build(INFO, ["MU", "BTC"]).clock.markets == ("CRYPTO", "XNYS")
    assert Rules.build(INFO, ["MU", "BTC"]).clock.periods_per_year == 252.0 + 365.0
    assert Rules.build(INFO, ["BTC"], frequency="4h").clock.periods_per_year == 365.0 * 6
    with pytest.raises(DataError):
        Clock.of([], "1D")


def test_rules_are_frozen_hashable_and_validated():
    a = Rules.build(INFO, ["MU", "KODEX"], market_caps={"XNYS": 1.5}, max_leverage=2.0)
    b = Rules.build(INFO, ["MU", "KODEX"], market_caps={"XNYS": 1.5}, max_leverage=2.0)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(FrozenInstanceError):
        a.fill = "close"  # type: ignore[misc]
    assert a.markets == ["XNYS", "XKRX"] and a.symbols == ["MU", "KODEX"]
    for bad in ({"fill": "vwap"}, {"legs": "auto"}, {"entry": "maybe"}, {"on_unfillable": "ignore"},
                {"max_leverage": 0.0}):
        with pytest.raises(ValueError):
            Rules.build(INFO, ["MU"], **bad)


def test_record_is_json_with_the_documented_keys():
    rules = Rules.from_config(config(costs={"long_yield": {"USDT": 0.04}}), INFO, strategy(["BTC", "USDT"]), "1D")
    rec = json.loads(json.dumps(rules.record()))
    assert set(rec) == {"fill", "legs", "paired", "episode_entry", "max_leverage", "market_caps", "financing_rate",
                        "on_unfillable", "exit_at_window_end", "init_cash", "costs", "symbols", "clock",
                        "locked_fill_share", "exchange_state"}
    assert rec["clock"] == {"markets": ["CRYPTO"], "frequency": "1D", "periods_per_year": 365.0}
    assert rec["symbols"] == {"BTC": {"market": "CRYPTO", "timezone": "UTC"},
                              "USDT": {"market": "CRYPTO", "timezone": "UTC"}}
    assert list(rec["costs"]) == ["BTC", "USDT"]
