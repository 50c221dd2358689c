from backtests.orchestration.cli import entry

entry()
