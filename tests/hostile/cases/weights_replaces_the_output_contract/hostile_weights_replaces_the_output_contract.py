"""Hostile plug-in: while it computes, swaps the code of scare's output contract for one that
accepts anything (the object stays the same: only its __code__ changes). Caught after the audit, or
after the strategy's sweep when a cached verdict skipped the audit."""

import backtests.strategy.calls as calls
from backtests.strategy import Role, Strategy


def accept_anything(raw, *args, **kwargs):
    return raw, {}


class S(Strategy):
    name = "weights_replaces_the_output_contract"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        calls.check_target_weights.__code__ = accept_anything.__code__
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        return out
