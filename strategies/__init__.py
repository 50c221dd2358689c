"""Built-in strategy plug-ins: every module here is discovered by ``backtests.strategy.registry``."""
