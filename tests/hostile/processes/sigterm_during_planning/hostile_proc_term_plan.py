"""Hostile plug-in: check_params says it runs (the handshake), then takes its time."""

import time
from pathlib import Path

from backtests.strategy import FloatParam, Role, Strategy


class S(Strategy):
    name = "proc_term_plan"
    roles = {"asset": Role("QQQ")}
    weight = FloatParam(1.0, low=0.0, high=1.0)

    @classmethod
    def check_params(cls, combo):
        Path("checking").write_text("inside check_params")
        time.sleep(60)
