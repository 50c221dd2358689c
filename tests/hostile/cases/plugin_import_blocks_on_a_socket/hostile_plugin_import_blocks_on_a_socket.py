"""Hostile plug-in: its import waits on a socket nobody writes to (it hung `run --offline` and
`validate`)."""

import socket

from backtests.strategy import Role, Strategy

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
with server:
    server.accept()  # blocks: nobody connects


class S(Strategy):
    name = "plugin_import_blocks_on_a_socket"
    roles = {"asset": Role("QQQ")}
