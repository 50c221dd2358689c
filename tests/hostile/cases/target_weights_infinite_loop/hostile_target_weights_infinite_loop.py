"""Hostile plug-in: an infinite loop in target_weights (it hung a run forever; the audit budget did
not bound one call). It swallows the first stop, then loops on: the stop repeats every second."""

from backtests.strategy import Role, Strategy


class S(Strategy):
    name = "target_weights_infinite_loop"
    roles = {"asset": Role("QQQ")}

    def target_weights(self, ctx, grid):
        n = 0
        try:
            while n >= 0: n += 1  # noqa: E701
        except BaseException:  # noqa: BLE001 - hostile: swallows the first stop
            pass
        while n >= 0: n += 1  # noqa: E701 - one line, so the line it is stopped on is known
