"""Hostile plug-in: says it is being imported (the handshake), then takes its time."""

import time
from pathlib import Path

from backtests.strategy import Role, Strategy

Path("importing").write_text("inside the import")
time.sleep(60)


class S(Strategy):
    name = "proc_term_import"
    roles = {"asset": Role("QQQ")}
