"""The ladder's paths run and measure the same grid; the kernel paths replay scare's exact inputs."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import ladder


@pytest.mark.parametrize("path", ["floor", "kernel_rust", "kernel_numba_compact", "engine"])
def test_worker_paths_report_ns_per_combination_bar(path):
    if "rust" in path:
        from backtests.engine.kernels import _rust

        if _rust() is None:
            pytest.skip("vectorbt-rust not installed")
    out = ladder.worker(path, 4, "daily")
    assert out["combos"] == 4 and out["bars"] == 252
    assert out["ns_per_combo_bar"] > 0


def test_compact_kernel_inputs_give_scares_records():
    data, symbol, window = ladder._setup("daily")
    import pandas as pd

    from backtests.strategy.context import StrategyContext
    from strategies.ma_cross import MACross

    grid = pd.DataFrame({"fast": [2, 3, 5], "slow": [10, 10, 20]})
    weights = MACross().target_weights(StrategyContext(data, {"asset": symbol}), grid)
    inputs = ladder._captured_kernel_inputs(data, symbol, window, weights, len(grid))
    full = ladder._kernel_call(inputs, "numba", compact=False)()
    compact = ladder._kernel_call(inputs, "numba", compact=True)()
    assert len(full) > 3 and full.tobytes() == compact.tobytes()
    assert np.isfinite(full["price"]).all()
