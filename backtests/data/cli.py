"""``scare data ...``: fetch, import, list, verify and clear the data cache."""

from __future__ import annotations

import argparse

from backtests.errors import ScareInputError


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``scare data`` and its subcommands on the main parser."""
    data = sub.add_parser("data", help="manage the market-data cache (data_cache/)")
    data.add_argument("action", nargs="?", help="fetch | import | list | verify | clear")


def run_data_command(args: argparse.Namespace) -> int:
    raise ScareInputError("scare data: no data commands are available yet")
