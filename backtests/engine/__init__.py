"""The engine: a strategy's target weights simulated under its execution rules.

:mod:`.rules` (the frozen :class:`~backtests.engine.rules.Rules` built once per strategy from the
config), :mod:`.costs` (cost precedence), :mod:`.schedule` (orders from decisions: fills, legs,
leverage, the first-fill rule), :mod:`.simulate` (layout, kernel call, accounting, results),
:mod:`.results` (what a window returns and the per-run statistics, listed once), :mod:`.kernels`
(vectorbt's compiled order kernel).
"""
