"""The sweep: one strategy's combinations x windows in chunks (:mod:`.chunks`), assembled in a
canonical order (:mod:`.assemble`) into a :class:`~backtests.sweep.results.StrategyResult`."""
