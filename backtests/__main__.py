from backtests.cli import entry

entry()
