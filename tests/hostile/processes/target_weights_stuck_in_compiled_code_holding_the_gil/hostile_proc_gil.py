"""Hostile plug-in: target_weights() calls a numba function that never returns and holds the GIL."""

import numba

from backtests.strategy import Role, Strategy


@numba.njit(nogil=False, cache=False)
def spin(x):
    while x >= 0:
        x = (x * 1103515245 + 12345) % 2147483648
    return x


class S(Strategy):
    name = "proc_gil"
    roles = {"asset": Role("QQQ")}

    def target_weights(self, ctx, grid):
        spin(1)
