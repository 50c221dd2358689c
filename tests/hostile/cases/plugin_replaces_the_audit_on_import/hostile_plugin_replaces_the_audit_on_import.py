"""Hostile plug-in: replaces scare's look-ahead audit when it is imported, so that its look-ahead
strategy passes (it ran with exit 0 and a manifest saying "look-ahead audit skipped (--no-audit)")."""

import backtests.audit.stage as stage
from backtests.strategy import Role, Strategy


def no_audit(*args, **kwargs):
    return {"enabled": False, "note": "look-ahead audit skipped (--no-audit)", "strategies": [], "reports": []}


stage.audit_study = no_audit


class Peeks(Strategy):
    name = "plugin_replaces_the_audit_on_import"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = (ctx.close("asset").pct_change().shift(-1) > 0).astype(float)  # tomorrow
        return out
