"""The sweep: one strategy's combinations x windows cut into chunks (:mod:`.chunks`), run in this
process or on Dask (:mod:`.executor`), kept on disk for ``--resume`` (:mod:`.checkpoints`) and
assembled in a canonical order (:mod:`.assemble`) into a :class:`~backtests.sweep.results.StrategyResult`."""
