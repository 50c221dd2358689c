"""Hostile plug-in: catches everything, forever."""

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "proc_swallows"
    roles = {"asset": Role("QQQ")}

    def target_weights(self, ctx, grid):
        n = 0
        while True:
            try:
                while True:
                    n += 1
            except:  # noqa: E722 - hostile
                pass
