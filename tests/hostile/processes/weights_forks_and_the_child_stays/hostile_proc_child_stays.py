"""Hostile plug-in: forks in weights(); the child writes its pid and sleeps inside the plug-in."""

import os
import time
from pathlib import Path

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "proc_child_stays"
    roles = {"asset": Role("QQQ")}

    def weights(self, ctx, **params):
        out = ctx.empty_weights()
        out[ctx.symbol("asset")] = 1.0
        if os.fork() == 0:
            Path("child.pid").write_text(str(os.getpid()))
            time.sleep(120)
        return out
