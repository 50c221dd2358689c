"""The plug-in API: parameters, grids, roles, registry and the look-ahead helper."""

from __future__ import annotations

import pytest

from backtests.data.synthetic import generate
from backtests.errors import StrategyError
from backtests.strategy import FloatParam, IntParam, Role, Strategy, expand_grid
from backtests.audit import LookAheadError, assert_no_lookahead
from backtests.strategy.registry import discover, resolve
from strategies.buy_and_hold import BuyAndHold


@pytest.fixture(scope="module")
def data():
    return generate().select(["QQQ", "SPY", "MU", "000660.KS"])


def test_grid_is_the_product_of_values_in_declaration_order():
    class S(Strategy):
        name = "s"
        a = IntParam(1, low=0)
        b = FloatParam(0.5)

    grid = expand_grid(S.params, {"a": [1, 2], "b": [0.1, 0.2, 0.3]}, "s")
    assert len(grid) == 6 and list(grid.columns) == ["a", "b"]
    assert grid.iloc[1].to_dict() == {"a": 1, "b": 0.2}


def test_grid_rejects_bad_values():
    class S(Strategy):
        name = "s"
        a = IntParam(1, low=0)

    with pytest.raises(StrategyError, match="'s.a' must be >= 0"):
        expand_grid(S.params, {"a": -1}, "s")
    with pytest.raises(StrategyError, match="expects int"):
        expand_grid(S.params, {"a": 1.5}, "s")
    with pytest.raises(StrategyError, match="no parameter 'b'"):
        expand_grid(S.params, {"b": 1}, "s")


def test_registry_finds_builtins_and_suggests():
    assert "buy_and_hold" in discover()
    assert resolve("buy_and_hold") is BuyAndHold
    with pytest.raises(StrategyError, match="did you mean 'buy_and_hold'"):
        resolve("buy_and_hodl")


def test_example_strategy_has_no_lookahead(data):
    cuts = assert_no_lookahead(BuyAndHold({"asset": "QQQ"}), data, {"weight": [0.5, 1.0]}, n_cuts=4)
    assert len(cuts) >= 4


def test_lookahead_helper_catches_a_peeking_strategy(data):
    class Peek(Strategy):
        name = "peek"
        roles = {"asset": Role("QQQ")}

        def weights(self, ctx):
            close = ctx.close("asset")
            tomorrow_up = (close.shift(-1) > close).astype(float)  # uses the next bar: look-ahead
            return tomorrow_up.reindex(ctx.index).ffill().to_frame(ctx.symbol("asset"))

    with pytest.raises(LookAheadError, match="peek"):
        assert_no_lookahead(Peek(), data, {}, n_cuts=3)


def test_roles_resolve_to_symbols():
    s = BuyAndHold({"asset": "MU"})
    assert s.traded_symbols == ["MU"]
    with pytest.raises(StrategyError, match="no role 'x'"):
        BuyAndHold({"x": "MU"})
